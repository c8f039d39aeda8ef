#!/usr/bin/env bash
# Writes the ABI baseline of a release: api/abi/libember.so.abi, an abidw (Debian's
# abigail-tools) description of libember.so's exported functions and the types of
# api/ember.h they use (opaque handles dropped: api/abi/ember.suppr). Run it on the release commit, from a RelWithDebInfo build (abidw reads the
# DWARF debug info), and commit the file with the release; from then on the CTest
# abi_baseline (tools/abi_check.sh abidiff) fails on any incompatible change against it.
#   bash tools/abi_baseline.sh [BUILD_DIR] [OUTPUT]     (defaults: build, api/abi/libember.so.abi)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-api/abi/libember.so.abi}
lib=$build/libember.so
[ -f "$lib" ] || { echo "abi_baseline.sh: $lib not found: build first (cmake --build $build)" >&2; exit 1; }
command -v abidw >/dev/null || { echo "abi_baseline.sh: abidw not found: apt-get install abigail-tools" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
abidw --header-file "$PWD/api/ember.h" --drop-private-types --suppressions api/abi/ember.suppr \
  --no-corpus-path --no-show-locs --type-id-style hash "$lib" --out-file "$out"
echo "wrote $out ($(grep -c '<elf-symbol ' "$out") exported symbols); commit it with the release"
