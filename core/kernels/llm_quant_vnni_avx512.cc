// llm_quant_vnni_avx512.cc — AVX-512 VNNI Q8_0 / Q4_0 kernels (vpdpbusd). Built with the
// AVX-512 flags plus -mavx512vnni (CMakeLists.txt); chosen only when CPUID reports VNNI.
// The code is llm_quant_avx512.inc; see there.
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
    {QActLayout{kQ8Quads, kCorrQ8}, rows_avx512<true>},
    {QActLayout{true, 8}, rows_avx512<false>},
};
}  // namespace

const QKernels *qkernels_avx512_vnni() { return &kVnni; }

#else

const QKernels *qkernels_avx512_vnni() { return nullptr; }

#endif

}  // namespace ember
