// test_cuda_probe.cc — libember-cudaprobe.so, a test plugin that answers supports() with
// the CUDA plugin's own node_supported() (cuda_ops.cc) and computes nothing (its outputs
// are zeros). With it, `ember bench --backend cudaprobe,cpu` shows, on a machine without
// a GPU, which nodes of a model the CUDA plugin would claim: test_cuda_placement requires
// every node of the float32 shared models (no CPU fallback in the middle of a network).
#include <cstring>
#include <new>

#include "cuda_ops.h"
#include "ember_plugin.h"

namespace {

size_t elem_size(ember_dtype t) {
    switch (t) {
        case EMBER_DTYPE_BOOL: case EMBER_DTYPE_INT8: case EMBER_DTYPE_UINT8: return 1;
        case EMBER_DTYPE_FLOAT16: case EMBER_DTYPE_BFLOAT16: case EMBER_DTYPE_INT16: case EMBER_DTYPE_UINT16: return 2;
        case EMBER_DTYPE_FLOAT32: case EMBER_DTYPE_INT32: case EMBER_DTYPE_UINT32: return 4;
        default: return 8;
    }
}

int32_t probe_device_count(void *) noexcept { return 1; }
const char *probe_device_name(void *, int32_t) noexcept { return "placement probe (computes nothing)"; }

int32_t probe_supports(void *, const ember_plugin_node *node) noexcept {
    try {
        if (!node || !node->op_type || !node->domain) return 0;
        return ember_cuda::node_supported(ember_cuda::NodeView(node)) ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

ember_status probe_compile(void *, const ember_plugin_subgraph *, void **compiled) noexcept {
    static int token;
    *compiled = &token;
    return EMBER_OK;
}

ember_status probe_execute(void *, void *, const ember_plugin_tensor *, size_t, ember_plugin_tensor *outputs,
                           size_t n_outputs) noexcept {
    for (size_t o = 0; o < n_outputs; o++) {
        size_t n = elem_size(outputs[o].dtype);
        for (size_t d = 0; d < outputs[o].rank; d++) n *= static_cast<size_t>(outputs[o].dims[d]);
        if (outputs[o].data) std::memset(outputs[o].data, 0, n);
    }
    return EMBER_OK;
}

void probe_release(void *, void *) noexcept {}
void probe_destroy(void *) noexcept {}

}  // namespace

extern "C" EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    if (!host || !out || host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION)
        return EMBER_ERR_ABI;
    *out = ember_plugin_api{};
    out->struct_size = sizeof *out;
    out->abi_version = EMBER_PLUGIN_ABI_VERSION;
    out->name = "cudaprobe";
    out->version = "test";
    out->device_count = probe_device_count;
    out->device_name = probe_device_name;
    out->supports = probe_supports;
    out->compile = probe_compile;
    out->execute = probe_execute;
    out->release = probe_release;
    out->destroy = probe_destroy;
    return EMBER_OK;
}
