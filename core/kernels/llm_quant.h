// llm_quant.h — block-quantised weights (Q8_0, Q4_0): the block codecs, and the integer
// dot-product kernels behind ember.Linear with a quantised W (core/kernels/llm_quant.cc,
// per ISA in llm_quant_avx2.cc, llm_quant_avx512.cc, llm_quant_vnni_avx512.cc).
//
// Block layouts (GGML's, so GGUF blocks are used as they are; formats/FORMAT.md):
//   Q8_0, 34 bytes: fp16 d, int8 q[32]                 w[j] = q[j] * d
//   Q4_0, 18 bytes: fp16 d, u8 qs[16]                  w[j] = ((qs[j] & 15) - 8) * d,
//                                                      w[j + 16] = ((qs[j] >> 4) - 8) * d
// A tensor's rows (last dim) are whole blocks. Blocks are read in place from the mapped
// file, where they are 2-byte aligned at best: kernels use unaligned loads only.
//
// The matrix-vector kernels quantise each activation row once to int8 blocks of 32 with
// a float scale (dx = amax / 127, q = round(x / dx)), then sum integer products per
// block: y = sum_b dw_b * dx_b * sum_j qw_bj * qx_bj. The prepared activation ("act") is
// laid out for the ISA's inner loop (QActLayout); its bytes come from the kernel's
// scratch, planned once, so a run allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/dtype.h"
#include "core/status.h"

namespace ember {

struct InferContext;
class Kernel;

// ---- block codecs (reference; the quantiser of `ember quantize`) ----

// Quantises `n` floats (a multiple of 32) into blocks of `t` (Q8_0 or Q4_0), rounding as
// GGML: Q8_0 d = amax / 127, q = round(x / d); Q4_0 d = (the value of largest magnitude)
// / -8, q = min(15, (int)(x / d + 8.5)).
void quantize_blocks(DType t, const float *x, int64_t n, uint8_t *out);
// Inverse: `n` floats from n / 32 blocks of `t` (Q8_0 or Q4_0).
void dequantize_blocks(DType t, const uint8_t *blocks, int64_t n, float *out);

// ---- Q4_0X8: Q4_0 with every 8 rows interleaved (DType::Q4_0X8) ----
//
// A [N, K] matrix of Q4_0 blocks (nb = K / 32 per row) stored for the matrix-vector
// kernels: rows 8g..8g+7 form group g, 8 * nb * 18 bytes at g * 8 * nb * 18 (where those
// rows' plain blocks would be), one sequential stream: runs of 4 block indices, each 64
// bytes of scales (per block 16 bytes: the 8 rows' fp16 d in row order) then 4 x 128
// nibble bytes (per block); the last run holds the nb % 4 blocks left, scales then
// nibbles likewise (q4x8_scale_at, q4x8_nib_at). Nibble bytes of block b: byte t = 8r + j
// (row r, j < 8) of the first 64 holds q[r][8 + j] << 4 | q[r][j], of the second 64
// q[r][24 + j] << 4 | q[r][16 + j], where q[r][0..31] are row r's block-b values
// (w = (q - 8) * d). A kernel reads each 64-byte run once per block and 8 rows: its low
// nibbles are 8 weights of each row (lane pairs 2r, 2r + 1 of a zmm take 4 each against
// one broadcast 8-byte run of the activation), its high nibbles the next 8. Rows after the
// last whole group (N % 8 of them) stay plain Q4_0 rows at their usual offset. The size is
// Q4_0's: N * nb * 18 bytes.
//
// Why the scales sit inside the stream: with them after a group's nibbles (a second
// stream 3 KB ahead) the kernel streamed 12-14 GB/s from memory, inline 21-24 GB/s (Zen 4,
// 110M-shaped matrices; a plain read of the same bytes 28-30 GB/s).

// Offsets within a group (rows of nb blocks) of block b's 16 scale bytes and its `vb`
// value bytes (128 for Q4_0X8, 256 for Q8_0X8): runs of 4 blocks, 64 + 4 * vb bytes each.
inline size_t x8_scale_at(int64_t vb, int64_t b) {
    return static_cast<size_t>(b / 4 * (64 + 4 * vb) + b % 4 * 16);
}
inline size_t x8_val_at(int64_t vb, int64_t nb, int64_t b) {
    const int64_t run = b / 4, in_run = nb - run * 4 < 4 ? nb - run * 4 : 4;
    return static_cast<size_t>(run * (64 + 4 * vb) + in_run * 16 + b % 4 * vb);
}
inline size_t q4x8_scale_at(int64_t, int64_t b) { return x8_scale_at(128, b); }
inline size_t q4x8_nib_at(int64_t nb, int64_t b) { return x8_val_at(128, nb, b); }

// Q8_0X8 (DType::Q8_0X8): the same for Q8_0. A group's runs of 4 block indices are 64
// bytes of scales (16 per block, as above) then 4 x 256 value bytes; block b's 256 are four
// 64-byte parts, part c holding byte 8r + j = q[r][8c + j] (row r's values 8c..8c+7), so a
// zmm load is 8 values of each of the 8 rows, against one broadcast 8-byte activation run.
// The last run (nb % 4 blocks): their scales, then their values. Rows after the last whole
// group stay plain. Same size as Q8_0 (q8x8_scale_at, q8x8_val_at).
inline size_t q8x8_scale_at(int64_t, int64_t b) { return x8_scale_at(256, b); }
inline size_t q8x8_val_at(int64_t nb, int64_t b) { return x8_val_at(256, nb, b); }

// Rewrites plain rows [n, k] of `plain` (Q4_0 or Q8_0) as its X8 type (out and src_rows
// must not overlap).
void x8_pack(DType plain, const uint8_t *src_rows, int64_t n, int64_t k, uint8_t *out);
// Row r of an X8 matrix of `plain` blocks, as plain blocks (k / 32 blocks).
void x8_row(DType plain, const uint8_t *w, int64_t n, int64_t k, int64_t r, uint8_t *blocks);
// Row r of an X8 matrix of `plain` blocks, as k floats.
void x8_dequantize_row(DType plain, const uint8_t *w, int64_t n, int64_t k, int64_t r, float *out);

// ---- prepared activations ----

// How an ISA wants a quantised activation row. Natural layout: qs int8[k], the blocks in
// order; then one int32 and one float per 4-value lane group of qs (8 per block, in qs
// order): the correction -corr * sum(q of the group) and the dx of its block.
// With `quads` (AVX-512 Q4_0, VNNI Q8_0), the first k/128 groups of four blocks A..D
// are stored as their low halves [A0..15, B0..15, C0..15, D0..15] then their high halves
// [A16..31, ..., D16..31], matching four nibble runs unpacked in one zmm; lane l of a
// quad (16 per quad) then covers bytes 4l..4l+3 of both halves (block l / 4), so its
// correction sums 8 values. The blocks after the last whole quad are natural, their
// lanes (8 per block) following the quads' (see qact_lane).
// With `pairs` (Q4_0X8; natural order, not quads), every block's 8 correction lanes hold
// P0, P1, P0, P1, ...: P0 = -corr * the sum of its values 0..3, 8..11, 16..19, 24..27 (the
// lanes 2r of the X8 kernels), P1 of the other 16, so one 8-byte broadcast feeds a zmm.
struct QActLayout {
    bool quads = false;
    int corr = 0;  // 0: no correction lanes are read
    bool pairs = false;
};

// Index of block b's first lane in a row of nb blocks laid out by `lay`.
inline int64_t qact_lane(const QActLayout &lay, int64_t nb, int64_t b) {
    if (!lay.quads) return b * 8;
    const int64_t nq = nb / 4 * 4;
    return b < nq ? b * 4 : nq * 4 + (b - nq) * 8;
}

// Bytes of one prepared activation row of width k (64-byte multiple).
size_t qact_row_bytes(int64_t k);
// Quantises rows [0, m) of x (row stride ldx) into `act` (m * qact_row_bytes(k) bytes).
void qact_prepare(const QActLayout &lay, const float *x, int64_t m, int64_t ldx, int64_t k,
                  uint8_t *act);

// qact_prepare with AVX2 (bit-identical output; nullptr when this build lacks AVX2 code).
// 768 values: 1.15 -> 0.2 us, 85 times per decoded token of the 110M shape.
using QActPrepareFn = void (*)(const QActLayout &lay, const float *x, int64_t m, int64_t ldx,
                               int64_t k, uint8_t *act);
QActPrepareFn qact_prepare_avx2();

// One ISA's kernels for one weight type.
struct QGemvKernel {
    QActLayout layout;
    QActPrepareFn prepare;  // the activation's preparation (nullptr: qact_prepare)
    // y[i*ldy + r] = dot(activation row i, dequantised weight row r) for i < m, r in [r0, r1).
    // `act` holds m prepared rows of width k, `w` the [N, k] blocks.
    void (*rows)(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0, int64_t r1,
                 float *y, int64_t ldy);
};

// For q4_0x8 and q8_0x8, `rows` takes r0 as a multiple of 8 and r1 as a multiple of 8 or n (then
// the N % 8 plain rows after the last group are computed as well).
struct QKernels {
    const char *name;
    QGemvKernel q8_0, q4_0, q4_0x8, q8_0x8;
};

// The portable Q4_0 rows kernel on a natural activation layout (reads qs and the dx lanes
// only): the N % 8 plain rows of a Q4_0X8 matrix in every ISA's q4_0x8 kernel.
void q4_0_rows_natural(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0,
                       int64_t r1, float *y, int64_t ldy);
// The same for Q8_0 (the N % 8 plain rows of a Q8_0X8 matrix).
void q8_0_rows_natural(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0,
                       int64_t r1, float *y, int64_t ldy);

// The table cpu_features() allows (EMBER_CPU_ISA caps it). Per-ISA tables are nullptr
// when this build lacks the ISA's code; they do not check the CPU (tests do).
const QKernels &qkernels();
const QKernels *qkernels_portable();
const QKernels *qkernels_avx2();
const QKernels *qkernels_avx512();       // AVX-512 BW: vpmaddubsw + vpmaddwd
const QKernels *qkernels_avx512_vnni();  // AVX-512 VNNI: vpdpbusd
const QKernels *qkernels_avx512_vnni_vbmi();  // VNNI + VBMI: Q4_0 quads gathered by vpermt2b

// ---- ops ----

// ember.Linear's kernel for a Q8_0 / Q4_0 / Q4_0X8 / Q8_0X8 W [n, k], m rows of X.
Status create_qlinear(DType wtype, int64_t m, int64_t k, int64_t n, std::unique_ptr<Kernel> *out);

}  // namespace ember
