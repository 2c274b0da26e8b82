#!/usr/bin/env bash
# Creates a virtual environment with the fairtrain Python package installed
# from this clone (built by maturin from PyPI) and its test dependencies:
# target/python-venv, or the directory given. Installs python3-venv with
# apt-get (as root, or via sudo) where the system Python lacks it.
# Exit status 0 when the environment is ready.
# Usage: scripts/setup-python.sh [VENV=target/python-venv]
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-target/python-venv}"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-python: no python3 with venv here, and no apt-get to install it" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "setup-python: needs root (or sudo) to install python3-venv" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  packages=(python3 python3-venv python3-pip)
  $SUDO apt-get install -y --no-install-recommends "${packages[@]}" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; }
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "./python[test]"
echo "setup-python: ready ($("$venv/bin/python" -c 'import fairtrain; print("fairtrain", fairtrain.__version__)') in $venv)"
