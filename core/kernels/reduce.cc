// reduce.cc — ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare, ArgMax, ArgMin, and
// MeanVarianceNormalization (a normalisation over reduction axes).
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
// Max and Min accumulate straight in the output; the sum-like kinds accumulate in a
// scratch buffer of double (float inputs) or int64 (integer inputs), and a final
// pass writes the output with Mean's division, L2's sqrt, the logs. LogSumExp first
// takes the maxima, then sums exp(x - max).
// Work is split over the outermost kept dim, so threads own disjoint outputs.
//
// ArgMax/ArgMin view X as [outer, n, inner] and scan the n rows of each block with
// contiguous loops over tiles of the inner dim.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

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

// Reads the axes (attribute or input 1); empty when none were given.
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
    if (x->shape.size() > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: rank %zu (at most %zu)", op, x->shape.size(),
                      kMaxRank);
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

// Accumulator type: float sums run in double (a sum over 10^5 floats in float can
// lose the digits the 1e-3 tolerance sees); integer sums in int64.
template <typename T> struct Accum { using type = T; };
template <> struct Accum<float> { using type = double; };
template <> struct Accum<int32_t> { using type = int64_t; };
template <> struct Accum<int8_t> { using type = int64_t; };
template <> struct Accum<uint8_t> { using type = int64_t; };

// Loops in fixed blocks of 16: GCC's -O2 cost model vectorises a loop only when its
// trip count is a known multiple of the vector width; __restrict spares the run-time
// alias checks it would also refuse.
constexpr int64_t kBlock = 16;

// acc[i] = fold(acc[i], map(x[i], o + i)) for i < n.
template <typename T, typename A, typename Fold, typename Map>
inline void fold_row_into(A *__restrict acc, const T *__restrict x, int64_t n, int64_t o,
                          Fold fold, Map map) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++)
            acc[i + j] = fold(acc[i + j], map(x[i + j], o + i + j));
    for (; i < n; i++) acc[i] = fold(acc[i], map(x[i], o + i));
}

// fold of map(x[i], o) over i < n, in kBlock independent lanes.
template <typename T, typename A, typename Fold, typename Map>
inline A fold_row(const T *__restrict x, int64_t n, int64_t o, A identity, Fold fold, Map map) {
    A lanes[kBlock];
    for (int64_t j = 0; j < kBlock; j++) lanes[j] = identity;
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) lanes[j] = fold(lanes[j], map(x[i + j], o));
    A r = identity;
    for (; i < n; i++) r = fold(r, map(x[i], o));
    for (int64_t j = 0; j < kBlock; j++) r = fold(r, lanes[j]);
    return r;
}

// Walks `b` (input x, accumulators acc): acc[o] = fold(acc[o], map(x[i], o)).
template <typename T, typename A, typename Fold, typename Map>
void reduce_box(const Box &b, const T *x, A *acc, A identity, Fold fold, Map map) {
    const int last = b.m - 1;
    const int64_t len = b.dims[last];
    const bool last_reduced = b.reduced[last];
    int64_t idx[kMaxDims] = {0};
    int64_t in_off = 0, out_off = 0;
    for (;;) {
        if (last_reduced)
            acc[out_off] = fold(acc[out_off], fold_row(x + in_off, len, out_off, identity, fold, map));
        else
            fold_row_into(acc + out_off, x + in_off, len, out_off, fold, map);
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

template <typename V>
V abs_of(V v) {
    if constexpr (std::is_unsigned<V>::value) {
        return v;
    } else {
        return v < 0 ? V(-v) : v;
    }
}

// Max or Min straight into the outputs (no wider accumulator needed).
template <typename T>
void extreme_pass(bool is_max, const Box &b, const T *x, T *y) {
    auto id = [](T v, int64_t) { return v; };
    if (is_max)
        reduce_box(b, x, y, max_identity<T>(), [](T a, T v) { return v > a ? v : a; }, id);
    else
        reduce_box(b, x, y, min_identity<T>(), [](T a, T v) { return v < a ? v : a; }, id);
}

// Sum-like kinds into accumulators of type A. `shift` (LogSumExp) holds the
// per-output maxima subtracted before exp.
template <typename T, typename A>
void sum_pass(Red k, const Box &b, const T *x, A *acc, const T *shift) {
    auto add = [](A a, A v) { return A(a + v); };
    switch (k) {
        case Red::SumSquare:
        case Red::L2:
            reduce_box(b, x, acc, A(0), add, [](T v, int64_t) { return A(v) * A(v); });
            break;
        case Red::L1:
            reduce_box(b, x, acc, A(0), add, [](T v, int64_t) { return abs_of(A(v)); });
            break;
        case Red::Prod:
            reduce_box(b, x, acc, A(1), [](A a, A v) { return A(a * v); },
                       [](T v, int64_t) { return A(v); });
            break;
        case Red::LogSumExp:
            reduce_box(b, x, acc, A(0), add, [shift](T v, int64_t o) {
                double m = double(shift[o]);
                return A(std::exp(double(v) - (std::isinf(m) ? 0.0 : m)));
            });
            break;
        default:  // Sum, Mean, LogSum
            reduce_box(b, x, acc, A(0), add, [](T v, int64_t) { return A(v); });
            break;
    }
}

// y[o] = final transform of acc[o], over outputs [0, n).
template <typename T, typename A>
void finalize(const ReduceGeom &g, const A *acc, const T *shift, T *y, int64_t n) {
    switch (g.kind) {
        case Red::Mean:
            if (g.count > 0)
                for (int64_t o = 0; o < n; o++) y[o] = T(acc[o] / A(g.count));
            else if (std::numeric_limits<T>::has_quiet_NaN)
                for (int64_t o = 0; o < n; o++) y[o] = std::numeric_limits<T>::quiet_NaN();
            else
                for (int64_t o = 0; o < n; o++) y[o] = T(0);
            break;
        case Red::L2:
            for (int64_t o = 0; o < n; o++) y[o] = T(std::sqrt(double(acc[o])));
            break;
        case Red::LogSum:
            for (int64_t o = 0; o < n; o++) y[o] = T(std::log(double(acc[o])));
            break;
        case Red::LogSumExp:
            for (int64_t o = 0; o < n; o++) {
                double m = std::isinf(double(shift[o])) ? 0.0 : double(shift[o]);
                y[o] = T(m + std::log(double(acc[o])));
            }
            break;
        default:
            for (int64_t o = 0; o < n; o++) y[o] = T(acc[o]);
            break;
    }
}

// Scratch layout: [accumulators: out_numel x A][LogSumExp maxima: out_numel x T].
size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// Reduces the part of the box whose split-dim coordinate lies in [a, b): outputs
// [a * out_stride, b * out_stride) of that dim.
template <typename T>
void reduce_range(const ReduceGeom &g, const T *x, T *y, void *scratch, int64_t a, int64_t b) {
    using A = typename Accum<T>::type;
    Box sub = g.box;
    int64_t in_base = 0, out_base = 0, out_len = g.out_numel;
    if (g.split >= 0) {
        sub.dims[g.split] = b - a;
        in_base = a * g.box.in_stride[g.split];
        out_base = a * g.box.out_stride[g.split];
        out_len = (b - a) * g.box.out_stride[g.split];
    }
    if (out_len == 0) return;
    const T *xs = x + in_base;
    T *ys = y + out_base;
    const bool any = g.in_numel > 0;
    if (g.kind == Red::Max || g.kind == Red::Min) {
        bool is_max = g.kind == Red::Max;
        std::fill(ys, ys + out_len, is_max ? max_identity<T>() : min_identity<T>());
        if (any) extreme_pass(is_max, sub, xs, ys);
        return;
    }
    A *acc = static_cast<A *>(scratch) + out_base;
    T *shift = nullptr;
    if (g.kind == Red::LogSumExp) {
        shift = reinterpret_cast<T *>(static_cast<uint8_t *>(scratch) +
                                      align64(static_cast<size_t>(g.out_numel) * sizeof(A))) +
                out_base;
        std::fill(shift, shift + out_len, max_identity<T>());
        if (any) extreme_pass(true, sub, xs, shift);
    }
    std::fill(acc, acc + out_len, g.kind == Red::Prod ? A(1) : A(0));
    if (any) sum_pass<T, A>(g.kind, sub, xs, acc, shift);
    finalize<T, A>(g, acc, shift, ys, out_len);
}

template <typename T>
Status run_reduce(const ReduceGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    if (g.noop) {
        if (y != x) std::memcpy(y, x, static_cast<size_t>(g.in_numel) * sizeof(T));
        return Status::OK();
    }
    if (g.split < 0 || g.in_numel == 0) {
        reduce_range<T>(g, x, y, io.scratch, 0, g.split >= 0 ? g.box.dims[g.split] : 1);
        return Status::OK();
    }
    const int64_t n = g.box.dims[g.split];
    const int64_t work = std::max<int64_t>(1, g.in_numel / n);
    io.pool->parallel_for(n, grain_for(work), io.max_threads, [&](int64_t a, int64_t b) {
        reduce_range<T>(g, x, y, io.scratch, a, b);
    });
    return Status::OK();
}

Status reduce_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const RedOp *r = find_red(ctx.node->op_type);
    if (!r)
        return errorf(EMBER_ERR_INTERNAL, "reduce_create: unknown op %s",
                      ctx.node->op_type.c_str());
    const TensorInfo &x = *ctx.input(0);
    auto g = std::make_shared<ReduceGeom>();
    g->kind = r->kind;
    std::vector<char> mask;
    EMBER_RETURN_IF_ERROR(reduced_dims(ctx, r->name, &mask, &g->noop));
    g->in_numel = x.numel();
    if (!g->noop) build_box(x.shape, mask, g.get());
    DType t = x.dtype;
    size_t scratch = 0;
    if (!g->noop && r->kind != Red::Max && r->kind != Red::Min) {
        // Accumulators are 8 bytes for every accepted dtype (double or int64).
        scratch = align64(static_cast<size_t>(g->out_numel) * 8);
        if (r->kind == Red::LogSumExp) scratch += static_cast<size_t>(g->out_numel) * dtype_size(t);
    }
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

// ---- MeanVarianceNormalization ----
// y = (x - mean) / (sqrt(var) + 1e-9), mean and population variance over `axes`
// (default {0, 2, 3}), as the ONNX function body computes it. Reuses the reduction
// box: pass 1 sums into per-output accumulators, pass 2 sums squared deviations,
// pass 3 walks the input again and writes each element. Single-threaded (rare op).

constexpr double kMvnEpsilon = 1e-9;

Status mvn_mask(const InferContext &ctx, std::vector<char> *mask) {
    const char *op = "MeanVarianceNormalization";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    if (x->dtype != DType::F32 && x->dtype != DType::F64)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                      dtype_name(x->dtype));
    int64_t rank = x->rank();
    if (rank > static_cast<int64_t>(kMaxRank))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: rank %lld", op, (long long)rank);
    const Attribute *a = ctx.node->attr("axes");
    std::vector<int64_t> axes = a ? a->ints : std::vector<int64_t>{0, 2, 3};
    mask->assign(static_cast<size_t>(rank), 0);
    for (int64_t ax : axes) {
        int64_t n;
        if (!normalize_axis(ax, rank, &n) || (*mask)[n])
            return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is out of range or repeated for %s", op,
                          (long long)ax, shape_str(x->shape).c_str());
        (*mask)[n] = 1;
    }
    return Status::OK();
}

Status mvn_infer(InferContext &ctx) {
    std::vector<char> mask;
    EMBER_RETURN_IF_ERROR(mvn_mask(ctx, &mask));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = ctx.input(0)->shape;
    return Status::OK();
}

template <typename T>
Status run_mvn(const ReduceGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    if (g.in_numel == 0) return Status::OK();
    double *mean = static_cast<double *>(io.scratch);
    double *scale = mean + g.out_numel;
    const double inv_count = 1.0 / double(g.count);
    auto add = [](double a, double v) { return a + v; };
    std::fill(mean, mean + g.out_numel, 0.0);
    reduce_box(g.box, x, mean, 0.0, add, [](T v, int64_t) { return double(v); });
    for (int64_t o = 0; o < g.out_numel; o++) mean[o] *= inv_count;
    std::fill(scale, scale + g.out_numel, 0.0);
    reduce_box(g.box, x, scale, 0.0, add, [mean](T v, int64_t o) {
        double d = double(v) - mean[o];
        return d * d;
    });
    for (int64_t o = 0; o < g.out_numel; o++)
        scale[o] = 1.0 / (std::sqrt(scale[o] * inv_count) + kMvnEpsilon);
    // Pass 3: the same odometer as reduce_box, writing y in input order.
    const Box &b = g.box;
    const int last = b.m - 1;
    const int64_t len = b.dims[last];
    int64_t idx[kMaxDims] = {0};
    int64_t in_off = 0, out_off = 0;
    for (;;) {
        const T *xr = x + in_off;
        T *yr = y + in_off;
        if (b.reduced[last]) {
            const double m = mean[out_off], s = scale[out_off];
            for (int64_t i = 0; i < len; i++) yr[i] = T((double(xr[i]) - m) * s);
        } else {
            const double *mr = mean + out_off, *sr = scale + out_off;
            for (int64_t i = 0; i < len; i++) yr[i] = T((double(xr[i]) - mr[i]) * sr[i]);
        }
        int j = last - 1;
        for (; j >= 0; j--) {
            in_off += b.in_stride[j];
            out_off += b.out_stride[j];
            if (++idx[j] < b.dims[j]) break;
            in_off -= b.in_stride[j] * b.dims[j];
            out_off -= b.out_stride[j] * b.dims[j];
            idx[j] = 0;
        }
        if (j < 0) return Status::OK();
    }
}

Status mvn_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    std::vector<char> mask;
    EMBER_RETURN_IF_ERROR(mvn_mask(ctx, &mask));
    const TensorInfo &x = *ctx.input(0);
    auto g = std::make_shared<ReduceGeom>();
    g->in_numel = x.numel();
    build_box(x.shape, mask, g.get());
    DType t = x.dtype;
    size_t scratch = static_cast<size_t>(g->out_numel) * 2 * sizeof(double);
    *out = make_fn_kernel(
        [g, t](const KernelIO &io) -> Status {
            if (t == DType::F64) return run_mvn<double>(*g, io);
            return run_mvn<float>(*g, io);
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

    s = OpSchema();
    s.op_type = "MeanVarianceNormalization";
    s.infer = mvn_infer;
    s.create = mvn_create;
    r.add(s);
}

}  // namespace ember
