#!/usr/bin/env bash
# Many-groups benchmark on synthetic:groups=K with pairwise demographic
# parity, one thread, median of REPS runs of ITERS iterations each
# (iterations per second = iterations / metrics.json wall_seconds).
# 1. Equal work per step: K groups at the default batches against 2 groups
#    whose per-group batch is K/2 times larger (the same rows_per_iteration);
#    prints each rate and the ratio K / 2 groups.
# 2. Each algorithm's rate against SSL-ALM's at 2 and 24 groups, default
#    batches, and how that ratio grows from 2 to 24 groups; then the
#    proxy-Lagrangian against SSL-ALM at 18 groups, bound 0.1. Stochastic
#    Ghost runs ITERS/3 iterations: it solves four quadratic programs per
#    step, so it is slower (the rate, not the count, is compared).
# Usage: scripts/bench-groups.sh [ITERS=3000] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-3000}
reps=${2:-3}
cargo build --release --quiet -p fairtrain-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | head -1 | grep -o '[0-9.e+-]*$'; }
# rate K ALGORITHM [flags...]: "iterations_per_second rows_per_iteration", median of REPS runs.
rate() {
  local k=$1 algorithm=$2 n=$iters
  shift 2
  [ "$algorithm" = ghost ] && n=$((iters / 3 > 10 ? iters / 3 : 10))
  local runs=()
  for r in $(seq 1 "$reps"); do
    ./target/release/fairtrain train --data "synthetic:groups=$k" --constraint demographic-parity \
      --algorithm "$algorithm" --iterations "$n" --threads 1 --quiet --out "$work/run" --overwrite "$@" >/dev/null 2>"$work/warnings"
    runs+=("$(field iterations_per_second "$work/run/metrics.json") $(field rows_per_iteration "$work/run/metrics.json")")
  done
  printf '%s\n' "${runs[@]}" | sort -g | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'
}
# SSL-ALM's default per-group batch, which the 2-group runs scale by K/2.
per_group=8
echo "SSL-ALM (the default), equal rows per iteration:"
printf '%-8s %14s %12s %14s %12s %8s\n' groups rows_per_it it_per_s "2 groups, gbs" it_per_s ratio
for k in 6 24 100; do
  read -r many rows <<<"$(rate "$k" ssl-alm)"
  read -r two _ <<<"$(rate 2 ssl-alm --group-batch-size $((per_group * k / 2)))"
  printf '%-8s %14s %12.0f %14s %12.0f %8.2f\n' "$k" "$rows" "$many" "$((per_group * k / 2))" "$two" \
    "$(awk -v a="$many" -v b="$two" 'BEGIN {print a / b}')"
done
echo
echo "Each algorithm against SSL-ALM, default batches:"
printf '%-18s %12s %12s %10s\n' algorithm "2 groups" "24 groups" growth
read -r base2 _ <<<"$(rate 2 ssl-alm)"
read -r base24 _ <<<"$(rate 24 ssl-alm)"
for algorithm in ssw alm ialm spbm nupi ghost proxy-lagrangian gda penalty; do
  read -r a2 _ <<<"$(rate 2 "$algorithm")"
  read -r a24 _ <<<"$(rate 24 "$algorithm")"
  awk -v n="$algorithm" -v a2="$a2" -v a24="$a24" -v b2="$base2" -v b24="$base24" \
    'BEGIN {printf "%-18s %12.2f %12.2f %10.2f\n", n, b2 / a2, b24 / a24, (b24 / a24) / (b2 / a2)}'
done
echo "(columns: SSL-ALM's rate / the algorithm's; growth: 24 groups / 2 groups)"
echo
read -r ssl _ <<<"$(rate 18 ssl-alm --bound 0.1)"
read -r proxy _ <<<"$(rate 18 proxy-lagrangian --bound 0.1)"
awk -v a="$ssl" -v b="$proxy" 'BEGIN {printf "18 groups, bound 0.1: SSL-ALM %.0f it/s, proxy-Lagrangian %.0f it/s, ratio %.2f\n", a, b, a / b}'
