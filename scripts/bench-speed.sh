#!/usr/bin/env bash
# Speed benchmark: SSL-ALM on Adult with the paper preset (batches 8 / 8),
# one thread, REPS runs of ITERS iterations each; prints iterations per
# second (iterations / wall_seconds of metrics.json) and peak memory.
# With PEERS_PY=<python of a venv with humancompatible-train 0.4.2>, also
# runs the Python reference in the same session and prints the ratio.
# Usage: scripts/bench-speed.sh [ITERS=200000] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-200000}
reps=${2:-5}
cargo build --release --quiet
out=$(mktemp -d)
rates=()
for r in $(seq 1 "$reps"); do
  ./target/release/fairtrain train --preset paper --algorithm ssl-alm --iterations "$iters" --threads 1 \
    --out "$out/run$r" >"$out/log$r"
  rate=$(grep -o '"iterations_per_second": [0-9.]*' "$out/run$r/metrics.json" | grep -o '[0-9.]*$')
  mem=$(grep -o '"peak_rss_mb": [0-9.]*' "$out/run$r/metrics.json" | grep -o '[0-9.]*$')
  printf 'run %d: %.0f it/s, peak memory %.0f MB\n' "$r" "$rate" "$mem"
  rates+=("$rate")
done
best=$(printf '%s\n' "${rates[@]}" | sort -g | tail -1)
median=$(printf '%s\n' "${rates[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
printf 'fairtrain ssl-alm: median %.0f it/s, best %.0f it/s over %d runs of %d iterations\n' "$median" "$best" "$reps" "$iters"
if [ -n "${PEERS_PY:-}" ] && [ -f "${PEERS_BENCH:-../shared/peers/peer_bench.py}" ]; then
  peer=$(OMP_NUM_THREADS=1 "$PEERS_PY" "${PEERS_BENCH:-../shared/peers/peer_bench.py}" single --alg sslalm --seed 0 \
    --budget iters --max-iters 4000 2>/dev/null | tail -1 | grep -o '"it_per_s": [0-9.]*' | grep -o '[0-9.]*$')
  printf 'humancompatible-train 0.4.2 sslalm: %.0f it/s; ratio (median) %.1fx\n' "$peer" "$(awk -v a="$median" -v b="$peer" 'BEGIN {print a / b}')"
fi
rm -rf "$out"
