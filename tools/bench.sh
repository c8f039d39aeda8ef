#!/usr/bin/env bash
# Ember against ONNX Runtime (npm onnxruntime-node), side by side in one run: every model
# in ../shared/models plus four generated ones (ResNet-50, MobileNetV2, a transformer
# encoder block, the MNIST MLP), at batch 1 and 8, 1 and 2 threads, as Ember with the
# oneDNN plugin (`--backend onednn,cpu`), ONNX Runtime and Ember's built-in kernels
# (`--backend cpu`), alternating. Prints a Markdown table: median ms, the ratios
# oneDNN/ORT and built-in/ORT (< 1: Ember is faster), CPU time per run of each (stable
# on a shared machine, where wall time is not), and the oneDNN plugin's GFLOP/s per
# CPU-second and its share of the machine's sgemm peak (a 1024^3 MatMul through the
# plugin on one thread), measured in the same run. Figures, not a test; method and
# results in docs/plugin-onednn.md, "Performance".
#   bash tools/bench.sh [--quick] [SECONDS_PER_POINT [ROUNDS]]
#     --quick: batch 1, 1 thread, one round of 0.5 s per point
#   EMBER_BUILD_DIR (default build): the build folder used and the scratch folder's parent
#   EMBER_BENCH_MODELS: a space-separated subset of the model names
#   EMBER_BENCH_NO_BUILD=1: time the binaries already in the build folder
# Installs what it needs when missing: python3-torch, python3-torchvision, python3-onnx
# (Debian, for /usr/bin/python3) and onnxruntime-node (npm, into BUILD/ort).
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${EMBER_SHARED_DIR:-$(pwd)/../shared}
build=${EMBER_BUILD_DIR:-build}
quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
secs=${1:-1}
reps=${2:-3}
threads=1,2
batches=1,8
if [ $quick = 1 ]; then secs=${1:-0.5}; reps=1; threads=1; batches=1; fi
py=/usr/bin/python3   # Debian's: the packages below are installed for it

if [ -z "${EMBER_BENCH_NO_BUILD:-}" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ember_cli >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ember-onednn >/dev/null 2>&1 || true
fi

if ! $py -c 'import torch, torchvision, onnx' 2>/dev/null; then
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -q python3-torch python3-torchvision python3-onnx >/dev/null
fi
ortdir=$build/ort
if [ ! -d "$ortdir/node_modules/onnxruntime-node" ]; then
  mkdir -p "$ortdir"
  (cd "$ortdir" && npm install --silent --no-audit --no-fund --ignore-scripts onnxruntime-node >/dev/null)
fi

scratch=$build/bench-models   # generated and converted models: never committed
mkdir -p "$scratch"
$py tools/bench/make_models.py "$scratch"
models=()
flops=()
add() {  # NAME ONNX: converts, counts FLOPs per batch
  local name=$1 onnx=$2
  if [ -n "${EMBER_BENCH_MODELS:-}" ] && [[ " $EMBER_BENCH_MODELS " != *" $name "* ]]; then return; fi
  if [ ! -f "$scratch/$name.ember" ] || [ "$onnx" -nt "$scratch/$name.ember" ] || [ "$build/ember" -nt "$scratch/$name.ember" ]; then
    "$build/ember" convert "$onnx" -o "$scratch/$name.ember" >/dev/null
  fi
  for b in ${batches//,/ }; do
    flops+=(--flops "$name:$b:$($py tools/bench/onnx_tool.py flops "$onnx" "$b")")
  done
  models+=("$name=$onnx=$scratch/$name.ember")
}
for m in squeezenet1.1-caffe2-fp32 squeezenet1.1-caffe2-fp16 super-resolution-10 mnist-8 winml-cifar10-tutorial; do
  # Exported for batch 1: a copy with a symbolic batch axis (tools/bench/onnx_tool.py).
  [ "$shared/models/onnx/$m.onnx" -nt "$scratch/$m.onnx" ] && $py tools/bench/onnx_tool.py dynbatch "$shared/models/onnx/$m.onnx" "$scratch/$m.onnx"
  add "$m" "$scratch/$m.onnx"
done
for m in resnet50 mobilenetv2 transformer mlp; do add "$m" "$scratch/$m.onnx"; done
"$build/ember" convert "$scratch/sgemm.onnx" -o "$scratch/sgemm.ember" >/dev/null

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$secs s per point, $reps round(s)"
$py tools/bench/table.py --build "$build" --ort "$ortdir/node_modules" --secs "$secs" --reps "$reps" \
    --threads "$threads" --batches "$batches" --peak "$scratch/sgemm.onnx=$scratch/sgemm.ember" \
    --json "$scratch/last.jsonl" "${flops[@]}" "${models[@]}"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
