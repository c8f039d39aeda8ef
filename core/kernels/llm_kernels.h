// llm_kernels.h — the inner loops of the language-model operators (core/kernels/llm.cc),
// one table per ISA, chosen once (like gemm.h's SgemmKernel).
//
// They are the decode hot path: with one token per step every projection is a
// matrix-vector product over weights stored [out, in] (rows contiguous, read in place
// from the mapped file), so the loop is a set of dot products that streams each weight
// row once; attention is dot products of the query with cached key rows, a softmax and
// a probability-weighted sum of cached value rows. The AVX2 exponential (softmax,
// SwiGLU) is a degree-6 polynomial after range reduction by ln 2, within 2 ulp of expf.
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
    // s[0, n) = softmax(s) in place (n >= 1): exp(s - max) / sum.
    void (*softmax)(float *s, int64_t n);
    // y[i] = g[i] * sigmoid(g[i]) * u[i] for i < n.
    void (*swiglu)(const float *g, const float *u, float *y, int64_t n);
    // Decode attention, one query row over n cached rows, every head at once:
    // s[h*n + j] = scale * dot(q[h*hd, +hd), k[j*kvw + (h/group)*hd, +hd)), softmax over j
    // per head, out[h*hd, +hd) = sum_j s[h*n + j] * v[j*kvw + (h/group)*hd, +hd). Each key
    // and value row (all kv heads, kvw floats) is read once, in memory order: per head
    // the rows are kvw apart, a stride the prefetchers follow badly once the cache has
    // been evicted by a step's weights. s holds heads * n floats.
    void (*attend_one)(const float *q, const float *k, const float *v, int64_t kvw, int64_t heads,
                       int64_t group, int64_t hd, int64_t n, float scale, float *s, float *out);
    // The index of the first maximum of x[0, n) (n >= 1), as the loop "if (x[i] > x[best])
    // best = i": NaNs never win (greedy sampling over the vocabulary).
    int64_t (*argmax)(const float *x, int64_t n);
};

// The table cpu_features() allows (EMBER_CPU_ISA=portable forces the portable one).
const LlmKernels &llm_kernels();
// Per-ISA tables; nullptr when built without the ISA's flags. They do not check the CPU.
const LlmKernels *llm_kernels_portable();
const LlmKernels *llm_kernels_avx2();

}  // namespace ember
