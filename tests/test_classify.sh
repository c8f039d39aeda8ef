#!/bin/sh
# test_classify.sh EMBER_CLASSIFY MODEL.ember SHARED_MODELS_DIR — the classify sample end
# to end (CTest test_classify): every labelled photo in images/imagenet through
# `ember-classify --json --batch 4`, top-1 compared with images/imagenet_labels.tsv (the
# label or one of also_ok_indices) and with ONNX Runtime's top-1 in
# ref/squeezenet1.1-caffe2-fp32.tsv. ONNX Runtime, on inputs preprocessed by PIL, is right
# on 32 of the 46 photos (the MANIFEST). Ember, decoding and preprocessing itself from the
# JPEG (stb_image, where ONNX Runtime's inputs came from PIL/libjpeg), must give ONNX
# Runtime's top-1 on every photo and the same top-5 set.
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
        ort5[c[1]] = "," c[9] ","
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
    # our five indices, in order
    rest = $0; same5 = 1
    for (k = 0; k < 5; k++) {
        at = index(rest, "\"index\":")
        if (at == 0) { same5 = 0; break }
        rest = substr(rest, at + 8)
        idx = rest; sub(/[^0-9].*/, "", idx)
        if (index(ort5[base], "," idx ",") == 0) same5 = 0
    }
    agree5 += same5
    printf "  %-36s top-1 %4d  %s%s\n", file, top, ok ? "ok" : "MISS", ort[base] == top ? "" : "  (ONNX Runtime: " ort[base] ")"
}
END {
    printf "right on %d of %d photos (ONNX Runtime: 32 of 46); top-1 agrees with ONNX Runtime on %d, top-5 set on %d\n", right, total, agree, agree5
    if (total != 46) { print "FAIL: expected 46 labelled photos"; exit 1 }
    if (right < 32) { print "FAIL: fewer than 32 right"; exit 1 }
    if (agree != total) { print "FAIL: top-1 differs from ONNX Runtime on some photo"; exit 1 }
    if (agree5 != total) { print "FAIL: top-5 set differs from ONNX Runtime on some photo"; exit 1 }
}' "$out"
