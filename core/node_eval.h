// node_eval.h — running one node's schema outside a session plan: shape inference
// with the float16 fallback, and immediate evaluation (constant folding).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/op.h"

namespace ember {

class ThreadPool;

// Float16 (and bfloat16) inputs of an op without native support are presented to the
// kernel as float32; this says which inputs were widened and which outputs narrowed.
struct HalfBridge {
    std::vector<char> widen_input;    // per input: convert F16 -> F32 before the kernel
    std::vector<char> narrow_output;  // per output: convert F32 -> F16 after the kernel
    bool active() const;
};

// Calls schema.infer for `node`. `inputs` are the node's inputs (nullptr = omitted).
// When the op is not f16_native and an input is float16, the kernel sees float32
// (`kernel_inputs` holds the widened infos, values converted into `scratch_values`),
// `bridge` records the conversions and `outputs` keep the float16 dtype the graph sees.
// On return `kernel_ctx` is the context the kernel must be created with.
// `widen_all_half`: widen float16 inputs even for f16_native ops (used when another input
// already holds float32 data for a float16 value, so that the dtypes agree).
Status infer_node(const Graph &graph, const Node &node, const OpSchema &schema,
                  const std::vector<const TensorInfo *> &inputs, InferContext *kernel_ctx,
                  std::vector<TensorInfo> *kernel_inputs,
                  std::vector<std::shared_ptr<std::vector<uint8_t>>> *scratch_values,
                  std::vector<TensorInfo> *outputs, HalfBridge *bridge,
                  bool widen_all_half = false);

// Evaluates `node` now on inputs whose values are all known; returns the outputs'
// infos and data (owned buffers). When the outputs and scratch would take more than
// `max_bytes`, fails with EMBER_ERR_OUT_OF_MEMORY before allocating them.
Status evaluate_node(const Graph &graph, const Node &node, const OpSchema &schema,
                     const std::vector<const TensorInfo *> &inputs, ThreadPool *pool,
                     std::vector<TensorInfo> *outputs,
                     std::vector<std::shared_ptr<std::vector<uint8_t>>> *output_data,
                     size_t max_bytes = SIZE_MAX);

// Element conversions between float16/bfloat16 and float32.
void convert_half_to_float(DType from, const void *src, float *dst, int64_t n);
void convert_float_to_half(DType to, const float *src, void *dst, int64_t n);

// Prefixes a kernel's message with the node: "node 'conv1' (Conv): ...".
Status node_error(const Node &node, const Status &st);

}  // namespace ember
