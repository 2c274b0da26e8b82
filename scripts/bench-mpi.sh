#!/usr/bin/env bash
# Data-parallel benchmark: SSL-ALM on Adult replicated REPLICAS times, one
# process against `mpirun -np 2`, at objective batch 16, 256 and 4096 (group
# batches half that), alternating the two so that both see the same machine
# load. Prints steps per second of each, their ratio, peak memory per
# process and the largest difference of the final multipliers.
# Needs the mpi feature's packages (scripts/setup-mpi.sh).
# Usage: scripts/bench-mpi.sh [ADULT_DATA_FILE] [REPLICAS=8] [REPEATS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
adult="${1:-../shared/datasets/adult/adult.data}"
replicas="${2:-8}"
repeats="${3:-3}"
if [ ! -f "$adult" ]; then
  echo "bench-mpi: $adult not found; pass the UCI adult.data file" >&2
  exit 1
fi
cargo build --release --quiet -p fairtrain-cli --features mpi
bin=target/release/fairtrain
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
csv="$work/adult-x$replicas.csv"
echo "age,workclass,fnlwgt,education,education_num,marital_status,occupation,relationship,race,sex,capital_gain,capital_loss,hours_per_week,native_country,income" >"$csv"
for _ in $(seq "$replicas"); do sed -e 's/, /,/g' -e '/^\s*$/d' "$adult" >>"$csv"; done
echo "data: $(($(wc -l <"$csv") - 1)) rows (adult.data x $replicas); SSL-ALM, loss parity by sex, MLP 64-32"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
field() { grep -m1 "\"$2\"" "$1/metrics.json" | sed -e 's/.*: //' -e 's/,$//'; }
multipliers() { sed -n '/"multipliers"/,/}/p' "$1/metrics.json" | grep ':' | grep -v multipliers | sed -e 's/.*: //' -e 's/,$//'; }
printf "%-7s %-6s %12s %12s %8s %10s %12s\n" batch repeat "1 proc it/s" "2 proc it/s" ratio "peak MB" "max dlambda"
for spec in "16 8 20000" "256 128 4000" "4096 2048 400"; do
  set -- $spec
  args=(train --data "$csv" --target income --positive ">50K" --group sex --batch-size "$1" --group-batch-size "$2"
    --iterations "$3" --quiet --overwrite)
  for r in $(seq "$repeats"); do
    "$bin" "${args[@]}" --out "$work/one" 2>/dev/null
    mpirun -np 2 --oversubscribe --bind-to none "$bin" "${args[@]}" --out "$work/two" 2>/dev/null
    a=$(field "$work/one" iterations_per_second)
    b=$(field "$work/two" iterations_per_second)
    mem=$(field "$work/two" peak_rss_mb)
    dl=$(paste <(multipliers "$work/one") <(multipliers "$work/two") | awk '{d=$1-$2; if (d<0) d=-d; if (d>m) m=d} END {printf "%.1e", m}')
    printf "%-7s %-6s %12.0f %12.0f %8.2f %10.0f %12s\n" "$1" "$r" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN {print b / a}')" "$mem" "$dl"
  done
done
