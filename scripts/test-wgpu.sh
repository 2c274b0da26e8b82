#!/usr/bin/env bash
# Runs the burn backend's tests on burn's wgpu device, so that the GPU
# kernels of the device-side statistics are exercised on a machine without
# a GPU: Mesa's software Vulkan driver (lavapipe) runs them on the CPU.
# Installs mesa-vulkan-drivers with apt-get (root or sudo) when no Vulkan
# driver is present. A clean build of the wgpu feature takes 10-20 minutes
# on 2 cores. Exit status 0 when the tests pass.
# Usage: scripts/test-wgpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-wgpu: no Vulkan driver and no apt-get here; install a Vulkan driver (e.g. Mesa's lavapipe)" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1 \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends mesa-vulkan-drivers libvulkan1; }
fi
# Vulkan loaders want a runtime directory; headless machines may lack one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
FAIRTRAIN_TEST_DEVICE=wgpu cargo test --release -p fairtrain --features wgpu --lib model::burn
