// tensor_handle.h — the struct behind the public ember_tensor handle.
#pragma once

#include <cstdlib>

#include "core/tensor.h"

struct ember_tensor {
    ember::Tensor t;
    void *owned = nullptr;     // freed on release (ember_tensor_create); null when borrowed
    size_t capacity = 0;       // bytes available at t.data
    ~ember_tensor() { std::free(owned); }
};
