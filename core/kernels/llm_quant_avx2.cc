// llm_quant_avx2.cc — AVX2 integer dot products for Q8_0 / Q4_0 weights (llm_quant.h).
// Compiled with -mavx2 -mfma -mf16c; only called after cpu_features() confirmed them.
//
// Per 32-weight block and activation row: vpmaddubsw (u8 x s8 -> pairs of i16) then
// vpmaddwd with ones (-> 8 x i32), converted to float and accumulated with the block's
// scale dw * dx. vpmaddubsw wants an unsigned operand: Q8_0 uses |w| and x with w's sign
// (vpsignb), so no pair can saturate (2 * 128 * 127 < 2^15); Q4_0 uses the nibbles 0..15
// as they are and the prepared activation's lanes add -8 * sum(x) (QActLayout::corr).
// Q4_0 takes the quad layout (QActLayout::quads) and two blocks per step (row_group_q4):
// 14 -> 21 GB/s of weights from L2 at one row, 30 -> 52 GMAC/s at four.
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

// ---- Q4_0 on the quad layout (QActLayout::quads): two blocks per ymm step ----
//
// The nibble runs of blocks A and B (16 bytes each) in one ymm: its low nibbles pair with
// the activation's [A0..15, B0..15] and its high nibbles with [A16..31, B16..31], which
// is how the quad layout stores them (at +0 and +64 for A, B; +32 and +96 for C, D). The
// two vpmaddubsw results are added as int16 (|sum| <= 4 * 15 * 127 < 2^15) before one
// vpmaddwd, and lane i then covers bytes 4i..4i+3 of both halves: the layout's correction
// and dx lanes. Per two blocks and row: 2 vpmaddubsw, 1 vpaddw, 1 vpmaddwd, 1 vpaddd, one
// conversion and one FMA (the natural layout needs twice the multiply-adds and float work).
struct WPairQ4 {
    __m256i lo, hi;
    __m256 d;  // [dA x4, dB x4]
};

inline WPairQ4 load_pair_q4(const uint8_t *blk) {
    const __m256i q = _mm256_loadu2_m128i(reinterpret_cast<const __m128i *>(blk + 20),
                                          reinterpret_cast<const __m128i *>(blk + 2));
    const __m256i m = _mm256_set1_epi8(15);
    WPairQ4 w;
    w.lo = _mm256_and_si256(q, m);
    w.hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m);
    uint16_t ha, hb;
    std::memcpy(&ha, blk, 2);
    std::memcpy(&hb, blk + 18, 2);
    const __m128i h = _mm_unpacklo_epi64(_mm_set1_epi16(static_cast<short>(ha)),
                                         _mm_set1_epi16(static_cast<short>(hb)));
    w.d = _mm256_cvtph_ps(h);
    return w;
}

// Step s (0: blocks A, B; 1: C, D) of quad qd.
inline __m256 pair_dot_q4(const WPairQ4 &w, const ActRow &a, int64_t qd, int s, __m256 acc) {
    const int8_t *x = a.qs + qd * 128 + s * 32;
    const __m256i xl = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x));
    const __m256i xh = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x + 64));
    const __m256i m16 = _mm256_add_epi16(_mm256_maddubs_epi16(w.lo, xl), _mm256_maddubs_epi16(w.hi, xh));
    const int64_t lane = qd * 16 + s * 8;
    const __m256i p =
        _mm256_add_epi32(_mm256_madd_epi16(m16, _mm256_set1_epi16(1)),
                         _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a.corr + lane)));
    const __m256 sc = _mm256_mul_ps(w.d, _mm256_loadu_ps(a.dxl + lane));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), sc, acc);
}

// One block after the last whole quad (natural layout, its lanes at `lane`).
inline __m256 tail_dot_q4(const uint8_t *blk, const ActRow &a, int64_t b, int64_t lane, __m256 acc) {
    const WBlock w = load_block<false>(blk);
    const __m256i qx = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a.qs + b * 32));
    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w.u, qx), _mm256_set1_epi16(1));
    p = _mm256_add_epi32(p, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a.corr + lane)));
    const __m256 s = _mm256_mul_ps(w.d, _mm256_loadu_ps(a.dxl + lane));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s, acc);
}

template <int R>
inline void row_group_q4(const uint8_t *wr, int64_t nb, const ActRow *a, float *y, int64_t ldy) {
    constexpr size_t bb = 18;
    const int64_t nq = nb / 4;
    __m256 acc[R][2];
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t q = 0; q < nq; q++) {
        const uint8_t *blk = wr + q * 4 * bb;
        _mm_prefetch(reinterpret_cast<const char *>(blk) + 1536, _MM_HINT_T0);
        const WPairQ4 w0 = load_pair_q4(blk), w1 = load_pair_q4(blk + 2 * bb);
#pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            acc[i][0] = pair_dot_q4(w0, a[i], q, 0, acc[i][0]);
            acc[i][1] = pair_dot_q4(w1, a[i], q, 1, acc[i][1]);
        }
    }
    for (int i = 0; i < R; i++) {
        __m256 t = _mm256_add_ps(acc[i][0], acc[i][1]);
        for (int64_t b = nq * 4; b < nb; b++)
            t = tail_dot_q4(wr + b * bb, a[i], b, nq * 16 + (b - nq * 4) * 8, t);
        y[i * ldy] = hsum(t);
    }
}

void rows_avx2_q4(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0, int64_t r1,
                  float *y, int64_t ldy) {
    const int64_t nb = k / 32;
    const size_t row_bytes = qact_row_bytes(k);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + static_cast<size_t>(r) * static_cast<size_t>(nb) * 18;
        int64_t i = 0;
        ActRow a[4];
        for (; i + 4 <= m; i += 4) {
            for (int j = 0; j < 4; j++) a[j] = act_row(act, row_bytes, k, i + j);
            row_group_q4<4>(wr, nb, a, y + i * ldy + r, ldy);
        }
        const int64_t left = m - i;
        for (int j = 0; j < left; j++) a[j] = act_row(act, row_bytes, k, i + j);
        if (left == 3)
            row_group_q4<3>(wr, nb, a, y + i * ldy + r, ldy);
        else if (left == 2)
            row_group_q4<2>(wr, nb, a, y + i * ldy + r, ldy);
        else if (left == 1)
            row_group_q4<1>(wr, nb, a, y + i * ldy + r, ldy);
    }
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

// ---- Q4_0X8 (llm_quant.h) ----
//
// A group's block b is 128 nibble bytes; in 256-bit halves: bytes 0..31 of each 64-byte
// run are rows 0..3, bytes 32..63 rows 4..7. Per half and run, the low and high nibbles are
// 8 weights of 4 rows (lane pair 2r, 2r+1 = row r's 4 + 4) against one broadcast 8-byte
// run of the activation; the four vpmaddubsw results add as int16 (|each| <= 2 * 15 * 128)
// before one vpmaddwd, and the prepared pair corrections (QActLayout::pairs) add -8 * sum(x).
// The block's 16 scale bytes precede its run of 4 blocks in the same stream.

inline int64_t ld64(const void *p) {
    int64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

template <int R>
inline void x8_block(const uint8_t *q, const uint8_t *sc, const ActRow *a, int64_t b,
                     __m256 (*acc)[2]) {
    const __m256i m = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(sc));
    for (int half = 0; half < 2; half++) {
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 32 * half));
        const __m256i qb = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(q + 64 + 32 * half));
        const __m256i w0 = _mm256_and_si256(qa, m), w1 = _mm256_and_si256(_mm256_srli_epi16(qa, 4), m);
        const __m256i w2 = _mm256_and_si256(qb, m), w3 = _mm256_and_si256(_mm256_srli_epi16(qb, 4), m);
        const __m256 dw = _mm256_cvtph_ps(half ? _mm_unpackhi_epi16(h, h) : _mm_unpacklo_epi16(h, h));
        for (int i = 0; i < R; i++) {
            const int8_t *x = a[i].qs + b * 32;
            const __m256i s16 = _mm256_add_epi16(
                _mm256_add_epi16(_mm256_maddubs_epi16(w0, _mm256_set1_epi64x(ld64(x))),
                                 _mm256_maddubs_epi16(w1, _mm256_set1_epi64x(ld64(x + 8)))),
                _mm256_add_epi16(_mm256_maddubs_epi16(w2, _mm256_set1_epi64x(ld64(x + 16))),
                                 _mm256_maddubs_epi16(w3, _mm256_set1_epi64x(ld64(x + 24)))));
            const __m256i p = _mm256_add_epi32(_mm256_madd_epi16(s16, ones),
                                               _mm256_set1_epi64x(ld64(a[i].corr + b * 8)));
            acc[i][half] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                                           _mm256_mul_ps(dw, _mm256_set1_ps(a[i].dxl[b * 8])),
                                           acc[i][half]);
        }
    }
}

// Q8_0X8: per block, four 64-byte parts of 8 values x 8 rows; in 256-bit halves rows 0..3
// and 4..7. |w| against the broadcast activation run with w's sign (vpsignb), one
// vpmaddwd per part (vpmaddubsw pairs reach 2 * 128 * 127: no two may be added as int16).
template <int R>
inline void x8q8_block(const uint8_t *v, const uint8_t *sc, const ActRow *a, int64_t b,
                       __m256 (*acc)[2]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(sc));
    for (int half = 0; half < 2; half++) {
        __m256i w[4], u[4];
        for (int c = 0; c < 4; c++) {
            w[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(v + 64 * c + 32 * half));
            u[c] = _mm256_abs_epi8(w[c]);
        }
        const __m256 dw = _mm256_cvtph_ps(half ? _mm_unpackhi_epi16(h, h) : _mm_unpacklo_epi16(h, h));
        for (int i = 0; i < R; i++) {
            const int8_t *x = a[i].qs + b * 32;
            __m256i p = _mm256_setzero_si256();
            for (int c = 0; c < 4; c++) {
                const __m256i sx = _mm256_sign_epi8(_mm256_set1_epi64x(ld64(x + 8 * c)), w[c]);
                p = _mm256_add_epi32(p, _mm256_madd_epi16(_mm256_maddubs_epi16(u[c], sx), ones));
            }
            acc[i][half] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p),
                                           _mm256_mul_ps(dw, _mm256_set1_ps(a[i].dxl[b * 8])),
                                           acc[i][half]);
        }
    }
}

template <bool Q8, int R>
inline void x8_group_any(const uint8_t *grp, int64_t nb, const ActRow *a, float *y, int64_t ldy) {
    __m256 acc[R][2];
    for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        if (Q8)
            x8q8_block<R>(grp + q8x8_val_at(nb, b), grp + q8x8_scale_at(nb, b), a, b, acc);
        else
            x8_block<R>(grp + q4x8_nib_at(nb, b), grp + q4x8_scale_at(nb, b), a, b, acc);
    }
    const __m256i order = _mm256_setr_epi32(0, 1, 4, 5, 2, 3, 6, 7);
    for (int i = 0; i < R; i++)
        _mm256_storeu_ps(y + i * ldy,
                         _mm256_permutevar8x32_ps(_mm256_hadd_ps(acc[i][0], acc[i][1]), order));
}

template <bool Q8>
void rows_x8_avx2(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0, int64_t r1,
                  float *y, int64_t ldy) {
    const int64_t nb = k / 32;
    const size_t row_bytes = qact_row_bytes(k);
    const size_t group_bytes = static_cast<size_t>(nb) * 8 * (Q8 ? 34 : 18);
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) {
        const uint8_t *nib = w + static_cast<size_t>(r / 8) * group_bytes;
        ActRow a[4];
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            for (int j = 0; j < 4; j++) a[j] = act_row(act, row_bytes, k, i + j);
            x8_group_any<Q8, 4>(nib, nb, a, y + i * ldy + r, ldy);
        }
        const int64_t left = m - i;
        for (int j = 0; j < left; j++) a[j] = act_row(act, row_bytes, k, i + j);
        if (left == 3)
            x8_group_any<Q8, 3>(nib, nb, a, y + i * ldy + r, ldy);
        else if (left == 2)
            x8_group_any<Q8, 2>(nib, nb, a, y + i * ldy + r, ldy);
        else if (left == 1)
            x8_group_any<Q8, 1>(nib, nb, a, y + i * ldy + r, ldy);
    }
    if (r < r1) (Q8 ? q8_0_rows_natural : q4_0_rows_natural)(act, m, k, w, r, r1, y, ldy);
}

// ---- activation preparation (qact_prepare, bit for bit) ----
//
// Per block: amax of 4 ymm, d = amax / 127, q = x * (1 / d) rounded half away from zero as
// the portable code does (truncate, then +-1 where the exact remainder reaches +-0.5),
// packed to int8 (the two packs interleave 128-bit lanes; one dword permutation restores
// the order), and the group sums of 4 by vpmaddubsw / vpmaddwd with ones.
void prepare_avx2(const QActLayout &lay, const float *x, int64_t m, int64_t ldx, int64_t k,
                  uint8_t *act) {
    const int64_t nb = k / 32, nq = lay.quads ? nb / 4 : 0;
    const size_t row_bytes = qact_row_bytes(k);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    const __m256 half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i neg_corr = _mm256_set1_epi32(-lay.corr);
    for (int64_t i = 0; i < m; i++) {
        const float *xi = x + i * ldx;
        uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
        int8_t *qs = reinterpret_cast<int8_t *>(a);
        int32_t *corr = reinterpret_cast<int32_t *>(a + k);
        float *dxl = reinterpret_cast<float *>(a + 2 * k);
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = xi + b * 32;
            // Named registers, not arrays: GCC 12 copied an array through the stack with
            // 16-byte stores and 32-byte loads (store-forwarding stalls: 5x slower).
            const __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8);
            const __m256 v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
            const __m256 am = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, abs_mask), _mm256_and_ps(v1, abs_mask)),
                                            _mm256_max_ps(_mm256_and_ps(v2, abs_mask), _mm256_and_ps(v3, abs_mask)));
            __m128 h = _mm_max_ps(_mm256_castps256_ps128(am), _mm256_extractf128_ps(am, 1));
            h = _mm_max_ps(h, _mm_movehl_ps(h, h));
            h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
            const float amax = _mm_cvtss_f32(h);
            const float d = amax / 127.0f;
            const __m256 id = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
            auto round = [&](__m256 v) {
                const __m256 s = _mm256_mul_ps(v, id);
                const __m256i t = _mm256_cvttps_epi32(s);
                const __m256 f = _mm256_sub_ps(s, _mm256_cvtepi32_ps(t));
                return _mm256_add_epi32(
                    _mm256_sub_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(f, half, _CMP_GE_OQ))),
                    _mm256_castps_si256(_mm256_cmp_ps(f, mhalf, _CMP_LE_OQ)));
            };
            const __m256i q8 = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(_mm256_packs_epi32(round(v0), round(v1)),
                                   _mm256_packs_epi32(round(v2), round(v3))),
                order);
            const __m256i sum4 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q8),
                                                   _mm256_set1_epi16(1));
            const int64_t lane = qact_lane(lay, nb, b);
            if (b < nq * 4) {
                const int64_t at = (b / 4) * 128 + (b % 4) * 16;
                _mm_storeu_si128(reinterpret_cast<__m128i *>(qs + at), _mm256_castsi256_si128(q8));
                _mm_storeu_si128(reinterpret_cast<__m128i *>(qs + at + 64), _mm256_extracti128_si256(q8, 1));
                const __m128i s8 = _mm_add_epi32(_mm256_castsi256_si128(sum4), _mm256_extracti128_si256(sum4, 1));
                _mm_storeu_si128(reinterpret_cast<__m128i *>(corr + lane),
                                 _mm_mullo_epi32(s8, _mm256_castsi256_si128(neg_corr)));
                _mm_storeu_ps(dxl + lane, _mm_set1_ps(d));
            } else {
                _mm256_storeu_si256(reinterpret_cast<__m256i *>(qs + b * 32), q8);
                __m256i c = _mm256_mullo_epi32(sum4, neg_corr);
                if (lay.pairs) {
                    // [P0, P1] = the even and odd lanes' sums, repeated (QActLayout::pairs).
                    c = _mm256_add_epi32(c, _mm256_shuffle_epi32(c, _MM_SHUFFLE(1, 0, 3, 2)));
                    c = _mm256_broadcastq_epi64(
                        _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1)));
                }
                _mm256_storeu_si256(reinterpret_cast<__m256i *>(corr + lane), c);
                _mm256_storeu_ps(dxl + lane, _mm256_set1_ps(d));
            }
        }
    }
}

const QKernels kAvx2 = {
    "avx2",
    {QActLayout{false, 0}, prepare_avx2, rows_avx2<true>},
    {QActLayout{true, 8}, prepare_avx2, rows_avx2_q4},
    {QActLayout{false, 8, true}, prepare_avx2, rows_x8_avx2<false>},
    {QActLayout{false, 0, true}, prepare_avx2, rows_x8_avx2<true>},
};

}  // namespace

const QKernels *qkernels_avx2() { return &kAvx2; }
QActPrepareFn qact_prepare_avx2() { return prepare_avx2; }

#else

const QKernels *qkernels_avx2() { return nullptr; }
QActPrepareFn qact_prepare_avx2() { return nullptr; }

#endif

}  // namespace ember
