// session.h — a compiled model: the plan (which kernel runs when, where each tensor
// lives in the arena) and the executor that walks it.
//
// Planning happens at session creation when every input shape is fixed, otherwise on
// the first run, and again only when input shapes (or the values of the few inputs
// that determine shapes, such as a Reshape target fed as a graph input) change. A run
// with an unchanged plan allocates nothing: tensors, kernel arguments and output
// handles are all prepared by the plan.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/ember.h"
#include "core/node_eval.h"
#include "core/op.h"
#include "core/runtime.h"

struct ember_tensor;

namespace ember {

struct SessionOptions {
    std::string backends = "auto";
    int num_threads = 0;
    int64_t max_arena_bytes = 0;
    bool profile = false;
};

struct StepProfile {
    const char *name, *op, *backend;
    int64_t nodes;
    double total_ms;
    int64_t calls;
};

class Plan;
struct Step;

class Session {
public:
    Session(Model *model, const SessionOptions &opts);
    ~Session();

    // Checks support for every node; plans now if all input shapes are fixed.
    Status init();
    // Runs on `inputs` (graph-input order).
    Status run(const ember_tensor *const *inputs, size_t n_inputs);
    // Runs `variant` instead of the model's graph: a graph derived from it with the same
    // inputs and outputs in the same order (a language model's last-row logits,
    // core/generate.cc). Plans are kept per graph and shapes, and a plan keeps its graph
    // alive. Null: the model's graph, as run() above.
    Status run(const ember_tensor *const *inputs, size_t n_inputs,
               const std::shared_ptr<const Graph> &variant);
    // A graph derived from the model's by `make`, built on the first call with this `key`
    // and kept by the session, so that every caller runs (and plans) the same variant.
    using DeriveFn = Status (*)(const Graph &model_graph, Graph *out);
    Status derived_graph(const char *key, DeriveFn make, std::shared_ptr<const Graph> *out);
    const SessionOptions &options() const { return opts_; }
    Status output(size_t index, const ember_tensor **out) const;

    Model *model() const { return model_; }
    size_t node_count() const;
    Status node_info(size_t index, const char **name, const char **op, const char **backend) const;
    size_t arena_bytes() const;
    bool profiling() const { return opts_.profile; }
    size_t profile_count() const;
    Status profile(size_t index, StepProfile *out) const;

private:
    Status resolve_backends();
    Status run_step(Step &step, ThreadPool &pool, int threads);
    bool plan_matches(const Plan *p, const Graph *g, const ember_tensor *const *inputs) const;
    static constexpr size_t kMaxPlans = 4;  // plans kept per session (current + spares)
    Status plan_for(const std::vector<Shape> &shapes, const ember_tensor *const *inputs,
                    const std::shared_ptr<const Graph> &variant = nullptr);

    Model *model_;
    SessionOptions opts_;
    std::unique_ptr<Plan> plan_;                      // the plan of the last run
    std::vector<std::unique_ptr<Plan>> spare_plans_;  // earlier plans, oldest first
    std::vector<const Plugin *> backends_;   // plugins in priority order; cpu is implied last
    std::vector<std::string> node_backend_;  // per graph node: plugin name, "cpu" or "constant"
    bool have_outputs_ = false;
    std::vector<std::pair<std::string, std::shared_ptr<const Graph>>> derived_;
};

}  // namespace ember
