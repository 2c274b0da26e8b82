#!/usr/bin/env bash
# Scale benchmark: generates ROWS rows (the scale_data example) as CSV and
# as Parquet, trains the default preset on each for ITERS iterations on one
# thread, and prints one table: the whole command's wall time, the training
# loop's (metrics.json wall_seconds), the rest, rows per second of the whole
# command, peak memory; then the time to report an unknown --target.
# Usage: scripts/bench-scale.sh [ROWS=2000000] [ITERS=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-2000000}
iters=${2:-20000}
cargo build --release --quiet -p fairtrain-cli
cargo build --release --quiet -p fairtrain --example scale_data
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ext in csv parquet; do
  ./target/release/examples/scale_data "$rows" "$work/scale.$ext"
done
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | grep -o '[0-9.e+-]*$'; }
now() { date +%s.%N; }
printf '%-8s %10s %9s %9s %9s %14s %9s %11s\n' file size_MB whole_s train_s rest_s rows_per_s peak_MB iters_per_s
for ext in csv parquet; do
  file="$work/scale.$ext"
  start=$(now)
  ./target/release/fairtrain train --data "$file" --target y --group g --iterations "$iters" --threads 1 \
    --quiet --out "$work/run-$ext" >/dev/null
  whole=$(awk -v a="$start" -v b="$(now)" 'BEGIN {print b - a}')
  metrics="$work/run-$ext/metrics.json"
  train=$(field wall_seconds "$metrics")
  awk -v f="$ext" -v size="$(stat -c %s "$file")" -v whole="$whole" -v train="$train" -v rows="$rows" \
    -v peak="$(field peak_rss_mb "$metrics")" -v rate="$(field iterations_per_second "$metrics")" \
    'BEGIN {printf "%-8s %10.0f %9.2f %9.2f %9.2f %14.0f %9.0f %11.0f\n", f, size / 1e6, whole, train, whole - train, rows / whole, peak, rate}'
done
start=$(now)
if ./target/release/fairtrain train --data "$work/scale.csv" --target no-such-column --group g --quiet \
  --out "$work/run-error" 2>/dev/null; then
  echo "an unknown --target was accepted" >&2
  exit 1
fi
awk -v a="$start" -v b="$(now)" 'BEGIN {printf "unknown --target reported in %.3f s\n", b - a}'
