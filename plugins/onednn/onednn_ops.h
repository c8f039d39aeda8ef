// onednn_ops.h — what the oneDNN plugin accepts, node by node: reading an
// ember_plugin_node (attributes with their ONNX defaults, dims, constants) into the
// parameters of one oneDNN primitive. supports() and compile() share these functions,
// so the plugin never claims a node that compile would read differently.
//
// Every parse_* returns false for anything not handled exactly (an unknown attribute,
// an attribute value outside what the primitive computes, a dtype other than float32
// (or float16 / bfloat16, computed in float32),
// an empty tensor): the session then gives the node to the built-in CPU kernels.
#ifndef EMBER_PLUGINS_ONEDNN_OPS_H
#define EMBER_PLUGINS_ONEDNN_OPS_H

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ember_plugin.h"

namespace ember_onednn {

using dnnl::algorithm;
using dnnl::memory;
using Dims = memory::dims;  // std::vector<int64_t>

// Highest rank the plugin accepts for any tensor (oneDNN itself allows 12).
constexpr size_t kMaxRank = 6;

// Read-only view of a node with ONNX attribute defaults.
class NodeView {
public:
    explicit NodeView(const ember_plugin_node *n) : n_(n) {}
    const ember_plugin_node &node() const { return *n_; }
    bool is(const char *op) const;
    size_t n_inputs() const { return n_->n_inputs; }
    size_t n_outputs() const { return n_->n_outputs; }
    // An input or output that is present (not omitted).
    bool has_input(size_t i) const;
    bool has_output(size_t i) const;
    const ember_plugin_value &in(size_t i) const { return n_->inputs[i]; }
    const ember_plugin_value &out(size_t i) const { return n_->outputs[i]; }
    Dims in_dims(size_t i) const;
    Dims out_dims(size_t i) const;

    const ember_plugin_attr *attr(const char *name) const;
    // Every attribute of the node is one of `names`.
    bool only_attrs(std::initializer_list<const char *> names) const;
    // Typed reads; false when the attribute exists with another type.
    bool get_int(const char *name, int64_t def, int64_t *out) const;
    bool get_float(const char *name, float def, float *out) const;
    bool get_string(const char *name, const char *def, std::string *out) const;
    bool get_ints(const char *name, const Dims &def, Dims *out) const;

private:
    const ember_plugin_node *n_;
};

// Float32, float16 or bfloat16. The plugin computes in float32 only: half constants are
// widened once at compile, half tensors at the subgraph's edges (one reorder in, one
// rounding out, as the built-in kernels do for half models).
bool is_float_type(ember_dtype t);
bool is_float(const ember_plugin_value &v);
memory::data_type host_type(ember_dtype t);
// The first n elements of a float32 / float16 / bfloat16 constant as float32.
void constant_to_f32(const ember_plugin_value &v, size_t n, float *out);
// A float tensor (above) of rank 1..kMaxRank (or 0 when allow_scalar), no zero dimension.
bool is_float_tensor(const ember_plugin_value &v, bool allow_scalar = false);
int64_t numel(const Dims &d);
// A scalar read from a constant float32 value of one element.
bool constant_scalar(const ember_plugin_value &v, float *out);

// The plain row-major descriptor of `dims` (strides computed, no format tag limit).
memory::desc plain_md(const Dims &dims, memory::data_type dt = memory::data_type::f32);
// `dims` right-aligned to `rank` with leading 1s (numpy broadcasting).
Dims pad_left(const Dims &dims, size_t rank);
Dims row_major_strides(const Dims &dims);

// ---- per-operator parameters ----

struct ConvSpec {
    int64_t groups = 1;
    Dims strides, dilates, pad_l, pad_r;  // dilates in oneDNN's form: dilation - 1
    bool has_bias = false;
};
bool parse_conv(const NodeView &n, ConvSpec *s);

struct PoolSpec {
    algorithm alg = algorithm::pooling_max;
    Dims kernel, strides, dilates, pad_l, pad_r;  // pad_r includes ceil_mode's extra
};
bool parse_pool(const NodeView &n, PoolSpec *s);  // MaxPool, AveragePool, Global*Pool

// An activation: one or two oneDNN eltwise algorithms applied in turn (HardSigmoid is
// linear then clip; Selu is elu then linear).
struct EltStep {
    algorithm alg;
    float alpha, beta;
};
struct EltSpec {
    std::vector<EltStep> steps;
};
bool parse_eltwise(const NodeView &n, EltSpec *s);

// Gemm and MatMul as one oneDNN matmul: dst = A' x B' (+ bias), with the operands
// described by strides (transposes are free) and batch dimensions broadcast.
struct MatMulSpec {
    bool gemm = false;
    Dims a_dims, a_strides;  // as the primitive sees them (rank r)
    Dims b_dims, b_strides;
    Dims dst_dims;           // rank r: the output's dims with 1-D promotions
    float alpha = 1.0f, beta = 1.0f;
    bool has_c = false;      // Gemm's C
    Dims c_dims;             // C padded to rank 2
};
bool parse_matmul(const NodeView &n, MatMulSpec *s);  // MatMul and Gemm

struct BatchNormSpec {
    float epsilon = 1e-5f;
};
bool parse_batchnorm(const NodeView &n, BatchNormSpec *s);

struct SoftmaxSpec {
    bool log = false;
    int axis = 1;               // in `dims`
    Dims dims;                  // the shape the softmax runs on (2-D when coerced)
};
bool parse_softmax(const NodeView &n, SoftmaxSpec *s);

// LayerNormalization (opset 17) over the dimensions from `axis` on: run as [outer, inner]
// rows, Scale (and B) of `inner` elements; no Mean / InvStdDev outputs.
struct LayerNormSpec {
    float epsilon = 1e-5f;
    bool has_bias = false;
    Dims dims;  // {outer, inner}
};
bool parse_layernorm(const NodeView &n, LayerNormSpec *s);

struct ConcatSpec {
    int axis = 0;
};
bool parse_concat(const NodeView &n, ConcatSpec *s);

// Add, Sub, Mul, Div. src0 must have the output's shape: `swap` says the inputs were
// exchanged to get there (only for Add and Mul).
struct BinarySpec {
    algorithm alg = algorithm::binary_add;
    bool swap = false;
    Dims src1_dims;  // right-aligned to the output rank
};
bool parse_binary(const NodeView &n, BinarySpec *s);

struct LrnSpec {
    int64_t size = 1;
    float alpha = 1e-4f, beta = 0.75f, bias = 1.0f;
};
bool parse_lrn(const NodeView &n, LrnSpec *s);

struct TransposeSpec {
    Dims perm;
};
bool parse_transpose(const NodeView &n, TransposeSpec *s);

// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: the output is the input's
// bytes under another shape.
bool parse_view(const NodeView &n);

// Whether the plugin runs the node (without building anything).
bool node_supported(const NodeView &n);

}  // namespace ember_onednn

#endif  // EMBER_PLUGINS_ONEDNN_OPS_H
