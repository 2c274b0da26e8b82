#!/usr/bin/env bash
# Sharded data-parallel benchmark: generates ROWS rows (the scale_data
# example) as Parquet and as CSV, trains the default preset for ITERS
# iterations with `--select last` on one process and under `mpirun -np
# PROCS` (each process reads and holds only its share of the rows), and
# prints per file: each run's whole-command seconds, every process's peak
# memory (from /usr/bin/time), the bar (0.6 x the one-process peak + 50
# MB), test accuracy, and the largest parameter difference relative to the
# largest parameter. Then a --memory-budget between the two: the one
# process refuses it, the PROCS processes complete.
# Needs the mpi feature's packages (scripts/setup-mpi.sh) and GNU time.
# Usage: scripts/bench-shards.sh [ROWS=2000000] [ITERS=5000] [PROCS=2]
# (FAIRTRAIN_BIN=path uses an mpi build of the binary already made.)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-2000000}
iters=${2:-5000}
procs=${3:-2}
if [ -z "${FAIRTRAIN_BIN:-}" ]; then
  cargo build --release --quiet -p fairtrain-cli --features mpi
fi
cargo build --release --quiet -p fairtrain --example scale_data
bin=$(realpath "${FAIRTRAIN_BIN:-target/release/fairtrain}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for ext in parquet csv; do
  ./target/release/examples/scale_data "$rows" "$work/scale.$ext"
done
now() { date +%s.%N; }
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | grep -o '[0-9.e+-]*$'; }
# Largest |a - b| over the two runs' parameters, over the largest |a|.
params_diff() {
  python3 - "$1/model.safetensors" "$2/model.safetensors" <<'PY'
import json, struct, sys
def read(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = []
    for name, t in sorted(header.items()):
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out += struct.unpack(f"<{(b - a) // 4}f", raw[8 + n + a:8 + n + b])
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
print(f"{max(abs(x - y) for x, y in zip(a, b)) / max(max(abs(x) for x in a), 1.0):.1e}")
PY
}
args=(train --target y --group g --iterations "$iters" --select last --threads 1 --quiet --overwrite)
printf '%-8s %6s %9s %-22s %9s %10s %11s\n' file procs whole_s "peak_MB (per process)" bar_MB test_acc params_diff
for ext in parquet csv; do
  file="$work/scale.$ext"
  start=$(now)
  /usr/bin/time -f "%M" -o "$work/one.mem" "$bin" "${args[@]}" --data "$file" --out "$work/one-$ext"
  whole1=$(awk -v a="$start" -v b="$(now)" 'BEGIN {print b - a}')
  peak1=$(awk '{printf "%.0f", $1 / 1024}' "$work/one.mem")
  start=$(now)
  mpirun -np "$procs" --oversubscribe --bind-to none sh -c \
    "/usr/bin/time -f %M -o $work/many.\$OMPI_COMM_WORLD_RANK.mem $bin ${args[*]} --data $file --out $work/many-$ext"
  whole2=$(awk -v a="$start" -v b="$(now)" 'BEGIN {print b - a}')
  peaks=$(cat "$work"/many.*.mem | awk '{printf "%s%.0f", (NR > 1 ? " " : ""), $1 / 1024}')
  bar=$(awk -v p="$peak1" 'BEGIN {printf "%.0f", 0.6 * p + 50}')
  acc() { python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['test']['accuracy']:.4f}\")" "$1/metrics.json"; }
  printf '%-8s %6s %9.2f %-22s %9s %10s %11s\n' "$ext" 1 "$whole1" "$peak1" "" "$(acc "$work/one-$ext")" ""
  printf '%-8s %6s %9.2f %-22s %9s %10s %11s\n' "$ext" "$procs" "$whole2" "$peaks" "$bar" "$(acc "$work/many-$ext")" \
    "$(params_diff "$work/one-$ext" "$work/many-$ext")"
  rm -f "$work"/many.*.mem
done
# A budget the one process exceeds and each of the PROCS processes meets:
# the encoded rows one process would hold, times 0.8.
held=$("$bin" "${args[@]}" --data "$work/scale.parquet" --out "$work/probe" --memory-budget 0.001 2>&1 |
  grep -o 'hold [0-9.]* MB' | grep -o '[0-9.]*' || true)
budget=$(awk -v h="$held" 'BEGIN {printf "%.0f", 0.8 * h}')
if "$bin" "${args[@]}" --data "$work/scale.parquet" --out "$work/budget1" --memory-budget "$budget" 2>"$work/refused"; then
  echo "--memory-budget $budget: one process did not refuse it" >&2
  exit 1
fi
mpirun -np "$procs" --oversubscribe --bind-to none "$bin" "${args[@]}" --data "$work/scale.parquet" \
  --out "$work/budget2" --memory-budget "$budget"
echo "--memory-budget $budget MB (one process holds $held MB): refused on one process ($(tail -1 "$work/refused" | cut -c1-60)...), completed on $procs"
