// gemm.cc — the portable SGEMM: packing, cache blocking, threading, dispatch, and the
// plain C++ micro-kernel (the fallback and the oracle for the ISA kernels).
//
// Loop nest of one task (a block of C of up to MC x NCB), after BLIS:
//   for pc in K step KC:                 A block (MC x KC) packed -> L2
//                                        B block (KC x NCB) packed -> L2/L3
//     for jr in NCB step NR:             B micro-panel (KC x NR) stays in L1
//       for ir in MC step MR:            A micro-panel streams from L2
//         micro-kernel: MR x NR tile of C in registers, k = KC
// Threads take whole tasks (2-D grid of MC x NCB blocks of C) from an atomic counter.
// Each thread ("slot") packs into its own slice of the caller's scratch, so nothing is
// shared but the read-only inputs and disjoint blocks of C. Packing an operand per task
// repeats work across tasks, but it costs O(MC*KC) for O(MC*KC*NCB) flops (and
// O(KC*NCB) for the same flops on the B side): under 1% for the block sizes used.
#include "core/kernels/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "core/thread_pool.h"

namespace ember {

// Defined here, used by every ISA file for partial tiles: stores an accumulator tile
// (row stride acc_ld) into C through the epilogue.
void sgemm_store_tile(const float *acc, int acc_ld, float *c, int64_t ldc, int m, int n,
                      const GemmEpilogue &ep);

void sgemm_store_tile(const float *acc, int acc_ld, float *c, int64_t ldc, int m, int n,
                      const GemmEpilogue &ep) {
    for (int i = 0; i < m; i++) {
        float rb = ep.row_bias ? ep.row_bias[i] : 0.0f;
        const float *ar = acc + static_cast<int64_t>(i) * acc_ld;
        float *cr = c + i * ldc;
        for (int j = 0; j < n; j++) {
            float v = ep.alpha * ar[j] + rb;
            if (ep.col_bias) v += ep.col_bias[j];
            if (ep.beta != 0.0f) v += ep.beta * cr[j];
            cr[j] = v;
        }
    }
}

namespace {

// Portable micro-tile: MR x NR = 4 x 8. Written so that a compiler can keep the 32
// accumulators in vector registers (8 SSE / 4 AVX registers) and vectorise the j loop;
// with 16 SSE registers: 8 accumulators + 2 B vectors + 1 broadcast = 11 of 16.
constexpr int kPortableMr = 4;
constexpr int kPortableNr = 8;

}  // namespace

void sgemm_ukernel_portable(int64_t k, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, const GemmEpilogue &ep) {
    constexpr int MR = kPortableMr, NR = kPortableNr;
    float acc[MR][NR];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
    for (int64_t p = 0; p < k; p++) {
        for (int i = 0; i < MR; i++) {
            const float av = a[i];
            for (int j = 0; j < NR; j++) acc[i][j] += av * b[j];
        }
        a += MR;
        b += NR;
    }
    sgemm_store_tile(&acc[0][0], NR, c, ldc, m, n, ep);
}

namespace {

// Block sizes of the portable kernel: KC x NR x 4 B = 8 KiB B micro-panel (L1),
// MC x KC x 4 B = 128 KiB A block (L2), KC x NC x 4 B = 1 MiB B block.
const SgemmKernel kPortable = {CpuIsa::Portable, "portable", kPortableMr, kPortableNr,
                               128, 256, 1024, sgemm_ukernel_portable};

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
inline size_t align64(size_t bytes) { return (bytes + 63) & ~static_cast<size_t>(63); }

// Packs rows [0, rows) (rows may be < panels*MR: the rest is zero) and columns [0, kcb)
// of the strided matrix at `a` into `panels` MR-row panels of kcb columns.
void pack_a_block(const float *a, int64_t rs, int64_t cs, int64_t rows, int64_t panels,
                  int64_t kcb, int MR, float *dst) {
    for (int64_t r = 0; r < panels; r++) {
        int64_t mv = std::min<int64_t>(MR, std::max<int64_t>(0, rows - r * MR));
        const float *ap = a + r * MR * rs;
        float *d = dst + r * MR * kcb;
        if (mv < MR) {
            for (int64_t p = 0; p < kcb; p++)
                for (int64_t i = mv; i < MR; i++) d[p * MR + i] = 0.0f;
        }
        if (cs == 1) {
            // Rows contiguous (A not transposed): read each row once, write strided; the
            // panel (MR x KC x 4 B <= 16 KiB) stays in L1 while it is filled.
            for (int64_t i = 0; i < mv; i++) {
                const float *row = ap + i * rs;
                for (int64_t p = 0; p < kcb; p++) d[p * MR + i] = row[p];
            }
        } else if (rs == 1) {
            // Columns contiguous (A transposed): each k step copies MR floats.
            for (int64_t p = 0; p < kcb; p++) {
                const float *col = ap + p * cs;
                for (int64_t i = 0; i < mv; i++) d[p * MR + i] = col[i];
            }
        } else {
            for (int64_t p = 0; p < kcb; p++)
                for (int64_t i = 0; i < mv; i++) d[p * MR + i] = ap[i * rs + p * cs];
        }
    }
}

// Copies NR floats from each of `rows` rows (stride rs) to consecutive NR-float slots.
// (A fixed-size memcpy compiles to vector moves; a plain loop would stay scalar at -O2
// because source and destination might overlap.)
template <int NR>
inline void copy_rows(const float *s, int64_t rs, float *d, int64_t rows) {
    for (int64_t p = 0; p < rows; p++) std::memcpy(d + p * NR, s + p * rs, NR * sizeof(float));
}

// Packs rows [0, kcb) and columns [0, cols) of the strided matrix at `b` into `panels`
// NR-column panels (columns past `cols` zero).
void pack_b_block(const float *b, int64_t rs, int64_t cs, int64_t cols, int64_t panels,
                  int64_t kcb, int NR, float *dst) {
    if (cs == 1) {
        // Rows contiguous (B not transposed). Groups of 8 rows are dealt out panel by
        // panel: 8 sequential read streams, and 8 x NR contiguous floats written per
        // panel. (Panel-by-panel over all KC rows reads one cache line per row with a
        // large stride, which the prefetchers do not follow; row-by-row writes NR floats
        // into every panel in turn, 64 pages apart: both measured 2-3x slower.)
        const int64_t full = cols / NR;
        for (int64_t p0 = 0; p0 < kcb; p0 += 8) {
            const int64_t pn = std::min<int64_t>(8, kcb - p0);
            for (int64_t r = 0; r < full; r++) {
                float *d = dst + r * NR * kcb + p0 * NR;
                const float *s = b + p0 * rs + r * NR;
                switch (NR) {  // constant widths compile to vector moves
                    case 8: copy_rows<8>(s, rs, d, pn); break;
                    case 16: copy_rows<16>(s, rs, d, pn); break;
                    case 32: copy_rows<32>(s, rs, d, pn); break;
                    default:
                        for (int64_t p = 0; p < pn; p++)
                            for (int j = 0; j < NR; j++) d[p * NR + j] = s[p * rs + j];
                }
            }
            for (int64_t r = full; r < panels; r++) {
                const int64_t nv = std::min<int64_t>(NR, std::max<int64_t>(0, cols - r * NR));
                float *d = dst + r * NR * kcb + p0 * NR;
                const float *s = b + p0 * rs + r * NR;
                for (int64_t p = 0; p < pn; p++) {
                    for (int64_t j = 0; j < nv; j++) d[p * NR + j] = s[p * rs + j];
                    for (int64_t j = nv; j < NR; j++) d[p * NR + j] = 0.0f;
                }
            }
        }
        return;
    }
    for (int64_t r = 0; r < panels; r++) {
        int64_t nv = std::min<int64_t>(NR, std::max<int64_t>(0, cols - r * NR));
        const float *bp = b + r * NR * cs;
        float *d = dst + r * NR * kcb;
        if (nv < NR) {
            for (int64_t p = 0; p < kcb; p++)
                for (int64_t j = nv; j < NR; j++) d[p * NR + j] = 0.0f;
        }
        if (rs == 1) {
            // Columns contiguous (B transposed, e.g. Gemm transB or a Linear weight).
            for (int64_t j = 0; j < nv; j++) {
                const float *col = bp + j * cs;
                for (int64_t p = 0; p < kcb; p++) d[p * NR + j] = col[p];
            }
        } else {
            for (int64_t p = 0; p < kcb; p++)
                for (int64_t j = 0; j < nv; j++) d[p * NR + j] = bp[p * rs + j * cs];
        }
    }
}

// Below this much work per thread, waking another thread costs more than it saves
// (a wake-up is ~5-20 us; 1 MFLOP is ~20 us on one AVX2 core).
constexpr double kMinFlopsPerThread = 1.0e6;

struct Plan {
    int64_t mpad, npad;
    int64_t mcb, ncb;     // task block of C (multiples of MR / NR)
    int64_t nmb, nnb;     // blocks along m and n
    int threads;
};

Plan make_plan(const SgemmKernel &kn, int64_t m, int64_t n, int64_t k, int threads) {
    Plan p;
    p.mpad = round_up(m, kn.mr);
    p.npad = round_up(n, kn.nr);
    double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    int64_t by_work = static_cast<int64_t>(flops / kMinFlopsPerThread);
    threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, by_work)));
    // Even-sized blocks along m no larger than MC.
    p.nmb = ceil_div(m, kn.mc);
    p.nnb = ceil_div(n, kn.nc);
    if (threads > 1) {
        // Enough tasks for dynamic balancing (another session may hold a core), but
        // blocks no narrower than 4 NR columns / 2 MR rows.
        int64_t want = 3 * static_cast<int64_t>(threads);
        if (p.nmb * p.nnb < want) p.nnb = std::min(ceil_div(want, p.nmb), std::max<int64_t>(1, n / (4 * kn.nr)));
        if (p.nmb * p.nnb < want) p.nmb = std::min(ceil_div(want, p.nnb), std::max<int64_t>(1, m / (2 * kn.mr)));
    }
    p.mcb = round_up(ceil_div(m, p.nmb), kn.mr);
    p.ncb = round_up(ceil_div(n, p.nnb), kn.nr);
    p.nmb = ceil_div(m, p.mcb);
    p.nnb = ceil_div(n, p.ncb);
    p.threads = static_cast<int>(std::min<int64_t>(threads, p.nmb * p.nnb));
    return p;
}

// Floats of one slot's A and B buffers.
size_t slot_a_floats(const SgemmKernel &kn, int64_t m, int64_t k) {
    return static_cast<size_t>(std::min<int64_t>(kn.mc, round_up(m, kn.mr)) * std::min<int64_t>(kn.kc, k));
}
size_t slot_b_floats(const SgemmKernel &kn, int64_t n, int64_t k) {
    return static_cast<size_t>(std::min<int64_t>(kn.nc, round_up(n, kn.nr)) * std::min<int64_t>(kn.kc, k));
}

void run_task(const SgemmKernel &kn, const SgemmArgs &g, const Plan &pl, int64_t t, float *abuf,
              float *bbuf) {
    const int MR = kn.mr, NR = kn.nr;
    const int64_t ic = (t % pl.nmb) * pl.mcb;
    const int64_t jc = (t / pl.nmb) * pl.ncb;
    const int64_t mcur = std::min(pl.mcb, g.m - ic);
    const int64_t ncur = std::min(pl.ncb, g.n - jc);
    for (int64_t pc = 0; pc < g.k; pc += kn.kc) {
        const int64_t kcb = std::min(kn.kc, g.k - pc);
        const float *ap, *bp;
        if (g.a_packed) {
            ap = g.a_packed + pc * pl.mpad + ic * kcb;
        } else {
            pack_a_block(g.a.data + ic * g.a.rs + pc * g.a.cs, g.a.rs, g.a.cs, mcur,
                         ceil_div(mcur, MR), kcb, MR, abuf);
            ap = abuf;
        }
        if (g.b_packed) {
            bp = g.b_packed + pc * pl.npad + jc * kcb;
        } else {
            pack_b_block(g.b.data + pc * g.b.rs + jc * g.b.cs, g.b.rs, g.b.cs, ncur,
                         ceil_div(ncur, NR), kcb, NR, bbuf);
            bp = bbuf;
        }
        const bool first = pc == 0;
        for (int64_t jr = 0; jr < ncur; jr += NR) {
            const int nv = static_cast<int>(std::min<int64_t>(NR, ncur - jr));
            for (int64_t ir = 0; ir < mcur; ir += MR) {
                const int mv = static_cast<int>(std::min<int64_t>(MR, mcur - ir));
                GemmEpilogue ep;
                ep.alpha = g.alpha;
                if (first) {
                    ep.beta = g.beta;
                    ep.row_bias = g.row_bias ? g.row_bias + ic + ir : nullptr;
                    ep.col_bias = g.col_bias ? g.col_bias + jc + jr : nullptr;
                } else {
                    ep.beta = 1.0f;
                }
                kn.ukernel(kcb, ap + ir * kcb, bp + jr * kcb, g.c + (ic + ir) * g.ldc + jc + jr,
                           g.ldc, mv, nv, ep);
            }
        }
    }
}

}  // namespace

const SgemmKernel *sgemm_kernel_portable() { return &kPortable; }

const SgemmKernel *sgemm_kernel_for(CpuIsa isa) {
    if (!cpu_isa_supported(isa)) return nullptr;
    switch (isa) {
        case CpuIsa::Portable: return sgemm_kernel_portable();
        case CpuIsa::Avx2: return sgemm_kernel_avx2();
        case CpuIsa::Avx512: return sgemm_kernel_avx512();
    }
    return nullptr;
}

const SgemmKernel &sgemm_kernel() {
    static const SgemmKernel *const k = [] {
        const CpuFeatures &f = cpu_features();
        const SgemmKernel *best = nullptr;
        if (f.avx512) best = sgemm_kernel_for(CpuIsa::Avx512);
        if (!best && f.avx2_fma) best = sgemm_kernel_for(CpuIsa::Avx2);
        if (!best) best = sgemm_kernel_portable();
        return best;
    }();
    return *k;
}

size_t sgemm_packed_a_size(const SgemmKernel &kn, int64_t m, int64_t k) {
    return static_cast<size_t>(round_up(m, kn.mr) * k);
}

size_t sgemm_packed_b_size(const SgemmKernel &kn, int64_t k, int64_t n) {
    return static_cast<size_t>(round_up(n, kn.nr) * k);
}

void sgemm_pack_a(const SgemmKernel &kn, MatrixRef a, int64_t m, int64_t k, float *dst) {
    int64_t mpad = round_up(m, kn.mr);
    for (int64_t pc = 0; pc < k; pc += kn.kc) {
        int64_t kcb = std::min(kn.kc, k - pc);
        pack_a_block(a.data + pc * a.cs, a.rs, a.cs, m, mpad / kn.mr, kcb, kn.mr, dst + pc * mpad);
    }
}

void sgemm_pack_b(const SgemmKernel &kn, MatrixRef b, int64_t k, int64_t n, float *dst) {
    int64_t npad = round_up(n, kn.nr);
    for (int64_t pc = 0; pc < k; pc += kn.kc) {
        int64_t kcb = std::min(kn.kc, k - pc);
        pack_b_block(b.data + pc * b.rs, b.rs, b.cs, n, npad / kn.nr, kcb, kn.nr, dst + pc * npad);
    }
}

int sgemm_default_slots() {
    static const int slots = [] {
        unsigned hw = std::thread::hardware_concurrency();
        return static_cast<int>(std::min(64u, std::max(1u, hw)));
    }();
    return slots;
}

size_t sgemm_scratch_bytes(const SgemmKernel &kn, int64_t m, int64_t n, int64_t k,
                           bool a_packed, bool b_packed, int slots) {
    if (m <= 0 || n <= 0 || k <= 0) return 0;
    size_t per_slot = 0;
    if (!a_packed) per_slot += align64(slot_a_floats(kn, m, k) * sizeof(float));
    if (!b_packed) per_slot += align64(slot_b_floats(kn, n, k) * sizeof(float));
    if (per_slot == 0) return 0;
    return per_slot * static_cast<size_t>(std::max(1, slots)) + 64;
}

void sgemm(const SgemmKernel &kn, const SgemmArgs &g, void *scratch, const GemmThreads &th) {
    if (g.m <= 0 || g.n <= 0) return;
    if (g.k <= 0) {
        // No products: C = beta*C + biases (alpha*0).
        GemmEpilogue ep;
        ep.alpha = 0.0f;
        ep.beta = g.beta;
        for (int64_t i = 0; i < g.m; i++) {
            for (int64_t j = 0; j < g.n; j++) {
                float *c = g.c + i * g.ldc + j;
                float v = (g.row_bias ? g.row_bias[i] : 0.0f) + (g.col_bias ? g.col_bias[j] : 0.0f);
                if (g.beta != 0.0f) v += g.beta * *c;
                *c = v;
            }
        }
        return;
    }
    int threads = th.pool ? std::max(1, std::min(th.max_threads, th.slots)) : 1;
    const Plan pl = make_plan(kn, g.m, g.n, g.k, threads);

    const size_t a_bytes = g.a_packed ? 0 : align64(slot_a_floats(kn, g.m, g.k) * sizeof(float));
    const size_t b_bytes = g.b_packed ? 0 : align64(slot_b_floats(kn, g.n, g.k) * sizeof(float));
    char *base = reinterpret_cast<char *>((reinterpret_cast<uintptr_t>(scratch) + 63) &
                                          ~static_cast<uintptr_t>(63));
    const int64_t tasks = pl.nmb * pl.nnb;
    std::atomic<int64_t> next{0};
    auto run_slot = [&](int64_t slot) {
        char *s = base + static_cast<size_t>(slot) * (a_bytes + b_bytes);
        float *abuf = a_bytes ? reinterpret_cast<float *>(s) : nullptr;
        float *bbuf = b_bytes ? reinterpret_cast<float *>(s + a_bytes) : nullptr;
        for (;;) {
            int64_t t = next.fetch_add(1, std::memory_order_relaxed);
            if (t >= tasks) break;
            run_task(kn, g, pl, t, abuf, bbuf);
        }
    };
    if (pl.threads <= 1) {
        run_slot(0);
        return;
    }
    th.pool->parallel_for(pl.threads, 1, pl.threads, [&](int64_t b, int64_t e) {
        for (int64_t s = b; s < e; s++) run_slot(s);
    });
}

}  // namespace ember
