"""FairClassifier.fit against the `fairtrain train` process on the same rows.

Usage: python scripts/bench-python-fit.py [--bin FAIRTRAIN_BIN] [--repeats N]

Loads Adult's training split as `fairtrain.datasets.load` gives it, writes
the same rows as a CSV file, then alternates `fit()` (import and loading
excluded) with the whole `fairtrain train` process on that file, same
settings and seed, and prints the medians, the ratio, rows per second and
whether the bar (fit at most 1.1x the process plus 0.1 s) holds.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fairtrain

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", default=str(ROOT / "target" / "release" / "fairtrain"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    binary, repeats = args.bin, args.repeats
    X, y, A = fairtrain.datasets.load("adult")
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "adult-train.csv")
        frame = X.copy()
        frame["race"] = A.to_numpy()
        frame["__label__"] = y.to_numpy()
        frame.to_csv(csv, index=False)
        command = [binary, "train", "--data", csv, "--target", "__label__", "--positive", "1", "--group", "race",
                   "--quiet", "--overwrite", "--out", os.path.join(tmp, "cli")]
        fits, processes = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            fairtrain.FairClassifier().fit(X, y, sensitive_features=A)
            fits.append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            processes.append(time.perf_counter() - start)
    fit, process = statistics.median(fits), statistics.median(processes)
    print(f"rows {len(X)}; median of {repeats}: fit {fit:.3f} s ({len(X) / fit:,.0f} rows/s), "
          f"`fairtrain train` process {process:.3f} s; ratio {fit / process:.2f}")
    holds = fit <= 1.1 * process + 0.1
    print(f"bar (fit <= 1.1 x process + 0.1 s): {'holds' if holds else 'FAILS'}")
    return 0 if holds else 1


if __name__ == "__main__":
    sys.exit(main())
