#!/bin/sh
# test_cuda.sh EMBER BUILD_DIR SHARED_DIR PLUGIN — the CUDA plugin under CTest.
#
# Always (a machine without a GPU included):
#   - `ember plugins` lists the cuda plugin, loaded or refused with a reason that names
#     what is missing (driver, device, CUDA libraries) — never silently absent;
#   - with the plugin in EMBER_PLUGIN_PATH, every shared model still runs ("auto"
#     backends: the built-in CPU kernels take what a refused plugin would have run).
# Without a driver or device: prints why and exits 77 (CTest's SKIP_RETURN_CODE).
# With a device:
#   - `ember plugin-check` on the tier-1 conformance cases through the plugin;
#   - the shared models against the ONNX Runtime references (test_models) on cuda,cpu;
#   - fp16 against fp32 (EMBER_CUDA_PRECISION) on SqueezeNet and super-resolution:
#     max |fp16 - fp32| <= 2e-2 * max|fp32| + 1e-3 and the same top-1 for the classifier.
set -eu
EMBER=$1
BUILD=$2
SHARED=$3
PLUGIN=$4
MODELS="$BUILD/models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; exit 1; }

plugin_dir=$(dirname "$PLUGIN")
EMBER_PLUGIN_PATH="$plugin_dir" "$EMBER" plugins > "$tmp/plugins.txt" 2>&1 || fail "ember plugins failed: $(cat "$tmp/plugins.txt")"
cat "$tmp/plugins.txt"
line=$(grep -E "^  cuda +(loaded|refused)" "$tmp/plugins.txt" || true)
[ -n "$line" ] || fail "ember plugins does not list the cuda plugin"

# Models run with the plugin present, whatever its state.
for m in squeezenet1.1-caffe2-fp32 mnist-8 winml-cifar10-tutorial super-resolution-10; do
    [ -f "$MODELS/$m.ember" ] || fail "$MODELS/$m.ember missing (the convert_models fixture)"
    EMBER_PLUGIN_PATH="$plugin_dir" "$EMBER" bench "$MODELS/$m.ember" --runs 1 > "$tmp/bench.txt" 2>&1 ||
        fail "$m does not run with the cuda plugin present: $(cat "$tmp/bench.txt")"
done
echo "models run with the cuda plugin present: ok"

case "$line" in
*refused*)
    reason=${line#*: }
    case "$reason" in
    *"cuda: "*) ;;
    *) fail "refusal without the plugin's reason: $line" ;;
    esac
    echo "no CUDA driver/device: skipped ($reason)"
    exit 77
    ;;
esac

# ---- a device is here ----
"$EMBER" plugin-check "$PLUGIN" "$SHARED/conformance" > "$tmp/check.txt" 2>&1 || {
    tail -40 "$tmp/check.txt"
    fail "plugin-check"
}
tail -3 "$tmp/check.txt"

TEST_MODELS="$BUILD/tests/test_models"
EMBER_PLUGIN_PATH="$plugin_dir" EMBER_TEST_BACKENDS=cuda,cpu EMBER_SHARED_DIR="$SHARED" "$TEST_MODELS" ||
    fail "test_models on cuda,cpu (fp32)"
echo "test_models on cuda,cpu: ok"

# fp16 against fp32 on the same input.
compare() {  # compare A.npy B.npy top1(0|1)
    python3 - "$1" "$2" "$3" <<'EOF'
import struct, sys
def load(p):
    b = open(p, 'rb').read()
    hl = struct.unpack('<H', b[8:10])[0]
    h = b[10:10 + hl].decode()
    assert "'descr': '<f4'" in h, h
    d = b[10 + hl:]
    return struct.unpack('<%df' % (len(d) // 4), d)
a, b = load(sys.argv[1]), load(sys.argv[2])
r = max(abs(x) for x in a)
worst = max(abs(x - y) for x, y in zip(a, b))
tol = 2e-2 * r + 1e-3
top = (max(range(len(a)), key=a.__getitem__), max(range(len(b)), key=b.__getitem__))
print('fp16 vs fp32: max |diff| %.3g (tolerance %.3g), top-1 %d / %d' % (worst, tol, top[1], top[0]))
sys.exit(0 if worst <= tol and (sys.argv[3] == '0' or top[0] == top[1]) else 1)
EOF
}
run_prec() {  # run_prec PRECISION MODEL INPUT OUTDIR
    mkdir -p "$4"
    EMBER_PLUGIN_PATH="$plugin_dir" EMBER_CUDA_PRECISION=$1 "$EMBER" run "$MODELS/$2.ember" -i "$3" -o "$4" \
        --backend cuda,cpu > "$4.log" 2>&1 || fail "ember run $2 ($1): $(cat "$4.log")"
}
for case in "squeezenet1.1-caffe2-fp32 $SHARED/models/ref/inputs/caffe_bgr_mean/in000_tench.bin 1" \
            "super-resolution-10 $(ls "$SHARED"/models/ref/inputs/superres_y_1x1x224x224/*.bin | head -1) 0"; do
    set -- $case
    run_prec fp32 "$1" "$2" "$tmp/$1-fp32"
    run_prec fp16 "$1" "$2" "$tmp/$1-fp16"
    for f in "$tmp/$1-fp32"/*.npy; do
        compare "$f" "$tmp/$1-fp16/$(basename "$f")" "$3" || fail "$1: fp16 differs from fp32"
    done
done
echo "test_cuda: all passed on $(grep -A1 '^  cuda' "$tmp/plugins.txt" | sed -n 2p)"
