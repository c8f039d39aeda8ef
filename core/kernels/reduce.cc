// reduce.cc — ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, ArgMax, ArgMin.
//
// Reductions. Axes come from the `axes` attribute or from input 1 (ReduceSum from
// opset 13, every reduction from opset 18); no axes reduce everything, unless
// noop_with_empty_axes = 1 (then the output is the input). At create() the input
// shape is coalesced: dims of size 1 are dropped and neighbouring dims that are both
// reduced (or both kept) are merged, so [N, C, H, W] over axes {2, 3} becomes
// [N*C kept, H*W reduced]. run() walks the input once in memory order: an odometer
// over all coalesced dims but the last one tracks the output offset (output stride 0
// on reduced dims), and the last dim is one contiguous inner loop, either a row
// reduced into one accumulator or a row folded elementwise into an output row.
// The output buffer holds the accumulators (it starts at the op's identity), and a
// final pass applies Mean's division, L2's sqrt, the logs.
// Work is split over the outermost kept dim, so threads own disjoint outputs.
//
// ArgMax/ArgMin view X as [outer, n, inner] and scan the n rows of each block with
// contiguous loops over tiles of the inner dim.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

constexpr int64_t kChunkWork = 32768;
constexpr int64_t kTile = 128;

int64_t grain_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_item));
}

enum class Red { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

struct RedOp {
    const char *name;
    Red kind;
    bool ints;   // int32/int64 accepted
    bool bytes;  // int8/uint8 accepted
};

const RedOp kReductions[] = {
    {"ReduceSum", Red::Sum, true, false},
    {"ReduceMean", Red::Mean, true, false},
    {"ReduceMax", Red::Max, true, true},
    {"ReduceMin", Red::Min, true, true},
    {"ReduceProd", Red::Prod, true, false},
    {"ReduceL1", Red::L1, true, false},
    {"ReduceL2", Red::L2, false, false},
    {"ReduceLogSum", Red::LogSum, false, false},
    {"ReduceLogSumExp", Red::LogSumExp, false, false},
    {"ReduceSumSquare", Red::SumSquare, true, false},
};

const RedOp *find_red(const std::string &op_type) {
    for (const RedOp &r : kReductions)
        if (op_type == r.name) return &r;
    return nullptr;
}

constexpr int kMaxDims = static_cast<int>(kMaxRank);

// A view of the input as coalesced dims; strides in elements.
struct Box {
    int m = 0;
    int64_t dims[kMaxDims];
    int64_t in_stride[kMaxDims];
    int64_t out_stride[kMaxDims];  // 0 on reduced dims
    bool reduced[kMaxDims];
};

struct ReduceGeom {
    Red kind = Red::Sum;
    bool noop = false;         // copy the input
    Box box;
    int64_t in_numel = 0, out_numel = 0;
    int64_t count = 0;         // input elements per output element
    int split = -1;            // outermost kept dim of `box`, or -1
};

// Reads the axes (attribute or input 1); *empty = none were given.
Status read_axes(const InferContext &ctx, const char *op, std::vector<int64_t> *axes) {
    axes->clear();
    const TensorInfo *a = ctx.input(1);
    if (a) {
        if (!a->value)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: axes input must be known when planning", op);
        if (!read_int_values(*a, axes))
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: axes input dtype %s (expected int64)", op,
                          dtype_name(a->dtype));
        return Status::OK();
    }
    *axes = ctx.node->attr_ints("axes");
    return Status::OK();
}

// Which input dims are reduced; false in *noop_out means a normal reduction.
Status reduced_dims(const InferContext &ctx, const char *op, std::vector<char> *mask,
                    bool *noop_out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t rank = x.rank();
    std::vector<int64_t> axes;
    EMBER_RETURN_IF_ERROR(read_axes(ctx, op, &axes));
    bool noop_empty = ctx.node->attr_int("noop_with_empty_axes", 0) != 0;
    mask->assign(static_cast<size_t>(rank), 0);
    *noop_out = false;
    if (axes.empty()) {
        if (noop_empty) {
            *noop_out = true;
        } else {
            std::fill(mask->begin(), mask->end(), 1);
        }
        return Status::OK();
    }
    for (int64_t a : axes) {
        int64_t n;
        if (!normalize_axis(a, rank, &n))
            return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is out of range for input %s", op,
                          (long long)a, shape_str(x.shape).c_str());
        if ((*mask)[n])
            return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is repeated", op, (long long)a);
        (*mask)[n] = 1;
    }
    return Status::OK();
}

bool dtype_ok(const RedOp &r, DType t) {
    if (t == DType::F32 || t == DType::F64) return true;
    if (t == DType::I32 || t == DType::I64) return r.ints;
    if (t == DType::I8 || t == DType::U8) return r.bytes;
    return false;
}

Status reduce_infer(InferContext &ctx) {
    const RedOp *r = find_red(ctx.node->op_type);
    const char *op = r ? r->name : "Reduce";
    const TensorInfo *x = ctx.input(0);
    if (!r || !x) return errorf(EMBER_ERR_SHAPE, "%s: input data is missing", op);
    if (!dtype_ok(*r, x->dtype))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                      dtype_name(x->dtype));
    std::vector<char> mask;
    bool noop;
    EMBER_RETURN_IF_ERROR(reduced_dims(ctx, op, &mask, &noop));
    bool keep = ctx.node->attr_int("keepdims", 1) != 0;
    Shape ys;
    for (size_t i = 0; i < mask.size(); i++) {
        if (!mask[i])
            ys.push_back(x->shape[i]);
        else if (keep)
            ys.push_back(1);
    }
    ctx.output(0).dtype = x->dtype;
    ctx.output(0).shape = noop ? x->shape : ys;
    return Status::OK();
}

// Coalesces the input shape into a Box; see the file comment.
void build_box(const Shape &shape, const std::vector<char> &mask, ReduceGeom *g) {
    Box &b = g->box;
    b.m = 0;
    for (size_t i = 0; i < shape.size(); i++) {
        if (shape[i] == 1) continue;
        bool red = mask[i] != 0;
        if (b.m > 0 && b.reduced[b.m - 1] == red) {
            b.dims[b.m - 1] *= shape[i];
        } else {
            b.dims[b.m] = shape[i];
            b.reduced[b.m] = red;
            b.m++;
        }
    }
    if (b.m == 0) {  // every dim is 1: one element, kept
        b.dims[0] = 1;
        b.reduced[0] = false;
        b.m = 1;
    }
    int64_t in_s = 1, out_s = 1;
    g->count = 1;
    for (int i = b.m - 1; i >= 0; i--) {
        b.in_stride[i] = in_s;
        in_s *= b.dims[i];
        if (b.reduced[i]) {
            b.out_stride[i] = 0;
            g->count *= b.dims[i];
        } else {
            b.out_stride[i] = out_s;
            out_s *= b.dims[i];
        }
    }
    g->in_numel = in_s;
    g->out_numel = out_s;
    g->split = -1;
    for (int i = 0; i < b.m; i++)
        if (!b.reduced[i]) {
            g->split = i;
            break;
        }
}

// Walks `b` (input x, accumulators y): y[o] = fold(y[o], map(x[i], o)).
template <typename T, typename Fold, typename Map>
void reduce_box(const Box &b, const T *x, T *y, T identity, Fold fold, Map map) {
    const int last = b.m - 1;
    const int64_t len = b.dims[last];
    const bool last_reduced = b.reduced[last];
    int64_t idx[kMaxDims] = {0};
    int64_t in_off = 0, out_off = 0;
    for (;;) {
        const T *xr = x + in_off;
        if (last_reduced) {
            // Four independent accumulators: a shorter dependency chain.
            T a0 = identity, a1 = identity, a2 = identity, a3 = identity;
            int64_t i = 0;
            for (; i + 4 <= len; i += 4) {
                a0 = fold(a0, map(xr[i], out_off));
                a1 = fold(a1, map(xr[i + 1], out_off));
                a2 = fold(a2, map(xr[i + 2], out_off));
                a3 = fold(a3, map(xr[i + 3], out_off));
            }
            for (; i < len; i++) a0 = fold(a0, map(xr[i], out_off));
            y[out_off] = fold(y[out_off], fold(fold(a0, a1), fold(a2, a3)));
        } else {
            T *yr = y + out_off;
            for (int64_t i = 0; i < len; i++) yr[i] = fold(yr[i], map(xr[i], out_off + i));
        }
        // Advance the odometer over dims [0, last).
        int j = last - 1;
        for (; j >= 0; j--) {
            in_off += b.in_stride[j];
            out_off += b.out_stride[j];
            if (++idx[j] < b.dims[j]) break;
            in_off -= b.in_stride[j] * b.dims[j];
            out_off -= b.out_stride[j] * b.dims[j];
            idx[j] = 0;
        }
        if (j < 0) return;
    }
}

template <typename T>
T max_identity() {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
}
template <typename T>
T min_identity() {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
}

// Runs one reduction pass of kind `k` over the sub-box; `shift` (LogSumExp's second
// pass) holds per-output maxima.
template <typename T>
void reduce_pass(Red k, const Box &b, const T *x, T *y, const T *shift) {
    auto add = [](T a, T v) { return T(a + v); };
    auto id = [](T v, int64_t) { return v; };
    switch (k) {
        case Red::Sum:
        case Red::Mean:
        case Red::LogSum:
            reduce_box(b, x, y, T(0), add, id);
            break;
        case Red::SumSquare:
        case Red::L2:
            reduce_box(b, x, y, T(0), add, [](T v, int64_t) { return T(v * v); });
            break;
        case Red::L1:
            reduce_box(b, x, y, T(0), add, [](T v, int64_t) { return v < 0 ? T(-v) : v; });
            break;
        case Red::Prod:
            reduce_box(b, x, y, T(1), [](T a, T v) { return T(a * v); }, id);
            break;
        case Red::Max:
            reduce_box(b, x, y, max_identity<T>(), [](T a, T v) { return v > a ? v : a; }, id);
            break;
        case Red::Min:
            reduce_box(b, x, y, min_identity<T>(), [](T a, T v) { return v < a ? v : a; }, id);
            break;
        case Red::LogSumExp:
            if (!shift) {
                reduce_box(b, x, y, max_identity<T>(), [](T a, T v) { return v > a ? v : a; },
                           id);
            } else {
                reduce_box(b, x, y, T(0), add, [shift](T v, int64_t o) {
                    T m = shift[o];
                    return T(std::exp(double(v) - (std::isinf(double(m)) ? 0.0 : double(m))));
                });
            }
            break;
    }
}

template <typename T>
T identity_of(Red k) {
    switch (k) {
        case Red::Prod: return T(1);
        case Red::Max: return max_identity<T>();
        case Red::Min: return min_identity<T>();
        case Red::LogSumExp: return max_identity<T>();  // pass 1 finds maxima
        default: return T(0);
    }
}

// Final per-output transform over outputs [o0, o1).
template <typename T>
void finalize(const ReduceGeom &g, T *y, const T *shift, int64_t o0, int64_t o1) {
    switch (g.kind) {
        case Red::Mean:
            if (g.count > 0)
                for (int64_t o = o0; o < o1; o++) y[o] = T(y[o] / T(g.count));
            else if (std::numeric_limits<T>::has_quiet_NaN)
                for (int64_t o = o0; o < o1; o++) y[o] = std::numeric_limits<T>::quiet_NaN();
            break;
        case Red::L2:
            for (int64_t o = o0; o < o1; o++) y[o] = T(std::sqrt(double(y[o])));
            break;
        case Red::LogSum:
            for (int64_t o = o0; o < o1; o++) y[o] = T(std::log(double(y[o])));
            break;
        case Red::LogSumExp:
            for (int64_t o = o0; o < o1; o++) {
                double m = std::isinf(double(shift[o])) ? 0.0 : double(shift[o]);
                y[o] = T(m + std::log(double(y[o])));
            }
            break;
        default:
            break;
    }
}

// Reduces the part of the box whose split-dim coordinate lies in [a, b): outputs
// [a * out_stride, b * out_stride) of that dim.
template <typename T>
void reduce_range(const ReduceGeom &g, const T *x, T *y, T *shift, int64_t a, int64_t b) {
    Box sub = g.box;
    int64_t in_base = 0, out_base = 0, out_len = g.out_numel;
    if (g.split >= 0) {
        sub.dims[g.split] = b - a;
        in_base = a * g.box.in_stride[g.split];
        out_base = a * g.box.out_stride[g.split];
        out_len = (b - a) * g.box.out_stride[g.split];
    }
    if (out_len == 0) return;
    if (g.kind == Red::LogSumExp) {
        // Pass 1: maxima into `shift`; pass 2: sums of exp(x - max) into y.
        T *s = shift + out_base;
        std::fill(s, s + out_len, max_identity<T>());
        if (g.in_numel > 0) reduce_pass<T>(Red::Max, sub, x + in_base, s, nullptr);
        std::fill(y + out_base, y + out_base + out_len, T(0));
        if (g.in_numel > 0) reduce_pass<T>(Red::LogSumExp, sub, x + in_base, y + out_base, s);
        finalize(g, y + out_base, s, 0, out_len);
        return;
    }
    T *yo = y + out_base;
    std::fill(yo, yo + out_len, identity_of<T>(g.kind));
    if (g.in_numel > 0) reduce_pass<T>(g.kind, sub, x + in_base, yo, nullptr);
    finalize(g, yo, static_cast<const T *>(nullptr), 0, out_len);
}

template <typename T>
Status run_reduce(const ReduceGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    if (g.noop) {
        if (y != x) std::memcpy(y, x, static_cast<size_t>(g.in_numel) * sizeof(T));
        return Status::OK();
    }
    T *shift = static_cast<T *>(io.scratch);
    if (g.split < 0 || g.in_numel == 0) {
        reduce_range<T>(g, x, y, shift, 0, g.split >= 0 ? g.box.dims[g.split] : 1);
        return Status::OK();
    }
    const int64_t n = g.box.dims[g.split];
    const int64_t work = std::max<int64_t>(1, g.in_numel / n);
    io.pool->parallel_for(n, grain_for(work), io.max_threads, [&](int64_t a, int64_t b) {
        reduce_range<T>(g, x, y, shift, a, b);
    });
    return Status::OK();
}

Status reduce_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const RedOp *r = find_red(ctx.node->op_type);
    if (!r) return errorf(EMBER_ERR_INTERNAL, "reduce_create: unknown op %s",
                          ctx.node->op_type.c_str());
    const TensorInfo &x = *ctx.input(0);
    auto g = std::make_shared<ReduceGeom>();
    g->kind = r->kind;
    std::vector<char> mask;
    EMBER_RETURN_IF_ERROR(reduced_dims(ctx, r->name, &mask, &g->noop));
    g->in_numel = x.numel();
    if (!g->noop) build_box(x.shape, mask, g.get());
    DType t = x.dtype;
    size_t scratch = r->kind == Red::LogSumExp && !g->noop
                         ? static_cast<size_t>(g->out_numel) * dtype_size(t)
                         : 0;
    const char *name = r->name;
    *out = make_fn_kernel(
        [g, t, name](const KernelIO &io) -> Status {
            switch (t) {
                case DType::F32: return run_reduce<float>(*g, io);
                case DType::F64: return run_reduce<double>(*g, io);
                case DType::I32: return run_reduce<int32_t>(*g, io);
                case DType::I64: return run_reduce<int64_t>(*g, io);
                case DType::I8: return run_reduce<int8_t>(*g, io);
                case DType::U8: return run_reduce<uint8_t>(*g, io);
                default:
                    return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported",
                                  name, dtype_name(t));
            }
        },
        scratch);
    return Status::OK();
}

// ---- ArgMax / ArgMin ----

struct ArgGeom {
    int64_t outer = 1, n = 1, inner = 1;
    bool last = false;  // select_last_index
};

template <bool kMax>
Status arg_geom(const InferContext &ctx, ArgGeom *g, Shape *out_shape) {
    const char *op = kMax ? "ArgMax" : "ArgMin";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input data is missing", op);
    DType t = x->dtype;
    if (t != DType::F32 && t != DType::F64 && t != DType::I32 && t != DType::I64 &&
        t != DType::I8 && t != DType::U8)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                      dtype_name(t));
    int64_t rank = x->rank();
    int64_t raw = ctx.node->attr_int("axis", 0), axis;
    if (rank == 0 || !normalize_axis(raw, rank, &axis))
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is out of range for input %s", op,
                      (long long)raw, shape_str(x->shape).c_str());
    if (x->shape[axis] == 0)
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld of input %s is empty", op, (long long)raw,
                      shape_str(x->shape).c_str());
    g->outer = 1;
    for (int64_t i = 0; i < axis; i++) g->outer *= x->shape[i];
    g->n = x->shape[axis];
    g->inner = 1;
    for (int64_t i = axis + 1; i < rank; i++) g->inner *= x->shape[i];
    g->last = ctx.node->attr_int("select_last_index", 0) != 0;
    if (out_shape) {
        bool keep = ctx.node->attr_int("keepdims", 1) != 0;
        *out_shape = x->shape;
        if (keep)
            (*out_shape)[axis] = 1;
        else
            out_shape->erase(out_shape->begin() + axis);
    }
    return Status::OK();
}

template <bool kMax>
Status arg_infer(InferContext &ctx) {
    ArgGeom g;
    Shape ys;
    EMBER_RETURN_IF_ERROR(arg_geom<kMax>(ctx, &g, &ys));
    ctx.output(0).dtype = DType::I64;
    ctx.output(0).shape = ys;
    return Status::OK();
}

// v replaces best: strictly better, or equal when the last index is wanted.
template <bool kMax, bool kLast, typename T>
inline bool better(T v, T best) {
    if (kMax) return kLast ? v >= best : v > best;
    return kLast ? v <= best : v < best;
}

template <bool kMax, bool kLast, typename T>
void arg_block(const ArgGeom &g, const T *x, int64_t *y, int64_t t0, int64_t t1) {
    if (g.inner == 1) {
        for (int64_t r = t0; r < t1; r++) {
            const T *xr = x + r * g.n;
            T best = xr[0];
            int64_t at = 0;
            for (int64_t i = 1; i < g.n; i++)
                if (better<kMax, kLast>(xr[i], best)) {
                    best = xr[i];
                    at = i;
                }
            y[r] = at;
        }
        return;
    }
    const int64_t tiles = (g.inner + kTile - 1) / kTile;
    int64_t o = t0 / tiles, t = t0 - o * tiles;  // once per chunk
    for (int64_t k = t0; k < t1; k++) {
        const int64_t c0 = t * kTile, w = std::min(kTile, g.inner - c0);
        const T *xb = x + o * g.n * g.inner + c0;
        int64_t *yb = y + o * g.inner + c0;
        T best[kTile];
        for (int64_t j = 0; j < w; j++) {
            best[j] = xb[j];
            yb[j] = 0;
        }
        for (int64_t i = 1; i < g.n; i++) {
            const T *xr = xb + i * g.inner;
            for (int64_t j = 0; j < w; j++)
                if (better<kMax, kLast>(xr[j], best[j])) {
                    best[j] = xr[j];
                    yb[j] = i;
                }
        }
        if (++t == tiles) {
            t = 0;
            o++;
        }
    }
}

template <bool kMax, typename T>
Status run_arg(const ArgGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    int64_t *y = io.outputs[0].as<int64_t>();
    int64_t items = g.inner == 1 ? g.outer : g.outer * ((g.inner + kTile - 1) / kTile);
    int64_t work = g.inner == 1 ? g.n : g.n * std::min(kTile, g.inner);
    io.pool->parallel_for(items, grain_for(work), io.max_threads, [&](int64_t a, int64_t b) {
        if (g.last)
            arg_block<kMax, true>(g, x, y, a, b);
        else
            arg_block<kMax, false>(g, x, y, a, b);
    });
    return Status::OK();
}

template <bool kMax>
Status arg_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    ArgGeom g;
    EMBER_RETURN_IF_ERROR(arg_geom<kMax>(ctx, &g, nullptr));
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([g, t](const KernelIO &io) -> Status {
        switch (t) {
            case DType::F32: return run_arg<kMax, float>(g, io);
            case DType::F64: return run_arg<kMax, double>(g, io);
            case DType::I32: return run_arg<kMax, int32_t>(g, io);
            case DType::I64: return run_arg<kMax, int64_t>(g, io);
            case DType::I8: return run_arg<kMax, int8_t>(g, io);
            case DType::U8: return run_arg<kMax, uint8_t>(g, io);
            default:
                return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported",
                              kMax ? "ArgMax" : "ArgMin", dtype_name(t));
        }
    });
    return Status::OK();
}

}  // namespace

void register_reduce_ops(OpRegistry &r) {
    for (const RedOp &op : kReductions) {
        OpSchema s;
        s.op_type = op.name;
        s.value_inputs = uint64_t(1) << 1;  // axes
        s.infer = reduce_infer;
        s.create = reduce_create;
        r.add(s);
    }
    OpSchema s;
    s.op_type = "ArgMax";
    s.infer = arg_infer<true>;
    s.create = arg_create<true>;
    r.add(s);

    s = OpSchema();
    s.op_type = "ArgMin";
    s.infer = arg_infer<false>;
    s.create = arg_create<false>;
    r.add(s);
}

}  // namespace ember
