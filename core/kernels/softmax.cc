// softmax.cc — Softmax, LogSoftmax and Hardmax.
//
// X is viewed as [outer, n, inner]: opset-13 semantics normalise over the one axis
// (n = shape[axis], inner = prod(shape[axis+1:])); the legacy form (coerce_2d = 1,
// written by the converter for opset < 13) flattens at `axis` and normalises over
// everything after it (n = prod(shape[axis:]), inner = 1).
//
// Numerically stable: the row maximum is subtracted before exp.
// inner == 1 (the usual case: last axis) runs each row as three contiguous passes.
// inner > 1 processes tiles of kTile columns of one [n, inner] block at a time, with
// the column maxima and sums in small stack arrays, so every inner loop is
// contiguous. Work is split over rows (or tiles).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

constexpr int64_t kChunkWork = 32768;
constexpr int64_t kTile = 128;  // columns per tile: 3 arrays of 128 on the stack

int64_t grain_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_item));
}

struct SoftmaxGeom {
    int64_t outer = 1, n = 1, inner = 1;
};

Status softmax_geom(const InferContext &ctx, const char *op, SoftmaxGeom *g) {
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input is missing", op);
    if (x->dtype != DType::F32 && x->dtype != DType::F64)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                      dtype_name(x->dtype));
    bool coerce = ctx.node->attr_int("coerce_2d", 0) != 0;
    int64_t rank = x->rank();
    int64_t raw = ctx.node->attr_int("axis", coerce ? 1 : -1);
    int64_t axis;
    if (rank == 0) {
        // A scalar is a single row of one element.
        if (raw != 0 && raw != -1)
            return errorf(EMBER_ERR_SHAPE, "%s: axis %lld for a scalar", op, (long long)raw);
        *g = SoftmaxGeom();
        return Status::OK();
    }
    // Legacy axis may equal rank (everything in `outer`, rows of one element).
    if (coerce && raw == rank) {
        axis = rank;
    } else if (!normalize_axis(raw, rank, &axis)) {
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is out of range for rank %lld", op,
                      (long long)raw, (long long)rank);
    }
    g->outer = 1;
    for (int64_t i = 0; i < axis; i++) g->outer *= x->shape[i];
    if (coerce) {
        g->n = 1;
        for (int64_t i = axis; i < rank; i++) g->n *= x->shape[i];
        g->inner = 1;
    } else {
        g->n = x->shape[axis];
        g->inner = 1;
        for (int64_t i = axis + 1; i < rank; i++) g->inner *= x->shape[i];
    }
    return Status::OK();
}

// The elementwise loops below run in fixed blocks of kBlock: GCC's -O2 cost model
// vectorises a loop only when its trip count is a known multiple of the vector
// width, and __restrict spares the run-time alias checks it would also refuse.
// The float compares in exp_approx become vector selects only without
// -ftrapping-math, which Ember never relies on (it reads no FP exception flags), so
// this section is compiled with no-trapping-math.
constexpr int64_t kBlock = 16;

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

// exp for float, vectorisable (no library call, no branch): exp(x) = 2^n * exp(r)
// with n = round(x / ln 2) and r = x - n ln 2 in [-0.347, 0.347]; ln 2 is split in a
// part exact in 9 bits and a remainder (Cody-Waite), so n * ln2_hi is exact. exp(r)
// is its Taylor series to degree 7 (truncation error below 6e-9): measured relative
// error 1e-7 over [-87, 20]. x < -87 gives 0 (exp is below the smallest normal float
// there); x > 88 saturates near FLT_MAX (softmax only calls it with x <= 0); NaN
// stays NaN.
inline float exp_approx(float x) {
    const float kLog2e = 1.44269504088896341f;
    const float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440054e-4f;
    const float kRound = 12582912.0f;  // 1.5 * 2^23: v + kRound - kRound rounds v
    float xc = x > -87.0f ? x : -87.0f;  // NaN compares false: xc = -87
    xc = xc < 88.0f ? xc : 88.0f;
    float n = (xc * kLog2e + kRound) - kRound;
    float r = (xc - n * kLn2Hi) - n * kLn2Lo;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = (static_cast<int32_t>(n) + 127) << 23;  // 2^n, n in [-126, 127]
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    float e = x > -87.0f ? p * scale : 0.0f;
    return x != x ? x : e;
}

inline float exp_of(float x) { return exp_approx(x); }
inline double exp_of(double x) { return std::exp(x); }

template <typename T>
T row_max(const T *__restrict x, int64_t n) {
    T lanes[kBlock];
    for (int64_t j = 0; j < kBlock; j++) lanes[j] = x[0];
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) lanes[j] = x[i + j] > lanes[j] ? x[i + j] : lanes[j];
    T m = x[0];
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int64_t j = 0; j < kBlock; j++) m = lanes[j] > m ? lanes[j] : m;
    return m;
}

// y[i] = exp(x[i] - m); returns the sum of the y[i].
template <typename T>
double exp_shifted(const T *__restrict x, T *__restrict y, int64_t n, T m) {
    T lanes[kBlock] = {};
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) {
            T e = exp_of(x[i + j] - m);
            y[i + j] = e;
            lanes[j] += e;
        }
    double sum = 0;
    for (; i < n; i++) {
        T e = exp_of(x[i] - m);
        y[i] = e;
        sum += e;
    }
    for (int64_t j = 0; j < kBlock; j++) sum += lanes[j];
    return sum;
}

// y[i] = x[i] - c
template <typename T>
void sub_row(const T *__restrict x, T *__restrict y, int64_t n, T c) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) y[i + j] = x[i + j] - c;
    for (; i < n; i++) y[i] = x[i] - c;
}

// y[i] *= c
template <typename T>
void scale_row(T *__restrict y, int64_t n, T c) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) y[i + j] *= c;
    for (; i < n; i++) y[i] *= c;
}

template <bool kLog, typename T>
void softmax_row(const T *x, T *y, int64_t n) {
    if (n == 0) return;
    const T m = row_max(x, n);
    const double sum = exp_shifted(x, y, n, m);
    if (kLog)
        sub_row(x, y, n, T(m + T(std::log(sum))));
    else
        scale_row(y, n, T(1.0 / sum));
}

// ---- tiles of columns (inner > 1) ----
// Column j of a tile is one softmax over n rows of stride `inner`; the tile keeps
// per-column maxima m, sums s and the final shift or scale in stack arrays.

// m[j] = max(m[j], x[j])
template <typename T>
void max_into(T *__restrict m, const T *__restrict x, int64_t w) {
    int64_t j = 0;
    for (; j + kBlock <= w; j += kBlock)
        for (int64_t k = 0; k < kBlock; k++) m[j + k] = x[j + k] > m[j + k] ? x[j + k] : m[j + k];
    for (; j < w; j++) m[j] = x[j] > m[j] ? x[j] : m[j];
}

// e = exp(x[j] - m[j]); s[j] += e; and y[j] = e when y is given.
template <typename T>
void exp_sum_into(const T *__restrict x, const T *__restrict m, T *__restrict s,
                  T *__restrict y, int64_t w) {
    int64_t j = 0;
    if (y) {
        for (; j + kBlock <= w; j += kBlock)
            for (int64_t k = 0; k < kBlock; k++) {
                T e = exp_of(x[j + k] - m[j + k]);
                y[j + k] = e;
                s[j + k] += e;
            }
        for (; j < w; j++) {
            T e = exp_of(x[j] - m[j]);
            y[j] = e;
            s[j] += e;
        }
    } else {
        for (; j + kBlock <= w; j += kBlock)
            for (int64_t k = 0; k < kBlock; k++) s[j + k] += exp_of(x[j + k] - m[j + k]);
        for (; j < w; j++) s[j] += exp_of(x[j] - m[j]);
    }
}

// y[j] = x[j] - c[j]
template <typename T>
void sub_cols(const T *__restrict x, const T *__restrict c, T *__restrict y, int64_t w) {
    int64_t j = 0;
    for (; j + kBlock <= w; j += kBlock)
        for (int64_t k = 0; k < kBlock; k++) y[j + k] = x[j + k] - c[j + k];
    for (; j < w; j++) y[j] = x[j] - c[j];
}

// y[j] *= c[j]
template <typename T>
void scale_cols(T *__restrict y, const T *__restrict c, int64_t w) {
    int64_t j = 0;
    for (; j + kBlock <= w; j += kBlock)
        for (int64_t k = 0; k < kBlock; k++) y[j + k] *= c[j + k];
    for (; j < w; j++) y[j] *= c[j];
}

// Columns [0, w) of one [n, inner] block starting at x / y.
template <bool kLog, typename T>
void softmax_tile(const T *x, T *y, int64_t n, int64_t inner, int64_t w) {
    T m[kTile], s[kTile], c[kTile];
    for (int64_t j = 0; j < w; j++) {
        m[j] = x[j];
        s[j] = 0;
    }
    for (int64_t i = 1; i < n; i++) max_into(m, x + i * inner, w);
    for (int64_t i = 0; i < n; i++)
        exp_sum_into(x + i * inner, m, s, kLog ? static_cast<T *>(nullptr) : y + i * inner, w);
    if (kLog) {
        for (int64_t j = 0; j < w; j++) c[j] = m[j] + T(std::log(s[j]));
        for (int64_t i = 0; i < n; i++) sub_cols(x + i * inner, c, y + i * inner, w);
    } else {
        for (int64_t j = 0; j < w; j++) c[j] = T(1) / s[j];
        for (int64_t i = 0; i < n; i++) scale_cols(y + i * inner, c, w);
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

template <bool kLog, typename T>
Status run_softmax(const SoftmaxGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    if (g.n == 0) return Status::OK();
    if (g.inner == 1) {
        io.pool->parallel_for(g.outer, grain_for(g.n * 4), io.max_threads,
                              [&](int64_t r0, int64_t r1) {
            for (int64_t r = r0; r < r1; r++) softmax_row<kLog>(x + r * g.n, y + r * g.n, g.n);
        });
        return Status::OK();
    }
    const int64_t tiles = (g.inner + kTile - 1) / kTile;
    const int64_t block = g.n * g.inner;
    const int64_t tile_work = g.n * std::min(kTile, g.inner) * 4;
    io.pool->parallel_for(g.outer * tiles, grain_for(tile_work), io.max_threads,
                          [&](int64_t t0, int64_t t1) {
        int64_t o = t0 / tiles, t = t0 - o * tiles;  // once per chunk
        for (int64_t k = t0; k < t1; k++) {
            int64_t c0 = t * kTile;
            int64_t w = std::min(kTile, g.inner - c0);
            softmax_tile<kLog>(x + o * block + c0, y + o * block + c0, g.n, g.inner, w);
            if (++t == tiles) {
                t = 0;
                o++;
            }
        }
    });
    return Status::OK();
}

// ---- Hardmax: 1 at the first maximum of each row (along the same axes), else 0 ----

// Columns [0, w) of one [n, inner] block.
template <typename T>
void hardmax_tile(const T *x, T *y, int64_t n, int64_t inner, int64_t w) {
    T best[kTile];
    int64_t at[kTile];
    for (int64_t j = 0; j < w; j++) {
        best[j] = x[j];
        at[j] = 0;
    }
    for (int64_t i = 1; i < n; i++) {
        const T *xr = x + i * inner;
        for (int64_t j = 0; j < w; j++)
            if (xr[j] > best[j]) {
                best[j] = xr[j];
                at[j] = i;
            }
    }
    for (int64_t i = 0; i < n; i++) std::fill(y + i * inner, y + i * inner + w, T(0));
    for (int64_t j = 0; j < w; j++) y[at[j] * inner + j] = T(1);
}

template <typename T>
Status run_hardmax(const SoftmaxGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    if (g.n == 0) return Status::OK();
    const int64_t tiles = (g.inner + kTile - 1) / kTile;
    const int64_t block = g.n * g.inner;
    io.pool->parallel_for(g.outer * tiles, grain_for(g.n * std::min(kTile, g.inner) * 2),
                          io.max_threads, [&](int64_t t0, int64_t t1) {
        int64_t o = t0 / tiles, t = t0 - o * tiles;  // once per chunk
        for (int64_t k = t0; k < t1; k++) {
            int64_t c0 = t * kTile;
            int64_t w = std::min(kTile, g.inner - c0);
            hardmax_tile(x + o * block + c0, y + o * block + c0, g.n, g.inner, w);
            if (++t == tiles) {
                t = 0;
                o++;
            }
        }
    });
    return Status::OK();
}

// ---- schemas ----

enum Mode { kSoftmax, kLogSoftmax, kHardmax };
const char *const kModeNames[] = {"Softmax", "LogSoftmax", "Hardmax"};

template <int kMode>
Status softmax_infer(InferContext &ctx) {
    SoftmaxGeom g;
    EMBER_RETURN_IF_ERROR(softmax_geom(ctx, kModeNames[kMode], &g));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = ctx.input(0)->shape;
    return Status::OK();
}

template <int kMode>
Status softmax_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    SoftmaxGeom g;
    EMBER_RETURN_IF_ERROR(softmax_geom(ctx, kModeNames[kMode], &g));
    const bool f64 = ctx.input(0)->dtype == DType::F64;
    *out = make_fn_kernel([g, f64](const KernelIO &io) -> Status {
        if (kMode == kHardmax) return f64 ? run_hardmax<double>(g, io) : run_hardmax<float>(g, io);
        constexpr bool kLog = kMode == kLogSoftmax;
        return f64 ? run_softmax<kLog, double>(g, io) : run_softmax<kLog, float>(g, io);
    });
    return Status::OK();
}

}  // namespace

void register_softmax_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "Softmax";
    s.infer = softmax_infer<kSoftmax>;
    s.create = softmax_create<kSoftmax>;
    r.add(s);

    s = OpSchema();
    s.op_type = "LogSoftmax";
    s.infer = softmax_infer<kLogSoftmax>;
    s.create = softmax_create<kLogSoftmax>;
    r.add(s);

    s = OpSchema();
    s.op_type = "Hardmax";
    s.infer = softmax_infer<kHardmax>;
    s.create = softmax_create<kHardmax>;
    r.add(s);
}

}  // namespace ember
