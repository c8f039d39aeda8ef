// quantize.cc — QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
//
//   QuantizeLinear:   y = saturate(round_half_even(x / scale) + zero_point)
//   DequantizeLinear: y = (x - zero_point) * scale
//
// Per tensor (scalar or one-element scale) or per axis (1-D scale of dim[axis]
// entries, `axis` default 1). The quantised type comes from the zero point (uint8
// when it is omitted, or the `output_dtype` attribute of opset 21). The division is
// done in float32, as in the ONNX reference, so results match it bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/shape_internal.h"
#include "core/thread_pool.h"

namespace ember {

using shape_detail::require_input;

namespace {

bool is_quant_dtype(DType t) {
    return t == DType::U8 || t == DType::I8 || t == DType::U16 || t == DType::I16;
}

void quant_range(DType t, float *lo, float *hi) {
    switch (t) {
        case DType::I8: *lo = -128.0f; *hi = 127.0f; break;
        case DType::U16: *lo = 0.0f; *hi = 65535.0f; break;
        case DType::I16: *lo = -32768.0f; *hi = 32767.0f; break;
        default: *lo = 0.0f; *hi = 255.0f; break;
    }
}

// Round half to even, independent of the floating-point environment.
inline float round_half_even(float v) {
    float f = std::floor(v);
    float diff = v - f;
    if (diff > 0.5f) return f + 1.0f;
    if (diff < 0.5f) return f;
    return std::fmod(f, 2.0f) == 0.0f ? f : f + 1.0f;
}

// Reads element i of an integer tensor of a quantised dtype (or int32) as int32.
inline int32_t load_q(DType t, const void *p, int64_t i) {
    switch (t) {
        case DType::I8: return static_cast<const int8_t *>(p)[i];
        case DType::U8: return static_cast<const uint8_t *>(p)[i];
        case DType::I16: return static_cast<const int16_t *>(p)[i];
        case DType::U16: return static_cast<const uint16_t *>(p)[i];
        default: return static_cast<const int32_t *>(p)[i];
    }
}

inline void store_q(DType t, void *p, int64_t i, float q) {
    switch (t) {
        case DType::I8: static_cast<int8_t *>(p)[i] = static_cast<int8_t>(q); break;
        case DType::U8: static_cast<uint8_t *>(p)[i] = static_cast<uint8_t>(q); break;
        case DType::I16: static_cast<int16_t *>(p)[i] = static_cast<int16_t>(q); break;
        default: static_cast<uint16_t *>(p)[i] = static_cast<uint16_t>(q); break;
    }
}

// Layout of a (de)quantisation: x viewed as [outer, channels, inner]; channels = 1
// per tensor.
struct QuantLayout {
    int64_t outer = 1, channels = 1, inner = 1;
};

// Validates scale and zero point (inputs 1 and 2) against x and the axis.
Status quant_layout(const InferContext &ctx, const char *op, QuantLayout *lay) {
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo *scale = ctx.input(1);
    const TensorInfo *zp = ctx.input(2);
    if (!scale) return errorf(EMBER_ERR_SHAPE, "%s: scale (input 1) is missing", op);
    if (scale->dtype != DType::F32)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: scale dtype %s is not supported", op,
                      dtype_name(scale->dtype));
    if (ctx.node->attr_int("block_size", 0) != 0)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: blocked quantisation (block_size %lld) is not "
                      "supported", op, static_cast<long long>(ctx.node->attr_int("block_size", 0)));
    if (zp && zp->shape != scale->shape)
        return errorf(EMBER_ERR_SHAPE, "%s: zero point shape %s differs from scale shape %s", op,
                      shape_str(zp->shape).c_str(), shape_str(scale->shape).c_str());
    *lay = QuantLayout();
    lay->inner = x.numel();
    if (scale->numel() == 1 && scale->rank() <= 1) return Status::OK();
    if (scale->rank() != 1)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: scale of shape %s (only scalar or 1-D)", op,
                      shape_str(scale->shape).c_str());
    int64_t a = ctx.node->attr_int("axis", 1), axis;
    if (!normalize_axis(a, x.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld out of range for input %s", op,
                      static_cast<long long>(a), shape_str(x.shape).c_str());
    if (scale->shape[0] != x.shape[axis])
        return errorf(EMBER_ERR_SHAPE, "%s: scale has %lld entries, dimension %lld of input %s has %lld",
                      op, static_cast<long long>(scale->shape[0]), static_cast<long long>(axis),
                      shape_str(x.shape).c_str(), static_cast<long long>(x.shape[axis]));
    lay->outer = 1;
    lay->inner = 1;
    for (int64_t d = 0; d < axis; d++) lay->outer *= x.shape[d];
    lay->channels = x.shape[axis];
    for (int64_t d = axis + 1; d < x.rank(); d++) lay->inner *= x.shape[d];
    return Status::OK();
}

// Runs fn(row_begin, row_end) over the outer*channels rows, in parallel when big.
template <typename Fn>
void for_rows(const KernelIO &io, const QuantLayout &lay, Fn fn) {
    int64_t rows = lay.outer * lay.channels;
    if (io.max_threads <= 1 || rows * lay.inner < (int64_t(1) << 15) || rows < 2) {
        fn(int64_t(0), rows);
        return;
    }
    int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(1, lay.inner));
    const Fn *fp = &fn;
    io.pool->parallel_for(rows, grain, io.max_threads,
                          [fp](int64_t b, int64_t e) { (*fp)(b, e); });
}

// ---- QuantizeLinear ----

Status quantize_out_dtype(const InferContext &ctx, DType *out) {
    const TensorInfo *zp = ctx.input(2);
    if (zp) {
        *out = zp->dtype;
    } else {
        // output_dtype (opset 21) holds an ONNX TensorProto code: 2 uint8, 3 int8,
        // 4 uint16, 5 int16.
        int64_t od = ctx.node->attr_int("output_dtype", 0);
        switch (od) {
            case 0: case 2: *out = DType::U8; break;
            case 3: *out = DType::I8; break;
            case 4: *out = DType::U16; break;
            case 5: *out = DType::I16; break;
            default:
                return errorf(EMBER_ERR_UNSUPPORTED,
                              "QuantizeLinear: output_dtype %lld is not supported",
                              static_cast<long long>(od));
        }
    }
    if (!is_quant_dtype(*out))
        return errorf(EMBER_ERR_UNSUPPORTED, "QuantizeLinear: output dtype %s is not supported",
                      dtype_name(*out));
    return Status::OK();
}

Status infer_quantize(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "QuantizeLinear", 0));
    const TensorInfo &x = *ctx.input(0);
    if (x.dtype != DType::F32 && x.dtype != DType::I32)
        return errorf(EMBER_ERR_UNSUPPORTED, "QuantizeLinear: input dtype %s is not supported",
                      dtype_name(x.dtype));
    QuantLayout lay;
    EMBER_RETURN_IF_ERROR(quant_layout(ctx, "QuantizeLinear", &lay));
    DType out;
    EMBER_RETURN_IF_ERROR(quantize_out_dtype(ctx, &out));
    ctx.output(0).dtype = out;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

Status create_quantize(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    QuantLayout lay;
    EMBER_RETURN_IF_ERROR(quant_layout(ctx, "QuantizeLinear", &lay));
    DType qt;
    EMBER_RETURN_IF_ERROR(quantize_out_dtype(ctx, &qt));
    bool x_int = ctx.input(0)->dtype == DType::I32;
    *out = make_fn_kernel([lay, qt, x_int](const KernelIO &io) -> Status {
        const float *scale = io.inputs[1].as<float>();
        const void *zp = io.num_inputs > 2 ? io.inputs[2].data : nullptr;
        DType zt = io.num_inputs > 2 ? io.inputs[2].dtype : qt;
        const void *x = io.inputs[0].data;
        void *y = io.outputs[0].data;
        float lo, hi;
        quant_range(qt, &lo, &hi);
        for_rows(io, lay, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++) {
                int64_t c = r % lay.channels;
                float s = scale[c];
                float z = zp ? static_cast<float>(load_q(zt, zp, c)) : 0.0f;
                int64_t base = r * lay.inner;
                for (int64_t i = base; i < base + lay.inner; i++) {
                    float v = x_int ? static_cast<float>(static_cast<const int32_t *>(x)[i])
                                    : static_cast<const float *>(x)[i];
                    float q = round_half_even(v / s) + z;
                    q = std::isnan(q) ? 0.0f : std::min(std::max(q, lo), hi);
                    store_q(qt, y, i, q);
                }
            }
        });
        return Status::OK();
    });
    return Status::OK();
}

// ---- DequantizeLinear ----

Status infer_dequantize(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "DequantizeLinear", 0));
    const TensorInfo &x = *ctx.input(0);
    if (!is_quant_dtype(x.dtype) && x.dtype != DType::I32)
        return errorf(EMBER_ERR_UNSUPPORTED, "DequantizeLinear: input dtype %s is not supported",
                      dtype_name(x.dtype));
    const TensorInfo *zp = ctx.input(2);
    if (zp && zp->dtype != x.dtype)
        return errorf(EMBER_ERR_SHAPE, "DequantizeLinear: zero point is %s, input is %s",
                      dtype_name(zp->dtype), dtype_name(x.dtype));
    QuantLayout lay;
    EMBER_RETURN_IF_ERROR(quant_layout(ctx, "DequantizeLinear", &lay));
    ctx.output(0).dtype = DType::F32;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

Status create_dequantize(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    QuantLayout lay;
    EMBER_RETURN_IF_ERROR(quant_layout(ctx, "DequantizeLinear", &lay));
    DType xt = ctx.input(0)->dtype;
    *out = make_fn_kernel([lay, xt](const KernelIO &io) -> Status {
        const float *scale = io.inputs[1].as<float>();
        const void *zp = io.num_inputs > 2 ? io.inputs[2].data : nullptr;
        const void *x = io.inputs[0].data;
        float *y = io.outputs[0].as<float>();
        for_rows(io, lay, [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++) {
                int64_t c = r % lay.channels;
                float s = scale[c];
                int32_t z = zp ? load_q(xt, zp, c) : 0;
                int64_t base = r * lay.inner;
                for (int64_t i = base; i < base + lay.inner; i++)
                    y[i] = static_cast<float>(load_q(xt, x, i) - z) * s;
            }
        });
        return Status::OK();
    });
    return Status::OK();
}

// ---- DynamicQuantizeLinear: uint8, scale and zero point from the data range ----

Status infer_dynamic_quantize(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "DynamicQuantizeLinear", 0));
    const TensorInfo &x = *ctx.input(0);
    if (x.dtype != DType::F32)
        return errorf(EMBER_ERR_UNSUPPORTED, "DynamicQuantizeLinear: input dtype %s is not supported",
                      dtype_name(x.dtype));
    ctx.output(0).dtype = DType::U8;
    ctx.output(0).shape = x.shape;
    if (ctx.num_outputs() > 1) {
        ctx.output(1).dtype = DType::F32;
        ctx.output(1).shape = {};
    }
    if (ctx.num_outputs() > 2) {
        ctx.output(2).dtype = DType::U8;
        ctx.output(2).shape = {};
    }
    return Status::OK();
}

Status create_dynamic_quantize(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    *out = make_fn_kernel([](const KernelIO &io) -> Status {
        const float *x = io.inputs[0].as<float>();
        int64_t n = io.inputs[0].numel();
        float mn = 0.0f, mx = 0.0f;  // the range always includes 0
        for (int64_t i = 0; i < n; i++) {
            mn = std::min(mn, x[i]);
            mx = std::max(mx, x[i]);
        }
        float scale = (mx - mn) / 255.0f;
        float zpf = scale != 0.0f ? round_half_even(-mn / scale) : 0.0f;
        zpf = std::min(std::max(zpf, 0.0f), 255.0f);
        uint8_t *y = io.outputs[0].as<uint8_t>();
        for (int64_t i = 0; i < n; i++) {
            float q = scale != 0.0f ? round_half_even(x[i] / scale) + zpf : zpf;
            y[i] = static_cast<uint8_t>(std::isnan(q) ? 0.0f : std::min(std::max(q, 0.0f), 255.0f));
        }
        if (io.num_outputs > 1 && io.outputs[1].data) *io.outputs[1].as<float>() = scale;
        if (io.num_outputs > 2 && io.outputs[2].data)
            *io.outputs[2].as<uint8_t>() = static_cast<uint8_t>(zpf);
        return Status::OK();
    });
    return Status::OK();
}

}  // namespace

void register_quantize_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "QuantizeLinear";
    s.infer = infer_quantize;
    s.create = create_quantize;
    r.add(s);
    s.op_type = "DequantizeLinear";
    s.infer = infer_dequantize;
    s.create = create_dequantize;
    r.add(s);
    s.op_type = "DynamicQuantizeLinear";
    s.infer = infer_dynamic_quantize;
    s.create = create_dynamic_quantize;
    r.add(s);
}

}  // namespace ember
