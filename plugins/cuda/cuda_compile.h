// cuda_compile.h — a subgraph compiled for one CUDA device, and running it.
//
// compile: the nodes become a list of steps (a cuBLASLt matmul, a cuDNN convolution, one
// of the plugin's kernels, or nothing for a view), with Conv + BatchNormalization +
// per-channel Add + residual Add + activation and Gemm/MatMul + bias + ReLU/GELU fused;
// weights are converted to the storage type (float32, or float16 in fp16 mode) and
// uploaded once; every intermediate value gets an offset in one device arena planned by
// lifetime; cuDNN algorithms and cuBLASLt heuristics are chosen; pinned host staging is
// allocated. Nothing is allocated after compile.
//
// execute: host inputs -> pinned staging; on the first run the whole sequence (uploads,
// steps, downloads) is captured into a CUDA Graph on the subgraph's own stream, then
// every run replays it; the stream is synchronised and the outputs copied out.
#ifndef EMBER_PLUGINS_CUDA_COMPILE_H
#define EMBER_PLUGINS_CUDA_COMPILE_H

#include <stdexcept>
#include <string>
#include <vector>

#include "ember_plugin.h"

namespace ember_cuda {

// A failure of the device or of a CUDA library, with a message for whoever must fix it.
struct BackendError : std::runtime_error {
    explicit BackendError(const std::string &what) : std::runtime_error(what) {}
};

// Makes `device` current on the calling thread and restores the thread's previous device
// on scope exit: an application's own CUDA work on that thread keeps its device.
class DeviceGuard {
public:
    explicit DeviceGuard(int device);
    ~DeviceGuard();
    DeviceGuard(const DeviceGuard &) = delete;
    DeviceGuard &operator=(const DeviceGuard &) = delete;

private:
    int previous_ = -1;
};

struct DeviceInfo {
    int index = 0;
    std::string name;        // "NVIDIA H200 (sm_90, 139.8 GiB)"
    int cc_major = 0, cc_minor = 0;
    bool usable = false;     // compute capability >= 7.0 and a kernel image for it
    std::string why_not;     // when not usable
};

struct Context {
    const ember_host_api *host = nullptr;
    std::vector<DeviceInfo> devices;  // the usable ones first, in CUDA's order
    std::string version;              // "CUDA 13.0, cuDNN 9.x, cuBLASLt 13.x"
};

struct Compiled;

// Throws BackendError (or std::bad_alloc) on failure; nothing is leaked.
Compiled *compile_subgraph(const Context &ctx, const ember_plugin_subgraph &sg);
void execute_compiled(Compiled &c, const ember_plugin_tensor *inputs, size_t n_inputs,
                      ember_plugin_tensor *outputs, size_t n_outputs);
void release_compiled(Compiled *c) noexcept;

}  // namespace ember_cuda

#endif  // EMBER_PLUGINS_CUDA_COMPILE_H
