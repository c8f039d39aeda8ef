#include "core/status.h"

#include <cstdarg>
#include <cstdio>
#include <vector>

namespace ember {

Status errorf(ember_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(nullptr, 0, fmt, ap);
    va_end(ap);
    std::string msg;
    if (n > 0) {
        std::vector<char> buf(static_cast<size_t>(n) + 1);
        vsnprintf(buf.data(), buf.size(), fmt, ap2);
        msg.assign(buf.data(), static_cast<size_t>(n));
    }
    va_end(ap2);
    return Status(code, std::move(msg));
}

}  // namespace ember
