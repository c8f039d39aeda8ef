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
    // Block-quantised weight storage (GGML's layouts; formats/FORMAT.md section 8). Not
    // element types: 32 weights per block, a block of `dtype_block_bytes` bytes; only
    // constants (weights) have them, never graph inputs or outputs, and only the ops that
    // say so read them (ember.Linear's W, Gather's data). Not part of the C API.
    Q8_0 = 32,  // fp16 d, int8 q[32]: w = q * d                          (34 bytes)
    Q4_0 = 33,  // fp16 d, u8 qs[16]: w[j] = (qs[j] & 15) - 8, w[j+16] = (qs[j] >> 4) - 8,
                // times d                                                (18 bytes)
    Q4_0X8 = 34,  // Q4_0 blocks with every 8 rows interleaved for the matrix-vector
                  // kernels (llm_quant.h, formats/FORMAT.md); same size as Q4_0
    Q8_0X8 = 35,  // Q8_0 likewise; same size as Q8_0
};

// Q4_0X8 / Q8_0X8: the plain type whose blocks they hold; others: themselves.
inline DType dtype_plain_blocks(DType t) {
    return t == DType::Q4_0X8 ? DType::Q4_0 : t == DType::Q8_0X8 ? DType::Q8_0 : t;
}
// True for the row-interleaved block types (Q4_0X8, Q8_0X8): matrices only.
inline bool dtype_is_x8(DType t) { return t == DType::Q4_0X8 || t == DType::Q8_0X8; }

// Weights per block of a block-quantised type.
constexpr int64_t kQuantBlock = 32;

// Bytes per element; 0 for Undefined or an unknown code.
size_t dtype_size(DType t);
// numpy-style name ("float32", "bool"); "undefined" for unknown codes.
const char *dtype_name(DType t);
// Parses a numpy-style name; false if unknown.
bool dtype_from_name(const char *name, DType *out);
// True for element-type codes this build knows (1..13; not the block types).
bool dtype_valid(uint32_t code);
// Block-quantised storage types (Q8_0, Q4_0, Q4_0X8, Q8_0X8).
bool dtype_is_block(DType t);
// Bytes of one block of 32 weights; 0 when `t` is not a block type.
size_t dtype_block_bytes(DType t);
// Bytes of a tensor of `numel` elements stored as `t`: numel * dtype_size(t), or
// numel / 32 blocks for a block type (numel must then be a multiple of 32).
size_t dtype_storage_bytes(DType t, int64_t numel);
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
