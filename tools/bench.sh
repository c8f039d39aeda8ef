#!/usr/bin/env bash
# Latency of every model in ../shared/models with Ember's built-in CPU kernels, side by
# side with ONNX Runtime (npm onnxruntime-node) in the same run, at 1 and 2 threads.
# Prints a table with the ratio ORT/Ember (> 1: Ember is faster). Figures, not a test.
# When the oneDNN plugin builds (plugins/onednn), also Ember with it first: ember_onednn_ms.
#   bash tools/bench.sh [SECONDS_PER_POINT]
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${EMBER_SHARED_DIR:-$(pwd)/../shared}
secs=${1:-2}
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ember_cli >/dev/null
cmake --build build -j"$(nproc)" --target ember-onednn >/dev/null 2>&1 || true
dnn=build/plugins/libember-onednn.so
ortdir=build/ort
if [ ! -d "$ortdir/node_modules/onnxruntime-node" ]; then
  mkdir -p "$ortdir"
  (cd "$ortdir" && npm install --silent --no-audit --no-fund --ignore-scripts onnxruntime-node >/dev/null)
fi
mkdir -p build/models
printf '%-28s %3s %5s %12s %12s %8s %10s %15s %11s\n' model thr batch ember_ms ort_ms ort/ember load_ms ember_onednn_ms ort/onednn
for m in squeezenet1.1-caffe2-fp32 mnist-8 winml-cifar10-tutorial super-resolution-10 squeezenet1.1-caffe2-fp16; do
  build/ember convert "$shared/models/onnx/$m.onnx" -o "build/models/$m.ember" >/dev/null
  for t in 1 2; do
    e=$(build/ember bench "build/models/$m.ember" --backend cpu --threads $t --batch 1 --seconds "$secs" --json)
    d='{}'
    if [ -f "$dnn" ]; then
      d=$(EMBER_PLUGIN_PATH=build/plugins build/ember bench "build/models/$m.ember" --backend onednn,cpu --threads $t --batch 1 --seconds "$secs" --json || echo '{}')
    fi
    o=$(NODE_PATH=$ortdir/node_modules node tools/bench/ort_bench.js "$shared/models/onnx/$m.onnx" $t 1 "$secs" 2>/dev/null || echo '{}')
    python3 - "$e" "$o" "$d" <<'PY'
import json, sys
e = json.loads(sys.argv[1]); o = json.loads(sys.argv[2]) if sys.argv[2] != '{}' else {}
om = o.get('median_ms')
ratio = f"{om / e['median_ms']:.2f}" if om else 'n/a'
dm = json.loads(sys.argv[3]).get('median_ms')
dratio = f"{om / dm:.2f}" if om and dm else 'n/a'
print(f"{e['model'][:-6]:<28} {e['threads']:>3} {e['batch']:>5} {e['median_ms']:>12.3f} {om if om else float('nan'):>12.3f} {ratio:>8} {e['load_ms']:>10.3f} {dm if dm else float('nan'):>15.3f} {dratio:>11}")
PY
  done
done
