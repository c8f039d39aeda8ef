// op.h — the contract between the planner and the built-in CPU kernels.
//
// An operator is described by an OpSchema with two phases (after TFLite's
// Prepare/Eval, at graph scale):
//   infer():  given input dtypes and concrete shapes (and the values of the inputs
//             flagged in `value_inputs`), checks attributes and computes every
//             output's dtype and shape. Called at plan time only.
//   create(): builds a Kernel for those concrete shapes. Constant inputs (weights)
//             have their data in ctx.input(i)->value, so a kernel may pack them here.
// Kernel::run() then only computes: no allocation, no locks, no shape logic that
// could fail for reasons a plan did not already check.
//
// Errors: EMBER_ERR_UNSUPPORTED for an attribute value or dtype the kernel does not
// handle ("Conv: auto_pad 'VALID' with dilations ..."); EMBER_ERR_SHAPE for shapes that
// do not fit. Messages start with the op type; the planner prefixes the node name.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/status.h"
#include "core/tensor.h"

namespace ember {

class ThreadPool;

// What the planner knows about a tensor.
struct TensorInfo {
    DType dtype = DType::Undefined;
    Shape shape;                   // concrete
    const void *value = nullptr;   // data, when known at plan time (constants, folded)

    int64_t numel() const { return shape_numel(shape); }
    int rank() const { return static_cast<int>(shape.size()); }
    template <typename T>
    const T *as() const { return static_cast<const T *>(value); }
};

struct InferContext {
    const Node *node = nullptr;
    const Graph *graph = nullptr;
    int64_t opset = 17;
    std::vector<const TensorInfo *> inputs;  // per node input; nullptr when omitted
    std::vector<TensorInfo> outputs;         // per node output; filled by infer()

    size_t num_inputs() const { return inputs.size(); }
    // nullptr if the input is omitted or beyond the node's inputs.
    const TensorInfo *input(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
    TensorInfo &output(size_t i) { return outputs[i]; }
    const TensorInfo &output(size_t i) const { return outputs[i]; }
    size_t num_outputs() const { return outputs.size(); }
    // Constant data of an AttrType::Tensor attribute, or nullptr.
    const ConstData *attr_tensor(const char *name, const Value **info = nullptr) const;
};

// Buffers of one execution of a kernel. Omitted inputs have data == nullptr.
struct KernelIO {
    const Tensor *inputs = nullptr;
    size_t num_inputs = 0;
    Tensor *outputs = nullptr;
    size_t num_outputs = 0;
    void *scratch = nullptr;       // scratch_bytes() bytes, 64-byte aligned, uninitialised
    ThreadPool *pool = nullptr;    // never null
    int max_threads = 1;           // threads this session may use (>= 1)
};

class Kernel {
public:
    virtual ~Kernel() = default;
    // Bytes of temporary memory needed by run(); planned into the session arena.
    virtual size_t scratch_bytes() const { return 0; }
    virtual Status run(const KernelIO &io) = 0;
};

// A Kernel from a function; for ops whose kernels hold no packed state.
std::unique_ptr<Kernel> make_fn_kernel(std::function<Status(const KernelIO &)> fn,
                                       size_t scratch_bytes = 0);

struct OpSchema {
    const char *op_type = nullptr;
    const char *domain = "";              // "" = ONNX default domain
    // Bit i set: infer() reads input i's value (Reshape's shape, Slice's starts...).
    // The planner makes sure it is known (folding what produces it at plan time).
    uint64_t value_inputs = 0;
    // true: the kernel handles float16 inputs itself. false: the planner converts
    // float16 inputs to float32 around the kernel, and float32 outputs back.
    bool f16_native = false;
    // true: output 0 may share input 0's memory (Reshape, Squeeze, Identity...):
    // run() must then do nothing when io.outputs[0].data == io.inputs[0].data.
    bool may_alias_input0 = false;
    Status (*infer)(InferContext &ctx) = nullptr;
    Status (*create)(const InferContext &ctx, std::unique_ptr<Kernel> *out) = nullptr;
};

class OpRegistry {
public:
    void add(const OpSchema &schema);
    const OpSchema *find(const std::string &op_type, const std::string &domain = "") const;
    const std::vector<OpSchema> &all() const { return schemas_; }

private:
    std::vector<OpSchema> schemas_;
};

// The built-in CPU operators, built once on first use and read-only afterwards.
const OpRegistry &builtin_ops();

// Registration functions, one per kernel family file (core/kernels/<family>.cc).
void register_elementwise_ops(OpRegistry &r);   // elementwise.cc: math, compare, logic, activations, Cast, Where, Clip
void register_linear_ops(OpRegistry &r);        // linear.cc: Conv, ConvTranspose, Gemm, MatMul
void register_pool_norm_ops(OpRegistry &r);     // pool_norm.cc: pooling, normalisation, softmax, reductions, ArgMax
void register_shape_ops(OpRegistry &r);         // shape_ops.cc: shape and data movement, Resize, Quantize
void register_llm_ops(OpRegistry &r);           // llm.cc: domain "ember": Linear, RMSNorm, Rotary, SwiGLU, CacheAttention

// ---- helpers for kernels ----

// Multidirectional (numpy) broadcast of two shapes; false if incompatible.
bool broadcast_shapes(const Shape &a, const Shape &b, Shape *out);
// Reads an integer tensor's (I32 or I64) value as int64; false for other dtypes.
bool read_int_values(const TensorInfo &t, std::vector<int64_t> *out);
// Normalises a possibly negative axis into [0, rank); false if out of range.
bool normalize_axis(int64_t axis, int64_t rank, int64_t *out);

}  // namespace ember
