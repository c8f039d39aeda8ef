// tensor.h — shapes and the non-owning tensor view kernels work on.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace ember {

// Concrete shape; rank 0 is a scalar (one element).
using Shape = std::vector<int64_t>;

// Hard limits that keep hostile files from asking for absurd work.
constexpr size_t kMaxRank = 16;
constexpr int64_t kMaxElements = int64_t(1) << 40;

// Element count of a concrete shape; 1 for a scalar. Assumes dims were validated.
int64_t shape_numel(const Shape &s);
// Element count with checks: false if a dim is negative or the product overflows
// kMaxElements.
bool shape_numel_checked(const Shape &s, int64_t *out);
// "[1,3,224,224]"
std::string shape_str(const Shape &s);

// A typed view of memory the kernel does not own.
struct Tensor {
    DType dtype = DType::Undefined;
    Shape shape;
    void *data = nullptr;

    int64_t numel() const { return shape_numel(shape); }
    size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
    int rank() const { return static_cast<int>(shape.size()); }
    template <typename T>
    T *as() const { return static_cast<T *>(data); }
};

}  // namespace ember
