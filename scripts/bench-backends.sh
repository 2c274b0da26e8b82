#!/usr/bin/env bash
# Backends benchmark: SSL-ALM steps per second of the native MLP and of the
# same MLP on the burn backend (Flex CPU; statistics on the device, and on
# the host for comparison), on Adult, and the solutions they reach from the
# same start (example burn_vs_native).
# With PEERS_PY=<a python with PyTorch>, also a hand-written PyTorch loop of
# the same step (scripts/torch_loop.py), one thread, right after it.
# Usage: scripts/bench-backends.sh [ITERS=5000] [BATCHES=16,256]
set -euo pipefail
cd "$(dirname "$0")/.."
batches="${2:-16,256}"
cargo run --release --quiet -p fairtrain --features burn --example burn_vs_native -- "${1:-5000}" "$batches"
if [ -n "${PEERS_PY:-}" ]; then
  OMP_NUM_THREADS=1 "$PEERS_PY" scripts/torch_loop.py "$batches"
fi
