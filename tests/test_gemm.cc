// test_gemm.cc — the SGEMM (core/kernels/gemm.h) and the linear operators built on it.
//
// What it checks:
//   - cpu_features: the EMBER_CPU_ISA cap never raises the level, "portable" forces it;
//   - sgemm, for every ISA level this machine has (portable always), against a naive
//     double-precision reference: odd shapes (1x1x1 ... 97x129x257, k spanning several
//     KC blocks, m and n spanning several MC / NC blocks), A and B transposed or not,
//     packed ahead or on the fly, alpha/beta (beta = 0 must not read C: C starts as
//     NaN), row and column bias, ldc > n (the gap must stay untouched), 1 and 2 threads;
//     the error is relative to sum |alpha a b| + |beta c| + |bias| per element and the
//     failure message gives the worst one;
//   - the operators through their schemas (the dispatched kernel): Gemm (C broadcast
//     forms, transposes), MatMul (1-D operands, batch broadcasting, constant B), Conv
//     (1-D/2-D/3-D, groups, depthwise, pointwise, strides, dilations, pads, auto_pad,
//     batch > 1, several im2col tiles, constant or runtime weights), ConvTranspose
//     (strides, pads, output_padding, output_shape, dilations, groups), each against a
//     direct double-precision loop, with 1 and 2 threads.
// No timing here: performance is measured outside the test suite.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/cpu_features.h"
#include "core/kernels/gemm.h"
#include "core/op.h"
#include "core/thread_pool.h"

using namespace ember;

// ---- allocation counting: run() must not allocate (checked on the calling thread) ----
namespace {
thread_local bool t_counting = false;
thread_local long t_allocs = 0;
}  // namespace

// Out of line, so GCC does not pair a new-expression with free() (-Wmismatched-new-delete).
__attribute__((noinline)) static void raw_free(void *p) { free(p); }

void *operator new(size_t n) {
    if (t_counting) t_allocs++;
    void *p = malloc(n ? n : 1);
    if (!p) throw std::bad_alloc();
    return p;
}
void operator delete(void *p) noexcept { raw_free(p); }
void operator delete(void *p, size_t) noexcept { raw_free(p); }

namespace {

std::mt19937 &rng() {
    static std::mt19937 r(12345);
    return r;
}

std::vector<float> random_vec(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (auto &x : v) x = d(rng());
    return v;
}

std::vector<const SgemmKernel *> all_kernels() {
    std::vector<const SgemmKernel *> ks;
    for (CpuIsa isa : {CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512})
        if (const SgemmKernel *k = sgemm_kernel_for(isa)) ks.push_back(k);
    return ks;
}

// ---------------------------------------------------------------------------------
// cpu_features
// ---------------------------------------------------------------------------------

void test_cpu_features(void **) {
    const CpuFeatures &f = cpu_features();
    assert_non_null(f.isa_name);
    assert_true(cpu_isa_supported(CpuIsa::Portable));
    // The chosen level is one the machine has, and the table agrees with it.
    assert_true(cpu_isa_supported(f.isa));
    assert_true(!f.avx512 || f.avx2_fma);
    // The dispatched kernel is the best one at or below the allowed level.
    int expect = 0;
    for (int l = 0; l <= static_cast<int>(f.isa); l++)
        if (sgemm_kernel_for(static_cast<CpuIsa>(l))) expect = l;
    assert_int_equal(static_cast<int>(sgemm_kernel().isa), expect);
    const char *cap = getenv("EMBER_CPU_ISA");
    if (cap && strcmp(cap, "portable") == 0) assert_int_equal(static_cast<int>(f.isa), 0);
    if (cap && strcmp(cap, "avx2") == 0) assert_false(f.avx512);
    // Every level the machine has comes with a kernel whose blocks are consistent.
    for (const SgemmKernel *k : all_kernels()) {
        assert_true(k->mr > 0 && k->nr > 0);
        assert_int_equal(k->mc % k->mr, 0);
        assert_int_equal(k->nc % k->nr, 0);
        assert_true(k->kc > 0);
    }
}

// ---------------------------------------------------------------------------------
// sgemm against a double reference
// ---------------------------------------------------------------------------------

struct GemmCase {
    int64_t m, n, k;
    bool ta, tb;
    float alpha, beta;
    bool row_bias, col_bias;
    bool pack_a, pack_b;
    int64_t ldc_extra;
    int threads;
};

std::string case_str(const SgemmKernel &kn, const GemmCase &c) {
    char buf[256];
    snprintf(buf, sizeof buf,
             "%s m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g rowbias=%d colbias=%d "
             "packA=%d packB=%d ldc+%lld threads=%d",
             kn.name, (long long)c.m, (long long)c.n, (long long)c.k, c.ta, c.tb, c.alpha, c.beta,
             c.row_bias, c.col_bias, c.pack_a, c.pack_b, (long long)c.ldc_extra, c.threads);
    return buf;
}

// Runs one case; returns the worst relative error (inf for a touched gap or NaN).
double run_gemm_case(const SgemmKernel &kn, const GemmCase &c, ThreadPool *pool) {
    const int64_t m = c.m, n = c.n, k = c.k, ldc = n + c.ldc_extra;
    std::vector<float> a = random_vec(static_cast<size_t>(m * k));
    std::vector<float> b = random_vec(static_cast<size_t>(k * n));
    std::vector<float> rb = random_vec(static_cast<size_t>(m));
    std::vector<float> cb = random_vec(static_cast<size_t>(n));
    std::vector<float> cmat(static_cast<size_t>(std::max<int64_t>(1, m * ldc)));
    const float sentinel = 12345.0f;
    std::vector<float> c0 = random_vec(cmat.size());
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float &v = cmat[i * ldc + j];
            if (j >= n) v = sentinel;
            else v = c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : c0[i * ldc + j];
        }
    // A stored [m, k] (or [k, m] when transposed), B [k, n] (or [n, k]).
    MatrixRef av = c.ta ? MatrixRef{a.data(), 1, m} : MatrixRef{a.data(), k, 1};
    MatrixRef bv = c.tb ? MatrixRef{b.data(), 1, k} : MatrixRef{b.data(), n, 1};
    std::vector<double> ref(static_cast<size_t>(m * n)), scale(static_cast<size_t>(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (int64_t p = 0; p < k; p++) {
                double prod = static_cast<double>(av.data[i * av.rs + p * av.cs]) *
                              static_cast<double>(bv.data[p * bv.rs + j * bv.cs]);
                s += prod;
                sa += std::fabs(prod);
            }
            double r = c.alpha * s, sc = std::fabs(c.alpha) * sa;
            if (c.beta != 0.0f) {
                r += c.beta * static_cast<double>(c0[i * ldc + j]);
                sc += std::fabs(c.beta * c0[i * ldc + j]);
            }
            if (c.row_bias) r += rb[i], sc += std::fabs(rb[i]);
            if (c.col_bias) r += cb[j], sc += std::fabs(cb[j]);
            ref[i * n + j] = r;
            scale[i * n + j] = sc;
        }
    SgemmArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = av;
    g.b = bv;
    std::vector<float> pa, pb;
    if (c.pack_a) {
        pa.resize(sgemm_packed_a_size(kn, m, k));
        sgemm_pack_a(kn, av, m, k, pa.data());
        g.a_packed = pa.data();
        g.a = MatrixRef{};
    }
    if (c.pack_b) {
        pb.resize(sgemm_packed_b_size(kn, k, n));
        sgemm_pack_b(kn, bv, k, n, pb.data());
        g.b_packed = pb.data();
        g.b = MatrixRef{};
    }
    g.c = cmat.data();
    g.ldc = ldc;
    g.alpha = c.alpha;
    g.beta = c.beta;
    g.row_bias = c.row_bias ? rb.data() : nullptr;
    g.col_bias = c.col_bias ? cb.data() : nullptr;
    GemmThreads th;
    th.pool = pool;
    th.max_threads = c.threads;
    th.slots = 2;
    // Scratch offset by 4 bytes: sgemm must align it itself.
    std::vector<char> scratch(sgemm_scratch_bytes(kn, m, n, k, c.pack_a, c.pack_b, th.slots) + 4);
    sgemm(kn, g, scratch.data() + 4, th);
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float got = cmat[i * ldc + j];
            if (j >= n) {
                if (got != sentinel) return INFINITY;
                continue;
            }
            if (std::isnan(got)) return INFINITY;
            double e = std::fabs(got - ref[i * n + j]) / (scale[i * n + j] + 1e-30);
            worst = std::max(worst, e);
        }
    return worst;
}

// Float accumulation of k products: error within ~k * 2^-24 of sum |terms|; allow slack.
double gemm_tolerance(int64_t k) { return 4.0e-7 * static_cast<double>(k + 8); }

void check_cases(const std::vector<GemmCase> &cases) {
    ThreadPool pool(2);
    for (const SgemmKernel *kn : all_kernels()) {
        for (const GemmCase &c : cases) {
            double err = run_gemm_case(*kn, c, &pool);
            if (!(err <= gemm_tolerance(c.k)))
                fail_msg("sgemm %s: worst relative error %g (tolerance %g)", case_str(*kn, c).c_str(),
                         err, gemm_tolerance(c.k));
        }
    }
}

void test_sgemm_shapes(void **) {
    const int64_t shapes[][3] = {{1, 1, 1},    {5, 7, 11},    {13, 17, 300}, {64, 64, 64},
                                 {97, 129, 257}, {6, 16, 256},  {7, 33, 513},  {200, 3, 5},
                                 {3, 300, 2},  {1, 1000, 37}, {300, 1, 40},  {145, 1100, 20},
                                 {12, 48, 1},  {31, 2049, 9}};
    std::vector<GemmCase> cases;
    for (auto &s : shapes)
        for (int threads = 1; threads <= 2; threads++)
            cases.push_back({s[0], s[1], s[2], false, false, 1.0f, 0.0f, false, false, false,
                             false, 0, threads});
    check_cases(cases);
}

void test_sgemm_transposes_and_packing(void **) {
    const int64_t shapes[][3] = {{5, 7, 11}, {13, 17, 300}, {97, 129, 257}, {1, 9, 4}, {40, 1, 70}};
    std::vector<GemmCase> cases;
    for (auto &s : shapes)
        for (int t = 0; t < 16; t++)
            cases.push_back({s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1.0f, 0.0f, false, false,
                             (t & 4) != 0, (t & 8) != 0, 3, 1 + (t % 2)});
    check_cases(cases);
}

void test_sgemm_epilogue(void **) {
    const int64_t shapes[][3] = {{1, 1, 1}, {5, 7, 11}, {13, 17, 300}, {64, 64, 64}, {97, 129, 257}};
    const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.5f, 2.0f}, {-1.5f, 1.0f}, {2.0f, -0.25f}};
    std::vector<GemmCase> cases;
    for (auto &s : shapes)
        for (auto &p : ab)
            for (int bias = 0; bias < 4; bias++)
                cases.push_back({s[0], s[1], s[2], bias == 1, bias == 2, p[0], p[1], (bias & 1) != 0,
                                 (bias & 2) != 0, bias == 3, false, bias, 1 + (bias % 2)});
    check_cases(cases);
}

void test_sgemm_k_zero(void **) {
    // No products: C = beta*C + biases.
    std::vector<GemmCase> cases = {{4, 5, 0, false, false, 1.0f, 0.0f, true, true, false, false, 0, 1},
                                   {4, 5, 0, false, false, 2.0f, 0.5f, false, true, false, false, 1, 2}};
    check_cases(cases);
}

// The micro-kernel of each ISA against the portable one on every partial tile.
void test_ukernel_edges(void **) {
    for (const SgemmKernel *kn : all_kernels()) {
        const int MR = kn->mr, NR = kn->nr;
        for (int64_t k : {0, 1, 3, 17}) {
            std::vector<float> a = random_vec(static_cast<size_t>(MR * k + 1));
            std::vector<float> b = random_vec(static_cast<size_t>(NR * k + 1));
            std::vector<float> rb = random_vec(MR), cb = random_vec(NR);
            for (int m = 1; m <= MR; m++)
                for (int n = 1; n <= NR; n++) {
                    const int64_t ldc = NR + 1;
                    std::vector<float> c0 = random_vec(static_cast<size_t>(MR * ldc));
                    std::vector<float> c = c0;
                    GemmEpilogue ep;
                    ep.alpha = 0.75f;
                    ep.beta = 1.5f;
                    ep.row_bias = rb.data();
                    ep.col_bias = cb.data();
                    kn->ukernel(k, a.data(), b.data(), c.data(), ldc, m, n, ep);
                    for (int i = 0; i < MR; i++)
                        for (int j = 0; j < ldc; j++) {
                            float got = c[i * ldc + j];
                            if (i >= m || j >= n) {
                                if (got != c0[i * ldc + j])
                                    fail_msg("%s ukernel m=%d n=%d k=%lld wrote outside the tile",
                                             kn->name, m, n, (long long)k);
                                continue;
                            }
                            double r = 0, s = 0;
                            for (int64_t p = 0; p < k; p++) {
                                r += double(a[p * MR + i]) * b[p * NR + j];
                                s += std::fabs(double(a[p * MR + i]) * b[p * NR + j]);
                            }
                            r = 0.75 * r + 1.5 * c0[i * ldc + j] + rb[i] + cb[j];
                            s = 0.75 * s + std::fabs(1.5 * c0[i * ldc + j]) + std::fabs(rb[i]) +
                                std::fabs(cb[j]);
                            double e = std::fabs(got - r) / (s + 1e-30);
                            if (e > gemm_tolerance(k))
                                fail_msg("%s ukernel m=%d n=%d k=%lld: relative error %g", kn->name,
                                         m, n, (long long)k, e);
                        }
                }
        }
    }
}

// ---------------------------------------------------------------------------------
// Operators through their schemas
// ---------------------------------------------------------------------------------

struct OpInput {
    Shape shape;
    std::vector<float> data;    // float32, or int32 bit patterns when dtype is I32
    DType dtype = DType::F32;
    bool constant = false;
    bool present = true;
};

Attribute ints_attr(const char *name, std::vector<int64_t> v) {
    Attribute a;
    a.name = name;
    a.type = AttrType::Ints;
    a.ints = std::move(v);
    return a;
}
Attribute int_attr(const char *name, int64_t v) {
    Attribute a;
    a.name = name;
    a.type = AttrType::Int;
    a.i = v;
    return a;
}
Attribute float_attr(const char *name, float v) {
    Attribute a;
    a.name = name;
    a.type = AttrType::Float;
    a.f = v;
    return a;
}
Attribute string_attr(const char *name, const char *v) {
    Attribute a;
    a.name = name;
    a.type = AttrType::String;
    a.s = v;
    return a;
}

// Infers, creates and runs one node (float32) with `threads` threads. Returns the
// status; on success fills *out and *out_shape.
Status run_op(const char *op, std::vector<OpInput> &ins, const std::vector<Attribute> &attrs,
              int threads, ThreadPool *pool, std::vector<float> *out, Shape *out_shape) {
    const OpSchema *schema = builtin_ops().find(op);
    if (!schema) return errorf(EMBER_ERR_UNSUPPORTED, "no schema for %s", op);
    Graph graph;
    Node node;
    node.op_type = op;
    node.name = "n";
    node.attrs = attrs;
    node.outputs = {0};
    std::vector<TensorInfo> infos(ins.size());
    InferContext ctx;
    ctx.node = &node;
    ctx.graph = &graph;
    for (size_t i = 0; i < ins.size(); i++) {
        node.inputs.push_back(ins[i].present ? static_cast<int32_t>(i + 1) : -1);
        infos[i].dtype = ins[i].dtype;
        infos[i].shape = ins[i].shape;
        infos[i].value = ins[i].constant ? ins[i].data.data() : nullptr;
        ctx.inputs.push_back(ins[i].present ? &infos[i] : nullptr);
    }
    ctx.outputs.assign(1, TensorInfo());
    EMBER_RETURN_IF_ERROR(schema->infer(ctx));
    std::unique_ptr<Kernel> kernel;
    EMBER_RETURN_IF_ERROR(schema->create(ctx, &kernel));
    *out_shape = ctx.output(0).shape;
    out->assign(static_cast<size_t>(shape_numel(*out_shape)), std::nanf(""));
    std::vector<Tensor> tin(ins.size());
    for (size_t i = 0; i < ins.size(); i++) {
        if (!ins[i].present) continue;
        tin[i].dtype = ins[i].dtype;
        tin[i].shape = ins[i].shape;
        tin[i].data = ins[i].data.data();
    }
    Tensor tout;
    tout.dtype = ctx.output(0).dtype;
    tout.shape = *out_shape;
    tout.data = out->data();
    // Scratch full of NaN: a kernel that reads scratch it did not write shows up.
    std::vector<float> scratch(kernel->scratch_bytes() / sizeof(float) + 16, std::nanf(""));
    KernelIO io;
    io.inputs = tin.data();
    io.num_inputs = tin.size();
    io.outputs = &tout;
    io.num_outputs = 1;
    io.scratch = scratch.data();
    io.pool = pool;
    io.max_threads = threads;
    t_allocs = 0;
    t_counting = true;
    Status st = kernel->run(io);
    t_counting = false;
    if (st.ok() && t_allocs != 0)
        return errorf(EMBER_ERR_INTERNAL, "%s: run() allocated %ld times", op, t_allocs);
    return st;
}

// Compares with the conformance rule scaled to the problem: |got - ref| <= 1e-4 + 1e-3|ref|.
void expect_close(const char *what, const std::vector<float> &got, const std::vector<double> &ref) {
    if (got.size() != ref.size()) fail_msg("%s: %zu values, expected %zu", what, got.size(), ref.size());
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < got.size(); i++) {
        double e = std::fabs(got[i] - ref[i]) / (1e-4 + 1e-3 * std::fabs(ref[i]));
        if (std::isnan(got[i])) e = INFINITY;
        if (e > worst) worst = e, at = i;
    }
    if (worst > 1.0)
        fail_msg("%s: element %zu is %g, expected %g (error %g of the allowance)", what, at,
                 got[at], ref[at], worst);
}

// ---- Gemm ----

void test_op_gemm(void **) {
    ThreadPool pool(2);
    struct C { int64_t m, n, k; int ta, tb; float alpha, beta; Shape cshape; bool cconst, bconst; };
    const C cases[] = {
        {3, 5, 4, 0, 0, 1.0f, 1.0f, {}, false, false},
        {3, 5, 4, 1, 1, 0.5f, 2.0f, {5}, false, true},
        {7, 33, 20, 0, 1, 1.0f, 1.0f, {33}, true, true},
        {7, 33, 20, 1, 0, 1.0f, 1.0f, {7, 1}, false, false},
        {7, 33, 20, 0, 0, 1.0f, 0.5f, {1, 33}, false, true},
        {7, 33, 20, 0, 0, 2.0f, -1.0f, {7, 33}, false, false},
        {7, 33, 20, 0, 0, 1.0f, 3.0f, {1}, false, false},
        {7, 33, 20, 0, 0, 1.0f, 3.0f, {1, 1}, false, false},
        {1, 1, 1, 0, 0, 1.0f, 1.0f, {1}, false, false},
        {64, 100, 130, 1, 1, 1.0f, 1.0f, {100}, true, true},
    };
    for (const C &c : cases)
        for (int threads = 1; threads <= 2; threads++) {
            std::vector<OpInput> ins(3);
            ins[0].shape = c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k};
            ins[0].data = random_vec(static_cast<size_t>(c.m * c.k));
            ins[1].shape = c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n};
            ins[1].data = random_vec(static_cast<size_t>(c.k * c.n));
            ins[1].constant = c.bconst;
            ins[2].shape = c.cshape;
            ins[2].data = random_vec(static_cast<size_t>(shape_numel(c.cshape)));
            ins[2].constant = c.cconst;
            if (c.cshape.empty()) ins.pop_back();  // no C
            std::vector<Attribute> attrs = {int_attr("transA", c.ta), int_attr("transB", c.tb),
                                            float_attr("alpha", c.alpha), float_attr("beta", c.beta)};
            std::vector<float> out;
            Shape os;
            Status st = run_op("Gemm", ins, attrs, threads, &pool, &out, &os);
            if (!st.ok()) fail_msg("Gemm: %s", st.message().c_str());
            assert_true(os == (Shape{c.m, c.n}));
            std::vector<double> ref(static_cast<size_t>(c.m * c.n));
            const int rank = static_cast<int>(c.cshape.size());
            for (int64_t i = 0; i < c.m; i++)
                for (int64_t j = 0; j < c.n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < c.k; p++) {
                        double a = c.ta ? ins[0].data[p * c.m + i] : ins[0].data[i * c.k + p];
                        double b = c.tb ? ins[1].data[j * c.k + p] : ins[1].data[p * c.n + j];
                        s += a * b;
                    }
                    s *= c.alpha;
                    if (ins.size() > 2) {
                        int64_t cm = rank == 2 ? c.cshape[0] : 1, cn = c.cshape[rank - 1];
                        s += c.beta * ins[2].data[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
                    }
                    ref[i * c.n + j] = s;
                }
            expect_close("Gemm", out, ref);
        }
}

// ---- MatMul ----

void test_op_matmul(void **) {
    ThreadPool pool(2);
    struct C { Shape a, b; bool bconst; };
    const C cases[] = {
        {{3, 4}, {4, 5}, false},         {{4}, {4, 5}, false},          {{3, 4}, {4}, true},
        {{4}, {4}, false},               {{2, 3, 4}, {4, 5}, true},     {{2, 3, 4}, {2, 4, 5}, false},
        {{2, 1, 3, 4}, {5, 4, 6}, true}, {{1, 3, 4}, {7, 4, 2}, false}, {{6, 1, 3}, {3, 9}, false},
        {{5, 40, 30}, {5, 30, 50}, true}, {{9, 3, 2}, {1, 2, 9}, false}, {{70, 130}, {130, 90}, true},
        {{2, 0, 4}, {4, 3}, false},      {{3, 0}, {0, 4}, false},
    };
    for (const C &c : cases)
        for (int threads = 1; threads <= 2; threads++) {
            std::vector<OpInput> ins(2);
            ins[0].shape = c.a;
            ins[0].data = random_vec(static_cast<size_t>(shape_numel(c.a)));
            ins[1].shape = c.b;
            ins[1].data = random_vec(static_cast<size_t>(shape_numel(c.b)));
            ins[1].constant = c.bconst;
            std::vector<float> out;
            Shape os;
            Status st = run_op("MatMul", ins, {}, threads, &pool, &out, &os);
            if (!st.ok()) fail_msg("MatMul %s x %s: %s", shape_str(c.a).c_str(),
                                   shape_str(c.b).c_str(), st.message().c_str());
            // Reference: promote, broadcast, loop.
            Shape as = c.a, bs = c.b;
            if (as.size() == 1) as.insert(as.begin(), 1);
            if (bs.size() == 1) bs.push_back(1);
            const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
            size_t nb = std::max(as.size(), bs.size()) - 2;
            Shape ap(nb, 1), bp(nb, 1), ob(nb);
            std::copy(as.begin(), as.end() - 2, ap.begin() + (nb - (as.size() - 2)));
            std::copy(bs.begin(), bs.end() - 2, bp.begin() + (nb - (bs.size() - 2)));
            for (size_t i = 0; i < nb; i++) ob[i] = std::max(ap[i], bp[i]);
            Shape expect_shape = ob;
            if (c.a.size() > 1) expect_shape.push_back(m);
            if (c.b.size() > 1) expect_shape.push_back(n);
            if (os != expect_shape)
                fail_msg("MatMul %s x %s: shape %s, expected %s", shape_str(c.a).c_str(),
                         shape_str(c.b).c_str(), shape_str(os).c_str(), shape_str(expect_shape).c_str());
            int64_t batches = shape_numel(ob);
            std::vector<double> ref(static_cast<size_t>(batches * m * n));
            for (int64_t bi = 0; bi < batches; bi++) {
                int64_t rem = bi, ao = 0, bo = 0, sa = 1, sb = 1;
                for (size_t d = nb; d-- > 0;) {
                    int64_t idx = rem % ob[d];
                    rem /= ob[d];
                    ao += (ap[d] == 1 ? 0 : idx) * sa;
                    bo += (bp[d] == 1 ? 0 : idx) * sb;
                    sa *= ap[d];
                    sb *= bp[d];
                }
                for (int64_t i = 0; i < m; i++)
                    for (int64_t j = 0; j < n; j++) {
                        double s = 0;
                        for (int64_t p = 0; p < k; p++)
                            s += double(ins[0].data[(ao * m + i) * k + p]) *
                                 ins[1].data[(bo * k + p) * n + j];
                        ref[(bi * m + i) * n + j] = s;
                    }
            }
            expect_close("MatMul", out, ref);
        }
}

// ---- Conv ----

struct ConvCase {
    Shape x;                  // [N, C, spatial...]
    int64_t m, group;
    std::vector<int64_t> k, s, d, pads;  // pads: begin..., end...
    const char *auto_pad;     // nullptr = NOTSET
    bool bias, wconst;
};

// Output extent and begin pad of one axis, the ONNX way.
void conv_axis(const char *auto_pad, int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb,
               int64_t pe, int64_t *out, int64_t *begin) {
    int64_t ek = (k - 1) * d + 1;
    if (auto_pad && (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER"))) {
        *out = (in + s - 1) / s;
        int64_t total = std::max<int64_t>(0, (*out - 1) * s + ek - in);
        *begin = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
    } else if (auto_pad && !strcmp(auto_pad, "VALID")) {
        *out = (in - ek) / s + 1;
        *begin = 0;
    } else {
        *out = (in + pb + pe - ek) / s + 1;
        *begin = pb;
    }
}

void check_conv(const ConvCase &c, ThreadPool *pool, int threads) {
    const int nd = static_cast<int>(c.x.size()) - 2;
    const int64_t N = c.x[0], C = c.x[1], M = c.m, G = c.group, cg = C / G, mg = M / G;
    Shape wshape = {M, cg};
    for (int64_t v : c.k) wshape.push_back(v);
    std::vector<OpInput> ins(c.bias ? 3 : 2);
    ins[0].shape = c.x;
    ins[0].data = random_vec(static_cast<size_t>(shape_numel(c.x)));
    ins[1].shape = wshape;
    ins[1].data = random_vec(static_cast<size_t>(shape_numel(wshape)));
    ins[1].constant = c.wconst;
    if (c.bias) {
        ins[2].shape = {M};
        ins[2].data = random_vec(static_cast<size_t>(M));
        ins[2].constant = c.wconst;
    }
    std::vector<Attribute> attrs = {int_attr("group", G), ints_attr("kernel_shape", c.k)};
    if (!c.s.empty()) attrs.push_back(ints_attr("strides", c.s));
    if (!c.d.empty()) attrs.push_back(ints_attr("dilations", c.d));
    if (!c.pads.empty()) attrs.push_back(ints_attr("pads", c.pads));
    if (c.auto_pad) attrs.push_back(string_attr("auto_pad", c.auto_pad));
    std::vector<float> out;
    Shape os;
    Status st = run_op("Conv", ins, attrs, threads, pool, &out, &os);
    std::string name = "Conv x=" + shape_str(c.x) + " w=" + shape_str(wshape) + " group=" +
                       std::to_string(G) + " threads=" + std::to_string(threads);
    if (!st.ok()) fail_msg("%s: %s", name.c_str(), st.message().c_str());
    // Reference, as 3-D.
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t o[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
    Shape expect = {N, M};
    for (int i = 0; i < nd; i++) {
        int j = 3 - nd + i;
        in[j] = c.x[2 + i];
        k[j] = c.k[i];
        s[j] = c.s.empty() ? 1 : c.s[i];
        d[j] = c.d.empty() ? 1 : c.d[i];
        int64_t p0 = c.pads.empty() ? 0 : c.pads[i], p1 = c.pads.empty() ? 0 : c.pads[i + nd];
        conv_axis(c.auto_pad, in[j], k[j], s[j], d[j], p0, p1, &o[j], &pb[j]);
        expect.push_back(o[j]);
    }
    if (os != expect)
        fail_msg("%s: shape %s, expected %s", name.c_str(), shape_str(os).c_str(),
                 shape_str(expect).c_str());
    const int64_t insz = in[0] * in[1] * in[2], osz = o[0] * o[1] * o[2], ksz = k[0] * k[1] * k[2];
    std::vector<double> ref(static_cast<size_t>(N * M * osz));
    for (int64_t n = 0; n < N; n++)
        for (int64_t mo = 0; mo < M; mo++) {
            int64_t gi = mo / mg;
            for (int64_t oz = 0; oz < o[0]; oz++)
                for (int64_t oy = 0; oy < o[1]; oy++)
                    for (int64_t ox = 0; ox < o[2]; ox++) {
                        double acc = c.bias ? ins[2].data[mo] : 0.0;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t kz = 0; kz < k[0]; kz++)
                                for (int64_t ky = 0; ky < k[1]; ky++)
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t iz = oz * s[0] - pb[0] + kz * d[0];
                                        int64_t iy = oy * s[1] - pb[1] + ky * d[1];
                                        int64_t ix = ox * s[2] - pb[2] + kx * d[2];
                                        if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] ||
                                            ix < 0 || ix >= in[2])
                                            continue;
                                        double xv = ins[0].data[((n * C + gi * cg + ci) * in[0] + iz) *
                                                                    in[1] * in[2] + iy * in[2] + ix];
                                        double wv = ins[1].data[((mo * cg + ci) * ksz) +
                                                                (kz * k[1] + ky) * k[2] + kx];
                                        acc += xv * wv;
                                    }
                        ref[((n * M + mo) * o[0] + oz) * o[1] * o[2] + oy * o[2] + ox] = acc;
                    }
        }
    (void)insz;
    expect_close(name.c_str(), out, ref);
}

void test_op_conv(void **) {
    ThreadPool pool(2);
    const ConvCase cases[] = {
        // 2-D im2col: pads, strides, dilations, bias, runtime or constant weights.
        {{1, 3, 7, 9}, 5, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, nullptr, true, true},
        {{2, 3, 7, 9}, 5, 1, {3, 3}, {2, 1}, {}, {0, 1, 2, 0}, nullptr, false, false},
        {{1, 4, 10, 11}, 6, 1, {3, 2}, {1, 2}, {2, 1}, {1, 0, 1, 1}, nullptr, true, true},
        {{2, 8, 12, 12}, 16, 2, {3, 3}, {1, 1}, {}, {1, 1, 1, 1}, nullptr, true, true},
        {{1, 6, 9, 9}, 9, 3, {2, 2}, {2, 2}, {}, {}, nullptr, true, false},
        // auto_pad.
        {{1, 3, 7, 8}, 4, 1, {3, 3}, {2, 2}, {}, {}, "SAME_UPPER", true, true},
        {{1, 3, 7, 8}, 4, 1, {4, 4}, {2, 3}, {}, {}, "SAME_LOWER", false, true},
        {{1, 3, 7, 8}, 4, 1, {3, 2}, {2, 1}, {}, {}, "VALID", true, true},
        // Depthwise (with and without multiplier), single input channel.
        {{2, 6, 9, 10}, 6, 6, {3, 3}, {1, 1}, {}, {1, 1, 1, 1}, nullptr, true, true},
        {{1, 4, 9, 10}, 8, 4, {3, 3}, {2, 2}, {2, 1}, {2, 1, 0, 2}, nullptr, true, false},
        {{2, 1, 28, 28}, 8, 1, {5, 5}, {}, {}, {2, 2, 2, 2}, nullptr, true, true},
        // Pointwise 1x1 (direct GEMM), groups, batch.
        {{2, 16, 7, 5}, 24, 1, {1, 1}, {}, {}, {}, nullptr, true, true},
        {{3, 16, 7, 5}, 8, 4, {1, 1}, {}, {}, {}, nullptr, false, false},
        {{1, 8, 6, 6}, 4, 1, {1, 1}, {2, 2}, {}, {}, nullptr, true, true},
        {{1, 8, 6, 6}, 4, 1, {1, 1}, {}, {}, {1, 1, 0, 0}, nullptr, true, true},
        // Several im2col tiles (K = 64*9 rows: tiles of a few hundred columns), batch 2.
        {{2, 64, 30, 30}, 20, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, nullptr, true, true},
        {{1, 32, 40, 40}, 70, 1, {3, 3}, {1, 1}, {}, {0, 0, 0, 0}, nullptr, true, true},
        // 1-D and 3-D.
        {{2, 3, 20}, 4, 1, {3}, {2}, {2}, {1, 2}, nullptr, true, true},
        {{1, 4, 15}, 4, 2, {5}, {1}, {}, {}, "SAME_UPPER", true, false},
        {{1, 2, 5, 6, 7}, 3, 1, {2, 3, 2}, {1, 2, 1}, {}, {1, 0, 1, 0, 1, 1}, nullptr, true, true},
        {{2, 4, 4, 5, 6}, 4, 2, {3, 3, 3}, {2, 1, 2}, {1, 2, 1}, {1, 1, 1, 1, 1, 1}, nullptr, false, true},
        {{1, 3, 4, 5, 6}, 3, 3, {2, 2, 2}, {}, {}, {}, nullptr, true, true},
    };
    for (const ConvCase &c : cases)
        for (int threads = 1; threads <= 2; threads++) check_conv(c, &pool, threads);
}

// ---- ConvTranspose ----

struct ConvTCase {
    Shape x;
    int64_t m, group;  // output channels (total)
    std::vector<int64_t> k, s, d, pads, opad, oshape;
    const char *auto_pad;
    bool bias, wconst;
};

void check_convt(const ConvTCase &c, ThreadPool *pool, int threads) {
    const int nd = static_cast<int>(c.x.size()) - 2;
    const int64_t N = c.x[0], C = c.x[1], M = c.m, G = c.group, cg = C / G, mg = M / G;
    Shape wshape = {C, mg};
    for (int64_t v : c.k) wshape.push_back(v);
    std::vector<OpInput> ins(c.bias ? 3 : 2);
    ins[0].shape = c.x;
    ins[0].data = random_vec(static_cast<size_t>(shape_numel(c.x)));
    ins[1].shape = wshape;
    ins[1].data = random_vec(static_cast<size_t>(shape_numel(wshape)));
    ins[1].constant = c.wconst;
    if (c.bias) {
        ins[2].shape = {M};
        ins[2].data = random_vec(static_cast<size_t>(M));
    }
    std::vector<Attribute> attrs = {int_attr("group", G)};
    if (!c.s.empty()) attrs.push_back(ints_attr("strides", c.s));
    if (!c.d.empty()) attrs.push_back(ints_attr("dilations", c.d));
    if (!c.pads.empty()) attrs.push_back(ints_attr("pads", c.pads));
    if (!c.opad.empty()) attrs.push_back(ints_attr("output_padding", c.opad));
    if (!c.oshape.empty()) attrs.push_back(ints_attr("output_shape", c.oshape));
    if (c.auto_pad) attrs.push_back(string_attr("auto_pad", c.auto_pad));
    std::vector<float> out;
    Shape os;
    Status st = run_op("ConvTranspose", ins, attrs, threads, pool, &out, &os);
    std::string name = "ConvTranspose x=" + shape_str(c.x) + " w=" + shape_str(wshape) +
                       " threads=" + std::to_string(threads);
    if (!st.ok()) fail_msg("%s: %s", name.c_str(), st.message().c_str());
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
    int64_t o[3] = {1, 1, 1}, pb[3] = {0, 0, 0};
    Shape expect = {N, M};
    for (int i = 0; i < nd; i++) {
        int j = 3 - nd + i;
        in[j] = c.x[2 + i];
        k[j] = c.k[i];
        s[j] = c.s.empty() ? 1 : c.s[i];
        d[j] = c.d.empty() ? 1 : c.d[i];
        int64_t op = c.opad.empty() ? 0 : c.opad[i];
        int64_t full = s[j] * (in[j] - 1) + op + (k[j] - 1) * d[j] + 1;
        if (!c.oshape.empty()) {
            o[j] = c.oshape[i];
            int64_t total = full - o[j];
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb[j] = (c.auto_pad && !strcmp(c.auto_pad, "SAME_UPPER")) ? half : total - half;
        } else if (c.auto_pad) {
            o[j] = in[j] * s[j];
            int64_t total = full - o[j];
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            pb[j] = !strcmp(c.auto_pad, "SAME_UPPER") ? half : total - half;
        } else {
            int64_t p0 = c.pads.empty() ? 0 : c.pads[i], p1 = c.pads.empty() ? 0 : c.pads[i + nd];
            o[j] = full - p0 - p1;
            pb[j] = p0;
        }
        expect.push_back(o[j]);
    }
    if (os != expect)
        fail_msg("%s: shape %s, expected %s", name.c_str(), shape_str(os).c_str(),
                 shape_str(expect).c_str());
    const int64_t insz = in[0] * in[1] * in[2], osz = o[0] * o[1] * o[2], ksz = k[0] * k[1] * k[2];
    std::vector<double> ref(static_cast<size_t>(N * M * osz), 0.0);
    for (int64_t n = 0; n < N; n++)
        for (int64_t mo = 0; mo < M; mo++)
            for (int64_t i = 0; i < osz; i++) ref[(n * M + mo) * osz + i] = c.bias ? ins[2].data[mo] : 0.0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ci = 0; ci < C; ci++) {
            int64_t gi = ci / cg;
            for (int64_t iz = 0; iz < in[0]; iz++)
                for (int64_t iy = 0; iy < in[1]; iy++)
                    for (int64_t ix = 0; ix < in[2]; ix++) {
                        double xv = ins[0].data[(n * C + ci) * insz + (iz * in[1] + iy) * in[2] + ix];
                        for (int64_t mm = 0; mm < mg; mm++)
                            for (int64_t kz = 0; kz < k[0]; kz++)
                                for (int64_t ky = 0; ky < k[1]; ky++)
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t oz = iz * s[0] - pb[0] + kz * d[0];
                                        int64_t oy = iy * s[1] - pb[1] + ky * d[1];
                                        int64_t ox = ix * s[2] - pb[2] + kx * d[2];
                                        if (oz < 0 || oz >= o[0] || oy < 0 || oy >= o[1] || ox < 0 ||
                                            ox >= o[2])
                                            continue;
                                        double wv = ins[1].data[(ci * mg + mm) * ksz +
                                                                (kz * k[1] + ky) * k[2] + kx];
                                        ref[(n * M + gi * mg + mm) * osz + (oz * o[1] + oy) * o[2] + ox] +=
                                            xv * wv;
                                    }
                    }
        }
    expect_close(name.c_str(), out, ref);
}

void test_op_convtranspose(void **) {
    ThreadPool pool(2);
    const ConvTCase cases[] = {
        {{1, 1, 3, 3}, 2, 1, {3, 3}, {}, {}, {}, {}, {}, nullptr, false, false},
        {{2, 3, 4, 5}, 4, 1, {3, 3}, {3, 2}, {}, {1, 2, 0, 1}, {}, {}, nullptr, true, true},
        {{1, 2, 3, 3}, 4, 1, {3, 3}, {3, 2}, {}, {}, {1, 1}, {}, nullptr, true, true},
        {{1, 1, 3, 3}, 2, 1, {3, 3}, {3, 2}, {}, {}, {}, {10, 8}, nullptr, false, true},
        {{1, 1, 3, 3}, 2, 1, {3, 3}, {2, 2}, {}, {}, {}, {}, "SAME_UPPER", false, true},
        {{1, 1, 3, 3}, 2, 1, {3, 3}, {2, 2}, {}, {}, {}, {}, "SAME_LOWER", false, true},
        {{1, 1, 3, 3}, 1, 1, {2, 2}, {}, {2, 2}, {}, {}, {}, nullptr, false, false},
        {{2, 4, 5, 5}, 6, 2, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1}, {}, nullptr, true, true},
        {{1, 2, 7}, 3, 1, {3}, {2}, {}, {}, {}, {}, nullptr, true, false},
        {{1, 2, 3, 4, 5}, 2, 1, {3, 3, 2}, {1, 2, 2}, {}, {1, 0, 0, 0, 1, 1}, {}, {}, nullptr, true, true},
        {{1, 8, 20, 20}, 8, 1, {4, 4}, {2, 2}, {}, {1, 1, 1, 1}, {}, {}, nullptr, true, true},
    };
    for (const ConvTCase &c : cases)
        for (int threads = 1; threads <= 2; threads++) check_convt(c, &pool, threads);
}

// With a pool of one thread and max_threads = 2, the kernels still take their
// multi-threaded paths (slots, unit-parallel conv, batch-parallel MatMul), while the
// pool runs everything inline: run_op() then sees every allocation those paths make.
void test_op_no_alloc_parallel_paths(void **) {
    {
        // The counter works: a std::function holding a lambda with several references
        // allocates (GCC keeps at most 16 bytes inline).
        int a = 1, b = 2, c = 3;
        t_allocs = 0;
        t_counting = true;
        std::function<int()> f = [&] { return a + b + c; };
        t_counting = false;
        assert_true(t_allocs > 0 && f() == 6);
    }
    ThreadPool pool(1);
    check_conv({{2, 64, 30, 30}, 20, 1, {3, 3}, {}, {}, {1, 1, 1, 1}, nullptr, true, true}, &pool, 2);
    check_conv({{1, 32, 40, 40}, 70, 1, {3, 3}, {1, 1}, {}, {0, 0, 0, 0}, nullptr, true, false}, &pool, 2);
    check_conv({{3, 16, 7, 5}, 8, 4, {1, 1}, {}, {}, {}, nullptr, false, false}, &pool, 2);
    check_conv({{2, 6, 9, 10}, 6, 6, {3, 3}, {1, 1}, {}, {1, 1, 1, 1}, nullptr, true, true}, &pool, 2);
    check_convt({{2, 4, 5, 5}, 6, 2, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, {1, 1}, {}, nullptr, true, true},
                &pool, 2);
    std::vector<float> out;
    Shape os;
    for (bool bconst : {false, true}) {
        std::vector<OpInput> ins(2);
        ins[0].shape = {8, 40, 60};  // 3 MFLOP in 8 matrices: one matrix per thread
        ins[0].data = random_vec(8 * 40 * 60);
        ins[1].shape = {8, 60, 80};
        ins[1].data = random_vec(8 * 60 * 80);
        ins[1].constant = bconst;
        Status st = run_op("MatMul", ins, {}, 2, &pool, &out, &os);
        if (!st.ok()) fail_msg("MatMul: %s", st.message().c_str());
        ins[0].shape = {300, 200};
        ins[0].data = random_vec(300 * 200);
        ins[1].shape = {200, 100};
        ins[1].data = random_vec(200 * 100);
        st = run_op("Gemm", ins, {int_attr("transB", 0)}, 2, &pool, &out, &os);
        if (!st.ok()) fail_msg("Gemm: %s", st.message().c_str());
    }
}

// int32 MatMul: exact, wrapping on overflow, with batch broadcasting.
void test_op_matmul_int32(void **) {
    ThreadPool pool(2);
    std::vector<OpInput> ins(2);
    ins[0].shape = {2, 3, 4};
    ins[1].shape = {4, 5};
    ins[0].dtype = ins[1].dtype = DType::I32;
    std::vector<int32_t> a(24), b(20);
    for (size_t i = 0; i < a.size(); i++) a[i] = static_cast<int32_t>(i * 7919 % 201) - 100;
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<int32_t>(i * 104729 % 301) - 150;
    a[0] = INT32_MAX;  // wraps
    ins[0].data.resize(a.size());
    ins[1].data.resize(b.size());
    memcpy(ins[0].data.data(), a.data(), a.size() * 4);
    memcpy(ins[1].data.data(), b.data(), b.size() * 4);
    std::vector<float> out;
    Shape os;
    Status st = run_op("MatMul", ins, {}, 2, &pool, &out, &os);
    if (!st.ok()) fail_msg("MatMul int32: %s", st.message().c_str());
    assert_true(os == (Shape{2, 3, 5}));
    for (int64_t bi = 0; bi < 2; bi++)
        for (int64_t i = 0; i < 3; i++)
            for (int64_t j = 0; j < 5; j++) {
                uint32_t r = 0;
                for (int64_t p = 0; p < 4; p++)
                    r += static_cast<uint32_t>(a[(bi * 3 + i) * 4 + p]) * static_cast<uint32_t>(b[p * 5 + j]);
                int32_t got;
                memcpy(&got, &out[(bi * 3 + i) * 5 + j], 4);
                assert_int_equal(got, static_cast<int32_t>(r));
            }
}

void test_op_errors(void **) {
    ThreadPool pool(1);
    std::vector<float> out;
    Shape os;
    {
        std::vector<OpInput> ins(2);
        ins[0].shape = {3, 4};
        ins[0].data = random_vec(12);
        ins[1].shape = {5, 6};
        ins[1].data = random_vec(30);
        Status st = run_op("MatMul", ins, {}, 1, &pool, &out, &os);
        assert_int_equal(st.code(), EMBER_ERR_SHAPE);
        st = run_op("Gemm", ins, {}, 1, &pool, &out, &os);
        assert_int_equal(st.code(), EMBER_ERR_SHAPE);
    }
    {
        std::vector<OpInput> ins(2);
        ins[0].shape = {1, 3, 5, 5};
        ins[0].data = random_vec(75);
        ins[1].shape = {4, 2, 3, 3};
        ins[1].data = random_vec(72);
        Status st = run_op("Conv", ins, {}, 1, &pool, &out, &os);
        assert_int_equal(st.code(), EMBER_ERR_SHAPE);  // 3 channels vs W's 2
        ins[1].shape = {4, 3, 3, 3};
        ins[1].data = random_vec(108);
        st = run_op("Conv", ins, {string_attr("auto_pad", "SAME")}, 1, &pool, &out, &os);
        assert_int_equal(st.code(), EMBER_ERR_UNSUPPORTED);
    }
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_features),
        cmocka_unit_test(test_sgemm_shapes),
        cmocka_unit_test(test_sgemm_transposes_and_packing),
        cmocka_unit_test(test_sgemm_epilogue),
        cmocka_unit_test(test_sgemm_k_zero),
        cmocka_unit_test(test_ukernel_edges),
        cmocka_unit_test(test_op_gemm),
        cmocka_unit_test(test_op_matmul),
        cmocka_unit_test(test_op_conv),
        cmocka_unit_test(test_op_convtranspose),
        cmocka_unit_test(test_op_matmul_int32),
        cmocka_unit_test(test_op_no_alloc_parallel_paths),
        cmocka_unit_test(test_op_errors),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
