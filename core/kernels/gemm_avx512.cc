// gemm_avx512.cc — the AVX-512 SGEMM micro-kernel (built with AVX-512 F/BW/VL/DQ flags).
//
// Only reached after cpu_features() confirmed AVX-512 F/BW/VL/DQ and OS support for
// ZMM and opmask state. As in gemm_avx2.cc, nothing here is an inline function or
// template from a shared header, so no AVX-512 copy of one can leak to other callers.
#include "core/kernels/gemm.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define EMBER_HAVE_AVX512_KERNEL 1
#endif

namespace ember {

#ifdef EMBER_HAVE_AVX512_KERNEL

namespace {

// MR x NR = 8 x 32: 8 rows x 2 zmm = 16 accumulators + 2 B vectors + 1 broadcast = 19 of
// the 32 zmm registers. Per k step: 2 loads of B, 8 broadcasts of A, 16 FMAs. MR = 8
// divides the usual channel counts (8, 16, 32, 64 ...), so Conv's M wastes no rows;
// 16 independent chains cover FMA latency x throughput on both Zen 4 (1 zmm FMA per
// cycle) and cores with two 512-bit FMA pipes. (A 14 x 32 tile would fill 31 registers
// but waste up to 13 rows on small M.)
constexpr int MR = 8;
constexpr int NR = 32;

#define EMBER_ROW_FMA(i)                                   \
    do {                                                   \
        const __m512 av = _mm512_set1_ps(a[(i)]);          \
        c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);        \
        c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);        \
    } while (0)

#define EMBER_K_STEP()                                                        \
    do {                                                                      \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);   \
        EMBER_ROW_FMA(0); EMBER_ROW_FMA(1); EMBER_ROW_FMA(2); EMBER_ROW_FMA(3); \
        EMBER_ROW_FMA(4); EMBER_ROW_FMA(5); EMBER_ROW_FMA(6); EMBER_ROW_FMA(7); \
        a += MR;                                                              \
        b += NR;                                                              \
    } while (0)

// The epilogue for rows [0, m) of the tile in acc: column masks for the two halves of a
// partial tile, rows past m skipped.
inline void store_rows(__m512 (*acc)[2], float *c, int64_t ldc, int m, int n,
                       const GemmEpilogue &ep) {
    const __mmask16 k0 = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
    const __mmask16 k1 = static_cast<__mmask16>(n >= 32 ? 0xffff : n <= 16 ? 0 : (1u << (n - 16)) - 1);
    const __m512 va = _mm512_set1_ps(ep.alpha);
    const __m512 vb = _mm512_set1_ps(ep.beta);
    __m512 cb0 = _mm512_setzero_ps(), cb1 = _mm512_setzero_ps();
    if (ep.col_bias) {
        cb0 = _mm512_maskz_loadu_ps(k0, ep.col_bias);
        cb1 = _mm512_maskz_loadu_ps(k1, ep.col_bias + 16);
    }
    for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float *cr = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(acc[i][0], va);
        __m512 r1 = _mm512_mul_ps(acc[i][1], va);
        if (ep.row_bias) {
            const __m512 rb = _mm512_set1_ps(ep.row_bias[i]);
            r0 = _mm512_add_ps(r0, rb);
            r1 = _mm512_add_ps(r1, rb);
        }
        r0 = _mm512_add_ps(r0, cb0);
        r1 = _mm512_add_ps(r1, cb1);
        if (ep.beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k0, cr), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(k1, cr + 16), r1);
        }
        _mm512_mask_storeu_ps(cr, k0, r0);
        _mm512_mask_storeu_ps(cr + 16, k1, r1);
    }
}

// One row of C (m = 1: a vector times a matrix, e.g. a Linear layer on one sample):
// the full tile would spend 7 of every 8 FMAs on padding rows; this loop does only the
// useful ones, two k steps at a time into separate sums (4 chains), so it runs at the
// speed B streams in.
void ukernel_1x32(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int n,
                  const GemmEpilogue &ep) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 t0 = _mm512_setzero_ps(), t1 = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= k; p += 2) {
        const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[MR]);
        s0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b), s0);
        s1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b + 16), s1);
        t0 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b + NR), t0);
        t1 = _mm512_fmadd_ps(a1, _mm512_loadu_ps(b + NR + 16), t1);
        a += 2 * MR;
        b += 2 * NR;
    }
    if (p < k) {
        const __m512 a0 = _mm512_set1_ps(a[0]);
        s0 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b), s0);
        s1 = _mm512_fmadd_ps(a0, _mm512_loadu_ps(b + 16), s1);
    }
    __m512 acc[1][2] = {{_mm512_add_ps(s0, t0), _mm512_add_ps(s1, t1)}};
    store_rows(acc, c, ldc, 1, n, ep);
}

void ukernel_8x32(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int m,
                  int n, const GemmEpilogue &ep) {
    if (m == 1) {
        ukernel_1x32(k, a, b, c, ldc, n, ep);
        return;
    }
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
    __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= k; p += 2) {  // two k steps per iteration: half the loop overhead
        EMBER_K_STEP();
        EMBER_K_STEP();
    }
    if (p < k) EMBER_K_STEP();

    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                         {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    store_rows(acc, c, ldc, m, n, ep);
}

#undef EMBER_K_STEP
#undef EMBER_ROW_FMA

// Block sizes (Zen 4: 32 KiB L1d, 1 MiB L2 per core):
//   KC = 128: a B micro-panel is KC x NR x 4 B = 16 KiB, half of L1, next to the 4 KiB
//             A micro-panels streaming past it (KC = 256 would fill L1 with B alone);
//   MC = 256: the A block is MC x KC x 4 B = 128 KiB in L2;
//   NC = 1024: the B block is KC x NC x 4 B = 512 KiB per thread (L2).
const SgemmKernel kAvx512 = {CpuIsa::Avx512, "avx512", MR, NR, 256, 128, 1024, ukernel_8x32};

}  // namespace

const SgemmKernel *sgemm_kernel_avx512() { return &kAvx512; }

#else

const SgemmKernel *sgemm_kernel_avx512() { return nullptr; }

#endif

}  // namespace ember
