/* faulty_plugin.c — a plugin that misbehaves on purpose. When it behaves it claims
 * float32 Relu and computes it exactly (so results can be compared with the CPU
 * kernels). The fault is chosen at ember_plugin_init: the environment variable
 * EMBER_FAULTY_PLUGIN when set, else the build's default (FAULT_... below; the
 * `faulty-any` build has none). One fault per entry point of api/ember_plugin.h, and
 * garbage where a value comes back:
 *
 *   none              behaves
 *   abi               claims an ABI version the host does not speak       (FAULT_ABI)
 *   init              ember_plugin_init fails with a message              (FAULT_INIT)
 *   init_garbage      init fails with status 9999 and no message
 *   table_short       struct_size smaller than the ABI's table
 *   table_null        a required entry (execute) is NULL
 *   name_null         the plugin's name is NULL
 *   nodevice          device_count() is 0                                  (FAULT_NO_DEVICE)
 *   device_negative   device_count() is -5
 *   device_huge       device_count() is INT32_MAX
 *   device_name_null  device_name() returns NULL
 *   supports_garbage  supports() answers 7 and -1 (only 1 means yes)
 *   compile           compile() fails with a message                       (FAULT_COMPILE)
 *   compile_garbage   compile() returns status 12345, no message, and a garbage handle
 *   compile_null      compile() succeeds with a NULL handle
 *   execute           every execute() fails with a message                 (FAULT_EXECUTE)
 *   execute_once      the first execute() fails, later ones work
 *   execute_garbage   execute() returns status 777 with no message
 *   buffers           buffer_alloc() returns NULL, buffer_copy() fails (ABI 1 hosts never
 *                     call them: execute() takes host tensors)
 * Calls are counted (faulty_plugin_counters(), found with dlsym) so a test can check that
 * every compiled handle was released and destroy() ran once. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ember_plugin.h"

#if defined(FAULT_ABI)
#define FAULT_DEFAULT "abi"
#elif defined(FAULT_INIT)
#define FAULT_DEFAULT "init"
#elif defined(FAULT_NO_DEVICE)
#define FAULT_DEFAULT "nodevice"
#elif defined(FAULT_COMPILE)
#define FAULT_DEFAULT "compile"
#elif defined(FAULT_EXECUTE)
#define FAULT_DEFAULT "execute"
#else
#define FAULT_DEFAULT "none"
#endif

static const ember_host_api *g_host;
static char g_mode[32];
/* compiled, released, executed, destroyed, buffer calls */
static long g_counts[5];

static int mode_is(const char *m) { return strcmp(g_mode, m) == 0; }

static void set_error(const char *msg) { g_host->set_error(g_host->host_ctx, msg); }

EMBER_PLUGIN_EXPORT const long *faulty_plugin_counters(void) { return g_counts; }

static int32_t device_count(void *ctx) {
    (void)ctx;
    if (mode_is("nodevice")) return 0;
    if (mode_is("device_negative")) return -5;
    if (mode_is("device_huge")) return INT32_MAX;
    return 1;
}

static const char *device_name(void *ctx, int32_t index) {
    (void)ctx;
    (void)index;
    return mode_is("device_name_null") ? NULL : "faulty device";
}

static int32_t supports(void *ctx, const ember_plugin_node *node) {
    (void)ctx;
    int32_t yes = strcmp(node->op_type, "Relu") == 0 && node->n_inputs == 1 &&
                  node->inputs[0].dtype == EMBER_DTYPE_FLOAT32;
    if (mode_is("supports_garbage")) return yes ? 7 : -1;
    return yes;
}

static ember_status compile(void *ctx, const ember_plugin_subgraph *sg, void **out) {
    (void)ctx;
    (void)sg;
    if (mode_is("compile")) {
        set_error("faulty: compile refused on purpose");
        return EMBER_ERR_BACKEND;
    }
    if (mode_is("compile_garbage")) {
        *out = (void *)(uintptr_t)0xdeadbeef;
        return (ember_status)12345;
    }
    if (mode_is("compile_null")) {
        *out = NULL;
        return EMBER_OK;
    }
    *out = malloc(16); /* LeakSanitizer reports it if the host never releases it */
    if (!*out) return EMBER_ERR_OUT_OF_MEMORY;
    __atomic_add_fetch(&g_counts[0], 1, __ATOMIC_RELAXED);
    return EMBER_OK;
}

static ember_status execute(void *ctx, void *compiled, const ember_plugin_tensor *in, size_t n_in,
                            ember_plugin_tensor *out, size_t n_out) {
    (void)ctx;
    (void)compiled;
    long calls = __atomic_add_fetch(&g_counts[2], 1, __ATOMIC_RELAXED);
    if (mode_is("execute") || (mode_is("execute_once") && calls == 1)) {
        set_error("faulty: device lost on purpose");
        return EMBER_ERR_BACKEND;
    }
    if (mode_is("execute_garbage")) return (ember_status)777;
    /* a subgraph of consecutive Relus: each output is max(x, 0) of the one input */
    if (n_in < 1) return EMBER_ERR_INTERNAL;
    int64_t n = 1;
    for (size_t d = 0; d < in[0].rank; d++) n *= in[0].dims[d];
    const float *x = (const float *)in[0].data;
    for (size_t o = 0; o < n_out; o++) {
        float *y = (float *)out[o].data;
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
    return EMBER_OK;
}

static void release(void *ctx, void *compiled) {
    (void)ctx;
    if (compiled) __atomic_add_fetch(&g_counts[1], 1, __ATOMIC_RELAXED);
    free(compiled);
}

static void *buffer_alloc(void *ctx, int32_t device, size_t size) {
    (void)ctx;
    (void)device;
    __atomic_add_fetch(&g_counts[4], 1, __ATOMIC_RELAXED);
    return mode_is("buffers") ? NULL : malloc(size ? size : 1);
}

static void buffer_free(void *ctx, int32_t device, void *buffer) {
    (void)ctx;
    (void)device;
    __atomic_add_fetch(&g_counts[4], 1, __ATOMIC_RELAXED);
    free(buffer);
}

static ember_status buffer_copy(void *ctx, int32_t device, void *dst, const void *src, size_t size,
                                int32_t kind) {
    (void)ctx;
    (void)device;
    (void)kind;
    __atomic_add_fetch(&g_counts[4], 1, __ATOMIC_RELAXED);
    if (mode_is("buffers")) {
        set_error("faulty: copy failed on purpose");
        return EMBER_ERR_BACKEND;
    }
    memcpy(dst, src, size);
    return EMBER_OK;
}

static void destroy(void *ctx) {
    (void)ctx;
    __atomic_add_fetch(&g_counts[3], 1, __ATOMIC_RELAXED);
}

EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    g_host = host;
    const char *env = getenv("EMBER_FAULTY_PLUGIN");
    strncpy(g_mode, env && *env ? env : FAULT_DEFAULT, sizeof g_mode - 1);
    memset(g_counts, 0, sizeof g_counts);
    if (mode_is("init")) {
        set_error("faulty: libfake.so.1 not found");
        return EMBER_ERR_BACKEND;
    }
    if (mode_is("init_garbage")) return (ember_status)9999;
    memset(out, 0, sizeof *out);
    out->struct_size = mode_is("table_short") ? offsetof(ember_plugin_api, buffer_alloc) : sizeof *out;
    out->abi_version = mode_is("abi") ? EMBER_PLUGIN_ABI_VERSION + 7 : EMBER_PLUGIN_ABI_VERSION;
    out->name = mode_is("name_null") ? NULL : "faulty";
    out->version = "0";
    out->device_count = device_count;
    out->device_name = device_name;
    out->supports = supports;
    out->compile = compile;
    out->execute = mode_is("table_null") ? NULL : execute;
    out->release = release;
    out->buffer_alloc = buffer_alloc;
    out->buffer_free = buffer_free;
    out->buffer_copy = buffer_copy;
    out->destroy = destroy;
    return EMBER_OK;
}
