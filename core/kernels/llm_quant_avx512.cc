// llm_quant_avx512.cc — AVX-512 BW Q8_0 / Q4_0 kernels (vpmaddubsw + vpmaddwd), for CPUs
// with AVX-512 but without VNNI. The code is llm_quant_avx512.inc; see there.
// GCC 12 warns inside its own AVX-512 headers (the "undefined" upper halves of
// _mm512_cvtepi32_ps, _mm512_inserti64x4 ...): a known false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cstring>

#include "core/kernels/llm_quant.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__F16C__)
#include <immintrin.h>
#define EMBER_HAVE_QUANT_AVX512 1
#endif

namespace ember {

#ifdef EMBER_HAVE_QUANT_AVX512

#include "core/kernels/llm_quant_avx512.inc"

namespace {
const QKernels kAvx512 = {
    "avx512",
    {QActLayout{false, kCorrQ8}, qact_prepare_avx2(), rows_avx512<true>},
    {QActLayout{true, 8}, qact_prepare_avx2(), rows_avx512<false>},
    {QActLayout{false, 8, true}, qact_prepare_avx2(), rows_x8_avx512<false>},
    {QActLayout{false, 0, true}, qact_prepare_avx2(), rows_x8_avx512<true>},
};
}  // namespace

const QKernels *qkernels_avx512() { return &kAvx512; }

#else

const QKernels *qkernels_avx512() { return nullptr; }

#endif

}  // namespace ember
