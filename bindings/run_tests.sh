#!/usr/bin/env bash
# Runs one language binding's own test suite against the library in a build folder;
# the CTests bindings_go, bindings_rust and bindings_python call it (tests/packaging.cmake).
#   run_tests.sh go|rust|python BUILD_DIR LIBEMBER_PATH
# Environment given to the suites: PKG_CONFIG_PATH (the build folder's
# ember-uninstalled.pc), LD_LIBRARY_PATH, EMBER_TEST_MODELS (converted models),
# EMBER_SHARED_DIR (reference outputs, photos). Build products of go and cargo go under
# BUILD_DIR/bindings, never into the source tree. Exits 77 (CTest: skipped) with a
# message when the language's toolchain is not installed.
set -euo pipefail
lang=$1 build=$(cd "$2" && pwd) lib=$(readlink -f "$3")
src=$(cd "$(dirname "$0")/.." && pwd)
out=$build/bindings/$lang
mkdir -p "$out"
export PKG_CONFIG_PATH="$build${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$(dirname "$lib")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export EMBER_TEST_MODELS=${EMBER_TEST_MODELS:-$build/models}
: "${EMBER_SHARED_DIR:?EMBER_SHARED_DIR must name the shared data folder}"
export EMBER_SHARED_DIR

skip() { echo "SKIPPED: $*"; exit 77; }
has_images() { nm -D --defined-only "$lib" | grep -c ' ember_image_load_file' >/dev/null; }  # -c reads all: no SIGPIPE

case "$lang" in
go)
  command -v go >/dev/null || skip "no Go toolchain (Debian: apt-get install golang-go)"
  export GOCACHE=$out/cache GOPATH=$out/path GOMODCACHE=$out/path/pkg/mod
  export GOFLAGS=-mod=readonly GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on CGO_ENABLED=1
  tags=()
  if ! has_images; then
    echo "note: libember.so has no ember_image_* yet: building with -tags ember_noimage"
    tags=(-tags ember_noimage)
  fi
  cd "$src/bindings/go"
  go version
  go vet "${tags[@]}" ./...
  go build "${tags[@]}" -o "$out/classify" ./examples/classify
  go build "${tags[@]}" -o "$out/generate" ./examples/generate
  go test "${tags[@]}" -count=1 -v ./...
  ;;
rust)
  command -v cargo >/dev/null || skip "no cargo (Debian: apt-get install cargo)"
  export CARGO_TARGET_DIR=$out/target
  manifest=$src/bindings/rust/Cargo.toml
  cargo --version
  cargo build --offline --locked --manifest-path "$manifest" --workspace --examples
  cargo test --offline --locked --manifest-path "$manifest" --workspace --tests -- --nocapture
  cargo test --offline --locked --manifest-path "$manifest" --workspace --doc
  ;;
python)
  py=/usr/bin/python3
  [ -x "$py" ] || skip "no /usr/bin/python3"
  "$py" -c 'import numpy' 2>/dev/null || skip "no NumPy for $py (apt-get install python3-numpy)"
  "$py" -c 'import pytest' 2>/dev/null || skip "no pytest for $py (apt-get install python3-pytest)"
  export EMBER_LIBRARY=$lib PYTHONPATH=$src/bindings/python PYTHONDONTWRITEBYTECODE=1
  cd "$out"
  "$py" -m pytest -p no:cacheprovider --rootdir "$src/bindings/python" -v -rs "$src/bindings/python/tests"
  ;;
*)
  echo "run_tests.sh: unknown binding '$lang'" >&2
  exit 2
  ;;
esac
