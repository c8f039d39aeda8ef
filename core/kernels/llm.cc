// llm.cc — operators of decoder-only (Llama-family) language models, domain "ember".
//
//   ember.Linear(X[..., K], W[N, K]) -> Y[..., N]          Y = X W^T (torch Linear)
//       W stays in the [out, in] layout of llama2.c and GGUF, used in place from the
//       mapped file: no packed copy, and a tied classifier is the embedding itself.
//       Fewer than kGemmRows rows of X (decode: 1): dot products over W's rows
//       (llm_kernels.h), threads split the rows. More: the blocked SGEMM (gemm.h) with
//       B = W^T as a strided view, packed per run into scratch.
//   ember.RMSNorm(X[..., D], W[D]) -> Y, attr epsilon:      y = x / sqrt(mean(x^2) + eps) * w
//   ember.Rotary(X[T, n*head_dim], pos[1]) -> Y, attrs head_dim, theta:
//       row t is at position pos + t; each head's adjacent pairs (x[2i], x[2i+1]) turn
//       by (pos + t) * theta^(-2i/head_dim) (llama2.c / GGUF "llama", not GPT-NeoX halves).
//   ember.SwiGLU(G, U) -> Y:                                 y = g * sigmoid(g) * u
//   ember.CacheAttention(Q[T, H*hd], K[T, KV*hd], V[T, KV*hd], k_cache[L, C, KV*hd],
//                        v_cache[L, C, KV*hd], pos[1]) -> O[T, H*hd],
//                        attrs layer, heads, kv_heads, head_dim:
//       writes K and V into the caches IN PLACE at [layer, pos .. pos+T), then causal
//       attention: row t of query head h attends to cache rows [0, pos+t] of kv head
//       h / (H/KV) (grouped-query). The caches are graph inputs owned by the caller (the
//       generator, core/generate.h); pos + T > C is an error at run time.
//
// Everything is float32. Angles of the rotary embedding are computed in double.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "core/kernels/cpu_features.h"
#include "core/kernels/gemm.h"
#include "core/kernels/llm_kernels.h"
#include "core/kernels/llm_quant.h"
#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

// ---------------------------------------------------------------------------------
// Portable inner loops (the fallback, and what the AVX2 ones are checked against)
// ---------------------------------------------------------------------------------

namespace {

constexpr int64_t kLanes = 16;  // fixed-trip inner loops: GCC vectorises them at -O2

float dot_portable(const float *__restrict a, const float *__restrict b, int64_t n) {
    float lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int64_t j = 0; j < kLanes; j++) lanes[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (int64_t j = 0; j < kLanes; j++) s += lanes[j];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void dot_rows_portable(const float *x, int64_t m, int64_t ldx, const float *w, int64_t k,
                       int64_t r0, int64_t r1, float *y, int64_t ldy) {
    for (int64_t r = r0; r < r1; r++)
        for (int64_t i = 0; i < m; i++) y[i * ldy + r] = dot_portable(x + i * ldx, w + r * k, k);
}

void scores_portable(const float *q, const float *kv, int64_t stride, int64_t d, int64_t n,
                     float scale, float *s) {
    for (int64_t j = 0; j < n; j++) s[j] = dot_portable(q, kv + j * stride, d) * scale;
}

void weighted_sum_portable(const float *p, const float *kv, int64_t stride, int64_t d, int64_t n,
                           float *out) {
    for (int64_t c = 0; c < d; c++) out[c] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float pj = p[j];
        const float *__restrict v = kv + j * stride;
        float *__restrict o = out;
        for (int64_t c = 0; c < d; c++) o[c] += pj * v[c];
    }
}

void softmax_portable(float *s, int64_t n) {
    float mx = s[0];
    for (int64_t j = 1; j < n; j++) mx = std::max(mx, s[j]);
    float sum = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        s[j] = std::exp(s[j] - mx);
        sum += s[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < n; j++) s[j] *= inv;
}

void swiglu_portable(const float *g, const float *u, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

int64_t argmax_portable(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void attend_one_portable(const float *q, const float *k, const float *v, int64_t kvw, int64_t heads,
                         int64_t group, int64_t hd, int64_t n, float scale, float *s, float *out) {
    for (int64_t j = 0; j < n; j++)
        for (int64_t h = 0; h < heads; h++)
            s[h * n + j] = dot_portable(q + h * hd, k + j * kvw + (h / group) * hd, hd) * scale;
    for (int64_t h = 0; h < heads; h++) softmax_portable(s + h * n, n);
    for (int64_t c = 0; c < heads * hd; c++) out[c] = 0.0f;
    for (int64_t j = 0; j < n; j++)
        for (int64_t h = 0; h < heads; h++) {
            const float p = s[h * n + j];
            const float *__restrict vr = v + j * kvw + (h / group) * hd;
            float *__restrict o = out + h * hd;
            for (int64_t c = 0; c < hd; c++) o[c] += p * vr[c];
        }
}

const LlmKernels kPortable = {"portable",      dot_rows_portable, scores_portable,    weighted_sum_portable,
                              softmax_portable, swiglu_portable,  attend_one_portable, argmax_portable};

}  // namespace

const LlmKernels *llm_kernels_portable() { return &kPortable; }

const LlmKernels &llm_kernels() {
    static const LlmKernels *const k = [] {
        const LlmKernels *avx2 = llm_kernels_avx2();
        return cpu_features().avx2_fma && avx2 ? avx2 : llm_kernels_portable();
    }();
    return *k;
}

namespace {

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

inline size_t align64(size_t n) { return (n + 63) & ~static_cast<size_t>(63); }
inline char *align_ptr(void *p) {
    return reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(p) + 63) & ~static_cast<uintptr_t>(63));
}

// Threads worth waking for `bytes` of memory traffic or work: waking one costs 5-20 us,
// in which one core streams roughly 64-128 KiB.
int threads_for(int max_threads, double work, double per_thread) {
    int t = static_cast<int>(work / per_thread);
    return std::max(1, std::min(max_threads, t));
}

template <typename F>
Status guarded(const char *op, const F &f) {
    try {
        return f();
    } catch (const std::bad_alloc &) {
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    } catch (...) {
        return errorf(EMBER_ERR_INTERNAL, "%s: unexpected exception", op);
    }
}

Status need_f32(const InferContext &ctx, const char *op, size_t i, const char *name) {
    const TensorInfo *t = ctx.input(i);
    if (!t) return errorf(EMBER_ERR_SHAPE, "%s: input %s is missing", op, name);
    if (t->dtype != DType::F32)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: %s is %s; only float32 is supported", op, name,
                      dtype_name(t->dtype));
    return Status::OK();
}

Status need_pos(const InferContext &ctx, const char *op, size_t i) {
    const TensorInfo *t = ctx.input(i);
    if (!t) return errorf(EMBER_ERR_SHAPE, "%s: input pos is missing", op);
    if (t->dtype != DType::I64 || t->numel() != 1)
        return errorf(EMBER_ERR_SHAPE, "%s: pos must be one int64, got %s %s", op,
                      dtype_name(t->dtype), shape_str(t->shape).c_str());
    return Status::OK();
}

Status positive_attr(const InferContext &ctx, const char *op, const char *name, int64_t *out) {
    int64_t v = ctx.node ? ctx.node->attr_int(name, 0) : 0;
    if (v <= 0 || v > (int64_t(1) << 24))
        return errorf(EMBER_ERR_SHAPE, "%s: attribute %s must be a positive integer, got %lld", op,
                      name, static_cast<long long>(v));
    *out = v;
    return Status::OK();
}

// Runs fn(unit, slot) for units [0, n) on `threads` threads, each with its own slot.
template <typename Fn>
void for_units_slotted(ThreadPool *pool, int threads, int64_t n, const Fn &fn) {
    if (threads <= 1 || n <= 1) {
        for (int64_t u = 0; u < n; u++) fn(u, 0);
        return;
    }
    std::atomic<int64_t> next{0};
    auto body = [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; s++)
            for (;;) {
                int64_t u = next.fetch_add(1, std::memory_order_relaxed);
                if (u >= n) break;
                fn(u, static_cast<int>(s));
            }
    };
    pool->parallel_for(threads, 1, threads, body);
}

// ---------------------------------------------------------------------------------
// ember.Linear
// ---------------------------------------------------------------------------------

// Rows of X from which the blocked GEMM beats dot products (its 6x16 tile does 12 FMAs
// per 2 loads; dot rows do 4 per 5).
constexpr int64_t kGemmRows = 8;

Status linear_shapes(const InferContext &ctx, int64_t *m, int64_t *k, int64_t *n, Shape *out) {
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "Linear", 0, "X"));
    // W may also be block-quantised (Q8_0, Q4_0: llm_quant.h), rows of whole blocks.
    const TensorInfo *wq = ctx.input(1);
    if (!wq || !dtype_is_block(wq->dtype)) EMBER_RETURN_IF_ERROR(need_f32(ctx, "Linear", 1, "W"));
    else if (wq->rank() != 2 || wq->shape[1] % kQuantBlock != 0)
        return errorf(EMBER_ERR_SHAPE, "Linear: a %s W must be [N, K] with K a multiple of 32, got %s",
                      dtype_name(wq->dtype), shape_str(wq->shape).c_str());
    const TensorInfo &x = *ctx.input(0), &w = *ctx.input(1);
    if (x.rank() < 1 || w.rank() != 2 || x.shape.back() != w.shape[1])
        return errorf(EMBER_ERR_SHAPE, "Linear: X %s does not fit W %s (expected [..., K] and [N, K])",
                      shape_str(x.shape).c_str(), shape_str(w.shape).c_str());
    *k = w.shape[1];
    *n = w.shape[0];
    *m = *k > 0 ? x.numel() / *k : 0;
    *out = x.shape;
    out->back() = *n;
    return Status::OK();
}

Status linear_infer(InferContext &ctx) {
    return guarded("Linear", [&] {
        int64_t m, k, n;
        Shape s;
        EMBER_RETURN_IF_ERROR(linear_shapes(ctx, &m, &k, &n, &s));
        ctx.output(0).dtype = DType::F32;
        ctx.output(0).shape = s;
        return Status::OK();
    });
}

class LinearKernel : public Kernel {
public:
    LinearKernel(int64_t m, int64_t k, int64_t n) : m_(m), k_(k), n_(n), kn_(sgemm_kernel()) {
        if (m_ >= kGemmRows) {
            slots_ = sgemm_default_slots();
            scratch_ = sgemm_scratch_bytes(kn_, m_, n_, k_, false, false, slots_);
        }
    }
    size_t scratch_bytes() const override { return scratch_; }

    Status run(const KernelIO &io) override {
        const float *x = io.inputs[0].as<const float>();
        const float *w = io.inputs[1].as<const float>();
        float *y = io.outputs[0].as<float>();
        if (m_ == 0 || n_ == 0) return Status::OK();
        if (k_ == 0) {
            std::memset(y, 0, static_cast<size_t>(m_ * n_) * sizeof(float));
            return Status::OK();
        }
        if (m_ >= kGemmRows) {
            SgemmArgs g;
            g.m = m_;
            g.n = n_;
            g.k = k_;
            g.a = MatrixRef{x, k_, 1};
            g.b = MatrixRef{w, 1, k_};  // B[p][j] = W[j][p]
            g.c = y;
            g.ldc = n_;
            GemmThreads th;
            th.pool = io.pool;
            th.max_threads = io.max_threads;
            th.slots = slots_;
            sgemm(kn_, g, io.scratch, th);
            return Status::OK();
        }
        // Dot products: the weight bytes decide the time; one thread per ~128 KiB of W.
        const LlmKernels &lk = llm_kernels();
        const double bytes = static_cast<double>(n_) * static_cast<double>(k_) * 4.0;
        // And only when the product outlasts a few hand-offs to a worker (ThreadPool::
        // worth_threads; one core streams about 20 GB/s = 20000 bytes per microsecond).
        int threads = threads_for(io.max_threads, bytes, 128.0 * 1024.0);
        if (threads > 1) threads = io.pool->worth_threads(threads, bytes * static_cast<double>(m_) / 20000.0);
        if (threads <= 1) {
            lk.dot_rows(x, m_, k_, w, k_, 0, n_, y, n_);
            return Status::OK();
        }
        // Units of 16-row multiples (whole 64-byte lines of y: no false sharing between
        // threads), about 32 KiB of weights each, claimed one at a time: a thread that
        // starts late (a worker waking up, or preempted on a shared machine) leaves its
        // share to the others, and a running unit holds back the end of the step by a few
        // microseconds, not by a fixed 1/threads share of it.
        const int64_t rows_per_unit =
            std::max<int64_t>(16, (32 * 1024 / std::max<int64_t>(1, k_ * 4 * m_)) / 16 * 16);
        // Each thread streams its own contiguous part of W first (for_segments).
        const int64_t units = (n_ + rows_per_unit - 1) / rows_per_unit;
        const int64_t m = m_, k = k_, n = n_;
        for_segments(io.pool, threads, units, [&](int64_t u) {
            const int64_t r0 = u * rows_per_unit, r1 = std::min(n, r0 + rows_per_unit);
            lk.dot_rows(x, m, k, w, k, r0, r1, y, n);
        });
        return Status::OK();
    }

private:
    int64_t m_, k_, n_;
    const SgemmKernel &kn_;
    int slots_ = 1;
    size_t scratch_ = 0;
};

Status linear_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("Linear", [&] {
        int64_t m, k, n;
        Shape s;
        EMBER_RETURN_IF_ERROR(linear_shapes(ctx, &m, &k, &n, &s));
        if (dtype_is_block(ctx.input(1)->dtype)) return create_qlinear(ctx.input(1)->dtype, m, k, n, out);
        out->reset(new LinearKernel(m, k, n));
        return Status::OK();
    });
}

// ---------------------------------------------------------------------------------
// ember.RMSNorm
// ---------------------------------------------------------------------------------

Status rmsnorm_infer(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "RMSNorm", 0, "X"));
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "RMSNorm", 1, "W"));
    const TensorInfo &x = *ctx.input(0), &w = *ctx.input(1);
    if (x.rank() < 1 || w.rank() != 1 || w.shape[0] != x.shape.back())
        return errorf(EMBER_ERR_SHAPE, "RMSNorm: X %s and weight %s: expected [..., D] and [D]",
                      shape_str(x.shape).c_str(), shape_str(w.shape).c_str());
    float eps = ctx.node ? ctx.node->attr_float("epsilon", 1e-5f) : 1e-5f;
    if (!(eps >= 0.0f) || !std::isfinite(eps))
        return errorf(EMBER_ERR_SHAPE, "RMSNorm: epsilon %g is not a non-negative number", eps);
    ctx.output(0).dtype = DType::F32;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

void rmsnorm_row(const float *__restrict x, const float *__restrict w, float *__restrict y,
                 int64_t d, float eps) {
    float lanes[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= d; i += kLanes)
        for (int64_t j = 0; j < kLanes; j++) lanes[j] += x[i + j] * x[i + j];
    float ss = 0.0f;
    for (int64_t j = 0; j < kLanes; j++) ss += lanes[j];
    for (; i < d; i++) ss += x[i] * x[i];
    const float scale = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
    for (i = 0; i < d; i++) y[i] = w[i] * (scale * x[i]);
}

Status rmsnorm_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("RMSNorm", [&] {
        const int64_t d = ctx.input(0)->shape.back();
        const int64_t rows = d > 0 ? ctx.input(0)->numel() / d : 0;
        const float eps = ctx.node ? ctx.node->attr_float("epsilon", 1e-5f) : 1e-5f;
        *out = make_fn_kernel([d, rows, eps](const KernelIO &io) {
            const float *x = io.inputs[0].as<const float>();
            const float *w = io.inputs[1].as<const float>();
            float *y = io.outputs[0].as<float>();
            for (int64_t r = 0; r < rows; r++) rmsnorm_row(x + r * d, w, y + r * d, d, eps);
            return Status::OK();
        });
        return Status::OK();
    });
}

// ---------------------------------------------------------------------------------
// ember.Rotary
// ---------------------------------------------------------------------------------

Status rotary_infer(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "Rotary", 0, "X"));
    EMBER_RETURN_IF_ERROR(need_pos(ctx, "Rotary", 1));
    int64_t hd;
    EMBER_RETURN_IF_ERROR(positive_attr(ctx, "Rotary", "head_dim", &hd));
    const TensorInfo &x = *ctx.input(0);
    if (hd % 2 != 0 || x.rank() != 2 || x.shape[1] % hd != 0)
        return errorf(EMBER_ERR_SHAPE, "Rotary: X %s must be [T, heads * head_dim] with an even head_dim (%lld)",
                      shape_str(x.shape).c_str(), static_cast<long long>(hd));
    float theta = ctx.node ? ctx.node->attr_float("theta", 10000.0f) : 10000.0f;
    if (!(theta > 0.0f) || !std::isfinite(theta))
        return errorf(EMBER_ERR_SHAPE, "Rotary: theta %g is not a positive number", theta);
    ctx.output(0).dtype = DType::F32;
    ctx.output(0).shape = x.shape;
    return Status::OK();
}

class RotaryKernel : public Kernel {
public:
    RotaryKernel(int64_t t, int64_t width, int64_t hd, double theta) : t_(t), width_(width), hd_(hd) {
        inv_freq_.resize(static_cast<size_t>(hd / 2));
        for (int64_t i = 0; i < hd / 2; i++)
            inv_freq_[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(hd));
    }
    Status run(const KernelIO &io) override {
        const float *x = io.inputs[0].as<const float>();
        const int64_t pos = io.inputs[1].as<const int64_t>()[0];
        float *y = io.outputs[0].as<float>();
        const int64_t half = hd_ / 2;
        for (int64_t t = 0; t < t_; t++) {
            const double p = static_cast<double>(pos + t);
            const float *xr = x + t * width_;
            float *yr = y + t * width_;
            for (int64_t i = 0; i < half; i++) {
                const double a = p * inv_freq_[i];
                const float c = static_cast<float>(std::cos(a)), s = static_cast<float>(std::sin(a));
                for (int64_t h = 0; h < width_; h += hd_) {
                    const float v0 = xr[h + 2 * i], v1 = xr[h + 2 * i + 1];
                    yr[h + 2 * i] = v0 * c - v1 * s;
                    yr[h + 2 * i + 1] = v0 * s + v1 * c;
                }
            }
        }
        return Status::OK();
    }

private:
    int64_t t_, width_, hd_;
    std::vector<double> inv_freq_;
};

Status rotary_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("Rotary", [&] {
        const TensorInfo &x = *ctx.input(0);
        int64_t hd = ctx.node->attr_int("head_dim", 0);
        double theta = ctx.node->attr_float("theta", 10000.0f);
        out->reset(new RotaryKernel(x.shape[0], x.shape[1], hd, theta));
        return Status::OK();
    });
}

// ---------------------------------------------------------------------------------
// ember.SwiGLU
// ---------------------------------------------------------------------------------

Status swiglu_infer(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "SwiGLU", 0, "G"));
    EMBER_RETURN_IF_ERROR(need_f32(ctx, "SwiGLU", 1, "U"));
    if (ctx.input(0)->shape != ctx.input(1)->shape)
        return errorf(EMBER_ERR_SHAPE, "SwiGLU: G %s and U %s differ",
                      shape_str(ctx.input(0)->shape).c_str(), shape_str(ctx.input(1)->shape).c_str());
    ctx.output(0).dtype = DType::F32;
    ctx.output(0).shape = ctx.input(0)->shape;
    return Status::OK();
}

Status swiglu_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("SwiGLU", [&] {
        const int64_t n = ctx.input(0)->numel();
        *out = make_fn_kernel([n](const KernelIO &io) {
            llm_kernels().swiglu(io.inputs[0].as<const float>(), io.inputs[1].as<const float>(),
                                 io.outputs[0].as<float>(), n);
            return Status::OK();
        });
        return Status::OK();
    });
}

// ---------------------------------------------------------------------------------
// ember.CacheAttention
// ---------------------------------------------------------------------------------

struct AttnGeom {
    int64_t t = 0, layers = 0, ctx = 0, heads = 0, kv_heads = 0, hd = 0, layer = 0;
    int64_t q_width() const { return heads * hd; }
    int64_t kv_width() const { return kv_heads * hd; }
};

Status attn_geom(const InferContext &ctx, AttnGeom *g) {
    static const char *names[] = {"Q", "K", "V", "k_cache", "v_cache"};
    for (size_t i = 0; i < 5; i++) EMBER_RETURN_IF_ERROR(need_f32(ctx, "CacheAttention", i, names[i]));
    EMBER_RETURN_IF_ERROR(need_pos(ctx, "CacheAttention", 5));
    EMBER_RETURN_IF_ERROR(positive_attr(ctx, "CacheAttention", "heads", &g->heads));
    EMBER_RETURN_IF_ERROR(positive_attr(ctx, "CacheAttention", "kv_heads", &g->kv_heads));
    EMBER_RETURN_IF_ERROR(positive_attr(ctx, "CacheAttention", "head_dim", &g->hd));
    g->layer = ctx.node->attr_int("layer", -1);
    if (g->heads % g->kv_heads != 0)
        return errorf(EMBER_ERR_SHAPE, "CacheAttention: heads %lld is not a multiple of kv_heads %lld",
                      static_cast<long long>(g->heads), static_cast<long long>(g->kv_heads));
    const TensorInfo &q = *ctx.input(0), &k = *ctx.input(1), &v = *ctx.input(2);
    const TensorInfo &kc = *ctx.input(3), &vc = *ctx.input(4);
    if (q.rank() != 2 || q.shape[1] != g->q_width())
        return errorf(EMBER_ERR_SHAPE, "CacheAttention: Q is %s, expected [T, %lld]",
                      shape_str(q.shape).c_str(), static_cast<long long>(g->q_width()));
    g->t = q.shape[0];
    Shape kv_shape{g->t, g->kv_width()};
    if (k.shape != kv_shape || v.shape != kv_shape)
        return errorf(EMBER_ERR_SHAPE, "CacheAttention: K %s and V %s must be %s",
                      shape_str(k.shape).c_str(), shape_str(v.shape).c_str(), shape_str(kv_shape).c_str());
    if (kc.rank() != 3 || kc.shape != vc.shape || kc.shape[2] != g->kv_width())
        return errorf(EMBER_ERR_SHAPE, "CacheAttention: caches %s and %s must both be [layers, context, %lld]",
                      shape_str(kc.shape).c_str(), shape_str(vc.shape).c_str(),
                      static_cast<long long>(g->kv_width()));
    g->layers = kc.shape[0];
    g->ctx = kc.shape[1];
    if (g->layer < 0 || g->layer >= g->layers)
        return errorf(EMBER_ERR_SHAPE, "CacheAttention: layer %lld is outside the cache's %lld layers",
                      static_cast<long long>(g->layer), static_cast<long long>(g->layers));
    return Status::OK();
}

Status attn_infer(InferContext &ctx) {
    return guarded("CacheAttention", [&] {
        AttnGeom g;
        EMBER_RETURN_IF_ERROR(attn_geom(ctx, &g));
        ctx.output(0).dtype = DType::F32;
        ctx.output(0).shape = ctx.input(0)->shape;
        return Status::OK();
    });
}

class AttentionKernel : public Kernel {
public:
    explicit AttentionKernel(const AttnGeom &g) : g_(g) {
        slots_ = std::max(1, sgemm_default_slots());
        slot_bytes_ = align64(static_cast<size_t>(std::max<int64_t>(g_.ctx, 1)) * sizeof(float));
    }
    // Per-thread score rows, or (one-token decode on one thread) every head's row.
    size_t scratch_bytes() const override {
        const int64_t rows = std::max<int64_t>(slots_, g_.t == 1 ? g_.heads : 1);
        return slot_bytes_ * static_cast<size_t>(rows) + 64;
    }

    Status run(const KernelIO &io) override {
        const int64_t pos = io.inputs[5].as<const int64_t>()[0];
        if (pos < 0 || pos > g_.ctx - g_.t)
            return errorf(EMBER_ERR_INVALID_ARGUMENT,
                          "CacheAttention: positions [%lld, %lld) do not fit the cache's context of %lld",
                          static_cast<long long>(pos), static_cast<long long>(pos + g_.t),
                          static_cast<long long>(g_.ctx));
        const int64_t kvw = g_.kv_width(), qw = g_.q_width();
        float *kc = io.inputs[3].as<float>() + g_.layer * g_.ctx * kvw;
        float *vc = io.inputs[4].as<float>() + g_.layer * g_.ctx * kvw;
        std::memcpy(kc + pos * kvw, io.inputs[1].data, static_cast<size_t>(g_.t * kvw) * sizeof(float));
        std::memcpy(vc + pos * kvw, io.inputs[2].data, static_cast<size_t>(g_.t * kvw) * sizeof(float));

        const float *q = io.inputs[0].as<const float>();
        float *o = io.outputs[0].as<float>();
        const LlmKernels &lk = llm_kernels();
        const int64_t group = g_.heads / g_.kv_heads, hd = g_.hd;
        const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
        char *base = align_ptr(io.scratch);
        const size_t slot_bytes = slot_bytes_;
        auto unit = [&](int64_t u, int slot) {
            const int64_t t = u / g_.heads, h = u % g_.heads;
            const int64_t n = pos + t + 1;  // causal: rows [0, pos + t]
            const int64_t kvh = h / group;
            float *s = reinterpret_cast<float *>(base + static_cast<size_t>(slot) * slot_bytes);
            lk.scores(q + t * qw + h * hd, kc + kvh * hd, kvw, hd, n, scale, s);
            lk.softmax(s, n);
            lk.weighted_sum(s, vc + kvh * hd, kvw, hd, n, o + t * qw + h * hd);
        };
        const int64_t units = g_.t * g_.heads;
        // Work ~ 2 * hd * (rows attended) per unit.
        const double work = static_cast<double>(units) * static_cast<double>(pos + (g_.t + 1) / 2) *
                            static_cast<double>(hd) * 2.0;
        // (about 10 multiply-adds per nanosecond on one core: worth_threads' estimate)
        int threads = std::min(slots_, threads_for(io.max_threads, work, 32768.0));
        if (threads > 1) threads = io.pool->worth_threads(threads, work / 10000.0);
        if (g_.t == 1 && threads <= 1 && hd >= 32) {
            // Decode on one thread: every head in one pass over the cache rows (measured
            // CPU time of the 15M shape's decode, head size 48: -4 to -7%). Small heads
            // (stories260K's 8) stay per head, where the sums live in registers: the
            // one-pass form cost +30% there.
            lk.attend_one(q, kc, vc, kvw, g_.heads, group, hd, pos + 1, scale, reinterpret_cast<float *>(base), o);
            return Status::OK();
        }
        for_units_slotted(io.pool, threads, units, unit);
        return Status::OK();
    }

private:
    AttnGeom g_;
    int slots_ = 1;
    size_t slot_bytes_ = 0;
};

Status attn_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("CacheAttention", [&] {
        AttnGeom g;
        EMBER_RETURN_IF_ERROR(attn_geom(ctx, &g));
        out->reset(new AttentionKernel(g));
        return Status::OK();
    });
}

}  // namespace

void register_llm_ops(OpRegistry &r) {
    struct Def {
        const char *name;
        Status (*infer)(InferContext &);
        Status (*create)(const InferContext &, std::unique_ptr<Kernel> *);
    } defs[] = {
        {"Linear", linear_infer, linear_create},
        {"RMSNorm", rmsnorm_infer, rmsnorm_create},
        {"Rotary", rotary_infer, rotary_create},
        {"SwiGLU", swiglu_infer, swiglu_create},
        {"CacheAttention", attn_infer, attn_create},
    };
    for (const Def &d : defs) {
        OpSchema s;
        s.op_type = d.name;
        s.domain = "ember";
        s.infer = d.infer;
        s.create = d.create;
        r.add(s);
    }
}

}  // namespace ember
