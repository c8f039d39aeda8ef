/* relu_plugin.c — a minimal Ember backend plugin, for plugin authors to copy.
 *
 * It runs one operator, Relu on float32, and claims nothing else: the session gives every
 * other node to the next backend (at the end, the built-in CPU kernels). It shows the
 * whole life of a plugin: the ABI handshake in ember_plugin_init, supports() deciding
 * per node, compile() preparing a subgraph once, execute() computing on every run.
 *
 * Build:  cc -shared -fPIC -fvisibility=hidden -I<ember>/api relu_plugin.c -o libember-samplerelu.so
 * Check:  ember plugin-check ./libember-samplerelu.so
 * Use:    EMBER_PLUGIN_PATH=$PWD ember run model.ember --backend samplerelu,cpu ... */
#include <stdlib.h>
#include <string.h>

#include "ember_plugin.h"

typedef struct {
    const ember_host_api *host;
} plugin_ctx;

/* A compiled subgraph: a chain of Relu nodes, each reading the previous one's output.
 * For Relu, applying it once is the same as applying it n times, but the plugin still
 * records which subgraph input and output it maps, as a real backend would. */
typedef struct {
    size_t n_nodes;
    int64_t n_elements;
} compiled_relu;

static int32_t device_count(void *ctx) {
    (void)ctx;
    return 1;
}

static const char *device_name(void *ctx, int32_t index) {
    (void)ctx;
    return index == 0 ? "host CPU (sample plugin)" : NULL;
}

static int32_t supports(void *ctx, const ember_plugin_node *node) {
    (void)ctx;
    if (strcmp(node->op_type, "Relu") != 0 || node->domain[0] != '\0') return 0;
    if (node->n_inputs != 1 || node->n_outputs != 1) return 0;
    return node->inputs[0].dtype == EMBER_DTYPE_FLOAT32 ? 1 : 0;
}

static ember_status compile(void *ctx, const ember_plugin_subgraph *sg, void **out) {
    plugin_ctx *p = ctx;
    /* The session only groups nodes this plugin claimed; a Relu chain has one input and
     * one output. Anything else would be a host bug: say so rather than guess. */
    if (sg->n_inputs != 1 || sg->n_outputs != 1) {
        p->host->set_error(p->host->host_ctx, "samplerelu: expected a chain of Relu nodes");
        return EMBER_ERR_BACKEND;
    }
    compiled_relu *c = malloc(sizeof *c);
    if (!c) return EMBER_ERR_OUT_OF_MEMORY;
    c->n_nodes = sg->n_nodes;
    c->n_elements = 1;
    for (size_t d = 0; d < sg->inputs[0].rank; d++) c->n_elements *= sg->inputs[0].dims[d];
    *out = c;
    return EMBER_OK;
}

static ember_status execute(void *ctx, void *compiled, const ember_plugin_tensor *in, size_t n_in,
                            ember_plugin_tensor *out, size_t n_out) {
    (void)ctx;
    const compiled_relu *c = compiled;
    if (n_in != 1 || n_out != 1) return EMBER_ERR_BACKEND;
    const float *x = in[0].data;
    float *y = out[0].data;
    for (int64_t i = 0; i < c->n_elements; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    return EMBER_OK;
}

static void release(void *ctx, void *compiled) {
    (void)ctx;
    free(compiled);
}

static void destroy(void *ctx) { free(ctx); }

EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    if (host->struct_size < sizeof *host) return EMBER_ERR_ABI;
    if (host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION) {
        host->set_error(host->host_ctx, "samplerelu speaks plugin ABI 1 only");
        return EMBER_ERR_ABI;
    }
    plugin_ctx *p = calloc(1, sizeof *p);
    if (!p) return EMBER_ERR_OUT_OF_MEMORY;
    p->host = host;
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->abi_version = EMBER_PLUGIN_ABI_VERSION;
    out->name = "samplerelu";
    out->version = "1.0";
    out->ctx = p;
    out->device_count = device_count;
    out->device_name = device_name;
    out->supports = supports;
    out->compile = compile;
    out->execute = execute;
    out->release = release;
    out->destroy = destroy;
    return EMBER_OK;
}
