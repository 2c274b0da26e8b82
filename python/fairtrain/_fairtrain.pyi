"""Type stubs of the Rust extension (see python/src/lib.rs)."""

from typing import List, Optional, Sequence, Tuple

Columns = Tuple[List[str], List[List[Optional[str]]]]

def run(
    keys: str,
    out: Optional[str],
    table: Optional[Columns] = None,
    overwrite: bool = False,
    verbose: bool = False,
    resume: bool = False,
) -> Tuple[str, bool]: ...
def predict(
    card: str, weights: bytes, names: Sequence[str], columns: Sequence[Sequence[Optional[str]]]
) -> Tuple[List[float], List[bool], List[Tuple[str, int]]]: ...
def datasets() -> List[Tuple[str, str]]: ...
def dataset(
    name: str, test: bool = False, group: Optional[Sequence[str]] = None
) -> Tuple[List[str], List[List[Optional[str]]], List[float], List[str], str, str]: ...
def read_model(dir: str) -> Tuple[str, bytes]: ...
def version() -> str: ...
