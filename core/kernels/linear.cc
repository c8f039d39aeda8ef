// linear.cc — Gemm, MatMul, Conv and ConvTranspose on top of the blocked SGEMM (gemm.h).
//
// Every operator here decides its whole strategy in create(), from concrete shapes:
//   - Gemm, MatMul: one SGEMM per (broadcast) batch matrix; a constant B (the weight of a
//     Linear layer) is packed once into the kernel. MatMul folds the batch into M when B
//     has no batch (x[b, s, k] @ w[k, n] is one GEMM). Many small batch matrices run one
//     per thread; few large ones are split inside the GEMM.
//   - Conv (1-D/2-D/3-D, all handled as 3-D with leading extents of 1):
//       * Cg = C/group = 1 and at most 4 outputs per group (depthwise): a direct kernel,
//         one output plane at a time, one tap at a time over a row (no scratch);
//       * 1x1, stride 1, no padding: the input plane already is the GEMM's B (K = Cg
//         rows of H*W), so Y_g = W_g * X_g directly on the NCHW layout;
//       * otherwise im2col + GEMM: the columns of a tile of output positions are written
//         straight into the GEMM's packed-B layout in scratch (no second copy), with
//         tiles of about 512 KiB so scratch stays bounded; the weights W_g (M/group x
//         Cg*kernel) are packed once at create(). The bias is the GEMM's row bias.
//     Work units are (image, group, tile); with enough of them each thread runs whole
//     units (own scratch slot, single-threaded GEMM), else units run in turn with the
//     GEMM and the im2col split across threads.
//   - ConvTranspose: per (image, group), col = W_g^T * X_g by GEMM (W packed once),
//     then col2im scatter-adds col into Y (initialised with the bias); input positions
//     are tiled so the col buffer stays bounded, col2im is split by output channel.
// Only float32 computes here (float16 is widened by the planner); MatMul also takes
// int32 / int64 through a plain loop (wrapping arithmetic).
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <new>

#include "core/kernels/gemm.h"
#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
inline size_t align64(size_t n) { return (n + 63) & ~static_cast<size_t>(63); }
inline char *align_ptr(void *p) {
    return reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(p) + 63) & ~static_cast<uintptr_t>(63));
}

// float16 reaches infer() only outside the planner's widening; keep it as the output
// dtype then (the kernel itself always sees float32).
bool is_float_like(DType t) { return t == DType::F32 || t == DType::F16; }

Status check_attrs(const InferContext &ctx, const char *op,
                   std::initializer_list<const char *> allowed) {
    if (!ctx.node) return Status::OK();
    for (const Attribute &a : ctx.node->attrs) {
        bool ok = false;
        for (const char *name : allowed) ok = ok || a.name == name;
        if (!ok)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: attribute '%s' is not supported", op,
                          a.name.c_str());
    }
    return Status::OK();
}

Status need_input(const InferContext &ctx, size_t i, const char *op, const char *what) {
    if (!ctx.input(i)) return errorf(EMBER_ERR_SHAPE, "%s: missing input %s", op, what);
    return Status::OK();
}

// Runs an infer()/create() body; allocation failure (or any other exception) becomes a
// Status instead of escaping into the C API.
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

// Threads worth planning scratch for; the thread pool may have more or fewer.
int plan_slots() { return sgemm_default_slots(); }

// Threads worth waking for `flops` of work: waking one costs ~5-20 us, about 1 MFLOP.
int useful_threads(int threads, double flops) {
    const double per_thread = 1.0e6;
    if (flops < per_thread * threads) threads = static_cast<int>(flops / per_thread);
    return std::max(1, threads);
}

// Runs fn(unit, slot) for every unit in [0, units) on up to `threads` threads, each
// thread with its own slot index in [0, threads); units are handed out dynamically.
template <typename Fn>
void for_units_slotted(ThreadPool *pool, int threads, int64_t units, const Fn &fn) {
    if (threads <= 1 || units <= 1) {
        for (int64_t u = 0; u < units; u++) fn(u, 0);
        return;
    }
    std::atomic<int64_t> next{0};
    pool->parallel_for(threads, 1, threads, [&](int64_t b, int64_t e) {
        for (int64_t slot = b; slot < e; slot++) {
            for (;;) {
                int64_t u = next.fetch_add(1, std::memory_order_relaxed);
                if (u >= units) break;
                fn(u, static_cast<int>(slot));
            }
        }
    });
}

// ---------------------------------------------------------------------------------
// Gemm: Y = alpha * A' * B' + beta * C
// ---------------------------------------------------------------------------------

struct GemmShape {
    int64_t m = 0, n = 0, k = 0;
    bool ta = false, tb = false;
};

Status gemm_shape(const InferContext &ctx, GemmShape *s) {
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, "Gemm", {"alpha", "beta", "transA", "transB"}));
    EMBER_RETURN_IF_ERROR(need_input(ctx, 0, "Gemm", "A"));
    EMBER_RETURN_IF_ERROR(need_input(ctx, 1, "Gemm", "B"));
    const TensorInfo &a = *ctx.input(0), &b = *ctx.input(1);
    if (!is_float_like(a.dtype) || b.dtype != a.dtype)
        return errorf(EMBER_ERR_UNSUPPORTED, "Gemm: dtypes %s x %s not supported (float32 only)",
                      dtype_name(a.dtype), dtype_name(b.dtype));
    if (a.rank() != 2 || b.rank() != 2)
        return errorf(EMBER_ERR_SHAPE, "Gemm: A and B must be 2-D, got %s and %s",
                      shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
    s->ta = ctx.node->attr_int("transA", 0) != 0;
    s->tb = ctx.node->attr_int("transB", 0) != 0;
    s->m = s->ta ? a.shape[1] : a.shape[0];
    s->k = s->ta ? a.shape[0] : a.shape[1];
    int64_t kb = s->tb ? b.shape[1] : b.shape[0];
    s->n = s->tb ? b.shape[0] : b.shape[1];
    if (kb != s->k)
        return errorf(EMBER_ERR_SHAPE, "Gemm: inner dimensions differ: A%s%s x B%s%s",
                      shape_str(a.shape).c_str(), s->ta ? "^T" : "", shape_str(b.shape).c_str(),
                      s->tb ? "^T" : "");
    if (const TensorInfo *c = ctx.input(2)) {
        if (c->dtype != a.dtype)
            return errorf(EMBER_ERR_SHAPE, "Gemm: C has dtype %s, A has %s", dtype_name(c->dtype),
                          dtype_name(a.dtype));
        // Unidirectional broadcast of C to [M, N].
        bool ok = c->rank() <= 2;
        if (ok && c->rank() >= 1) ok = c->shape[c->rank() - 1] == s->n || c->shape[c->rank() - 1] == 1;
        if (ok && c->rank() == 2) ok = c->shape[0] == s->m || c->shape[0] == 1;
        if (!ok)
            return errorf(EMBER_ERR_SHAPE, "Gemm: C %s does not broadcast to [%lld,%lld]",
                          shape_str(c->shape).c_str(), static_cast<long long>(s->m),
                          static_cast<long long>(s->n));
    }
    return Status::OK();
}

Status gemm_infer_impl(InferContext &ctx) {
    GemmShape s;
    EMBER_RETURN_IF_ERROR(gemm_shape(ctx, &s));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = {s.m, s.n};
    return Status::OK();
}

class GemmOpKernel : public Kernel {
public:
    GemmOpKernel(const SgemmKernel &kn, const GemmShape &s, float alpha, float beta, Shape c_shape,
                 bool has_c)
        : kn_(kn), s_(s), alpha_(alpha), beta_(beta), c_shape_(std::move(c_shape)), has_c_(has_c) {}

    // Packs a constant operand once.
    void pack(const float *a_const, const float *b_const) {
        if (b_const) {
            b_packed_.resize(sgemm_packed_b_size(kn_, s_.k, s_.n));
            sgemm_pack_b(kn_, b_view(b_const), s_.k, s_.n, b_packed_.data());
        } else if (a_const) {
            a_packed_.resize(sgemm_packed_a_size(kn_, s_.m, s_.k));
            sgemm_pack_a(kn_, a_view(a_const), s_.m, s_.k, a_packed_.data());
        }
        slots_ = plan_slots();
        scratch_ = sgemm_scratch_bytes(kn_, s_.m, s_.n, s_.k, !a_packed_.empty(),
                                       !b_packed_.empty(), slots_);
    }

    size_t scratch_bytes() const override { return scratch_; }

    Status run(const KernelIO &io) override {
        const float *a = io.inputs[0].as<const float>();
        const float *b = io.inputs[1].as<const float>();
        const float *c = io.num_inputs > 2 ? io.inputs[2].as<const float>() : nullptr;
        float *y = io.outputs[0].as<float>();
        SgemmArgs g;
        g.m = s_.m;
        g.n = s_.n;
        g.k = s_.k;
        g.a = a_view(a);
        g.a_packed = a_packed_.empty() ? nullptr : a_packed_.data();
        g.b = b_view(b);
        g.b_packed = b_packed_.empty() ? nullptr : b_packed_.data();
        g.c = y;
        g.ldc = s_.n;
        g.alpha = alpha_;
        g.beta = 0.0f;
        if (has_c_ && c && beta_ != 0.0f) {
            const int rank = static_cast<int>(c_shape_.size());
            const int64_t cm = rank == 2 ? c_shape_[0] : 1;
            const int64_t cn = rank >= 1 ? c_shape_[rank - 1] : 1;
            if (beta_ == 1.0f && cm == 1 && cn == s_.n && s_.n > 1) {
                g.col_bias = c;                  // [N] or [1, N]: a column bias
            } else if (beta_ == 1.0f && cn == 1 && cm == s_.m && s_.m > 1) {
                g.row_bias = c;                  // [M, 1]: a row bias
            } else {
                // General: Y = broadcast(C), then Y = alpha*AB + beta*Y.
                for (int64_t i = 0; i < s_.m; i++) {
                    const float *cr = c + (cm == 1 ? 0 : i * cn);
                    float *yr = y + i * s_.n;
                    if (cn == 1) {
                        for (int64_t j = 0; j < s_.n; j++) yr[j] = cr[0];
                    } else {
                        std::memcpy(yr, cr, static_cast<size_t>(s_.n) * sizeof(float));
                    }
                }
                g.beta = beta_;
            }
        }
        GemmThreads th;
        th.pool = io.pool;
        th.max_threads = io.max_threads;
        th.slots = slots_;
        sgemm(kn_, g, io.scratch, th);
        return Status::OK();
    }

private:
    MatrixRef a_view(const float *a) const {
        // A is [M, K], or [K, M] when transposed.
        return s_.ta ? MatrixRef{a, 1, s_.m} : MatrixRef{a, s_.k, 1};
    }
    MatrixRef b_view(const float *b) const {
        // B is [K, N], or [N, K] when transposed.
        return s_.tb ? MatrixRef{b, 1, s_.k} : MatrixRef{b, s_.n, 1};
    }

    const SgemmKernel &kn_;
    GemmShape s_;
    float alpha_, beta_;
    Shape c_shape_;
    bool has_c_;
    std::vector<float> a_packed_, b_packed_;
    int slots_ = 1;
    size_t scratch_ = 0;
};

Status gemm_create_impl(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    GemmShape s;
    EMBER_RETURN_IF_ERROR(gemm_shape(ctx, &s));
    const TensorInfo *c = ctx.input(2);
    std::unique_ptr<GemmOpKernel> k(new GemmOpKernel(
        sgemm_kernel(), s, ctx.node->attr_float("alpha", 1.0f), ctx.node->attr_float("beta", 1.0f),
        c ? c->shape : Shape(), c != nullptr));
    k->pack(ctx.input(0)->as<float>(), ctx.input(1)->as<float>());
    *out = std::move(k);
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// MatMul (numpy semantics)
// ---------------------------------------------------------------------------------

struct MatMulPlan {
    int64_t m = 0, n = 0, k = 0;
    Shape batch;                      // output batch dims
    std::vector<int64_t> a_stride;    // per batch dim: element stride in A (0 = broadcast)
    std::vector<int64_t> b_stride;
    int64_t batches = 1;
    int64_t b_matrices = 1;           // distinct B matrices (product of B's batch dims)
    bool fold = false;                // B has no batch: one GEMM with M = batches * m
    Shape out_shape;
};

Status matmul_plan(const InferContext &ctx, MatMulPlan *p) {
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, "MatMul", {}));
    EMBER_RETURN_IF_ERROR(need_input(ctx, 0, "MatMul", "A"));
    EMBER_RETURN_IF_ERROR(need_input(ctx, 1, "MatMul", "B"));
    const TensorInfo &a = *ctx.input(0), &b = *ctx.input(1);
    if (a.dtype != b.dtype)
        return errorf(EMBER_ERR_SHAPE, "MatMul: A is %s, B is %s", dtype_name(a.dtype),
                      dtype_name(b.dtype));
    if (!is_float_like(a.dtype) && a.dtype != DType::I32 && a.dtype != DType::I64)
        return errorf(EMBER_ERR_UNSUPPORTED, "MatMul: dtype %s not supported", dtype_name(a.dtype));
    if (a.rank() < 1 || b.rank() < 1)
        return errorf(EMBER_ERR_SHAPE, "MatMul: operands must have rank >= 1, got %s and %s",
                      shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
    Shape as = a.shape, bs = b.shape;
    const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
    if (a_vec) as.insert(as.begin(), 1);   // [K] -> [1, K]
    if (b_vec) bs.push_back(1);            // [K] -> [K, 1]
    p->m = as[as.size() - 2];
    p->k = as[as.size() - 1];
    p->n = bs[bs.size() - 1];
    if (bs[bs.size() - 2] != p->k)
        return errorf(EMBER_ERR_SHAPE, "MatMul: inner dimensions differ: %s x %s",
                      shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
    Shape ab(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
    if (!broadcast_shapes(ab, bb, &p->batch))
        return errorf(EMBER_ERR_SHAPE, "MatMul: batch dimensions of %s and %s do not broadcast",
                      shape_str(a.shape).c_str(), shape_str(b.shape).c_str());
    // Batch dims of A and B right-aligned to the output's, with element strides (0
    // where the operand is broadcast along that dim).
    const size_t nb = p->batch.size();
    Shape ap(nb, 1), bp(nb, 1);
    std::copy(ab.begin(), ab.end(), ap.begin() + (nb - ab.size()));
    std::copy(bb.begin(), bb.end(), bp.begin() + (nb - bb.size()));
    p->a_stride.assign(nb, 0);
    p->b_stride.assign(nb, 0);
    int64_t sa = p->m * p->k, sb = p->k * p->n;
    for (size_t i = nb; i-- > 0;) {
        p->a_stride[i] = ap[i] == 1 ? 0 : sa;
        p->b_stride[i] = bp[i] == 1 ? 0 : sb;
        sa *= ap[i];
        sb *= bp[i];
    }
    p->batches = shape_numel(p->batch);
    p->b_matrices = shape_numel(bb);
    p->fold = p->b_matrices == 1 && shape_numel(ab) == p->batches;
    p->out_shape = p->batch;
    if (!a_vec) p->out_shape.push_back(p->m);
    if (!b_vec) p->out_shape.push_back(p->n);
    return Status::OK();
}

Status matmul_infer_impl(InferContext &ctx) {
    MatMulPlan p;
    EMBER_RETURN_IF_ERROR(matmul_plan(ctx, &p));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = p.out_shape;
    return Status::OK();
}

// Offsets of batch matrix `bi` in A and B (in elements).
inline void batch_offsets(const MatMulPlan &p, int64_t bi, int64_t *ao, int64_t *bo) {
    int64_t a = 0, b = 0;
    for (size_t i = p.batch.size(); i-- > 0;) {
        int64_t d = p.batch[i];
        int64_t idx = bi % d;
        bi /= d;
        a += idx * p.a_stride[i];
        b += idx * p.b_stride[i];
    }
    *ao = a;
    *bo = b;
}

template <typename T>
void matmul_int(const MatMulPlan &p, const T *a, const T *b, T *y) {
    using U = typename std::make_unsigned<T>::type;  // wrapping arithmetic
    for (int64_t bi = 0; bi < p.batches; bi++) {
        int64_t ao, bo;
        batch_offsets(p, bi, &ao, &bo);
        const T *ab = a + ao, *bb = b + bo;
        T *yb = y + bi * p.m * p.n;
        for (int64_t i = 0; i < p.m; i++) {
            for (int64_t j = 0; j < p.n; j++) yb[i * p.n + j] = 0;
            for (int64_t q = 0; q < p.k; q++) {
                U av = static_cast<U>(ab[i * p.k + q]);
                const T *br = bb + q * p.n;
                T *yr = yb + i * p.n;
                for (int64_t j = 0; j < p.n; j++)
                    yr[j] = static_cast<T>(static_cast<U>(yr[j]) + av * static_cast<U>(br[j]));
            }
        }
    }
}

class MatMulKernel : public Kernel {
public:
    MatMulKernel(const SgemmKernel &kn, MatMulPlan p, DType dt) : kn_(kn), p_(std::move(p)), dt_(dt) {}

    void prepare(const float *b_const) {
        if (dt_ != DType::F32) return;
        if (b_const) {
            b_size_ = sgemm_packed_b_size(kn_, p_.k, p_.n);
            b_packed_.resize(b_size_ * static_cast<size_t>(p_.b_matrices));
            for (int64_t i = 0; i < p_.b_matrices; i++)
                sgemm_pack_b(kn_, MatrixRef{b_const + i * p_.k * p_.n, p_.n, 1}, p_.k, p_.n,
                             b_packed_.data() + i * b_size_);
        }
        slots_ = plan_slots();
        const bool bp = !b_packed_.empty();
        if (p_.fold) {
            scratch_ = sgemm_scratch_bytes(kn_, p_.batches * p_.m, p_.n, p_.k, false, bp, slots_);
        } else {
            one_ = align64(sgemm_scratch_bytes(kn_, p_.m, p_.n, p_.k, false, bp, 1));
            scratch_ = std::max(sgemm_scratch_bytes(kn_, p_.m, p_.n, p_.k, false, bp, slots_),
                                one_ * static_cast<size_t>(slots_)) + 64;
        }
    }

    size_t scratch_bytes() const override { return scratch_; }

    Status run(const KernelIO &io) override {
        if (dt_ == DType::I32) {
            matmul_int(p_, io.inputs[0].as<const int32_t>(), io.inputs[1].as<const int32_t>(),
                       io.outputs[0].as<int32_t>());
            return Status::OK();
        }
        if (dt_ == DType::I64) {
            matmul_int(p_, io.inputs[0].as<const int64_t>(), io.inputs[1].as<const int64_t>(),
                       io.outputs[0].as<int64_t>());
            return Status::OK();
        }
        const float *a = io.inputs[0].as<const float>();
        const float *b = io.inputs[1].as<const float>();
        float *y = io.outputs[0].as<float>();
        GemmThreads th;
        th.pool = io.pool;
        th.max_threads = io.max_threads;
        th.slots = slots_;
        if (p_.fold) {
            sgemm(kn_, args(a, b, y, 0, 0, 0, p_.batches * p_.m), io.scratch, th);
            return Status::OK();
        }
        const double flops = 2.0 * static_cast<double>(p_.batches) * static_cast<double>(p_.m) *
                             static_cast<double>(p_.n) * static_cast<double>(p_.k);
        const int threads = useful_threads(std::min(io.max_threads, slots_), flops);
        if (threads > 1 && p_.batches >= 2 * threads) {
            // Many matrices: one whole GEMM per thread at a time.
            char *base = align_ptr(io.scratch);
            GemmThreads one;
            for_units_slotted(io.pool, threads, p_.batches, [&](int64_t bi, int slot) {
                int64_t ao, bo;
                batch_offsets(p_, bi, &ao, &bo);
                sgemm(kn_, args(a, b, y, ao, bo, bi, p_.m), base + slot * one_, one);
            });
            return Status::OK();
        }
        for (int64_t bi = 0; bi < p_.batches; bi++) {
            int64_t ao, bo;
            batch_offsets(p_, bi, &ao, &bo);
            sgemm(kn_, args(a, b, y, ao, bo, bi, p_.m), io.scratch, th);
        }
        return Status::OK();
    }

private:
    SgemmArgs args(const float *a, const float *b, float *y, int64_t ao, int64_t bo, int64_t bi,
                   int64_t m) const {
        SgemmArgs g;
        g.m = m;
        g.n = p_.n;
        g.k = p_.k;
        g.a = MatrixRef{a + ao, p_.k, 1};
        g.b = MatrixRef{b + bo, p_.n, 1};
        if (!b_packed_.empty()) {
            // bo is a multiple of k*n: the index of the B matrix.
            g.b_packed = b_packed_.data() + (p_.k * p_.n != 0 ? bo / (p_.k * p_.n) : 0) * b_size_;
        }
        g.c = y + bi * p_.m * p_.n;
        g.ldc = p_.n;
        return g;
    }

    const SgemmKernel &kn_;
    MatMulPlan p_;
    DType dt_;
    std::vector<float> b_packed_;
    size_t b_size_ = 0;
    int slots_ = 1;
    size_t one_ = 0;
    size_t scratch_ = 0;
};

Status matmul_create_impl(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    MatMulPlan p;
    EMBER_RETURN_IF_ERROR(matmul_plan(ctx, &p));
    DType dt = ctx.input(0)->dtype == DType::F16 ? DType::F32 : ctx.input(0)->dtype;
    std::unique_ptr<MatMulKernel> k(new MatMulKernel(sgemm_kernel(), std::move(p), dt));
    k->prepare(ctx.input(1)->as<float>());
    *out = std::move(k);
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Conv / ConvTranspose geometry
// ---------------------------------------------------------------------------------

// All convolutions are handled as 3-D: a 1-D or 2-D one gets leading spatial extents
// of 1 (kernel 1, stride 1, no padding), which changes no index.
struct ConvGeom {
    int nd = 0;                    // spatial dims of the op (1..3)
    int64_t batch = 0, c = 0, m = 0, group = 1, cg = 0, mg = 0;
    int64_t in[3] = {1, 1, 1};     // input spatial (D, H, W)
    int64_t out[3] = {1, 1, 1};    // output spatial
    int64_t k[3] = {1, 1, 1};      // kernel
    int64_t s[3] = {1, 1, 1};      // strides
    int64_t d[3] = {1, 1, 1};      // dilations
    int64_t pb[3] = {0, 0, 0};     // padding at the start
    int64_t in_size = 1, out_size = 1, k_size = 1;
    Shape out_shape;
};

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

Status parse_auto_pad(const InferContext &ctx, const char *op, AutoPad *ap) {
    std::string s = ctx.node->attr_string("auto_pad", "NOTSET");
    if (s == "NOTSET" || s.empty()) *ap = AutoPad::NotSet;
    else if (s == "SAME_UPPER") *ap = AutoPad::SameUpper;
    else if (s == "SAME_LOWER") *ap = AutoPad::SameLower;
    else if (s == "VALID") *ap = AutoPad::Valid;
    else return errorf(EMBER_ERR_UNSUPPORTED, "%s: auto_pad '%s' is not supported", op, s.c_str());
    return Status::OK();
}

// Reads an INTS attribute of `nd` values (default `dflt` each); checks the count.
// Values above 2^30 are rejected: no real model needs them, and they keep the index
// arithmetic ((k-1)*d+1, s*(in-1), ...) far from overflow.
Status spatial_attr(const InferContext &ctx, const char *op, const char *name, int nd,
                    int64_t dflt, int64_t min_value, std::vector<int64_t> *v, size_t count = 0) {
    const int64_t max_value = int64_t(1) << 30;
    if (count == 0) count = static_cast<size_t>(nd);
    *v = ctx.node->attr_ints(name);
    if (v->empty()) {
        v->assign(count, dflt);
        return Status::OK();
    }
    if (v->size() != count)
        return errorf(EMBER_ERR_SHAPE, "%s: '%s' has %zu values, expected %zu", op, name, v->size(),
                      count);
    for (int64_t x : *v)
        if (x < min_value || x > max_value)
            return errorf(EMBER_ERR_SHAPE, "%s: '%s' value %lld is out of range", op, name,
                          static_cast<long long>(x));
    return Status::OK();
}

// Common part: X, W, B, group, kernel_shape, strides, dilations.
Status conv_common(const InferContext &ctx, const char *op, bool transpose, ConvGeom *g,
                   std::vector<int64_t> *kshape) {
    EMBER_RETURN_IF_ERROR(need_input(ctx, 0, op, "X"));
    EMBER_RETURN_IF_ERROR(need_input(ctx, 1, op, "W"));
    const TensorInfo &x = *ctx.input(0), &w = *ctx.input(1);
    if (!is_float_like(x.dtype) || w.dtype != x.dtype)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtypes %s, %s not supported (float32 only)", op,
                      dtype_name(x.dtype), dtype_name(w.dtype));
    if (x.rank() < 3 || x.rank() > 5)
        return errorf(x.rank() < 3 ? EMBER_ERR_SHAPE : EMBER_ERR_UNSUPPORTED,
                      "%s: input %s: only 1-D, 2-D and 3-D convolutions are supported", op,
                      shape_str(x.shape).c_str());
    if (w.rank() != x.rank())
        return errorf(EMBER_ERR_SHAPE, "%s: W %s does not match X %s", op,
                      shape_str(w.shape).c_str(), shape_str(x.shape).c_str());
    const int nd = x.rank() - 2;
    g->nd = nd;
    g->batch = x.shape[0];
    g->c = x.shape[1];
    g->group = ctx.node->attr_int("group", 1);
    if (g->group < 1 || g->c % g->group != 0)
        return errorf(EMBER_ERR_SHAPE, "%s: group %lld does not divide %lld input channels", op,
                      static_cast<long long>(g->group), static_cast<long long>(g->c));
    g->cg = g->c / g->group;
    if (!transpose) {
        g->m = w.shape[0];
        if (w.shape[1] != g->cg || g->m % g->group != 0)
            return errorf(EMBER_ERR_SHAPE, "%s: W %s does not fit %lld channels in %lld groups", op,
                          shape_str(w.shape).c_str(), static_cast<long long>(g->c),
                          static_cast<long long>(g->group));
        g->mg = g->m / g->group;
    } else {
        if (w.shape[0] != g->c)
            return errorf(EMBER_ERR_SHAPE, "%s: W %s does not fit %lld input channels", op,
                          shape_str(w.shape).c_str(), static_cast<long long>(g->c));
        g->mg = w.shape[1];
        g->m = g->mg * g->group;
    }
    for (int i = 0; i < x.rank(); i++)
        if (x.shape[i] < 0 || w.shape[i] < 0)
            return errorf(EMBER_ERR_SHAPE, "%s: negative dimension", op);
    kshape->assign(w.shape.begin() + 2, w.shape.end());
    std::vector<int64_t> ks = ctx.node->attr_ints("kernel_shape");
    if (!ks.empty() && ks != *kshape)
        return errorf(EMBER_ERR_SHAPE, "%s: kernel_shape attribute does not match W %s", op,
                      shape_str(w.shape).c_str());
    std::vector<int64_t> strides, dil;
    EMBER_RETURN_IF_ERROR(spatial_attr(ctx, op, "strides", nd, 1, 1, &strides));
    EMBER_RETURN_IF_ERROR(spatial_attr(ctx, op, "dilations", nd, 1, 1, &dil));
    const int o = 3 - nd;
    for (int i = 0; i < nd; i++) {
        g->in[o + i] = x.shape[2 + i];
        g->k[o + i] = (*kshape)[i];
        g->s[o + i] = strides[i];
        g->d[o + i] = dil[i];
        // Keeps (k-1)*d + 1 and s*(in-1) + ... well inside int64.
        const double limit = 1125899906842624.0;  // 2^50
        if (static_cast<double>(kshape->at(i)) * static_cast<double>(dil[i]) > limit ||
            static_cast<double>(x.shape[2 + i]) * static_cast<double>(strides[i]) > limit)
            return errorf(EMBER_ERR_SHAPE, "%s: spatial extents too large", op);
    }
    if (const TensorInfo *b = ctx.input(2)) {
        if (b->dtype != x.dtype || b->rank() != 1 || b->shape[0] != g->m)
            return errorf(EMBER_ERR_SHAPE, "%s: bias %s %s does not match %lld output channels", op,
                          dtype_name(b->dtype), shape_str(b->shape).c_str(),
                          static_cast<long long>(g->m));
    }
    return Status::OK();
}

// e[0] * e[1] * e[2], false past 2^40 (an empty extent gives 0 first: [2^37, 2^26, 0]
// is an empty output, not an overflow; fuzz_ember_file found the product overflowing).
bool extent_product(const int64_t *e, int64_t *out) {
    *out = 0;
    if (e[0] == 0 || e[1] == 0 || e[2] == 0) return true;
    int64_t p;
    if (__builtin_mul_overflow(e[0], e[1], &p) || __builtin_mul_overflow(p, e[2], &p) ||
        p > (int64_t(1) << 40))
        return false;
    *out = p;
    return true;
}

Status finish_geom(const char *op, ConvGeom *g) {
    if (!extent_product(g->in, &g->in_size) || !extent_product(g->out, &g->out_size) ||
        !extent_product(g->k, &g->k_size))
        return errorf(EMBER_ERR_SHAPE, "%s: spatial extents too large (over 2^40 positions)", op);
    g->out_shape = {g->batch, g->m};
    for (int i = 3 - g->nd; i < 3; i++) g->out_shape.push_back(g->out[i]);
    return Status::OK();
}

Status conv_geom(const InferContext &ctx, ConvGeom *g) {
    const char *op = "Conv";
    EMBER_RETURN_IF_ERROR(check_attrs(
        ctx, op, {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}));
    std::vector<int64_t> kshape;
    EMBER_RETURN_IF_ERROR(conv_common(ctx, op, false, g, &kshape));
    const int nd = g->nd, o = 3 - nd;
    AutoPad ap;
    EMBER_RETURN_IF_ERROR(parse_auto_pad(ctx, op, &ap));
    std::vector<int64_t> pads;
    EMBER_RETURN_IF_ERROR(spatial_attr(ctx, op, "pads", nd, 0, 0, &pads, 2 * nd));
    for (int i = 0; i < nd; i++) {
        const int j = o + i;
        const int64_t in = g->in[j], ek = (g->k[j] - 1) * g->d[j] + 1, s = g->s[j];
        int64_t out, begin;
        switch (ap) {
            case AutoPad::SameUpper:
            case AutoPad::SameLower: {
                out = ceil_div(in, s);
                int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
                begin = ap == AutoPad::SameUpper ? total / 2 : total - total / 2;
                break;
            }
            case AutoPad::Valid:
                begin = 0;
                out = in >= ek ? (in - ek) / s + 1 : 0;
                break;
            default: {
                begin = pads[i];
                int64_t span = in + pads[i] + pads[i + nd] - ek;
                out = span >= 0 ? span / s + 1 : 0;
                break;
            }
        }
        g->out[j] = out;
        g->pb[j] = begin;
    }
    return finish_geom(op, g);
}

Status conv_infer_impl(InferContext &ctx) {
    ConvGeom g;
    EMBER_RETURN_IF_ERROR(conv_geom(ctx, &g));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = g.out_shape;
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Conv kernels
// ---------------------------------------------------------------------------------

// Valid output range [lo, hi) along one axis for tap offset `off` (= k*d - pad):
// 0 <= o*s + off < in.
inline void tap_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi) {
    *lo = off >= 0 ? 0 : ceil_div(-off, s);
    *hi = in - 1 - off >= 0 ? std::min(out, (in - 1 - off) / s + 1) : 0;
    if (*hi < *lo) *hi = *lo;
}

// Direct convolution of one output plane when each group has one input channel
// (depthwise, or C = 1): y = bias + sum over taps of w * shifted x.
void conv_direct_plane(const ConvGeom &g, const float *__restrict x, const float *__restrict w,
                       float bias, float *__restrict y) {
    const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
    const int64_t ID = g.in[0], IH = g.in[1], IW = g.in[2];
    for (int64_t i = 0; i < g.out_size; i++) y[i] = bias;
    for (int64_t kz = 0; kz < g.k[0]; kz++) {
        int64_t zlo, zhi;
        tap_range(kz * g.d[0] - g.pb[0], g.s[0], ID, OD, &zlo, &zhi);
        for (int64_t ky = 0; ky < g.k[1]; ky++) {
            int64_t ylo, yhi;
            tap_range(ky * g.d[1] - g.pb[1], g.s[1], IH, OH, &ylo, &yhi);
            for (int64_t kx = 0; kx < g.k[2]; kx++) {
                const int64_t offx = kx * g.d[2] - g.pb[2];
                int64_t xlo, xhi;
                tap_range(offx, g.s[2], IW, OW, &xlo, &xhi);
                if (xlo >= xhi) continue;
                const float wv = w[(kz * g.k[1] + ky) * g.k[2] + kx];
                for (int64_t oz = zlo; oz < zhi; oz++) {
                    const int64_t iz = oz * g.s[0] + kz * g.d[0] - g.pb[0];
                    for (int64_t oy = ylo; oy < yhi; oy++) {
                        const int64_t iy = oy * g.s[1] + ky * g.d[1] - g.pb[1];
                        const float *__restrict xr = x + (iz * IH + iy) * IW + offx;
                        float *__restrict yr = y + (oz * OH + oy) * OW;
                        if (g.s[2] == 1) {
                            // Fixed 8-wide chunks of restrict pointers vectorise at -O2.
                            int64_t ox = xlo;
                            for (; ox + 8 <= xhi; ox += 8)
                                for (int t = 0; t < 8; t++) yr[ox + t] += wv * xr[ox + t];
                            for (; ox < xhi; ox++) yr[ox] += wv * xr[ox];
                        } else {
                            const int64_t sx = g.s[2];
                            for (int64_t ox = xlo; ox < xhi; ox++) yr[ox] += wv * xr[ox * sx];
                        }
                    }
                }
            }
        }
    }
}

// Appends values to one k row of a packed-B block: NR values per panel, panels
// `panel` floats apart.
struct PanelWriter {
    float *p;        // current panel's slot for this row
    int64_t panel;   // floats between panels
    int nr;
    int lane;        // next column inside the panel

    // Runs are moved 8 floats at a time with fixed-size memcpy (vector moves); a plain
    // loop of unknown length would stay scalar at -O2, and im2col is half the time of a
    // conv with few output channels.
    void zeros(int64_t n) {
        static const float kZero[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        while (n > 0) {
            const int64_t c = std::min<int64_t>(n, nr - lane);
            float *d = p + lane;
            int64_t i = 0;
            for (; i + 8 <= c; i += 8) std::memcpy(d + i, kZero, sizeof kZero);
            for (; i < c; i++) d[i] = 0.0f;
            advance(c);
            n -= c;
        }
    }
    void copy(const float *src, int64_t stride, int64_t n) {
        while (n > 0) {
            const int64_t c = std::min<int64_t>(n, nr - lane);
            float *d = p + lane;
            if (stride == 1) {
                int64_t i = 0;
                for (; i + 8 <= c; i += 8) std::memcpy(d + i, src + i, 8 * sizeof(float));
                for (; i < c; i++) d[i] = src[i];
            } else {
                for (int64_t i = 0; i < c; i++) d[i] = src[i * stride];
            }
            src += c * stride;
            advance(c);
            n -= c;
        }
    }
    void advance(int64_t c) {
        lane += static_cast<int>(c);
        if (lane == nr) {
            lane = 0;
            p += panel;
        }
    }
};

// Writes rows [p0, p1) of the im2col matrix of output positions [j0, j0+ncur) of one
// group (x = its first input channel) into the whole-matrix packed-B layout for a
// K x ncur matrix (K = cg * k_size), zero-filling the pad columns up to NR.
void im2col_packed(const ConvGeom &g, const SgemmKernel &kn, const float *x, int64_t j0,
                   int64_t ncur, int64_t p0, int64_t p1, float *dst) {
    const int NR = kn.nr;
    const int64_t K = g.cg * g.k_size;
    const int64_t npad = round_up(ncur, NR);
    const int64_t OH = g.out[1], OW = g.out[2];
    const int64_t IH = g.in[1], IW = g.in[2];
    for (int64_t p = p0; p < p1; p++) {
        const int64_t ch = p / g.k_size;
        int64_t kk = p % g.k_size;
        const int64_t kx = kk % g.k[2];
        kk /= g.k[2];
        const int64_t ky = kk % g.k[1];
        const int64_t kz = kk / g.k[1];
        const int64_t pc = p / kn.kc * kn.kc;
        const int64_t kcb = std::min(kn.kc, K - pc);
        const int64_t panel = NR * kcb;
        float *row = dst + pc * npad + (p - pc) * NR;
        const float *xc = x + ch * g.in_size;
        const int64_t offx = kx * g.d[2] - g.pb[2];
        int64_t xlo, xhi;
        tap_range(offx, g.s[2], IW, OW, &xlo, &xhi);
        // Walk the tile's output positions one (oz, oy) row at a time; each row segment
        // is zeros (left padding), a strided run of x, zeros (right padding), written in
        // pieces that end at panel boundaries.
        PanelWriter wr{row, panel, NR, 0};
        int64_t q = j0;
        int64_t j = 0;
        const int64_t sx = g.s[2];
        while (j < ncur) {
            const int64_t ox0 = q % OW;
            const int64_t oy = (q / OW) % OH;
            const int64_t oz = q / (OW * OH);
            const int64_t len = std::min(OW - ox0, ncur - j);
            const int64_t iz = oz * g.s[0] + kz * g.d[0] - g.pb[0];
            const int64_t iy = oy * g.s[1] + ky * g.d[1] - g.pb[1];
            if (iz >= 0 && iz < g.in[0] && iy >= 0 && iy < IH) {
                const int64_t lo = std::min(std::max(xlo, ox0), ox0 + len);
                const int64_t hi = std::max(std::min(xhi, ox0 + len), lo);
                wr.zeros(lo - ox0);
                if (hi > lo) wr.copy(xc + (iz * IH + iy) * IW + lo * sx + offx, sx, hi - lo);
                wr.zeros(ox0 + len - hi);
            } else {
                wr.zeros(len);
            }
            j += len;
            q += len;
        }
        wr.zeros(npad - ncur);
    }
}

class ConvKernel : public Kernel {
public:
    enum class Mode { Direct, Pointwise, Im2col };

    ConvKernel(const SgemmKernel &kn, const ConvGeom &g) : kn_(kn), g_(g) {}

    void prepare(const float *w_const) {
        const ConvGeom &g = g_;
        const bool pointwise = g.k_size == 1 && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 &&
                               g.pb[0] == 0 && g.pb[1] == 0 && g.pb[2] == 0 &&
                               g.in_size == g.out_size;
        // Direct only for depthwise-like convs (one input channel and few outputs per
        // group): with many outputs per input channel (C = 1 -> 64, 5x5) the GEMM
        // reuses each im2col row across all of them and wins by ~5x.
        mode_ = g.cg == 1 && g.mg <= 4 ? Mode::Direct
                : pointwise            ? Mode::Pointwise
                                       : Mode::Im2col;
        kg_ = g.cg * g.k_size;
        slots_ = plan_slots();
        if (mode_ == Mode::Direct) return;
        if (w_const) {
            w_stride_ = sgemm_packed_a_size(kn_, g.mg, kg_);
            w_packed_.resize(w_stride_ * static_cast<size_t>(g.group));
            for (int64_t gi = 0; gi < g.group; gi++)
                sgemm_pack_a(kn_, MatrixRef{w_const + gi * g.mg * kg_, kg_, 1}, g.mg, kg_,
                             w_packed_.data() + gi * w_stride_);
        }
        const bool ap = w_const != nullptr;
        if (mode_ == Mode::Pointwise) {
            tile_ = std::max<int64_t>(1, g.out_size);
            col_bytes_ = 0;
        } else {
            // A tile of output positions whose im2col block stays near 512 KiB, half of
            // a Zen 4 L2, next to the packed weights; at least 4 micro-panels wide so the
            // GEMM still has N to work with. (256 KiB to 2 MiB measured the same within
            // noise on the SqueezeNet and super-resolution convs; smaller saves scratch.)
            const int64_t budget = (int64_t(512) << 10) / static_cast<int64_t>(sizeof(float));
            int64_t t = std::max<int64_t>(4 * kn_.nr, budget / std::max<int64_t>(1, kg_));
            t = round_up(t, kn_.nr);
            tile_ = std::max<int64_t>(1, std::min(t, g.out_size));
            col_bytes_ = align64(sgemm_packed_b_size(kn_, kg_, tile_) * sizeof(float));
        }
        tiles_ = g.out_size > 0 ? ceil_div(g.out_size, tile_) : 0;
        units_ = g.batch * g.group * tiles_;
        // Unit-parallel: each slot holds a col tile and a 1-thread GEMM scratch. B is
        // packed already for im2col (the col tile), a strided view of X for pointwise.
        const bool bp = mode_ == Mode::Im2col;
        gemm_one_ = align64(sgemm_scratch_bytes(kn_, g.mg, tile_, kg_, ap, bp, 1));
        unit_slots_ = std::min(slots_, 16);
        size_t unit_par = static_cast<size_t>(unit_slots_) * (col_bytes_ + gemm_one_);
        // Inner-parallel: one col tile, GEMM scratch for all slots.
        gemm_all_ = align64(sgemm_scratch_bytes(kn_, g.mg, tile_, kg_, ap, bp, slots_));
        size_t inner = col_bytes_ + gemm_all_;
        scratch_ = std::max(unit_par, inner) + 64;
    }

    size_t scratch_bytes() const override { return scratch_; }

    Status run(const KernelIO &io) override {
        const ConvGeom &g = g_;
        const float *x = io.inputs[0].as<const float>();
        const float *w = io.inputs[1].as<const float>();
        const float *bias = io.num_inputs > 2 ? io.inputs[2].as<const float>() : nullptr;
        float *y = io.outputs[0].as<float>();
        if (g.batch == 0 || g.m == 0 || g.out_size == 0) return Status::OK();
        const double flops = 2.0 * static_cast<double>(g.batch) * static_cast<double>(g.m) *
                             static_cast<double>(g.out_size) * static_cast<double>(kg_);
        const int threads = useful_threads(std::min(io.max_threads, slots_), flops);
        if (mode_ == Mode::Direct) {
            const int64_t planes = g.batch * g.m;
            const int64_t work = std::max<int64_t>(1, g.out_size * g.k_size);
            const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / work);
            io.pool->parallel_for(planes, grain, threads, [&](int64_t b, int64_t e) {
                for (int64_t pl = b; pl < e; pl++) {
                    const int64_t n = pl / g.m, mo = pl % g.m, gi = mo / g.mg;
                    conv_direct_plane(g, x + (n * g.c + gi) * g.in_size, w + mo * g.k_size,
                                      bias ? bias[mo] : 0.0f, y + pl * g.out_size);
                }
            });
            return Status::OK();
        }
        char *base = align_ptr(io.scratch);
        if (threads > 1 && units_ >= 2 * threads) {
            const int t = std::min(threads, unit_slots_);
            for_units_slotted(io.pool, t, units_, [&](int64_t u, int slot) {
                char *s = base + static_cast<size_t>(slot) * (col_bytes_ + gemm_one_);
                GemmThreads one;
                run_unit(u, x, w, bias, y, reinterpret_cast<float *>(s), s + col_bytes_, one,
                         nullptr, 1);
            });
            return Status::OK();
        }
        GemmThreads th;
        th.pool = io.pool;
        th.max_threads = threads;
        th.slots = slots_;
        for (int64_t u = 0; u < units_; u++)
            run_unit(u, x, w, bias, y, reinterpret_cast<float *>(base), base + col_bytes_, th,
                     io.pool, threads);
        return Status::OK();
    }

private:
    void run_unit(int64_t u, const float *x, const float *w, const float *bias, float *y,
                  float *col, void *gemm_scratch, const GemmThreads &th, ThreadPool *pool,
                  int threads) const {
        const ConvGeom &g = g_;
        const int64_t t = u % tiles_;
        const int64_t gi = (u / tiles_) % g.group;
        const int64_t n = u / (tiles_ * g.group);
        const int64_t j0 = t * tile_;
        const int64_t ncur = std::min(tile_, g.out_size - j0);
        const float *xg = x + (n * g.c + gi * g.cg) * g.in_size;
        SgemmArgs a;
        a.m = g.mg;
        a.n = ncur;
        a.k = kg_;
        if (!w_packed_.empty()) a.a_packed = w_packed_.data() + gi * w_stride_;
        else a.a = MatrixRef{w + gi * g.mg * kg_, kg_, 1};
        if (mode_ == Mode::Pointwise) {
            a.b = MatrixRef{xg + j0, g.in_size, 1};
        } else {
            if (pool && threads > 1 && kg_ > 1) {
                pool->parallel_for(kg_, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, ncur)),
                                   threads, [&](int64_t b, int64_t e) {
                                       im2col_packed(g, kn_, xg, j0, ncur, b, e, col);
                                   });
            } else {
                im2col_packed(g, kn_, xg, j0, ncur, 0, kg_, col);
            }
            a.b_packed = col;
        }
        a.c = y + (n * g.m + gi * g.mg) * g.out_size + j0;
        a.ldc = g.out_size;
        a.row_bias = bias ? bias + gi * g.mg : nullptr;
        sgemm(kn_, a, gemm_scratch, th);
    }

    const SgemmKernel &kn_;
    ConvGeom g_;
    Mode mode_ = Mode::Im2col;
    int64_t kg_ = 0;
    std::vector<float> w_packed_;
    size_t w_stride_ = 0;
    int64_t tile_ = 1, tiles_ = 0, units_ = 0;
    size_t col_bytes_ = 0, gemm_one_ = 0, gemm_all_ = 0;
    int slots_ = 1, unit_slots_ = 1;
    size_t scratch_ = 0;
};

Status conv_create_impl(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    ConvGeom g;
    EMBER_RETURN_IF_ERROR(conv_geom(ctx, &g));
    std::unique_ptr<ConvKernel> k(new ConvKernel(sgemm_kernel(), g));
    k->prepare(ctx.input(1)->as<float>());
    *out = std::move(k);
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// ConvTranspose
// ---------------------------------------------------------------------------------

Status convt_geom(const InferContext &ctx, ConvGeom *g) {
    const char *op = "ConvTranspose";
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, op,
                                      {"auto_pad", "dilations", "group", "kernel_shape",
                                       "output_padding", "output_shape", "pads", "strides"}));
    std::vector<int64_t> kshape;
    EMBER_RETURN_IF_ERROR(conv_common(ctx, op, true, g, &kshape));
    const int nd = g->nd, o = 3 - nd;
    AutoPad ap;
    EMBER_RETURN_IF_ERROR(parse_auto_pad(ctx, op, &ap));
    std::vector<int64_t> pads, opad;
    EMBER_RETURN_IF_ERROR(spatial_attr(ctx, op, "pads", nd, 0, 0, &pads, 2 * nd));
    EMBER_RETURN_IF_ERROR(spatial_attr(ctx, op, "output_padding", nd, 0, 0, &opad));
    std::vector<int64_t> oshape = ctx.node->attr_ints("output_shape");
    if (oshape.size() == static_cast<size_t>(nd) + 2) oshape.erase(oshape.begin(), oshape.begin() + 2);
    if (!oshape.empty() && oshape.size() != static_cast<size_t>(nd))
        return errorf(EMBER_ERR_SHAPE, "%s: output_shape has %zu values for %d spatial dims", op,
                      oshape.size(), nd);
    for (int64_t v : oshape)
        if (v < 0 || v > kMaxElements)
            return errorf(EMBER_ERR_SHAPE, "%s: output_shape value %lld is out of range", op,
                          static_cast<long long>(v));
    for (int i = 0; i < nd; i++) {
        const int j = o + i;
        const int64_t in = g->in[j], ek = (g->k[j] - 1) * g->d[j] + 1, s = g->s[j];
        const int64_t full = s * (in - 1) + opad[i] + ek;  // output before padding
        int64_t out, begin;
        if (!oshape.empty() || ap == AutoPad::SameUpper || ap == AutoPad::SameLower) {
            out = !oshape.empty() ? oshape[i] : in * s;
            const int64_t total = full - out;
            // ONNX: SAME_UPPER puts the odd pad at the end, otherwise at the start.
            // (Floor division keeps a negative total consistent: extra output at the end.)
            const int64_t half = total >= 0 ? total / 2 : -ceil_div(-total, 2);
            begin = ap == AutoPad::SameUpper ? half : total - half;
        } else if (ap == AutoPad::Valid) {
            begin = 0;
            out = full;
        } else {
            begin = pads[i];
            out = full - pads[i] - pads[i + nd];
        }
        if (out < 0)
            return errorf(EMBER_ERR_SHAPE, "%s: negative output size along spatial axis %d", op, i);
        g->out[j] = out;
        g->pb[j] = begin;
    }
    return finish_geom(op, g);
}

Status convt_infer_impl(InferContext &ctx) {
    ConvGeom g;
    EMBER_RETURN_IF_ERROR(convt_geom(ctx, &g));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = g.out_shape;
    return Status::OK();
}

// Adds rows [m0, m1) (output channels of the group) of col (mg*k_size rows x icur
// input positions starting at i0) into y (the group's first output channel).
void col2im_add(const ConvGeom &g, const float *col, int64_t i0, int64_t icur, int64_t m0,
                int64_t m1, float *y) {
    const int64_t IH = g.in[1], IW = g.in[2];
    const int64_t OD = g.out[0], OH = g.out[1], OW = g.out[2];
    for (int64_t mo = m0; mo < m1; mo++) {
        float *ym = y + mo * g.out_size;
        for (int64_t kk = 0; kk < g.k_size; kk++) {
            const int64_t kx = kk % g.k[2], ky = (kk / g.k[2]) % g.k[1], kz = kk / (g.k[2] * g.k[1]);
            const float *cr = col + (mo * g.k_size + kk) * icur;
            int64_t q = i0, j = 0;
            while (j < icur) {
                const int64_t ix0 = q % IW, iy = (q / IW) % IH, iz = q / (IW * IH);
                const int64_t len = std::min(IW - ix0, icur - j);
                const int64_t oz = iz * g.s[0] + kz * g.d[0] - g.pb[0];
                const int64_t oy = iy * g.s[1] + ky * g.d[1] - g.pb[1];
                if (oz >= 0 && oz < OD && oy >= 0 && oy < OH) {
                    // Input columns whose output column lands inside [0, OW).
                    float *yr = ym + (oz * OH + oy) * OW;
                    const int64_t offx = kx * g.d[2] - g.pb[2], sx = g.s[2];
                    int64_t lo, hi;
                    tap_range(offx, sx, OW, IW, &lo, &hi);
                    lo = std::max(lo, ix0);
                    hi = std::min(hi, ix0 + len);
                    const float *src = cr + j;  // holds input columns ix0, ix0+1, ...
                    for (int64_t ix = lo; ix < hi; ix++) yr[ix * sx + offx] += src[ix - ix0];
                }
                j += len;
                q += len;
            }
        }
    }
}

class ConvTransposeKernel : public Kernel {
public:
    ConvTransposeKernel(const SgemmKernel &kn, const ConvGeom &g) : kn_(kn), g_(g) {}

    void prepare(const float *w_const) {
        const ConvGeom &g = g_;
        rows_ = g.mg * g.k_size;
        if (w_const) {
            // A_g = W_g^T: W_g is [cg, mg*k_size] row-major.
            w_stride_ = sgemm_packed_a_size(kn_, rows_, g.cg);
            w_packed_.resize(w_stride_ * static_cast<size_t>(g.group));
            for (int64_t gi = 0; gi < g.group; gi++)
                sgemm_pack_a(kn_, MatrixRef{w_const + gi * g.cg * rows_, 1, rows_}, rows_, g.cg,
                             w_packed_.data() + gi * w_stride_);
        }
        // Input positions per tile: the col block (rows x tile floats) stays near 2 MiB.
        const int64_t budget = (int64_t(2) << 20) / static_cast<int64_t>(sizeof(float));
        tile_ = std::max<int64_t>(16, budget / std::max<int64_t>(1, rows_));
        tile_ = std::max<int64_t>(1, std::min(tile_, g.in_size));
        slots_ = plan_slots();
        col_bytes_ = align64(static_cast<size_t>(rows_ * tile_) * sizeof(float));
        scratch_ = col_bytes_ +
                   sgemm_scratch_bytes(kn_, rows_, tile_, g.cg, !w_packed_.empty(), false, slots_) +
                   64;
    }

    size_t scratch_bytes() const override { return scratch_; }

    Status run(const KernelIO &io) override {
        const ConvGeom &g = g_;
        const float *x = io.inputs[0].as<const float>();
        const float *w = io.inputs[1].as<const float>();
        const float *bias = io.num_inputs > 2 ? io.inputs[2].as<const float>() : nullptr;
        float *y = io.outputs[0].as<float>();
        for (int64_t n = 0; n < g.batch; n++)
            for (int64_t mo = 0; mo < g.m; mo++) {
                float *ym = y + (n * g.m + mo) * g.out_size;
                const float v = bias ? bias[mo] : 0.0f;
                for (int64_t i = 0; i < g.out_size; i++) ym[i] = v;
            }
        if (g.in_size == 0 || g.out_size == 0) return Status::OK();
        const int threads = std::max(1, std::min(io.max_threads, slots_));
        char *base = align_ptr(io.scratch);
        float *col = reinterpret_cast<float *>(base);
        GemmThreads th;
        th.pool = io.pool;
        th.max_threads = threads;
        th.slots = slots_;
        for (int64_t n = 0; n < g.batch; n++) {
            for (int64_t gi = 0; gi < g.group; gi++) {
                const float *xg = x + (n * g.c + gi * g.cg) * g.in_size;
                float *yg = y + (n * g.m + gi * g.mg) * g.out_size;
                for (int64_t i0 = 0; i0 < g.in_size; i0 += tile_) {
                    const int64_t icur = std::min(tile_, g.in_size - i0);
                    SgemmArgs a;
                    a.m = rows_;
                    a.n = icur;
                    a.k = g.cg;
                    if (!w_packed_.empty()) a.a_packed = w_packed_.data() + gi * w_stride_;
                    else a.a = MatrixRef{w + gi * g.cg * rows_, 1, rows_};
                    a.b = MatrixRef{xg + i0, g.in_size, 1};
                    a.c = col;
                    a.ldc = icur;
                    sgemm(kn_, a, base + col_bytes_, th);
                    const int64_t grain =
                        std::max<int64_t>(1, 65536 / std::max<int64_t>(1, g.k_size * icur));
                    io.pool->parallel_for(g.mg, grain, threads, [&](int64_t b, int64_t e) {
                        col2im_add(g, col, i0, icur, b, e, yg);
                    });
                }
            }
        }
        return Status::OK();
    }

private:
    const SgemmKernel &kn_;
    ConvGeom g_;
    int64_t rows_ = 0;
    std::vector<float> w_packed_;
    size_t w_stride_ = 0;
    int64_t tile_ = 1;
    int slots_ = 1;
    size_t col_bytes_ = 0;
    size_t scratch_ = 0;
};

Status convt_create_impl(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    ConvGeom g;
    EMBER_RETURN_IF_ERROR(convt_geom(ctx, &g));
    std::unique_ptr<ConvTransposeKernel> k(new ConvTransposeKernel(sgemm_kernel(), g));
    k->prepare(ctx.input(1)->as<float>());
    *out = std::move(k);
    return Status::OK();
}

Status gemm_infer(InferContext &ctx) { return guarded("Gemm", [&] { return gemm_infer_impl(ctx); }); }
Status gemm_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("Gemm", [&] { return gemm_create_impl(ctx, out); });
}
Status matmul_infer(InferContext &ctx) { return guarded("MatMul", [&] { return matmul_infer_impl(ctx); }); }
Status matmul_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("MatMul", [&] { return matmul_create_impl(ctx, out); });
}
Status conv_infer(InferContext &ctx) { return guarded("Conv", [&] { return conv_infer_impl(ctx); }); }
Status conv_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("Conv", [&] { return conv_create_impl(ctx, out); });
}
Status convt_infer(InferContext &ctx) {
    return guarded("ConvTranspose", [&] { return convt_infer_impl(ctx); });
}
Status convt_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    return guarded("ConvTranspose", [&] { return convt_create_impl(ctx, out); });
}

}  // namespace

void register_linear_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "Gemm";
    s.infer = gemm_infer;
    s.create = gemm_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "MatMul";
    s.infer = matmul_infer;
    s.create = matmul_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "Conv";
    s.infer = conv_infer;
    s.create = conv_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "ConvTranspose";
    s.infer = convt_infer;
    s.create = convt_create;
    r.add(s);
}

}  // namespace ember
