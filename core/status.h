// status.h — the error value every internal function returns.
// Core code never throws for control flow; the C boundary (api/) turns a Status into
// an ember_status plus the thread-local message.
#pragma once

#include <string>
#include <utility>

#include "api/ember.h"

namespace ember {

class Status {
public:
    Status() = default;
    Status(ember_status code, std::string message) : code_(code), message_(std::move(message)) {}
    static Status OK() { return Status(); }
    bool ok() const { return code_ == EMBER_OK; }
    ember_status code() const { return code_; }
    const std::string &message() const { return message_; }

private:
    ember_status code_ = EMBER_OK;
    std::string message_;
};

// printf-style constructor: errorf(EMBER_ERR_FORMAT, "tensor '%s' ...", name).
Status errorf(ember_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace ember

#define EMBER_RETURN_IF_ERROR(expr)        \
    do {                                   \
        ::ember::Status _st = (expr);      \
        if (!_st.ok()) return _st;         \
    } while (0)

// A broken invariant: returns EMBER_ERR_INTERNAL with file and line; never aborts.
#define EMBER_CHECK(cond)                                                              \
    do {                                                                               \
        if (!(cond))                                                                   \
            return ::ember::errorf(EMBER_ERR_INTERNAL, "internal check failed at %s:%d: %s", \
                                   __FILE__, __LINE__, #cond);                         \
    } while (0)
