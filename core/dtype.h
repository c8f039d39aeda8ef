// dtype.h — element types shared by the format, the graph and the kernels.
// The numeric values are those of ember_dtype in api/ember.h and of the .ember file;
// they are never reused or renumbered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "api/ember.h"

namespace ember {

enum class DType : uint8_t {
    Undefined = EMBER_DTYPE_UNDEFINED,
    F32 = EMBER_DTYPE_FLOAT32,
    F16 = EMBER_DTYPE_FLOAT16,
    BF16 = EMBER_DTYPE_BFLOAT16,
    F64 = EMBER_DTYPE_FLOAT64,
    I8 = EMBER_DTYPE_INT8,
    U8 = EMBER_DTYPE_UINT8,
    I16 = EMBER_DTYPE_INT16,
    U16 = EMBER_DTYPE_UINT16,
    I32 = EMBER_DTYPE_INT32,
    U32 = EMBER_DTYPE_UINT32,
    I64 = EMBER_DTYPE_INT64,
    U64 = EMBER_DTYPE_UINT64,
    Bool = EMBER_DTYPE_BOOL,
};

// Bytes per element; 0 for Undefined or an unknown code.
size_t dtype_size(DType t);
// numpy-style name ("float32", "bool"); "undefined" for unknown codes.
const char *dtype_name(DType t);
// Parses a numpy-style name; false if unknown.
bool dtype_from_name(const char *name, DType *out);
// True for codes this build knows.
bool dtype_valid(uint32_t code);
bool dtype_is_float(DType t);    // F32, F16, BF16, F64
bool dtype_is_integer(DType t);  // signed or unsigned integers (not Bool)
bool dtype_is_signed(DType t);

// IEEE half and bfloat16 conversions (round to nearest even).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
inline float bf16_to_float(uint16_t b) {
    uint32_t u = static_cast<uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint16_t float_to_bf16(float f);

}  // namespace ember
