// lm_cli.h — what `ember generate` and `ember bench-lm` share: opening a language model
// through the C API (runtime, model, session, generator) and a few output helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "api/ember.h"

struct LmHandles {
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    ember_generator *gen = nullptr;
    const ember_tokenizer *tok = nullptr;  // borrowed from gen; null without a tokenizer
    bool profile = false;                  // set before open(): time every step (bench-lm --profile)
    bool copy_on_load = false;             // set before open(): read the file into (huge-page) memory
    int spin_us = 0;                       // set before open(): ember_runtime_options.spin_us

    ~LmHandles() {
        ember_generator_release(gen);
        ember_session_release(session);
        ember_model_release(model);
        ember_runtime_release(rt);
    }
    // Opens `path` with `threads` threads (0: all CPUs) and a generator of `context`
    // positions (0: the model's). Prints the library's message and returns false on error.
    bool open(const char *tool, const std::string &path, int threads, int64_t context);
};

inline double lm_now_s() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Appends `s` to `out` as a JSON string (quotes included).
void json_append_string(std::string *out, const char *s, size_t n);
