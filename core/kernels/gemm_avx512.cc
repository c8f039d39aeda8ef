// gemm_avx512.cc — the AVX-512 SGEMM micro-kernel (built with AVX-512 F/BW/VL/DQ flags).
#include "core/kernels/gemm.h"

namespace ember {

const SgemmKernel *sgemm_kernel_avx512() { return nullptr; }

}  // namespace ember
