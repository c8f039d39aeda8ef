// format_spec.h — the constants of the .ember layout shared by reader.cc and writer.cc.
// Every number here is defined in formats/FORMAT.md; change both together.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .ember reader uses tensor data in place and needs a little-endian host"
#endif

namespace ember {
namespace fmt {

// "\x89EMBER\r\n": a non-ASCII first byte catches 7-bit transfers, CR LF catches
// newline translation (the PNG trick).
constexpr uint8_t kMagic[8] = {0x89, 'E', 'M', 'B', 'E', 'R', '\r', '\n'};

constexpr uint16_t kVersionMajor = 1;
constexpr uint16_t kVersionMinor = 0;

// Header (FORMAT.md "Header"): 64 bytes at offset 0.
constexpr size_t kHeaderSize = 64;
constexpr size_t kHdrMagic = 0;
constexpr size_t kHdrMajor = 8;
constexpr size_t kHdrMinor = 10;
constexpr size_t kHdrFlags = 12;
constexpr size_t kHdrFileSize = 16;
constexpr size_t kHdrTableOffset = 24;
constexpr size_t kHdrSectionCount = 32;
constexpr size_t kHdrEntrySize = 36;
constexpr size_t kHdrTableCrc = 40;
constexpr size_t kHdrReserved = 44;
constexpr size_t kHdrCrc = 60;
constexpr uint32_t kHeaderFlagsMustUnderstand = 0x0000ffffu;  // none defined in 1.0

// Section table entry (FORMAT.md "Section table").
constexpr uint32_t kEntrySize = 32;      // written by 1.0
constexpr uint32_t kEntrySizeMax = 256;  // accepted on read (minor versions may grow it)
constexpr uint32_t kMaxSections = 1024;
constexpr size_t kEntKind = 0;
constexpr size_t kEntFlags = 4;
constexpr size_t kEntOffset = 8;
constexpr size_t kEntSize = 16;
constexpr size_t kEntCrc = 24;
constexpr uint32_t kSectionRequired = 1u;

enum SectionKind : uint32_t {
    kSectionMetadata = 1,
    kSectionGraph = 2,
    kSectionTensors = 3,
    kSectionData = 4,
};

constexpr uint64_t kSectionAlign = 8;
constexpr uint64_t kDataAlign = 64;

// Metadata value types.
enum MetaType : uint8_t {
    kMetaString = 1,
    kMetaInt64 = 2,
    kMetaFloat64 = 3,
    kMetaBytes = 4,
};

// Value flags.
constexpr uint8_t kValueHasShape = 1;

// Storage dtype codes 32..255 are reserved for block-quantised weights.
constexpr uint32_t kFirstBlockDType = 32;

// Graph limits.
constexpr int64_t kOpsetMin = 1;
constexpr int64_t kOpsetMax = 1000;

// Smallest encodings, used to bound counts by the bytes left before anything is
// allocated.
constexpr uint64_t kMinMetaEntry = 4 + 1 + 4;         // key, type, payload size
constexpr uint64_t kMinValue = 4 + 1 + 1 + 1 + 4;     // name, dtype, flags, rank, constant
constexpr uint64_t kMinNode = 3 * 4 + 3 * 4;          // 3 strings, 3 counts
constexpr uint64_t kMinAttr = 4 + 1 + 4;              // name, type, smallest payload
constexpr uint64_t kMinTensor = 4 + 1 + 1 + 2 + 8 + 8 + 4 + 4 + 4;
constexpr uint64_t kGraphHeader = 8 + 4 * 4;          // opset, four counts

// Little-endian stores and loads, independent of alignment.
inline void store_u16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}
inline void store_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}
inline void store_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = uint8_t(v >> (8 * i));
}
inline uint16_t load_u16(const uint8_t *p) { return uint16_t(p[0] | p[1] << 8); }
inline uint32_t load_u32(const uint8_t *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t load_u64(const uint8_t *p) {
    return uint64_t(load_u32(p)) | uint64_t(load_u32(p + 4)) << 32;
}

inline const char *section_kind_name(uint32_t kind) {
    switch (kind) {
        case kSectionMetadata: return "metadata";
        case kSectionGraph: return "graph";
        case kSectionTensors: return "tensors";
        case kSectionData: return "data";
        default: return nullptr;
    }
}

}  // namespace fmt
}  // namespace ember
