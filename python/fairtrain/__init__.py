"""fairtrain: train neural networks under fairness constraints.

``FairClassifier`` is a scikit-learn estimator; ``datasets`` loads the
built-in data sets as pandas objects; ``train`` runs a whole configuration as
``fairtrain train`` does. The work happens in the Rust library (the same runs
as the command line).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from . import datasets
from ._fairtrain import version as _version
from .errors import FairtrainError, InputError, MissingFileError, UnconstrainedWarning
from .estimator import FairClassifier
from . import _fairtrain

__version__ = _version()

__all__ = ["FairClassifier", "FairtrainError", "InputError", "MissingFileError", "UnconstrainedWarning", "datasets",
           "train"]


def train(
    config: Dict[str, Any],
    out: Optional[str] = None,
    overwrite: bool = False,
    verbose: bool = False,
    resume: bool = False,
) -> Dict[str, Any]:
    """Runs ``config`` (the TOML file's keys, e.g. ``{"data": "adult",
    "constraint": "demographic-parity", "bound": 0.05}``) as ``fairtrain
    train`` does, writing the same run folder (``out``, else the
    configuration's ``out``, else ``runs/<UTC timestamp>``), and returns its
    metrics (``metrics.json``, with the folder under ``"run_folder"``);
    ``verbose`` shows the progress on stderr; ``resume=True`` continues the
    interrupted run in ``out`` (or the configuration's ``out``) from its
    checkpoint."""
    folder, completed = _fairtrain.run(json.dumps(config), out, None, overwrite, verbose, resume)
    if not completed:
        raise KeyboardInterrupt(
            f"training interrupted; resume it with fairtrain.train(config, out={folder!r}, resume=True) or "
            f"`fairtrain train --resume --out {folder}`"
        )
    with open(os.path.join(folder, "metrics.json")) as f:
        metrics = json.load(f)
    metrics["run_folder"] = folder
    return metrics
