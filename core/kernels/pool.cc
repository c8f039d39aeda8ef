// pool.cc — MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, MaxUnpool.
//
// Layout: X is [N, C, D1..Dk] (k = 1, 2 or 3), row-major. Every pool is computed as a
// 3-D pool over [planes = N*C][D][H][W], with unit leading spatial dims for 1-D and
// 2-D inputs, so one code path serves all ranks.
//
// The window geometry is decided once in create(): for each output position along
// each axis, the range of kernel taps [t0, t1) whose input index lies inside the
// input, and (for AveragePool with count_include_pad) how many taps lie inside the
// padded input. run() then only multiplies and adds indices: no division, no
// bounds tests per tap.
//
// 1-D and 2-D pools without Indices (the common case) take a separable row path:
// the valid input rows of a window are folded (max or sum) into one row buffer, then
// each output column folds its kw taps of that buffer, with a tight loop over the
// interior columns (all taps valid) and the tap tables only at the borders. 3-D pools
// and MaxPool with Indices take the generic path. Work is split over the N*C planes.
//
// Index output (MaxPool Indices): the flat index into X, (n*C + c) * D*H*W plus the
// spatial offset in row-major order (storage_order 0) or column-major order
// (storage_order 1), as ONNX Runtime and the ONNX reference compute it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {

constexpr int kMaxSpatial = 3;
// Elements of work per parallel chunk: enough to amortise a wake-up (~a few us).
constexpr int64_t kChunkWork = 32768;

int64_t grain_for(int64_t work_per_item) {
    return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_item));
}

Status bad_dtype(const char *op, DType t) {
    return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                  dtype_name(t));
}

// Per-axis window tables, indexed by output position along that axis.
struct AxisTaps {
    std::vector<int64_t> base;    // input index of tap 0 (may be negative)
    std::vector<int32_t> t0, t1;  // taps [t0, t1) fall inside the input
    std::vector<int32_t> padded;  // taps inside [-pad_begin, in + pad_end)
    int64_t interior_lo = 0;      // outputs in [interior_lo, interior_hi) have all
    int64_t interior_hi = 0;      // k taps inside the input
};

struct PoolGeom {
    int nd = 0;                        // spatial rank of X (1..3)
    int64_t planes = 0;                // N * C
    int64_t in[kMaxSpatial] = {1, 1, 1};   // D, H, W (leading 1s when nd < 3)
    int64_t out[kMaxSpatial] = {1, 1, 1};
    int64_t k[kMaxSpatial] = {1, 1, 1};
    int64_t s[kMaxSpatial] = {1, 1, 1};
    int64_t d[kMaxSpatial] = {1, 1, 1};
    int64_t pb[kMaxSpatial] = {0, 0, 0};   // pads at the beginning
    int64_t pe[kMaxSpatial] = {0, 0, 0};   // pads at the end
    bool count_include_pad = false;
    bool storage_col_major = false;        // MaxPool storage_order = 1
    AxisTaps taps[kMaxSpatial];

    int64_t in_size() const { return in[0] * in[1] * in[2]; }
    int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

// Reads the pooling attributes and computes the output spatial shape.
constexpr int64_t kMaxPoolAxis = int64_t(1) << 24;

Status pool_geometry(const InferContext &ctx, const char *op, bool is_max, PoolGeom *g) {
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    const Node &node = *ctx.node;
    int rank = x->rank();
    if (rank < 3)
        return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, spatial...], got %s", op,
                      shape_str(x->shape).c_str());
    if (rank > 2 + kMaxSpatial)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: %d spatial dims (only 1 to 3 supported)", op,
                      rank - 2);
    int nd = rank - 2;
    g->nd = nd;
    g->planes = x->shape[0] * x->shape[1];

    std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
    if (static_cast<int>(kernel.size()) != nd)
        return errorf(EMBER_ERR_SHAPE, "%s: kernel_shape has %zu values, X has %d spatial dims",
                      op, kernel.size(), nd);
    std::vector<int64_t> strides = node.attr_ints("strides");
    if (strides.empty()) strides.assign(nd, 1);
    std::vector<int64_t> dil = node.attr_ints("dilations");
    if (dil.empty()) dil.assign(nd, 1);
    std::vector<int64_t> pads = node.attr_ints("pads");
    if (pads.empty()) pads.assign(2 * nd, 0);
    if (static_cast<int>(strides.size()) != nd || static_cast<int>(dil.size()) != nd ||
        static_cast<int>(pads.size()) != 2 * nd)
        return errorf(EMBER_ERR_SHAPE,
                      "%s: %d spatial dims but %zu strides, %zu dilations, %zu pads", op, nd,
                      strides.size(), dil.size(), pads.size());
    std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
    bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
    if (is_max) {
        int64_t so = node.attr_int("storage_order", 0);
        if (so != 0 && so != 1)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: storage_order %lld", op, (long long)so);
        g->storage_col_major = so == 1;
    } else {
        g->count_include_pad = node.attr_int("count_include_pad", 0) != 0;
    }

    int off = kMaxSpatial - nd;
    for (int i = 0; i < nd; i++) {
        int64_t in = x->shape[2 + i], k = kernel[i], s = strides[i], d = dil[i];
        int64_t pb = pads[i], pe = pads[nd + i];
        const int64_t kLimit = int64_t(1) << 30;  // keeps every index product in int64
        if (k < 1 || s < 1 || d < 1 || pb < 0 || pe < 0 || k > kLimit || d > kLimit ||
            s > kLimit || pb > kLimit || pe > kLimit)
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "%s: axis %d has kernel %lld, stride %lld, dilation %lld, pads %lld/%lld",
                          op, i, (long long)k, (long long)s, (long long)d, (long long)pb,
                          (long long)pe);
        int64_t span = (k - 1) * d + 1;  // extent of a dilated window
        int64_t out;
        if (auto_pad == "NOTSET") {
            int64_t avail = in + pb + pe - span;
            if (avail < 0)
                return errorf(EMBER_ERR_SHAPE,
                              "%s: axis %d: window %lld is larger than the padded input %lld", op,
                              i, (long long)span, (long long)(in + pb + pe));
            out = (ceil_mode ? (avail + s - 1) / s : avail / s) + 1;
            // A last window that would start in the end padding is dropped (PyTorch, ORT).
            if (ceil_mode && out > 1 && (out - 1) * s >= in + pb) out--;
        } else if (auto_pad == "VALID") {
            if (in < span)
                return errorf(EMBER_ERR_SHAPE, "%s: axis %d: window %lld is larger than input %lld",
                              op, i, (long long)span, (long long)in);
            out = (in - span) / s + 1;
            pb = pe = 0;
        } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            out = (in + s - 1) / s;
            int64_t total = std::max<int64_t>(0, (out - 1) * s + span - in);
            pb = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: auto_pad '%s'", op, auto_pad.c_str());
        }
        if (out < 1)
            return errorf(EMBER_ERR_SHAPE, "%s: axis %d: output size %lld from input %lld", op, i,
                          (long long)out, (long long)in);
        g->in[off + i] = in;
        g->out[off + i] = out;
        g->k[off + i] = k;
        g->s[off + i] = s;
        g->d[off + i] = d;
        g->pb[off + i] = pb;
        g->pe[off + i] = pe;
    }
    // Taps are allocated per output position and the work estimate multiplies positions
    // by the window: bound both even for an empty X (a zero batch lets any spatial size
    // through the shape checks), so neither allocation nor product can blow up.
    int64_t positions = 0, window = 0;
    if (!shape_numel_checked(Shape(g->out, g->out + kMaxSpatial), &positions) ||
        !shape_numel_checked(Shape(g->k, g->k + kMaxSpatial), &window) ||
        (window > 0 && positions > (int64_t(1) << 62) / window))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: output %s with window %s is too large", op,
                      shape_str(Shape(g->out, g->out + kMaxSpatial)).c_str(),
                      shape_str(Shape(g->k, g->k + kMaxSpatial)).c_str());
    // The tap tables hold 20 bytes per output position of each axis and are built when
    // the kernel is created, before the arena (and its cap) exists: an axis is limited to
    // 2^24 outputs (335 MB of taps; no real pooling layer comes near). Found by
    // fuzz/fuzz_ember_file.cc: a MaxPool over an axis of 2^33 positions.
    for (int i = 0; i < nd; i++)
        if (g->out[off + i] > kMaxPoolAxis)
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "%s: axis %d has %lld output positions, above the limit of %lld", op,
                          i, (long long)g->out[off + i], (long long)kMaxPoolAxis);
    return Status::OK();
}

void build_taps(PoolGeom *g) {
    if (g->planes == 0) return;  // an empty batch or no channels: the kernel runs nothing
    for (int a = 0; a < kMaxSpatial; a++) {
        AxisTaps &t = g->taps[a];
        int64_t n = g->out[a], k = g->k[a], s = g->s[a], d = g->d[a], in = g->in[a];
        t.base.resize(n);
        t.t0.resize(n);
        t.t1.resize(n);
        t.padded.resize(n);
        t.interior_lo = n;
        t.interior_hi = n;
        bool seen_interior = false;
        for (int64_t o = 0; o < n; o++) {
            int64_t base = o * s - g->pb[a];
            int64_t t0 = base >= 0 ? 0 : (-base + d - 1) / d;
            int64_t t1 = base <= in - 1 ? std::min(k, (in - 1 - base) / d + 1) : 0;
            if (t0 > k) t0 = k;
            if (t1 < t0) t1 = t0;
            int64_t lim = in + g->pe[a] - 1 - base;  // last padded index, relative
            int64_t padded = lim >= 0 ? std::min(k, lim / d + 1) : 0;
            t.base[o] = base;
            t.t0[o] = static_cast<int32_t>(t0);
            t.t1[o] = static_cast<int32_t>(t1);
            t.padded[o] = static_cast<int32_t>(padded);
            bool full = t0 == 0 && t1 == k;
            // Full windows form one contiguous run of output positions.
            if (full && !seen_interior) {
                t.interior_lo = o;
                seen_interior = true;
            }
            if (full) t.interior_hi = o + 1;
        }
        if (!seen_interior) t.interior_lo = t.interior_hi = 0;
    }
}

// ---- generic 3-D pooling (any spatial rank, optional argmax indices) ----

template <typename T>
void max_pool_generic(const PoolGeom &g, const T *x, T *y, int64_t *idx, int64_t p0,
                      int64_t p1) {
    const AxisTaps &A = g.taps[0], &B = g.taps[1], &C = g.taps[2];
    const int64_t H = g.in[1], W = g.in[2], D = g.in[0];
    const int64_t dd = g.d[0], dh = g.d[1], dw = g.d[2];
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    // Index strides of d, h, w: row-major, or column-major for storage_order = 1.
    const int64_t sd = g.storage_col_major ? 1 : H * W;
    const int64_t sh = g.storage_col_major ? D : W;
    const int64_t sw = g.storage_col_major ? D * H : 1;
    for (int64_t p = p0; p < p1; p++) {
        const T *xp = x + p * in_size;
        T *yp = y + p * out_size;
        int64_t *ip = idx ? idx + p * out_size : nullptr;
        for (int64_t od = 0; od < g.out[0]; od++) {
            for (int64_t oh = 0; oh < g.out[1]; oh++) {
                for (int64_t ow = 0; ow < g.out[2]; ow++) {
                    T best = std::numeric_limits<T>::lowest();
                    int64_t best_at = -1;
                    for (int32_t td = A.t0[od]; td < A.t1[od]; td++) {
                        int64_t id = A.base[od] + td * dd;
                        for (int32_t th = B.t0[oh]; th < B.t1[oh]; th++) {
                            int64_t ih = B.base[oh] + th * dh;
                            const T *row = xp + (id * H + ih) * W;
                            for (int32_t tw = C.t0[ow]; tw < C.t1[ow]; tw++) {
                                int64_t iw = C.base[ow] + tw * dw;
                                T v = row[iw];
                                if (v > best || best_at < 0) {
                                    best = v;
                                    best_at = id * sd + ih * sh + iw * sw;
                                }
                            }
                        }
                    }
                    *yp++ = best;
                    if (ip) *ip++ = best_at < 0 ? -1 : p * in_size + best_at;
                }
            }
        }
    }
}

template <typename T>
void avg_pool_generic(const PoolGeom &g, const T *x, T *y, int64_t p0, int64_t p1) {
    const AxisTaps &A = g.taps[0], &B = g.taps[1], &C = g.taps[2];
    const int64_t H = g.in[1], W = g.in[2];
    const int64_t dd = g.d[0], dh = g.d[1], dw = g.d[2];
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    for (int64_t p = p0; p < p1; p++) {
        const T *xp = x + p * in_size;
        T *yp = y + p * out_size;
        for (int64_t od = 0; od < g.out[0]; od++) {
            for (int64_t oh = 0; oh < g.out[1]; oh++) {
                for (int64_t ow = 0; ow < g.out[2]; ow++) {
                    T sum = 0;
                    for (int32_t td = A.t0[od]; td < A.t1[od]; td++) {
                        int64_t id = A.base[od] + td * dd;
                        for (int32_t th = B.t0[oh]; th < B.t1[oh]; th++) {
                            const T *row = xp + (id * H + B.base[oh] + th * dh) * W + C.base[ow];
                            for (int32_t tw = C.t0[ow]; tw < C.t1[ow]; tw++) sum += row[tw * dw];
                        }
                    }
                    int64_t count =
                        g.count_include_pad
                            ? int64_t(A.padded[od]) * B.padded[oh] * C.padded[ow]
                            : int64_t(A.t1[od] - A.t0[od]) * (B.t1[oh] - B.t0[oh]) *
                                  (C.t1[ow] - C.t0[ow]);
                    *yp++ = count > 0 ? sum / static_cast<T>(count) : T(0);
                }
            }
        }
    }
}

// ---- 2-D row path (nd <= 2; no indices) ----
//
// Separable: a max (or sum) over a kh x kw window is a fold over the kh input rows
// followed by a fold over kw columns. For each output row, the valid input rows are
// first folded elementwise into a row buffer (contiguous, vectorisable), then each
// output column folds kw entries of that buffer. For 3x3/2 this is 2 vector ops per
// input column plus 3 scalar loads per output, instead of 9 loads per output.

constexpr int64_t kRowBuf = 2048;  // elements of the per-call row buffer (on the stack)

struct MaxFold {
    template <typename T>
    static T init() { return std::numeric_limits<T>::lowest(); }
    template <typename T>
    static T fold(T a, T v) { return v > a ? v : a; }
};
struct SumFold {
    template <typename T>
    static T init() { return T(0); }
    template <typename T>
    static T fold(T a, T v) { return a + v; }
};

// Elementwise folds in fixed blocks of 16: GCC's -O2 cost model vectorises loops
// only when the trip count is a known multiple of the vector width, and __restrict
// spares the run-time alias checks it would also refuse.
constexpr int64_t kBlock = 16;

template <typename F, typename T>
inline void fold2(const T *__restrict a, const T *__restrict b, T *__restrict out, int64_t n) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) out[i + j] = F::fold(a[i + j], b[i + j]);
    for (; i < n; i++) out[i] = F::fold(a[i], b[i]);
}

template <typename F, typename T>
inline void fold_into(T *__restrict acc, const T *__restrict b, int64_t n) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++) acc[i + j] = F::fold(acc[i + j], b[i + j]);
    for (; i < n; i++) acc[i] = F::fold(acc[i], b[i]);
}

// y[i] = fold(r[2i], r[2i+1], r[2i+2]).
template <typename F, typename T>
inline void fold3_stride2(const T *__restrict r, T *__restrict y, int64_t n) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int64_t j = 0; j < kBlock; j++)
            y[i + j] = F::fold(F::fold(r[2 * (i + j)], r[2 * (i + j) + 1]), r[2 * (i + j) + 2]);
    for (; i < n; i++) y[i] = F::fold(F::fold(r[2 * i], r[2 * i + 1]), r[2 * i + 2]);
}

// y[ow] = fold over the taps of output column ow in `src` (one folded input row).
template <typename F, typename T>
void fold_columns(const AxisTaps &C, int64_t k, int64_t s, int64_t d, int64_t out_w,
                  const T *src, T *y) {
    auto edge = [&](int64_t ow) {
        T acc = F::template init<T>();
        const T *r = src + C.base[ow];
        for (int32_t tw = C.t0[ow]; tw < C.t1[ow]; tw++) acc = F::fold(acc, r[tw * d]);
        y[ow] = acc;
    };
    const int64_t lo = C.interior_lo, hi = C.interior_hi;
    for (int64_t ow = 0; ow < lo; ow++) edge(ow);
    if (hi > lo) {
        const T *r = src + C.base[lo];
        T *yo = y + lo;
        const int64_t n = hi - lo;
        if (s == 1) {
            // Contiguous: one vectorisable pass per tap.
            if (k == 1) {
                std::memcpy(yo, r, static_cast<size_t>(n) * sizeof(T));
            } else {
                fold2<F>(r, r + d, yo, n);
                for (int64_t tw = 2; tw < k; tw++) fold_into<F>(yo, r + tw * d, n);
            }
        } else if (k == 3 && d == 1 && s == 2) {
            fold3_stride2<F>(r, yo, n);  // 3x3/2: SqueezeNet, ResNet stems
        } else if (k == 3 && d == 1) {
            for (int64_t i = 0; i < n; i++) {
                const T *q = r + i * s;
                yo[i] = F::fold(F::fold(q[0], q[1]), q[2]);
            }
        } else if (k == 2 && d == 1) {
            for (int64_t i = 0; i < n; i++) {
                const T *q = r + i * s;
                yo[i] = F::fold(q[0], q[1]);
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                const T *q = r + i * s;
                T acc = q[0];
                for (int64_t tw = 1; tw < k; tw++) acc = F::fold(acc, q[tw * d]);
                yo[i] = acc;
            }
        }
    }
    for (int64_t ow = std::max(lo, hi); ow < out_w; ow++) edge(ow);
}

// Folds one input row into one output row: y[ow] = fold(y[ow], taps of `row`).
// Used when a row is too wide for the stack buffer.
template <typename F, typename T>
void fold_row_into(const AxisTaps &C, int64_t d, int64_t out_w, const T *row, T *y) {
    for (int64_t ow = 0; ow < out_w; ow++) {
        T acc = y[ow];
        const T *r = row + C.base[ow];
        for (int32_t tw = C.t0[ow]; tw < C.t1[ow]; tw++) acc = F::fold(acc, r[tw * d]);
        y[ow] = acc;
    }
}

template <typename F, typename T>
void pool2d_rows(const PoolGeom &g, bool average, const T *x, T *y, int64_t p0, int64_t p1) {
    const AxisTaps &B = g.taps[1], &C = g.taps[2];
    const int64_t W = g.in[2], OH = g.out[1], OW = g.out[2];
    const int64_t dh = g.d[1];
    const int64_t in_size = g.in_size(), out_size = g.out_size();
    T buf[kRowBuf];
    for (int64_t p = p0; p < p1; p++) {
        const T *xp = x + p * in_size;
        T *yp = y + p * out_size;
        for (int64_t oh = 0; oh < OH; oh++) {
            T *yr = yp + oh * OW;
            const int32_t t0 = B.t0[oh], t1 = B.t1[oh];
            if (t1 - t0 == 1 || (t1 - t0 > 1 && W <= kRowBuf)) {
                const T *src = xp + (B.base[oh] + t0 * dh) * W;
                if (t1 - t0 > 1) {
                    // Vertical fold of the valid rows into buf.
                    fold2<F>(src, xp + (B.base[oh] + (t0 + 1) * dh) * W, buf, W);
                    for (int32_t th = t0 + 2; th < t1; th++)
                        fold_into<F>(buf, xp + (B.base[oh] + th * dh) * W, W);
                    src = buf;
                }
                fold_columns<F>(C, g.k[2], g.s[2], g.d[2], OW, src, yr);
            } else {
                for (int64_t ow = 0; ow < OW; ow++) yr[ow] = F::template init<T>();
                for (int32_t th = t0; th < t1; th++)
                    fold_row_into<F>(C, g.d[2], OW, xp + (B.base[oh] + th * dh) * W, yr);
            }
            if (average) {
                int64_t rows = g.count_include_pad ? B.padded[oh] : t1 - t0;
                for (int64_t ow = 0; ow < OW; ow++) {
                    int64_t cols = g.count_include_pad ? C.padded[ow] : C.t1[ow] - C.t0[ow];
                    int64_t count = rows * cols;
                    yr[ow] = count > 0 ? yr[ow] / static_cast<T>(count) : T(0);
                }
            }
        }
    }
}

// ---- MaxPool / AveragePool schemas ----

Status max_pool_infer(InferContext &ctx) {
    PoolGeom g;
    EMBER_RETURN_IF_ERROR(pool_geometry(ctx, "MaxPool", true, &g));
    const TensorInfo &x = *ctx.input(0);
    if (x.dtype != DType::F32 && x.dtype != DType::F64 && x.dtype != DType::U8 &&
        x.dtype != DType::I8)
        return bad_dtype("MaxPool", x.dtype);
    Shape ys = {x.shape[0], x.shape[1]};
    for (int i = 0; i < g.nd; i++) ys.push_back(g.out[kMaxSpatial - g.nd + i]);
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = ys;
    if (ctx.num_outputs() > 1) {
        ctx.output(1).dtype = DType::I64;
        ctx.output(1).shape = ys;
    }
    return Status::OK();
}

template <typename T>
Status run_max_pool(const PoolGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    int64_t *idx = io.num_outputs > 1 ? io.outputs[1].as<int64_t>() : nullptr;
    int64_t work = g.out_size() * g.k[0] * g.k[1] * g.k[2];
    bool rows = idx == nullptr && g.nd <= 2;
    io.pool->parallel_for(g.planes, grain_for(work), io.max_threads, [&](int64_t a, int64_t b) {
        if (rows)
            pool2d_rows<MaxFold>(g, false, x, y, a, b);
        else
            max_pool_generic(g, x, y, idx, a, b);
    });
    return Status::OK();
}

Status max_pool_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    auto g = std::make_shared<PoolGeom>();
    EMBER_RETURN_IF_ERROR(pool_geometry(ctx, "MaxPool", true, g.get()));
    build_taps(g.get());
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([g, t](const KernelIO &io) -> Status {
        switch (t) {
            case DType::F32: return run_max_pool<float>(*g, io);
            case DType::F64: return run_max_pool<double>(*g, io);
            case DType::U8: return run_max_pool<uint8_t>(*g, io);
            case DType::I8: return run_max_pool<int8_t>(*g, io);
            default: return bad_dtype("MaxPool", t);
        }
    });
    return Status::OK();
}

Status avg_pool_infer(InferContext &ctx) {
    PoolGeom g;
    EMBER_RETURN_IF_ERROR(pool_geometry(ctx, "AveragePool", false, &g));
    const TensorInfo &x = *ctx.input(0);
    if (x.dtype != DType::F32 && x.dtype != DType::F64) return bad_dtype("AveragePool", x.dtype);
    Shape ys = {x.shape[0], x.shape[1]};
    for (int i = 0; i < g.nd; i++) ys.push_back(g.out[kMaxSpatial - g.nd + i]);
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = ys;
    return Status::OK();
}

template <typename T>
Status run_avg_pool(const PoolGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    int64_t work = g.out_size() * g.k[0] * g.k[1] * g.k[2];
    bool rows = g.nd <= 2;
    io.pool->parallel_for(g.planes, grain_for(work), io.max_threads, [&](int64_t a, int64_t b) {
        if (rows)
            pool2d_rows<SumFold>(g, true, x, y, a, b);
        else
            avg_pool_generic(g, x, y, a, b);
    });
    return Status::OK();
}

Status avg_pool_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    auto g = std::make_shared<PoolGeom>();
    EMBER_RETURN_IF_ERROR(pool_geometry(ctx, "AveragePool", false, g.get()));
    build_taps(g.get());
    DType t = ctx.input(0)->dtype;
    *out = make_fn_kernel([g, t](const KernelIO &io) -> Status {
        if (t == DType::F32) return run_avg_pool<float>(*g, io);
        if (t == DType::F64) return run_avg_pool<double>(*g, io);
        return bad_dtype("AveragePool", t);
    });
    return Status::OK();
}

// ---- GlobalAveragePool / GlobalMaxPool ----

template <bool kMax>
Status global_pool_infer(InferContext &ctx) {
    const char *op = kMax ? "GlobalMaxPool" : "GlobalAveragePool";
    const TensorInfo *x = ctx.input(0);
    if (!x) return errorf(EMBER_ERR_SHAPE, "%s: input X is missing", op);
    if (x->rank() < 2)
        return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, spatial...], got %s", op,
                      shape_str(x->shape).c_str());
    bool ok = x->dtype == DType::F32 || x->dtype == DType::F64 ||
              (kMax && (x->dtype == DType::U8 || x->dtype == DType::I8));
    if (!ok) return bad_dtype(op, x->dtype);
    Shape ys = x->shape;
    for (size_t i = 2; i < ys.size(); i++) ys[i] = 1;
    ctx.output(0).dtype = x->dtype;
    ctx.output(0).shape = ys;
    return Status::OK();
}

// Sum of n contiguous values with 8 independent accumulators (vectorisable, and a
// shorter dependency chain than one running sum).
template <typename T>
T sum_contiguous(const T *p, int64_t n) {
    T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += p[i + j];
    T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += p[i];
    return s;
}

template <typename T>
T max_contiguous(const T *p, int64_t n) {
    if (n == 0) return std::numeric_limits<T>::lowest();
    T acc[8];
    for (int j = 0; j < 8; j++) acc[j] = p[0];
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] = p[i + j] > acc[j] ? p[i + j] : acc[j];
    T m = acc[0];
    for (int j = 1; j < 8; j++) m = acc[j] > m ? acc[j] : m;
    for (; i < n; i++) m = p[i] > m ? p[i] : m;
    return m;
}

template <bool kMax, typename T>
Status run_global_pool(int64_t planes, int64_t size, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    T *y = io.outputs[0].as<T>();
    io.pool->parallel_for(planes, grain_for(size), io.max_threads, [&](int64_t a, int64_t b) {
        for (int64_t p = a; p < b; p++) {
            const T *xp = x + p * size;
            if (kMax) {
                y[p] = max_contiguous(xp, size);
            } else {
                // Averages of integer types are not offered (see infer).
                y[p] = size > 0 ? sum_contiguous(xp, size) / static_cast<T>(size) : T(0);
            }
        }
    });
    return Status::OK();
}

template <bool kMax>
Status global_pool_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t planes = x.shape[0] * x.shape[1];
    int64_t size = planes > 0 ? x.numel() / planes : 0;
    DType t = x.dtype;
    *out = make_fn_kernel([planes, size, t](const KernelIO &io) -> Status {
        switch (t) {
            case DType::F32: return run_global_pool<kMax, float>(planes, size, io);
            case DType::F64: return run_global_pool<kMax, double>(planes, size, io);
            case DType::U8:
                if (kMax) return run_global_pool<true, uint8_t>(planes, size, io);
                break;
            case DType::I8:
                if (kMax) return run_global_pool<true, int8_t>(planes, size, io);
                break;
            default: break;
        }
        return bad_dtype(kMax ? "GlobalMaxPool" : "GlobalAveragePool", t);
    });
    return Status::OK();
}

// ---- MaxUnpool ----
// Y is zeros with X[i] written at the flat index I[i], where I indexes the default
// unpooled shape [N, C, (in - 1) * stride + kernel - pad_begin - pad_end ...] as
// MaxPool produced it. With an output_shape input larger than the default shape, the
// ONNX reference scatters into the default shape and pads each spatial dim at its
// end; element positions are decoded from the default shape and re-encoded in the
// output shape (the only per-element division here, and only in that case).

struct UnpoolGeom {
    Shape def;   // default unpooled shape
    Shape out;   // output shape
    int64_t def_numel = 0;
    int64_t in_numel = 0;
    bool same = true;  // out == def
};

Status unpool_geometry(const InferContext &ctx, UnpoolGeom *g) {
    const char *op = "MaxUnpool";
    const TensorInfo *x = ctx.input(0), *ind = ctx.input(1), *os = ctx.input(2);
    if (!x || !ind) return errorf(EMBER_ERR_SHAPE, "%s: inputs X and I are required", op);
    if (x->dtype != DType::F32 && x->dtype != DType::F64)
        return bad_dtype(op, x->dtype);
    if (ind->dtype != DType::I64)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: I dtype %s (expected int64)", op,
                      dtype_name(ind->dtype));
    if (ind->shape != x->shape)
        return errorf(EMBER_ERR_SHAPE, "%s: I shape %s differs from X shape %s", op,
                      shape_str(ind->shape).c_str(), shape_str(x->shape).c_str());
    int rank = x->rank();
    if (rank < 3) return errorf(EMBER_ERR_SHAPE, "%s: X must be [N, C, spatial...], got %s", op,
                                shape_str(x->shape).c_str());
    int nd = rank - 2;
    std::vector<int64_t> kernel = ctx.node->attr_ints("kernel_shape");
    std::vector<int64_t> strides = ctx.node->attr_ints("strides");
    std::vector<int64_t> pads = ctx.node->attr_ints("pads");
    if (strides.empty()) strides.assign(nd, 1);
    if (pads.empty()) pads.assign(2 * nd, 0);
    if (static_cast<int>(kernel.size()) != nd || static_cast<int>(strides.size()) != nd ||
        static_cast<int>(pads.size()) != 2 * nd)
        return errorf(EMBER_ERR_SHAPE, "%s: %d spatial dims but %zu kernel, %zu strides, %zu pads",
                      op, nd, kernel.size(), strides.size(), pads.size());
    g->def = {x->shape[0], x->shape[1]};
    const int64_t kLimit = int64_t(1) << 30;
    for (int i = 0; i < nd; i++) {
        int64_t k = kernel[i], s = strides[i], pb = pads[i], pe = pads[nd + i];
        if (k < 1 || s < 1 || pb < 0 || pe < 0 || k > kLimit || s > kLimit || pb > kLimit ||
            pe > kLimit)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: axis %d has kernel %lld, stride %lld", op, i,
                          (long long)k, (long long)s);
        int64_t d = (x->shape[2 + i] - 1) * s + k - pb - pe;
        if (d < 1)
            return errorf(EMBER_ERR_SHAPE, "%s: axis %d: unpooled size %lld", op, i, (long long)d);
        g->def.push_back(d);
    }
    g->out = g->def;
    if (os) {
        std::vector<int64_t> v;
        if (!read_int_values(*os, &v))
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: output_shape must be a known int64 tensor", op);
        if (static_cast<int>(v.size()) != rank || v[0] != g->def[0] || v[1] != g->def[1])
            return errorf(EMBER_ERR_SHAPE, "%s: output_shape %s does not fit X %s", op,
                          shape_str(v).c_str(), shape_str(x->shape).c_str());
        for (int i = 2; i < rank; i++)
            if (v[i] < g->def[i])
                return errorf(EMBER_ERR_UNSUPPORTED,
                              "%s: output_shape %s is smaller than the unpooled shape %s", op,
                              shape_str(v).c_str(), shape_str(g->def).c_str());
        g->out = v;
    }
    g->same = g->out == g->def;
    g->def_numel = shape_numel(g->def);
    g->in_numel = x->numel();
    return Status::OK();
}

Status unpool_infer(InferContext &ctx) {
    UnpoolGeom g;
    EMBER_RETURN_IF_ERROR(unpool_geometry(ctx, &g));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = g.out;
    return Status::OK();
}

template <typename T>
Status run_unpool(const UnpoolGeom &g, const KernelIO &io) {
    const T *x = io.inputs[0].as<const T>();
    const int64_t *ind = io.inputs[1].as<const int64_t>();
    T *y = io.outputs[0].as<T>();
    std::fill(y, y + shape_numel(g.out), T(0));
    for (int64_t i = 0; i < g.in_numel; i++) {
        int64_t f = ind[i];
        if (f < 0 || f >= g.def_numel)
            return errorf(EMBER_ERR_INVALID_ARGUMENT,
                          "MaxUnpool: index %lld at %lld is outside [0, %lld)", (long long)f,
                          (long long)i, (long long)g.def_numel);
        if (!g.same) {
            // Decode f in the default shape, re-encode it in the output shape.
            int64_t o = 0, mul = 1;
            for (size_t d = g.def.size(); d-- > 0;) {
                o += (f % g.def[d]) * mul;
                f /= g.def[d];
                mul *= g.out[d];
            }
            f = o;
        }
        y[f] = x[i];
    }
    return Status::OK();
}

Status unpool_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    auto g = std::make_shared<UnpoolGeom>();
    EMBER_RETURN_IF_ERROR(unpool_geometry(ctx, g.get()));
    bool f64 = ctx.input(0)->dtype == DType::F64;
    *out = make_fn_kernel([g, f64](const KernelIO &io) -> Status {
        return f64 ? run_unpool<double>(*g, io) : run_unpool<float>(*g, io);
    });
    return Status::OK();
}

}  // namespace

void register_pool_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "MaxPool";
    s.infer = max_pool_infer;
    s.create = max_pool_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "AveragePool";
    s.infer = avg_pool_infer;
    s.create = avg_pool_create;
    r.add(s);

    s = OpSchema();
    s.op_type = "GlobalAveragePool";
    s.infer = global_pool_infer<false>;
    s.create = global_pool_create<false>;
    r.add(s);

    s = OpSchema();
    s.op_type = "GlobalMaxPool";
    s.infer = global_pool_infer<true>;
    s.create = global_pool_create<true>;
    r.add(s);

    s = OpSchema();
    s.op_type = "MaxUnpool";
    s.value_inputs = uint64_t(1) << 2;  // output_shape
    s.infer = unpool_infer;
    s.create = unpool_create;
    r.add(s);
}

}  // namespace ember
