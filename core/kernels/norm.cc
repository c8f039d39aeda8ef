// norm.cc — BatchNormalization, InstanceNormalization, LayerNormalization, LRN.
//
// All four work on contiguous blocks: a [N, C, spatial...] tensor is N*C planes of
// `spatial` elements (BatchNormalization, InstanceNormalization, LRN), a
// LayerNormalization input is `outer` rows of `inner` elements. Statistics are
// accumulated in double (a plane can hold 10^5..10^6 elements; float sums would
// lose digits the comparison tolerance of 1e-3 can notice), the elementwise pass
// runs in the tensor's type. Work is split over planes or rows.
#include <algorithm>
#include <cmath>
#include <string>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

constexpr int64_t kChunkWork = 32768;

int64_t grain_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_item));
}

Status bad_dtype(const char *op, DType t) {
    return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                  dtype_name(t));
}

bool is_float(DType t) { return t == DType::F32 || t == DType::F64; }

// Checks that input `i` exists, has X's dtype and holds exactly `n` elements.
Status check_param(const InferContext &ctx, const char *op, size_t i, const char *name,
                   int64_t n) {
    const TensorInfo *t = ctx.input(i);
    if (!t) return errorf(EMBER_ERR_SHAPE, "%s: input %s is missing", op, name);
    if (t->dtype != ctx.input(0)->dtype)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: %s is %s but X is %s", op, name,
                      dtype_name(t->dtype), dtype_name(ctx.input(0)->dtype));
    if (t->numel() != n)
        return errorf(EMBER_ERR_SHAPE, "%s: %s has shape %s, expected %lld elements", op, name,
                      shape_str(t->shape).c_str(), (long long)n);
    return Status::OK();
}

// Shape of X as [N, C, spatial]: planes = N*C, plane = prod(spatial).
struct Planes {
    int64_t n = 0, c = 0, size = 0;
};

Planes planes_of(const Shape &s) {
    Planes p;
    p.n = s[0];
    p.c = s[1];
    p.size = 1;
    for (size_t i = 2; i < s.size(); i++) p.size *= s[i];
    return p;
}

// Loops run in fixed blocks of kBlock: GCC's -O2 cost model vectorises a loop only
// when its trip count is a known multiple of the vector width, and __restrict spares
// the run-time alias checks it would also refuse.
constexpr int64_t kBlock = 16;

// Sum of x[0, n) in double, kBlock lanes.
template <typename T>
double sum_of(const T *__restrict x, int64_t n) {
    double lanes[kBlock] = {};
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) lanes[j] += double(x[i + j]);
    double s = 0;
    for (; i < n; i++) s += double(x[i]);
    for (int64_t j = 0; j < kBlock; j++) s += lanes[j];
    return s;
}

// Sum of (x[i] - m)^2 over [0, n) in double.
template <typename T>
double sq_dev_sum(const T *__restrict x, int64_t n, double m) {
    double lanes[kBlock] = {};
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) {
            double d = double(x[i + j]) - m;
            lanes[j] += d * d;
        }
    double s = 0;
    for (; i < n; i++) {
        double d = double(x[i]) - m;
        s += d * d;
    }
    for (int64_t j = 0; j < kBlock; j++) s += lanes[j];
    return s;
}

// y[i] = x[i] * a + b
template <typename T>
void affine(const T *__restrict x, T *__restrict y, int64_t n, T a, T b) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) y[i + j] = x[i + j] * a + b;
    for (; i < n; i++) y[i] = x[i] * a + b;
}

// Mean and population variance of n values (two passes, double accumulators).
template <typename T>
void moments(const T *x, int64_t n, double *mean, double *var) {
    double m = n > 0 ? sum_of(x, n) / double(n) : 0.0;
    *mean = m;
    *var = n > 0 ? sq_dev_sum(x, n, m) / double(n) : 0.0;
}

// ---- BatchNormalization ----
// Inference: y = (x - mean) / sqrt(var + eps) * scale + B, per channel.
// training_mode = 1: mean and var come from the batch (population variance over N
// and the spatial dims); outputs 1 and 2 are the updated running statistics,
// running = input * momentum + batch * (1 - momentum).

Status batch_norm_infer(InferContext &ctx) {
    const char *op = "BatchNormalization";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    if (!is_float(x->dtype)) return bad_dtype(op, x->dtype);
    if (x->rank() < 2)
        return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, ...], got %s", op,
                      shape_str(x->shape).c_str());
    if (ctx.node->attr_int("spatial", 1) != 1)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: spatial = 0 (legacy per-element form)", op);
    int64_t c = x->shape[1];
    static const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
    for (size_t i = 1; i < 5; i++) EMBER_RETURN_IF_ERROR(check_param(ctx, op, i, names[i], c));
    ctx.output(0).dtype = x->dtype;
    ctx.output(0).shape = x->shape;
    for (size_t o = 1; o < ctx.num_outputs(); o++) {
        ctx.output(o).dtype = x->dtype;
        ctx.output(o).shape = {c};
    }
    return Status::OK();
}

struct BatchNormParams {
    Planes p;
    double epsilon = 1e-5;
    double momentum = 0.9;
    bool training = false;
};


template <typename T>
Status run_batch_norm(const BatchNormParams &bp, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    const T *scale = io.inputs[1].as<const T>();
    const T *bias = io.inputs[2].as<const T>();
    const T *mean = io.inputs[3].as<const T>();
    const T *var = io.inputs[4].as<const T>();
    T *y = io.outputs[0].as<T>();
    T *run_mean = io.num_outputs > 1 ? io.outputs[1].as<T>() : nullptr;
    T *run_var = io.num_outputs > 2 ? io.outputs[2].as<T>() : nullptr;
    const Planes p = bp.p;
    if (!bp.training) {
        io.pool->parallel_for(p.n * p.c, grain_for(p.size), io.max_threads,
                              [&](int64_t b0, int64_t b1) {
            int64_t c = b0 % p.c;  // once per chunk; advanced without division below
            for (int64_t q = b0; q < b1; q++) {
                double a = double(scale[c]) / std::sqrt(double(var[c]) + bp.epsilon);
                double b = double(bias[c]) - double(mean[c]) * a;
                affine(x + q * p.size, y + q * p.size, p.size, T(a), T(b));
                if (++c == p.c) c = 0;
            }
        });
        for (int64_t c = 0; c < p.c; c++) {
            if (run_mean) run_mean[c] = mean[c];
            if (run_var) run_var[c] = var[c];
        }
        return Status::OK();
    }
    // Training mode: one channel per item; each touches N planes.
    io.pool->parallel_for(p.c, grain_for(p.n * p.size * 3), io.max_threads,
                          [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; c++) {
            double sum = 0;
            for (int64_t n = 0; n < p.n; n++) sum += sum_of(x + (n * p.c + c) * p.size, p.size);
            double count = double(p.n) * double(p.size);
            double m = count > 0 ? sum / count : 0.0;
            double sq = 0;
            for (int64_t n = 0; n < p.n; n++)
                sq += sq_dev_sum(x + (n * p.c + c) * p.size, p.size, m);
            double v = count > 0 ? sq / count : 0.0;
            double a = double(scale[c]) / std::sqrt(v + bp.epsilon);
            double b = double(bias[c]) - m * a;
            for (int64_t n = 0; n < p.n; n++) {
                int64_t off = (n * p.c + c) * p.size;
                affine(x + off, y + off, p.size, T(a), T(b));
            }
            if (run_mean) run_mean[c] = T(double(mean[c]) * bp.momentum + m * (1 - bp.momentum));
            if (run_var) run_var[c] = T(double(var[c]) * bp.momentum + v * (1 - bp.momentum));
        }
    });
    return Status::OK();
}

Status batch_norm_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    BatchNormParams bp;
    bp.p = planes_of(ctx.input(0)->shape);
    bp.epsilon = ctx.node->attr_float("epsilon", 1e-5f);
    bp.momentum = ctx.node->attr_float("momentum", 0.9f);
    bp.training = ctx.node->attr_int("training_mode", 0) != 0;
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([bp, t](const KernelIO &io) -> Status {
        if (t == DType::F32) return run_batch_norm<float>(bp, io);
        if (t == DType::F64) return run_batch_norm<double>(bp, io);
        return bad_dtype("BatchNormalization", t);
    });
    return Status::OK();
}

// ---- InstanceNormalization ----
// Per (n, c) plane: y = (x - mean) / sqrt(var + eps) * scale[c] + B[c].

Status instance_norm_infer(InferContext &ctx) {
    const char *op = "InstanceNormalization";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    if (!is_float(x->dtype)) return bad_dtype(op, x->dtype);
    if (x->rank() < 3)
        return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, D1, ...], got %s", op,
                      shape_str(x->shape).c_str());
    int64_t c = x->shape[1];
    EMBER_RETURN_IF_ERROR(check_param(ctx, op, 1, "scale", c));
    EMBER_RETURN_IF_ERROR(check_param(ctx, op, 2, "B", c));
    ctx.output(0).dtype = x->dtype;
    ctx.output(0).shape = x->shape;
    return Status::OK();
}


template <typename T>
Status run_instance_norm(const Planes &p, double eps, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    const T *scale = io.inputs[1].as<const T>();
    const T *bias = io.inputs[2].as<const T>();
    T *y = io.outputs[0].as<T>();
    io.pool->parallel_for(p.n * p.c, grain_for(p.size * 3), io.max_threads,
                          [&](int64_t b0, int64_t b1) {
        int64_t c = b0 % p.c;  // once per chunk
        for (int64_t q = b0; q < b1; q++) {
            const T *xp = x + q * p.size;
            double m, v;
            moments(xp, p.size, &m, &v);
            double a = double(scale[c]) / std::sqrt(v + eps);
            double b = double(bias[c]) - m * a;
            affine(xp, y + q * p.size, p.size, T(a), T(b));
            if (++c == p.c) c = 0;
        }
    });
    return Status::OK();
}

Status instance_norm_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    Planes p = planes_of(ctx.input(0)->shape);
    double eps = ctx.node->attr_float("epsilon", 1e-5f);
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([p, eps, t](const KernelIO &io) -> Status {
        if (t == DType::F32) return run_instance_norm<float>(p, eps, io);
        if (t == DType::F64) return run_instance_norm<double>(p, eps, io);
        return bad_dtype("InstanceNormalization", t);
    });
    return Status::OK();
}

// ---- LayerNormalization ----
// X viewed as [outer, inner] with inner = prod(shape[axis:]). Per row:
// y = (x - mean) * inv_std * Scale + B, inv_std = 1 / sqrt(var + eps).
// Scale and B are the normalised shape, or a suffix of it (repeated), or a scalar.
// Outputs 1 (Mean) and 2 (InvStdDev), when present, have shape
// shape[:axis] + [1] * (rank - axis).

struct LayerNormParams {
    int64_t outer = 0, inner = 0;
    int64_t scale_period = 0;  // Scale repeats every scale_period elements of a row
    int64_t bias_period = 0;   // 0 = no B
    double epsilon = 1e-5;
};

// Elements per repetition of `p` along the normalised shape `norm`, or -1 when p's
// shape (leading 1s ignored) is not a suffix of it.
int64_t suffix_period(const Shape &p, const Shape &norm) {
    size_t start = 0;
    while (start < p.size() && p[start] == 1) start++;
    size_t len = p.size() - start;
    if (len > norm.size()) return -1;
    int64_t period = 1;
    for (size_t i = 0; i < len; i++) {
        if (p[start + i] != norm[norm.size() - len + i]) return -1;
        period *= p[start + i];
    }
    return period;
}

Status layer_norm_params(const InferContext &ctx, LayerNormParams *lp, int64_t *axis_out) {
    const char *op = "LayerNormalization";
    const TensorInfo *x = ctx.input(0);
    const TensorInfo *scale = ctx.input(1);
    const TensorInfo *bias = ctx.input(2);
    if (!x || !scale) return errorf(EMBER_ERR_SHAPE, "%s: inputs X and Scale are required", op);
    if (!is_float(x->dtype)) return bad_dtype(op, x->dtype);
    int64_t rank = x->rank();
    int64_t axis;
    if (!normalize_axis(ctx.node->attr_int("axis", -1), rank, &axis))
        return errorf(EMBER_ERR_SHAPE, "%s: axis %lld is out of range for rank %lld", op,
                      (long long)ctx.node->attr_int("axis", -1), (long long)rank);
    Shape norm(x->shape.begin() + axis, x->shape.end());
    lp->outer = 1;
    for (int64_t i = 0; i < axis; i++) lp->outer *= x->shape[i];
    lp->inner = shape_numel(norm);
    lp->epsilon = ctx.node->attr_float("epsilon", 1e-5f);
    const TensorInfo *params[2] = {scale, bias};
    const char *names[2] = {"Scale", "B"};
    int64_t periods[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (!params[k]) continue;
        if (params[k]->dtype != x->dtype)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: %s is %s but X is %s", op, names[k],
                          dtype_name(params[k]->dtype), dtype_name(x->dtype));
        periods[k] = suffix_period(params[k]->shape, norm);
        if (periods[k] < 0)
            return errorf(EMBER_ERR_SHAPE, "%s: %s shape %s does not fit normalised shape %s", op,
                          names[k], shape_str(params[k]->shape).c_str(),
                          shape_str(norm).c_str());
    }
    lp->scale_period = periods[0];
    lp->bias_period = periods[1];
    if (axis_out) *axis_out = axis;
    return Status::OK();
}

Status layer_norm_infer(InferContext &ctx) {
    LayerNormParams lp;
    int64_t axis;
    EMBER_RETURN_IF_ERROR(layer_norm_params(ctx, &lp, &axis));
    const TensorInfo &x = *ctx.input(0);
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = x.shape;
    Shape stat_shape = x.shape;
    for (size_t i = static_cast<size_t>(axis); i < stat_shape.size(); i++) stat_shape[i] = 1;
    for (size_t o = 1; o < ctx.num_outputs() && o < 3; o++) {
        ctx.output(o).dtype = x.dtype;
        ctx.output(o).shape = stat_shape;
    }
    return Status::OK();
}

// y[i] = (x[i] - m) * inv * scale[i] + bias[i] (bias may be null).
template <typename T>
void layer_norm_row(const T *__restrict x, const T *__restrict scale, const T *__restrict bias,
                    T *__restrict y, int64_t n, T m, T inv) {
    int64_t i = 0;
    if (bias) {
        for (; i + kBlock <= n; i += kBlock)
            for (int64_t j = 0; j < kBlock; j++)
                y[i + j] = (x[i + j] - m) * inv * scale[i + j] + bias[i + j];
        for (; i < n; i++) y[i] = (x[i] - m) * inv * scale[i] + bias[i];
    } else {
        for (; i + kBlock <= n; i += kBlock)
            for (int64_t j = 0; j < kBlock; j++) y[i + j] = (x[i + j] - m) * inv * scale[i + j];
        for (; i < n; i++) y[i] = (x[i] - m) * inv * scale[i];
    }
}

template <typename T>
Status run_layer_norm(const LayerNormParams &lp, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    const T *scale = io.inputs[1].as<const T>();
    const T *bias = io.num_inputs > 2 ? io.inputs[2].as<const T>() : nullptr;
    if (lp.bias_period == 0) bias = nullptr;
    T *y = io.outputs[0].as<T>();
    T *mean_out = io.num_outputs > 1 ? io.outputs[1].as<T>() : nullptr;
    T *inv_out = io.num_outputs > 2 ? io.outputs[2].as<T>() : nullptr;
    const int64_t n = lp.inner;
    const bool full = lp.scale_period == n && (bias == nullptr || lp.bias_period == n);
    io.pool->parallel_for(lp.outer, grain_for(n * 3), io.max_threads, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; r++) {
            const T *xr = x + r * n;
            T *yr = y + r * n;
            double m, v;
            moments(xr, n, &m, &v);
            double inv = 1.0 / std::sqrt(v + lp.epsilon);
            if (mean_out) mean_out[r] = T(m);
            if (inv_out) inv_out[r] = T(inv);
            const T tm = T(m), ti = T(inv);
            if (full) {
                layer_norm_row(xr, scale, bias, yr, n, tm, ti);
            } else {
                // Scale / B repeat along the row: counters wrap instead of dividing.
                int64_t si = 0, bi = 0;
                for (int64_t i = 0; i < n; i++) {
                    T val = (xr[i] - tm) * ti * scale[si];
                    if (++si == lp.scale_period) si = 0;
                    if (bias) {
                        val += bias[bi];
                        if (++bi == lp.bias_period) bi = 0;
                    }
                    yr[i] = val;
                }
            }
        }
    });
    return Status::OK();
}

Status layer_norm_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    LayerNormParams lp;
    EMBER_RETURN_IF_ERROR(layer_norm_params(ctx, &lp, nullptr));
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([lp, t](const KernelIO &io) -> Status {
        if (t == DType::F32) return run_layer_norm<float>(lp, io);
        if (t == DType::F64) return run_layer_norm<double>(lp, io);
        return bad_dtype("LayerNormalization", t);
    });
    return Status::OK();
}

// ---- LRN ----
// y = x / (bias + alpha / size * sum of x^2 over channels
//          [c - floor((size-1)/2), c + ceil((size-1)/2)])^beta

struct LrnParams {
    Planes p;
    int64_t size = 1;
    double alpha = 1e-4, beta = 0.75, bias = 1.0;
};

Status lrn_params(const InferContext &ctx, LrnParams *lp) {
    const char *op = "LRN";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    if (!is_float(x->dtype)) return bad_dtype(op, x->dtype);
    if (x->rank() < 2)
        return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, ...], got %s", op,
                      shape_str(x->shape).c_str());
    lp->p = planes_of(x->shape);
    lp->size = ctx.node->attr_int("size", 0);
    if (lp->size < 1)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: size %lld (must be >= 1)", op,
                      (long long)lp->size);
    lp->alpha = ctx.node->attr_float("alpha", 1e-4f);
    lp->beta = ctx.node->attr_float("beta", 0.75f);
    lp->bias = ctx.node->attr_float("bias", 1.0f);
    return Status::OK();
}

Status lrn_infer(InferContext &ctx) {
    LrnParams lp;
    EMBER_RETURN_IF_ERROR(lrn_params(ctx, &lp));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = ctx.input(0)->shape;
    return Status::OK();
}

// acc[i] += x[i]^2
template <typename T>
void add_squares(T *__restrict acc, const T *__restrict x, int64_t n) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) acc[i + j] += x[i + j] * x[i + j];
    for (; i < n; i++) acc[i] += x[i] * x[i];
}

template <typename T>
Status run_lrn(const LrnParams &lp, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    const Planes p = lp.p;
    const int64_t before = (lp.size - 1) / 2, after = lp.size - 1 - before;
    const T k = T(lp.bias), a = T(lp.alpha / double(lp.size));
    const double beta = lp.beta;
    io.pool->parallel_for(p.n * p.c, grain_for(p.size * (lp.size + 4)), io.max_threads,
                          [&](int64_t b0, int64_t b1) {
        int64_t c = b0 % p.c;  // once per chunk
        for (int64_t q = b0; q < b1; q++) {
            const int64_t nbase = q - c;  // plane index of channel 0 of this image
            const int64_t lo = std::max<int64_t>(0, c - before);
            const int64_t hi = std::min<int64_t>(p.c - 1, c + after);
            T *yp = y + q * p.size;
            // The output plane accumulates the window's sum of squares first.
            for (int64_t i = 0; i < p.size; i++) yp[i] = 0;
            for (int64_t cc = lo; cc <= hi; cc++) add_squares(yp, x + (nbase + cc) * p.size, p.size);
            const T *xp = x + q * p.size;
            if (beta == 0.75) {
                for (int64_t i = 0; i < p.size; i++) {
                    T d = k + a * yp[i];
                    T r = std::sqrt(d);
                    yp[i] = xp[i] / (r * std::sqrt(r));  // d^0.75 = sqrt(d) * d^0.25
                }
            } else if (beta == 0.5) {
                for (int64_t i = 0; i < p.size; i++) yp[i] = xp[i] / std::sqrt(k + a * yp[i]);
            } else {
                for (int64_t i = 0; i < p.size; i++)
                    yp[i] = xp[i] / T(std::pow(double(k + a * yp[i]), beta));
            }
            if (++c == p.c) c = 0;
        }
    });
    return Status::OK();
}

Status lrn_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    LrnParams lp;
    EMBER_RETURN_IF_ERROR(lrn_params(ctx, &lp));
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([lp, t](const KernelIO &io) -> Status {
        if (t == DType::F32) return run_lrn<float>(lp, io);
        if (t == DType::F64) return run_lrn<double>(lp, io);
        return bad_dtype("LRN", t);
    });
    return Status::OK();
}

}  // namespace

void register_norm_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "BatchNormalization";
    s.infer = batch_norm_infer;
    s.create = batch_norm_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "InstanceNormalization";
    s.infer = instance_norm_infer;
    s.create = instance_norm_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "LayerNormalization";
    s.infer = layer_norm_infer;
    s.create = layer_norm_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "LRN";
    s.infer = lrn_infer;
    s.create = lrn_create;
    r.add(s);
}

}  // namespace ember
