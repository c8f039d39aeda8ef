// cuda_compile.cc — subgraph -> steps on one device, arena, CUDA Graph (cuda_compile.h).
//
// Layout: NCHW row-major everywhere, as the host hands tensors over, so no reorders are
// needed at the edges. Storage type T: float32, or float16 in fp16 mode (activations and
// weights; every kernel accumulates in float32, cuBLASLt and cuDNN with
// CUBLAS_COMPUTE_32F / CUDNN_DATA_FLOAT compute types).
//
// Options (the plugin ABI does not pass session options to plugins; read at compile):
//   EMBER_CUDA_PRECISION  fp32 (default: exact float32, no TF32), tf32 (float32 storage,
//                         TF32 tensor cores in cuBLASLt and cuDNN), fp16 (float16
//                         storage and tensor cores; inputs and outputs stay float32)
//   EMBER_CUDA_DEVICE     the plugin's device index (default: the session's, 0)
//   EMBER_CUDA_GRAPHS     0: no CUDA Graph, every run enqueues the steps
//   EMBER_CUDA_FUSED_CONV 0: no cudnnConvolutionBiasActivationForward
//   EMBER_CUDA_WORKSPACE_MB  cuDNN workspace limit per subgraph (default 256)
//   EMBER_CUDA_CONV_SEARCH  heuristic: cuDNN's heuristic algorithm order instead of
//                         measuring every algorithm at compile (faster compile)
#include "cuda_compile.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "cuda_kernels.h"
#include "cuda_ops.h"

namespace ember_cuda {
namespace {

// ---- errors ----

void ck(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return;
    std::string msg = std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    if (e == cudaErrorMemoryAllocation) msg += ": the device is out of memory";
    throw BackendError(msg);
}

void ck(cublasStatus_t e, const char *what) {
    if (e == CUBLAS_STATUS_SUCCESS) return;
    throw BackendError(std::string(what) + ": cuBLASLt " + cublasLtGetStatusName(e) + " (" +
                       cublasLtGetStatusString(e) + ")");
}

void ck(cudnnStatus_t e, const char *what) {
    if (e == CUDNN_STATUS_SUCCESS) return;
    throw BackendError(std::string(what) + ": cuDNN " + cudnnGetErrorString(e));
}

// ---- options ----

enum class Precision { F32, TF32, F16 };

struct Options {
    Precision precision = Precision::F32;
    int device = 0;
    bool graphs = true;
    bool fused_conv = true;
    bool conv_search = true;
    size_t workspace_limit = 256u << 20;
};

bool env_off(const char *name) {
    const char *v = std::getenv(name);
    return v && (std::strcmp(v, "0") == 0 || std::strcmp(v, "off") == 0 || std::strcmp(v, "false") == 0);
}

Options read_options(int32_t session_device) {
    Options o;
    o.device = session_device;
    if (const char *p = std::getenv("EMBER_CUDA_PRECISION")) {
        if (!std::strcmp(p, "fp32") || !*p) o.precision = Precision::F32;
        else if (!std::strcmp(p, "tf32")) o.precision = Precision::TF32;
        else if (!std::strcmp(p, "fp16")) o.precision = Precision::F16;
        else throw BackendError(std::string("EMBER_CUDA_PRECISION='") + p + "': expected fp32, tf32 or fp16");
    }
    if (const char *d = std::getenv("EMBER_CUDA_DEVICE")) {
        char *end = nullptr;
        long v = std::strtol(d, &end, 10);
        if (!*d || *end || v < 0 || v > 1024) throw BackendError(std::string("EMBER_CUDA_DEVICE='") + d + "': not a device index");
        o.device = static_cast<int>(v);
    }
    o.graphs = !env_off("EMBER_CUDA_GRAPHS");
    o.fused_conv = !env_off("EMBER_CUDA_FUSED_CONV");
    if (const char *v = std::getenv("EMBER_CUDA_CONV_SEARCH")) o.conv_search = std::strcmp(v, "heuristic") != 0;
    if (const char *w = std::getenv("EMBER_CUDA_WORKSPACE_MB")) {
        long v = std::strtol(w, nullptr, 10);
        if (v >= 0 && v <= (1L << 20)) o.workspace_limit = static_cast<size_t>(v) << 20;
    }
    return o;
}

// ---- host-side conversions ----

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity
    if (abs < 0x38800000u) {  // a half subnormal (or zero): value = r * 2^-24
        if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
        uint32_t e = abs >> 23, m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;  // 14..24
        uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (r & 1))) r++;
        return static_cast<uint16_t>(sign | r);
    }
    uint32_t r = (abs - 0x38000000u) >> 13;  // rebias exponent 127 -> 15
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return static_cast<uint16_t>(sign | r);
}

// Constants uploaded once, in one device allocation; offsets are 256-byte aligned.
struct Blob {
    std::vector<unsigned char> bytes;
    size_t add(const void *p, size_t n) {
        size_t off = (bytes.size() + 255) & ~size_t(255);
        bytes.resize(off + n);
        if (n) std::memcpy(bytes.data() + off, p, n);
        return off;
    }
    size_t add_floats(const std::vector<float> &v, DType dt) {
        if (dt == DType::F32) return add(v.data(), v.size() * 4);
        std::vector<uint16_t> h(v.size());
        for (size_t i = 0; i < v.size(); i++) h[i] = float_to_half(v[i]);
        return add(h.data(), h.size() * 2);
    }
};

std::vector<float> const_floats(const ember_plugin_value &v) {
    Dims d(v.dims, v.dims + v.rank);
    std::vector<float> f(static_cast<size_t>(numel(d)));
    constant_to_f32(v, f.size(), f.data());
    return f;
}

constexpr size_t kNoOffset = SIZE_MAX;

}  // namespace

DeviceGuard::DeviceGuard(int device) {
    if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
    if (previous_ != device) ck(cudaSetDevice(device), "cudaSetDevice");
    else previous_ = -1;  // nothing to restore
}

DeviceGuard::~DeviceGuard() {
    if (previous_ >= 0) cudaSetDevice(previous_);
    cudaGetLastError();
}

// ---- the compiled subgraph ----

struct Val {
    std::string name;
    Dims dims;
    int64_t n = 0;
    const ember_plugin_value *desc = nullptr;  // valid during compile only
    const void *cdata = nullptr;               // constant data (lives in the model)
    ember_dtype dtype = EMBER_DTYPE_UNDEFINED;
    int producer = -1;                         // node index
    std::vector<int> readers;                  // node indices
    int sg_output = -1;
    int alias = -1;                            // a view of this value
    bool needed = false;
    int first = INT_MAX, last = -1;            // step indices (-1: before the first)
    size_t const_off = kNoOffset;              // uploaded constant
    void *dev = nullptr;
};

struct Compiled;

struct Step {
    std::vector<int> reads, writes;
    virtual ~Step() = default;
    // After the arena and the weights exist: choose algorithms (may run the step).
    virtual void prepare(Compiled &) {}
    virtual void run(Compiled &) = 0;
    virtual size_t workspace() const { return 0; }
};

struct Compiled {
    const ember_host_api *host = nullptr;
    int device = 0;  // CUDA ordinal
    Options opt;
    DType dt = DType::F32;
    cudaStream_t stream = nullptr;
    cublasLtHandle_t lt = nullptr;
    cudnnHandle_t dnn = nullptr;
    std::vector<Val> vals;
    std::vector<std::unique_ptr<Step>> steps;
    std::vector<int> in_ids, out_ids;  // per subgraph input / output; -1: not uploaded
    std::vector<char> out_fill;        // per output: 1 = a Dropout mask, filled with true
    std::vector<size_t> in_pin, out_pin, in_edge, out_edge;  // offsets in pinned / edge
    void *arena = nullptr;
    size_t arena_bytes = 0;
    unsigned char *weights = nullptr;
    void *workspace = nullptr;
    size_t workspace_bytes = 0;
    unsigned char *edge = nullptr;    // fp16 mode: float32 copies of inputs and outputs
    unsigned char *pinned = nullptr;  // host staging
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t graph_exec = nullptr;
    bool graph_failed = false;
    bool broken = false;
    std::string broken_why;

    int root(int id) const {
        while (vals[id].alias >= 0) id = vals[id].alias;
        return id;
    }
    void *ptr(int id) const { return vals[root(id)].dev; }
    const void *wptr(size_t off) const { return off == kNoOffset ? nullptr : weights + off; }
    size_t esize() const { return dtype_size(dt); }
    void log(ember_log_level level, const std::string &msg) const {
        if (host && host->log) host->log(host->host_ctx, level, ("cuda: " + msg).c_str());
    }

    ~Compiled() {
        int previous = -1;
        if (cudaGetDevice(&previous) != cudaSuccess || previous == device) previous = -1;
        cudaSetDevice(device);
        if (stream) cudaStreamSynchronize(stream);
        steps.clear();  // descriptors first
        if (graph_exec) cudaGraphExecDestroy(graph_exec);
        if (graph) cudaGraphDestroy(graph);
        if (lt) cublasLtDestroy(lt);
        if (dnn) cudnnDestroy(dnn);
        if (stream) cudaStreamDestroy(stream);
        cudaFree(arena);
        cudaFree(weights);
        cudaFree(workspace);
        cudaFree(edge);
        if (pinned) cudaFreeHost(pinned);
        if (previous >= 0) cudaSetDevice(previous);
        cudaGetLastError();  // nothing here may fail the caller
    }
};

namespace {

cudaDataType_t cuda_type(DType dt) { return dt == DType::F16 ? CUDA_R_16F : CUDA_R_32F; }
cudnnDataType_t dnn_type(DType dt) { return dt == DType::F16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

void ck_launch(cudaError_t e, const char *what) { ck(e, what); }

// ---- cuBLASLt: row-major Y[b] (m x n) = alpha * op(A[b]) x op(B[b]) + beta * Y[b] ----
//
// cuBLASLt is column-major: a row-major matrix is its transpose in column-major, so the
// product is computed as Y^T = op(B)^T x op(A)^T with Lt's A = our B and Lt's B = our A.
// Lt's bias epilogue adds one value per row of its D = per column n of our Y: Gemm /
// MatMul bias. (A convolution's per-channel bias is per row of our Y: the plugin's
// epilogue kernel does that one.)
class LtGemm {
public:
    ~LtGemm() {
        if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
        if (la_) cublasLtMatrixLayoutDestroy(la_);
        if (lb_) cublasLtMatrixLayoutDestroy(lb_);
        if (ly_) cublasLtMatrixLayoutDestroy(ly_);
        if (op_) cublasLtMatmulDescDestroy(op_);
    }
    void setup(Compiled &c, int64_t m, int64_t n, int64_t k, int64_t batch, bool ta, bool tb, int64_t sa,
               int64_t sb, int64_t sy, cublasLtEpilogue_t epi, const void *bias, size_t ws_limit) {
        cudaDataType_t t = cuda_type(c.dt);
        cublasComputeType_t ct =
            c.opt.precision == Precision::TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        ck(cublasLtMatmulDescCreate(&op_, ct, CUDA_R_32F), "cublasLtMatmulDescCreate");
        cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
        ck(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa), "TRANSA");
        ck(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb), "TRANSB");
        ck(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi), "EPILOGUE");
        if (bias)
            ck(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
               "BIAS_POINTER");
        // Lt A = our B: [k, n] row-major (col-major n x k), or [n, k] when transposed.
        ck(cublasLtMatrixLayoutCreate(&la_, t, tb ? k : n, tb ? n : k, tb ? k : n), "layout A");
        // Lt B = our A: [m, k] row-major (col-major k x m), or [k, m] when transposed.
        ck(cublasLtMatrixLayoutCreate(&lb_, t, ta ? m : k, ta ? k : m, ta ? m : k), "layout B");
        ck(cublasLtMatrixLayoutCreate(&ly_, t, n, m, n), "layout D");
        if (batch > 1) {
            int32_t b32 = static_cast<int32_t>(batch);
            struct { cublasLtMatrixLayout_t l; int64_t stride; } ls[] = {{la_, sb}, {lb_, sa}, {ly_, sy}};
            for (auto &l : ls) {
                ck(cublasLtMatrixLayoutSetAttribute(l.l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &b32, sizeof b32),
                   "BATCH_COUNT");
                ck(cublasLtMatrixLayoutSetAttribute(l.l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &l.stride,
                                                    sizeof l.stride),
                   "STRIDED_BATCH_OFFSET");
            }
        }
        ck(cublasLtMatmulPreferenceCreate(&pref_), "cublasLtMatmulPreferenceCreate");
        uint64_t ws = ws_limit;
        ck(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
           "MAX_WORKSPACE_BYTES");
        // Base pointers are 256-byte aligned (arena and weights); later batches start at
        // stride * element size, which may be less aligned: tell cuBLASLt.
        size_t es = c.esize();
        struct { cublasLtMatmulPreferenceAttributes_t attr; int64_t stride; } al[] = {
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, sb}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, sa},
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, sy}, {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, sy}};
        for (auto &a : al) {
            uint32_t align = 256;
            if (batch > 1 && a.stride)
                while (align > es && (static_cast<uint64_t>(a.stride) * es) % align) align /= 2;
            ck(cublasLtMatmulPreferenceSetAttribute(pref_, a.attr, &align, sizeof align), "MIN_ALIGNMENT");
        }
        cublasLtMatmulHeuristicResult_t r{};
        int found = 0;
        ck(cublasLtMatmulAlgoGetHeuristic(c.lt, op_, la_, lb_, ly_, ly_, pref_, 1, &r, &found),
           "cublasLtMatmulAlgoGetHeuristic");
        if (found < 1)
            throw BackendError("cuBLASLt has no algorithm for a " + std::to_string(m) + "x" + std::to_string(k) +
                               " by " + std::to_string(k) + "x" + std::to_string(n) + " product");
        algo_ = r.algo;
        workspace_ = r.workspaceSize;
    }
    void run(Compiled &c, const void *a, const void *b, void *y, float alpha, float beta) const {
        ck(cublasLtMatmul(c.lt, op_, &alpha, b, la_, a, lb_, &beta, y, ly_, y, ly_, &algo_, c.workspace,
                          c.workspace_bytes, c.stream),
           "cublasLtMatmul");
    }
    size_t workspace() const { return workspace_; }

private:
    cublasLtMatmulDesc_t op_ = nullptr;
    cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, ly_ = nullptr;
    cublasLtMatmulPreference_t pref_ = nullptr;
    cublasLtMatmulAlgo_t algo_{};
    size_t workspace_ = 0;
};

constexpr size_t kLtWorkspace = 32u << 20;  // cuBLASLt's recommendation for Hopper

// What a convolution or a matmul does after its product: y = act(y + bias + res).
struct Epilogue {
    size_t bias_off = kNoOffset;  // storage type, one per output channel / column
    int res = -1;                 // a value of the output's shape
    Act act;
    bool any() const { return bias_off != kNoOffset || res >= 0 || act.kind != ActKind::None; }
};

// ---- steps ----

struct ConvDnnStep : Step {
    ConvSpec s;
    int x = -1, y = -1;
    size_t w_off = 0;
    Epilogue epi;
    cudnnTensorDescriptor_t xd = nullptr, yd = nullptr, bd = nullptr;
    cudnnFilterDescriptor_t wd = nullptr;
    cudnnConvolutionDescriptor_t cd = nullptr;
    cudnnActivationDescriptor_t ad = nullptr;
    cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
    size_t ws = 0;
    bool fused = false;

    ~ConvDnnStep() override {
        if (xd) cudnnDestroyTensorDescriptor(xd);
        if (yd) cudnnDestroyTensorDescriptor(yd);
        if (bd) cudnnDestroyTensorDescriptor(bd);
        if (wd) cudnnDestroyFilterDescriptor(wd);
        if (cd) cudnnDestroyConvolutionDescriptor(cd);
        if (ad) cudnnDestroyActivationDescriptor(ad);
    }
    void prepare(Compiled &c) override {
        cudnnDataType_t t = dnn_type(c.dt);
        auto i32 = [](int64_t v) {
            if (v > INT32_MAX) throw BackendError("convolution dimension above 2^31");
            return static_cast<int>(v);
        };
        ck(cudnnCreateTensorDescriptor(&xd), "cudnnCreateTensorDescriptor");
        ck(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, t, i32(s.n), i32(s.c), i32(s.h), i32(s.w)), "x descriptor");
        ck(cudnnCreateTensorDescriptor(&yd), "cudnnCreateTensorDescriptor");
        ck(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, t, i32(s.n), i32(s.k), i32(s.oh), i32(s.ow)), "y descriptor");
        ck(cudnnCreateFilterDescriptor(&wd), "cudnnCreateFilterDescriptor");
        ck(cudnnSetFilter4dDescriptor(wd, t, CUDNN_TENSOR_NCHW, i32(s.k), i32(s.c / s.groups), s.kh, s.kw), "w descriptor");
        ck(cudnnCreateConvolutionDescriptor(&cd), "cudnnCreateConvolutionDescriptor");
        ck(cudnnSetConvolution2dDescriptor(cd, s.pt, s.pl, s.sh, s.sw, s.dh, s.dw, CUDNN_CROSS_CORRELATION,
                                           CUDNN_DATA_FLOAT),
           "convolution descriptor");
        ck(cudnnSetConvolutionGroupCount(cd, i32(s.groups)), "cudnnSetConvolutionGroupCount");
        cudnnMathType_t math = c.opt.precision == Precision::F32    ? CUDNN_FMA_MATH
                               : c.opt.precision == Precision::TF32 ? CUDNN_DEFAULT_MATH
                                                                    : CUDNN_TENSOR_OP_MATH;
        ck(cudnnSetConvolutionMathType(cd, math), "cudnnSetConvolutionMathType");
        int on, oc, oh, ow;
        ck(cudnnGetConvolution2dForwardOutputDim(cd, xd, wd, &on, &oc, &oh, &ow), "output size");
        if (on != s.n || oc != s.k || oh != s.oh || ow != s.ow)
            throw BackendError("cuDNN computes a different output size for a convolution");
        // Measure the algorithms on the real buffers (x and y in the arena, w uploaded), or
        // take cuDNN's heuristic order (EMBER_CUDA_CONV_SEARCH=heuristic: faster compile).
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int found = 0;
        if (c.opt.conv_search)
            ck(cudnnFindConvolutionForwardAlgorithmEx(c.dnn, xd, c.ptr(x), wd, c.wptr(w_off), cd, yd, c.ptr(y),
                                                      CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf, c.workspace,
                                                      c.workspace_bytes),
               "cudnnFindConvolutionForwardAlgorithmEx");
        else
            ck(cudnnGetConvolutionForwardAlgorithm_v7(c.dnn, xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found,
                                                      perf),
               "cudnnGetConvolutionForwardAlgorithm_v7");
        int pick = -1;
        for (int i = 0; i < found && pick < 0; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > c.workspace_bytes) continue;
            // Exact float32: no tensor-core math, and none of the transforms (FFT, Winograd)
            // whose rounding differs from a direct sum by more than the CPU kernels' bounds.
            if (c.opt.precision == Precision::F32 &&
                (perf[i].mathType == CUDNN_TENSOR_OP_MATH || perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT ||
                 perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
                 perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD ||
                 perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED))
                continue;
            pick = i;
        }
        if (pick < 0) throw BackendError("cuDNN has no algorithm for a convolution within the workspace limit");
        algo = perf[pick].algo;
        ws = perf[pick].memory;
        ck(cudnnSetConvolutionMathType(cd, perf[pick].mathType), "cudnnSetConvolutionMathType");
        // Bias + ReLU (+ residual) in the convolution itself, if cuDNN takes it here.
        if (c.opt.fused_conv && epi.bias_off != kNoOffset && epi.act.kind == ActKind::Relu) {
            ck(cudnnCreateTensorDescriptor(&bd), "cudnnCreateTensorDescriptor");
            ck(cudnnSetTensor4dDescriptor(bd, CUDNN_TENSOR_NCHW, t, 1, i32(s.k), 1, 1), "bias descriptor");
            ck(cudnnCreateActivationDescriptor(&ad), "cudnnCreateActivationDescriptor");
            ck(cudnnSetActivationDescriptor(ad, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0), "activation");
            fused = true;
            if (run_fused(c) != CUDNN_STATUS_SUCCESS) fused = false;
            ck(cudaStreamSynchronize(c.stream), "trial of the fused convolution");
        }
    }
    cudnnStatus_t run_fused(Compiled &c) {
        float one = 1.0f, alpha2 = epi.res >= 0 ? 1.0f : 0.0f;
        // Without a residual, z is y itself scaled by 0 (as TensorFlow's fused op does).
        const void *z = epi.res >= 0 ? c.ptr(epi.res) : c.ptr(y);
        return cudnnConvolutionBiasActivationForward(c.dnn, &one, xd, c.ptr(x), wd, c.wptr(w_off), cd, algo,
                                                     c.workspace, c.workspace_bytes, &alpha2, yd, z, bd,
                                                     c.wptr(epi.bias_off), ad, yd, c.ptr(y));
    }
    void run(Compiled &c) override {
        if (fused) {
            ck(run_fused(c), "cudnnConvolutionBiasActivationForward");
            return;
        }
        float one = 1.0f, zero = 0.0f;
        ck(cudnnConvolutionForward(c.dnn, &one, xd, c.ptr(x), wd, c.wptr(w_off), cd, algo, c.workspace,
                                   c.workspace_bytes, &zero, yd, c.ptr(y)),
           "cudnnConvolutionForward");
        if (epi.any())
            ck_launch(launch_epilogue(c.dt, c.ptr(y), c.wptr(epi.bias_off), epi.res >= 0 ? c.ptr(epi.res) : nullptr,
                                      s.n, s.k, s.oh * s.ow, epi.act, c.stream),
                      "convolution epilogue");
    }
    size_t workspace() const override { return ws; }
};

// 1x1, stride 1, no pad, one group: Y[n] (K x HW) = W (K x C) x X[n] (C x HW).
struct ConvPointwiseStep : Step {
    ConvSpec s;
    int x = -1, y = -1;
    size_t w_off = 0;
    Epilogue epi;
    LtGemm gemm;
    void prepare(Compiled &c) override {
        int64_t hw = s.h * s.w;
        gemm.setup(c, s.k, hw, s.c, s.n, false, false, 0, s.c * hw, s.k * hw, CUBLASLT_EPILOGUE_DEFAULT, nullptr,
                   kLtWorkspace);
    }
    void run(Compiled &c) override {
        gemm.run(c, c.wptr(w_off), c.ptr(x), c.ptr(y), 1.0f, 0.0f);
        if (epi.any())
            ck_launch(launch_epilogue(c.dt, c.ptr(y), c.wptr(epi.bias_off), epi.res >= 0 ? c.ptr(epi.res) : nullptr,
                                      s.n, s.k, s.oh * s.ow, epi.act, c.stream),
                      "convolution epilogue");
    }
    size_t workspace() const override { return gemm.workspace(); }
};

struct ConvDepthwiseStep : Step {
    DepthwiseParams p{};
    int x = -1, y = -1;
    size_t w_off = 0;
    Epilogue epi;
    void run(Compiled &c) override {
        ck_launch(launch_depthwise(c.dt, c.ptr(x), c.wptr(w_off), c.wptr(epi.bias_off),
                                   epi.res >= 0 ? c.ptr(epi.res) : nullptr, c.ptr(y), p, epi.act, c.stream),
                  "depthwise convolution");
    }
};

struct MatMulStep : Step {
    MatMulSpec s;
    int a = -1, b = -1, cval = -1, y = -1;
    size_t bias_off = kNoOffset;      // Lt bias epilogue (constant C or a fused Add)
    ActKind lt_act = ActKind::None;   // Relu or GeluTanh in the Lt epilogue
    StridedShape c_expand;            // C broadcast into Y before the product (beta * C)
    LtGemm gemm;
    void prepare(Compiled &c) override {
        cublasLtEpilogue_t e = CUBLASLT_EPILOGUE_DEFAULT;
        bool bias = bias_off != kNoOffset;
        if (lt_act == ActKind::Relu) e = bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
        else if (lt_act == ActKind::GeluTanh) e = bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
        else if (bias) e = CUBLASLT_EPILOGUE_BIAS;
        gemm.setup(c, s.m, s.n, s.k, s.batch, s.trans_a, s.trans_b, s.stride_a, s.stride_b, s.m * s.n, e,
                   c.wptr(bias_off), kLtWorkspace);
    }
    void run(Compiled &c) override {
        float beta = 0.0f;
        if (cval >= 0) {
            ck_launch(launch_strided_copy(c.dt, c.ptr(cval), c.ptr(y), c_expand, c.stream), "Gemm C");
            beta = s.beta;
        }
        gemm.run(c, c.ptr(a), c.ptr(b), c.ptr(y), s.alpha, beta);
    }
    size_t workspace() const override { return gemm.workspace(); }
};

struct ActStep : Step {
    Act act;
    int x = -1, y = -1;
    int64_t n = 0;
    void run(Compiled &c) override {
        ck_launch(launch_act(c.dt, c.ptr(x), c.ptr(y), n, act, c.stream), "activation");
    }
};

struct BinaryStep : Step {
    BinarySpec s;
    Act act;
    int a = -1, b = -1, y = -1;
    void run(Compiled &c) override {
        ck_launch(launch_binary(c.dt, s.op, c.ptr(a), c.ptr(b), c.ptr(y), s.shape, act, c.stream), "binary");
    }
};

struct AffineStep : Step {  // BatchNormalization not folded into a convolution
    BatchNormSpec s;
    int x = -1, y = -1;
    size_t scale_off = 0, shift_off = 0;  // float32
    Act act;
    void run(Compiled &c) override {
        ck_launch(launch_affine_channel(c.dt, c.ptr(x), c.ptr(y), static_cast<const float *>(c.wptr(scale_off)),
                                        static_cast<const float *>(c.wptr(shift_off)), s.outer, s.channels, s.inner,
                                        act, c.stream),
                  "batch normalization");
    }
};

struct PoolStep : Step {
    PoolParams p{};
    int x = -1, y = -1;
    void run(Compiled &c) override { ck_launch(launch_pool(c.dt, c.ptr(x), c.ptr(y), p, c.stream), "pooling"); }
};

struct ReduceStep : Step {
    ReduceSpec s;
    int x = -1, y = -1;
    void run(Compiled &c) override {
        ck_launch(launch_reduce_rows(c.dt, c.ptr(x), c.ptr(y), s.rows, s.cols, s.op, c.stream), "reduction");
    }
};

struct SoftmaxStep : Step {
    SoftmaxSpec s;
    int x = -1, y = -1;
    void run(Compiled &c) override {
        ck_launch(launch_softmax(c.dt, c.ptr(x), c.ptr(y), s.outer, s.axis, s.inner, s.log, c.stream), "softmax");
    }
};

struct ConcatStep : Step {
    ConcatSpec s;
    std::vector<int> xs;
    int y = -1;
    void run(Compiled &c) override {
        size_t es = c.esize(), col = 0;
        unsigned char *dst = static_cast<unsigned char *>(c.ptr(y));
        for (size_t i = 0; i < xs.size(); i++) {
            size_t w = static_cast<size_t>(s.in_rows[i]) * es;
            ck(cudaMemcpy2DAsync(dst + col, static_cast<size_t>(s.out_row) * es, c.ptr(xs[i]), w, w,
                                 static_cast<size_t>(s.outer), cudaMemcpyDeviceToDevice, c.stream),
               "concat copy");
            col += w;
        }
    }
};

struct TransposeStep : Step {
    StridedShape s;
    int x = -1, y = -1;
    void run(Compiled &c) override {
        ck_launch(launch_strided_copy(c.dt, c.ptr(x), c.ptr(y), s, c.stream), "transpose");
    }
};

// ---- building ----

class Builder {
public:
    Builder(Compiled &c, const ember_plugin_subgraph &sg) : c_(c), sg_(sg) {}

    void build() {
        index_values();
        consumed_.assign(sg_.n_nodes, 0);
        for (size_t i = 0; i < sg_.n_nodes; i++)
            if (!consumed_[i]) build_node(static_cast<int>(i));
        plan_lifetimes();
        upload_weights();
        allocate();
        prepare_steps();
    }

private:
    Compiled &c_;
    const ember_plugin_subgraph &sg_;
    std::unordered_map<std::string, int> ids_;
    std::vector<char> consumed_;
    Blob blob_;

    int id_of(const ember_plugin_value &v) {
        auto it = ids_.find(v.name);
        if (it != ids_.end()) return it->second;
        Val val;
        val.name = v.name;
        val.dims.assign(v.dims, v.dims + v.rank);
        val.n = numel(val.dims);
        val.desc = &v;
        val.cdata = v.constant_data;
        val.dtype = v.dtype;
        c_.vals.push_back(std::move(val));
        int id = static_cast<int>(c_.vals.size() - 1);
        ids_.emplace(v.name, id);
        return id;
    }

    void index_values() {
        for (size_t i = 0; i < sg_.n_inputs; i++) id_of(sg_.inputs[i]);
        for (size_t i = 0; i < sg_.n_nodes; i++) {
            const ember_plugin_node &n = sg_.nodes[i];
            NodeView v(&n);
            for (size_t k = 0; k < n.n_inputs; k++)
                if (v.has_input(k)) c_.vals[id_of(n.inputs[k])].readers.push_back(static_cast<int>(i));
            for (size_t k = 0; k < n.n_outputs; k++)
                if (v.has_output(k)) c_.vals[id_of(n.outputs[k])].producer = static_cast<int>(i);
        }
        for (size_t o = 0; o < sg_.n_outputs; o++) c_.vals[id_of(sg_.outputs[o])].sg_output = static_cast<int>(o);
    }

    int in_id(int node, size_t k) { return ids_.at(sg_.nodes[node].inputs[k].name); }
    int out_id(int node, size_t k) { return ids_.at(sg_.nodes[node].outputs[k].name); }

    // The node that alone reads value `id` (and nothing outside), for fusion; -1 if none.
    int sole_reader(int id) const {
        const Val &v = c_.vals[id];
        if (v.sg_output >= 0 || v.readers.size() != 1) return -1;
        int r = v.readers[0];
        return consumed_[r] ? -1 : r;
    }

    // A constant read as a tensor: uploaded once in the storage type.
    int data_in(int node, size_t k) {
        int id = in_id(node, k);
        Val &v = c_.vals[id];
        if (v.cdata && v.const_off == kNoOffset) v.const_off = blob_.add_floats(const_floats(*v.desc), c_.dt);
        return id;
    }

    void add_step(std::unique_ptr<Step> s) {
        for (int r : s->reads) mark_needed(r);
        c_.steps.push_back(std::move(s));
    }
    void mark_needed(int id) {
        c_.vals[id].needed = true;
        while (c_.vals[id].alias >= 0) {
            id = c_.vals[id].alias;
            c_.vals[id].needed = true;
        }
    }

    // A constant per-channel vector (dims [C], [C,1,1], [1,C,1,1] for a [N,C,H,W] output).
    static bool per_channel(const ember_plugin_value &v, int64_t channels, int rank) {
        if (!v.constant_data || !is_float_tensor(v, true)) return false;
        Dims d(v.dims, v.dims + v.rank);
        if (numel(d) != channels) return false;
        // Right-aligned against [N, C, spatial...]: C must sit at axis 1.
        int r = static_cast<int>(d.size());
        if (r > rank) return false;
        for (int i = 0; i < r; i++) {
            int axis = rank - r + i;
            if (axis != 1 && d[i] != 1) return false;
            if (axis == 1 && d[i] != channels) return false;
        }
        return r >= rank - 1 || channels == 1;
    }

    // Conv (+ BatchNormalization) (+ Add per-channel constant) (+ Add residual) (+ activation).
    void build_conv(int i) {
        ConvSpec s;
        NodeView n(&sg_.nodes[i]);
        parse_conv(n, &s);
        std::vector<float> w = const_floats(n.in(1));
        std::vector<float> bias(static_cast<size_t>(s.k), 0.0f);
        bool has_bias = s.has_bias;
        if (has_bias) bias = const_floats(n.in(2));
        int x = in_id(i, 0), cur = out_id(i, 0), res = -1;
        Act act;
        int64_t per_k = static_cast<int64_t>(w.size()) / s.k;
        for (;;) {
            int j = sole_reader(cur);
            if (j < 0) break;
            NodeView r(&sg_.nodes[j]);
            if (!node_supported(r)) break;
            if (r.is("BatchNormalization") && res < 0 && act.kind == ActKind::None) {
                BatchNormSpec bs;
                parse_batchnorm(r, &bs);
                std::vector<float> sc = const_floats(r.in(1)), sh = const_floats(r.in(2)), mean = const_floats(r.in(3)),
                                   var = const_floats(r.in(4));
                for (int64_t k = 0; k < s.k; k++) {
                    float f = sc[k] / std::sqrt(var[k] + bs.epsilon);
                    for (int64_t e = 0; e < per_k; e++) w[k * per_k + e] *= f;
                    bias[k] = (bias[k] - mean[k]) * f + sh[k];
                }
                has_bias = true;
            } else if ((r.is("Add") || r.is("Sub")) && res < 0 && act.kind == ActKind::None) {
                int other = r.in(0).name == std::string(c_.vals[cur].name) ? 1 : 0;
                const ember_plugin_value &o = r.in(other);
                if (r.out_dims(0) != c_.vals[cur].dims) break;
                if (per_channel(o, s.k, 4)) {
                    if (r.is("Sub") && other == 0) break;  // c - conv: no
                    std::vector<float> add = const_floats(o);
                    for (int64_t k = 0; k < s.k; k++) bias[k] += r.is("Sub") ? -add[k] : add[k];
                    has_bias = true;
                } else if (r.is("Add") && !o.constant_data && Dims(o.dims, o.dims + o.rank) == c_.vals[cur].dims) {
                    int oid = ids_.at(o.name);
                    int p = c_.vals[oid].producer;
                    if (p >= i) break;  // must exist before the convolution runs
                    res = oid;
                } else {
                    break;
                }
            } else if (Act a; act.kind == ActKind::None && parse_act(r, &a)) {
                act = a;
            } else {
                break;
            }
            consumed_[j] = 1;
            cur = out_id(j, 0);
        }
        Epilogue epi;
        epi.res = res;
        epi.act = act;
        if (has_bias) epi.bias_off = blob_.add_floats(bias, c_.dt);
        size_t w_off = blob_.add_floats(w, c_.dt);
        std::unique_ptr<Step> step;
        if (s.depthwise()) {
            auto d = std::make_unique<ConvDepthwiseStep>();
            d->p = DepthwiseParams{s.n, s.c, s.h, s.w, s.k / s.c, s.oh, s.ow, s.kh, s.kw, s.sh, s.sw,
                                   s.dh, s.dw, s.pt, s.pl};
            d->x = x; d->y = cur; d->w_off = w_off; d->epi = epi;
            step = std::move(d);
        } else if (s.pointwise()) {
            auto d = std::make_unique<ConvPointwiseStep>();
            d->s = s; d->x = x; d->y = cur; d->w_off = w_off; d->epi = epi;
            step = std::move(d);
        } else {
            if (c_.opt.fused_conv && act.kind == ActKind::Relu && epi.bias_off == kNoOffset)
                epi.bias_off = blob_.add_floats(std::vector<float>(static_cast<size_t>(s.k), 0.0f), c_.dt);
            auto d = std::make_unique<ConvDnnStep>();
            d->s = s; d->x = x; d->y = cur; d->w_off = w_off; d->epi = epi;
            step = std::move(d);
        }
        step->reads = {x};
        if (res >= 0) step->reads.push_back(res);
        step->writes = {cur};
        add_step(std::move(step));
    }

    // Gemm / MatMul (+ Add of a constant row vector) (+ Relu / tanh-Gelu), through cuBLASLt.
    void build_matmul(int i) {
        NodeView n(&sg_.nodes[i]);
        auto st = std::make_unique<MatMulStep>();
        parse_matmul(n, &st->s);
        st->a = data_in(i, 0);
        st->b = data_in(i, 1);
        int cur = out_id(i, 0);
        std::vector<float> bias;
        if (st->s.has_c) {
            const ember_plugin_value &cv = n.in(2);
            if (cv.constant_data && st->s.c_dims[0] == 1) {
                std::vector<float> cf = const_floats(cv);
                bias.assign(static_cast<size_t>(st->s.n), 0.0f);
                for (int64_t k = 0; k < st->s.n; k++) bias[k] = st->s.beta * cf[st->s.c_dims[1] == 1 ? 0 : k];
            } else {
                st->cval = data_in(i, 2);
                StridedShape &e = st->c_expand;
                e.rank = 2;
                e.dims[0] = st->s.m;
                e.dims[1] = st->s.n;
                e.in_strides[0] = st->s.c_dims[0] == 1 ? 0 : st->s.c_dims[1];
                e.in_strides[1] = st->s.c_dims[1] == 1 ? 0 : 1;
            }
        }
        for (;;) {
            int j = sole_reader(cur);
            if (j < 0) break;
            NodeView r(&sg_.nodes[j]);
            if (!node_supported(r)) break;
            Act act;
            if (r.is("Add") && st->cval < 0 && st->lt_act == ActKind::None && r.out_dims(0) == c_.vals[cur].dims) {
                int other = r.in(0).name == std::string(c_.vals[cur].name) ? 1 : 0;
                const ember_plugin_value &o = r.in(other);
                Dims od(o.dims, o.dims + o.rank);
                if (!o.constant_data || !is_float_tensor(o, true) || numel(od) != st->s.n ||
                    (!od.empty() && od.back() != st->s.n))
                    break;
                std::vector<float> add = const_floats(o);
                if (bias.empty()) bias.assign(static_cast<size_t>(st->s.n), 0.0f);
                for (int64_t k = 0; k < st->s.n; k++) bias[k] += add[k];
            } else if (st->lt_act == ActKind::None && parse_act(r, &act) &&
                       (act.kind == ActKind::Relu || act.kind == ActKind::GeluTanh)) {
                st->lt_act = act.kind;
            } else {
                break;
            }
            consumed_[j] = 1;
            cur = out_id(j, 0);
        }
        if (!bias.empty()) st->bias_off = blob_.add_floats(bias, c_.dt);
        st->y = cur;
        st->reads = {st->a, st->b};
        if (st->cval >= 0) st->reads.push_back(st->cval);
        st->writes = {cur};
        add_step(std::move(st));
    }

    void build_node(int i) {
        NodeView n(&sg_.nodes[i]);
        if (n.is("Conv")) return build_conv(i);
        if (n.is("Gemm") || n.is("MatMul")) return build_matmul(i);
        if (parse_view(n)) {
            int x = in_id(i, 0), y = out_id(i, 0);
            c_.vals[y].alias = x;
            return;
        }
        std::unique_ptr<Step> step;
        int y = out_id(i, 0);
        if (n.is("MaxPool") || n.is("AveragePool")) {
            auto s = std::make_unique<PoolStep>();
            PoolSpec ps;
            parse_pool(n, &ps);
            s->p = ps.p;
            s->x = in_id(i, 0); s->y = y;
            s->reads = {s->x};
            step = std::move(s);
        } else if (n.is("GlobalAveragePool") || n.is("GlobalMaxPool") || n.is("ReduceMean") || n.is("ReduceSum") ||
                   n.is("ReduceMax")) {
            auto s = std::make_unique<ReduceStep>();
            parse_reduce(n, &s->s);
            s->x = in_id(i, 0); s->y = y;
            s->reads = {s->x};
            step = std::move(s);
        } else if (n.is("BatchNormalization")) {
            auto s = std::make_unique<AffineStep>();
            parse_batchnorm(n, &s->s);
            std::vector<float> sc = const_floats(n.in(1)), sh = const_floats(n.in(2)), mean = const_floats(n.in(3)),
                               var = const_floats(n.in(4));
            std::vector<float> scale(sc.size()), shift(sc.size());
            for (size_t k = 0; k < sc.size(); k++) {
                scale[k] = sc[k] / std::sqrt(var[k] + s->s.epsilon);
                shift[k] = sh[k] - mean[k] * scale[k];
            }
            s->scale_off = blob_.add(scale.data(), scale.size() * 4);
            s->shift_off = blob_.add(shift.data(), shift.size() * 4);
            s->x = in_id(i, 0); s->y = y;
            s->reads = {s->x};
            step = std::move(s);
        } else if (n.is("Softmax") || n.is("LogSoftmax")) {
            auto s = std::make_unique<SoftmaxStep>();
            parse_softmax(n, &s->s);
            s->x = in_id(i, 0); s->y = y;
            s->reads = {s->x};
            step = std::move(s);
        } else if (n.is("Concat")) {
            auto s = std::make_unique<ConcatStep>();
            parse_concat(n, &s->s);
            for (size_t k = 0; k < n.n_inputs(); k++) s->xs.push_back(data_in(i, k));
            s->y = y;
            s->reads = s->xs;
            step = std::move(s);
        } else if (n.is("Add") || n.is("Sub") || n.is("Mul") || n.is("Div")) {
            auto s = std::make_unique<BinaryStep>();
            parse_binary(n, &s->s);
            s->a = data_in(i, 0); s->b = data_in(i, 1); s->y = y;
            // A following activation, alone reading the result, runs in the same kernel.
            int j = sole_reader(y);
            Act a;
            if (j >= 0 && parse_act(NodeView(&sg_.nodes[j]), &a)) {
                s->act = a;
                consumed_[j] = 1;
                y = s->y = out_id(j, 0);
            }
            s->reads = {s->a, s->b};
            step = std::move(s);
        } else if (n.is("Transpose")) {
            auto s = std::make_unique<TransposeStep>();
            parse_transpose(n, &s->s);
            s->x = in_id(i, 0); s->y = y;
            s->reads = {s->x};
            step = std::move(s);
        } else {
            auto s = std::make_unique<ActStep>();
            if (!parse_act(n, &s->act))
                throw BackendError(std::string("compile: node '") + n.node().name + "' (" + n.node().op_type +
                                   ") is not one the plugin claimed");
            s->x = in_id(i, 0); s->y = y;
            s->n = c_.vals[y].n;
            s->reads = {s->x};
            step = std::move(s);
        }
        step->writes = {y};
        add_step(std::move(step));
    }

    void plan_lifetimes() {
        int nsteps = static_cast<int>(c_.steps.size());
        for (int k = 0; k < nsteps; k++) {
            for (int r : c_.steps[k]->reads) {
                Val &v = c_.vals[c_.root(r)];
                v.last = std::max(v.last, k);
            }
            for (int w : c_.steps[k]->writes) {
                Val &v = c_.vals[c_.root(w)];
                v.first = std::min(v.first, k);
                v.last = std::max(v.last, k);
            }
        }
        // Inputs arrive before the first step; outputs leave after the last.
        for (size_t o = 0; o < sg_.n_outputs; o++)
            if (c_.vals[ids_.at(sg_.outputs[o].name)].dtype == EMBER_DTYPE_FLOAT32)
                mark_needed(ids_.at(sg_.outputs[o].name));
        c_.in_ids.assign(sg_.n_inputs, -1);
        for (size_t i = 0; i < sg_.n_inputs; i++) {
            int id = ids_.at(sg_.inputs[i].name);
            Val &v = c_.vals[id];
            if (v.cdata || !v.needed || v.dtype != EMBER_DTYPE_FLOAT32) continue;
            v.first = -1;
            v.last = std::max(v.last, 0);
            c_.in_ids[i] = id;
        }
        c_.out_ids.assign(sg_.n_outputs, -1);
        c_.out_fill.assign(sg_.n_outputs, 0);
        for (size_t o = 0; o < sg_.n_outputs; o++) {
            int id = ids_.at(sg_.outputs[o].name);
            const Val &v = c_.vals[id];
            if (v.dtype == EMBER_DTYPE_BOOL && v.producer >= 0 && NodeView(&sg_.nodes[v.producer]).is("Dropout")) {
                c_.out_fill[o] = 1;  // a Dropout mask read outside: all true, written on the host
                continue;
            }
            if (c_.vals[id].dtype != EMBER_DTYPE_FLOAT32)
                throw BackendError(std::string("compile: output '") + c_.vals[id].name + "' is not float32");
            Val &root = c_.vals[c_.root(id)];
            if (root.cdata) throw BackendError("compile: an output is a view of a constant");
            root.last = nsteps;
            if (root.first == INT_MAX) root.first = -1;  // a view of an input
            c_.out_ids[o] = id;
        }
    }

    void upload_weights() {
        if (blob_.bytes.empty()) return;
        void *w = nullptr;
        ck(cudaMalloc(&w, blob_.bytes.size()), "allocating the weights");
        c_.weights = static_cast<unsigned char *>(w);
        ck(cudaMemcpy(w, blob_.bytes.data(), blob_.bytes.size(), cudaMemcpyHostToDevice), "uploading the weights");
        for (Val &v : c_.vals)
            if (v.const_off != kNoOffset) v.dev = c_.weights + v.const_off;
        blob_.bytes = std::vector<unsigned char>();
    }

    // Every value with a lifetime gets an offset: largest first, at the lowest offset
    // that no value alive at the same time occupies.
    void allocate() {
        struct Block { int id; size_t size, off; int first, last; };
        std::vector<Block> blocks;
        size_t es = c_.esize();
        for (size_t id = 0; id < c_.vals.size(); id++) {
            const Val &v = c_.vals[id];
            if (v.alias >= 0 || v.cdata || v.first == INT_MAX || v.last < 0) continue;
            size_t size = (static_cast<size_t>(v.n) * es + 255) & ~size_t(255);
            blocks.push_back({static_cast<int>(id), size, 0, v.first, v.last});
        }
        std::sort(blocks.begin(), blocks.end(), [](const Block &a, const Block &b) {
            return a.size != b.size ? a.size > b.size : a.id < b.id;
        });
        std::vector<const Block *> placed;
        size_t total = 0;
        for (Block &b : blocks) {
            std::vector<std::pair<size_t, size_t>> busy;
            for (const Block *p : placed)
                if (p->first <= b.last && b.first <= p->last) busy.push_back({p->off, p->off + p->size});
            std::sort(busy.begin(), busy.end());
            size_t off = 0;
            for (auto &r : busy) {
                if (r.first >= off + b.size) break;
                off = std::max(off, r.second);
            }
            b.off = off;
            total = std::max(total, off + b.size);
            placed.push_back(&b);
        }
        c_.arena_bytes = total;
        if (total) {
            ck(cudaMalloc(&c_.arena, total), "allocating the activation arena");
            ck(cudaMemset(c_.arena, 0, total), "clearing the activation arena");
        }
        for (const Block &b : blocks) c_.vals[b.id].dev = static_cast<unsigned char *>(c_.arena) + b.off;
        for (size_t id = 0; id < c_.vals.size(); id++)
            if (c_.vals[id].alias >= 0) c_.vals[id].dev = c_.ptr(static_cast<int>(id));

        // Host staging (pinned) for every input and output, float32; in fp16 mode float32
        // copies on the device too, converted by a kernel.
        size_t pin = 0, edge = 0;
        auto bytes_of = [&](int id) { return static_cast<size_t>(c_.vals[id].n) * 4; };
        auto take = [](size_t *cursor, size_t n) { size_t o = *cursor; *cursor += (n + 255) & ~size_t(255); return o; };
        c_.in_pin.assign(c_.in_ids.size(), 0);
        c_.in_edge.assign(c_.in_ids.size(), 0);
        for (size_t i = 0; i < c_.in_ids.size(); i++) {
            if (c_.in_ids[i] < 0) continue;
            c_.in_pin[i] = take(&pin, bytes_of(c_.in_ids[i]));
            c_.in_edge[i] = take(&edge, bytes_of(c_.in_ids[i]));
        }
        c_.out_pin.assign(c_.out_ids.size(), 0);
        c_.out_edge.assign(c_.out_ids.size(), 0);
        for (size_t o = 0; o < c_.out_ids.size(); o++) {
            if (c_.out_ids[o] < 0) continue;
            c_.out_pin[o] = take(&pin, bytes_of(c_.out_ids[o]));
            c_.out_edge[o] = take(&edge, bytes_of(c_.out_ids[o]));
        }
        if (pin) {
            void *p = nullptr;
            ck(cudaHostAlloc(&p, pin, cudaHostAllocDefault), "allocating pinned host staging");
            c_.pinned = static_cast<unsigned char *>(p);
        }
        if (edge && c_.dt == DType::F16) {
            void *p = nullptr;
            ck(cudaMalloc(&p, edge), "allocating float32 edge buffers");
            c_.edge = static_cast<unsigned char *>(p);
        }
    }

    // cuDNN measures its algorithms in a workspace of the limit's size; afterwards the
    // workspace shrinks to what the chosen algorithms need.
    void prepare_steps() {
        bool any_dnn = false, any_lt = false;
        for (auto &s : c_.steps) {
            any_dnn |= dynamic_cast<ConvDnnStep *>(s.get()) != nullptr;
            any_lt |= dynamic_cast<MatMulStep *>(s.get()) || dynamic_cast<ConvPointwiseStep *>(s.get());
        }
        if (any_dnn) {  // cuDNN's handle costs tens of milliseconds: only where it is used
            ck(cudnnCreate(&c_.dnn), "cudnnCreate");
            ck(cudnnSetStream(c_.dnn, c_.stream), "cudnnSetStream");
        }
        size_t search = std::max(any_dnn ? c_.opt.workspace_limit : 0, any_lt ? kLtWorkspace : 0);
        if (search) {
            size_t free_b = 0, total_b = 0;
            ck(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
            search = std::min(search, std::max(free_b / 4, any_lt ? kLtWorkspace : size_t(0)));
            ck(cudaMalloc(&c_.workspace, search), "allocating the search workspace");
            c_.workspace_bytes = search;
        }
        size_t need = 0;
        for (auto &s : c_.steps) {
            s->prepare(c_);
            need = std::max(need, s->workspace());
        }
        if (need < c_.workspace_bytes) {
            ck(cudaFree(c_.workspace), "cudaFree");
            c_.workspace = nullptr;
            c_.workspace_bytes = 0;
            if (need) {
                ck(cudaMalloc(&c_.workspace, need), "allocating the workspace");
                c_.workspace_bytes = need;
            }
        }
        ck(cudaStreamSynchronize(c_.stream), "preparing the steps");
    }
};

// Uploads, steps, downloads: everything one run puts on the stream.
void enqueue(Compiled &c) {
    for (size_t i = 0; i < c.in_ids.size(); i++) {
        int id = c.in_ids[i];
        if (id < 0) continue;
        size_t n = static_cast<size_t>(c.vals[id].n);
        if (c.dt == DType::F32) {
            ck(cudaMemcpyAsync(c.vals[id].dev, c.pinned + c.in_pin[i], n * 4, cudaMemcpyHostToDevice, c.stream),
               "input upload");
        } else {
            float *e = reinterpret_cast<float *>(c.edge + c.in_edge[i]);
            ck(cudaMemcpyAsync(e, c.pinned + c.in_pin[i], n * 4, cudaMemcpyHostToDevice, c.stream), "input upload");
            ck(launch_cast_from_f32(c.dt, e, c.vals[id].dev, static_cast<int64_t>(n), c.stream), "input conversion");
        }
    }
    for (auto &s : c.steps) s->run(c);
    for (size_t o = 0; o < c.out_ids.size(); o++) {
        int id = c.out_ids[o];
        if (id < 0) continue;
        size_t n = static_cast<size_t>(c.vals[id].n);
        if (c.dt == DType::F32) {
            ck(cudaMemcpyAsync(c.pinned + c.out_pin[o], c.ptr(id), n * 4, cudaMemcpyDeviceToHost, c.stream),
               "output download");
        } else {
            float *e = reinterpret_cast<float *>(c.edge + c.out_edge[o]);
            ck(launch_cast_to_f32(c.dt, c.ptr(id), e, static_cast<int64_t>(n), c.stream), "output conversion");
            ck(cudaMemcpyAsync(c.pinned + c.out_pin[o], e, n * 4, cudaMemcpyDeviceToHost, c.stream), "output download");
        }
    }
}

// Captures the run into a CUDA Graph; on any failure the run goes eagerly from then on.
bool capture(Compiled &c) {
    ck(cudaStreamBeginCapture(c.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    std::string why;
    try {
        enqueue(c);
    } catch (const std::exception &e) {
        why = e.what();
    } catch (...) {
        why = "unknown exception";
    }
    cudaGraph_t g = nullptr;
    cudaError_t end = cudaStreamEndCapture(c.stream, &g);
    if (why.empty() && end != cudaSuccess) why = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(end);
    if (why.empty()) {
        cudaError_t inst = cudaGraphInstantiate(&c.graph_exec, g, 0);
        if (inst != cudaSuccess) {
            why = std::string("cudaGraphInstantiate: ") + cudaGetErrorString(inst);
            c.graph_exec = nullptr;
        }
    }
    if (!why.empty()) {
        if (g) cudaGraphDestroy(g);
        cudaGetLastError();
        c.graph_failed = true;
        c.log(EMBER_LOG_WARNING, "CUDA Graph capture failed (" + why + "); the subgraph runs without a graph");
        return false;
    }
    c.graph = g;
    return true;
}

}  // namespace

Compiled *compile_subgraph(const Context &ctx, const ember_plugin_subgraph &sg) {
    Options opt = read_options(sg.device);
    if (opt.device < 0 || opt.device >= static_cast<int>(ctx.devices.size()))
        throw BackendError("device " + std::to_string(opt.device) + " does not exist (" +
                           std::to_string(ctx.devices.size()) + " usable CUDA device(s))");
    const DeviceInfo &dev = ctx.devices[opt.device];
    std::unique_ptr<Compiled> c(new Compiled());
    c->host = ctx.host;
    c->device = dev.index;
    c->opt = opt;
    c->dt = opt.precision == Precision::F16 ? DType::F16 : DType::F32;
    DeviceGuard guard(dev.index);
    ck(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    ck(cublasLtCreate(&c->lt), "cublasLtCreate");
    Builder(*c, sg).build();
    for (Val &v : c->vals) v.desc = nullptr;
    return c.release();
}

void execute_compiled(Compiled &c, const ember_plugin_tensor *inputs, size_t n_inputs, ember_plugin_tensor *outputs,
                      size_t n_outputs) {
    if (c.broken) throw BackendError("this subgraph failed earlier (" + c.broken_why + "); recreate the session");
    if (n_inputs != c.in_ids.size() || n_outputs != c.out_ids.size())
        throw BackendError("execute: " + std::to_string(n_inputs) + " inputs and " + std::to_string(n_outputs) +
                           " outputs, compiled for " + std::to_string(c.in_ids.size()) + " and " +
                           std::to_string(c.out_ids.size()));
    for (size_t i = 0; i < n_inputs; i++) {
        int id = c.in_ids[i];
        if (id < 0) continue;
        if (inputs[i].dtype != EMBER_DTYPE_FLOAT32 || !inputs[i].data)
            throw BackendError("execute: input " + std::to_string(i) + " is not a float32 tensor");
        std::memcpy(c.pinned + c.in_pin[i], inputs[i].data, static_cast<size_t>(c.vals[id].n) * 4);
    }
    DeviceGuard guard(c.device);
    try {
        if (c.opt.graphs && !c.graph_exec && !c.graph_failed) capture(c);
        if (c.graph_exec) ck(cudaGraphLaunch(c.graph_exec, c.stream), "cudaGraphLaunch");
        else enqueue(c);
        ck(cudaStreamSynchronize(c.stream), "running the subgraph");
    } catch (const BackendError &e) {
        // A kernel fault poisons the context: refuse further runs with the first reason.
        c.broken = true;
        c.broken_why = e.what();
        cudaGetLastError();
        throw;
    }
    for (size_t o = 0; o < n_outputs; o++) {
        int id = c.out_ids[o];
        if (c.out_fill[o]) {
            int64_t n = 1;
            for (size_t d = 0; d < outputs[o].rank; d++) n *= outputs[o].dims[d];
            if (outputs[o].data && n > 0) std::memset(outputs[o].data, 1, static_cast<size_t>(n));
            continue;
        }
        if (outputs[o].dtype != EMBER_DTYPE_FLOAT32 || !outputs[o].data)
            throw BackendError("execute: output " + std::to_string(o) + " is not a float32 tensor");
        std::memcpy(outputs[o].data, c.pinned + c.out_pin[o], static_cast<size_t>(c.vals[id].n) * 4);
    }
}

void release_compiled(Compiled *c) noexcept { delete c; }

}  // namespace ember_cuda
