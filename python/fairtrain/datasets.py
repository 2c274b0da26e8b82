"""The built-in data sets as pandas objects, from the same verified files and
with the same preprocessing as the command line (``fairtrain datasets``)."""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _fairtrain


def list() -> List[Tuple[str, str]]:  # noqa: A001 (the documented name)
    """The built-in data sets: (name, description)."""
    return _fairtrain.datasets()


def load(
    name: str, split: str = "train", group: Union[str, Sequence[str], None] = None
) -> Tuple[pd.DataFrame, pd.Series, pd.Series]:
    """``(X, y, A)`` of a built-in data set's ``split`` (``train`` or
    ``test``): X with exactly the command line's feature columns (numeric
    columns as numbers, the others as categories), rows in its order after its
    missing-value rule; y 0/1 with 1 its positive class; A its groups (the
    default sensitive column, or ``group``: a column name, or several for
    intersectional groups)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    groups: Optional[List[str]] = None
    if group is not None:
        groups = [group] if isinstance(group, str) else [str(g) for g in group]
    names, columns, labels, group_of, target, positive = _fairtrain.dataset(name, split == "test", groups)
    data = {}
    for column_name, cells in zip(names, columns):
        values = pd.Series(cells, dtype=object)
        numbers = pd.to_numeric(values, errors="coerce")
        if values.notna().sum() == numbers.notna().sum():
            data[column_name] = numbers
        else:
            data[column_name] = values.astype("category")
    X = pd.DataFrame(data, columns=names)
    y = pd.Series(np.asarray(labels, dtype=np.int64), name=target)
    A = pd.Series(group_of, name=",".join(groups) if groups else "group", dtype="category")
    return X, y, A
