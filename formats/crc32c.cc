#include "formats/crc32c.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define EMBER_CRC32C_X86 1
#endif

namespace ember {

namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78u;

// Slice-by-8 tables: t[0] is the byte-at-a-time table; t[k][b] is the CRC of byte b
// followed by k zero bytes, so eight table lookups fold eight input bytes at once.
struct Tables {
    uint32_t t[8][256];
};

constexpr Tables make_tables() {
    Tables tb{};
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ kPolyReflected : c >> 1;
        tb.t[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (uint32_t b = 0; b < 256; b++)
            tb.t[k][b] = (tb.t[k - 1][b] >> 8) ^ tb.t[0][tb.t[k - 1][b] & 0xffu];
    return tb;
}

constexpr Tables kTables = make_tables();

// Works on the raw (pre-inverted) register value.
uint32_t raw_portable(uint32_t c, const uint8_t *p, size_t n) {
    const auto &t = kTables.t;
    while (n >= 8) {
        // Bytes are assembled explicitly, so this is correct on any host byte order.
        uint32_t lo = c ^ (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
                           uint32_t(p[3]) << 24);
        uint32_t hi = uint32_t(p[4]) | uint32_t(p[5]) << 8 | uint32_t(p[6]) << 16 |
                      uint32_t(p[7]) << 24;
        c = t[7][lo & 0xffu] ^ t[6][(lo >> 8) & 0xffu] ^ t[5][(lo >> 16) & 0xffu] ^
            t[4][lo >> 24] ^ t[3][hi & 0xffu] ^ t[2][(hi >> 8) & 0xffu] ^
            t[1][(hi >> 16) & 0xffu] ^ t[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ t[0][(c ^ *p++) & 0xffu];
    return c;
}

#if EMBER_CRC32C_X86
__attribute__((target("sse4.2"))) uint32_t raw_sse42(uint32_t c32, const uint8_t *p, size_t n) {
    while (n && (reinterpret_cast<uintptr_t>(p) & 7u)) {
        c32 = _mm_crc32_u8(c32, *p++);
        n--;
    }
#if defined(__x86_64__)
    uint64_t c = c32;
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    c32 = static_cast<uint32_t>(c);
#endif
    while (n >= 4) {
        uint32_t v;
        std::memcpy(&v, p, 4);
        c32 = _mm_crc32_u32(c32, v);
        p += 4;
        n -= 4;
    }
    while (n--) c32 = _mm_crc32_u8(c32, *p++);
    return c32;
}
#endif

bool detect_hw() {
#if EMBER_CRC32C_X86
    const char *isa = std::getenv("EMBER_CPU_ISA");
    if (isa && std::strcmp(isa, "portable") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
#else
    return false;
#endif
}

bool use_hw() {
    static const bool hw = detect_hw();  // decided once, thread-safe initialisation
    return hw;
}

}  // namespace

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n) {
    return ~raw_portable(~crc, static_cast<const uint8_t *>(data), n);
}

uint32_t crc32c_hw(uint32_t crc, const void *data, size_t n) {
#if EMBER_CRC32C_X86
    if (crc32c_hw_available()) return ~raw_sse42(~crc, static_cast<const uint8_t *>(data), n);
#endif
    return crc32c_portable(crc, data, n);
}

bool crc32c_hw_available() {
#if EMBER_CRC32C_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
#else
    return false;
#endif
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n) {
    if (n == 0) return crc;
#if EMBER_CRC32C_X86
    if (use_hw()) return ~raw_sse42(~crc, static_cast<const uint8_t *>(data), n);
#endif
    return ~raw_portable(~crc, static_cast<const uint8_t *>(data), n);
}

uint32_t crc32c(const void *data, size_t n) { return crc32c_extend(0, data, n); }

}  // namespace ember
