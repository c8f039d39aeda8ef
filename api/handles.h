// handles.h — the structs behind the public handles, and the C-boundary helpers shared
// by the files that implement api/ember.h (ember_api.cc, and one file per feature area).
#pragma once

#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "api/ember.h"
#include "core/runtime.h"
#include "core/session.h"
#include "core/status.h"
#include "core/tensor_handle.h"

struct ember_runtime {
    explicit ember_runtime(const ember_runtime_options &o) : rt(o) {}
    ember::Runtime rt;
};

struct ember_model {
    ember::Model m;
    // Class labels from metadata "labels", split on first use (api/ember_image.cc);
    // a model is shared by threads, so the split runs once under labels_once.
    std::once_flag labels_once;
    std::vector<std::string> labels;
};

struct ember_session {
    ember_session(ember::Model *model, const ember::SessionOptions &o) : s(model, o) {}
    ember::Session s;
    // Per-session state of feature areas (preprocessing scratch buffers...), created on
    // first use; each area defines its own type deriving from SessionExtra.
    struct SessionExtra {
        virtual ~SessionExtra() = default;
    };
    std::unique_ptr<SessionExtra> preprocess;
};

namespace ember_api {

extern thread_local std::string t_last_error;

inline ember_status fail(const ember::Status &st) {
    t_last_error = st.message();
    return st.code();
}

inline ember_status fail(ember_status code, const char *msg) {
    t_last_error = msg;
    return code;
}

}  // namespace ember_api

// Every ember_* body sits between these: clears this thread's error, and turns any
// exception into a status and message.
#define EMBER_API_BEGIN               \
    ::ember_api::t_last_error.clear(); \
    try {
#define EMBER_API_END                                                                       \
    }                                                                                       \
    catch (const std::bad_alloc &) {                                                        \
        return ::ember_api::fail(EMBER_ERR_OUT_OF_MEMORY, "out of memory");                 \
    }                                                                                       \
    catch (const std::exception &e) {                                                       \
        return ::ember_api::fail(::ember::errorf(EMBER_ERR_INTERNAL, "internal error: %s", e.what())); \
    }                                                                                       \
    catch (...) {                                                                           \
        return ::ember_api::fail(EMBER_ERR_INTERNAL, "internal error: unknown exception");  \
    }
#define EMBER_REQUIRE(cond, msg) \
    if (!(cond)) return ::ember_api::fail(EMBER_ERR_INVALID_ARGUMENT, msg)
