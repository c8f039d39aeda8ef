#!/usr/bin/env bash
# The main job: build Ember, convert SqueezeNet 1.1 (fp32, from ../shared/models) with its
# ImageNet labels and the caffe preprocessing stored in the model, and classify real
# photos with the ember-classify sample, which decodes and preprocesses them inside the
# runtime (no Python, no PIL):
#   - the 46 labelled photos in ../shared/models/images/imagenet: top-1 checked against
#     images/imagenet_labels.tsv (the label or an accepted alternate) and against ONNX
#     Runtime's top-1 on the PIL-preprocessed references (ref/*.tsv);
#   - the photos Debian's darknet package ships (dog, eagle, giraffe, horses, person...),
#     fetched with `apt-get download darknet` and unpacked with `dpkg -x` into
#     build/darknet (darknet itself and its OpenCV dependencies are not installed);
# then checks every model against ONNX Runtime's reference outputs (ctest test_models).
#   bash tools/demo.sh [MODEL.onnx]   another ImageNet classifier: converted with the same
#                                     labels and preset (EMBER_DEMO_PRESET, default caffe)
# EMBER_SHARED_DIR (default ../shared) and EMBER_DEMO_BUILD (default build) move the data
# and the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${EMBER_SHARED_DIR:-$root/../shared}
build=${EMBER_DEMO_BUILD:-build}
preset=${EMBER_DEMO_PRESET:-caffe}
bash tools/deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target ember_cli ember ember_classify
ember=$build/ember
classify=$build/ember-classify
mkdir -p "$build/models"

default_onnx=$shared/models/onnx/squeezenet1.1-caffe2-fp32.onnx
onnx=${1:-$default_onnx}
model=$build/models/demo-classifier.ember
echo
echo "== Convert $(basename "$onnx") with ImageNet labels and --preset $preset =="
$ember convert "$onnx" -o "$model" --labels "$shared/models/labels/imagenet_synset.txt" \
  --preset "$preset"

# The darknet package's sample photos, without installing darknet or OpenCV.
darknet_dir=$build/darknet
darknet_photos=()
if [ ! -d "$darknet_dir/usr/share/darknet/data" ]; then
  mkdir -p "$darknet_dir"
  if (cd "$darknet_dir" && apt-get download darknet >/dev/null 2>&1) &&
     dpkg -x "$darknet_dir"/darknet_*.deb "$darknet_dir"; then
    :
  else
    echo "note: 'apt-get download darknet' failed (no apt lists or no network?);" \
         "classifying the shared photos only"
  fi
fi
for f in "$darknet_dir"/usr/share/darknet/data/*.jpg; do
  [ -f "$f" ] && darknet_photos+=("$f")
done

echo
echo "== ember-classify: photos decoded, preprocessed and classified by Ember =="
json=$build/demo-classify.jsonl
"$classify" "$model" "$shared"/models/images/imagenet/* "${darknet_photos[@]}" --top 1 --json > "$json"
ort_ref=""
[ "$onnx" = "$default_onnx" ] && ort_ref=$shared/models/ref/squeezenet1.1-caffe2-fp32.tsv
awk -v labels="$shared/models/images/imagenet_labels.tsv" -v refs="$ort_ref" '
function str(s, key,    i, v) {  # a string field of a one-line JSON object
    i = index(s, "\"" key "\":\""); if (!i) return ""
    v = substr(s, i + length(key) + 4); sub(/".*/, "", v); return v
}
function num(s, key,    i, v) {  # a number field
    i = index(s, "\"" key "\":"); if (!i) return ""
    v = substr(s, i + length(key) + 3); sub(/[,}\]].*/, "", v); return v + 0
}
function median(a, n,    i, j, t, b) {
    for (i = 1; i <= n; i++) b[i] = a[i]
    for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
    return n ? b[int((n + 1) / 2)] : 0
}
BEGIN {
    FS = "\t"
    while ((getline line < labels) > 0) {
        split(line, c, "\t")
        if (c[1] != "file") want[c[1]] = "," c[2] "," c[3] ","
    }
    if (refs != "")
        while ((getline line < refs) > 0) {
            split(line, c, "\t")
            if (c[5] == "softmaxout_1" && c[2] ~ /caffe_bgr_mean/) { split(c[9], t, ","); ort[c[1]] = t[1] }
        }
}
{
    image = str($0, "image"); n = split(image, parts, "/"); file = parts[n]
    top = num($0, "index")
    label = str($0, "label"); sub(/^n[0-9]+ /, "", label); sub(/,.*/, "", label)
    score = num($0, "score")
    pre[NR] = num($0, "preprocess_ms"); dec[NR] = num($0, "decode_ms"); inf[NR] = num($0, "infer_ms")
    if (file in want) {
        total++
        ok = index(want[file], "," top ",") > 0
        right += ok
        base = file; sub(/\.[a-z]+$/, "", base)
        note = ok ? "ok" : "MISS"
        if (refs != "") {
            same = ort[base] == top; agree += same
            if (!same) note = note "  (ONNX Runtime: " ort[base] ")"
        }
        printf "  %-36s -> %-30s %5.1f%%  %s\n", file, substr(label, 1, 30), 100 * score, note
    } else {
        printf "  %-36s -> %-30s %5.1f%%  (darknet photo)\n", file, substr(label, 1, 30), 100 * score
        dark++
    }
}
END {
    printf "\nlabelled photos: %d of %d right (%.1f%%, counting accepted alternates)", right, total, total ? 100 * right / total : 0
    if (refs != "") printf "; ONNX Runtime with PIL preprocessing: 32 of 46 (33 with alternates); same top-1 as ONNX Runtime on %d of %d", agree, total
    printf "\n"
    if (dark) printf "darknet photos: %d classified\n", dark
    printf "median per photo: decode %.2f ms, preprocess %.2f ms, inference %.2f ms\n", median(dec, NR), median(pre, NR), median(inf, NR)
}' "$json"

if [ "$onnx" != "$default_onnx" ]; then exit 0; fi

echo
echo "== Every model against its ONNX Runtime reference outputs (ctest test_models) =="
cmake --build "$build" -j"$(nproc)" --target test_models >/dev/null
ctest --test-dir "$build" -R 'convert_models|test_models' --output-on-failure | tail -n 4
