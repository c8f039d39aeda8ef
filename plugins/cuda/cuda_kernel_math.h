// cuda_kernel_math.h — the per-element arithmetic and index math of the plugin's kernels
// (cuda_kernels.cu), as __host__ __device__ functions: the GPU runs exactly this code,
// and test_cuda_kernel_math.cc runs it on the host against naive references, so the
// index math (windows, pads, strides, broadcasts) is checked without a GPU.
#ifndef EMBER_PLUGINS_CUDA_KERNEL_MATH_H
#define EMBER_PLUGINS_CUDA_KERNEL_MATH_H

#include <math.h>
#include <stdint.h>

#include "cuda_kernels.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define EMBER_HD __host__ __device__ __forceinline__
#else
#define EMBER_HD inline
#endif

namespace ember_cuda {

EMBER_HD float ld(const float *p, int64_t i) { return p[i]; }
#if defined(__CUDACC__)
__device__ __forceinline__ float ld(const __half *p, int64_t i) { return __half2float(p[i]); }
#endif

EMBER_HD float apply_act(float x, Act act) {
    switch (act.kind) {
        case ActKind::None: return x;
        case ActKind::Relu: return x > 0.0f ? x : 0.0f;
        case ActKind::LeakyRelu: return x < 0.0f ? act.a * x : x;
        case ActKind::Clip: return fminf(fmaxf(x, act.a), act.b);
        case ActKind::Sigmoid: return 1.0f / (1.0f + expf(-x));
        case ActKind::Tanh: return tanhf(x);
        case ActKind::HardSigmoid: return fminf(fmaxf(act.a * x + act.b, 0.0f), 1.0f);
        case ActKind::HardSwish: return x * fminf(fmaxf(x * (1.0f / 6.0f) + 0.5f, 0.0f), 1.0f);
        case ActKind::Gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
        case ActKind::GeluTanh:
            return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
        case ActKind::Elu: return x > 0.0f ? x : act.a * (expf(x) - 1.0f);
        case ActKind::Selu: return act.b * (x > 0.0f ? x : act.a * (expf(x) - 1.0f));
        case ActKind::Abs: return fabsf(x);
        case ActKind::Neg: return -x;
        case ActKind::Sqrt: return sqrtf(x);
        case ActKind::Exp: return expf(x);
        case ActKind::Softplus: return x > 20.0f ? x : log1pf(expf(x));
    }
    return x;
}

// Element offset in the input of output element i (row-major over `dims`).
EMBER_HD int64_t strided_offset(int64_t i, int rank, const int64_t *dims, const int64_t *strides) {
    int64_t off = 0;
    for (int d = rank - 1; d >= 0; d--) {
        off += (i % dims[d]) * strides[d];
        i /= dims[d];
    }
    return off;
}

EMBER_HD float binary_op(BinaryOp op, float u, float v) {
    switch (op) {
        case BinaryOp::Add: return u + v;
        case BinaryOp::Sub: return u - v;
        case BinaryOp::Mul: return u * v;
        default: return u / v;
    }
}

// Output element i of a depthwise convolution (before the activation): bias + taps +
// residual.
template <class T>
EMBER_HD float depthwise_point(const T *x, const T *w, const T *bias, const T *res, const DepthwiseParams &p,
                               int64_t i) {
    int64_t ox = i % p.ow;
    int64_t oy = (i / p.ow) % p.oh;
    int64_t oc = (i / (p.ow * p.oh)) % (p.c * p.multiplier);
    int64_t n = i / (p.ow * p.oh * p.c * p.multiplier);
    int64_t ic = oc / p.multiplier;
    const T *xc = x + (n * p.c + ic) * p.h * p.w;
    const T *wc = w + oc * p.kh * p.kw;
    float acc = bias ? ld(bias, oc) : 0.0f;
    for (int ky = 0; ky < p.kh; ky++) {
        int64_t iy = oy * p.sh - p.pt + ky * p.dh;
        if (iy < 0 || iy >= p.h) continue;
        for (int kx = 0; kx < p.kw; kx++) {
            int64_t ix = ox * p.sw - p.pl + kx * p.dw;
            if (ix < 0 || ix >= p.w) continue;
            acc += ld(xc, iy * p.w + ix) * ld(wc, ky * p.kw + kx);
        }
    }
    if (res) acc += ld(res, i);
    return acc;
}

// Output element i of a 2-D pooling window over NCHW.
template <class T>
EMBER_HD float pool_point(const T *x, const PoolParams &p, int64_t i) {
    int64_t ox = i % p.ow;
    int64_t oy = (i / p.ow) % p.oh;
    int64_t nc = i / (p.ow * p.oh);
    const T *xc = x + nc * p.h * p.w;
    float acc = p.max ? -3.402823466e38f : 0.0f;
    int count = 0;
    for (int ky = 0; ky < p.kh; ky++) {
        int64_t iy = oy * p.sh - p.pt + ky * p.dh;
        if (iy < 0 || iy >= p.h) continue;
        for (int kx = 0; kx < p.kw; kx++) {
            int64_t ix = ox * p.sw - p.pl + kx * p.dw;
            if (ix < 0 || ix >= p.w) continue;
            float v = ld(xc, iy * p.w + ix);
            if (p.max) acc = (v > acc || v != v) ? v : acc;  // NaN propagates
            else acc += v;
            count++;
        }
    }
    if (p.max) return count ? acc : 0.0f;
    return acc / static_cast<float>(p.count_include_pad ? p.kh * p.kw : (count ? count : 1));
}

}  // namespace ember_cuda

#endif  // EMBER_PLUGINS_CUDA_KERNEL_MATH_H
