// shape_ops.cc — ops that only relabel a shape (Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Dropout), ops that describe a shape (Shape, Size), and ops that make a
// tensor from plan-time values (ConstantOfShape, Range). Also the family's
// register_shape_ops, which registers every file of the family.
//
// The relabelling ops set may_alias_input0: the planner may give output 0 the
// input's buffer, and run() then has nothing to do. Otherwise they copy the bytes.
#include <cmath>
#include <cstring>

#include "core/kernels/shape_internal.h"

namespace ember {

using shape_detail::CopyPlan;
using shape_detail::check_known_dtype;
using shape_detail::ints_str;
using shape_detail::read_int_input;
using shape_detail::require_input;

namespace {

// ---- the relabelling ops: output 0 holds input 0's bytes under a new shape ----

// Copies input 0 to output 0 unless they share memory; for Dropout, also fills the
// optional mask output with true.
Status create_alias_copy(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo *in = ctx.input(0);
    int64_t bytes = in->numel() * static_cast<int64_t>(dtype_size(in->dtype));
    CopyPlan plan = shape_detail::plan_memcpy(bytes);
    *out = make_fn_kernel([plan](const KernelIO &io) -> Status {
        const Tensor &x = io.inputs[0];
        const Tensor &y = io.outputs[0];
        if (y.data && y.data != x.data) shape_detail::run_copy(plan, x.data, y.data, io);
        if (io.num_outputs > 1 && io.outputs[1].data)
            std::memset(io.outputs[1].data, 1, static_cast<size_t>(io.outputs[1].numel()));
        return Status::OK();
    });
    return Status::OK();
}

Status infer_reshape(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Reshape", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Reshape", x.dtype));
    std::vector<int64_t> spec;
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Reshape", 1, "shape", &spec));
    bool allowzero = ctx.node->attr_int("allowzero", 0) != 0;
    Shape out(spec.size());
    int infer_at = -1;
    bool has_zero = false;
    int64_t known = 1;
    for (size_t i = 0; i < spec.size(); i++) {
        int64_t v = spec[i];
        if (v == -1) {
            if (infer_at >= 0)
                return errorf(EMBER_ERR_SHAPE, "Reshape: shape %s has more than one -1",
                              ints_str(spec).c_str());
            infer_at = static_cast<int>(i);
            continue;
        }
        if (v < -1)
            return errorf(EMBER_ERR_SHAPE, "Reshape: shape %s has a negative entry %lld",
                          ints_str(spec).c_str(), static_cast<long long>(v));
        if (v == 0 && !allowzero) {
            if (i >= x.shape.size())
                return errorf(EMBER_ERR_SHAPE,
                              "Reshape: shape %s copies dimension %zu (0) but the input %s has "
                              "rank %d",
                              ints_str(spec).c_str(), i, shape_str(x.shape).c_str(), x.rank());
            v = x.shape[i];
        } else if (v == 0) {
            has_zero = true;
        }
        out[i] = v;
        if (v != 0 && known > kMaxElements / v)  // checked before multiplying: no overflow
            return errorf(EMBER_ERR_SHAPE, "Reshape: shape %s is too large", ints_str(spec).c_str());
        known *= v;
    }
    int64_t n = x.numel();
    if (infer_at >= 0) {
        if (has_zero)
            return errorf(EMBER_ERR_SHAPE, "Reshape: shape %s has both 0 (allowzero=1) and -1",
                          ints_str(spec).c_str());
        if (known == 0 || n % known != 0)
            return errorf(EMBER_ERR_SHAPE,
                          "Reshape: cannot reshape %s (%lld elements) to %s",
                          shape_str(x.shape).c_str(), static_cast<long long>(n),
                          ints_str(spec).c_str());
        out[infer_at] = n / known;
        known = n;
    }
    if (known != n)
        return errorf(EMBER_ERR_SHAPE, "Reshape: cannot reshape %s (%lld elements) to %s (%lld)",
                      shape_str(x.shape).c_str(), static_cast<long long>(n),
                      ints_str(spec).c_str(), static_cast<long long>(known));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status infer_flatten(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Flatten", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Flatten", x.dtype));
    int64_t r = x.rank();
    int64_t axis = ctx.node->attr_int("axis", 1);
    if (axis < -r || axis > r)
        return errorf(EMBER_ERR_SHAPE, "Flatten: axis %lld out of range for rank %lld",
                      static_cast<long long>(axis), static_cast<long long>(r));
    if (axis < 0) axis += r;
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < r; i++) (i < axis ? a : b) *= x.shape[i];
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = {a, b};
    return Status::OK();
}

// Axes of Squeeze/Unsqueeze: input 1 (opset 13 form), else the old attribute.
Status read_axes(const InferContext &ctx, const char *op, bool *given,
                 std::vector<int64_t> *axes) {
    if (ctx.input(1)) {
        *given = true;
        return read_int_input(ctx, op, 1, "axes", axes);
    }
    const Attribute *a = ctx.node->attr("axes");
    *given = a != nullptr;
    if (a) *axes = a->ints;
    return Status::OK();
}

Status infer_squeeze(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Squeeze", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Squeeze", x.dtype));
    bool given = false;
    std::vector<int64_t> axes;
    EMBER_RETURN_IF_ERROR(read_axes(ctx, "Squeeze", &given, &axes));
    if (axes.empty()) given = false;  // an empty axes tensor: squeeze every unit dim
    std::vector<char> drop(x.shape.size(), 0);
    if (!given) {
        for (size_t i = 0; i < x.shape.size(); i++) drop[i] = x.shape[i] == 1;
    }
    for (int64_t a : axes) {
        int64_t ax;
        if (!normalize_axis(a, x.rank(), &ax))
            return errorf(EMBER_ERR_SHAPE, "Squeeze: axis %lld out of range for input %s",
                          static_cast<long long>(a), shape_str(x.shape).c_str());
        if (x.shape[ax] != 1)
            return errorf(EMBER_ERR_SHAPE, "Squeeze: dimension %lld of input %s is %lld, not 1",
                          static_cast<long long>(ax), shape_str(x.shape).c_str(),
                          static_cast<long long>(x.shape[ax]));
        drop[ax] = 1;
    }
    Shape out;
    for (size_t i = 0; i < x.shape.size(); i++)
        if (!drop[i]) out.push_back(x.shape[i]);
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status infer_unsqueeze(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Unsqueeze", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Unsqueeze", x.dtype));
    bool given = false;
    std::vector<int64_t> axes;
    EMBER_RETURN_IF_ERROR(read_axes(ctx, "Unsqueeze", &given, &axes));
    if (!given)
        return errorf(EMBER_ERR_SHAPE, "Unsqueeze: axes are missing");
    int64_t out_rank = x.rank() + static_cast<int64_t>(axes.size());
    if (out_rank > static_cast<int64_t>(kMaxRank))
        return errorf(EMBER_ERR_UNSUPPORTED, "Unsqueeze: output rank %lld exceeds %zu",
                      static_cast<long long>(out_rank), kMaxRank);
    std::vector<char> is_new(static_cast<size_t>(out_rank), 0);
    for (int64_t a : axes) {
        int64_t ax;
        if (!normalize_axis(a, out_rank, &ax))
            return errorf(EMBER_ERR_SHAPE, "Unsqueeze: axis %lld out of range for output rank %lld",
                          static_cast<long long>(a), static_cast<long long>(out_rank));
        if (is_new[ax])
            return errorf(EMBER_ERR_SHAPE, "Unsqueeze: axes %s repeat axis %lld",
                          ints_str(axes).c_str(), static_cast<long long>(ax));
        is_new[ax] = 1;
    }
    Shape out(static_cast<size_t>(out_rank));
    size_t k = 0;
    for (size_t i = 0; i < out.size(); i++) out[i] = is_new[i] ? 1 : x.shape[k++];
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status infer_identity(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Identity", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Identity", x.dtype));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

// Inference only: Dropout is the identity, and its mask is all true.
Status infer_dropout(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Dropout", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Dropout", x.dtype));
    const TensorInfo *training = ctx.input(2);
    if (training && training->value && training->dtype == DType::Bool &&
        *static_cast<const uint8_t *>(training->value) != 0)
        return errorf(EMBER_ERR_UNSUPPORTED, "Dropout: training_mode=true is not supported");
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    if (ctx.num_outputs() > 1) {
        ctx.output(1).dtype = DType::Bool;
        ctx.output(1).shape = x.shape;
    }
    return Status::OK();
}

// ---- Shape, Size ----

// The [start, end) window of Shape (opset 15), clamped to [0, rank].
void shape_window(const InferContext &ctx, int64_t rank, int64_t *start, int64_t *end) {
    int64_t s = ctx.node->attr_int("start", 0);
    int64_t e = ctx.node->attr_int("end", rank);
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    *start = std::min(std::max<int64_t>(s, 0), rank);
    *end = std::min(std::max<int64_t>(e, 0), rank);
    if (*end < *start) *end = *start;
}

Status infer_shape(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Shape", 0));
    int64_t start, end;
    shape_window(ctx, ctx.input(0)->rank(), &start, &end);
    ctx.output(0).dtype = DType::I64;
    ctx.output(0).shape = {end - start};
    return Status::OK();
}

Status create_shape(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t start, end;
    shape_window(ctx, x.rank(), &start, &end);
    std::vector<int64_t> dims(x.shape.begin() + start, x.shape.begin() + end);
    *out = make_fn_kernel([dims](const KernelIO &io) -> Status {
        if (!dims.empty())
            std::memcpy(io.outputs[0].data, dims.data(), dims.size() * sizeof(int64_t));
        return Status::OK();
    });
    return Status::OK();
}

Status infer_size(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Size", 0));
    ctx.output(0).dtype = DType::I64;
    ctx.output(0).shape = {};
    return Status::OK();
}

Status create_size(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    int64_t n = ctx.input(0)->numel();
    *out = make_fn_kernel([n](const KernelIO &io) -> Status {
        std::memcpy(io.outputs[0].data, &n, sizeof n);
        return Status::OK();
    });
    return Status::OK();
}

// ---- ConstantOfShape ----

// The fill value: the `value` tensor attribute (one element, any dtype), default
// float32 0.
Status constant_of_shape_value(const InferContext &ctx, DType *dtype,
                               std::vector<uint8_t> *bytes) {
    const Value *info = nullptr;
    const ConstData *c = ctx.attr_tensor("value", &info);
    if (!c) {
        if (ctx.node->attr("value"))
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "ConstantOfShape: attribute 'value' is not a constant tensor");
        *dtype = DType::F32;
        bytes->assign(4, 0);
        return Status::OK();
    }
    size_t elem = dtype_size(info->dtype);
    if (elem == 0)
        return errorf(EMBER_ERR_UNSUPPORTED, "ConstantOfShape: value has dtype %s",
                      dtype_name(info->dtype));
    if (info->has_shape && shape_numel(info->shape) != 1)
        return errorf(EMBER_ERR_SHAPE, "ConstantOfShape: value must have one element, has shape %s",
                      shape_str(info->shape).c_str());
    if (c->nbytes < elem || !c->data)
        return errorf(EMBER_ERR_SHAPE, "ConstantOfShape: value holds %zu bytes, %zu needed",
                      c->nbytes, elem);
    *dtype = info->dtype;
    bytes->assign(c->data, c->data + elem);
    return Status::OK();
}

Status infer_constant_of_shape(InferContext &ctx) {
    std::vector<int64_t> dims;
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "ConstantOfShape", 0, "shape", &dims));
    for (int64_t d : dims)
        if (d < 0)
            return errorf(EMBER_ERR_SHAPE, "ConstantOfShape: shape %s has a negative dimension",
                          ints_str(dims).c_str());
    if (dims.size() > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "ConstantOfShape: rank %zu exceeds %zu", dims.size(),
                      kMaxRank);
    DType dt;
    std::vector<uint8_t> bytes;
    EMBER_RETURN_IF_ERROR(constant_of_shape_value(ctx, &dt, &bytes));
    ctx.output(0).dtype = dt;
    ctx.output(0).shape = dims;
    return Status::OK();
}

Status create_constant_of_shape(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    DType dt;
    std::vector<uint8_t> bytes;
    EMBER_RETURN_IF_ERROR(constant_of_shape_value(ctx, &dt, &bytes));
    *out = make_fn_kernel([bytes](const KernelIO &io) -> Status {
        const Tensor &y = io.outputs[0];
        shape_detail::fill_elems(y.data, bytes.data(), bytes.size(), y.numel());
        return Status::OK();
    });
    return Status::OK();
}

// ---- Range ----

bool range_dtype_ok(DType t) {
    return t == DType::F32 || t == DType::F64 || t == DType::I16 || t == DType::I32 ||
           t == DType::I64;
}

// Reads a scalar of a Range dtype as double and as int64.
void read_scalar(DType t, const void *p, double *d, int64_t *i) {
    switch (t) {
        case DType::F32: { float v; std::memcpy(&v, p, 4); *d = v; *i = 0; break; }
        case DType::F64: { double v; std::memcpy(&v, p, 8); *d = v; *i = 0; break; }
        case DType::I16: { int16_t v; std::memcpy(&v, p, 2); *d = v; *i = v; break; }
        case DType::I32: { int32_t v; std::memcpy(&v, p, 4); *d = v; *i = v; break; }
        default: { int64_t v; std::memcpy(&v, p, 8); *d = static_cast<double>(v); *i = v; break; }
    }
}

Status infer_range(InferContext &ctx) {
    const char *names[3] = {"start", "limit", "delta"};
    double d[3];
    int64_t iv[3];
    DType t = DType::Undefined;
    for (size_t k = 0; k < 3; k++) {
        const TensorInfo *in = ctx.input(k);
        if (!in) return errorf(EMBER_ERR_SHAPE, "Range: input %zu (%s) is missing", k, names[k]);
        if (!range_dtype_ok(in->dtype))
            return errorf(EMBER_ERR_UNSUPPORTED, "Range: dtype %s is not supported",
                          dtype_name(in->dtype));
        if (k == 0) t = in->dtype;
        if (in->dtype != t)
            return errorf(EMBER_ERR_SHAPE, "Range: %s is %s but start is %s", names[k],
                          dtype_name(in->dtype), dtype_name(t));
        if (in->numel() != 1)
            return errorf(EMBER_ERR_SHAPE, "Range: %s must be a scalar, has shape %s", names[k],
                          shape_str(in->shape).c_str());
        if (!in->value)
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "Range: the value of %s is not known when planning", names[k]);
        read_scalar(t, in->value, &d[k], &iv[k]);
    }
    int64_t n = 0;
    if (dtype_is_float(t)) {
        if (d[2] == 0 || !std::isfinite(d[0]) || !std::isfinite(d[1]) || !std::isfinite(d[2]))
            return errorf(EMBER_ERR_SHAPE, "Range: start %g, limit %g, delta %g give no finite count",
                          d[0], d[1], d[2]);
        double c = std::ceil((d[1] - d[0]) / d[2]);
        if (c > static_cast<double>(kMaxElements))
            return errorf(EMBER_ERR_SHAPE, "Range: %g elements is too many", c);
        n = c > 0 ? static_cast<int64_t>(c) : 0;
    } else {
        if (iv[2] == 0) return errorf(EMBER_ERR_SHAPE, "Range: delta is 0");
        // Integer ceil((limit - start) / delta) without overflow for the dtypes here.
        __int128 span = static_cast<__int128>(iv[1]) - iv[0];
        __int128 q = span / iv[2];
        if (q * iv[2] != span && ((span > 0) == (iv[2] > 0))) q++;
        if (q > kMaxElements) return errorf(EMBER_ERR_SHAPE, "Range: too many elements");
        n = q > 0 ? static_cast<int64_t>(q) : 0;
    }
    ctx.output(0).dtype = t;
    ctx.output(0).shape = {n};
    return Status::OK();
}

template <typename T>
void fill_range(const KernelIO &io) {
    T start, delta;
    std::memcpy(&start, io.inputs[0].data, sizeof(T));
    std::memcpy(&delta, io.inputs[2].data, sizeof(T));
    T *y = io.outputs[0].as<T>();
    int64_t n = io.outputs[0].numel();
    for (int64_t i = 0; i < n; i++) y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
}

Status create_range(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([t](const KernelIO &io) -> Status {
        switch (t) {
            case DType::F32: fill_range<float>(io); break;
            case DType::F64: fill_range<double>(io); break;
            case DType::I16: fill_range<int16_t>(io); break;
            case DType::I32: fill_range<int32_t>(io); break;
            default: fill_range<int64_t>(io); break;
        }
        return Status::OK();
    });
    return Status::OK();
}

OpSchema alias_op(const char *name, uint64_t value_inputs, Status (*infer)(InferContext &)) {
    OpSchema s;
    s.op_type = name;
    s.value_inputs = value_inputs;
    s.f16_native = true;
    s.may_alias_input0 = true;
    s.infer = infer;
    s.create = create_alias_copy;
    return s;
}

}  // namespace

void register_shape_view_ops(OpRegistry &r) {
    r.add(alias_op("Reshape", 1u << 1, infer_reshape));
    r.add(alias_op("Flatten", 0, infer_flatten));
    r.add(alias_op("Squeeze", 1u << 1, infer_squeeze));
    r.add(alias_op("Unsqueeze", 1u << 1, infer_unsqueeze));
    r.add(alias_op("Identity", 0, infer_identity));
    r.add(alias_op("Dropout", 0, infer_dropout));

    OpSchema s;
    s.f16_native = true;
    s.op_type = "Shape";
    s.infer = infer_shape;
    s.create = create_shape;
    r.add(s);
    s.op_type = "Size";
    s.infer = infer_size;
    s.create = create_size;
    r.add(s);
    s.op_type = "ConstantOfShape";
    s.value_inputs = 1u << 0;
    s.infer = infer_constant_of_shape;
    s.create = create_constant_of_shape;
    r.add(s);
    s.op_type = "Range";
    s.value_inputs = 0x7;
    s.f16_native = false;
    s.infer = infer_range;
    s.create = create_range;
    r.add(s);
}

void register_shape_ops(OpRegistry &r) {
    register_shape_view_ops(r);
    register_shape_copy_ops(r);
    register_shape_gather_ops(r);
    register_resize_ops(r);
    register_quantize_ops(r);
}

}  // namespace ember
