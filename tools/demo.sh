#!/usr/bin/env bash
# The main job: build Ember, convert the real models in ../shared/models to .ember, and
# run them through the C API on their reference inputs (preprocessed photos), printing
# what each photo was classified as and how many agree with ONNX Runtime.
#   bash tools/demo.sh [MODEL.onnx]    (default: SqueezeNet 1.1 and the other models)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${EMBER_SHARED_DIR:-$root/../shared}
bash tools/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ember_cli ember
ember=build/ember
out=build/models
mkdir -p "$out"

if [ $# -gt 0 ]; then
  $ember convert "$1" -o "$out/custom.ember"
  $ember info "$out/custom.ember"
  exit 0
fi

$ember convert "$shared/models/onnx/squeezenet1.1-caffe2-fp32.onnx" -o "$out/squeezenet.ember" \
  --labels "$shared/models/labels/imagenet_synset.txt" --preprocess caffe
for m in mnist-8 winml-cifar10-tutorial super-resolution-10 squeezenet1.1-caffe2-fp16; do
  $ember convert "$shared/models/onnx/$m.onnx" -o "$out/$m.ember"
done

echo
echo "== SqueezeNet 1.1 on the labelled photos (inputs preprocessed as the MANIFEST says) =="
agree=0; total=0; right=0
while IFS=$'\t' read -r case input_bin dtype shape out_name out_bin out_shape label top5; do
  [ "$case" = case ] && continue
  [ "$out_name" = softmaxout_1 ] || continue
  case $input_bin in *caffe_bgr_mean*) ;; *) continue ;; esac
  line=$($ember run "$out/squeezenet.ember" -i "$shared/models/$input_bin" --top 1 | sed -n 2p)
  idx=$(echo "$line" | awk '{print $1}')
  score=$(echo "$line" | awk '{print $2}')
  name=$(echo "$line" | cut -c22- | cut -d, -f1)
  ref_top1=${top5%%,*}
  total=$((total + 1))
  [ "$idx" = "$ref_top1" ] && agree=$((agree + 1))
  [ "$idx" = "$label" ] && right=$((right + 1))
  printf '  %-40s -> %-28s %.3f  (label %s)\n' "$case" "$name" "$score" "$label"
done < "$shared/models/ref/squeezenet1.1-caffe2-fp32.tsv"
echo "top-1 agrees with ONNX Runtime on $agree of $total photos; correct on $right"

echo
echo "== Every model against its ONNX Runtime reference outputs (ctest test_models) =="
cmake --build build -j"$(nproc)" --target test_models >/dev/null
ctest --test-dir build -R 'convert_models|test_models' --output-on-failure | tail -n 4
