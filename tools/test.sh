#!/usr/bin/env bash
# Builds Ember and runs the whole test suite (CTest: unit tests, model tests against the
# ONNX Runtime references, and the tier-1 ONNX conformance cases).
#   bash tools/test.sh              release build in build/
#   bash tools/test.sh --sanitize   ASan + UBSan build of everything in build-asan/
#   bash tools/test.sh --tsan       ThreadSanitizer build in build-tsan/, `ctest -L concurrency`
#                                   (the pool, the concurrency test, with and without spin_us)
#   bash tools/test.sh --fuzz       clang + libFuzzer (+ ASan/UBSan) build in build-fuzz/,
#                                   `ctest -L fuzz`: each target fuzzes EMBER_FUZZ_SECONDS
#                                   (default 60) and replays tests/fuzz_regressions/
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
# Sanitizer jobs that build only what their label needs (docs/reliability.md).
targets=()
ctest_args=(-j"$(nproc)")
if [ "${1:-}" = "--tsan" ]; then
  dir=build-tsan
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_SANITIZE=thread)
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  targets=(--target ember_cli test_concurrency test_thread_pool)
  ctest_args=(-L concurrency)
elif [ "${1:-}" = "--fuzz" ]; then
  dir=build-fuzz
  export CC=clang CXX=clang++
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_FUZZ=ON -DEMBER_SANITIZE=address,undefined
        -DEMBER_FUZZ_SECONDS="${EMBER_FUZZ_SECONDS:-60}")
  targets=(--target fuzz_all)
  ctest_args=(-L fuzz -j"$(nproc)")  # each fuzzer uses one core
fi
cmake -S . -B "$dir" "${args[@]}"
cmake --build "$dir" -j"$(nproc)" "${targets[@]}"
ctest --test-dir "$dir" --output-on-failure "${ctest_args[@]}"
