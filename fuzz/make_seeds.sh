#!/usr/bin/env bash
# make_seeds.sh — builds the fuzz targets' seed corpora from the real files in ../shared
# (nothing from there is committed here). Run by the fuzz_seeds build target:
#   make_seeds.sh EMBER_CLI NPY_SEED_TOOL IMAGE_SEED_TOOL SHARED_DIR OUT_DIR
# OUT_DIR/ember_file   .ember files: mnist-8 and winml-cifar10 (mnist also with labels and
#                      a preprocessing spec) and every 16th conformance node case, converted
# OUT_DIR/onnx_import  ~200 conformance model.onnx files (every 4th node case, every 8th
#                      of the other suites) and the real models under 1 MB
# OUT_DIR/npy          what NPY_SEED_TOOL writes, plus conformance tensors as
#                      "sidecar JSON, NUL, bytes"
# OUT_DIR/image        what IMAGE_SEED_TOOL writes from a few photos (tiny JPEG, PNG,
#                      BMP, TGA, PNM, GIF), the MNIST PNGs and two photos as they are
# OUT_DIR/gguf         stories260K-f32.gguf and the vocabulary-only Llama SPM GGUF as
#                      they are, and tiny GGUFs rewritten from the first (make_lm_seeds.py)
# OUT_DIR/llama2c      "uint32 length, checkpoint, tokenizer.bin": tiny random checkpoints
#                      (ember make-random-llama) with the real 512-token vocabularies, one
#                      without a tokenizer, and stories260K.bin + tok512.bin
# Big files are left out on purpose: libFuzzer mutates whole inputs, and a 5 MB seed
# slows every iteration of its target.
set -euo pipefail
cli=$1 npy_tool=$2 image_tool=$3 shared=$4 out=$5
conf=$shared/conformance
models=$shared/models
rm -rf "$out"
mkdir -p "$out/ember_file" "$out/onnx_import" "$out/npy" "$out/image" "$out/gguf" "$out/llama2c"
here=$(cd "$(dirname "$0")" && pwd)

small() { [ "$(stat -c %s "$1")" -le 1048576 ]; }

# ---- onnx_import ----
i=0
for d in $(ls -d "$conf"/node/*/ | sort); do
  if [ $((i % 4)) -eq 0 ] && [ -f "$d/model.onnx" ]; then
    cp "$d/model.onnx" "$out/onnx_import/node_$(basename "$d").onnx"
  fi
  i=$((i + 1))
done
for suite in simple pytorch-converted pytorch-operator; do
  i=0
  for d in $(ls -d "$conf/$suite"/*/ 2>/dev/null | sort); do
    if [ $((i % 8)) -eq 0 ] && [ -f "$d/model.onnx" ]; then
      cp "$d/model.onnx" "$out/onnx_import/${suite}_$(basename "$d").onnx"
    fi
    i=$((i + 1))
  done
done
for f in "$models"/onnx/*.onnx; do
  small "$f" && cp "$f" "$out/onnx_import/model_$(basename "$f")"
done

# ---- ember_file: converted by the ember tool of this build ----
# Only the two small classifiers: every input of this target is also run, and a model that
# computes on 224x224 images (super-resolution) would slow each iteration a hundredfold.
for m in mnist-8 winml-cifar10-tutorial; do
  "$cli" convert "$models/onnx/$m.onnx" -o "$out/ember_file/$m.ember" >/dev/null 2>&1 || true
done
"$cli" convert "$models/onnx/mnist-8.onnx" -o "$out/ember_file/mnist-8-labels.ember" \
  --labels "$models/labels/mnist_labels.txt" --preprocess mnist >/dev/null 2>&1 || true
i=0
for d in $(ls -d "$conf"/node/*/ | sort); do
  if [ $((i % 16)) -eq 0 ] && [ -f "$d/model.onnx" ]; then
    "$cli" convert "$d/model.onnx" -o "$out/ember_file/node_$(basename "$d").ember" \
      >/dev/null 2>&1 || true
  fi
  i=$((i + 1))
done

# ---- npy ----
"$npy_tool" "$out/npy" >/dev/null
i=0
for j in $(ls "$conf"/node/*/inputs/0.json | sort); do
  if [ $((i % 40)) -eq 0 ]; then
    b=${j%.json}.bin
    name=$(basename "$(dirname "$(dirname "$j")")")
    if small "$b"; then
      { cat "$j"; printf '\0'; cat "$b"; } > "$out/npy/raw_$name.bin"
    fi
  fi
  i=$((i + 1))
done

# ---- image: small re-encodings of a few photos in every format, the MNIST PNGs, and two
# photos as they are (real encoder output: progressive scans, EXIF and the like) ----
photos=$(ls "$models"/images/imagenet/*.jpg | sort | awk 'NR % 12 == 1')
"$image_tool" "$out/image" $photos "$(ls "$models"/images/mnist/*.png | sort | head -1)" >/dev/null
for f in "$models"/images/mnist/*.png; do cp "$f" "$out/image/"; done
for f in $(printf '%s\n' $photos | head -2); do cp "$f" "$out/image/"; done

# ---- gguf, llama2c: the language-model converters' inputs ----
lm=$models/lm
cp "$lm/stories260K-f32.gguf" "$out/gguf/stories260K-f32.gguf"
cp "$lm/ggml-vocab-llama-spm.gguf" "$out/gguf/vocab-llama-spm.gguf"
python3 "$here/make_lm_seeds.py" "$lm/stories260K-f32.gguf" "$out/gguf"
# llama2c input: uint32 little-endian checkpoint length, checkpoint, tokenizer.bin
pack() {  # pack CHECKPOINT TOKENIZER|"" OUT
  python3 -c 'import struct, sys; c = open(sys.argv[1], "rb").read()
t = open(sys.argv[2], "rb").read() if sys.argv[2] else b""
open(sys.argv[3], "wb").write(struct.pack("<I", len(c)) + c + t)' "$1" "$2" "$3"
}
tmp=$(mktemp -d)
"$cli" make-random-llama -o "$tmp/tied.bin" --dim 8 --hidden 16 --layers 1 --heads 2 \
  --kv-heads 1 --vocab 512 --seq-len 16 >/dev/null
"$cli" make-random-llama -o "$tmp/untied.bin" --dim 8 --hidden 16 --layers 2 --heads 2 \
  --kv-heads 2 --vocab 512 --seq-len 16 --untied --seed 7 >/dev/null
pack "$tmp/tied.bin" "$lm/tok512.bin" "$out/llama2c/tiny_tied_tok512.bin"
pack "$tmp/untied.bin" "$lm/aidreams-tok512.bin" "$out/llama2c/tiny_untied_aidreams_tok.bin"
pack "$tmp/tied.bin" "" "$out/llama2c/tiny_tied_no_tokenizer.bin"
pack "$lm/stories260K.bin" "$lm/tok512.bin" "$out/llama2c/stories260K_tok512.bin"
rm -rf "$tmp"

for t in ember_file onnx_import npy image gguf llama2c; do
  printf '%s: %s seeds\n' "$t" "$(ls "$out/$t" | wc -l)"
done
