// cuda_plugin.cc — the ABI boundary of the CUDA backend (api/ember_plugin.h), in
// cuda/libember-cuda-impl.so. libember-cuda.so (cuda_loader.c) has already checked the
// driver and that a device exists; it loads this library and forwards
// ember_plugin_init to ember_cuda_init.
//
// Every entry point catches everything (BackendError, std::bad_alloc, anything else) and
// turns it into a status with a message through host->set_error(); supports() turns any
// failure into "no". Nothing here prints or aborts.
#include <cstdio>
#include <new>
#include <string>

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "cuda_compile.h"
#include "cuda_kernels.h"
#include "cuda_ops.h"

#ifndef EMBER_CUDA_ARCHS_TEXT
#define EMBER_CUDA_ARCHS_TEXT "unknown"
#endif

namespace ember_cuda {
namespace {

constexpr const char *kPluginVersion = "0.1";
constexpr int kMinMajor = 7;  // Volta: tensor cores, independent thread scheduling

void set_error(const Context *ctx, const std::string &msg) {
    ctx->host->set_error(ctx->host->host_ctx, ("cuda: " + msg).c_str());
}

template <class F>
ember_status guarded(const Context *ctx, F &&f) noexcept {
    try {
        return f();
    } catch (const BackendError &e) {
        set_error(ctx, e.what());
        return EMBER_ERR_BACKEND;
    } catch (const std::bad_alloc &) {
        set_error(ctx, "out of host memory");
        return EMBER_ERR_OUT_OF_MEMORY;
    } catch (const std::exception &e) {
        set_error(ctx, e.what());
        return EMBER_ERR_BACKEND;
    } catch (...) {
        set_error(ctx, "unknown exception");
        return EMBER_ERR_INTERNAL;
    }
}

int32_t device_count(void *ctx) noexcept {
    return static_cast<int32_t>(static_cast<Context *>(ctx)->devices.size());
}

const char *device_name(void *ctx, int32_t index) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    if (index < 0 || index >= static_cast<int32_t>(c->devices.size())) return nullptr;
    return c->devices[index].name.c_str();
}

int32_t supports(void *ctx, const ember_plugin_node *node) noexcept {
    (void)ctx;
    try {
        if (!node || !node->op_type || !node->domain) return 0;
        return node_supported(NodeView(node)) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

ember_status compile(void *ctx, const ember_plugin_subgraph *sg, void **compiled) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    return guarded(c, [&]() {
        if (!sg || !compiled) {
            set_error(c, "compile: NULL argument");
            return EMBER_ERR_INVALID_ARGUMENT;
        }
        *compiled = compile_subgraph(*c, *sg);
        return EMBER_OK;
    });
}

ember_status execute(void *ctx, void *compiled, const ember_plugin_tensor *inputs, size_t n_inputs,
                     ember_plugin_tensor *outputs, size_t n_outputs) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    return guarded(c, [&]() {
        if (!compiled || (n_inputs && !inputs) || (n_outputs && !outputs)) {
            set_error(c, "execute: NULL argument");
            return EMBER_ERR_INVALID_ARGUMENT;
        }
        execute_compiled(*static_cast<Compiled *>(compiled), inputs, n_inputs, outputs, n_outputs);
        return EMBER_OK;
    });
}

void release(void *ctx, void *compiled) noexcept {
    (void)ctx;
    release_compiled(static_cast<Compiled *>(compiled));
}

// Device buffers (reported and tested by the host; execute() takes host tensors in ABI 1).
void *buffer_alloc(void *ctx, int32_t device, size_t size_bytes) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    if (device < 0 || device >= static_cast<int32_t>(c->devices.size())) return nullptr;
    void *p = nullptr;
    try {
        DeviceGuard guard(c->devices[device].index);
        if (cudaMalloc(&p, size_bytes) != cudaSuccess) p = nullptr;
    } catch (...) {
        p = nullptr;
    }
    cudaGetLastError();
    return p;
}

void buffer_free(void *ctx, int32_t device, void *buffer) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    if (!buffer || device < 0 || device >= static_cast<int32_t>(c->devices.size())) return;
    try {
        DeviceGuard guard(c->devices[device].index);
        cudaFree(buffer);
    } catch (...) {
    }
    cudaGetLastError();
}

ember_status buffer_copy(void *ctx, int32_t device, void *dst, const void *src, size_t size_bytes,
                         int32_t kind) noexcept {
    const Context *c = static_cast<Context *>(ctx);
    if (device < 0 || device >= static_cast<int32_t>(c->devices.size()) || kind < 0 || kind > 2 ||
        (size_bytes && (!dst || !src))) {
        set_error(c, "buffer_copy: bad device, kind or pointer");
        return EMBER_ERR_INVALID_ARGUMENT;
    }
    static const cudaMemcpyKind kinds[] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice};
    cudaError_t e = cudaSuccess;
    try {
        DeviceGuard guard(c->devices[device].index);
        e = cudaMemcpy(dst, src, size_bytes, kinds[kind]);
    } catch (const std::exception &ex) {
        set_error(c, std::string("buffer_copy: ") + ex.what());
        return EMBER_ERR_BACKEND;
    }
    if (e != cudaSuccess) {
        set_error(c, std::string("buffer_copy: ") + cudaGetErrorString(e));
        cudaGetLastError();
        return EMBER_ERR_BACKEND;
    }
    return EMBER_OK;
}

void destroy(void *ctx) noexcept {
    delete static_cast<Context *>(ctx);
}

std::string gib(size_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1u << 30));
    return buf;
}

// Every device, usable or not, with the reason; the usable ones are the plugin's devices.
std::string enumerate_devices(Context *ctx) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        cudaGetLastError();
        return std::string("the CUDA runtime finds no device (cudaGetDeviceCount: ") + cudaGetErrorName(e) + ": " +
               cudaGetErrorString(e) + ")";
    }
    std::string refused;
    for (int i = 0; i < n; i++) {
        cudaDeviceProp p{};
        DeviceInfo d;
        d.index = i;
        if ((e = cudaGetDeviceProperties(&p, i)) != cudaSuccess) {
            cudaGetLastError();
            refused += "; device " + std::to_string(i) + ": " + cudaGetErrorString(e);
            continue;
        }
        d.cc_major = p.major;
        d.cc_minor = p.minor;
        char name[512];
        std::snprintf(name, sizeof name, "%s (sm_%d%d, %s)", p.name, p.major, p.minor, gib(p.totalGlobalMem).c_str());
        d.name = name;
        if (p.major < kMinMajor) {
            d.why_not = "compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
                        " is below 7.0";
        } else if ((e = cudaSetDevice(i)) != cudaSuccess || (e = kernel_image_check()) != cudaSuccess) {
            cudaGetLastError();
            d.why_not = std::string(cudaGetErrorString(e)) + " (the plugin holds code for " EMBER_CUDA_ARCHS_TEXT
                                                              "; rebuild with -DEMBER_CUDA_ARCHS=...)";
        } else {
            d.usable = true;
        }
        if (d.usable) ctx->devices.push_back(d);
        else refused += "; device " + std::to_string(i) + " " + d.name + ": " + d.why_not;
    }
    if (ctx->devices.empty())
        return n == 0 ? std::string("the CUDA runtime finds no device") : "no usable CUDA device" + refused;
    return "";
}

// The same, leaving the calling thread's current device as it was.
std::string enumerate(Context *ctx) {
    int previous = -1;
    if (cudaGetDevice(&previous) != cudaSuccess) previous = -1;
    std::string why = enumerate_devices(ctx);
    if (previous >= 0) cudaSetDevice(previous);
    cudaGetLastError();
    return why;
}

}  // namespace
}  // namespace ember_cuda

extern "C" EMBER_PLUGIN_EXPORT ember_status ember_cuda_init(const ember_host_api *host, ember_plugin_api *out) {
    using namespace ember_cuda;
    if (!host || !out) return EMBER_ERR_INVALID_ARGUMENT;
    if (host->struct_size < sizeof *host) return EMBER_ERR_ABI;
    if (host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION) {
        host->set_error(host->host_ctx, "cuda speaks plugin ABI 1 only");
        return EMBER_ERR_ABI;
    }
    Context *ctx = nullptr;
    try {
        ctx = new Context();
        ctx->host = host;
        std::string why = enumerate(ctx);
        if (!why.empty()) {
            host->set_error(host->host_ctx, ("cuda: " + why + "; the runtime continues with the CPU backends").c_str());
            delete ctx;
            return EMBER_ERR_BACKEND;
        }
        int rt = 0;
        cudaRuntimeGetVersion(&rt);
        char buf[160];
        std::snprintf(buf, sizeof buf, "CUDA runtime %d.%d, cuBLASLt %zu, cuDNN %zu", rt / 1000, (rt % 1000) / 10,
                      cublasLtGetVersion(), cudnnGetVersion());
        ctx->version = buf;
        if (host->log) host->log(host->host_ctx, EMBER_LOG_DEBUG, ("cuda: " + ctx->version).c_str());
    } catch (...) {
        host->set_error(host->host_ctx, "cuda: cannot initialise the CUDA backend");
        delete ctx;
        return EMBER_ERR_BACKEND;
    }
    *out = ember_plugin_api{};
    out->struct_size = sizeof *out;
    out->abi_version = EMBER_PLUGIN_ABI_VERSION;
    out->name = "cuda";
    out->version = kPluginVersion;
    out->ctx = ctx;
    out->device_count = device_count;
    out->device_name = device_name;
    out->supports = supports;
    out->compile = compile;
    out->execute = execute;
    out->release = release;
    out->buffer_alloc = buffer_alloc;
    out->buffer_free = buffer_free;
    out->buffer_copy = buffer_copy;
    out->destroy = destroy;
    return EMBER_OK;
}
