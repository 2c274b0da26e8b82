"""``FairClassifier``: a scikit-learn estimator over the fairtrain run.

``fit`` runs exactly what ``fairtrain train`` runs on a CSV file holding the
same rows: the library reads the data frame's columns as text, encodes them
(numeric columns standardized, categorical ones one-hot), holds out its test
and validation splits, trains under the constraint, selects and certifies the
model, and writes the run folder (a temporary one unless ``out=`` is given).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from . import _fairtrain
from ._frames import to_columns, to_group_columns
from .errors import UnconstrainedWarning

#: The label column the estimator adds to the table it trains on.
LABEL_COLUMN = "__label__"
#: The sample-weight column it adds when ``sample_weight`` is given.
WEIGHT_COLUMN = "__weight__"
#: What ``save`` writes beside the model files: the estimator's classes and
#: parameters (the model files are those of ``fairtrain train``).
ESTIMATOR_FILE = "estimator.json"


class FairClassifier(ClassifierMixin, BaseEstimator):
    """A neural network classifier trained under fairness constraints.

    Every argument left at ``None`` takes the run configuration's default
    (the same as ``fairtrain train``'s); ``config`` sets any other key of the
    configuration file (e.g. ``{"validation-fraction": 0.2, "lr": 0.01}``).

    Parameters
    ----------
    constraint : str or list of str
        Fairness notion(s): ``loss-parity``, ``demographic-parity``,
        ``equal-opportunity``, ``equalized-odds``, ... (``fairtrain train
        --help`` lists them).
    bound : float or list of float, optional
        The bound of each constraint; ``None`` is the notion's default.
    algorithm : str, optional
        Training algorithm (``ssl-alm`` by default, ``adam`` unconstrained).
    preset : str
        ``default`` (fairtrain's settings) or ``paper``.
    hidden : sequence of int, optional
        Hidden layer widths of the MLP.
    iterations, time_budget : optional
        The training budget (iterations or seconds).
    seed : int
        Seed of the split, the initialization and the minibatches.
    postprocess : str, optional
        ``group-thresholds`` fits per-group decision thresholds after
        training (prediction then needs ``sensitive_features``).
    pos_label : optional
        The positive class (default: the larger of the two labels).
    config : dict, optional
        Any other configuration key, with the TOML file's names.
    verbose : bool
        Show the training's progress on stderr.
    """

    def __init__(
        self,
        constraint: Union[str, Sequence[str]] = "loss-parity",
        bound: Union[float, Sequence[float], None] = None,
        algorithm: Optional[str] = None,
        preset: str = "default",
        hidden: Optional[Sequence[int]] = None,
        iterations: Optional[int] = None,
        time_budget: Optional[float] = None,
        seed: int = 0,
        postprocess: Optional[str] = None,
        pos_label: Any = None,
        config: Optional[Dict[str, Any]] = None,
        verbose: bool = False,
    ):
        self.constraint = constraint
        self.bound = bound
        self.algorithm = algorithm
        self.preset = preset
        self.hidden = hidden
        self.iterations = iterations
        self.time_budget = time_budget
        self.seed = seed
        self.postprocess = postprocess
        self.pos_label = pos_label
        self.config = config
        self.verbose = verbose

    # -- configuration -------------------------------------------------

    def _keys(self) -> Dict[str, Any]:
        keys: Dict[str, Any] = dict(self.config or {})
        constraint = self.constraint
        keys["constraint"] = constraint if isinstance(constraint, str) else [str(c) for c in constraint]
        if self.bound is not None:
            keys["bound"] = [float(b) for b in np.atleast_1d(self.bound)]
        if self.algorithm is not None:
            keys["algorithm"] = self.algorithm
        keys["preset"] = self.preset
        if self.hidden is not None:
            keys["hidden"] = [int(h) for h in self.hidden]
        if self.iterations is not None:
            keys["iterations"] = int(self.iterations)
        if self.time_budget is not None:
            keys["time-budget"] = float(self.time_budget)
        keys["seed"] = int(self.seed)
        if self.postprocess is not None:
            keys["postprocess"] = self.postprocess
        return keys

    # -- fitting -------------------------------------------------------

    def fit(self, X, y, *, sensitive_features=None, sample_weight=None, out: Optional[str] = None,
            resume: bool = False):
        """Trains on ``X`` (a pandas or polars DataFrame, or a numeric array),
        binary labels ``y`` and the groups of ``sensitive_features`` (a
        Series or array, or a DataFrame of several columns for intersectional
        groups). Without ``sensitive_features`` the model trains without
        fairness constraints (all rows one group), with an
        ``UnconstrainedWarning``. ``out`` keeps the run folder (as
        ``fairtrain train --out``); ``resume=True`` continues the interrupted
        run in ``out`` from its checkpoint, on the same data and settings
        (``iterations`` or ``time_budget`` may grow; a completed run is read
        as it is). Returns ``self``."""
        if resume and out is None:
            raise ValueError("resume=True continues the run in a folder: give it as out=")
        if y is None:
            raise ValueError("FairClassifier requires y to be passed, but the target y is None")
        names, columns = to_columns(X)
        n = len(columns[0]) if columns else 0
        if n < 2:
            raise ValueError(f"n_samples={n}: at least 2 samples are needed to fit")
        y = _labels(y, n)
        classes = np.unique(y)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=float)
            if w.shape != (n,):
                raise ValueError(f"sample_weight must have one weight per row ({n}), got shape {w.shape}")
            if not (w > 0).any():
                raise ValueError("every sample weight is zero: there is nothing to fit")
            if len(np.unique(y[w > 0])) < 2:
                raise ValueError("only one class has rows of positive sample weight: a binary classifier needs two")
        if sensitive_features is None:
            if self.postprocess is not None:
                raise ValueError(
                    f"postprocess={self.postprocess!r} chooses thresholds per group: fit needs sensitive_features"
                )
            warnings.warn(
                "fit without sensitive_features trains without fairness constraints (all rows one group); pass "
                "sensitive_features= (the group of each row) to train under the constraint",
                UnconstrainedWarning,
                stacklevel=2,
            )
            group_names, group_columns = [], []
        else:
            group_names, group_columns = to_group_columns(sensitive_features, n)
        positive = classes[1] if self.pos_label is None else self.pos_label
        if positive not in classes:
            raise ValueError(f"pos_label {positive!r} is not one of the classes {classes.tolist()}")
        table_names = list(names)
        table_columns = list(columns)
        group_keys = []
        for name, column in zip(group_names, group_columns):
            if name in names and columns[names.index(name)] == column:
                group_keys.append(name)  # one of X's columns: the group, as the CLI uses it
                continue
            key = name if name not in table_names else f"{name} (sensitive)"
            table_names.append(key)
            table_columns.append(column)
            group_keys.append(key)
        table_names.append(LABEL_COLUMN)
        table_columns.append(["1" if v == positive else "0" for v in y.tolist()])
        keys = self._keys()
        # The run's config.toml names the source as an in-memory table.
        keys.update({"data": "frame:python", "target": LABEL_COLUMN, "positive": "1", "group": list(group_keys)})
        if not group_keys:
            # One group: nothing to constrain (the run's table shows the one group).
            keys["constraint"] = []
            keys.pop("bound", None)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=float)
            table_names.append(WEIGHT_COLUMN)
            table_columns.append([repr(float(v)) for v in w.tolist()])
            keys["weight"] = WEIGHT_COLUMN
        folder = out if out is not None else tempfile.mkdtemp(prefix="fairtrain-")
        try:
            _, completed = _fairtrain.run(
                json.dumps(keys), folder, (table_names, table_columns), out is None, bool(self.verbose), resume
            )
            self._read_run(folder)
        finally:
            if out is None:
                shutil.rmtree(folder, ignore_errors=True)
        if not completed:
            where = (
                f"; the partial run (model, metrics, checkpoint) is in {out}: fit(..., out={out!r}, resume=True) "
                "continues it"
                if out is not None
                else ""
            )
            raise KeyboardInterrupt(f"training interrupted{where}")
        self.classes_ = classes
        self.pos_label_ = positive
        self.n_features_in_ = len(names)
        if isinstance(X, pd.DataFrame) or type(X).__module__.split(".")[0] == "polars":
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.sensitive_names_ = group_keys
        return self

    def _read_run(self, folder: str) -> None:
        with open(os.path.join(folder, "metrics.json")) as f:
            self.metrics_ = json.load(f)
        history = os.path.join(folder, "history.csv")
        self.history_ = pd.read_csv(history) if os.path.exists(history) else pd.DataFrame()
        self.model_card_, weights = _fairtrain.read_model(folder)
        self.model_weights_ = bytes(weights)
        self.group_frame_ = _group_frame(self.metrics_)
        self.certificate_ = self.metrics_.get("certificates", [])

    # -- prediction ----------------------------------------------------

    def _scores(self, X, sensitive_features=None):
        if not hasattr(self, "model_card_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this FairClassifier is not fitted yet; call fit first")
        names, columns = to_columns(X)
        if len(names) != self.n_features_in_:
            raise ValueError(
                f"X has {len(names)} features, but FairClassifier is expecting {self.n_features_in_} features as input"
            )
        if not hasattr(self, "feature_names_in_"):
            names = [f"x{j}" for j in range(len(names))]
        n = len(columns[0]) if columns else 0
        if sensitive_features is not None:
            group_names, group_columns = to_group_columns(sensitive_features, n)
            for name, key, column in zip(group_names, self.sensitive_names_, group_columns):
                if key not in names:
                    names = names + [key]
                    columns = columns + [column]
        scores, decisions, unseen = _fairtrain.predict(self.model_card_, self.model_weights_, names, columns)
        for column, count in unseen:
            warnings.warn(f"{count} rows have a '{column}' category the model never saw; they get no input for it")
        return np.asarray(scores, dtype=float), np.asarray(decisions, dtype=bool)

    def predict_proba(self, X, *, sensitive_features=None):
        """Probabilities of ``classes_[0]`` and ``classes_[1]`` per row."""
        p, _ = self._scores(X, sensitive_features)
        p1 = p if self._positive_is_second() else 1.0 - p
        return np.column_stack([1.0 - p1, p1])

    def decision_function(self, X, *, sensitive_features=None):
        """The model's logit per row, positive for ``classes_[1]``."""
        p, _ = self._scores(X, sensitive_features)
        p = np.clip(p, 1e-12, 1.0 - 1e-12)
        logit = np.log(p) - np.log1p(-p)
        return logit if self._positive_is_second() else -logit

    def _positive_is_second(self) -> bool:
        return bool(self.classes_[1] == self.pos_label_)

    def predict(self, X, *, sensitive_features=None):
        """The predicted class per row: the model's decision (the per-group
        thresholds of a post-processed model, which need
        ``sensitive_features``; else probability at least 0.5)."""
        _, decisions = self._scores(X, sensitive_features)
        positive = self.pos_label_
        negative = self.classes_[0] if self.classes_[1] == positive else self.classes_[1]
        return np.where(decisions, positive, negative)

    def score(self, X, y, sample_weight=None, *, sensitive_features=None):
        """Accuracy of ``predict`` on ``X`` against ``y``."""
        from sklearn.metrics import accuracy_score

        return accuracy_score(y, self.predict(X, sensitive_features=sensitive_features), sample_weight=sample_weight)

    # -- files ---------------------------------------------------------

    def save(self, path: str) -> None:
        """Writes the model folder: ``model.json`` and ``model.safetensors``
        (readable by ``fairtrain predict``) and ``estimator.json`` (classes
        and parameters)."""
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "model.json"), "w") as f:
            f.write(self.model_card_)
        with open(os.path.join(path, "model.safetensors"), "wb") as f:
            f.write(self.model_weights_)
        estimator = {
            "classes": [_plain(c) for c in self.classes_],
            "pos_label": _plain(self.pos_label_),
            "n_features_in": self.n_features_in_,
            "feature_names_in": list(getattr(self, "feature_names_in_", [])) or None,
            "sensitive_names": self.sensitive_names_,
            "params": {k: _plain(v) for k, v in self.get_params().items()},
        }
        with open(os.path.join(path, ESTIMATOR_FILE), "w") as f:
            json.dump(estimator, f, indent=2)

    @classmethod
    def load(cls, path: str) -> "FairClassifier":
        """Reads a model folder written by ``save`` or by ``fairtrain train``
        (classes 0 and 1 for the latter)."""
        card, weights = _fairtrain.read_model(path)
        extra_path = os.path.join(path, ESTIMATOR_FILE)
        extra: Dict[str, Any] = {}
        if os.path.exists(extra_path):
            with open(extra_path) as f:
                extra = json.load(f)
        model = cls(**extra.get("params", {}))
        model.model_card_, model.model_weights_ = card, bytes(weights)
        info = json.loads(card)
        model.classes_ = np.asarray(extra.get("classes", [0, 1]))
        model.pos_label_ = extra.get("pos_label", 1)
        features = [n["name"] for n in info.get("numeric", [])] + [c["name"] for c in info.get("categorical", [])]
        model.n_features_in_ = extra.get("n_features_in", len(features))
        names = extra.get("feature_names_in")
        if names:
            model.feature_names_in_ = np.asarray(names, dtype=object)
        model.sensitive_names_ = extra.get("sensitive_names", info.get("group_columns", []))
        return model

    def _more_tags(self):  # scikit-learn < 1.6
        return {"binary_only": True, "requires_y": True}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


def _labels(y: Any, n: int) -> np.ndarray:
    """``y`` checked as scikit-learn checks a binary classifier's target."""
    from sklearn.utils.multiclass import check_classification_targets, type_of_target

    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is read as a 1-d array of labels",
            DataConversionWarning,
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y must be 1-dimensional with one label per row of X ({n}), got shape {y.shape}")
    if pd.isna(pd.Series(y)).any():
        raise ValueError("y has missing values")
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind != "binary":
        count = len(np.unique(y))
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind}: y must have exactly two "
            f"classes, found {count}"
        )
    count = len(np.unique(y))
    if count != 2:
        raise ValueError(f"y has {count} class(es): a binary classifier needs exactly two classes")
    return y


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _group_frame(metrics: Dict[str, Any]) -> pd.DataFrame:
    """Per-group results of the returned model on the test split."""
    rows: List[Dict[str, Any]] = []
    test = metrics.get("test", {})
    groups = test.get("groups", {})
    items = groups.items() if isinstance(groups, dict) else groups
    for name, values in items:
        row = {"group": name}
        row.update({k: v for k, v in values.items() if not isinstance(v, (dict, list))})
        rows.append(row)
    return pd.DataFrame(rows).set_index("group") if rows else pd.DataFrame()
