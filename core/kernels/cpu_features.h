// cpu_features.h — what the CPU (and the OS) let the kernels use, found once.
//
// CPUID says what the processor implements; XGETBV says whether the OS saves the
// wider registers on a context switch (without it, AVX code would corrupt state).
// Both are checked once, on first use, and the result is read-only afterwards.
// EMBER_CPU_ISA=portable|avx2|avx512 caps the level (never raises it), so the
// portable fallback stays testable on any machine.
#pragma once

namespace ember {

// Instruction-set levels the kernels have code for, lowest first.
enum class CpuIsa : int {
    Portable = 0,  // plain C++, whatever the compiler's baseline gives
    Avx2 = 1,      // AVX2 + FMA + F16C, YMM state saved by the OS
    Avx512 = 2,    // AVX-512 F/BW/VL/DQ, ZMM and opmask state saved by the OS
};

struct CpuFeatures {
    bool avx2_fma = false;   // AVX2 + FMA + F16C usable (after the EMBER_CPU_ISA cap)
    bool avx512 = false;     // AVX-512 F/BW/VL/DQ usable (after the cap)
    bool avx512_vnni = false;  // and AVX-512 VNNI (vpdpbusd): only with avx512
    bool avx512_vbmi = false;  // and AVX-512 VBMI (vpermb, vpermt2b): only with avx512
    CpuIsa isa = CpuIsa::Portable;   // the best usable level
    const char *isa_name = "portable";
};

// The features kernels should use: the hardware's, capped by EMBER_CPU_ISA (read once).
// Threads: any; filled on first call (thread-safe static), read-only afterwards.
const CpuFeatures &cpu_features();

// True when this machine and OS can run `isa` code, ignoring EMBER_CPU_ISA (tests use
// it to exercise every level the machine has).
bool cpu_isa_supported(CpuIsa isa);

// AVX-512 VNNI on top of CpuIsa::Avx512, ignoring EMBER_CPU_ISA.
bool cpu_has_avx512_vnni();

// AVX-512 VBMI on top of CpuIsa::Avx512, ignoring EMBER_CPU_ISA.
bool cpu_has_avx512_vbmi();

// "portable", "avx2", "avx512".
const char *cpu_isa_name(CpuIsa isa);

}  // namespace ember
