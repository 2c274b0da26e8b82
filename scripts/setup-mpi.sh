#!/usr/bin/env bash
# Installs what the `mpi` cargo feature needs on Debian/Ubuntu: Open MPI
# (mpirun and its development files) and libclang (the MPI bindings are
# generated from mpi.h at build time). Runs apt-get as root, or via sudo.
# Already installed: does nothing. Exit status 0 when ready.
set -euo pipefail
have() { command -v mpicc >/dev/null 2>&1 && command -v mpirun >/dev/null 2>&1 \
  && ls /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1; }
if have; then
  echo "setup-mpi: Open MPI and libclang are installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-mpi: no apt-get here; install an MPI library (Open MPI or MPICH) with its development files and libclang, then build with --features mpi" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-mpi: needs root (or sudo) to install libopenmpi-dev openmpi-bin libclang-dev" >&2
    exit 1
  fi
fi
packages=(libopenmpi-dev openmpi-bin libclang-dev)
export DEBIAN_FRONTEND=noninteractive
# Fresh machines have no package lists yet: fetch them when the install fails.
$SUDO apt-get install -y --no-install-recommends "${packages[@]}" \
  || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "${packages[@]}"; }
have
echo "setup-mpi: ready (mpirun $(mpirun --version | head -1 | awk '{print $NF}'))"
