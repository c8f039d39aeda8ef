// runtime.h — ember_runtime and ember_model internals.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "api/ember.h"
#include "core/graph.h"
#include "core/plugin_registry.h"
#include "core/thread_pool.h"

namespace ember {

class Runtime {
public:
    explicit Runtime(const ember_runtime_options &opts);
    ThreadPool &pool() { return pool_; }
    PluginRegistry &plugins() { return plugins_; }
    void log(ember_log_level level, const char *function, const char *fmt, ...) const
        __attribute__((format(printf, 4, 5)));

    std::atomic<int64_t> live_models{0};

private:
    ember_log_fn log_fn_;
    void *log_user_;
    int32_t log_level_;
    ThreadPool pool_;
    PluginRegistry plugins_{this};
};

// A read-only mapping of a model file, or a heap copy, 64-byte aligned.
class ModelBytes {
public:
    ~ModelBytes();
    static Status map_file(const std::string &path, bool copy, std::unique_ptr<ModelBytes> *out);
    static Status copy_memory(const void *data, size_t size, std::unique_ptr<ModelBytes> *out);
    const uint8_t *data() const { return data_; }
    size_t size() const { return size_; }

private:
    const uint8_t *data_ = nullptr;
    size_t size_ = 0;
    void *mapping_ = nullptr;   // munmap on destruction
    void *heap_ = nullptr;      // free on destruction
};

struct ModelIO {
    std::string name;
    DType dtype;
    std::vector<int64_t> dims;
    std::vector<std::string> dim_names;
    std::vector<const char *> dim_name_ptrs;
};

class Model {
public:
    Runtime *runtime = nullptr;
    std::unique_ptr<ModelBytes> bytes;
    Graph graph;
    std::vector<ModelIO> inputs, outputs;
    std::atomic<int64_t> live_sessions{0};

    // Fills inputs/outputs from the graph.
    void describe_io();
};

}  // namespace ember
