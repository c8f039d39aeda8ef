// llm_kernels.h — the inner loops of the language-model operators (core/kernels/llm.cc),
// one table per ISA, chosen once (like gemm.h's SgemmKernel).
//
// They are the decode hot path: with one token per step every projection is a
// matrix-vector product over weights stored [out, in] (rows contiguous, read in place
// from the mapped file), so the loop is a set of dot products that streams each weight
// row once; attention is dot products of the query with cached key rows and a
// probability-weighted sum of cached value rows.
#pragma once

#include <cstdint>

namespace ember {

struct LlmKernels {
    const char *name;
    // y[i*ldy + r] = dot(x[i*ldx, +k), w[r*k, +k)) for i < m, r in [r0, r1).
    // Weight rows are read in memory order, each once for all m rows of x.
    void (*dot_rows)(const float *x, int64_t m, int64_t ldx, const float *w, int64_t k,
                     int64_t r0, int64_t r1, float *y, int64_t ldy);
    // s[j] = scale * dot(q[0, d), kv[j*stride, +d)) for j < n.
    void (*scores)(const float *q, const float *kv, int64_t stride, int64_t d, int64_t n,
                   float scale, float *s);
    // out[0, d) = sum_j p[j] * kv[j*stride, +d) for j < n (out is overwritten).
    void (*weighted_sum)(const float *p, const float *kv, int64_t stride, int64_t d, int64_t n,
                         float *out);
};

// The table cpu_features() allows (EMBER_CPU_ISA=portable forces the portable one).
const LlmKernels &llm_kernels();
// Per-ISA tables; nullptr when built without the ISA's flags. They do not check the CPU.
const LlmKernels *llm_kernels_portable();
const LlmKernels *llm_kernels_avx2();

}  // namespace ember
