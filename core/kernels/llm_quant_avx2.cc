// llm_quant_avx2.cc — AVX2 integer dot products for Q8_0 / Q4_0 weights (llm_quant.h).
// Compiled with -mavx2 -mfma -mf16c; only called after cpu_features() confirmed them.
//
// Per 32-weight block and activation row: vpmaddubsw (u8 x s8 -> pairs of i16) then
// vpmaddwd with ones (-> 8 x i32), converted to float and accumulated with the block's
// scale dw * dx. vpmaddubsw wants an unsigned operand: Q8_0 uses |w| and x with w's sign
// (vpsignb), so no pair can saturate (2 * 128 * 127 < 2^15); Q4_0 uses the nibbles 0..15
// as they are and the prepared activation's lanes add -8 * sum(x) (QActLayout::corr).
// Up to four activation rows share each weight block load (prefill); one row uses two
// accumulators so the FMA latency chain does not bound the loop.
#include <cstring>

#include "core/kernels/llm_quant.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define EMBER_HAVE_QUANT_AVX2 1
#endif

namespace ember {

#ifdef EMBER_HAVE_QUANT_AVX2

namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

// The block's fp16 scale, in all 8 lanes.
inline __m256 block_scale(const uint8_t *blk) {
    uint16_t h;
    std::memcpy(&h, blk, 2);
    return _mm256_cvtph_ps(_mm_set1_epi16(static_cast<short>(h)));
}

struct ActRow {
    const int8_t *qs;
    const int32_t *corr;
    const float *dxl;
};

inline ActRow act_row(const uint8_t *act, size_t row_bytes, int64_t k, int64_t i) {
    const uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
    return {reinterpret_cast<const int8_t *>(a), reinterpret_cast<const int32_t *>(a + k),
            reinterpret_cast<const float *>(a + 2 * k)};
}

// Q8_0: the block's |w| and sign source; Q4_0: its 32 nibbles in order.
struct WBlock {
    __m256i u;    // unsigned operand
    __m256i sgn;  // Q8_0: w (sign source)
    __m256 d;
};

template <bool Q8>
inline WBlock load_block(const uint8_t *blk) {
    WBlock b;
    b.d = block_scale(blk);
    if (Q8) {
        b.sgn = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + 2));
        b.u = _mm256_abs_epi8(b.sgn);
    } else {
        const __m128i qs = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 2));
        const __m128i m = _mm_set1_epi8(15);
        const __m128i lo = _mm_and_si128(qs, m), hi = _mm_and_si128(_mm_srli_epi16(qs, 4), m);
        b.u = _mm256_set_m128i(hi, lo);
        b.sgn = _mm256_setzero_si256();
    }
    return b;
}

template <bool Q8>
inline __m256 block_dot(const WBlock &w, const ActRow &a, int64_t b, __m256 acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a.qs + b * 32));
    if (Q8) qx = _mm256_sign_epi8(qx, w.sgn);
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w.u, qx), ones);
    if (!Q8)
        p = _mm256_add_epi32(p,
                             _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a.corr + b * 8)));
    const __m256 s = _mm256_mul_ps(w.d, _mm256_loadu_ps(a.dxl + b * 8));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc);
}

// R activation rows [i0, i0 + R) against weight row wr.
template <bool Q8, int R>
inline void row_group(const uint8_t *wr, int64_t nb, const ActRow *a, float *y, int64_t ldy) {
    const size_t bb = Q8 ? 34 : 18;
    if (R == 1) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            // As llm_quant_avx512.inc: the weight stream prefetched 1536 bytes ahead.
            _mm_prefetch(reinterpret_cast<const char *>(wr + b * bb) + 1536, _MM_HINT_T0);
            acc0 = block_dot<Q8>(load_block<Q8>(wr + b * bb), a[0], b, acc0);
            acc1 = block_dot<Q8>(load_block<Q8>(wr + (b + 1) * bb), a[0], b + 1, acc1);
        }
        if (b < nb) acc0 = block_dot<Q8>(load_block<Q8>(wr + b * bb), a[0], b, acc0);
        y[0] = hsum(_mm256_add_ps(acc0, acc1));
        return;
    }
    __m256 acc[R];
    for (int i = 0; i < R; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        _mm_prefetch(reinterpret_cast<const char *>(wr + b * bb) + 1536, _MM_HINT_T0);
        const WBlock w = load_block<Q8>(wr + b * bb);
        for (int i = 0; i < R; i++) acc[i] = block_dot<Q8>(w, a[i], b, acc[i]);
    }
    for (int i = 0; i < R; i++) y[i * ldy] = hsum(acc[i]);
}

template <bool Q8>
void rows_avx2(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0, int64_t r1,
               float *y, int64_t ldy) {
    const int64_t nb = k / 32;
    const size_t bb = Q8 ? 34 : 18;
    const size_t row_bytes = qact_row_bytes(k);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + static_cast<size_t>(r) * static_cast<size_t>(nb) * bb;
        int64_t i = 0;
        ActRow a[4];
        for (; i + 4 <= m; i += 4) {
            for (int j = 0; j < 4; j++) a[j] = act_row(act, row_bytes, k, i + j);
            row_group<Q8, 4>(wr, nb, a, y + i * ldy + r, ldy);
        }
        const int64_t left = m - i;
        for (int j = 0; j < left; j++) a[j] = act_row(act, row_bytes, k, i + j);
        if (left == 3)
            row_group<Q8, 3>(wr, nb, a, y + i * ldy + r, ldy);
        else if (left == 2)
            row_group<Q8, 2>(wr, nb, a, y + i * ldy + r, ldy);
        else if (left == 1)
            row_group<Q8, 1>(wr, nb, a, y + i * ldy + r, ldy);
    }
}

const QKernels kAvx2 = {
    "avx2",
    {QActLayout{false, 0}, rows_avx2<true>},
    {QActLayout{false, 8}, rows_avx2<false>},
};

}  // namespace

const QKernels *qkernels_avx2() { return &kAvx2; }

#else

const QKernels *qkernels_avx2() { return nullptr; }

#endif

}  // namespace ember
