#!/bin/sh
# test_classify.sh EMBER_CLASSIFY MODEL.ember SHARED_MODELS_DIR — the classify sample end
# to end (CTest test_classify): every labelled photo in images/imagenet through
# `ember-classify --json --batch 4`, top-1 compared with images/imagenet_labels.tsv (the
# label or one of also_ok_indices) and with ONNX Runtime's top-1 in
# ref/squeezenet1.1-caffe2-fp32.tsv. ONNX Runtime, on inputs preprocessed by PIL, is right
# on 32 of the 46 photos (the MANIFEST); Ember, decoding and preprocessing itself, must
# be right on at least 30 (a photo whose top two classes are close may flip when the
# JPEG decoders differ by a level) and agree with ONNX Runtime on at least 40.
set -eu
classify=$1
model=$2
shared=$3
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$classify" "$model" "$shared"/images/imagenet/* --top 5 --json --batch 4 > "$out"

awk -F'\t' -v labels="$shared/images/imagenet_labels.tsv" \
    -v refs="$shared/ref/squeezenet1.1-caffe2-fp32.tsv" '
BEGIN {
    while ((getline line < labels) > 0) {
        split(line, c, "\t")
        if (c[1] == "file") continue
        want[c[1]] = "," c[2] "," c[3] ","
    }
    while ((getline line < refs) > 0) {
        split(line, c, "\t")
        if (c[5] != "softmaxout_1" || c[2] !~ /caffe_bgr_mean/) continue
        split(c[9], t, ",")
        ort[c[1]] = t[1]
    }
}
{
    # {"image":"/path/in000_tench.jpg","top":[{"index":0,"label":...
    image = $0; sub(/^\{"image":"/, "", image); sub(/".*/, "", image)
    n = split(image, parts, "/"); file = parts[n]
    top = $0; sub(/^[^[]*\[\{"index":/, "", top); sub(/[^0-9].*/, "", top)
    if (!(file in want)) next
    total++
    ok = index(want[file], "," top ",") > 0
    right += ok
    base = file; sub(/\.[a-z]+$/, "", base)
    agree += (ort[base] == top)
    printf "  %-36s top-1 %4d  %s%s\n", file, top, ok ? "ok" : "MISS", ort[base] == top ? "" : "  (ONNX Runtime: " ort[base] ")"
}
END {
    printf "right on %d of %d photos (ONNX Runtime: 32 of 46); top-1 agrees with ONNX Runtime on %d\n", right, total, agree
    if (total != 46) { print "FAIL: expected 46 labelled photos"; exit 1 }
    if (right < 30) { print "FAIL: fewer than 30 right"; exit 1 }
    if (agree < 40) { print "FAIL: top-1 agrees with ONNX Runtime on fewer than 40"; exit 1 }
}' "$out"
