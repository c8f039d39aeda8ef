// cpu_features.cc — CPUID + XGETBV, once; see cpu_features.h.
#include "core/kernels/cpu_features.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define EMBER_X86 1
#endif

namespace ember {

namespace {

struct Detected {
    bool avx2_fma = false;
    bool avx512 = false;
    bool avx512_vnni = false;
    bool avx512_vbmi = false;
};

#ifdef EMBER_X86
// XCR0 through XGETBV; only valid once CPUID says OSXSAVE is set. Encoded as bytes so
// no -mxsave flag is needed for this file.
uint64_t read_xcr0() {
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

Detected detect() {
    Detected d;
#ifdef EMBER_X86
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return d;
    unsigned max_leaf = eax;
    if (max_leaf < 7) return d;
    __cpuid(1, eax, ebx, ecx, edx);
    bool fma = ecx & (1u << 12);
    bool osxsave = ecx & (1u << 27);
    bool avx = ecx & (1u << 28);
    bool f16c = ecx & (1u << 29);
    if (!osxsave || !avx) return d;
    uint64_t xcr0 = read_xcr0();
    bool os_ymm = (xcr0 & 0x6) == 0x6;            // XMM (bit 1) + YMM (bit 2)
    bool os_zmm = (xcr0 & 0xe6) == 0xe6;          // + opmask (5), ZMM_Hi256 (6), Hi16_ZMM (7)
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    bool avx2 = ebx & (1u << 5);
    bool avx512f = ebx & (1u << 16);
    bool avx512dq = ebx & (1u << 17);
    bool avx512bw = ebx & (1u << 30);
    bool avx512vl = ebx & (1u << 31);
    d.avx2_fma = os_ymm && avx2 && fma && f16c;
    d.avx512 = d.avx2_fma && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
    d.avx512_vnni = d.avx512 && (ecx & (1u << 11));
    d.avx512_vbmi = d.avx512 && (ecx & (1u << 1));
#endif
    // A level whose code this build lacks cannot be used: the per-ISA sources are only
    // compiled for x86 targets (see CMakeLists.txt).
    return d;
}

const Detected &detected() {
    static const Detected d = detect();
    return d;
}

CpuFeatures make_features() {
    const Detected &d = detected();
    CpuFeatures f;
    f.avx2_fma = d.avx2_fma;
    f.avx512 = d.avx512;
    f.avx512_vnni = d.avx512_vnni;
    f.avx512_vbmi = d.avx512_vbmi;
    const char *cap = std::getenv("EMBER_CPU_ISA");
    if (cap && *cap) {
        if (std::strcmp(cap, "portable") == 0 || std::strcmp(cap, "generic") == 0) {
            f.avx2_fma = false;
            f.avx512 = false;
            f.avx512_vnni = false;
            f.avx512_vbmi = false;
        } else if (std::strcmp(cap, "avx2") == 0) {
            f.avx512 = false;
            f.avx512_vnni = false;
            f.avx512_vbmi = false;
        }
        // "avx512" or anything unknown: no cap (a cap never raises the level).
    }
    f.isa = f.avx512 ? CpuIsa::Avx512 : f.avx2_fma ? CpuIsa::Avx2 : CpuIsa::Portable;
    f.isa_name = cpu_isa_name(f.isa);
    return f;
}

}  // namespace

const CpuFeatures &cpu_features() {
    static const CpuFeatures f = make_features();
    return f;
}

bool cpu_isa_supported(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Portable: return true;
        case CpuIsa::Avx2: return detected().avx2_fma;
        case CpuIsa::Avx512: return detected().avx512;
    }
    return false;
}

bool cpu_has_avx512_vnni() { return detected().avx512_vnni; }

bool cpu_has_avx512_vbmi() { return detected().avx512_vbmi; }

const char *cpu_isa_name(CpuIsa isa) {
    switch (isa) {
        case CpuIsa::Portable: return "portable";
        case CpuIsa::Avx2: return "avx2";
        case CpuIsa::Avx512: return "avx512";
    }
    return "unknown";
}

}  // namespace ember
