// onednn_compile.h — a subgraph compiled into a list of oneDNN primitives.
//
// compile_subgraph() walks the nodes in order and creates one primitive per node, or
// one per fused chain (Conv [+BatchNormalization|per-channel Mul/Add] [+activations]
// [+residual Add] and MatMul/Gemm [+bias Add] [+activations] [+residual Add]).
// Layouts are oneDNN's choice (format_tag::any) and travel between primitives; a
// reorder is inserted only where a consumer wants another layout, at the subgraph's
// inputs (host row-major buffers) and at its outputs. Weights are reordered once, here.
// Intermediate tensors share one arena, placed by lifetime. Half tensors at the edges
// are converted by the plugin (onednn_half.h); inside, everything is float32. Each
// primitive runs on the subgraph's threads, or on one when its work is too small to
// pay for waking the others (docs/plugin-onednn.md).
//
// Both functions throw (std::exception) on failure; the ABI layer catches.
#ifndef EMBER_PLUGINS_ONEDNN_COMPILE_H
#define EMBER_PLUGINS_ONEDNN_COMPILE_H

#include <cstddef>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "ember_plugin.h"

namespace ember_onednn {

// The plugin's state (ember_plugin_api.ctx): one CPU engine for every subgraph.
struct Context {
    const ember_host_api *host = nullptr;
    dnnl::engine engine;
    std::string device_name;  // "oneDNN 2.6.3 on CPU (avx512_core)"
    std::string version;
};

struct Compiled;

Compiled *compile_subgraph(const Context &ctx, const ember_plugin_subgraph &sg);
void execute_compiled(Compiled &c, const ember_plugin_tensor *inputs, size_t n_inputs,
                      ember_plugin_tensor *outputs, size_t n_outputs);
void release_compiled(Compiled *c);
// Builds the primitive descriptors of `node` alone, without code or data: throws when
// oneDNN refuses the combination (supports() then says no).
bool probe_node(const Context &ctx, const ember_plugin_node &node);

// Runs `fn` with the calling thread's OpenMP thread count set to `n` (oneDNN's runtime
// here is OpenMP), restoring the caller's setting afterwards.
class ThreadScope {
public:
    explicit ThreadScope(int n);
    ~ThreadScope();
    ThreadScope(const ThreadScope &) = delete;
    ThreadScope &operator=(const ThreadScope &) = delete;

private:
    int prev_;
};

}  // namespace ember_onednn

#endif  // EMBER_PLUGINS_ONEDNN_COMPILE_H
