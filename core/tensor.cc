#include "core/tensor.h"

namespace ember {

int64_t shape_numel(const Shape &s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return n;
}

bool shape_numel_checked(const Shape &s, int64_t *out) {
    int64_t n = 1;
    for (int64_t d : s) {
        if (d < 0) return false;
        if (d != 0 && n > kMaxElements / d) return false;
        n *= d;
    }
    *out = n;
    return true;
}

std::string shape_str(const Shape &s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); i++) {
        if (i) r += ",";
        r += std::to_string(s[i]);
    }
    return r + "]";
}

}  // namespace ember
