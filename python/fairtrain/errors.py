"""The exceptions fairtrain raises, all carrying the library's message.

``FairtrainError`` is the base class; bad input (a bad value, malformed or
inconsistent data, a damaged model) is also a ``ValueError``, a missing file
also a ``FileNotFoundError``, so ``except ValueError`` works as users expect.
"""


class FairtrainError(Exception):
    """Base class of fairtrain's exceptions."""


class InputError(FairtrainError, ValueError):
    """Bad input: a configuration value, data, or a model file."""


class MissingFileError(FairtrainError, FileNotFoundError):
    """A file the run needs does not exist."""


class UnconstrainedWarning(UserWarning):
    """A fit without ``sensitive_features``: trained without fairness
    constraints."""


def from_kind(kind: str, message: str) -> FairtrainError:
    """The exception for an error of the Rust library (used by the extension)."""
    if kind == "Input":
        return InputError(message)
    if kind == "NotFound":
        return MissingFileError(message)
    return FairtrainError(message)
