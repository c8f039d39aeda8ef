#include "core/dtype.h"

#include <cmath>

namespace ember {

namespace {
struct DTypeRow {
    DType type;
    size_t size;
    const char *name;
};
const DTypeRow kRows[] = {
    {DType::F32, 4, "float32"},  {DType::F16, 2, "float16"}, {DType::BF16, 2, "bfloat16"},
    {DType::F64, 8, "float64"},  {DType::I8, 1, "int8"},     {DType::U8, 1, "uint8"},
    {DType::I16, 2, "int16"},    {DType::U16, 2, "uint16"},  {DType::I32, 4, "int32"},
    {DType::U32, 4, "uint32"},   {DType::I64, 8, "int64"},   {DType::U64, 8, "uint64"},
    {DType::Bool, 1, "bool"},
};
}  // namespace

size_t dtype_size(DType t) {
    for (const auto &r : kRows)
        if (r.type == t) return r.size;
    return 0;
}

const char *dtype_name(DType t) {
    for (const auto &r : kRows)
        if (r.type == t) return r.name;
    if (t == DType::Q8_0) return "q8_0";
    if (t == DType::Q4_0) return "q4_0";
    if (t == DType::Q4_0X8) return "q4_0x8";
    if (t == DType::Q8_0X8) return "q8_0x8";
    return "undefined";
}

bool dtype_is_block(DType t) {
    return t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q4_0X8 || t == DType::Q8_0X8;
}

size_t dtype_block_bytes(DType t) {
    switch (dtype_plain_blocks(t)) {
        case DType::Q8_0: return 34;
        case DType::Q4_0: return 18;
        default: return 0;
    }
}

size_t dtype_storage_bytes(DType t, int64_t numel) {
    if (dtype_is_block(t)) return static_cast<size_t>(numel / kQuantBlock) * dtype_block_bytes(t);
    return static_cast<size_t>(numel) * dtype_size(t);
}

bool dtype_from_name(const char *name, DType *out) {
    for (const auto &r : kRows) {
        if (std::strcmp(r.name, name) == 0) {
            *out = r.type;
            return true;
        }
    }
    return false;
}

bool dtype_valid(uint32_t code) {
    for (const auto &r : kRows)
        if (static_cast<uint32_t>(r.type) == code) return true;
    return false;
}

bool dtype_is_float(DType t) {
    return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F64;
}

bool dtype_is_integer(DType t) {
    switch (t) {
        case DType::I8: case DType::U8: case DType::I16: case DType::U16:
        case DType::I32: case DType::U32: case DType::I64: case DType::U64:
            return true;
        default:
            return false;
    }
}

bool dtype_is_signed(DType t) {
    return t == DType::I8 || t == DType::I16 || t == DType::I32 || t == DType::I64 ||
           dtype_is_float(t);
}

float half_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            mant &= 0x3ffu;
            bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | mant << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) {  // Inf or NaN
        return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    }
    if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> Inf
    if (absx < 0x38800000u) {  // result is subnormal or zero
        // value = absx as float; half subnormal unit = 2^-24
        float a;
        std::memcpy(&a, &absx, 4);
        float scaled = a * 16777216.0f;  // 2^24, exact
        // round half to even
        float r = std::nearbyint(scaled);
        return static_cast<uint16_t>(sign | static_cast<uint32_t>(r));
    }
    uint32_t exp = (absx >> 23) - 127 + 15;
    uint32_t mant = absx & 0x7fffffu;
    uint32_t h = exp << 10 | mant >> 13;
    uint32_t rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return static_cast<uint16_t>(sign | h);
}

uint16_t float_to_bf16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    uint32_t lsb = (x >> 16) & 1u;
    x += 0x7fffu + lsb;
    return static_cast<uint16_t>(x >> 16);
}

}  // namespace ember
