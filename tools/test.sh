#!/usr/bin/env bash
# Builds Ember and runs the whole test suite (CTest: unit tests, model tests against the
# ONNX Runtime references, and the tier-1 ONNX conformance cases).
#   bash tools/test.sh              release build in build/
#   bash tools/test.sh --sanitize   ASan + UBSan build of everything in build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/deps.sh
dir=build
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  args=(-DCMAKE_BUILD_TYPE=Debug -DEMBER_SANITIZE=address,undefined)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
cmake -S . -B "$dir" "${args[@]}"
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
