#!/usr/bin/env bash
# Installs the Debian 12 packages Ember builds and tests with (skips what is present).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcmocka-dev libonnx-dev libprotobuf-dev
      protobuf-compiler libstb-dev libdnnl-dev clang libclang-rt-14-dev python3
      golang-go python3-pytest python3-numpy abigail-tools)
# The Rust binding's tests need cargo: Debian's only when none is on PATH (rustup's wins).
command -v cargo >/dev/null || pkgs+=(cargo)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi
