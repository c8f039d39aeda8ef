// softmax.cc — Softmax and LogSoftmax.
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

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

constexpr int64_t kChunkWork = 32768;
constexpr int64_t kTile = 128;  // columns per tile: 2 * 128 doubles of stack

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

template <bool kLog, typename T>
void softmax_row(const T *x, T *y, int64_t n) {
    if (n == 0) return;
    T m = x[0];
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    double sum = 0;
    if (kLog) {
        for (int64_t i = 0; i < n; i++) sum += std::exp(x[i] - m);
        T shift = m + T(std::log(sum));
        for (int64_t i = 0; i < n; i++) y[i] = x[i] - shift;
    } else {
        for (int64_t i = 0; i < n; i++) {
            T e = std::exp(x[i] - m);
            y[i] = e;
            sum += e;
        }
        T inv = T(1.0 / sum);
        for (int64_t i = 0; i < n; i++) y[i] *= inv;
    }
}

// Columns [c0, c0 + w) of one [n, inner] block.
template <bool kLog, typename T>
void softmax_tile(const T *x, T *y, int64_t n, int64_t inner, int64_t w) {
    T m[kTile];
    double s[kTile];
    for (int64_t j = 0; j < w; j++) {
        m[j] = x[j];
        s[j] = 0;
    }
    for (int64_t i = 1; i < n; i++) {
        const T *xr = x + i * inner;
        for (int64_t j = 0; j < w; j++) m[j] = xr[j] > m[j] ? xr[j] : m[j];
    }
    for (int64_t i = 0; i < n; i++) {
        const T *xr = x + i * inner;
        T *yr = y + i * inner;
        for (int64_t j = 0; j < w; j++) {
            T e = std::exp(xr[j] - m[j]);
            if (!kLog) yr[j] = e;
            s[j] += e;
        }
    }
    if (kLog) {
        T shift[kTile];
        for (int64_t j = 0; j < w; j++) shift[j] = m[j] + T(std::log(s[j]));
        for (int64_t i = 0; i < n; i++) {
            const T *xr = x + i * inner;
            T *yr = y + i * inner;
            for (int64_t j = 0; j < w; j++) yr[j] = xr[j] - shift[j];
        }
    } else {
        T inv[kTile];
        for (int64_t j = 0; j < w; j++) inv[j] = T(1.0 / s[j]);
        for (int64_t i = 0; i < n; i++) {
            T *yr = y + i * inner;
            for (int64_t j = 0; j < w; j++) yr[j] *= inv[j];
        }
    }
}

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

template <bool kLog>
Status softmax_infer(InferContext &ctx) {
    SoftmaxGeom g;
    EMBER_RETURN_IF_ERROR(softmax_geom(ctx, kLog ? "LogSoftmax" : "Softmax", &g));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = ctx.input(0)->shape;
    return Status::OK();
}

template <bool kLog>
Status softmax_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    SoftmaxGeom g;
    EMBER_RETURN_IF_ERROR(softmax_geom(ctx, kLog ? "LogSoftmax" : "Softmax", &g));
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([g, t](const KernelIO &io) -> Status {
        if (t == DType::F64) return run_softmax<kLog, double>(g, io);
        return run_softmax<kLog, float>(g, io);
    });
    return Status::OK();
}

}  // namespace

void register_softmax_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "Softmax";
    s.infer = softmax_infer<false>;
    s.create = softmax_create<false>;
    r.add(s);

    s = OpSchema();
    s.op_type = "LogSoftmax";
    s.infer = softmax_infer<true>;
    s.create = softmax_create<true>;
    r.add(s);
}

}  // namespace ember
