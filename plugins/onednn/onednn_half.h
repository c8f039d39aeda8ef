// onednn_half.h — float16 / bfloat16 <-> float32 at the subgraph's edges.
//
// oneDNN 2.6 converts float16 only in its reference reorder on CPUs without AVX512-FP16
// (about 30 ns per element here: 4.9 ms for SqueezeNet's input), so the plugin converts
// row-major half tensors itself: F16C instructions where the CPU has them (checked once),
// a portable loop otherwise. Rounding to half is to nearest even, as the built-in kernels do.
#ifndef EMBER_PLUGINS_ONEDNN_HALF_H
#define EMBER_PLUGINS_ONEDNN_HALF_H

#include <cstddef>
#include <cstdint>

#include "ember_plugin.h"

namespace ember_onednn {

float half_bits_to_float(uint16_t h);
// `type` is EMBER_DTYPE_FLOAT16 or EMBER_DTYPE_BFLOAT16.
void half_to_float(ember_dtype type, const void *src, float *dst, size_t n);
void float_to_half(ember_dtype type, const float *src, void *dst, size_t n);

}  // namespace ember_onednn

#endif  // EMBER_PLUGINS_ONEDNN_HALF_H
