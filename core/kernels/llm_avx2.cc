// llm_avx2.cc — AVX2/FMA inner loops of the language-model operators (llm_kernels.h).
// Compiled with -mavx2 -mfma; only called after cpu_features() confirmed AVX2 + FMA.
//
// dot_rows: one weight row at a time with 4 ymm accumulators over 32 floats per step
// (FMA latency 4 x 2 ports wants >= 8 in flight for L1-resident data; for weights
// streamed from memory, 4 already wait on the loads). x stays in L1. With one row of x
// (decode) four consecutive weight rows share one horizontal reduction (dot_rows_m1).
// exp_avx2 serves softmax and SwiGLU; attend_one is the one-pass decode attention.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

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

// dot(x, wr) over k as eight lane sums (4 accumulators over 32 floats per step) plus the
// scalar tail k % 8 in *tail.
inline __m256 dot_lanes(const float *x, const float *wr, int64_t k, float *tail) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 32 <= k; p += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p), _mm256_loadu_ps(x + p), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 8), _mm256_loadu_ps(x + p + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 16), _mm256_loadu_ps(x + p + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p + 24), _mm256_loadu_ps(x + p + 24), a3);
    }
    for (; p + 8 <= k; p += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(wr + p), _mm256_loadu_ps(x + p), a0);
    float t = 0.0f;
    for (; p < k; p++) t += wr[p] * x[p];
    *tail = t;
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

// One row of x (decode): four consecutive weight rows per step, each read whole and in
// memory order (one sequential stream), reduced together by one hsum4 (for small k,
// as in stories260K's 64-wide rows, the reductions cost as much as the FMAs).
void dot_rows_m1(const float *x, const float *w, int64_t k, int64_t r0, int64_t r1, float *y) {
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) {
        float t0, t1, t2, t3;
        const float *wr = w + r * k;
        const __m256 s0 = dot_lanes(x, wr, k, &t0);
        const __m256 s1 = dot_lanes(x, wr + k, k, &t1);
        const __m256 s2 = dot_lanes(x, wr + 2 * k, k, &t2);
        const __m256 s3 = dot_lanes(x, wr + 3 * k, k, &t3);
        __m128 sum = hsum4(s0, s1, s2, s3);
        // The tails join in registers (four scalar stores read back as one vector would
        // miss store forwarding: measured as the hottest instruction of stories260K).
        if (k & 7) sum = _mm_add_ps(sum, _mm_setr_ps(t0, t1, t2, t3));
        _mm_storeu_ps(y + r, sum);
    }
    for (; r < r1; r++) {
        float t;
        const __m256 s = dot_lanes(x, w + r * k, k, &t);
        y[r] = hsum(s) + t;
    }
}

void dot_rows_avx2(const float *x, int64_t m, int64_t ldx, const float *w, int64_t k,
                   int64_t r0, int64_t r1, float *y, int64_t ldy) {
    if (m == 1) {
        dot_rows_m1(x, w, k, r0, r1, y);
        return;
    }
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
        // Four chains over the rows (a small head has too few columns to hide the FMA
        // latency otherwise: head_dim 8 was one 4-cycle chain per row).
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        const float *v = kv + c;
        int64_t j = 0;
        for (; j + 4 <= n; j += 4, v += 4 * stride) {
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(pr[j]), _mm256_loadu_ps(v), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(pr[j + 1]), _mm256_loadu_ps(v + stride), a1);
            a2 = _mm256_fmadd_ps(_mm256_set1_ps(pr[j + 2]), _mm256_loadu_ps(v + 2 * stride), a2);
            a3 = _mm256_fmadd_ps(_mm256_set1_ps(pr[j + 3]), _mm256_loadu_ps(v + 3 * stride), a3);
        }
        for (; j < n; j++, v += stride) a0 = _mm256_fmadd_ps(_mm256_set1_ps(pr[j]), _mm256_loadu_ps(v), a0);
        _mm256_storeu_ps(out + c, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    }
    for (; c < d; c++) {
        float a = 0.0f;
        for (int64_t j = 0; j < n; j++) a += pr[j] * kv[j * stride + c];
        out[c] = a;
    }
}

// exp(x) for each lane: x = n ln2 + r with |r| <= ln2/2 (ln2 in two parts, so r is
// exact), exp(r) by Cephes' expf polynomial, 2^n through the exponent bits. Inputs above
// 88.7 give exp(88.7); below -87.3 (where expf is denormal or 0) exactly 0, so that no
// denormal reaches the products after it; NaN stays NaN.
inline __m256 exp_avx2(__m256 x) {
    const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_NLT_UQ);  // NaN kept
    x = _mm256_min_ps(_mm256_set1_ps(88.7f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), keep);
}

// The scalar tail goes through the same polynomial (one lane), so every element of a
// row is computed alike.
inline float exp_one(float x) { return _mm256_cvtss_f32(exp_avx2(_mm256_set1_ps(x))); }

void softmax_avx2(float *s, int64_t n) {
    int64_t j = 0;
    __m256 mv = _mm256_set1_ps(s[0]);
    for (; j + 8 <= n; j += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(s + j));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float mx = _mm_cvtss_f32(m4);
    for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 sv = _mm256_setzero_ps();
    for (j = 0; j + 8 <= n; j += 8) {
        __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + j), vmx));
        _mm256_storeu_ps(s + j, e);
        sv = _mm256_add_ps(sv, e);
    }
    float sum = hsum(sv);
    for (; j < n; j++) {
        s[j] = exp_one(s[j] - mx);
        sum += s[j];
    }
    const float inv = 1.0f / sum;
    const __m256 vinv = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), vinv));
    for (; j < n; j++) s[j] *= inv;
}

void swiglu_avx2(const float *g, const float *u, float *y, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 gv = _mm256_loadu_ps(g + i);
        const __m256 den = _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(zero, gv)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(gv, den), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) y[i] = g[i] / (1.0f + exp_one(-g[i])) * u[i];
}

void attend_one_avx2(const float *q, const float *k, const float *v, int64_t kvw, int64_t heads, int64_t group,
                     int64_t hd, int64_t n, float scale, float *s, float *out) {
    if (hd % 8 != 0) {
        for (int64_t h = 0; h < heads; h++) {
            scores_avx2(q + h * hd, k + (h / group) * hd, kvw, hd, n, scale, s + h * n);
            softmax_avx2(s + h * n, n);
            weighted_sum_avx2(s + h * n, v + (h / group) * hd, kvw, hd, n, out + h * hd);
        }
        return;
    }
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int64_t j = 0; j < n; j++) {
        const float *kr = k + j * kvw;
        int64_t h = 0;
        for (; h + 4 <= heads; h += 4) {  // four heads, one reduction
            __m256 a[4];
            for (int u = 0; u < 4; u++) {
                const float *qh = q + (h + u) * hd, *kh = kr + ((h + u) / group) * hd;
                __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_loadu_ps(kh));
                for (int64_t c = 8; c < hd; c += 8)
                    acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + c), _mm256_loadu_ps(kh + c), acc);
                a[u] = acc;
            }
            alignas(16) float r[4];
            _mm_store_ps(r, _mm_mul_ps(hsum4(a[0], a[1], a[2], a[3]), _mm256_castps256_ps128(vscale)));
            for (int u = 0; u < 4; u++) s[(h + u) * n + j] = r[u];
        }
        for (; h < heads; h++) {
            const float *qh = q + h * hd, *kh = kr + (h / group) * hd;
            __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(qh), _mm256_loadu_ps(kh));
            for (int64_t c = 8; c < hd; c += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + c), _mm256_loadu_ps(kh + c), acc);
            s[h * n + j] = hsum(acc) * scale;
        }
    }
    for (int64_t h = 0; h < heads; h++) softmax_avx2(s + h * n, n);
    const int64_t width = heads * hd;
    for (int64_t c = 0; c < width; c += 8) _mm256_storeu_ps(out + c, _mm256_setzero_ps());
    for (int64_t j = 0; j < n; j++) {
        const float *vr = v + j * kvw;
        for (int64_t h = 0; h < heads; h++) {
            const __m256 p = _mm256_set1_ps(s[h * n + j]);
            const float *vh = vr + (h / group) * hd;
            float *oh = out + h * hd;
            for (int64_t c = 0; c < hd; c += 8)
                _mm256_storeu_ps(oh + c, _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + c), _mm256_loadu_ps(oh + c)));
        }
    }
}

// Eight lanes each keep their first maximum and its index (strictly greater replaces, so
// ties keep the earlier index and NaN never wins); then the smallest index among the
// lanes holding the overall maximum, then the tail. A NaN x[0] is kept, as the scalar
// loop keeps it (every comparison with it is false).
int64_t argmax_avx2(const float *x, int64_t n) {
    if (n < 16 || x[0] != x[0]) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }
    __m256 bv = _mm256_set1_ps(x[0]);
    __m256i bi = _mm256_setzero_si256();
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i eight = _mm256_set1_epi32(8);
    int64_t i = 0;
    const int64_t vec_end = std::min<int64_t>(n, INT32_MAX - 8) / 8 * 8;
    for (; i < vec_end; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 gt = _mm256_cmp_ps(v, bv, _CMP_GT_OQ);
        bv = _mm256_blendv_ps(bv, v, gt);
        bi = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(bi), _mm256_castsi256_ps(idx), gt));
        idx = _mm256_add_epi32(idx, eight);
    }
    alignas(32) float vals[8];
    alignas(32) int32_t ids[8];
    _mm256_store_ps(vals, bv);
    _mm256_store_si256(reinterpret_cast<__m256i *>(ids), bi);
    int64_t best = ids[0];
    float bval = vals[0];
    for (int l = 1; l < 8; l++)
        if (vals[l] > bval || (vals[l] == bval && ids[l] < best)) {
            bval = vals[l];
            best = ids[l];
        }
    for (; i < n; i++)
        if (x[i] > bval) {
            bval = x[i];
            best = i;
        }
    return best;
}

const LlmKernels kAvx2 = {"avx2",       dot_rows_avx2,   scores_avx2,     weighted_sum_avx2,
                          softmax_avx2, swiglu_avx2,     attend_one_avx2, argmax_avx2};

}  // namespace

const LlmKernels *llm_kernels_avx2() { return &kAvx2; }

}  // namespace ember
