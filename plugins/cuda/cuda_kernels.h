// cuda_kernels.h — the CUDA plugin's own kernels (cuda_kernels.cu): everything cuBLASLt
// and cuDNN do not do for it. Each launcher enqueues on `stream` and returns
// cudaGetLastError() (a launch configuration error); execution errors surface at the
// next synchronisation. Tensors are row-major (NCHW for images), of storage type
// `dt` (float32, or float16 in the plugin's fp16 mode); arithmetic is always float32.
//
// This header is plain C++ (no CUDA types but cudaStream_t / cudaError_t), so the host
// code compiles with the host compiler.
#ifndef EMBER_PLUGINS_CUDA_KERNELS_H
#define EMBER_PLUGINS_CUDA_KERNELS_H

#include <cstdint>

#include <cuda_runtime_api.h>

namespace ember_cuda {

enum class DType : int { F32 = 0, F16 = 1 };
inline size_t dtype_size(DType t) { return t == DType::F16 ? 2 : 4; }

// An activation, applied as y = f(x). Parameters: LeakyRelu / Elu alpha in a; Clip
// [a, b]; HardSigmoid y = clamp(a*x + b, 0, 1); Selu a = alpha, b = gamma.
enum class ActKind : int {
    None = 0, Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish, Gelu, GeluTanh,
    Elu, Selu, Abs, Neg, Sqrt, Exp, Softplus
};
struct Act {
    ActKind kind = ActKind::None;
    float a = 0.0f, b = 0.0f;
};

constexpr int kMaxRank = 6;

// y[i] = x[sum_d idx_d(i) * in_strides[d]] over the output's dims: transposes (permuted
// strides) and broadcasts (stride 0).
struct StridedShape {
    int rank = 0;
    int64_t dims[kMaxRank] = {};        // output dims
    int64_t in_strides[kMaxRank] = {};  // input element strides, per output dim
};

enum class BinaryOp : int { Add = 0, Sub, Mul, Div };
// y = a op b over the output's dims, each input read through its own strides (0 where
// it is broadcast).
struct BinaryShape {
    int rank = 0;
    int64_t dims[kMaxRank] = {};
    int64_t a_strides[kMaxRank] = {};
    int64_t b_strides[kMaxRank] = {};
};

// A 2-D convolution with one group per input channel (depthwise; `multiplier` output
// channels per group). Weights [C*multiplier, 1, kh, kw]; pads top / left (bottom and
// right follow from the output size).
struct DepthwiseParams {
    int64_t n, c, h, w, multiplier, oh, ow;
    int kh, kw, sh, sw, dh, dw, pt, pl;
};

// A 2-D max or average pooling window over NCHW. Windows may run past the bottom /
// right edge (ceil_mode): out-of-range positions are skipped; average divides by the
// number of positions inside the input, or by kh*kw with count_include_pad.
struct PoolParams {
    int64_t nc, h, w, oh, ow;
    int kh, kw, sh, sw, dh, dw, pt, pl;
    bool max = true;
    bool count_include_pad = false;
};

enum class ReduceOp : int { Mean = 0, Sum, Max };

cudaError_t launch_cast_from_f32(DType dt, const float *x, void *y, int64_t n, cudaStream_t s);
cudaError_t launch_cast_to_f32(DType dt, const void *x, float *y, int64_t n, cudaStream_t s);
cudaError_t launch_act(DType dt, const void *x, void *y, int64_t n, Act act, cudaStream_t s);
// In place over y [outer, channels, inner]: y = act(y + bias[c] + res), bias and res
// optional (NULL).
cudaError_t launch_epilogue(DType dt, void *y, const void *bias, const void *res, int64_t outer,
                            int64_t channels, int64_t inner, Act act, cudaStream_t s);
// y = act(x * scale[c] + shift[c]) over [outer, channels, inner]; scale, shift float32.
cudaError_t launch_affine_channel(DType dt, const void *x, void *y, const float *scale,
                                  const float *shift, int64_t outer, int64_t channels,
                                  int64_t inner, Act act, cudaStream_t s);
cudaError_t launch_binary(DType dt, BinaryOp op, const void *a, const void *b, void *y,
                          const BinaryShape &shape, Act act, cudaStream_t s);
cudaError_t launch_strided_copy(DType dt, const void *x, void *y, const StridedShape &shape,
                                cudaStream_t s);
cudaError_t launch_depthwise(DType dt, const void *x, const void *w, const void *bias,
                             const void *res, void *y, const DepthwiseParams &p, Act act,
                             cudaStream_t s);
cudaError_t launch_pool(DType dt, const void *x, void *y, const PoolParams &p, cudaStream_t s);
// y[r] = op over x[r, 0..cols): one warp per row.
cudaError_t launch_reduce_rows(DType dt, const void *x, void *y, int64_t rows, int64_t cols,
                               ReduceOp op, cudaStream_t s);
// Softmax (or log-softmax) over the middle axis of [outer, axis, inner].
cudaError_t launch_softmax(DType dt, const void *x, void *y, int64_t outer, int64_t axis,
                           int64_t inner, bool log, cudaStream_t s);

// Whether this library holds code the current device can run (a cubin for its
// architecture or PTX it can compile): cudaErrorNoKernelImageForDevice if not.
cudaError_t kernel_image_check();

}  // namespace ember_cuda

#endif  // EMBER_PLUGINS_CUDA_KERNELS_H
