// gemm_avx2.cc — the AVX2/FMA SGEMM micro-kernel (built with -mavx2 -mfma -mf16c).
//
// Only reached after cpu_features() confirmed AVX2 + FMA and OS support for YMM state.
// Everything here is in an anonymous namespace and uses no inline function or template
// from a shared header: an AVX2-compiled copy of such a function could otherwise be the
// one the linker keeps for portable callers.
#include "core/kernels/gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace ember {

#if defined(__AVX2__) && defined(__FMA__)

void sgemm_store_tile(const float *acc, int acc_ld, float *c, int64_t ldc, int m, int n,
                      const GemmEpilogue &ep);  // gemm.cc

namespace {

// MR x NR = 6 x 16: 6 rows x 2 ymm = 12 accumulators + 2 B vectors + 1 broadcast = 15 of
// the 16 ymm registers. Per k step: 2 loads of B, 6 broadcasts of A, 12 FMAs; on Zen 4
// (2 FMA pipes, latency 4) 12 independent chains keep both pipes busy (>= 8 needed).
constexpr int MR = 6;
constexpr int NR = 16;

#define EMBER_ROW_FMA(i)                                  \
    do {                                                  \
        const __m256 av = _mm256_broadcast_ss(a + (i));   \
        c##i##0 = _mm256_fmadd_ps(av, b0, c##i##0);       \
        c##i##1 = _mm256_fmadd_ps(av, b1, c##i##1);       \
    } while (0)

// One row of C (m = 1: a vector times a matrix): only the useful FMAs, two k steps at a
// time into separate sums (4 chains), instead of 6 rows of which 5 are padding.
void ukernel_1x16(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int n,
                  const GemmEpilogue &ep) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= k; p += 2) {
        const __m256 a0 = _mm256_broadcast_ss(a), a1 = _mm256_broadcast_ss(a + MR);
        s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b), s0);
        s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + 8), s1);
        t0 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + NR), t0);
        t1 = _mm256_fmadd_ps(a1, _mm256_loadu_ps(b + NR + 8), t1);
        a += 2 * MR;
        b += 2 * NR;
    }
    if (p < k) {
        const __m256 a0 = _mm256_broadcast_ss(a);
        s0 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b), s0);
        s1 = _mm256_fmadd_ps(a0, _mm256_loadu_ps(b + 8), s1);
    }
    alignas(32) float tile[NR];
    _mm256_store_ps(tile, _mm256_add_ps(s0, t0));
    _mm256_store_ps(tile + 8, _mm256_add_ps(s1, t1));
    sgemm_store_tile(tile, NR, c, ldc, 1, n, ep);
}

void ukernel_6x16(int64_t k, const float *a, const float *b, float *c, int64_t ldc, int m,
                  int n, const GemmEpilogue &ep) {
    if (m == 1) {
        ukernel_1x16(k, a, b, c, ldc, n, ep);
        return;
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    // Two k steps per iteration halve the loop overhead (pointer bumps, branch).
    int64_t p = 0;
    for (; p + 2 <= k; p += 2) {
        {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            EMBER_ROW_FMA(0); EMBER_ROW_FMA(1); EMBER_ROW_FMA(2);
            EMBER_ROW_FMA(3); EMBER_ROW_FMA(4); EMBER_ROW_FMA(5);
        }
        a += MR;
        b += NR;
        {
            const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            EMBER_ROW_FMA(0); EMBER_ROW_FMA(1); EMBER_ROW_FMA(2);
            EMBER_ROW_FMA(3); EMBER_ROW_FMA(4); EMBER_ROW_FMA(5);
        }
        a += MR;
        b += NR;
    }
    if (p < k) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        EMBER_ROW_FMA(0); EMBER_ROW_FMA(1); EMBER_ROW_FMA(2);
        EMBER_ROW_FMA(3); EMBER_ROW_FMA(4); EMBER_ROW_FMA(5);
    }

    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21},
                         {c30, c31}, {c40, c41}, {c50, c51}};
    if (m == MR && n == NR) {
        // Full tile: the whole epilogue in registers.
        if (ep.alpha != 1.0f) {
            const __m256 va = _mm256_set1_ps(ep.alpha);
            for (int i = 0; i < MR; i++) {
                acc[i][0] = _mm256_mul_ps(acc[i][0], va);
                acc[i][1] = _mm256_mul_ps(acc[i][1], va);
            }
        }
        if (ep.row_bias) {
            for (int i = 0; i < MR; i++) {
                const __m256 rb = _mm256_broadcast_ss(ep.row_bias + i);
                acc[i][0] = _mm256_add_ps(acc[i][0], rb);
                acc[i][1] = _mm256_add_ps(acc[i][1], rb);
            }
        }
        if (ep.col_bias) {
            const __m256 cb0 = _mm256_loadu_ps(ep.col_bias), cb1 = _mm256_loadu_ps(ep.col_bias + 8);
            for (int i = 0; i < MR; i++) {
                acc[i][0] = _mm256_add_ps(acc[i][0], cb0);
                acc[i][1] = _mm256_add_ps(acc[i][1], cb1);
            }
        }
        if (ep.beta == 1.0f) {
            for (int i = 0; i < MR; i++) {
                acc[i][0] = _mm256_add_ps(acc[i][0], _mm256_loadu_ps(c + i * ldc));
                acc[i][1] = _mm256_add_ps(acc[i][1], _mm256_loadu_ps(c + i * ldc + 8));
            }
        } else if (ep.beta != 0.0f) {
            const __m256 vb = _mm256_set1_ps(ep.beta);
            for (int i = 0; i < MR; i++) {
                acc[i][0] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc), acc[i][0]);
                acc[i][1] = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + i * ldc + 8), acc[i][1]);
            }
        }
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(c + i * ldc, acc[i][0]);
            _mm256_storeu_ps(c + i * ldc + 8, acc[i][1]);
        }
        return;
    }
    // Partial tile (edge of C): spill the accumulators, store the valid part.
    alignas(32) float tile[MR * NR];
    for (int i = 0; i < MR; i++) {
        _mm256_store_ps(tile + i * NR, acc[i][0]);
        _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
    }
    sgemm_store_tile(tile, NR, c, ldc, m, n, ep);
}

#undef EMBER_ROW_FMA

// Block sizes (Zen 4: 32 KiB L1d, 1 MiB L2 per core):
//   KC = 256: a B micro-panel is KC x NR x 4 B = 16 KiB, half of L1, so it stays there
//             while the A micro-panels (6 KiB each) stream past it;
//   MC = 144: the A block is MC x KC x 4 B = 144 KiB, well inside L2 next to the B block;
//   NC = 1024: the B block is KC x NC x 4 B = 1 MiB per thread (L2/L3).
const SgemmKernel kAvx2 = {CpuIsa::Avx2, "avx2", MR, NR, 144, 256, 1024, ukernel_6x16};

}  // namespace

const SgemmKernel *sgemm_kernel_avx2() { return &kAvx2; }

#else

const SgemmKernel *sgemm_kernel_avx2() { return nullptr; }

#endif

}  // namespace ember
