// llm_quant.cc — Q8_0 / Q4_0 weights: block codecs, activation preparation, the portable
// integer kernels (the fallback, and what the per-ISA ones are tested against), the ISA
// choice and ember.Linear's kernel for a quantised W (llm_quant.h).
#include "core/kernels/llm_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/cpu_features.h"
#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

inline uint16_t load_u16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store_u16(uint8_t *p, uint16_t v) { std::memcpy(p, &v, 2); }

// roundf (half away from zero) for |v| < 2^23 without a libm call: v - trunc(v) is exact.
inline int round_half_away(float v) {
    int i = static_cast<int>(v);
    const float f = v - static_cast<float>(i);
    i += (f >= 0.5f) - (f <= -0.5f);
    return i;
}

void quantize_block_q8_0(const float *x, uint8_t *out) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, float_to_half(d));
    int8_t *q = reinterpret_cast<int8_t *>(out + 2);
    for (int j = 0; j < 32; j++) q[j] = static_cast<int8_t>(std::round(x[j] * id));
}

void quantize_block_q4_0(const float *x, uint8_t *out) {
    float amax = 0.0f, max = 0.0f;  // the value of largest magnitude, with its sign
    for (int j = 0; j < 32; j++) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(out, float_to_half(d));
    uint8_t *qs = out + 2;
    for (int j = 0; j < 16; j++) {
        const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
        const int q1 = std::min(15, static_cast<int>(x[j + 16] * id + 8.5f));
        qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
}

}  // namespace

void quantize_blocks(DType t, const float *x, int64_t n, uint8_t *out) {
    const size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kQuantBlock; b++) {
        if (t == DType::Q8_0)
            quantize_block_q8_0(x + b * kQuantBlock, out + b * bb);
        else
            quantize_block_q4_0(x + b * kQuantBlock, out + b * bb);
    }
}

void dequantize_blocks(DType t, const uint8_t *blocks, int64_t n, float *out) {
    const size_t bb = dtype_block_bytes(t);
    for (int64_t b = 0; b < n / kQuantBlock; b++) {
        const uint8_t *blk = blocks + b * bb;
        const float d = half_to_float(load_u16(blk));
        float *o = out + b * kQuantBlock;
        if (t == DType::Q8_0) {
            for (int j = 0; j < 32; j++)
                o[j] = static_cast<float>(static_cast<int8_t>(blk[2 + j])) * d;
        } else {
            for (int j = 0; j < 16; j++) {
                o[j] = static_cast<float>((blk[2 + j] & 15) - 8) * d;
                o[j + 16] = static_cast<float>((blk[2 + j] >> 4) - 8) * d;
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Q4_0X8 / Q8_0X8: 8 rows interleaved (llm_quant.h)
// ---------------------------------------------------------------------------------

namespace {

constexpr size_t kQ4Bytes = 18;

// The value q[j] (0..15) of a plain Q4_0 block.
inline int q4_value(const uint8_t *blk, int j) {
    return j < 16 ? blk[2 + j] & 15 : blk[2 + j - 16] >> 4;
}

// Q4_0X8: byte offset (within a group's block b nibbles) and shift of row r's value j.
inline void x8_site(int r, int j, int *byte, int *shift) {
    const int run = j / 16;         // first or second 64 bytes
    const int within = j % 16;      // 0..7 low nibbles, 8..15 high
    *byte = run * 64 + 8 * r + within % 8;
    *shift = within < 8 ? 0 : 4;
}

// Block b of row r (inside a group) of an X8 matrix as a plain block of `plain`.
void x8_block(DType plain, const uint8_t *w, int64_t nb, int64_t r, int64_t b, uint8_t *blk) {
    const size_t bb = dtype_block_bytes(plain);
    const uint8_t *grp = w + static_cast<size_t>(r / 8) * 8 * static_cast<size_t>(nb) * bb;
    const int rr = static_cast<int>(r % 8);
    if (plain == DType::Q8_0) {
        std::memcpy(blk, grp + q8x8_scale_at(nb, b) + rr * 2, 2);
        const uint8_t *v = grp + q8x8_val_at(nb, b);
        for (int j = 0; j < 32; j++) blk[2 + j] = v[(j / 8) * 64 + 8 * rr + j % 8];
        return;
    }
    const uint8_t *nib = grp + q4x8_nib_at(nb, b);
    std::memcpy(blk, grp + q4x8_scale_at(nb, b) + rr * 2, 2);
    for (int j = 0; j < 16; j++) {
        int b0, s0, b1, s1;
        x8_site(rr, j, &b0, &s0);
        x8_site(rr, j + 16, &b1, &s1);
        blk[2 + j] = static_cast<uint8_t>(((nib[b0] >> s0) & 15) | ((nib[b1] >> s1) & 15) << 4);
    }
}

}  // namespace

void x8_pack(DType plain, const uint8_t *src_rows, int64_t n, int64_t k, uint8_t *out) {
    const int64_t nb = k / kQuantBlock;
    const size_t bb = dtype_block_bytes(plain);
    const size_t row_bytes = static_cast<size_t>(nb) * bb;
    const int64_t groups = n / 8;
    for (int64_t g = 0; g < groups; g++) {
        const uint8_t *src = src_rows + static_cast<size_t>(g) * 8 * row_bytes;
        uint8_t *grp = out + static_cast<size_t>(g) * 8 * row_bytes;
        std::memset(grp, 0, 8 * row_bytes);
        for (int r = 0; r < 8; r++) {
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = src + r * row_bytes + b * bb;
                if (plain == DType::Q8_0) {
                    std::memcpy(grp + q8x8_scale_at(nb, b) + r * 2, blk, 2);
                    uint8_t *v = grp + q8x8_val_at(nb, b);
                    for (int j = 0; j < 32; j++) v[(j / 8) * 64 + 8 * r + j % 8] = blk[2 + j];
                    continue;
                }
                std::memcpy(grp + q4x8_scale_at(nb, b) + r * 2, blk, 2);
                uint8_t *nib = grp + q4x8_nib_at(nb, b);
                for (int j = 0; j < 32; j++) {
                    int byte, shift;
                    x8_site(r, j, &byte, &shift);
                    nib[byte] |= static_cast<uint8_t>(q4_value(blk, j) << shift);
                }
            }
        }
    }
    const size_t done = static_cast<size_t>(groups) * 8 * row_bytes;
    std::memcpy(out + done, src_rows + done, static_cast<size_t>(n - groups * 8) * row_bytes);
}

void x8_row(DType plain, const uint8_t *w, int64_t n, int64_t k, int64_t r, uint8_t *blocks) {
    const int64_t nb = k / kQuantBlock;
    const size_t bb = dtype_block_bytes(plain);
    const size_t row_bytes = static_cast<size_t>(nb) * bb;
    if (r >= n / 8 * 8) {
        std::memcpy(blocks, w + static_cast<size_t>(r) * row_bytes, row_bytes);
        return;
    }
    for (int64_t b = 0; b < nb; b++) x8_block(plain, w, nb, r, b, blocks + b * bb);
}

void x8_dequantize_row(DType plain, const uint8_t *w, int64_t n, int64_t k, int64_t r, float *out) {
    const int64_t nb = k / kQuantBlock;
    const size_t bb = dtype_block_bytes(plain);
    const size_t row_bytes = static_cast<size_t>(nb) * bb;
    for (int64_t b = 0; b < nb; b++) {
        uint8_t blk[34];
        if (r >= n / 8 * 8)
            std::memcpy(blk, w + static_cast<size_t>(r) * row_bytes + b * bb, bb);
        else
            x8_block(plain, w, nb, r, b, blk);
        dequantize_blocks(plain, blk, kQuantBlock, out + b * kQuantBlock);
    }
}

// ---------------------------------------------------------------------------------
// Prepared activations: [qs int8[k]][corr int32[k/4]][dxl float[k/4]], 64-byte padded
// ---------------------------------------------------------------------------------

size_t qact_row_bytes(int64_t k) {
    return (static_cast<size_t>(3 * k) + 63) & ~static_cast<size_t>(63);
}

void qact_prepare(const QActLayout &lay, const float *x, int64_t m, int64_t ldx, int64_t k,
                  uint8_t *act) {
    const int64_t nb = k / kQuantBlock;
    const size_t row_bytes = qact_row_bytes(k);
    for (int64_t i = 0; i < m; i++) {
        const float *xi = x + i * ldx;
        uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
        int8_t *qs = reinterpret_cast<int8_t *>(a);
        int32_t *corr = reinterpret_cast<int32_t *>(a + k);
        float *dxl = reinterpret_cast<float *>(a + 2 * k);
        for (int64_t b = 0; b < nb; b++) {
            const float *xb = xi + b * kQuantBlock;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(xb[j]));
            const float d = amax / 127.0f;
            const float id = d != 0.0f ? 1.0f / d : 0.0f;
            int8_t q[32];
            for (int j = 0; j < 32; j++) q[j] = static_cast<int8_t>(round_half_away(xb[j] * id));
            int32_t sum4[8];
            for (int g = 0; g < 8; g++)
                sum4[g] = q[4 * g] + q[4 * g + 1] + q[4 * g + 2] + q[4 * g + 3];
            const int64_t lane = qact_lane(lay, nb, b);
            if (lay.quads && b < nb / 4 * 4) {
                // Low halves of the quad's blocks first, then the high halves.
                const int64_t at = (b / 4) * 128 + (b % 4) * 16;
                std::memcpy(qs + at, q, 16);
                std::memcpy(qs + at + 64, q + 16, 16);
                for (int g = 0; g < 4; g++) {
                    corr[lane + g] = -lay.corr * (sum4[g] + sum4[g + 4]);
                    dxl[lane + g] = d;
                }
            } else {
                std::memcpy(qs + b * kQuantBlock, q, 32);
                const int32_t p0 = sum4[0] + sum4[2] + sum4[4] + sum4[6];
                const int32_t p1 = sum4[1] + sum4[3] + sum4[5] + sum4[7];
                for (int g = 0; g < 8; g++) {
                    corr[lane + g] = -lay.corr * (lay.pairs ? (g % 2 ? p1 : p0) : sum4[g]);
                    dxl[lane + g] = d;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// Portable kernels: natural layout, one block at a time
// ---------------------------------------------------------------------------------

void q8_0_rows_natural(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0,
                       int64_t r1, float *y, int64_t ldy) {
    const int64_t nb = k / kQuantBlock;
    const size_t row_bytes = qact_row_bytes(k);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + r * nb * 34;
        for (int64_t i = 0; i < m; i++) {
            const uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
            const int8_t *qx = reinterpret_cast<const int8_t *>(a);
            const float *dxl = reinterpret_cast<const float *>(a + 2 * k);
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = wr + b * 34;
                const int8_t *qw = reinterpret_cast<const int8_t *>(blk + 2);
                int32_t sum = 0;
                for (int j = 0; j < 32; j++) sum += qw[j] * qx[b * 32 + j];
                s += static_cast<float>(sum) * (half_to_float(load_u16(blk)) * dxl[b * 8]);
            }
            y[i * ldy + r] = s;
        }
    }
}

void q4_0_rows_natural(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0,
                       int64_t r1, float *y, int64_t ldy) {
    const int64_t nb = k / kQuantBlock;
    const size_t row_bytes = qact_row_bytes(k);
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = w + r * nb * 18;
        for (int64_t i = 0; i < m; i++) {
            const uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
            const int8_t *qx = reinterpret_cast<const int8_t *>(a);
            const float *dxl = reinterpret_cast<const float *>(a + 2 * k);
            float s = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = wr + b * 18;
                const int8_t *xb = qx + b * 32;
                int32_t sum = 0;
                for (int j = 0; j < 16; j++)
                    sum += ((blk[2 + j] & 15) - 8) * xb[j] + ((blk[2 + j] >> 4) - 8) * xb[j + 16];
                s += static_cast<float>(sum) * (half_to_float(load_u16(blk)) * dxl[b * 8]);
            }
            y[i * ldy + r] = s;
        }
    }
}

namespace {

// Q4_0X8 / Q8_0X8, one group of 8 rows at a time: integer sums of row rr's block values
// (Q8: 4 parts of 8 values per row; Q4: two 64-byte runs of low / high nibbles).
template <bool Q8>
int32_t x8_row_sum(const uint8_t *v, int rr, const int8_t *xb) {
    int32_t sum = 0;
    for (int j = 0; j < 8; j++) {
        if (Q8) {
            for (int c = 0; c < 4; c++)
                sum += static_cast<int8_t>(v[c * 64 + 8 * rr + j]) * xb[8 * c + j];
        } else {
            const uint8_t lo = v[8 * rr + j], hi = v[64 + 8 * rr + j];
            sum += ((lo & 15) - 8) * xb[j] + ((lo >> 4) - 8) * xb[8 + j] +
                   ((hi & 15) - 8) * xb[16 + j] + ((hi >> 4) - 8) * xb[24 + j];
        }
    }
    return sum;
}

template <bool Q8>
void x8_rows_portable(const uint8_t *act, int64_t m, int64_t k, const uint8_t *w, int64_t r0,
                      int64_t r1, float *y, int64_t ldy) {
    const int64_t nb = k / kQuantBlock, vb = Q8 ? 256 : 128;
    const size_t row_bytes = qact_row_bytes(k);
    const size_t group_bytes = static_cast<size_t>(nb) * 8 * (Q8 ? 34 : kQ4Bytes);
    int64_t r = r0;
    for (; r + 8 <= r1; r += 8) {
        const uint8_t *grp = w + static_cast<size_t>(r / 8) * group_bytes;
        for (int64_t i = 0; i < m; i++) {
            const uint8_t *a = act + static_cast<size_t>(i) * row_bytes;
            const int8_t *qx = reinterpret_cast<const int8_t *>(a);
            const float *dxl = reinterpret_cast<const float *>(a + 2 * k);
            float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *v = grp + x8_val_at(vb, nb, b), *sc = grp + x8_scale_at(vb, b);
                for (int rr = 0; rr < 8; rr++)
                    s[rr] += static_cast<float>(x8_row_sum<Q8>(v, rr, qx + b * 32)) *
                             (half_to_float(load_u16(sc + 2 * rr)) * dxl[b * 8]);
            }
            for (int rr = 0; rr < 8; rr++) y[i * ldy + r + rr] = s[rr];
        }
    }
    if (r < r1) (Q8 ? q8_0_rows_natural : q4_0_rows_natural)(act, m, k, w, r, r1, y, ldy);
}

const QKernels kPortable = {
    "portable",
    {QActLayout{false, 0}, nullptr, q8_0_rows_natural},
    {QActLayout{false, 0}, nullptr, q4_0_rows_natural},
    {QActLayout{false, 0}, nullptr, x8_rows_portable<false>},
    {QActLayout{false, 0}, nullptr, x8_rows_portable<true>},
};

}  // namespace

const QKernels *qkernels_portable() { return &kPortable; }

const QKernels &qkernels() {
    static const QKernels *const k = [] {
        const CpuFeatures &f = cpu_features();
        if (f.avx512 && f.avx512_vnni && f.avx512_vbmi && qkernels_avx512_vnni_vbmi())
            return qkernels_avx512_vnni_vbmi();
        if (f.avx512 && f.avx512_vnni && qkernels_avx512_vnni()) return qkernels_avx512_vnni();
        if (f.avx512 && qkernels_avx512()) return qkernels_avx512();
        if (f.avx2_fma && qkernels_avx2()) return qkernels_avx2();
        return qkernels_portable();
    }();
    return *k;
}

// ---------------------------------------------------------------------------------
// ember.Linear with a Q8_0 / Q4_0 weight
// ---------------------------------------------------------------------------------

namespace {

class QLinearKernel : public Kernel {
   public:
    QLinearKernel(DType wtype, int64_t m, int64_t k, int64_t n)
        : wtype_(wtype),
          m_(m),
          k_(k),
          n_(n),
          gemv_(wtype == DType::Q8_0     ? qkernels().q8_0
                : wtype == DType::Q4_0   ? qkernels().q4_0
                : wtype == DType::Q4_0X8 ? qkernels().q4_0x8
                                         : qkernels().q8_0x8) {}

    size_t scratch_bytes() const override {
        return static_cast<size_t>(m_) * qact_row_bytes(k_) + 64;
    }

    Status run(const KernelIO &io) override {
        const float *x = io.inputs[0].as<const float>();
        const uint8_t *w = io.inputs[1].as<const uint8_t>();
        float *y = io.outputs[0].as<float>();
        if (m_ == 0 || n_ == 0) return Status::OK();
        if (k_ == 0) {
            std::memset(y, 0, static_cast<size_t>(m_ * n_) * sizeof(float));
            return Status::OK();
        }
        uint8_t *act = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(io.scratch) + 63) &
                                                   ~static_cast<uintptr_t>(63));
        if (gemv_.prepare)
            gemv_.prepare(gemv_.layout, x, m_, k_, k_, act);
        else
            qact_prepare(gemv_.layout, x, m_, k_, k_, act);
        // The weight bytes decide the time (times the rows of X, which share each weight
        // load): one thread per ~128 KiB of that work, as the float32 Linear.
        const double work = static_cast<double>(n_) * static_cast<double>(k_) / kQuantBlock *
                            static_cast<double>(dtype_block_bytes(wtype_)) *
                            static_cast<double>(std::min<int64_t>(m_, 8));
        int threads = static_cast<int>(work / (128.0 * 1024.0));
        threads = std::max(1, std::min(io.max_threads, threads));
        // Only when it outlasts a few hand-offs to a worker (ThreadPool::worth_threads): one
        // core streams about 20 GB/s of weights = 20000 bytes per microsecond; prefill rows
        // beyond the first 8 add compute.
        if (threads > 1)
            threads = io.pool->worth_threads(
                threads, work / 20000.0 * std::max<double>(1.0, static_cast<double>(m_) / 8.0));
        const QGemvKernel &g = gemv_;
        const int64_t m = m_, k = k_, n = n_;
        if (threads <= 1) {
            g.rows(act, m, k, w, 0, n, y, n);
            return Status::OK();
        }
        // Units of whole 4-row groups (X8 types: their 8-row groups) of about 16 KiB of
        // weights; each thread streams its own contiguous part first (for_segments).
        const int64_t unit = dtype_is_x8(wtype_) ? 8 : 4;
        const double group_bytes = static_cast<double>(unit * k_ / kQuantBlock) *
                                   static_cast<double>(dtype_block_bytes(wtype_));
        const int64_t per = std::max<int64_t>(1, static_cast<int64_t>(16384.0 / group_bytes));
        const int64_t groups = (n + unit - 1) / unit;
        const int64_t chunks = (groups + per - 1) / per;
        for_segments(io.pool, threads, chunks, [&](int64_t c) {
            const int64_t r0 = c * per * unit, r1 = std::min(n, (c + 1) * per * unit);
            if (r0 < r1) g.rows(act, m, k, w, r0, r1, y, n);
        });
        return Status::OK();
    }

   private:
    DType wtype_;
    int64_t m_, k_, n_;
    const QGemvKernel &gemv_;
};

}  // namespace

Status create_qlinear(DType wtype, int64_t m, int64_t k, int64_t n, std::unique_ptr<Kernel> *out) {
    if (!dtype_is_block(wtype) || k % kQuantBlock != 0)
        return errorf(EMBER_ERR_SHAPE,
                      "Linear: a %s weight needs rows of whole 32-weight blocks, got K = %lld",
                      dtype_name(wtype), static_cast<long long>(k));
    out->reset(new QLinearKernel(wtype, m, k, n));
    return Status::OK();
}

}  // namespace ember
