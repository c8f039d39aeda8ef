// llm_quant_vnni_avx512.cc — AVX-512 VNNI Q8_0 / Q4_0 kernels (vpdpbusd). Built with the
// AVX-512 flags plus -mavx512vnni (CMakeLists.txt); chosen only when CPUID reports VNNI.
// The code is llm_quant_avx512.inc; see there. A second copy is built for CPUs that also
// have AVX-512 VBMI (Ice Lake, Zen 4; not Cascade Lake), where vpermt2b gathers a Q4_0
// quad's nibble runs (qkernels_avx512_vnni_vbmi, chosen by qkernels() when CPUID has both).
// GCC 12 warns inside its own AVX-512 headers (the "undefined" upper halves of
// _mm512_cvtepi32_ps, _mm512_inserti64x4 ...): a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cstring>

#include "core/kernels/llm_quant.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__AVX512VNNI__) && defined(__F16C__)
#include <immintrin.h>
#define EMBER_HAVE_QUANT_VNNI 1
#define EMBER_QUANT_VNNI 1
#endif

namespace ember {

#ifdef EMBER_HAVE_QUANT_VNNI

#include "core/kernels/llm_quant_avx512.inc"

namespace {
const QKernels kVnni = {
    "avx512-vnni",
    {QActLayout{kQ8Quads, kCorrQ8}, qact_prepare_avx2(), rows_avx512<true>},
    {QActLayout{true, 8}, qact_prepare_avx2(), rows_avx512<false>},
    {QActLayout{false, 8, true}, qact_prepare_avx2(), rows_x8_avx512<false>},
    {QActLayout{false, 128, true}, qact_prepare_avx2(), rows_x8_avx512<true>},
};
}  // namespace

// The same kernels with AVX-512 VBMI (vpermt2b) gathering a quad's weight runs: compiled
// with the extra target, chosen when CPUID reports it (Ice Lake, Zen 4; not Cascade Lake).
namespace vbmi {
#define EMBER_QUANT_VBMI 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vbmi"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512vbmi")
#endif
#include "core/kernels/llm_quant_avx512.inc"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef EMBER_QUANT_VBMI
namespace {
const QKernels kVnniVbmi = {
    "avx512-vnni-vbmi",
    {QActLayout{kQ8Quads, kCorrQ8}, qact_prepare_avx2(), rows_avx512<true>},
    {QActLayout{true, 8}, qact_prepare_avx2(), rows_avx512<false>},
    {QActLayout{false, 8, true}, qact_prepare_avx2(), rows_x8_avx512<false>},
    {QActLayout{false, 128, true}, qact_prepare_avx2(), rows_x8_avx512<true>},
};
}  // namespace
}  // namespace vbmi

const QKernels *qkernels_avx512_vnni() { return &kVnni; }
const QKernels *qkernels_avx512_vnni_vbmi() { return &vbmi::kVnniVbmi; }

#else

const QKernels *qkernels_avx512_vnni() { return nullptr; }
const QKernels *qkernels_avx512_vnni_vbmi() { return nullptr; }

#endif

}  // namespace ember
