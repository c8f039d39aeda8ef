// gemm.h — single-precision GEMM for the CPU kernels (Conv, ConvTranspose, Gemm, MatMul).
//
//   C[m x n] = alpha * A[m x k] * B[k x n] + beta * C + row_bias[i] + col_bias[j]
//
// Scope: float32 only, any strides (so transposes cost nothing but packing), row-major
// C with a leading dimension. Numerics: float accumulation in k order within a block of
// KC, blocks summed in order; no Strassen-like tricks, so results differ from a double
// reference by the usual O(k * eps) rounding only.
//
// Design (after BLIS / GotoBLAS): the operands are copied ("packed") into contiguous
// micro-panels, A as MR-row panels and B as NR-column panels, cut into blocks that fit
// the caches (MC x KC of A in L2, KC x NR of B in L1), and one register-blocked
// micro-kernel per ISA computes an MR x NR tile of C from a pair of panels. A kernel
// table (SgemmKernel) per ISA holds the micro-kernel and its block sizes; sgemm_kernel()
// gives the one cpu_features() allows, picked once:
//   portable  4 x 8   gemm.cc         plain C++ (the fallback, and the tests' oracle)
//   avx2      6 x 16  gemm_avx2.cc    AVX2 + FMA, 12 ymm accumulators
//   avx512    8 x 32  gemm_avx512.cc  AVX-512F, 16 zmm accumulators, masked edge tiles
// The ISA kernels have a one-row loop for m = 1 (vector x matrix), which would otherwise
// spend most FMAs on padding rows.
// Measured on the 2-core Zen 4 (EPYC) dev box, per core (CPU time, the box was shared):
// avx2 ~80-100 GFLOP/s and avx512 ~85-105 GFLOP/s on 256..2048 cubes with B packed
// ahead, ~75-80 packing both on the fly; conv layers 75-90 (SqueezeNet, super-resolution).
//
// Constant operands (weights) can be packed once, at kernel creation, into the "whole
// matrix" packed layout below and passed as a_packed / b_packed; the other operand is
// packed on the fly into scratch memory the caller provides (sgemm_scratch_bytes()).
// sgemm() never allocates, never locks and keeps no state: it is reentrant.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/kernels/cpu_features.h"

namespace ember {

class ThreadPool;

// What the micro-kernel does to the tile after the k loop.
struct GemmEpilogue {
    float alpha = 1.0f;
    float beta = 0.0f;                 // exactly 0: C is not read (it may hold garbage)
    const float *row_bias = nullptr;   // nullptr, or row_bias[i] added to tile row i
    const float *col_bias = nullptr;   // nullptr, or col_bias[j] added to tile column j
};

// Micro-kernel: for i < m <= MR, j < n <= NR,
//   c[i*ldc + j] = alpha * sum_{p<k} a[p*MR + i] * b[p*NR + j]
//                  + beta * c[i*ldc + j] + row_bias[i] + col_bias[j].
// a, b are packed micro-panels (zero padded to MR rows / NR columns); k may be 0.
using SgemmUkernelFn = void (*)(int64_t k, const float *a, const float *b, float *c,
                                int64_t ldc, int m, int n, const GemmEpilogue &ep);

struct SgemmKernel {
    CpuIsa isa;
    const char *name;
    int mr, nr;                // micro-tile
    int64_t mc, kc, nc;        // cache blocks (mc multiple of mr, nc multiple of nr)
    SgemmUkernelFn ukernel;
};

// The kernel cpu_features() allows (EMBER_CPU_ISA caps it); chosen once.
const SgemmKernel &sgemm_kernel();
// The kernel for one ISA level, or nullptr if this machine or build cannot run it.
const SgemmKernel *sgemm_kernel_for(CpuIsa isa);
// Per-ISA tables, defined in gemm.cc / gemm_avx2.cc / gemm_avx512.cc; nullptr when the
// file was built without its ISA flags. They do not check the CPU: use the two above.
const SgemmKernel *sgemm_kernel_portable();
const SgemmKernel *sgemm_kernel_avx2();
const SgemmKernel *sgemm_kernel_avx512();

// A strided matrix view: element (r, c) at data[r*rs + c*cs]. A transposed operand is
// the same memory with rs and cs swapped.
struct MatrixRef {
    const float *data = nullptr;
    int64_t rs = 0;
    int64_t cs = 0;
};

// ---- the whole-matrix packed layout ----
// A (m x k) packed for kernel `kn`: mpad = m rounded up to MR. K is cut into blocks of
// KC (the last one shorter); block pc (a multiple of KC, of length kcb) starts at
// offset pc*mpad; inside it, the MR-row panel of rows [i0, i0+MR) starts at i0*kcb and
// holds element (i0+i, pc+p) at p*MR + i. Rows past m are zero. B (k x n) is the same
// with NR-column panels: element (pc+p, j0+j) at pc*npad + j0*kcb + p*NR + j.
// Sizes in floats:
size_t sgemm_packed_a_size(const SgemmKernel &kn, int64_t m, int64_t k);
size_t sgemm_packed_b_size(const SgemmKernel &kn, int64_t k, int64_t n);
// Packs all of A (m x k) / B (k x n) into dst (sgemm_packed_*_size floats).
void sgemm_pack_a(const SgemmKernel &kn, MatrixRef a, int64_t m, int64_t k, float *dst);
void sgemm_pack_b(const SgemmKernel &kn, MatrixRef b, int64_t k, int64_t n, float *dst);
// Offset (in floats) of B element (p, j) in the whole-matrix packed layout of a k x n
// B; lets a producer (im2col) write straight into packed form.
inline int64_t sgemm_packed_b_offset(const SgemmKernel &kn, int64_t k, int64_t n, int64_t p,
                                     int64_t j) {
    int64_t npad = (n + kn.nr - 1) / kn.nr * kn.nr;
    int64_t pc = p / kn.kc * kn.kc;
    int64_t kcb = k - pc < kn.kc ? k - pc : kn.kc;
    int64_t j0 = j / kn.nr * kn.nr;
    return pc * npad + j0 * kcb + (p - pc) * kn.nr + (j - j0);
}

struct SgemmArgs {
    int64_t m = 0, n = 0, k = 0;
    MatrixRef a;                      // used when a_packed is null
    const float *a_packed = nullptr;  // whole-matrix packed A for this kernel, or null
    MatrixRef b;
    const float *b_packed = nullptr;
    float *c = nullptr;
    int64_t ldc = 0;                  // row stride of C (>= n)
    float alpha = 1.0f;
    float beta = 0.0f;                // exactly 0: C is write-only
    const float *row_bias = nullptr;  // m values, or null
    const float *col_bias = nullptr;  // n values, or null
};

// How sgemm() may use threads. `slots` = how many threads the scratch memory was sized
// for; sgemm uses at most min(slots, max_threads) threads of `pool` (null: 1 thread).
struct GemmThreads {
    ThreadPool *pool = nullptr;
    int max_threads = 1;
    int slots = 1;
};

// Slots worth planning scratch for on this machine: its hardware threads, capped.
int sgemm_default_slots();

// Scratch bytes sgemm() needs for these sizes with `slots` threads (an operand given
// packed needs none). Includes 64 bytes of alignment slack: any pointer will do.
size_t sgemm_scratch_bytes(const SgemmKernel &kn, int64_t m, int64_t n, int64_t k,
                           bool a_packed, bool b_packed, int slots);

// C = alpha*A*B + beta*C + biases. `scratch` holds sgemm_scratch_bytes(...,
// threads.slots) bytes. Reentrant; no allocation; calls pool->parallel_for at most once.
void sgemm(const SgemmKernel &kn, const SgemmArgs &args, void *scratch,
           const GemmThreads &threads);

// The portable micro-kernel's shape, for tests that want to run it on odd panels.
// Plain C++: the fallback everywhere and the oracle the ISA kernels are checked against.
void sgemm_ukernel_portable(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, const GemmEpilogue &ep);

}  // namespace ember
