// cuda_ops.h — what the CUDA plugin accepts, node by node: an ember_plugin_node read into
// the parameters of one step (a cuBLASLt matmul, a cuDNN convolution, one of the plugin's
// kernels, or a view). supports() and compile() share these functions, so the plugin
// never claims a node that compile() would read differently.
//
// Every parse_* returns false for anything not handled exactly: an unknown attribute, a
// value outside what the step computes, a non-float32 activation (constants may be
// float32 or float16), an empty tensor, rank above 6. The session then gives the node
// to the next backend (in the end the built-in CPU kernels).
#ifndef EMBER_PLUGINS_CUDA_OPS_H
#define EMBER_PLUGINS_CUDA_OPS_H

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "cuda_kernels.h"
#include "ember_plugin.h"

namespace ember_cuda {

using Dims = std::vector<int64_t>;

// Read-only view of a node, with ONNX attribute defaults.
class NodeView {
public:
    explicit NodeView(const ember_plugin_node *n) : n_(n) {}
    const ember_plugin_node &node() const { return *n_; }
    bool is(const char *op) const;
    size_t n_inputs() const { return n_->n_inputs; }
    size_t n_outputs() const { return n_->n_outputs; }
    size_t n_attrs() const { return n_->n_attrs; }
    bool has_input(size_t i) const;
    bool has_output(size_t i) const;
    const ember_plugin_value &in(size_t i) const { return n_->inputs[i]; }
    const ember_plugin_value &out(size_t i) const { return n_->outputs[i]; }
    Dims in_dims(size_t i) const;
    Dims out_dims(size_t i) const;

    const ember_plugin_attr *attr(const char *name) const;
    bool only_attrs(std::initializer_list<const char *> names) const;
    // Typed reads with a default; false when the attribute has another type.
    bool get_int(const char *name, int64_t def, int64_t *out) const;
    bool get_float(const char *name, float def, float *out) const;
    bool get_string(const char *name, const char *def, std::string *out) const;
    bool get_ints(const char *name, const Dims &def, Dims *out) const;

private:
    const ember_plugin_node *n_;
};

int64_t numel(const Dims &d);
// A float32 activation (or, for constants, float32 / float16) of rank 0..6 (0 only with
// allow_scalar) with no zero dimension.
bool is_float_tensor(const ember_plugin_value &v, bool allow_scalar = false);
// The first n elements of a float32 / float16 constant as float32.
void constant_to_f32(const ember_plugin_value &v, size_t n, float *out);
bool constant_scalar(const ember_plugin_value &v, float *out);

// ---- per-operator parameters ----

// 2-D convolutions only (NCHW). Weights must be constant.
struct ConvSpec {
    int64_t n, c, h, w;        // input
    int64_t k, oh, ow;         // output channels and size
    int64_t groups = 1;
    int kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
    bool has_bias = false;
    bool depthwise() const { return groups == c && groups > 1 && k % groups == 0; }
    bool pointwise() const {
        return groups == 1 && kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && pb == 0 &&
               pr == 0;
    }
};
bool parse_conv(const NodeView &n, ConvSpec *s);

// MaxPool / AveragePool (2-D) and GlobalAveragePool / GlobalMaxPool (as reductions).
struct PoolSpec {
    bool global = false;
    PoolParams p{};
};
bool parse_pool(const NodeView &n, PoolSpec *s);

// ReduceMean / ReduceSum / ReduceMax over the trailing axes (and GlobalAverage/MaxPool):
// [rows, cols] -> [rows].
struct ReduceSpec {
    ReduceOp op = ReduceOp::Mean;
    int64_t rows = 0, cols = 0;
};
bool parse_reduce(const NodeView &n, ReduceSpec *s);

// Unary activations (Relu, Clip, Gelu, ...).
bool parse_act(const NodeView &n, Act *a);

// Gemm and MatMul as row-major Y[b] = alpha * op(A[b]) x op(B[b]) (+ C), batch strides 0
// where broadcast.
struct MatMulSpec {
    bool gemm = false;
    bool trans_a = false, trans_b = false;
    int64_t m = 0, n = 0, k = 0, batch = 1;
    int64_t stride_a = 0, stride_b = 0;  // elements between batches (0: broadcast)
    float alpha = 1.0f, beta = 1.0f;
    bool has_c = false;
    Dims c_dims;                         // C right-aligned to [M, N]
};
bool parse_matmul(const NodeView &n, MatMulSpec *s);

struct BatchNormSpec {
    float epsilon = 1e-5f;
    int64_t outer = 1, channels = 1, inner = 1;
};
bool parse_batchnorm(const NodeView &n, BatchNormSpec *s);

struct SoftmaxSpec {
    bool log = false;
    int64_t outer = 1, axis = 1, inner = 1;
};
bool parse_softmax(const NodeView &n, SoftmaxSpec *s);

struct ConcatSpec {
    int64_t outer = 1;        // product of the dims before the axis
    int64_t out_row = 0;      // elements of the output per outer index
    std::vector<int64_t> in_rows;  // elements of each input per outer index
};
bool parse_concat(const NodeView &n, ConcatSpec *s);

struct BinarySpec {
    BinaryOp op = BinaryOp::Add;
    BinaryShape shape;
};
bool parse_binary(const NodeView &n, BinarySpec *s);

bool parse_transpose(const NodeView &n, StridedShape *s);

// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: the output is the input's bytes
// under another shape (Dropout's mask, if present, is all true).
bool parse_view(const NodeView &n);

// Whether the plugin runs the node (pure: no device calls).
bool node_supported(const NodeView &n);

}  // namespace ember_cuda

#endif  // EMBER_PLUGINS_CUDA_OPS_H
