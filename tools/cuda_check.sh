#!/usr/bin/env bash
# The CUDA plugin on a machine with an NVIDIA GPU, in one go (docs/plugin-cuda.md):
#   1. `ember plugins`: the cuda plugin must be *loaded*;
#   2. the CTest script plugins/cuda/test_cuda.sh: the conformance kit through the
#      plugin, the shared models against the ONNX Runtime references on cuda,cpu, fp16
#      against fp32;
#   3. tools/cuda_bench.py: every model at batch 1, 8, 64 in fp32 and fp16, Ember against
#      PyTorch eager on the same GPU, the ratio Ember/PyTorch, and the fraction of the
#      GPU's dense fp16 tensor-core peak reached by ResNet-50 at batch 64.
#
# Three ways to run it:
#   bash tools/cuda_check.sh [--no-bench]
#       on a GPU machine with Ember's build dependencies (tools/deps.sh) and the CUDA
#       toolkit + cuDNN 9: builds build-gpu/ for the GPU's architecture, then 1-3.
#   bash tools/cuda_check.sh --pack
#       on a machine with the dependencies and the toolkit but no GPU: builds build-gpu/
#       (EMBER_CUDA_ARCHS, default 90-real for H100/H200) and assembles build-gpu/pack/
#       (~45 MB): stripped binaries, the non-system libraries they need, and the shared
#       models / references / conformance cases as one tarball.
#   bash tools/cuda_check.sh --run-pack [--no-bench]
#       on a GPU machine that has only the CUDA driver, toolkit, cuDNN (the pip
#       nvidia-cudnn package will do) and python3 with PyTorch, e.g. this workplace's H200
#       (device tool: carry ["build-gpu/pack"], timeout ~600 s): runs 1-3 from the pack.
#
# Environment: EMBER_SHARED_DIR (default ../shared), CUDA_HOME (default /usr/local/cuda),
# EMBER_CUDA_ARCHS, JOBS (default nproc), BENCH_SECONDS (per measurement, default 0.5),
# BENCH_BUDGET (seconds for the whole benchmark, default 300), PACK_FROM (--pack: take the
# binaries from this existing build tree instead of building build-gpu/).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${EMBER_SHARED_DIR:-$root/../shared}
cuda=${CUDA_HOME:-/usr/local/cuda}
jobs=${JOBS:-$(nproc)}
build=$root/build-gpu
pack=$build/pack
mode=build
do_bench=1
for a in "$@"; do
    case $a in
    --no-bench) do_bench=0 ;;
    --pack) mode=pack ;;
    --run-pack) mode=run-pack ;;
    *) echo "usage: bash tools/cuda_check.sh [--pack | --run-pack] [--no-bench]"; exit 2 ;;
    esac
done
orig_ld=${LD_LIBRARY_PATH:-}
start=$(date +%s)
stamp() { echo "== [$(( $(date +%s) - start )) s] $*"; }

build_tree() {  # build_tree ARCHS
    stamp "configure (EMBER_CUDA_ARCHS=$1)"
    local launcher=()
    command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
        -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
    mkdir -p "$build"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DEMBER_SHARED_DIR="$shared" -DEMBER_CUDA_ROOT="$cuda" \
        -DEMBER_CUDA_ARCHS="$1" "${launcher[@]}" > "$build/configure.log" 2>&1 ||
        { tail -30 "$build/configure.log"; echo "FAIL: configure"; exit 1; }
    grep -E "cuda plugin" "$build/configure.log"
    stamp "build"
    cmake --build "$build" -j"$jobs" --target ember_cli ember ember-cuda test_models > "$build/build.log" 2>&1 ||
        { grep -E "error|Error" "$build/build.log" | head -30; echo "FAIL: build"; exit 1; }
    [ -f "$build/plugins/libember-cuda.so" ] ||
        { echo "FAIL: the cuda plugin was not built (see $build/configure.log)"; exit 1; }
}

# The CUDA libraries of python's pip packages (nvidia-cudnn-cu13, nvidia-cublas), if any.
pip_cuda_libs() {
    python3 - <<'EOF' 2>/dev/null
import importlib, os
dirs = []
for m in ('nvidia.cudnn', 'nvidia.cublas', 'nvidia.cuda_runtime'):
    try:
        for p in importlib.import_module(m).__path__:
            if os.path.isdir(os.path.join(p, 'lib')):
                dirs.append(os.path.join(p, 'lib'))
    except Exception:
        pass
print(':'.join(dirs))
EOF
}

checks() {  # checks EMBER BUILD SHARED PLUGIN_DIR
    local ember=$1 bdir=$2 sdir=$3 pdir=$4 status=0
    export EMBER_PLUGIN_PATH=$pdir
    stamp "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi not found')"
    stamp "ember plugins"
    "$ember" plugins | tee "$bdir/plugins.txt"
    if ! grep -qE "^  cuda +loaded" "$bdir/plugins.txt"; then
        echo "FAIL: the cuda plugin did not load on this machine (reason above)"
        return 1
    fi
    stamp "test_cuda: plugin-check, models on cuda,cpu, fp16 vs fp32"
    sh "$root/plugins/cuda/test_cuda.sh" "$ember" "$bdir" "$sdir" "$pdir/libember-cuda.so" || status=1
    stamp "plugin-check summary"
    "$ember" plugin-check "$pdir/libember-cuda.so" "$sdir/conformance" 2>&1 | tail -2
    if [ $do_bench = 1 ]; then
        stamp "benchmark: Ember (cuda) against PyTorch eager"
        # PyTorch runs with the caller's library path (its own CUDA libraries); the pack's
        # only reaches the ember processes the benchmark starts.
        LD_LIBRARY_PATH="$orig_ld" PYTHONUNBUFFERED=1 python3 "$root/tools/cuda_bench.py" --ember "$ember" \
            --ember-ld-path "${LD_LIBRARY_PATH:-}" --plugin-path "$pdir" \
            --shared "$sdir" --work "$bdir/bench" --seconds "${BENCH_SECONDS:-0.5}" \
            --budget "${BENCH_BUDGET:-300}" || status=1
    fi
    stamp "done (status $status)"
    return $status
}

convert_models() {  # convert_models EMBER SHARED OUTDIR
    mkdir -p "$3"
    for m in squeezenet1.1-caffe2-fp32 squeezenet1.1-caffe2-fp16 mnist-8 winml-cifar10-tutorial super-resolution-10; do
        "$1" convert "$2/models/onnx/$m.onnx" -o "$3/$m.ember" > /dev/null || { echo "FAIL: convert $m"; exit 1; }
    done
}

case $mode in
build)
    archs=${EMBER_CUDA_ARCHS:-}
    if [ -z "$archs" ] && command -v nvidia-smi > /dev/null; then
        cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
        [ -n "$cc" ] && archs="${cc}-real"
    fi
    build_tree "${archs:-90-real}"
    convert_models "$build/ember" "$shared" "$build/models"
    checks "$build/ember" "$build" "$shared" "$build/plugins"
    exit $?
    ;;
pack)
    if [ -n "${PACK_FROM:-}" ]; then  # assemble from an existing build tree instead
        build=$(cd "$PACK_FROM" && pwd)
        [ -f "$build/plugins/libember-cuda.so" ] || { echo "FAIL: no cuda plugin in $build"; exit 1; }
    else
        build_tree "${EMBER_CUDA_ARCHS:-90-real}"
    fi
    stamp "assemble $pack"
    rm -rf "$pack"
    mkdir -p "$pack/bin" "$pack/lib" "$pack/plugins/cuda" "$pack/tests" "$pack/deps"
    cp "$build/ember" "$pack/bin/"
    cp -L "$build/libember.so.0" "$pack/lib/"
    cp "$build/plugins/libember-cuda.so" "$pack/plugins/"
    cp "$build/plugins/cuda/libember-cuda-impl.so" "$pack/plugins/cuda/"
    cp "$build/tests/test_models" "$pack/tests/"
    strip --strip-debug "$pack/bin/ember" "$pack/lib/libember.so.0" "$pack/tests/test_models" \
        "$pack/plugins/libember-cuda.so" "$pack/plugins/cuda/libember-cuda-impl.so"
    # Libraries outside glibc / libstdc++ / CUDA that the binaries need (protobuf, onnx, stb, cmocka).
    for f in "$pack/bin/ember" "$pack/lib/libember.so.0" "$pack/tests/test_models"; do
        ldd "$f" | awk '/=> \//{print $3}'
    done | sort -u | grep -vE "/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux|libz|libember)[.-]" |
        while read -r lib; do cp -L "$lib" "$pack/deps/"; done
    echo "$build" > "$pack/build_dir.txt"  # test_models looks for $build/models (compiled in)
    (cd "$shared/.." && tar czf "$pack/shared.tar.gz" "$(basename "$shared")/conformance" \
        "$(basename "$shared")/models/onnx" "$(basename "$shared")/models/ref")
    du -sh "$pack"
    echo "carry build-gpu/pack and run: bash tools/cuda_check.sh --run-pack"
    ;;
run-pack)
    [ -f "$pack/bin/ember" ] || { echo "FAIL: no pack at $pack (bash tools/cuda_check.sh --pack first)"; exit 1; }
    stamp "unpack"
    rm -rf "$pack/shared-x" && mkdir -p "$pack/shared-x" && tar xzf "$pack/shared.tar.gz" -C "$pack/shared-x"
    psh=$(ls -d "$pack"/shared-x/*)
    libs="$pack/lib:$pack/deps:$cuda/lib64:$cuda/lib"
    extra=$(pip_cuda_libs)
    [ -n "$extra" ] && libs="$libs:$extra"
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    bdir=$(cat "$pack/build_dir.txt")
    mkdir -p "$bdir/tests" || { echo "FAIL: cannot create $bdir"; exit 1; }
    [ "$bdir/tests/test_models" -ef "$pack/tests/test_models" ] || cp "$pack/tests/test_models" "$bdir/tests/"
    convert_models "$pack/bin/ember" "$psh" "$bdir/models"
    checks "$pack/bin/ember" "$bdir" "$psh" "$pack/plugins"
    exit $?
    ;;
esac
