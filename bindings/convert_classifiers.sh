#!/usr/bin/env bash
# CTest fixture bindings_classifiers: converts SqueezeNet 1.1 and MNIST with their labels
# and preprocessing specs, for the bindings' image-classification tests:
#   BUILD_DIR/models/squeezenet-labelled.ember   (--preset caffe, ImageNet labels)
#   BUILD_DIR/models/mnist-labelled.ember        (--preset mnist, digit labels)
# Skipped (nothing converted, the tests skip too) while libember.so has no image API.
#   convert_classifiers.sh EMBER_TOOL LIBEMBER_PATH BUILD_DIR SHARED_DIR
set -euo pipefail
tool=$1 lib=$2 build=$3 shared=$4/models
if ! nm -D --defined-only "$lib" | grep -c ' ember_image_load_file' >/dev/null; then
  echo "libember.so has no image functions yet: no labelled models converted"
  exit 0
fi
mkdir -p "$build/models"
"$tool" convert "$shared/onnx/squeezenet1.1-caffe2-fp32.onnx" -o "$build/models/squeezenet-labelled.ember" \
  --preset caffe --labels "$shared/labels/imagenet_synset.txt"
"$tool" convert "$shared/onnx/mnist-8.onnx" -o "$build/models/mnist-labelled.ember" \
  --preset mnist --labels "$shared/labels/mnist_labels.txt"
