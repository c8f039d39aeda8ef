/* ember_plugin.h — the plugin ABI: the only Ember header a backend plugin includes.
 *
 * A plugin is a shared library `libember-<name>.so` exporting one symbol,
 * ember_plugin_init. The host passes the range of ABI versions it speaks and a table of
 * services; the plugin checks the range, fills an ember_plugin_api table and returns
 * EMBER_OK. A plugin that cannot run here (ABI mismatch, missing driver, no device)
 * returns an error and sets a reason with host->set_error(); the host records it,
 * unloads the library and goes on.
 *
 * Phases (TFLite's Prepare/Eval at graph scale):
 *   supports(node)     once per node at session planning: can this backend run it with
 *                      these dtypes, shapes and attributes?
 *   compile(subgraph)  once per maximal run of consecutive supported nodes: build
 *                      whatever the backend needs (primitives, packed weights).
 *   execute(compiled)  on every ember_session_run: compute only.
 *   release(compiled), destroy(plugin).
 * Tensors crossing the boundary live in host memory (plain CPU pointers) in this ABI
 * version; a device plugin copies them in and out (with its own staging buffers).
 *
 * Rules: only plain C types cross this boundary; a plugin catches its own exceptions;
 * every table entry not marked optional must be set; the host reads nothing past
 * struct_size. All strings passed to the plugin are valid only during the call.
 */
#ifndef EMBER_PLUGIN_H
#define EMBER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "ember.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_PLUGIN_ABI_VERSION 1
#define EMBER_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Describes a value (tensor) of the graph at planning time. */
typedef struct ember_plugin_value {
    const char *name;
    ember_dtype dtype;
    size_t rank;
    const int64_t *dims;         /* concrete dims */
    const void *constant_data;   /* non-NULL for constants (weights): valid until the
                                    compiled object is released (it lives in the model) */
} ember_plugin_value;

typedef enum ember_plugin_attr_type {
    EMBER_ATTR_INT = 1,
    EMBER_ATTR_FLOAT = 2,
    EMBER_ATTR_STRING = 3,
    EMBER_ATTR_INTS = 4,
    EMBER_ATTR_FLOATS = 5
} ember_plugin_attr_type;

typedef struct ember_plugin_attr {
    const char *name;
    ember_plugin_attr_type type;
    int64_t i;
    float f;
    const char *s;
    size_t count;                /* elements of ints / floats */
    const int64_t *ints;
    const float *floats;
} ember_plugin_attr;

/* One node with its operator, attributes and the values it reads and writes. An omitted
 * optional input has dtype EMBER_DTYPE_UNDEFINED and name "". */
typedef struct ember_plugin_node {
    const char *name;
    const char *op_type;         /* ONNX operator name, opset-17 form (docs/ops.md) */
    const char *domain;          /* "" = ONNX default domain */
    size_t n_inputs;
    const ember_plugin_value *inputs;
    size_t n_outputs;
    const ember_plugin_value *outputs;
    size_t n_attrs;
    const ember_plugin_attr *attrs;
} ember_plugin_node;

/* A subgraph to compile: nodes in execution order; its inputs are the values it reads
 * that it does not produce (constants included), its outputs the values it produces
 * that something outside reads. Values are identified by name. */
typedef struct ember_plugin_subgraph {
    size_t n_nodes;
    const ember_plugin_node *nodes;
    size_t n_inputs;
    const ember_plugin_value *inputs;
    size_t n_outputs;
    const ember_plugin_value *outputs;
    int32_t device;              /* device index chosen by the session */
    int32_t num_threads;         /* CPU threads the session may use */
} ember_plugin_subgraph;

/* A tensor in host memory passed to execute(): inputs are read-only. */
typedef struct ember_plugin_tensor {
    ember_dtype dtype;
    size_t rank;
    const int64_t *dims;
    void *data;
} ember_plugin_tensor;

/* Services the host offers a plugin. */
typedef struct ember_host_api {
    size_t struct_size;
    uint32_t abi_min;            /* oldest plugin ABI the host accepts */
    uint32_t abi_max;            /* newest plugin ABI the host accepts */
    /* Logs a line through the runtime's log callback. */
    void (*log)(void *host_ctx, ember_log_level level, const char *message);
    /* Sets the message returned with the plugin's next error status. */
    void (*set_error)(void *host_ctx, const char *message);
    void *host_ctx;
} ember_host_api;

/* The table a plugin fills. */
typedef struct ember_plugin_api {
    size_t struct_size;          /* sizeof(ember_plugin_api) as the plugin knows it */
    uint32_t abi_version;        /* the ABI the plugin speaks, within [abi_min, abi_max] */
    const char *name;            /* "onednn", "cuda": static storage */
    const char *version;         /* the plugin's own version: static storage */
    void *ctx;                   /* passed back to every entry */

    /* Number of devices and a description of device `index` (static or ctx storage). */
    int32_t (*device_count)(void *ctx);
    const char *(*device_name)(void *ctx, int32_t index);

    /* 1 if the plugin runs `node` as described, 0 otherwise. Must not fail. */
    int32_t (*supports)(void *ctx, const ember_plugin_node *node);

    /* Compiles a subgraph; *compiled is an opaque handle for execute/release. */
    ember_status (*compile)(void *ctx, const ember_plugin_subgraph *subgraph, void **compiled);

    /* Runs a compiled subgraph: inputs and outputs in the subgraph's order; output
     * buffers are allocated by the host with the planned shapes. `num_threads` as in the
     * subgraph. */
    ember_status (*execute)(void *ctx, void *compiled, const ember_plugin_tensor *inputs,
                            size_t n_inputs, ember_plugin_tensor *outputs, size_t n_outputs);

    void (*release)(void *ctx, void *compiled);

    /* Device buffers, for plugins whose devices have their own memory (optional: NULL
     * for CPU plugins). In ABI 1 the host only uses them to report and test a device's
     * memory; execute() still takes host tensors. kind: 0 host->device, 1 device->host,
     * 2 device->device. */
    void *(*buffer_alloc)(void *ctx, int32_t device, size_t size_bytes);
    void (*buffer_free)(void *ctx, int32_t device, void *buffer);
    ember_status (*buffer_copy)(void *ctx, int32_t device, void *dst, const void *src,
                                size_t size_bytes, int32_t kind);

    /* Releases everything the plugin holds; called once, last. */
    void (*destroy)(void *ctx);
} ember_plugin_api;

/* The one symbol a plugin exports. */
typedef ember_status (*ember_plugin_init_fn)(const ember_host_api *host, ember_plugin_api *out);
EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host,
                                                   ember_plugin_api *out);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_PLUGIN_H */
