// test_llm_kernels.cc — the float32 inner loops of the language-model operators
// (core/kernels/llm_kernels.h), every table this machine runs (portable always, AVX2 when
// present), against double-precision references:
//   - dot_rows: m = 1 (decode: four rows per step) and m = 3, k from 1 to 300 (tails of
//     every width below 8 and 32), row ranges that start and end off the 4-row blocks;
//     rows outside [r0, r1) stay untouched;
//   - scores and weighted_sum: head sizes 8 (stories260K), 48, 64 and odd ones, strided
//     cache rows, 1 to 37 rows;
//   - softmax: sums to 1, matches exp(s - max) / sum within 2e-6 relative, including
//     one row, large and very negative scores;
//   - swiglu: g * sigmoid(g) * u within 2e-6 relative over [-100, 100], including the
//     clamped ends of the exponential;
//   - attend_one (decode attention, all heads in one pass over the cache rows) against a
//     double-precision softmax attention: grouped-query shapes, odd head sizes, 1 to 33
//     rows;
//   - argmax: the first maximum exactly as the scalar loop (ties, the maximum in the
//     vector tail, NaNs, a NaN first element).
// No timing here: performance is measured by tools/bench_lm.sh.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "core/kernels/cpu_features.h"
#include "core/kernels/llm_kernels.h"

using namespace ember;

namespace {

std::vector<const LlmKernels *> tables() {
    std::vector<const LlmKernels *> t = {llm_kernels_portable()};
    if (cpu_features().avx2_fma && llm_kernels_avx2()) t.push_back(llm_kernels_avx2());
    return t;
}

std::vector<float> random_vec(std::mt19937 &rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float &x : v) x = d(rng);
    return v;
}

void check_close(const char *what, const char *isa, double got, double want, double scale, double tol,
                 const char *where) {
    if (std::fabs(got - want) > tol * scale)
        fail_msg("%s (%s) %s: got %.9g, want %.9g (tolerance %.3g x %.3g)", what, isa, where, got, want, tol, scale);
}

void test_dot_rows(void **) {
    std::mt19937 rng(1);
    for (const LlmKernels *lk : tables()) {
        for (int64_t m : {1, 3}) {
            for (int64_t k : {1, 5, 7, 8, 9, 31, 32, 33, 64, 100, 172, 288, 300}) {
                const int64_t n = 23, ldx = k + 3, ldy = n + 2;
                std::vector<float> x = random_vec(rng, static_cast<size_t>(m * ldx));
                std::vector<float> w = random_vec(rng, static_cast<size_t>(n * k));
                for (int64_t r0 : {0, 1, 2}) {
                    for (int64_t r1 : {n, n - 1, r0 + 5}) {
                        std::vector<float> y(static_cast<size_t>(m * ldy), -7.0f);
                        lk->dot_rows(x.data(), m, ldx, w.data(), k, r0, r1, y.data(), ldy);
                        for (int64_t i = 0; i < m; i++)
                            for (int64_t r = 0; r < ldy; r++) {
                                char where[96];
                                snprintf(where, sizeof where, "m %lld k %lld rows [%lld, %lld) y[%lld][%lld]",
                                         (long long)m, (long long)k, (long long)r0, (long long)r1, (long long)i,
                                         (long long)r);
                                const float got = y[static_cast<size_t>(i * ldy + r)];
                                if (r < r0 || r >= r1) {
                                    if (got != -7.0f) fail_msg("dot_rows (%s) %s was written", lk->name, where);
                                    continue;
                                }
                                double want = 0.0, scale = 0.0;
                                for (int64_t p = 0; p < k; p++) {
                                    const double a = x[static_cast<size_t>(i * ldx + p)], b = w[static_cast<size_t>(r * k + p)];
                                    want += a * b;
                                    scale += std::fabs(a * b);
                                }
                                check_close("dot_rows", lk->name, got, want, scale + 1e-30, 1e-6, where);
                            }
                    }
                }
            }
        }
    }
}

void test_attention_loops(void **) {
    std::mt19937 rng(2);
    for (const LlmKernels *lk : tables()) {
        for (int64_t d : {8, 12, 48, 64, 72, 5}) {
            for (int64_t n : {1, 3, 4, 5, 16, 37}) {
                const int64_t stride = 2 * d + 4;
                std::vector<float> q = random_vec(rng, static_cast<size_t>(d));
                std::vector<float> kv = random_vec(rng, static_cast<size_t>(n * stride));
                std::vector<float> s(static_cast<size_t>(n) + 1, -9.0f);
                lk->scores(q.data(), kv.data(), stride, d, n, 0.25f, s.data());
                char where[64];
                for (int64_t j = 0; j < n; j++) {
                    double want = 0.0, scale = 0.0;
                    for (int64_t c = 0; c < d; c++) {
                        want += static_cast<double>(q[c]) * kv[static_cast<size_t>(j * stride + c)];
                        scale += std::fabs(static_cast<double>(q[c]) * kv[static_cast<size_t>(j * stride + c)]);
                    }
                    snprintf(where, sizeof where, "d %lld n %lld row %lld", (long long)d, (long long)n, (long long)j);
                    check_close("scores", lk->name, s[static_cast<size_t>(j)], 0.25 * want, 0.25 * scale, 1e-6, where);
                }
                if (s[static_cast<size_t>(n)] != -9.0f) fail_msg("scores (%s) wrote past n", lk->name);
                std::vector<float> p = random_vec(rng, static_cast<size_t>(n), 0.0f, 1.0f);
                std::vector<float> out(static_cast<size_t>(d) + 1, -9.0f);
                lk->weighted_sum(p.data(), kv.data(), stride, d, n, out.data());
                for (int64_t c = 0; c < d; c++) {
                    double want = 0.0, scale = 0.0;
                    for (int64_t j = 0; j < n; j++) {
                        want += static_cast<double>(p[static_cast<size_t>(j)]) * kv[static_cast<size_t>(j * stride + c)];
                        scale += std::fabs(static_cast<double>(p[static_cast<size_t>(j)]) * kv[static_cast<size_t>(j * stride + c)]);
                    }
                    snprintf(where, sizeof where, "d %lld n %lld column %lld", (long long)d, (long long)n, (long long)c);
                    check_close("weighted_sum", lk->name, out[static_cast<size_t>(c)], want, scale, 1e-6, where);
                }
                if (out[static_cast<size_t>(d)] != -9.0f) fail_msg("weighted_sum (%s) wrote past d", lk->name);
            }
        }
    }
}

void test_softmax(void **) {
    std::mt19937 rng(3);
    for (const LlmKernels *lk : tables()) {
        for (int64_t n : {1, 2, 7, 8, 9, 64, 130, 513}) {
            for (float spread : {1.0f, 30.0f, 200.0f}) {
                std::vector<float> s = random_vec(rng, static_cast<size_t>(n), -spread, spread);
                if (n > 3) s[1] = 80.0f + spread;  // a large maximum: the rest underflow or nearly
                std::vector<float> in = s;
                lk->softmax(s.data(), n);
                double mx = in[0];
                for (float v : in) mx = std::max<double>(mx, v);
                double sum = 0.0;
                for (float v : in) sum += std::exp(static_cast<double>(v) - mx);
                double total = 0.0;
                char where[64];
                for (int64_t j = 0; j < n; j++) {
                    const double want = std::exp(static_cast<double>(in[static_cast<size_t>(j)]) - mx) / sum;
                    snprintf(where, sizeof where, "n %lld spread %g [%lld]", (long long)n, spread, (long long)j);
                    // Relative to the value, plus an absolute floor for the underflowing ones.
                    check_close("softmax", lk->name, s[static_cast<size_t>(j)], want, want + 1e-30, 2e-6, where);
                    total += s[static_cast<size_t>(j)];
                }
                if (std::fabs(total - 1.0) > 1e-5) fail_msg("softmax (%s) n %lld: sum %.9g", lk->name, (long long)n, total);
                // The SIMD exponentials give no denormals: what expf rounds to a denormal
                // comes out as exactly 0 (the portable table is std::exp itself).
                for (float v : s)
                    if (lk != llm_kernels_portable() && v != 0.0f && std::fabs(v) < 1.17549435e-38f)
                        fail_msg("softmax (%s) n %lld: denormal %g", lk->name, (long long)n, (double)v);
            }
        }
    }
}

void test_swiglu(void **) {
    std::mt19937 rng(4);
    for (const LlmKernels *lk : tables()) {
        for (int64_t n : {1, 8, 13, 172, 768}) {
            std::vector<float> g = random_vec(rng, static_cast<size_t>(n), -12.0f, 12.0f);
            std::vector<float> u = random_vec(rng, static_cast<size_t>(n), -2.0f, 2.0f);
            if (n >= 8) {
                g[0] = -100.0f;  // exp(100) is clamped: sigmoid ~ 0
                g[1] = 100.0f;   // exp(-100) is clamped: sigmoid = 1
                g[2] = 0.0f;
                g[3] = -87.0f;
            }
            std::vector<float> y(static_cast<size_t>(n) + 1, -9.0f);
            lk->swiglu(g.data(), u.data(), y.data(), n);
            char where[64];
            for (int64_t i = 0; i < n; i++) {
                const double gv = g[static_cast<size_t>(i)], uv = u[static_cast<size_t>(i)];
                const double want = gv / (1.0 + std::exp(-gv)) * uv;
                snprintf(where, sizeof where, "n %lld g %g", (long long)n, gv);
                check_close("swiglu", lk->name, y[static_cast<size_t>(i)], want, std::fabs(want) + 1e-30, 2e-6, where);
            }
            if (y[static_cast<size_t>(n)] != -9.0f) fail_msg("swiglu (%s) wrote past n", lk->name);
        }
    }
}

void test_attend_one(void **) {
    std::mt19937 rng(6);
    for (const LlmKernels *lk : tables()) {
        // heads, kv heads, head size: stories260K (8, 4, 8), 15M (6, 6, 48), TinyLlama-like
        // (32, 4, 64), odd sizes (5, 5, 12) and (3, 1, 6).
        const int64_t shapes[][3] = {{8, 4, 8}, {6, 6, 48}, {32, 4, 64}, {5, 5, 12}, {3, 1, 6}};
        for (const auto &sh : shapes) {
            const int64_t heads = sh[0], kvh = sh[1], hd = sh[2], group = heads / kvh, kvw = kvh * hd;
            for (int64_t n : {1, 2, 5, 33}) {
                std::vector<float> q = random_vec(rng, static_cast<size_t>(heads * hd), -2.0f, 2.0f);
                std::vector<float> k = random_vec(rng, static_cast<size_t>(n * kvw), -2.0f, 2.0f);
                std::vector<float> v = random_vec(rng, static_cast<size_t>(n * kvw));
                std::vector<float> s(static_cast<size_t>(heads * n));
                std::vector<float> out(static_cast<size_t>(heads * hd) + 1, -9.0f);
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                lk->attend_one(q.data(), k.data(), v.data(), kvw, heads, group, hd, n, scale, s.data(), out.data());
                for (int64_t h = 0; h < heads; h++) {
                    const int64_t off = (h / group) * hd;
                    std::vector<double> p(static_cast<size_t>(n));
                    double mx = -1e300, sum = 0.0;
                    for (int64_t j = 0; j < n; j++) {
                        double d = 0.0;
                        for (int64_t c = 0; c < hd; c++)
                            d += static_cast<double>(q[static_cast<size_t>(h * hd + c)]) * k[static_cast<size_t>(j * kvw + off + c)];
                        p[static_cast<size_t>(j)] = d * scale;
                        mx = std::max(mx, p[static_cast<size_t>(j)]);
                    }
                    for (double &x : p) sum += (x = std::exp(x - mx));
                    for (int64_t c = 0; c < hd; c++) {
                        double want = 0.0;
                        for (int64_t j = 0; j < n; j++)
                            want += p[static_cast<size_t>(j)] / sum * v[static_cast<size_t>(j * kvw + off + c)];
                        char where[80];
                        snprintf(where, sizeof where, "heads %lld/%lld hd %lld n %lld out[%lld][%lld]", (long long)heads,
                                 (long long)kvh, (long long)hd, (long long)n, (long long)h, (long long)c);
                        check_close("attend_one", lk->name, out[static_cast<size_t>(h * hd + c)], want, 1.0, 1e-5, where);
                    }
                }
                if (out[static_cast<size_t>(heads * hd)] != -9.0f) fail_msg("attend_one (%s) wrote past the output", lk->name);
            }
        }
    }
}

void test_argmax(void **) {
    std::mt19937 rng(5);
    for (const LlmKernels *lk : tables()) {
        for (int64_t n : {1, 2, 15, 16, 17, 100, 512, 32000}) {
            for (int trial = 0; trial < 6; trial++) {
                std::vector<float> x = random_vec(rng, static_cast<size_t>(n), -3.0f, 3.0f);
                if (trial == 1) for (float &v : x) v = std::round(v);  // many ties: the first must win
                if (trial == 2 && n > 3) x[static_cast<size_t>(n - 1)] = 10.0f;  // in the tail
                if (trial == 3 && n > 3) x[2] = NAN;                       // NaN never wins
                if (trial == 4) x[0] = NAN;                                // ... but a NaN x[0] stays
                if (trial == 5) for (float &v : x) v = -1.0f;              // all equal: index 0
                int64_t want = 0;
                for (int64_t i = 1; i < n; i++)
                    if (x[static_cast<size_t>(i)] > x[static_cast<size_t>(want)]) want = i;
                const int64_t got = lk->argmax(x.data(), n);
                if (got != want)
                    fail_msg("argmax (%s) n %lld trial %d: got %lld, want %lld", lk->name, (long long)n, trial,
                             (long long)got, (long long)want);
            }
        }
    }
}

}  // namespace

int main() {
    std::printf("llm kernel tables:");
    for (const LlmKernels *lk : tables()) std::printf(" %s", lk->name);
    std::printf("\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dot_rows),
        cmocka_unit_test(test_attention_loops),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_attend_one),
        cmocka_unit_test(test_argmax),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
