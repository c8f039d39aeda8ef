// shape_gather.cc — index-driven data movement: Gather, GatherElements, GatherND,
// ScatterND, ScatterElements (and the deprecated Scatter), Trilu, NonZero.
//
// Index values are only known at run time, so run() checks them before moving any
// data and fails with EMBER_ERR_INVALID_ARGUMENT naming the bad index. Negative
// indices count from the end of the axis.
#include <algorithm>
#include <cstring>

#include "core/kernels/llm_quant.h"
#include "core/kernels/shape_internal.h"
#include "core/thread_pool.h"

namespace ember {

using shape_detail::check_known_dtype;
using shape_detail::contiguous_strides;
using shape_detail::require_input;

namespace {

bool is_index_dtype(DType t) { return t == DType::I32 || t == DType::I64; }

inline int64_t load_index(const void *p, bool i64, int64_t k) {
    if (i64) {
        int64_t v;
        std::memcpy(&v, static_cast<const uint8_t *>(p) + 8 * k, 8);
        return v;
    }
    int32_t v;
    std::memcpy(&v, static_cast<const uint8_t *>(p) + 4 * k, 4);
    return v;
}

// Checks every index of `idx` lies in [-dim, dim).
Status check_indices(const char *op, const Tensor &idx, int64_t dim) {
    bool i64 = idx.dtype == DType::I64;
    int64_t n = idx.numel();
    for (int64_t k = 0; k < n; k++) {
        int64_t v = load_index(idx.data, i64, k);
        if (v < -dim || v >= dim)
            return errorf(EMBER_ERR_INVALID_ARGUMENT,
                          "%s: index %lld (element %lld of the indices) is out of range for an "
                          "axis of size %lld",
                          op, static_cast<long long>(v), static_cast<long long>(k),
                          static_cast<long long>(dim));
    }
    return Status::OK();
}

// ---- Gather ----

Status infer_gather(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Gather", 0));
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Gather", 1));
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    // A block-quantised [rows, K] table (an embedding): rows along axis 0, as float32.
    const bool blocks = dtype_is_block(x.dtype);
    if (blocks && (x.rank() != 2 || ctx.node->attr_int("axis", 0) != 0))
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "Gather: a %s table must be [rows, K] and gathered along axis 0, got %s axis %lld",
                      dtype_name(x.dtype), shape_str(x.shape).c_str(),
                      static_cast<long long>(ctx.node->attr_int("axis", 0)));
    if (!blocks) EMBER_RETURN_IF_ERROR(check_known_dtype("Gather", x.dtype));
    if (!is_index_dtype(idx.dtype))
        return errorf(EMBER_ERR_UNSUPPORTED, "Gather: indices dtype %s is not supported",
                      dtype_name(idx.dtype));
    int64_t a = ctx.node->attr_int("axis", 0), axis;
    if (!normalize_axis(a, x.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "Gather: axis %lld out of range for input %s",
                      static_cast<long long>(a), shape_str(x.shape).c_str());
    Shape out(x.shape.begin(), x.shape.begin() + axis);
    out.insert(out.end(), idx.shape.begin(), idx.shape.end());
    out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
    if (out.size() > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "Gather: output rank %zu exceeds %zu", out.size(),
                      kMaxRank);
    ctx.output(0).dtype = blocks ? DType::F32 : x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

// Gather of whole rows of a block-quantised table: each row dequantised (llm_quant.h).
Status create_gather_blocks(const TensorInfo &x, std::unique_ptr<Kernel> *out) {
    const DType t = x.dtype;
    const int64_t rows = x.shape[0], k = x.shape[1];
    const size_t row_bytes = dtype_storage_bytes(t, k);
    *out = make_fn_kernel([t, rows, k, row_bytes](const KernelIO &io) -> Status {
        const Tensor &idx = io.inputs[1];
        EMBER_RETURN_IF_ERROR(check_indices("Gather", idx, rows));
        const uint8_t *src = static_cast<const uint8_t *>(io.inputs[0].data);
        float *dst = static_cast<float *>(io.outputs[0].data);
        const bool i64 = idx.dtype == DType::I64;
        for (int64_t u = 0, n = idx.numel(); u < n; u++) {
            int64_t v = load_index(idx.data, i64, u);
            if (v < 0) v += rows;
            if (dtype_is_x8(t))
                x8_dequantize_row(dtype_plain_blocks(t), src, rows, k, v, dst + u * k);
            else
                dequantize_blocks(t, src + static_cast<size_t>(v) * row_bytes, k, dst + u * k);
        }
        return Status::OK();
    });
    return Status::OK();
}

struct GatherJob {
    const uint8_t *src;
    uint8_t *dst;
    const void *idx;
    bool i64;
    int64_t n_idx, dim, block_bytes;
};

// Blocks of one element: a typed copy instead of a memcpy call per element.
template <typename T>
void gather_elems(const GatherJob &j, int64_t begin, int64_t end) {
    const T *src = reinterpret_cast<const T *>(j.src);
    T *dst = reinterpret_cast<T *>(j.dst);
    int64_t o = begin / j.n_idx, k = begin % j.n_idx;
    for (int64_t u = begin; u < end; u++) {
        int64_t v = load_index(j.idx, j.i64, k);
        if (v < 0) v += j.dim;
        dst[u] = src[o * j.dim + v];
        if (++k == j.n_idx) {
            k = 0;
            o++;
        }
    }
}

void gather_blocks(const GatherJob &j, int64_t begin, int64_t end) {
    switch (j.block_bytes) {
        case 1: gather_elems<uint8_t>(j, begin, end); return;
        case 2: gather_elems<uint16_t>(j, begin, end); return;
        case 4: gather_elems<uint32_t>(j, begin, end); return;
        case 8: gather_elems<uint64_t>(j, begin, end); return;
        default: break;
    }
    size_t bb = static_cast<size_t>(j.block_bytes);
    int64_t o = begin / j.n_idx, k = begin % j.n_idx;
    for (int64_t u = begin; u < end; u++) {
        int64_t v = load_index(j.idx, j.i64, k);
        if (v < 0) v += j.dim;
        std::memcpy(j.dst + u * j.block_bytes, j.src + (o * j.dim + v) * j.block_bytes, bb);
        if (++k == j.n_idx) {
            k = 0;
            o++;
        }
    }
}

Status create_gather(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    if (dtype_is_block(x.dtype)) return create_gather_blocks(x, out);
    int64_t axis;
    normalize_axis(ctx.node->attr_int("axis", 0), x.rank(), &axis);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x.shape[d];
    for (int d = static_cast<int>(axis) + 1; d < x.rank(); d++) inner *= x.shape[d];
    int64_t dim = x.shape[axis];
    int64_t block = inner * static_cast<int64_t>(dtype_size(x.dtype));
    *out = make_fn_kernel([outer, dim, block](const KernelIO &io) -> Status {
        const Tensor &idx = io.inputs[1];
        EMBER_RETURN_IF_ERROR(check_indices("Gather", idx, dim));
        GatherJob j;
        j.src = static_cast<const uint8_t *>(io.inputs[0].data);
        j.dst = static_cast<uint8_t *>(io.outputs[0].data);
        j.idx = idx.data;
        j.i64 = idx.dtype == DType::I64;
        j.n_idx = idx.numel();
        j.dim = dim;
        j.block_bytes = block;
        int64_t units = outer * j.n_idx;
        if (units == 0 || block == 0) return Status::OK();
        if (io.max_threads <= 1 || units * block < shape_detail::kParallelBytes) {
            gather_blocks(j, 0, units);
            return Status::OK();
        }
        const GatherJob *jp = &j;
        int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / block);
        io.pool->parallel_for(units, grain, io.max_threads,
                              [jp](int64_t b, int64_t e) { gather_blocks(*jp, b, e); });
        return Status::OK();
    });
    return Status::OK();
}

// ---- GatherElements ----

Status infer_gather_elements(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "GatherElements", 0));
    EMBER_RETURN_IF_ERROR(require_input(ctx, "GatherElements", 1));
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    EMBER_RETURN_IF_ERROR(check_known_dtype("GatherElements", x.dtype));
    if (!is_index_dtype(idx.dtype))
        return errorf(EMBER_ERR_UNSUPPORTED, "GatherElements: indices dtype %s is not supported",
                      dtype_name(idx.dtype));
    int64_t a = ctx.node->attr_int("axis", 0), axis;
    if (x.rank() == 0 || !normalize_axis(a, x.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "GatherElements: axis %lld out of range for input %s",
                      static_cast<long long>(a), shape_str(x.shape).c_str());
    bool ok = idx.rank() == x.rank();
    for (int d = 0; ok && d < x.rank(); d++) ok = d == axis || idx.shape[d] <= x.shape[d];
    if (!ok)
        return errorf(EMBER_ERR_SHAPE, "GatherElements: indices %s do not fit data %s (axis %lld)",
                      shape_str(idx.shape).c_str(), shape_str(x.shape).c_str(),
                      static_cast<long long>(axis));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = idx.shape;
    return Status::OK();
}

Status create_gather_elements(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t axis;
    normalize_axis(ctx.node->attr_int("axis", 0), x.rank(), &axis);
    std::vector<int64_t> xs = contiguous_strides(x.shape);
    Shape xshape = x.shape;
    size_t elem = dtype_size(x.dtype);
    *out = make_fn_kernel([xs, xshape, axis, elem](const KernelIO &io) -> Status {
        const Tensor &idx = io.inputs[1];
        int64_t dim = xshape[axis];
        EMBER_RETURN_IF_ERROR(check_indices("GatherElements", idx, dim));
        const uint8_t *src = static_cast<const uint8_t *>(io.inputs[0].data);
        uint8_t *dst = static_cast<uint8_t *>(io.outputs[0].data);
        bool i64 = idx.dtype == DType::I64;
        int r = idx.rank();
        int64_t n = idx.numel();
        if (n == 0) return Status::OK();
        int64_t pos[kMaxRank] = {0};
        int64_t base = 0;  // data offset of pos with pos[axis] treated as 0
        for (int64_t k = 0; k < n; k++) {
            int64_t v = load_index(idx.data, i64, k);
            if (v < 0) v += dim;
            std::memcpy(dst + k * elem, src + (base + v * xs[axis]) * elem, elem);
            for (int d = r - 1; d >= 0; d--) {
                if (d != axis) base += xs[d];
                if (++pos[d] < idx.shape[d]) break;
                if (d != axis) base -= pos[d] * xs[d];
                pos[d] = 0;
            }
        }
        return Status::OK();
    });
    return Status::OK();
}

// ---- ScatterND ----

enum class Reduce { kNone, kAdd, kMul, kMax, kMin };

Status scatter_reduction(const InferContext &ctx, Reduce *r) {
    std::string s = ctx.node->attr_string("reduction", "none");
    if (s == "none") *r = Reduce::kNone;
    else if (s == "add") *r = Reduce::kAdd;
    else if (s == "mul") *r = Reduce::kMul;
    else if (s == "max") *r = Reduce::kMax;
    else if (s == "min") *r = Reduce::kMin;
    else return errorf(EMBER_ERR_UNSUPPORTED, "ScatterND: reduction '%s' is not supported", s.c_str());
    return Status::OK();
}

Status infer_scatter_nd(InferContext &ctx) {
    for (size_t i = 0; i < 3; i++) EMBER_RETURN_IF_ERROR(require_input(ctx, "ScatterND", i));
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    const TensorInfo &upd = *ctx.input(2);
    EMBER_RETURN_IF_ERROR(check_known_dtype("ScatterND", x.dtype));
    Reduce red;
    EMBER_RETURN_IF_ERROR(scatter_reduction(ctx, &red));
    if (red != Reduce::kNone && (x.dtype == DType::Bool || x.dtype == DType::BF16))
        return errorf(EMBER_ERR_UNSUPPORTED, "ScatterND: reduction on dtype %s is not supported",
                      dtype_name(x.dtype));
    if (idx.dtype != DType::I64 && idx.dtype != DType::I32)
        return errorf(EMBER_ERR_UNSUPPORTED, "ScatterND: indices dtype %s is not supported",
                      dtype_name(idx.dtype));
    if (upd.dtype != x.dtype)
        return errorf(EMBER_ERR_SHAPE, "ScatterND: updates are %s, data is %s",
                      dtype_name(upd.dtype), dtype_name(x.dtype));
    int64_t k = idx.rank() ? idx.shape.back() : -1;
    if (idx.rank() < 1 || k > x.rank())
        return errorf(EMBER_ERR_SHAPE, "ScatterND: indices %s do not fit data %s",
                      shape_str(idx.shape).c_str(), shape_str(x.shape).c_str());
    Shape want(idx.shape.begin(), idx.shape.end() - 1);
    want.insert(want.end(), x.shape.begin() + k, x.shape.end());
    if (want != upd.shape)
        return errorf(EMBER_ERR_SHAPE, "ScatterND: updates have shape %s, %s expected",
                      shape_str(upd.shape).c_str(), shape_str(want).c_str());
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

template <typename T>
void reduce_block(Reduce r, T *d, const T *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        switch (r) {
            case Reduce::kAdd: d[i] = static_cast<T>(d[i] + s[i]); break;
            case Reduce::kMul: d[i] = static_cast<T>(d[i] * s[i]); break;
            case Reduce::kMax: d[i] = std::max(d[i], s[i]); break;
            case Reduce::kMin: d[i] = std::min(d[i], s[i]); break;
            case Reduce::kNone: d[i] = s[i]; break;
        }
    }
}

void reduce_block_f16(Reduce r, uint16_t *d, const uint16_t *s, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float a = half_to_float(d[i]), b = half_to_float(s[i]);
        reduce_block<float>(r, &a, &b, 1);
        d[i] = float_to_half(a);
    }
}

void reduce_any(DType t, Reduce r, void *d, const void *s, int64_t n) {
    switch (t) {
        case DType::F32: reduce_block(r, static_cast<float *>(d), static_cast<const float *>(s), n); break;
        case DType::F64: reduce_block(r, static_cast<double *>(d), static_cast<const double *>(s), n); break;
        case DType::F16: reduce_block_f16(r, static_cast<uint16_t *>(d), static_cast<const uint16_t *>(s), n); break;
        case DType::I8: reduce_block(r, static_cast<int8_t *>(d), static_cast<const int8_t *>(s), n); break;
        case DType::U8: reduce_block(r, static_cast<uint8_t *>(d), static_cast<const uint8_t *>(s), n); break;
        case DType::I16: reduce_block(r, static_cast<int16_t *>(d), static_cast<const int16_t *>(s), n); break;
        case DType::U16: reduce_block(r, static_cast<uint16_t *>(d), static_cast<const uint16_t *>(s), n); break;
        case DType::I32: reduce_block(r, static_cast<int32_t *>(d), static_cast<const int32_t *>(s), n); break;
        case DType::U32: reduce_block(r, static_cast<uint32_t *>(d), static_cast<const uint32_t *>(s), n); break;
        case DType::I64: reduce_block(r, static_cast<int64_t *>(d), static_cast<const int64_t *>(s), n); break;
        case DType::U64: reduce_block(r, static_cast<uint64_t *>(d), static_cast<const uint64_t *>(s), n); break;
        default: break;
    }
}

Status create_scatter_nd(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    Reduce red;
    EMBER_RETURN_IF_ERROR(scatter_reduction(ctx, &red));
    Shape xshape = x.shape;
    DType dt = x.dtype;
    std::vector<int64_t> xs = contiguous_strides(xshape);
    int64_t k = idx.shape.back();
    int64_t n_upd = 1, block = 1;  // index tuples; elements per update slice
    for (int d = 0; d < idx.rank() - 1; d++) n_upd *= idx.shape[d];
    for (size_t d = static_cast<size_t>(k); d < xshape.size(); d++) block *= xshape[d];
    *out = make_fn_kernel([xshape, xs, dt, red, k, n_upd, block](const KernelIO &io) -> Status {
        const Tensor &idx = io.inputs[1];
        size_t elem = dtype_size(dt);
        bool i64 = idx.dtype == DType::I64;
        for (int64_t u = 0; u < n_upd; u++)
            for (int64_t j = 0; j < k; j++) {
                int64_t v = load_index(idx.data, i64, u * k + j);
                if (v < -xshape[j] || v >= xshape[j])
                    return errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "ScatterND: index %lld out of range for dimension %lld of size %lld",
                                  static_cast<long long>(v), static_cast<long long>(j),
                                  static_cast<long long>(xshape[j]));
            }
        uint8_t *dst = static_cast<uint8_t *>(io.outputs[0].data);
        const uint8_t *upd = static_cast<const uint8_t *>(io.inputs[2].data);
        if (dst != io.inputs[0].data)
            std::memcpy(dst, io.inputs[0].data, static_cast<size_t>(io.outputs[0].numel()) * elem);
        for (int64_t u = 0; u < n_upd; u++) {
            int64_t off = 0;
            for (int64_t j = 0; j < k; j++) {
                int64_t v = load_index(idx.data, i64, u * k + j);
                if (v < 0) v += xshape[j];
                off += v * xs[j];
            }
            uint8_t *d = dst + off * static_cast<int64_t>(elem);
            const uint8_t *s = upd + u * block * static_cast<int64_t>(elem);
            if (red == Reduce::kNone) std::memcpy(d, s, static_cast<size_t>(block) * elem);
            else reduce_any(dt, red, d, s, block);
        }
        return Status::OK();
    });
    return Status::OK();
}

// ---- ScatterElements (and the deprecated Scatter, the same without reduction) ----

Status infer_scatter_elements(InferContext &ctx) {
    const char *op = ctx.node->op_type.c_str();
    for (size_t i = 0; i < 3; i++) EMBER_RETURN_IF_ERROR(require_input(ctx, op, i));
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    const TensorInfo &upd = *ctx.input(2);
    EMBER_RETURN_IF_ERROR(check_known_dtype(op, x.dtype));
    Reduce red;
    EMBER_RETURN_IF_ERROR(scatter_reduction(ctx, &red));
    if (red != Reduce::kNone && (x.dtype == DType::Bool || x.dtype == DType::BF16))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: reduction on dtype %s is not supported", op,
                      dtype_name(x.dtype));
    if (!is_index_dtype(idx.dtype))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: indices dtype %s is not supported", op,
                      dtype_name(idx.dtype));
    if (upd.dtype != x.dtype || upd.shape != idx.shape)
        return errorf(EMBER_ERR_SHAPE, "%s: updates %s %s must match indices %s and data %s", op,
                      dtype_name(upd.dtype), shape_str(upd.shape).c_str(),
                      shape_str(idx.shape).c_str(), dtype_name(x.dtype));
    int64_t a = ctx.node->attr_int("axis", 0), axis;
    if (x.rank() == 0 || !normalize_axis(a, x.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld out of range for input %s", op,
                      static_cast<long long>(a), shape_str(x.shape).c_str());
    bool ok = idx.rank() == x.rank();
    for (int d = 0; ok && d < x.rank(); d++) ok = d == axis || idx.shape[d] <= x.shape[d];
    if (!ok)
        return errorf(EMBER_ERR_SHAPE, "%s: indices %s do not fit data %s (axis %lld)", op,
                      shape_str(idx.shape).c_str(), shape_str(x.shape).c_str(),
                      static_cast<long long>(axis));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

Status create_scatter_elements(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t axis;
    normalize_axis(ctx.node->attr_int("axis", 0), x.rank(), &axis);
    Reduce red;
    EMBER_RETURN_IF_ERROR(scatter_reduction(ctx, &red));
    std::vector<int64_t> xs = contiguous_strides(x.shape);
    Shape xshape = x.shape;
    DType dt = x.dtype;
    std::string op = ctx.node->op_type;
    *out = make_fn_kernel([xs, xshape, axis, dt, red, op](const KernelIO &io) -> Status {
        const Tensor &idx = io.inputs[1];
        int64_t dim = xshape[axis];
        EMBER_RETURN_IF_ERROR(check_indices(op.c_str(), idx, dim));
        size_t elem = dtype_size(dt);
        uint8_t *dst = static_cast<uint8_t *>(io.outputs[0].data);
        const uint8_t *upd = static_cast<const uint8_t *>(io.inputs[2].data);
        if (dst != io.inputs[0].data)
            std::memcpy(dst, io.inputs[0].data, static_cast<size_t>(io.outputs[0].numel()) * elem);
        bool i64 = idx.dtype == DType::I64;
        int r = idx.rank();
        int64_t n = idx.numel();
        int64_t pos[kMaxRank] = {0};
        int64_t base = 0;  // data offset of pos with pos[axis] treated as 0
        for (int64_t k = 0; k < n; k++) {
            int64_t v = load_index(idx.data, i64, k);
            if (v < 0) v += dim;
            uint8_t *d = dst + (base + v * xs[axis]) * static_cast<int64_t>(elem);
            if (red == Reduce::kNone) std::memcpy(d, upd + k * elem, elem);
            else reduce_any(dt, red, d, upd + k * elem, 1);
            for (int q = r - 1; q >= 0; q--) {
                if (q != axis) base += xs[q];
                if (++pos[q] < idx.shape[q]) break;
                if (q != axis) base -= pos[q] * xs[q];
                pos[q] = 0;
            }
        }
        return Status::OK();
    });
    return Status::OK();
}

// ---- GatherND ----

struct GatherNdDims {
    int64_t batch = 1;        // prod(indices.shape[:b])
    int64_t per_batch = 1;    // index tuples per batch: prod(indices.shape[b:-1])
    int64_t k = 0;            // tuple length
    int64_t block = 1;        // elements per gathered slice: prod(data.shape[b+k:])
    int64_t data_batch = 1;   // elements per data batch: prod(data.shape[b:])
};

Status gather_nd_dims(const InferContext &ctx, GatherNdDims *g, Shape *out_shape) {
    const TensorInfo &x = *ctx.input(0);
    const TensorInfo &idx = *ctx.input(1);
    int64_t b = ctx.node->attr_int("batch_dims", 0);
    int64_t q = idx.rank(), r = x.rank();
    if (q < 1 || b < 0 || b >= q || b >= r)
        return errorf(EMBER_ERR_SHAPE, "GatherND: batch_dims %lld invalid for data %s, indices %s",
                      static_cast<long long>(b), shape_str(x.shape).c_str(),
                      shape_str(idx.shape).c_str());
    g->k = idx.shape.back();
    if (g->k < 1 || b + g->k > r)
        return errorf(EMBER_ERR_SHAPE, "GatherND: index tuples of %lld do not fit data %s",
                      static_cast<long long>(g->k), shape_str(x.shape).c_str());
    for (int64_t d = 0; d < b; d++)
        if (idx.shape[d] != x.shape[d])
            return errorf(EMBER_ERR_SHAPE, "GatherND: batch dimension %lld differs (data %s, "
                          "indices %s)", static_cast<long long>(d), shape_str(x.shape).c_str(),
                          shape_str(idx.shape).c_str());
    *g = GatherNdDims{1, 1, g->k, 1, 1};
    for (int64_t d = 0; d < b; d++) g->batch *= idx.shape[d];
    for (int64_t d = b; d < q - 1; d++) g->per_batch *= idx.shape[d];
    for (int64_t d = b + g->k; d < r; d++) g->block *= x.shape[d];
    for (int64_t d = b; d < r; d++) g->data_batch *= x.shape[d];
    out_shape->assign(idx.shape.begin(), idx.shape.end() - 1);
    out_shape->insert(out_shape->end(), x.shape.begin() + b + g->k, x.shape.end());
    return Status::OK();
}

Status infer_gather_nd(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "GatherND", 0));
    EMBER_RETURN_IF_ERROR(require_input(ctx, "GatherND", 1));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("GatherND", x.dtype));
    if (ctx.input(1)->dtype != DType::I64)
        return errorf(EMBER_ERR_UNSUPPORTED, "GatherND: indices dtype %s is not supported",
                      dtype_name(ctx.input(1)->dtype));
    GatherNdDims g;
    Shape out;
    EMBER_RETURN_IF_ERROR(gather_nd_dims(ctx, &g, &out));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status create_gather_nd(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    GatherNdDims g;
    Shape oshape;
    EMBER_RETURN_IF_ERROR(gather_nd_dims(ctx, &g, &oshape));
    int64_t b = ctx.node->attr_int("batch_dims", 0);
    Shape dims(x.shape.begin() + b, x.shape.begin() + b + g.k);
    std::vector<int64_t> strides = contiguous_strides(Shape(x.shape.begin() + b, x.shape.end()));
    strides.resize(static_cast<size_t>(g.k));  // strides of the indexed dims, in elements
    size_t elem = dtype_size(x.dtype);
    *out = make_fn_kernel([g, dims, strides, elem](const KernelIO &io) -> Status {
        const int64_t *idx = io.inputs[1].as<int64_t>();
        int64_t tuples = g.batch * g.per_batch;
        for (int64_t t = 0; t < tuples; t++)
            for (int64_t j = 0; j < g.k; j++) {
                int64_t v = idx[t * g.k + j];
                if (v < -dims[j] || v >= dims[j])
                    return errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "GatherND: index %lld out of range for a dimension of size %lld",
                                  static_cast<long long>(v), static_cast<long long>(dims[j]));
            }
        const uint8_t *src = static_cast<const uint8_t *>(io.inputs[0].data);
        uint8_t *dst = static_cast<uint8_t *>(io.outputs[0].data);
        size_t bb = static_cast<size_t>(g.block) * elem;
        for (int64_t t = 0; t < tuples; t++) {
            int64_t off = (t / g.per_batch) * g.data_batch;
            for (int64_t j = 0; j < g.k; j++) {
                int64_t v = idx[t * g.k + j];
                off += (v < 0 ? v + dims[j] : v) * strides[j];
            }
            std::memcpy(dst + t * bb, src + off * static_cast<int64_t>(elem), bb);
        }
        return Status::OK();
    });
    return Status::OK();
}

// ---- Trilu ----

Status infer_trilu(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Trilu", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Trilu", x.dtype));
    if (x.rank() < 2)
        return errorf(EMBER_ERR_SHAPE, "Trilu: input must have rank >= 2, got %s",
                      shape_str(x.shape).c_str());
    const TensorInfo *k = ctx.input(1);
    if (k && (k->dtype != DType::I64 || k->numel() != 1))
        return errorf(EMBER_ERR_SHAPE, "Trilu: k must be an int64 scalar, got %s %s",
                      dtype_name(k->dtype), shape_str(k->shape).c_str());
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

Status create_trilu(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    bool upper = ctx.node->attr_int("upper", 1) != 0;
    int64_t rows = x.shape[x.rank() - 2], cols = x.shape[x.rank() - 1];
    int64_t mats = (rows > 0 && cols > 0) ? x.numel() / (rows * cols) : 0;
    size_t elem = dtype_size(x.dtype);
    *out = make_fn_kernel([upper, rows, cols, mats, elem](const KernelIO &io) -> Status {
        int64_t k = 0;
        if (io.num_inputs > 1 && io.inputs[1].data) std::memcpy(&k, io.inputs[1].data, 8);
        k = std::max<int64_t>(std::min<int64_t>(k, cols + rows), -(cols + rows));
        const uint8_t *src = static_cast<const uint8_t *>(io.inputs[0].data);
        uint8_t *dst = static_cast<uint8_t *>(io.outputs[0].data);
        size_t row_bytes = static_cast<size_t>(cols) * elem;
        for (int64_t m = 0; m < mats * rows; m++) {
            int64_t i = m % rows;
            const uint8_t *s = src + m * row_bytes;
            uint8_t *d = dst + m * row_bytes;
            // upper keeps j >= i + k; lower keeps j <= i + k.
            int64_t cut = upper ? i + k : i + k + 1;
            cut = std::min(std::max<int64_t>(cut, 0), cols);
            size_t cb = static_cast<size_t>(cut) * elem;
            if (upper) {
                std::memset(d, 0, cb);
                std::memcpy(d + cb, s + cb, row_bytes - cb);
            } else {
                std::memcpy(d, s, cb);
                std::memset(d + cb, 0, row_bytes - cb);
            }
        }
        return Status::OK();
    });
    return Status::OK();
}

// ---- NonZero: the output shape depends on the values, so the input must be known
// when planning (a constant, or folded).

bool element_nonzero(DType t, const uint8_t *p, size_t elem) {
    switch (t) {
        case DType::F32: { float v; std::memcpy(&v, p, 4); return v != 0.0f; }
        case DType::F64: { double v; std::memcpy(&v, p, 8); return v != 0.0; }
        case DType::F16:
        case DType::BF16: { uint16_t v; std::memcpy(&v, p, 2); return (v & 0x7fff) != 0; }
        default:
            for (size_t i = 0; i < elem; i++)
                if (p[i]) return true;
            return false;
    }
}

int64_t count_nonzero(DType t, const void *data, int64_t n) {
    size_t elem = dtype_size(t);
    const uint8_t *p = static_cast<const uint8_t *>(data);
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) c += element_nonzero(t, p + i * elem, elem);
    return c;
}

Status infer_nonzero(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "NonZero", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("NonZero", x.dtype));
    if (!x.value)
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "NonZero: the output shape depends on the input values, which are not "
                      "known when planning");
    ctx.output(0).dtype = DType::I64;
    ctx.output(0).shape = {x.rank(), count_nonzero(x.dtype, x.value, x.numel())};
    return Status::OK();
}

Status create_nonzero(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    Shape xshape = x.shape;
    DType dt = x.dtype;
    int64_t nnz = ctx.output(0).shape[1];
    *out = make_fn_kernel([xshape, dt, nnz](const KernelIO &io) -> Status {
        const Tensor &in = io.inputs[0];
        size_t elem = dtype_size(dt);
        int64_t n = in.numel();
        if (count_nonzero(dt, in.data, n) != nnz)
            return errorf(EMBER_ERR_SHAPE, "NonZero: input values changed since planning");
        int r = static_cast<int>(xshape.size());
        int64_t *y = io.outputs[0].as<int64_t>();
        int64_t pos[kMaxRank] = {0};
        const uint8_t *p = static_cast<const uint8_t *>(in.data);
        int64_t c = 0;
        for (int64_t i = 0; i < n; i++) {
            if (element_nonzero(dt, p + i * elem, elem)) {
                for (int d = 0; d < r; d++) y[d * nnz + c] = pos[d];
                c++;
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++pos[d] < xshape[d]) break;
                pos[d] = 0;
            }
        }
        return Status::OK();
    });
    return Status::OK();
}

OpSchema gather_op(const char *name, uint64_t value_inputs, Status (*infer)(InferContext &),
                   Status (*create)(const InferContext &, std::unique_ptr<Kernel> *)) {
    OpSchema s;
    s.op_type = name;
    s.value_inputs = value_inputs;
    s.f16_native = true;
    s.infer = infer;
    s.create = create;
    return s;
}

}  // namespace

void register_shape_gather_ops(OpRegistry &r) {
    r.add(gather_op("Gather", 0, infer_gather, create_gather));
    r.add(gather_op("GatherElements", 0, infer_gather_elements, create_gather_elements));
    r.add(gather_op("ScatterND", 0, infer_scatter_nd, create_scatter_nd));
    r.add(gather_op("ScatterElements", 0, infer_scatter_elements, create_scatter_elements));
    r.add(gather_op("Scatter", 0, infer_scatter_elements, create_scatter_elements));
    r.add(gather_op("GatherND", 0, infer_gather_nd, create_gather_nd));
    r.add(gather_op("Trilu", 0, infer_trilu, create_trilu));
    r.add(gather_op("NonZero", 1u << 0, infer_nonzero, create_nonzero));
}

}  // namespace ember
