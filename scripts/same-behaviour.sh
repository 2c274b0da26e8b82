#!/usr/bin/env bash
# Behaviour fingerprint: runs a fixed set of short trainings (default and
# paper presets on Adult, seeds 0-2, one run of each algorithm family and
# method, a post-processed run, and a burn-backend run where the binary has
# the `burn` feature) and prints, per run, the SHA-256 of model.safetensors
# and of metrics.json without its timing fields. Two commits behave the same
# when their fingerprints are equal:
#   scripts/same-behaviour.sh OLD_BINARY > old.txt
#   scripts/same-behaviour.sh NEW_BINARY > new.txt && diff old.txt new.txt
# Usage: scripts/same-behaviour.sh [BINARY=target/release/fairtrain]
set -euo pipefail
bin="$(realpath "${1:-target/release/fairtrain}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
run() {
  local name="$1"; shift
  if ! "$bin" train --data adult --out "$work/$name" --quiet "$@" >/dev/null 2>"$work/$name.err"; then
    echo "$name FAILED: $(tail -1 "$work/$name.err")"
    return
  fi
  local model metrics
  model="$(sha256sum "$work/$name/model.safetensors" | cut -c1-16)"
  # Timing fields differ run to run, and the checkpoint's size is the file
  # format's (it grows when a format version adds state); nothing else may.
  metrics="$(python3 - "$work/$name/metrics.json" <<'PY'
import hashlib, json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items()
                if not any(t in k for t in ("seconds", "per_second", "rss", "elapsed", "timestamp", "started", "checkpoint_bytes"))}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
m = strip(json.load(open(sys.argv[1])))
print(hashlib.sha256(json.dumps(m, sort_keys=True).encode()).hexdigest()[:16])
PY
)"
  echo "$name model=$model metrics=$metrics"
}
for seed in 0 1 2; do
  run "default-s$seed" --seed "$seed" --iterations 3000
  run "paper-s$seed" --preset paper --seed "$seed" --iterations 3000
done
for algorithm in ssw alm ialm spbm nupi ghost proxy-lagrangian gda penalty sgd adam; do
  run "$algorithm" --algorithm "$algorithm" --iterations 1500
done
for method in fairbatch forml fermi; do
  run "$method" --method "$method" --iterations 1000
done
run "dp-race-sex" --group race,sex --constraint demographic-parity --iterations 3000
run "postprocess" --postprocess group-thresholds --constraint demographic-parity --iterations 2000
if "$bin" train --help | grep -q -- "--backend"; then
  if "$bin" train --data adult --backend burn --iterations 5 --out "$work/probe" --quiet >/dev/null 2>&1; then
    run "burn" --backend burn --iterations 500
  else
    echo "burn skipped: this binary has no burn backend"
  fi
fi
