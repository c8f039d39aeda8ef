// onednn_half.cc — half <-> float conversions (see onednn_half.h).
#include "onednn_half.h"

#include <immintrin.h>

#include <cstring>

namespace ember_onednn {

namespace {

uint32_t float_bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

float bits_float(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

// Round to nearest even; overflow to infinity; NaN stays NaN (quiet).
uint16_t float_to_half_bits(float f) {
    uint32_t x = float_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
    if (ax < 0x38800000u) {  // below the smallest normal half: a subnormal (or zero)
        // value / 2^-24 rounded to an integer, to nearest even, by the FPU
        float scaled = bits_float(ax) * 16777216.0f;
        uint32_t m = static_cast<uint32_t>(__builtin_rintf(scaled));
        return static_cast<uint16_t>(sign | m);
    }
    uint32_t rounded = ax + 0xfffu + ((ax >> 13) & 1u);  // to nearest even on bit 13
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

uint16_t float_to_bf16_bits(float f) {
    uint32_t x = float_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

bool has_f16c() {
    static const bool yes = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    return yes;
}

__attribute__((target("avx,f16c"))) size_t half_to_float_f16c(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    return i;
}

__attribute__((target("avx,f16c"))) size_t float_to_half_f16c(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i), h);
    }
    return i;
}

}  // namespace

float half_bits_to_float(uint16_t h) {
    uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf, nan
    if (exp != 0) return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);  // subnormal: mant * 2^-24, exact
    return sign ? -v : v;
}

void half_to_float(ember_dtype type, const void *src, float *dst, size_t n) {
    const uint16_t *h = static_cast<const uint16_t *>(src);
    size_t i = 0;
    if (type == EMBER_DTYPE_FLOAT16) {
        if (has_f16c()) i = half_to_float_f16c(h, dst, n);
        for (; i < n; i++) dst[i] = half_bits_to_float(h[i]);
    } else {
        for (; i < n; i++) dst[i] = bits_float(static_cast<uint32_t>(h[i]) << 16);
    }
}

void float_to_half(ember_dtype type, const float *src, void *dst, size_t n) {
    uint16_t *h = static_cast<uint16_t *>(dst);
    size_t i = 0;
    if (type == EMBER_DTYPE_FLOAT16) {
        if (has_f16c()) i = float_to_half_f16c(src, h, n);
        for (; i < n; i++) h[i] = float_to_half_bits(src[i]);
    } else {
        for (; i < n; i++) h[i] = float_to_bf16_bits(src[i]);
    }
}

}  // namespace ember_onednn
