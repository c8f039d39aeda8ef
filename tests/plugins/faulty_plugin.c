/* faulty_plugin.c — a plugin that misbehaves on purpose, one way per build (FAULT=...):
 *   FAULT_ABI          claims an ABI version the host does not speak
 *   FAULT_INIT         ember_plugin_init fails with a message
 *   FAULT_NO_DEVICE    reports zero devices
 *   FAULT_COMPILE      claims Relu, then fails to compile it
 *   FAULT_EXECUTE      claims Relu, then fails every execute
 * The host must refuse or survive each, with the reason in its message. */
#include <stdlib.h>
#include <string.h>

#include "ember_plugin.h"

static const ember_host_api *g_host;

static int32_t device_count(void *ctx) {
    (void)ctx;
#ifdef FAULT_NO_DEVICE
    return 0;
#else
    return 1;
#endif
}

static int32_t supports(void *ctx, const ember_plugin_node *node) {
    (void)ctx;
    return strcmp(node->op_type, "Relu") == 0 && node->inputs[0].dtype == EMBER_DTYPE_FLOAT32;
}

static ember_status compile(void *ctx, const ember_plugin_subgraph *sg, void **out) {
    (void)ctx;
    (void)sg;
#ifdef FAULT_COMPILE
    g_host->set_error(g_host->host_ctx, "faulty: compile refused on purpose");
    return EMBER_ERR_BACKEND;
#else
    *out = malloc(1);
    return *out ? EMBER_OK : EMBER_ERR_OUT_OF_MEMORY;
#endif
}

static ember_status execute(void *ctx, void *compiled, const ember_plugin_tensor *in, size_t n_in,
                            ember_plugin_tensor *out, size_t n_out) {
    (void)ctx;
    (void)compiled;
    (void)in;
    (void)n_in;
    (void)out;
    (void)n_out;
#ifdef FAULT_EXECUTE
    g_host->set_error(g_host->host_ctx, "faulty: device lost on purpose");
    return EMBER_ERR_BACKEND;
#else
    return EMBER_OK;
#endif
}

static void release(void *ctx, void *compiled) {
    (void)ctx;
    free(compiled);
}

static void destroy(void *ctx) { (void)ctx; }

EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    g_host = host;
#ifdef FAULT_INIT
    host->set_error(host->host_ctx, "faulty: libfake.so.1 not found");
    return EMBER_ERR_BACKEND;
#endif
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
#ifdef FAULT_ABI
    out->abi_version = EMBER_PLUGIN_ABI_VERSION + 7;
#else
    out->abi_version = EMBER_PLUGIN_ABI_VERSION;
#endif
    out->name = "faulty";
    out->version = "0";
    out->device_count = device_count;
    out->supports = supports;
    out->compile = compile;
    out->execute = execute;
    out->release = release;
    out->destroy = destroy;
    return EMBER_OK;
}
