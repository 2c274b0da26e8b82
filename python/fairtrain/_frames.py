"""Data frames to the library's tables: every column as text cells, so the
library reads them exactly as it reads a CSV file (numbers parsed from their
shortest round-trip text, the same type inference and encoding)."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

Columns = Tuple[List[str], List[List[Optional[str]]]]


def _is_polars(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "polars"


def _cell(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) else repr(v)
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"  # as pandas writes them to CSV
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def _column(values: Sequence[Any]) -> List[Optional[str]]:
    return [_cell(v) for v in values]


def _series_column(series: Any) -> List[Optional[str]]:
    """A pandas Series' cells as text, by dtype (the common dtypes without a
    per-cell type test: a data frame of 30,000 rows converts in tens of
    milliseconds)."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = [_cell(c) for c in dtype.categories.tolist()]
        return [categories[c] if c >= 0 else None for c in series.cat.codes.to_numpy().tolist()]
    kind = getattr(dtype, "kind", "O")
    if kind in "iu" and isinstance(dtype, np.dtype):
        return list(map(str, series.to_numpy().tolist()))
    if kind == "f" and isinstance(dtype, np.dtype):
        return [None if v != v else repr(v) for v in series.to_numpy(dtype=float).tolist()]
    return _column(series.tolist())


def to_columns(X: Any, what: str = "X") -> Columns:
    """Column names and text cells of a pandas or polars DataFrame or a 2-d
    array (columns named x0, x1, ...)."""
    if _is_polars(X):
        names = [str(c) for c in X.columns]
        return names, [_column(X[c].to_list()) for c in X.columns]
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{what} has repeated column names: {names}")
        return names, [_series_column(X[c]) for c in X.columns]
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):
        raise TypeError(f"{what}: sparse input is not supported; pass a dense array or a DataFrame")
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(
            f"{what} must be 2-dimensional (rows by features), got shape {array.shape}. Reshape your data with "
            "X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample"
        )
    if array.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if array.dtype.kind == "O":
        # Numbers held as objects; anything else raises float()'s TypeError.
        try:
            array = array.astype(float)
        except ValueError:
            raise ValueError(
                f"{what} as an array must be numeric; pass a pandas DataFrame for categorical columns"
            ) from None
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} as an array must be numeric; pass a pandas DataFrame for categorical columns")
    if array.shape[1] == 0:
        raise ValueError(f"0 feature(s) (shape={array.shape}) while a minimum of 1 is required.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(
            f"{what} contains NaN or infinity; as an array it must be finite (pass a DataFrame to have rows with "
            "missing values dropped, as the command line does)"
        )
    return [f"x{j}" for j in range(array.shape[1])], [_column(array[:, j].tolist()) for j in range(array.shape[1])]


def to_group_columns(A: Any, n_rows: int) -> Columns:
    """The sensitive features as named text columns: a Series or 1-d array
    (named after the Series, else ``group``) or a DataFrame of several
    columns (intersectional groups)."""
    if _is_polars(A):
        if hasattr(A, "columns"):
            names, columns = to_columns(A, "sensitive_features")
        else:
            names, columns = [A.name or "group"], [_column(A.to_list())]
        return _checked(names, columns, n_rows)
    import pandas as pd

    if isinstance(A, pd.DataFrame):
        names, columns = to_columns(A, "sensitive_features")
    elif isinstance(A, pd.Series):
        names, columns = [str(A.name) if A.name is not None else "group"], [_series_column(A)]
    else:
        array = np.asarray(A)
        if array.ndim == 2 and array.shape[1] >= 1:
            names = [f"group{j}" for j in range(array.shape[1])]
            columns = [_column(array[:, j].tolist()) for j in range(array.shape[1])]
        elif array.ndim == 1:
            names, columns = ["group"], [_column(array.tolist())]
        else:
            raise ValueError(f"sensitive_features must be 1- or 2-dimensional, got shape {array.shape}")
    return _checked(names, columns, n_rows)


def _checked(names: List[str], columns: List[List[Optional[str]]], n_rows: int) -> Columns:
    for name, column in zip(names, columns):
        if len(column) != n_rows:
            raise ValueError(f"sensitive_features column '{name}' has {len(column)} rows, X has {n_rows}")
    return names, columns
