// test_llm_quant.cc — block-quantised weights (core/kernels/llm_quant.h).
//
// What it checks:
//   - the Q8_0 / Q4_0 codecs: exact bytes of hand-made blocks (GGML's rounding: Q8_0
//     d = amax / 127; Q4_0 d = the value of largest magnitude / -8, q = min(15, x/d + 8.5)),
//     dequantise(quantise(x)) within half a step (Q8_0) or one step (Q4_0), zero blocks;
//   - the integer dot-product kernels of every ISA this machine has (portable always; AVX2,
//     AVX-512 BW, AVX-512 VNNI when present) against a scalar reference in double that
//     dequantises the weights and the independently quantised activation: K = 32 ... 4096
//     (odd and even block counts), N rows with a sub-range [r0, r1), T = 1 ... 9 activation
//     rows (the prefill path shares weight loads between 4 rows), random and extreme values
//     (-128 in a Q8_0 weight, all-equal nibbles 0 and 15);
//   - ember.Linear through its schema with a Q8_0 / Q4_0 W on 1 and 2 threads, and Gather
//     of a quantised table (rows dequantised), against the same references;
//   - shapes the kernels refuse: K not a multiple of 32.
// No timing here.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/kernels/cpu_features.h"
#include "core/kernels/llm_quant.h"
#include "core/op.h"
#include "core/thread_pool.h"

using namespace ember;

namespace {

std::vector<const QKernels *> isa_tables() {
    std::vector<const QKernels *> t = {qkernels_portable()};
    if (cpu_isa_supported(CpuIsa::Avx2) && qkernels_avx2()) t.push_back(qkernels_avx2());
    if (cpu_isa_supported(CpuIsa::Avx512) && qkernels_avx512()) t.push_back(qkernels_avx512());
    if (cpu_has_avx512_vnni() && qkernels_avx512_vnni()) t.push_back(qkernels_avx512_vnni());
    if (cpu_has_avx512_vnni() && cpu_has_avx512_vbmi() && qkernels_avx512_vnni_vbmi())
        t.push_back(qkernels_avx512_vnni_vbmi());
    return t;
}

uint16_t rd16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// ---- codecs ----

void test_codec_exact(void **) {
    // Q8_0: x = j - 16 (amax 16): d = 16/127, q = round(x * 127 / 16).
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = static_cast<float>(j - 16);
    uint8_t b8[34];
    quantize_blocks(DType::Q8_0, x, 32, b8);
    assert_int_equal(rd16(b8), float_to_half(16.0f / 127.0f));
    for (int j = 0; j < 32; j++) {
        int want = static_cast<int>(std::round((j - 16) * (127.0f / 16.0f)));
        if (static_cast<int8_t>(b8[2 + j]) != want)
            fail_msg("q8_0 element %d: got %d, want %d", j, static_cast<int8_t>(b8[2 + j]), want);
    }
    // Q4_0: largest magnitude -16 -> d = 2, q = min(15, x/2 + 8.5): -16 -> 0, 15 -> 15.
    uint8_t b4[18];
    quantize_blocks(DType::Q4_0, x, 32, b4);
    assert_int_equal(rd16(b4), float_to_half(2.0f));
    for (int j = 0; j < 16; j++) {
        int lo = std::min(15, static_cast<int>(x[j] / 2.0f + 8.5f));
        int hi = std::min(15, static_cast<int>(x[j + 16] / 2.0f + 8.5f));
        if (b4[2 + j] != (lo | hi << 4))
            fail_msg("q4_0 byte %d: got 0x%02x, want 0x%02x", j, b4[2 + j], lo | hi << 4);
    }
    // Positive largest value: d negative, the maximum maps to nibble 0.
    for (int j = 0; j < 32; j++) x[j] = j == 5 ? 8.0f : 1.0f;
    quantize_blocks(DType::Q4_0, x, 32, b4);
    assert_true(half_to_float(rd16(b4)) == -1.0f);
    assert_int_equal(b4[2 + 5] & 15, 0);
    // A zero block: d = 0 and every weight decodes to 0.
    std::memset(x, 0, sizeof x);
    float back[32];
    quantize_blocks(DType::Q8_0, x, 32, b8);
    dequantize_blocks(DType::Q8_0, b8, 32, back);
    for (float v : back) assert_true(v == 0.0f);
    quantize_blocks(DType::Q4_0, x, 32, b4);
    dequantize_blocks(DType::Q4_0, b4, 32, back);
    for (float v : back) assert_true(v == 0.0f);
    assert_int_equal(dtype_block_bytes(DType::Q8_0), 34);
    assert_int_equal(dtype_block_bytes(DType::Q4_0), 18);
    assert_int_equal(dtype_storage_bytes(DType::Q4_0, 64 * 3), 6 * 18);
    assert_string_equal(dtype_name(DType::Q8_0), "q8_0");
    assert_false(dtype_valid(32));  // not an element type: the C API refuses it
}

void test_codec_round_trip(void **) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t n = 32 * 50;
    std::vector<float> x(n), back(n);
    for (auto &v : x) v = nd(rng);
    for (DType t : {DType::Q8_0, DType::Q4_0}) {
        std::vector<uint8_t> b(dtype_storage_bytes(t, n));
        quantize_blocks(t, x.data(), n, b.data());
        dequantize_blocks(t, b.data(), n, back.data());
        for (int64_t blk = 0; blk < n / 32; blk++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[blk * 32 + j]));
            // Half a step of the scale (Q8_0: amax/127, Q4_0: amax/8), plus fp16 scale rounding.
            const float step = t == DType::Q8_0 ? amax / 127.0f : amax / 8.0f;
            for (int j = 0; j < 32; j++) {
                const float e = std::fabs(back[blk * 32 + j] - x[blk * 32 + j]);
                if (e > step * (t == DType::Q8_0 ? 0.51f : 1.01f) + amax * 1e-3f)
                    fail_msg("%s block %lld element %d: %g -> %g (step %g)", dtype_name(t),
                             static_cast<long long>(blk), j, x[blk * 32 + j], back[blk * 32 + j],
                             step);
            }
        }
    }
}

// ---- kernels against the scalar reference ----

// The reference's own activation quantisation: per block dx = amax / 127, q = round(x / dx).
void ref_quant_act(const float *x, int64_t k, std::vector<double> *out) {
    out->resize(k);
    for (int64_t b = 0; b < k / 32; b++) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < 32; j++)
            (*out)[b * 32 + j] = std::round(x[b * 32 + j] * id) * static_cast<double>(d);
    }
}

struct Case {
    int64_t m, k, n, r0, r1;
};

void fill_weights(std::mt19937 &rng, DType t, int64_t n, int64_t k, std::vector<uint8_t> *w,
                  bool extreme) {
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    std::vector<float> f(static_cast<size_t>(n * k));
    for (auto &v : f) v = ud(rng) * (1.0f + 3.0f * (ud(rng) > 0.9f));
    w->resize(dtype_storage_bytes(t, n * k));
    quantize_blocks(t, f.data(), n * k, w->data());
    if (extreme) {  // first block: Q8_0 -128 and 127 in place; Q4_0 nibbles 0 and 15
        uint8_t *q = w->data() + 2;
        if (t == DType::Q8_0) {
            for (int j = 0; j < 32; j++) q[j] = static_cast<uint8_t>(j % 2 ? 0x80 : 0x7f);
        } else {
            for (int j = 0; j < 16; j++) q[j] = j % 2 ? 0xf0 : 0x0f;
        }
    }
}

// X8 types: the weights are filled as their plain type (the reference reads those), then
// packed.
void check_kernel(const QKernels &isa, DType t, const Case &c, std::mt19937 &rng, bool extreme) {
    std::uniform_real_distribution<float> ud(-2.0f, 2.0f);
    const bool x8 = dtype_is_x8(t);
    const DType plain = dtype_plain_blocks(t);
    std::vector<uint8_t> w, packed;
    fill_weights(rng, plain, c.n, c.k, &w, extreme);
    if (x8) {
        packed.resize(w.size());
        x8_pack(plain, w.data(), c.n, c.k, packed.data());
    }
    std::vector<float> x(static_cast<size_t>(c.m * c.k));
    for (auto &v : x) v = ud(rng);
    if (extreme)
        for (int64_t j = 0; j < c.k; j++) x[j] = j % 3 ? 2.0f : -2.0f;
    const QGemvKernel &g = t == DType::Q8_0     ? isa.q8_0
                           : t == DType::Q4_0   ? isa.q4_0
                           : t == DType::Q4_0X8 ? isa.q4_0x8
                                                : isa.q8_0x8;
    std::vector<uint8_t> act(static_cast<size_t>(c.m) * qact_row_bytes(c.k) + 64);
    if (g.prepare)
        g.prepare(g.layout, x.data(), c.m, c.k, c.k, act.data());
    else
        qact_prepare(g.layout, x.data(), c.m, c.k, c.k, act.data());
    std::vector<float> y(static_cast<size_t>(c.m * c.n), NAN);
    g.rows(act.data(), c.m, c.k, x8 ? packed.data() : w.data(), c.r0, c.r1, y.data(), c.n);
    std::vector<float> wf(static_cast<size_t>(c.n * c.k));
    dequantize_blocks(plain, w.data(), c.n * c.k, wf.data());
    std::vector<double> xq;
    for (int64_t i = 0; i < c.m; i++) {
        ref_quant_act(x.data() + i * c.k, c.k, &xq);
        for (int64_t r = 0; r < c.n; r++) {
            const float got = y[i * c.n + r];
            if (r < c.r0 || r >= c.r1) {
                if (!std::isnan(got))
                    fail_msg("%s %s m%lld k%lld: row %lld outside [%lld, %lld) was written",
                             isa.name, dtype_name(t), (long long)c.m, (long long)c.k, (long long)r,
                             (long long)c.r0, (long long)c.r1);
                continue;
            }
            double want = 0, mag = 0;
            for (int64_t p = 0; p < c.k; p++) {
                want += static_cast<double>(wf[r * c.k + p]) * xq[p];
                mag += std::fabs(static_cast<double>(wf[r * c.k + p]) * xq[p]);
            }
            if (!(std::fabs(got - want) <= 1e-5 * mag + 1e-6))
                fail_msg(
                    "%s %s m=%lld k=%lld n=%lld: y[%lld][%lld] = %.7g, reference %.7g (|terms| "
                    "%.4g)",
                    isa.name, dtype_name(t), (long long)c.m, (long long)c.k, (long long)c.n,
                    (long long)i, (long long)r, got, want, mag);
        }
    }
}

void test_kernels_vs_reference(void **) {
    std::mt19937 rng(42);
    const Case cases[] = {
        {1, 32, 3, 0, 3},  {1, 64, 5, 0, 5},   {1, 96, 4, 1, 4},   {1, 288, 9, 0, 9},
        {1, 768, 7, 2, 7}, {1, 4096, 3, 0, 3}, {1, 2080, 2, 0, 2}, {2, 64, 4, 0, 4},
        {3, 160, 5, 0, 5}, {4, 288, 6, 1, 6},  {5, 128, 3, 0, 3},  {7, 224, 4, 0, 4},
        {9, 768, 3, 0, 3}, {8, 4096, 2, 0, 2}, {6, 32, 9, 3, 8},
    };
    const std::vector<const QKernels *> isas = isa_tables();
    print_message("ISA tables tested:");
    for (const QKernels *q : isas) print_message(" %s", q->name);
    print_message(" (dispatched: %s)\n", qkernels().name);
    for (const QKernels *isa : isas)
        for (DType t : {DType::Q8_0, DType::Q4_0}) {
            for (const Case &c : cases) check_kernel(*isa, t, c, rng, false);
            check_kernel(*isa, t, Case{1, 64, 2, 0, 2}, rng, true);
            check_kernel(*isa, t, Case{5, 96, 2, 0, 2}, rng, true);
        }
    // Q4_0X8: ranges start at a group (multiple of 8) and end at one or at n (then the
    // n % 8 plain rows after the last group are computed too).
    const Case x8_cases[] = {
        {1, 32, 8, 0, 8},     {1, 768, 64, 0, 64},  {1, 64, 13, 0, 13},  {1, 64, 13, 8, 13},
        {2, 96, 7, 0, 7},     {3, 288, 20, 8, 20},  {4, 4096, 16, 0, 16}, {5, 160, 24, 8, 16},
        {9, 768, 17, 0, 17},  {1, 2080, 8, 0, 8},   {6, 32, 40, 16, 40},  {1, 5632, 16, 8, 16},
        {8, 128, 172, 0, 172}, {1, 288, 172, 160, 172},
    };
    for (const QKernels *isa : isas)
        for (DType t : {DType::Q4_0X8, DType::Q8_0X8}) {
            for (const Case &c : x8_cases) check_kernel(*isa, t, c, rng, false);
            check_kernel(*isa, t, Case{1, 64, 8, 0, 8}, rng, true);
            check_kernel(*isa, t, Case{5, 96, 16, 0, 16}, rng, true);
        }
}

// x8_pack moves every value and scale of a group to its documented site, keeps the rows
// after the last group plain, and x8_row / x8_dequantize_row invert it.
void test_x8_layout(void **) {
    std::mt19937 rng(11);
    for (DType plain : {DType::Q4_0, DType::Q8_0})
      for (int64_t n : {8, 13, 24, 5})
        for (int64_t k : {96, 128, 288, 544}) {  // nb % 4 = 3, 0, 1, 1
        const int64_t nb = k / 32;
        const size_t bb = dtype_block_bytes(plain);
        std::vector<uint8_t> src;
        fill_weights(rng, plain, n, k, &src, false);
        std::vector<uint8_t> x8(src.size());
        x8_pack(plain, src.data(), n, k, x8.data());
        assert_int_equal(x8.size(), dtype_storage_bytes(plain == DType::Q4_0 ? DType::Q4_0X8 : DType::Q8_0X8, n * k));
        for (int64_t r = 0; r < n / 8 * 8; r++) {  // spot the documented byte sites
            const uint8_t *grp = x8.data() + (r / 8) * 8 * nb * bb;
            const int rr = static_cast<int>(r % 8);
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = src.data() + (r * nb + b) * bb;
                // Runs of 4 blocks: 64 scale bytes, then 4 x 128 (Q4) / 256 (Q8) value bytes;
                // the last run (nb % 4 blocks) its scales, then its values.
                const int64_t in_run = std::min<int64_t>(4, nb - b / 4 * 4);
                const int64_t vb = plain == DType::Q4_0 ? 128 : 256, run = 64 + 4 * vb;
                const int64_t sc_at = b / 4 * run + b % 4 * 16, v_at = b / 4 * run + in_run * 16 + b % 4 * vb;
                if (plain == DType::Q4_0) {
                    assert_int_equal(sc_at, q4x8_scale_at(nb, b));
                    assert_int_equal(v_at, q4x8_nib_at(nb, b));
                } else {
                    assert_int_equal(sc_at, q8x8_scale_at(nb, b));
                    assert_int_equal(v_at, q8x8_val_at(nb, b));
                }
                assert_memory_equal(grp + sc_at + 2 * rr, blk, 2);
                for (int j = 0; j < 8; j++) {
                    if (plain == DType::Q8_0) {
                        for (int c = 0; c < 4; c++)  // part c: byte 8r + j = q[8c + j]
                            assert_int_equal(grp[v_at + 64 * c + 8 * rr + j], blk[2 + 8 * c + j]);
                        continue;
                    }
                    const uint8_t first = grp[v_at + 8 * rr + j], second = grp[v_at + 64 + 8 * rr + j];
                    assert_int_equal(first & 15, blk[2 + j] & 15);          // q[j]
                    assert_int_equal(first >> 4, blk[2 + 8 + j] & 15);      // q[8 + j]
                    assert_int_equal(second & 15, blk[2 + j] >> 4);         // q[16 + j]
                    assert_int_equal(second >> 4, blk[2 + 8 + j] >> 4);     // q[24 + j]
                }
            }
        }
        const size_t row_bytes = static_cast<size_t>(nb) * bb;
        std::vector<uint8_t> row(row_bytes);
        std::vector<float> want(k), got(k);
        for (int64_t r = 0; r < n; r++) {
            x8_row(plain, x8.data(), n, k, r, row.data());
            assert_memory_equal(row.data(), src.data() + r * row_bytes, row_bytes);
            dequantize_blocks(plain, src.data() + r * row_bytes, k, want.data());
            x8_dequantize_row(plain, x8.data(), n, k, r, got.data());
            assert_memory_equal(got.data(), want.data(), k * sizeof(float));
        }
        if (n % 8)  // the tail rows are plain, at their usual offset
            assert_memory_equal(x8.data() + n / 8 * 8 * row_bytes, src.data() + n / 8 * 8 * row_bytes,
                                (n % 8) * row_bytes);
    }
}

// A table's own activation preparation writes exactly qact_prepare's bytes (every layout
// and correction: natural, quads with a natural tail; ties at +-0.5 that round away from
// zero, zero blocks, values that reach +-127).
void test_prepare_bit_exact(void **) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> ud(-3.0f, 3.0f);
    for (const QKernels *isa : isa_tables())
        for (const QGemvKernel *g : {&isa->q8_0, &isa->q4_0, &isa->q4_0x8, &isa->q8_0x8}) {
            if (!g->prepare) continue;
            for (int64_t k : {32, 96, 128, 288, 768, 2080}) {
                const int64_t m = 3;
                std::vector<float> x(static_cast<size_t>(m * (k + 5)));
                for (auto &v : x) v = ud(rng);
                for (int64_t j = 0; j < k; j++) {  // row 1: block maxima 127, halves k + 0.5
                    const float unit = 0.03125f;  // amax 127 * unit: x / d = j-th value exactly
                    x[(k + 5) + j] = (j % 32 == 0) ? 127 * unit : (static_cast<float>(j % 64) - 31.5f) * unit;
                }
                for (int64_t j = 0; j < std::min<int64_t>(k, 64); j++) x[2 * (k + 5) + j] = 0.0f;
                std::vector<uint8_t> want(static_cast<size_t>(m) * qact_row_bytes(k), 0xcd),
                    got(want.size(), 0xcd);
                qact_prepare(g->layout, x.data(), m, k + 5, k, want.data());
                g->prepare(g->layout, x.data(), m, k + 5, k, got.data());
                for (size_t i = 0; i < want.size(); i++)
                    if (want[i] != got[i])
                        fail_msg("%s prepare (quads %d, corr %d, pairs %d) k=%lld: byte %zu of %zu is %d, qact_prepare %d",
                                 isa->name, g->layout.quads, g->layout.corr, g->layout.pairs, (long long)k, i,
                                 want.size(), got[i], want[i]);
            }
        }
}

// ---- through the op schemas ----

const OpSchema *schema(const char *op, const char *domain) {
    const OpSchema *s = builtin_ops().find(op, domain);
    assert_non_null(s);
    return s;
}

void test_linear_op(void **) {
    ThreadPool pool(2);
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> ud(-1.0f, 1.0f);
    Node node;
    node.op_type = "Linear";
    node.domain = "ember";
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_0X8, DType::Q8_0X8})
        for (int64_t m : {1, 6}) {
            const int64_t k = 256, n = 300;
            std::vector<uint8_t> w;
            std::vector<float> wf(static_cast<size_t>(n * k));
            fill_weights(rng, dtype_plain_blocks(t), n, k, &w, false);
            dequantize_blocks(dtype_plain_blocks(t), w.data(), n * k, wf.data());
            if (dtype_is_x8(t)) {
                std::vector<uint8_t> plain = w;
                x8_pack(dtype_plain_blocks(t), plain.data(), n, k, w.data());
            }
            std::vector<float> x(static_cast<size_t>(m * k));
            for (auto &v : x) v = ud(rng);
            TensorInfo xi{DType::F32, {m, k}, nullptr}, wi{t, {n, k}, w.data()};
            InferContext ctx;
            ctx.node = &node;
            ctx.inputs = {&xi, &wi};
            ctx.outputs.resize(1);
            assert_int_equal(schema("Linear", "ember")->infer(ctx).code(), EMBER_OK);
            assert_int_equal(static_cast<int>(ctx.output(0).dtype), static_cast<int>(DType::F32));
            std::unique_ptr<Kernel> kern;
            assert_int_equal(schema("Linear", "ember")->create(ctx, &kern).code(), EMBER_OK);
            std::vector<uint8_t> scratch(kern->scratch_bytes() + 64);
            for (int threads : {1, 2}) {
                std::vector<float> y(static_cast<size_t>(m * n), NAN);
                Tensor ins[2] = {{DType::F32, {m, k}, x.data()}, {t, {n, k}, w.data()}};
                Tensor out{DType::F32, {m, n}, y.data()};
                KernelIO io;
                io.inputs = ins;
                io.num_inputs = 2;
                io.outputs = &out;
                io.num_outputs = 1;
                io.scratch = scratch.data();
                io.pool = &pool;
                io.max_threads = threads;
                assert_int_equal(kern->run(io).code(), EMBER_OK);
                std::vector<double> xq;
                for (int64_t i = 0; i < m; i++) {
                    ref_quant_act(x.data() + i * k, k, &xq);
                    for (int64_t r = 0; r < n; r++) {
                        double want = 0, mag = 0;
                        for (int64_t p = 0; p < k; p++) {
                            want += wf[r * k + p] * xq[p];
                            mag += std::fabs(wf[r * k + p] * xq[p]);
                        }
                        if (!(std::fabs(y[i * n + r] - want) <= 1e-5 * mag + 1e-6))
                            fail_msg("Linear %s m=%lld threads=%d: y[%lld][%lld] = %g, want %g",
                                     dtype_name(t), (long long)m, threads, (long long)i,
                                     (long long)r, y[i * n + r], want);
                    }
                }
            }
        }
    // K not a multiple of 32 is refused at inference.
    TensorInfo xi{DType::F32, {1, 40}, nullptr}, wi{DType::Q8_0, {4, 40}, nullptr};
    InferContext ctx;
    ctx.node = &node;
    ctx.inputs = {&xi, &wi};
    ctx.outputs.resize(1);
    Status st = schema("Linear", "ember")->infer(ctx);
    assert_int_equal(st.code(), EMBER_ERR_SHAPE);
    assert_non_null(strstr(st.message().c_str(), "multiple of 32"));
}

void test_gather_op(void **) {
    ThreadPool pool(1);
    std::mt19937 rng(5);
    Node node;
    node.op_type = "Gather";
    Attribute axis;
    axis.name = "axis";
    axis.i = 0;
    node.attrs.push_back(axis);
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_0X8, DType::Q8_0X8}) {
        const int64_t rows = 10, k = 64;
        std::vector<uint8_t> w;
        fill_weights(rng, dtype_plain_blocks(t), rows, k, &w, false);
        std::vector<float> wf(static_cast<size_t>(rows * k));
        dequantize_blocks(dtype_plain_blocks(t), w.data(), rows * k, wf.data());
        if (dtype_is_x8(t)) {  // rows 0..7 a group, 8 and 9 plain
            std::vector<uint8_t> plain = w;
            x8_pack(dtype_plain_blocks(t), plain.data(), rows, k, w.data());
        }
        int64_t idx[3] = {7, 0, -1};
        TensorInfo xi{t, {rows, k}, w.data()}, ii{DType::I64, {3}, nullptr};
        InferContext ctx;
        ctx.node = &node;
        ctx.inputs = {&xi, &ii};
        ctx.outputs.resize(1);
        assert_int_equal(schema("Gather", "")->infer(ctx).code(), EMBER_OK);
        assert_int_equal(static_cast<int>(ctx.output(0).dtype), static_cast<int>(DType::F32));
        assert_true(ctx.output(0).shape == (Shape{3, k}));
        std::unique_ptr<Kernel> kern;
        assert_int_equal(schema("Gather", "")->create(ctx, &kern).code(), EMBER_OK);
        std::vector<float> y(static_cast<size_t>(3 * k));
        Tensor ins[2] = {{t, {rows, k}, w.data()}, {DType::I64, {3}, idx}};
        Tensor out{DType::F32, {3, k}, y.data()};
        KernelIO io;
        io.inputs = ins;
        io.num_inputs = 2;
        io.outputs = &out;
        io.num_outputs = 1;
        io.pool = &pool;
        assert_int_equal(kern->run(io).code(), EMBER_OK);
        const int64_t want_rows[3] = {7, 0, 9};
        for (int u = 0; u < 3; u++)
            for (int64_t j = 0; j < k; j++)
                if (y[u * k + j] != wf[want_rows[u] * k + j])
                    fail_msg("Gather %s: row %d element %lld = %g, want %g", dtype_name(t), u,
                             (long long)j, y[u * k + j], wf[want_rows[u] * k + j]);
        idx[1] = rows;  // out of range: refused at run time
        assert_int_equal(kern->run(io).code(), EMBER_ERR_INVALID_ARGUMENT);
        // Along another axis: refused.
        node.attrs[0].i = 1;
        assert_int_equal(schema("Gather", "")->infer(ctx).code(), EMBER_ERR_UNSUPPORTED);
        node.attrs[0].i = 0;
    }
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_exact),
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_kernels_vs_reference),
        cmocka_unit_test(test_x8_layout),
        cmocka_unit_test(test_prepare_bit_exact),
        cmocka_unit_test(test_linear_op),
        cmocka_unit_test(test_gather_op),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
