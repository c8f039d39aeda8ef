#include "core/node_eval.h"

#include <cstring>

#include "core/thread_pool.h"

namespace ember {

namespace {
bool is_half(DType t) { return t == DType::F16 || t == DType::BF16; }
}  // namespace

bool HalfBridge::active() const {
    for (char c : widen_input)
        if (c) return true;
    for (char c : narrow_output)
        if (c) return true;
    return false;
}

void convert_half_to_float(DType from, const void *src, float *dst, int64_t n) {
    const uint16_t *s = static_cast<const uint16_t *>(src);
    if (from == DType::F16) {
        for (int64_t i = 0; i < n; i++) dst[i] = half_to_float(s[i]);
    } else {
        for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_float(s[i]);
    }
}

void convert_float_to_half(DType to, const float *src, void *dst, int64_t n) {
    uint16_t *d = static_cast<uint16_t *>(dst);
    if (to == DType::F16) {
        for (int64_t i = 0; i < n; i++) d[i] = float_to_half(src[i]);
    } else {
        for (int64_t i = 0; i < n; i++) d[i] = float_to_bf16(src[i]);
    }
}

Status node_error(const Node &node, const Status &st) {
    return Status(st.code(), "node '" + node.name + "' (" + node.op_type + "): " + st.message());
}

Status infer_node(const Graph &graph, const Node &node, const OpSchema &schema,
                  const std::vector<const TensorInfo *> &inputs, InferContext *kernel_ctx,
                  std::vector<TensorInfo> *kernel_inputs,
                  std::vector<std::shared_ptr<std::vector<uint8_t>>> *scratch_values,
                  std::vector<TensorInfo> *outputs, HalfBridge *bridge, bool widen_all_half) {
    bridge->widen_input.assign(inputs.size(), 0);
    bridge->narrow_output.assign(node.outputs.size(), 0);
    kernel_inputs->assign(inputs.size(), TensorInfo());
    DType half_type = DType::Undefined;
    for (size_t i = 0; i < inputs.size(); i++) {
        if (!inputs[i]) continue;
        (*kernel_inputs)[i] = *inputs[i];
        if ((!schema.f16_native || widen_all_half) && is_half(inputs[i]->dtype)) {
            bridge->widen_input[i] = 1;
            half_type = inputs[i]->dtype;
            TensorInfo &k = (*kernel_inputs)[i];
            k.dtype = DType::F32;
            if (inputs[i]->value) {
                int64_t n = inputs[i]->numel();
                auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n) * 4);
                convert_half_to_float(inputs[i]->dtype, inputs[i]->value,
                                      reinterpret_cast<float *>(buf->data()), n);
                k.value = buf->data();
                scratch_values->push_back(buf);
            }
        }
    }
    InferContext &ctx = *kernel_ctx;
    ctx.node = &node;
    ctx.graph = &graph;
    ctx.opset = graph.opset;
    ctx.inputs.assign(inputs.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); i++)
        if (inputs[i]) ctx.inputs[i] = &(*kernel_inputs)[i];
    ctx.outputs.assign(node.outputs.size(), TensorInfo());
    Status st = schema.infer(ctx);
    if (!st.ok()) return node_error(node, st);
    outputs->assign(ctx.outputs.begin(), ctx.outputs.end());
    for (size_t o = 0; o < outputs->size(); o++) {
        int64_t n;
        if (!shape_numel_checked((*outputs)[o].shape, &n))  // omitted outputs are planned too
            return node_error(node, errorf(EMBER_ERR_SHAPE, "output %zu has an invalid shape %s",
                                           o, shape_str((*outputs)[o].shape).c_str()));
        (*outputs)[o].value = nullptr;
        if (half_type != DType::Undefined && (*outputs)[o].dtype == DType::F32) {
            bridge->narrow_output[o] = 1;
            (*outputs)[o].dtype = half_type;
        }
    }
    return Status::OK();
}

Status evaluate_node(const Graph &graph, const Node &node, const OpSchema &schema,
                     const std::vector<const TensorInfo *> &inputs, ThreadPool *pool,
                     std::vector<TensorInfo> *outputs,
                     std::vector<std::shared_ptr<std::vector<uint8_t>>> *output_data,
                     size_t max_bytes) {
    InferContext ctx;
    std::vector<TensorInfo> kin;
    std::vector<std::shared_ptr<std::vector<uint8_t>>> keep;
    HalfBridge bridge;
    EMBER_RETURN_IF_ERROR(infer_node(graph, node, schema, inputs, &ctx, &kin, &keep, outputs,
                                     &bridge));
    // Sized before anything is allocated: shapes are checked (<= 2^40 elements), so the
    // sum cannot overflow.
    size_t need = 0;
    for (size_t o = 0; o < ctx.outputs.size(); o++) {
        need += static_cast<size_t>(shape_numel(ctx.outputs[o].shape)) * dtype_size(ctx.outputs[o].dtype);
        if (bridge.narrow_output[o]) need += static_cast<size_t>(shape_numel(ctx.outputs[o].shape)) * 2;
    }
    if (need > max_bytes)
        return node_error(node, errorf(EMBER_ERR_OUT_OF_MEMORY,
                                       "computing it now needs %zu bytes, above the limit of "
                                       "%zu bytes",
                                       need, max_bytes));
    std::unique_ptr<Kernel> kernel;
    Status st = schema.create(ctx, &kernel);
    if (!st.ok()) return node_error(node, st);
    if (!kernel) return node_error(node, errorf(EMBER_ERR_INTERNAL, "create() gave no kernel"));
    if (kernel->scratch_bytes() > max_bytes - need)
        return node_error(node, errorf(EMBER_ERR_OUT_OF_MEMORY,
                                       "computing it now needs %zu bytes of scratch, above the "
                                       "limit of %zu bytes",
                                       kernel->scratch_bytes(), max_bytes));

    std::vector<Tensor> in(inputs.size());
    for (size_t i = 0; i < inputs.size(); i++) {
        if (!inputs[i]) continue;
        in[i].dtype = kin[i].dtype;
        in[i].shape = kin[i].shape;
        in[i].data = const_cast<void *>(kin[i].value);
    }
    std::vector<Tensor> out(outputs->size());
    std::vector<std::shared_ptr<std::vector<uint8_t>>> kernel_out(outputs->size());
    output_data->assign(outputs->size(), nullptr);
    for (size_t o = 0; o < outputs->size(); o++) {
        const TensorInfo &k = ctx.outputs[o];
        size_t bytes = static_cast<size_t>(shape_numel(k.shape)) * dtype_size(k.dtype);
        kernel_out[o] = std::make_shared<std::vector<uint8_t>>(bytes + 64);
        out[o].dtype = k.dtype;
        out[o].shape = k.shape;
        out[o].data = kernel_out[o]->data();
    }
    std::vector<uint8_t> scratch(kernel->scratch_bytes() + 64);
    KernelIO io;
    io.inputs = in.data();
    io.num_inputs = in.size();
    io.outputs = out.data();
    io.num_outputs = out.size();
    io.scratch = scratch.data();
    io.pool = pool;
    io.max_threads = pool ? pool->num_threads() : 1;
    ThreadPool local(1);
    if (!io.pool) io.pool = &local;
    st = kernel->run(io);
    if (!st.ok()) return node_error(node, st);
    for (size_t o = 0; o < outputs->size(); o++) {
        int64_t n = shape_numel((*outputs)[o].shape);
        if (bridge.narrow_output[o]) {
            auto buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n) * 2 + 64);
            convert_float_to_half((*outputs)[o].dtype, static_cast<const float *>(out[o].data),
                                  buf->data(), n);
            (*output_data)[o] = buf;
        } else {
            (*output_data)[o] = kernel_out[o];
        }
        (*outputs)[o].value = (*output_data)[o]->data();
    }
    return Status::OK();
}

}  // namespace ember
