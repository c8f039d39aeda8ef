// llm_avx2.cc — AVX2/FMA inner loops of the language-model operators (llm_kernels.h).
// Compiled with -mavx2 -mfma; only called after cpu_features() confirmed AVX2 + FMA.
//
// dot_rows: one weight row at a time with 4 ymm accumulators over 32 floats per step
// (FMA latency 4 x 2 ports wants >= 8 in flight for L1-resident data; for weights
// streamed from memory, 4 already wait on the loads). x stays in L1.
#include <immintrin.h>

#include "core/kernels/llm_kernels.h"

namespace ember {

namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

// Sums of four accumulators, as one vector [s0, s1, s2, s3].
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 s01 = _mm256_hadd_ps(a0, a1);   // a0 pairs, a1 pairs (per 128-bit lane)
    __m256 s23 = _mm256_hadd_ps(a2, a3);
    __m256 s = _mm256_hadd_ps(s01, s23);   // [a0 a1 a2 a3] partial per lane
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

void dot_rows_avx2(const float *x, int64_t m, int64_t ldx, const float *w, int64_t k,
                   int64_t r0, int64_t r1, float *y, int64_t ldy) {
    // One weight row at a time, in memory order: a single sequential stream is what the
    // hardware prefetchers follow best (interleaving four rows ran at half the bandwidth
    // on the test machine). The row stays in L1 for the m rows of x.
    for (int64_t r = r0; r < r1; r++) {
        const float *wr = w + r * k;
        for (int64_t i = 0; i < m; i++) {
            const float *xi = x + i * ldx;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            int64_t p = 0;
            for (; p + 32 <= k; p += 32) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p), _mm256_loadu_ps(xi + p), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 8), _mm256_loadu_ps(xi + p + 8), a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 16), _mm256_loadu_ps(xi + p + 16), a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 24), _mm256_loadu_ps(xi + p + 24), a3);
            }
            for (; p + 8 <= k; p += 8)
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p), _mm256_loadu_ps(xi + p), a0);
            float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
            for (; p < k; p++) s += wr[p] * xi[p];
            y[i * ldy + r] = s;
        }
    }
}

void scores_avx2(const float *q, const float *kv, int64_t stride, int64_t d, int64_t n,
                 float scale, float *s) {
    if (d % 8 != 0) {
        for (int64_t j = 0; j < n; j++) {
            const float *kr = kv + j * stride;
            __m256 a = _mm256_setzero_ps();
            int64_t p = 0;
            for (; p + 8 <= d; p += 8)
                a = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), _mm256_loadu_ps(kr + p), a);
            float v = hsum(a);
            for (; p < d; p++) v += q[p] * kr[p];
            s[j] = v * scale;
        }
        return;
    }
    int64_t j = 0;
    // Four key rows at a time: one horizontal reduction for four scores.
    for (; j + 4 <= n; j += 4) {
        const float *k0 = kv + j * stride, *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t p = 0; p < d; p += 8) {
            __m256 qv = _mm256_loadu_ps(q + p);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + p), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + p), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + p), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + p), a3);
        }
        _mm_storeu_ps(s + j, _mm_mul_ps(hsum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; j < n; j++) {
        const float *kr = kv + j * stride;
        __m256 a = _mm256_setzero_ps();
        for (int64_t p = 0; p < d; p += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + p), _mm256_loadu_ps(kr + p), a);
        s[j] = hsum(a) * scale;
    }
}

void weighted_sum_avx2(const float *pr, const float *kv, int64_t stride, int64_t d, int64_t n,
                       float *out) {
    int64_t c = 0;
    // Up to 64 output floats in 8 accumulators per pass over the n rows.
    for (; c + 64 <= d; c += 64) {
        __m256 acc[8];
        for (int u = 0; u < 8; u++) acc[u] = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++) {
            __m256 pv = _mm256_set1_ps(pr[j]);
            const float *vr = kv + j * stride + c;
            for (int u = 0; u < 8; u++) acc[u] = _mm256_fmadd_ps(pv, _mm256_loadu_ps(vr + 8 * u), acc[u]);
        }
        for (int u = 0; u < 8; u++) _mm256_storeu_ps(out + c + 8 * u, acc[u]);
    }
    for (; c + 8 <= d; c += 8) {
        __m256 a = _mm256_setzero_ps();
        for (int64_t j = 0; j < n; j++)
            a = _mm256_fmadd_ps(_mm256_set1_ps(pr[j]), _mm256_loadu_ps(kv + j * stride + c), a);
        _mm256_storeu_ps(out + c, a);
    }
    for (; c < d; c++) {
        float a = 0.0f;
        for (int64_t j = 0; j < n; j++) a += pr[j] * kv[j * stride + c];
        out[c] = a;
    }
}

const LlmKernels kAvx2 = {"avx2", dot_rows_avx2, scores_avx2, weighted_sum_avx2};

}  // namespace

const LlmKernels *llm_kernels_avx2() { return &kAvx2; }

}  // namespace ember
