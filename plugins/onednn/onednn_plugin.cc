// onednn_plugin.cc — the ABI boundary of the oneDNN backend (api/ember_plugin.h), in
// onednn/libember-onednn-impl.so. libember-onednn.so (onednn_loader.c) loads this
// library and forwards ember_plugin_init to ember_onednn_init.
//
// Every entry point catches everything (dnnl::error, std::bad_alloc, anything else) and
// turns it into a status with a message through host->set_error(); supports() turns any
// failure into "no". Nothing here prints or aborts.
#include <cstdio>
#include <new>
#include <string>

#include "onednn_compile.h"
#include "onednn_ops.h"

namespace ember_onednn {
namespace {

constexpr const char *kPluginVersion = "1.0";

void set_error(const Context *ctx, const std::string &msg) {
    ctx->host->set_error(ctx->host->host_ctx, ("onednn: " + msg).c_str());
}

template <class F>
ember_status guarded(const Context *ctx, F &&f) noexcept {
    try {
        return f();
    } catch (const dnnl::error &e) {
        set_error(ctx, std::string("oneDNN: ") + e.what());
        return EMBER_ERR_BACKEND;
    } catch (const std::bad_alloc &) {
        set_error(ctx, "out of memory");
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
    (void)ctx;
    return 1;
}

const char *device_name(void *ctx, int32_t index) noexcept {
    return index == 0 ? static_cast<Context *>(ctx)->device_name.c_str() : nullptr;
}

int32_t supports(void *ctx, const ember_plugin_node *node) noexcept {
    try {
        if (!node || !node->op_type || !node->domain) return 0;
        NodeView n(node);
        if (!node_supported(n)) return 0;
        // oneDNN refuses some combinations the rules above allow: ask it.
        return probe_node(*static_cast<Context *>(ctx), *node) ? 1 : 0;
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
    try {
        release_compiled(static_cast<Compiled *>(compiled));
    } catch (...) {
    }
}

void destroy(void *ctx) noexcept {
    try {
        delete static_cast<Context *>(ctx);
    } catch (...) {
    }
}

const char *isa_name(dnnl::cpu_isa isa) {
    switch (isa) {
        case dnnl::cpu_isa::sse41: return "sse41";
        case dnnl::cpu_isa::avx: return "avx";
        case dnnl::cpu_isa::avx2: return "avx2";
        case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
        case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
        case dnnl::cpu_isa::avx512_core: return "avx512_core";
        case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
        case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
        case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
        case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
        default: return "generic";
    }
}

}  // namespace
}  // namespace ember_onednn

extern "C" EMBER_PLUGIN_EXPORT ember_status ember_onednn_init(const ember_host_api *host,
                                                              ember_plugin_api *out) {
    using namespace ember_onednn;
    if (!host || !out) return EMBER_ERR_INVALID_ARGUMENT;
    if (host->struct_size < sizeof *host) return EMBER_ERR_ABI;
    if (host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION) {
        host->set_error(host->host_ctx, "onednn speaks plugin ABI 1 only");
        return EMBER_ERR_ABI;
    }
    Context *ctx = nullptr;
    try {
        ctx = new Context();
        ctx->host = host;
        ctx->engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
        const dnnl::version_t *v = dnnl::version();
        char buf[160];
        std::snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
        ctx->version = buf;
        std::snprintf(buf, sizeof buf, "oneDNN %d.%d.%d on CPU (%s)", v->major, v->minor, v->patch,
                      isa_name(dnnl::get_effective_cpu_isa()));
        ctx->device_name = buf;
    } catch (const std::exception &e) {
        host->set_error(host->host_ctx, (std::string("onednn: cannot create the CPU engine: ") + e.what()).c_str());
        delete ctx;
        return EMBER_ERR_BACKEND;
    } catch (...) {
        host->set_error(host->host_ctx, "onednn: cannot create the CPU engine");
        delete ctx;
        return EMBER_ERR_BACKEND;
    }
    *out = ember_plugin_api{};
    out->struct_size = sizeof *out;
    out->abi_version = EMBER_PLUGIN_ABI_VERSION;
    out->name = "onednn";
    out->version = kPluginVersion;
    out->ctx = ctx;
    out->device_count = device_count;
    out->device_name = device_name;
    out->supports = supports;
    out->compile = compile;
    out->execute = execute;
    out->release = release;
    out->destroy = destroy;
    return EMBER_OK;
}
