// crc32c.h — CRC-32C (Castagnoli), the checksum of .ember sections (formats/FORMAT.md).
//
// Polynomial 0x1EDC6F41 (reflected 0x82F63B78), initial value ~0, final xor ~0: the
// CRC of iSCSI, ext4 and SSE4.2's crc32 instruction. crc32c("123456789") == 0xE3069283.
// The portable path is slice-by-8; on x86 the SSE4.2 instruction is chosen once at run
// time (__builtin_cpu_supports). EMBER_CPU_ISA=portable forces the portable path.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember {

// CRC-32C of `n` bytes at `data` (best implementation for this CPU).
uint32_t crc32c(const void *data, size_t n);

// Continues a CRC: crc32c_extend(crc32c(a), b) == crc32c(a followed by b).
// crc32c_extend(0, x) == crc32c(x).
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);

// The two implementations, exposed so tests can compare them. crc32c_hw returns the
// portable result when the CPU lacks SSE4.2.
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t n);
uint32_t crc32c_hw(uint32_t crc, const void *data, size_t n);
bool crc32c_hw_available();

}  // namespace ember
