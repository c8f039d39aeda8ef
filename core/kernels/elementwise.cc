// elementwise.cc — the binary, comparison, logical, variadic and Where operators,
// with numpy (multidirectional) broadcasting, and the registration of the whole
// elementwise family (unary math and activations: elementwise_unary.cc; Cast:
// elementwise_cast.cc).
//
// Broadcasting is decided once, in create(): the output shape and each input's
// shape (left-padded with 1s) become a BcastPlan. Dims of extent 1 are dropped,
// adjacent dims that every input walks the same way (contiguous in both, or
// broadcast in both) are merged, and each input gets an element stride per dim
// (0 where it is broadcast). run() cuts the output into ranges for the thread pool;
// a range computes its start index once (one division per dim) and then walks the
// innermost dim as a flat loop in which each input's stride is 0 or 1. So the
// same-shape, scalar-operand and trailing-dims cases are one vectorisable loop per
// range or per inner row, and the general N-d case never divides per element.
//
// Integer semantics (defined here, where C++ leaves them undefined):
//   - Add, Sub, Mul, Neg, Sum wrap modulo 2^bits (two's complement).
//   - Div truncates toward zero; x / 0 = 0; INT_MIN / -1 = INT_MIN (wraps).
//   - Mod (fmod = 0) takes the sign of the divisor, like Python; fmod = 1 takes the
//     sign of the dividend, like C. x mod 0 = 0.
//   - Pow with integer base and integer exponent uses exact wrapping integer
//     arithmetic; a negative exponent gives trunc(1 / x^-e) (0 unless |x| == 1;
//     0 for x == 0). An integer base with a float exponent computes in double and
//     converts back truncating toward zero, saturating, NaN -> 0.
//   - BitShift by the element width or more gives 0.
//
// float16 inputs: these kernels are not f16_native, so the planner presents float16
// inputs as float32 (values and buffers); compute_dtype() maps a float16 that still
// reaches infer()/create() to float32 as well.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

// Defined in elementwise_unary.cc and elementwise_cast.cc.
void register_elementwise_unary_ops(OpRegistry &r);
void register_elementwise_cast_ops(OpRegistry &r);

namespace {

// ---------------------------------------------------------------------------------
// Common helpers
// ---------------------------------------------------------------------------------

// Elements per parallel range: ~32K cheap elements amortise waking a worker.
constexpr int64_t kGrain = 32768;
// Ops that call libm per element (pow, fmod) are ~10x dearer.
constexpr int64_t kGrainDear = 8192;

// The dtype a non-f16_native kernel computes in.
DType compute_dtype(DType t) { return t == DType::F16 ? DType::F32 : t; }

bool is_arith(DType t) {
    switch (compute_dtype(t)) {
        case DType::F32: case DType::F64: case DType::I8: case DType::U8: case DType::I16:
        case DType::U16: case DType::I32: case DType::U32: case DType::I64: case DType::U64:
            return true;
        default:
            return false;
    }
}

// Attributes outside `allowed` are rejected; `consumed_inputs` (an opset-1 memory
// hint with no effect on results) is ignored.
Status check_attrs(const InferContext &ctx, const char *op,
                   std::initializer_list<const char *> allowed) {
    if (!ctx.node) return Status::OK();
    for (const Attribute &a : ctx.node->attrs) {
        if (a.name == "consumed_inputs") continue;
        bool ok = false;
        for (const char *name : allowed) ok = ok || a.name == name;
        if (!ok)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: attribute '%s' is not supported", op,
                          a.name.c_str());
    }
    return Status::OK();
}

int64_t attr_int(const InferContext &ctx, const char *name, int64_t dflt) {
    return ctx.node ? ctx.node->attr_int(name, dflt) : dflt;
}

std::string attr_string(const InferContext &ctx, const char *name, const char *dflt) {
    return ctx.node ? ctx.node->attr_string(name, dflt) : std::string(dflt);
}

Status require_input(const InferContext &ctx, const char *op, size_t i) {
    if (!ctx.input(i))
        return errorf(EMBER_ERR_SHAPE, "%s: input %zu is missing", op, i);
    return Status::OK();
}

Status check_out_shape(const char *op, const Shape &out) {
    if (out.size() > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: rank %zu exceeds the maximum %zu", op,
                      out.size(), kMaxRank);
    int64_t n = 0;
    if (!shape_numel_checked(out, &n))
        return errorf(EMBER_ERR_SHAPE, "%s: output shape %s is too large", op,
                      shape_str(out).c_str());
    return Status::OK();
}

void set_output(InferContext &ctx, DType dtype, const Shape &shape) {
    if (ctx.outputs.size() < 1) ctx.outputs.resize(1);
    ctx.outputs[0].dtype = dtype;
    ctx.outputs[0].shape = shape;
    ctx.outputs[0].value = nullptr;
}

template <class T>
struct Tag {
    using type = T;
};

// Calls f(Tag<T>{}) for the C++ type computing `t`; false if `t` is not numeric.
template <class F>
bool visit_arith(DType t, F &&f) {
    switch (compute_dtype(t)) {
        case DType::F32: f(Tag<float>{}); return true;
        case DType::F64: f(Tag<double>{}); return true;
        case DType::I8: f(Tag<int8_t>{}); return true;
        case DType::U8: f(Tag<uint8_t>{}); return true;
        case DType::I16: f(Tag<int16_t>{}); return true;
        case DType::U16: f(Tag<uint16_t>{}); return true;
        case DType::I32: f(Tag<int32_t>{}); return true;
        case DType::U32: f(Tag<uint32_t>{}); return true;
        case DType::I64: f(Tag<int64_t>{}); return true;
        case DType::U64: f(Tag<uint64_t>{}); return true;
        default: return false;
    }
}

template <class F>
bool visit_float(DType t, F &&f) {
    switch (compute_dtype(t)) {
        case DType::F32: f(Tag<float>{}); return true;
        case DType::F64: f(Tag<double>{}); return true;
        default: return false;
    }
}

template <class F>
bool visit_unsigned(DType t, F &&f) {
    switch (t) {
        case DType::U8: f(Tag<uint8_t>{}); return true;
        case DType::U16: f(Tag<uint16_t>{}); return true;
        case DType::U32: f(Tag<uint32_t>{}); return true;
        case DType::U64: f(Tag<uint64_t>{}); return true;
        default: return false;
    }
}

// Runs fn(begin, end) over [0, n), split across the session's threads when big.
template <class Fn>
void parallel_range(const KernelIO &io, int64_t n, int64_t grain, const Fn &fn) {
    if (n <= 0) return;
    if (n <= grain || io.max_threads <= 1 || !io.pool) {
        fn(int64_t(0), n);
        return;
    }
    io.pool->parallel_for(n, grain, io.max_threads,
                          [&fn](int64_t b, int64_t e) { fn(b, e); });
}

// ---------------------------------------------------------------------------------
// Broadcast plan
// ---------------------------------------------------------------------------------

constexpr int kMaxIn = 3;

struct BcastPlan {
    int n_in = 0;
    int ndim = 1;                         // collapsed rank, >= 1
    int64_t total = 0;                    // output elements
    int64_t dims[kMaxRank] = {};          // collapsed output dims
    int64_t strides[kMaxIn][kMaxRank] = {};  // element strides per input, 0 = broadcast

    bool inner_contig(int i) const { return strides[i][ndim - 1] != 0; }
};

// Builds the plan for inputs of shapes ins[0..n_in) broadcast to `out`.
// False if some input does not broadcast to `out` (callers checked this already).
bool make_plan(const Shape &out, const Shape *const *ins, int n_in, BcastPlan *p) {
    const size_t rank = out.size();
    if (rank > kMaxRank || n_in < 1 || n_in > kMaxIn) return false;
    int64_t st[kMaxIn][kMaxRank] = {};
    for (int i = 0; i < n_in; i++) {
        const Shape &s = *ins[i];
        if (s.size() > rank) return false;
        const size_t pad = rank - s.size();
        int64_t stride = 1;
        for (size_t d = rank; d-- > 0;) {
            int64_t dim = d < pad ? 1 : s[d - pad];
            if (dim == out[d]) {
                st[i][d] = dim == 1 ? 0 : stride;
            } else if (dim == 1) {
                st[i][d] = 0;
            } else {
                return false;
            }
            stride *= dim;
        }
    }
    p->n_in = n_in;
    p->total = shape_numel(out);
    int nd = 0;
    for (size_t d = 0; d < rank; d++) {
        if (out[d] == 1) continue;
        bool merge = nd > 0;
        for (int i = 0; merge && i < n_in; i++)
            merge = p->strides[i][nd - 1] == st[i][d] * out[d];
        if (merge) {
            p->dims[nd - 1] *= out[d];
            for (int i = 0; i < n_in; i++) p->strides[i][nd - 1] = st[i][d];
        } else {
            p->dims[nd] = out[d];
            for (int i = 0; i < n_in; i++) p->strides[i][nd] = st[i][d];
            nd++;
        }
    }
    if (nd == 0) {  // one element
        p->dims[0] = 1;
        for (int i = 0; i < n_in; i++) p->strides[i][0] = 0;
        nd = 1;
    }
    p->ndim = nd;
    return true;
}

// Calls fn(off, pos, n) for each inner run of output elements [pos, pos + n) inside
// [begin, end); off[i] is input i's element offset at pos.
template <class Fn>
void plan_walk(const BcastPlan &p, int64_t begin, int64_t end, const Fn &fn) {
    const int last = p.ndim - 1;
    const int n_in = p.n_in;
    int64_t idx[kMaxRank];
    int64_t off[kMaxIn] = {0, 0, 0};
    int64_t rem = begin;
    for (int d = last; d >= 0; d--) {
        idx[d] = rem % p.dims[d];
        rem /= p.dims[d];
        for (int i = 0; i < n_in; i++) off[i] += idx[d] * p.strides[i][d];
    }
    int64_t pos = begin;
    while (pos < end) {
        const int64_t n = std::min(p.dims[last] - idx[last], end - pos);
        fn(off, pos, n);
        pos += n;
        if (pos >= end) break;
        idx[last] += n;
        for (int i = 0; i < n_in; i++) off[i] += n * p.strides[i][last];
        if (idx[last] < p.dims[last]) continue;
        idx[last] = 0;
        for (int i = 0; i < n_in; i++) off[i] -= p.dims[last] * p.strides[i][last];
        for (int d = last - 1; d >= 0; d--) {
            idx[d]++;
            for (int i = 0; i < n_in; i++) off[i] += p.strides[i][d];
            if (idx[d] < p.dims[d]) break;
            idx[d] = 0;
            for (int i = 0; i < n_in; i++) off[i] -= p.dims[d] * p.strides[i][d];
        }
    }
}

// ---------------------------------------------------------------------------------
// Scalar functions
// ---------------------------------------------------------------------------------

template <class T>
constexpr bool kIsFloat = std::is_floating_point<T>::value;

// Integer arithmetic in an unsigned type at least as wide as int, so that it wraps
// instead of overflowing (and small types do not promote to signed int).
template <class T>
struct WideU {
    using type = typename std::conditional<(sizeof(T) < sizeof(unsigned)), unsigned,
                                           typename std::make_unsigned<T>::type>::type;
};

template <class T>
inline T wrap_add(T a, T b) {
    if constexpr (kIsFloat<T>) {
        return a + b;
    } else {
        using W = typename WideU<T>::type;
        return static_cast<T>(static_cast<W>(a) + static_cast<W>(b));
    }
}
template <class T>
inline T wrap_sub(T a, T b) {
    if constexpr (kIsFloat<T>) {
        return a - b;
    } else {
        using W = typename WideU<T>::type;
        return static_cast<T>(static_cast<W>(a) - static_cast<W>(b));
    }
}
template <class T>
inline T wrap_mul(T a, T b) {
    if constexpr (kIsFloat<T>) {
        return a * b;
    } else {
        using W = typename WideU<T>::type;
        return static_cast<T>(static_cast<W>(a) * static_cast<W>(b));
    }
}

struct OpAdd {
    template <class T> T operator()(T a, T b) const { return wrap_add(a, b); }
};
struct OpSub {
    template <class T> T operator()(T a, T b) const { return wrap_sub(a, b); }
};
struct OpMul {
    template <class T> T operator()(T a, T b) const { return wrap_mul(a, b); }
};
struct OpDiv {
    template <class T>
    T operator()(T a, T b) const {
        if constexpr (kIsFloat<T>) {
            return a / b;
        } else {
            if (b == 0) return 0;
            if constexpr (std::is_signed<T>::value) {
                if (b == T(-1)) return wrap_sub(T(0), a);  // INT_MIN / -1 traps in C
            }
            return static_cast<T>(a / b);
        }
    }
};
struct OpMod {
    bool fmod = false;
    template <class T>
    T operator()(T a, T b) const {
        if constexpr (kIsFloat<T>) {
            T r = std::fmod(a, b);
            if (!fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
            return r;
        } else {
            if (b == 0) return 0;
            if constexpr (std::is_signed<T>::value) {
                if (b == T(-1)) return 0;  // INT_MIN % -1 traps in C
                T r = static_cast<T>(a % b);
                if (!fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
                return r;
            } else {
                return static_cast<T>(a % b);
            }
        }
    }
};
// NaN propagates, as numpy's maximum/minimum.
struct OpMax {
    template <class T>
    T operator()(T a, T b) const {
        if constexpr (kIsFloat<T>) {
            if (a != a) return a;
            if (b != b) return b;
        }
        return a < b ? b : a;
    }
};
struct OpMin {
    template <class T>
    T operator()(T a, T b) const {
        if constexpr (kIsFloat<T>) {
            if (a != a) return a;
            if (b != b) return b;
        }
        return b < a ? b : a;
    }
};
struct OpPRelu {
    template <class T>
    T operator()(T x, T s) const {
        if constexpr (kIsFloat<T>) {
            return std::max(x, T(0)) + s * std::min(x, T(0));  // a select GCC vectorises
        } else if constexpr (std::is_signed<T>::value) {
            return x < 0 ? wrap_mul(x, s) : x;
        } else {
            return x;
        }
    }
};

struct OpEqual {
    template <class T> uint8_t operator()(T a, T b) const { return a == b; }
};
struct OpGreater {
    template <class T> uint8_t operator()(T a, T b) const { return a > b; }
};
struct OpGreaterEq {
    template <class T> uint8_t operator()(T a, T b) const { return a >= b; }
};
struct OpLess {
    template <class T> uint8_t operator()(T a, T b) const { return a < b; }
};
struct OpLessEq {
    template <class T> uint8_t operator()(T a, T b) const { return a <= b; }
};
struct OpAnd {
    uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) & (b != 0); }
};
struct OpOr {
    uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) | (b != 0); }
};
struct OpXor {
    uint8_t operator()(uint8_t a, uint8_t b) const { return (a != 0) ^ (b != 0); }
};
struct OpShift {
    bool left = true;
    template <class T>
    T operator()(T a, T b) const {
        if (b >= sizeof(T) * 8) return 0;
        using W = typename WideU<T>::type;
        return static_cast<T>(left ? static_cast<W>(a) << b : static_cast<W>(a) >> b);
    }
};

// Double to an integer type: truncation toward zero, saturating, NaN -> 0.
template <class T>
T double_to_int(double v) {
    if (v != v) return 0;
    const double lo = static_cast<double>(std::numeric_limits<T>::min());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    double t = std::trunc(v);
    if (t <= lo) return std::numeric_limits<T>::min();
    if (t >= hi) return std::numeric_limits<T>::max();
    return static_cast<T>(t);
}

// base^e for an integer base, wrapping; `negative`: the exponent is -e.
template <class T>
T int_pow(T base, uint64_t e, bool negative) {
    if (negative) {  // trunc(1 / base^e)
        if (base == 1) return 1;
        if constexpr (std::is_signed<T>::value) {
            if (base == -1) return (e & 1) ? T(-1) : T(1);
        }
        return 0;
    }
    using W = typename WideU<T>::type;
    W r = 1, b = static_cast<W>(base);
    while (e) {
        if (e & 1) r = static_cast<W>(r * b);
        b = static_cast<W>(b * b);
        e >>= 1;
    }
    return static_cast<T>(r);
}

// Pow(X: T, Y: U) -> T.
struct OpPow {
    template <class T, class U>
    T operator()(T x, U y) const {
        if constexpr (kIsFloat<T>) {
            if constexpr (std::is_same<T, U>::value) {
                return std::pow(x, y);
            } else {
                return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
            }
        } else if constexpr (kIsFloat<U>) {
            return double_to_int<T>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        } else {
            if constexpr (std::is_signed<U>::value) {
                if (y < 0) return int_pow<T>(x, 0 - static_cast<uint64_t>(static_cast<int64_t>(y)), true);
            }
            return int_pow<T>(x, static_cast<uint64_t>(y), false);
        }
    }
};

// ---------------------------------------------------------------------------------
// Broadcast kernels
// ---------------------------------------------------------------------------------

// Rows run in fixed blocks of kBlock elements through __restrict pointers: GCC 12 at
// -O2 (the "very cheap" cost model) vectorises only loops whose trip count is a known
// multiple of the vector width and that need no runtime alias check.
constexpr int kBlock = 16;

// o[i] = op(a[i], b[i])
template <class A, class B, class R, class Op>
inline void row_vv(const A *__restrict a, const B *__restrict b, R *__restrict o, int64_t n,
                   const Op &op) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int j = 0; j < kBlock; j++) o[i + j] = op(a[i + j], b[i + j]);
    for (; i < n; i++) o[i] = op(a[i], b[i]);
}

// o[i] = op(a[i], y)
template <class A, class B, class R, class Op>
inline void row_vs(const A *__restrict a, const B y, R *__restrict o, int64_t n, const Op &op) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int j = 0; j < kBlock; j++) o[i + j] = op(a[i + j], y);
    for (; i < n; i++) o[i] = op(a[i], y);
}

// o[i] = op(x, b[i])
template <class A, class B, class R, class Op>
inline void row_sv(const A x, const B *__restrict b, R *__restrict o, int64_t n, const Op &op) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int j = 0; j < kBlock; j++) o[i + j] = op(x, b[i + j]);
    for (; i < n; i++) o[i] = op(x, b[i]);
}

// o[i] = op(o[i], b[i * vb]): accumulation into the output (variadic ops).
template <class B, class R, class Op>
inline void row_acc(R *__restrict o, const B *__restrict b, bool vb, int64_t n, const Op &op) {
    int64_t i = 0;
    if (vb) {
        for (; i + kBlock <= n; i += kBlock)
            for (int j = 0; j < kBlock; j++) o[i + j] = op(o[i + j], b[i + j]);
        for (; i < n; i++) o[i] = op(o[i], b[i]);
    } else {
        const B y = *b;
        for (; i + kBlock <= n; i += kBlock)
            for (int j = 0; j < kBlock; j++) o[i + j] = op(o[i + j], y);
        for (; i < n; i++) o[i] = op(o[i], y);
    }
}

// o[i] = op(a[i * va], b[i * vb]) with va, vb in {0, 1}.
template <class A, class B, class R, class Op>
inline void binary_row(const A *a, bool va, const B *b, bool vb, R *o, int64_t n,
                       const Op &op) {
    if (va && vb) {
        row_vv(a, b, o, n, op);
    } else if (va) {
        row_vs(a, *b, o, n, op);
    } else if (vb) {
        row_sv(*a, b, o, n, op);
    } else {
        const R v = op(*a, *b);
        for (int64_t i = 0; i < n; i++) o[i] = v;
    }
}

// out = op(a, b) over the plan. `a` may be `out` itself (variadic accumulation), in
// which case the plan's input 0 has the output's shape.
template <class A, class B, class R, class Op>
void binary_apply(const KernelIO &io, const BcastPlan &p, const Op &op, const void *a,
                  const void *b, void *out, int64_t grain) {
    const A *pa = static_cast<const A *>(a);
    const B *pb = static_cast<const B *>(b);
    R *po = static_cast<R *>(out);
    const bool va = p.inner_contig(0), vb = p.inner_contig(1);
    if constexpr (std::is_same<A, R>::value) {
        if (a == out) {
            parallel_range(io, p.total, grain, [&](int64_t begin, int64_t end) {
                plan_walk(p, begin, end, [&](const int64_t *off, int64_t pos, int64_t n) {
                    row_acc(po + pos, pb + off[1], vb, n, op);
                });
            });
            return;
        }
    }
    parallel_range(io, p.total, grain, [&](int64_t begin, int64_t end) {
        plan_walk(p, begin, end, [&](const int64_t *off, int64_t pos, int64_t n) {
            binary_row(pa + off[0], va, pb + off[1], vb, po + pos, n, op);
        });
    });
}

// out = a broadcast to the plan's output shape.
template <class T>
void broadcast_copy(const KernelIO &io, const BcastPlan &p, const void *a, void *out) {
    const T *pa = static_cast<const T *>(a);
    T *po = static_cast<T *>(out);
    const bool va = p.inner_contig(0);
    parallel_range(io, p.total, kGrain, [&](int64_t begin, int64_t end) {
        plan_walk(p, begin, end, [&](const int64_t *off, int64_t pos, int64_t n) {
            if (va) {
                std::memcpy(po + pos, pa + off[0], static_cast<size_t>(n) * sizeof(T));
            } else {
                const T v = pa[off[0]];
                for (int64_t i = 0; i < n; i++) po[pos + i] = v;
            }
        });
    });
}

Status check_io(const KernelIO &io, size_t n_in) {
    EMBER_CHECK(io.num_inputs >= n_in && io.num_outputs >= 1);
    for (size_t i = 0; i < n_in; i++) EMBER_CHECK(io.inputs[i].data != nullptr);
    EMBER_CHECK(io.outputs[0].data != nullptr);
    return Status::OK();
}

template <class A, class B, class R, class Op>
std::unique_ptr<Kernel> binary_kernel(const BcastPlan &plan, Op op, int64_t grain) {
    return make_fn_kernel([plan, op, grain](const KernelIO &io) -> Status {
        EMBER_RETURN_IF_ERROR(check_io(io, 2));
        binary_apply<A, B, R>(io, plan, op, io.inputs[0].data, io.inputs[1].data,
                              io.outputs[0].data, grain);
        return Status::OK();
    });
}

// ---------------------------------------------------------------------------------
// Binary operators: schema functions
// ---------------------------------------------------------------------------------

enum class Bin {
    Add, Sub, Mul, Div, Mod, Pow, PRelu, BitShift,
    Equal, Greater, GreaterOrEqual, Less, LessOrEqual, And, Or, Xor,
};

struct BinInfo {
    const char *name;
    bool legacy_broadcast;  // had `broadcast`/`axis` attributes before opset 7
    bool bool_out;
};

BinInfo bin_info(Bin k) {
    switch (k) {
        case Bin::Add: return {"Add", true, false};
        case Bin::Sub: return {"Sub", true, false};
        case Bin::Mul: return {"Mul", true, false};
        case Bin::Div: return {"Div", true, false};
        case Bin::Mod: return {"Mod", false, false};
        case Bin::Pow: return {"Pow", true, false};
        case Bin::PRelu: return {"PRelu", false, false};
        case Bin::BitShift: return {"BitShift", false, false};
        case Bin::Equal: return {"Equal", true, true};
        case Bin::Greater: return {"Greater", true, true};
        case Bin::GreaterOrEqual: return {"GreaterOrEqual", false, true};
        case Bin::Less: return {"Less", true, true};
        case Bin::LessOrEqual: return {"LessOrEqual", false, true};
        case Bin::And: return {"And", true, true};
        case Bin::Or: return {"Or", true, true};
        case Bin::Xor: return {"Xor", true, true};
    }
    return {"?", false, false};
}

bool dtype_ok(Bin k, DType t) {
    switch (k) {
        case Bin::And: case Bin::Or: case Bin::Xor:
            return t == DType::Bool;
        case Bin::Equal:
            return t == DType::Bool || is_arith(t);
        case Bin::BitShift:
            return t == DType::U8 || t == DType::U16 || t == DType::U32 || t == DType::U64;
        case Bin::Pow: {  // the base; the exponent may be any numeric type
            DType c = compute_dtype(t);
            return c == DType::F32 || c == DType::F64 || c == DType::I32 || c == DType::I64;
        }
        default:
            return is_arith(t);
    }
}

struct BinShapes {
    Shape a, b, out;
};

// The operands' shapes as broadcasting sees them, and the output shape.
Status binary_shapes(const InferContext &ctx, Bin k, BinShapes *s) {
    const BinInfo info = bin_info(k);
    const char *op = info.name;
    EMBER_RETURN_IF_ERROR(require_input(ctx, op, 0));
    EMBER_RETURN_IF_ERROR(require_input(ctx, op, 1));
    s->a = ctx.input(0)->shape;
    s->b = ctx.input(1)->shape;
    const Attribute *bc = ctx.node ? ctx.node->attr("broadcast") : nullptr;
    if (info.legacy_broadcast && bc) {
        // Opset < 7: B broadcasts to A only, aligned at `axis` (default: trailing).
        if (bc->i != 0) {
            const int64_t ra = static_cast<int64_t>(s->a.size());
            const int64_t rb = static_cast<int64_t>(s->b.size());
            int64_t axis = attr_int(ctx, "axis", ra - rb);
            if (axis < 0) axis += ra;
            if (rb > ra || axis < 0 || axis + rb > ra)
                return errorf(EMBER_ERR_SHAPE, "%s: B shape %s cannot broadcast to A shape %s at axis %lld",
                              op, shape_str(s->b).c_str(), shape_str(s->a).c_str(),
                              static_cast<long long>(axis));
            Shape nb(static_cast<size_t>(ra), 1);
            for (int64_t i = 0; i < rb; i++) nb[static_cast<size_t>(axis + i)] = s->b[i];
            s->b = nb;
        } else if (s->a != s->b) {
            return errorf(EMBER_ERR_SHAPE, "%s: shapes %s and %s differ and broadcast = 0", op,
                          shape_str(s->a).c_str(), shape_str(s->b).c_str());
        }
    }
    if (k == Bin::PRelu && ctx.opset < 7 && s->b.size() == 1 && s->a.size() >= 3 &&
        s->b[0] == s->a[1]) {
        // Opset 6: a 1-D slope holds one value per channel (dim 1).
        Shape nb(s->a.size() - 1, 1);
        nb[0] = s->b[0];
        s->b = nb;
    }
    if (!broadcast_shapes(s->a, s->b, &s->out))
        return errorf(EMBER_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op,
                      shape_str(ctx.input(0)->shape).c_str(),
                      shape_str(ctx.input(1)->shape).c_str());
    if (k == Bin::PRelu && s->out != s->a)
        return errorf(EMBER_ERR_SHAPE, "PRelu: slope shape %s does not broadcast to X shape %s",
                      shape_str(ctx.input(1)->shape).c_str(),
                      shape_str(ctx.input(0)->shape).c_str());
    return check_out_shape(op, s->out);
}

template <Bin K>
Status binary_infer(InferContext &ctx) {
    const BinInfo info = bin_info(K);
    const char *op = info.name;
    if (K == Bin::Mod) {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {"fmod"}));
        int64_t f = attr_int(ctx, "fmod", 0);
        if (f != 0 && f != 1)
            return errorf(EMBER_ERR_UNSUPPORTED, "Mod: fmod = %lld (expected 0 or 1)",
                          static_cast<long long>(f));
    } else if (K == Bin::BitShift) {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {"direction"}));
        std::string d = attr_string(ctx, "direction", "");
        if (d != "LEFT" && d != "RIGHT")
            return errorf(EMBER_ERR_UNSUPPORTED, "BitShift: direction '%s' (expected LEFT or RIGHT)",
                          d.c_str());
    } else if (info.legacy_broadcast) {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {"broadcast", "axis"}));
    } else {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {}));
    }
    BinShapes s;
    EMBER_RETURN_IF_ERROR(binary_shapes(ctx, K, &s));
    const DType ta = ctx.input(0)->dtype, tb = ctx.input(1)->dtype;
    if (!dtype_ok(K, ta))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op, dtype_name(ta));
    if (K == Bin::Pow) {
        if (!is_arith(tb))
            return errorf(EMBER_ERR_UNSUPPORTED, "Pow: exponent dtype %s is not supported",
                          dtype_name(tb));
    } else if (ta != tb) {
        return errorf(EMBER_ERR_SHAPE, "%s: input dtypes %s and %s differ", op, dtype_name(ta),
                      dtype_name(tb));
    }
    set_output(ctx, info.bool_out ? DType::Bool : ta, s.out);
    return Status::OK();
}

template <class Op>
bool make_arith_kernel(DType t, const BcastPlan &plan, Op op, int64_t grain,
                       std::unique_ptr<Kernel> *out) {
    return visit_arith(t, [&](auto tag) {
        using T = typename decltype(tag)::type;
        *out = binary_kernel<T, T, T>(plan, op, grain);
    });
}

template <class Op>
bool make_compare_kernel(DType t, const BcastPlan &plan, Op op, std::unique_ptr<Kernel> *out) {
    if (t == DType::Bool) {
        *out = binary_kernel<uint8_t, uint8_t, uint8_t>(plan, op, kGrain);
        return true;
    }
    return visit_arith(t, [&](auto tag) {
        using T = typename decltype(tag)::type;
        *out = binary_kernel<T, T, uint8_t>(plan, op, kGrain);
    });
}

template <class T>
bool make_pow_kernel(DType tb, const BcastPlan &plan, std::unique_ptr<Kernel> *out) {
    return visit_arith(tb, [&](auto tag) {
        using U = typename decltype(tag)::type;
        *out = binary_kernel<T, U, T>(plan, OpPow{}, kGrainDear);
    });
}

template <Bin K>
Status binary_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const char *op = bin_info(K).name;
    BinShapes s;
    EMBER_RETURN_IF_ERROR(binary_shapes(ctx, K, &s));
    const Shape *ins[2] = {&s.a, &s.b};
    BcastPlan plan;
    EMBER_CHECK(make_plan(s.out, ins, 2, &plan));
    const DType ta = ctx.input(0)->dtype, tb = ctx.input(1)->dtype;
    bool ok = false;
    switch (K) {
        case Bin::Add: ok = make_arith_kernel(ta, plan, OpAdd{}, kGrain, out); break;
        case Bin::Sub: ok = make_arith_kernel(ta, plan, OpSub{}, kGrain, out); break;
        case Bin::Mul: ok = make_arith_kernel(ta, plan, OpMul{}, kGrain, out); break;
        case Bin::Div: ok = make_arith_kernel(ta, plan, OpDiv{}, kGrain, out); break;
        case Bin::PRelu: ok = make_arith_kernel(ta, plan, OpPRelu{}, kGrain, out); break;
        case Bin::Mod: {
            OpMod m;
            m.fmod = attr_int(ctx, "fmod", 0) != 0;
            ok = make_arith_kernel(ta, plan, m, kGrainDear, out);
            break;
        }
        case Bin::BitShift: {
            OpShift sh;
            sh.left = attr_string(ctx, "direction", "") == "LEFT";
            ok = visit_unsigned(ta, [&](auto tag) {
                using T = typename decltype(tag)::type;
                *out = binary_kernel<T, T, T>(plan, sh, kGrain);
            });
            break;
        }
        case Bin::Pow:
            switch (compute_dtype(ta)) {
                case DType::F32: ok = make_pow_kernel<float>(tb, plan, out); break;
                case DType::F64: ok = make_pow_kernel<double>(tb, plan, out); break;
                case DType::I32: ok = make_pow_kernel<int32_t>(tb, plan, out); break;
                case DType::I64: ok = make_pow_kernel<int64_t>(tb, plan, out); break;
                default: break;
            }
            break;
        case Bin::Equal: ok = make_compare_kernel(ta, plan, OpEqual{}, out); break;
        case Bin::Greater: ok = make_compare_kernel(ta, plan, OpGreater{}, out); break;
        case Bin::GreaterOrEqual: ok = make_compare_kernel(ta, plan, OpGreaterEq{}, out); break;
        case Bin::Less: ok = make_compare_kernel(ta, plan, OpLess{}, out); break;
        case Bin::LessOrEqual: ok = make_compare_kernel(ta, plan, OpLessEq{}, out); break;
        case Bin::And:
            ok = ta == DType::Bool;
            if (ok) *out = binary_kernel<uint8_t, uint8_t, uint8_t>(plan, OpAnd{}, kGrain);
            break;
        case Bin::Or:
            ok = ta == DType::Bool;
            if (ok) *out = binary_kernel<uint8_t, uint8_t, uint8_t>(plan, OpOr{}, kGrain);
            break;
        case Bin::Xor:
            ok = ta == DType::Bool;
            if (ok) *out = binary_kernel<uint8_t, uint8_t, uint8_t>(plan, OpXor{}, kGrain);
            break;
    }
    if (!ok)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op, dtype_name(ta));
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Variadic: Max, Min, Sum, Mean
// ---------------------------------------------------------------------------------

enum class Var { Max, Min, Sum, Mean };

const char *var_name(Var k) {
    switch (k) {
        case Var::Max: return "Max";
        case Var::Min: return "Min";
        case Var::Sum: return "Sum";
        case Var::Mean: return "Mean";
    }
    return "?";
}

Status variadic_shape(const InferContext &ctx, const char *op, Shape *out) {
    if (ctx.num_inputs() < 1)
        return errorf(EMBER_ERR_SHAPE, "%s: needs at least one input", op);
    EMBER_RETURN_IF_ERROR(require_input(ctx, op, 0));
    Shape s = ctx.input(0)->shape;
    for (size_t i = 1; i < ctx.num_inputs(); i++) {
        EMBER_RETURN_IF_ERROR(require_input(ctx, op, i));
        Shape next;
        if (!broadcast_shapes(s, ctx.input(i)->shape, &next))
            return errorf(EMBER_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op,
                          shape_str(s).c_str(), shape_str(ctx.input(i)->shape).c_str());
        s = std::move(next);
    }
    *out = std::move(s);
    return check_out_shape(op, *out);
}

template <Var K>
Status variadic_infer(InferContext &ctx) {
    const char *op = var_name(K);
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {}));
    Shape out;
    EMBER_RETURN_IF_ERROR(variadic_shape(ctx, op, &out));
    const DType t = ctx.input(0)->dtype;
    const bool ok = K == Var::Mean ? visit_float(t, [](auto) {}) : is_arith(t);
    if (!ok) return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op, dtype_name(t));
    for (size_t i = 1; i < ctx.num_inputs(); i++)
        if (ctx.input(i)->dtype != t)
            return errorf(EMBER_ERR_SHAPE, "%s: input dtypes %s and %s differ", op, dtype_name(t),
                          dtype_name(ctx.input(i)->dtype));
    set_output(ctx, t, out);
    return Status::OK();
}

// One pass per input after the first two: out = op(out, input k).
template <class T, class Op>
std::unique_ptr<Kernel> variadic_kernel(std::vector<BcastPlan> plans, size_t n, Op op,
                                        bool mean) {
    return make_fn_kernel([plans, n, op, mean](const KernelIO &io) -> Status {
        EMBER_RETURN_IF_ERROR(check_io(io, n));
        void *out = io.outputs[0].data;
        if (n == 1) {
            broadcast_copy<T>(io, plans[0], io.inputs[0].data, out);
        } else {
            binary_apply<T, T, T>(io, plans[0], op, io.inputs[0].data, io.inputs[1].data, out,
                                  kGrain);
            for (size_t k = 2; k < n; k++)
                binary_apply<T, T, T>(io, plans[k - 1], op, out, io.inputs[k].data, out, kGrain);
        }
        if (mean && n > 1) {
            if constexpr (kIsFloat<T>) {
                T *po = static_cast<T *>(out);
                const T count = static_cast<T>(n);
                parallel_range(io, plans[0].total, kGrain, [&](int64_t b, int64_t e) {
                    row_acc(po + b, &count, false, e - b, OpDiv{});
                });
            }
        }
        return Status::OK();
    });
}

template <Var K>
Status variadic_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const char *op = var_name(K);
    Shape oshape;
    EMBER_RETURN_IF_ERROR(variadic_shape(ctx, op, &oshape));
    std::vector<BcastPlan> plans;
    const size_t n = ctx.num_inputs();
    if (n == 1) {
        const Shape *ins[1] = {&ctx.input(0)->shape};
        plans.emplace_back();
        EMBER_CHECK(make_plan(oshape, ins, 1, &plans.back()));
    } else {
        const Shape *first[2] = {&ctx.input(0)->shape, &ctx.input(1)->shape};
        plans.emplace_back();
        EMBER_CHECK(make_plan(oshape, first, 2, &plans.back()));
        for (size_t k = 2; k < n; k++) {
            const Shape *ins[2] = {&oshape, &ctx.input(k)->shape};
            plans.emplace_back();
            EMBER_CHECK(make_plan(oshape, ins, 2, &plans.back()));
        }
    }
    const DType t = ctx.input(0)->dtype;
    bool ok = false;
    if (K == Var::Mean) {
        ok = visit_float(t, [&](auto tag) {
            using T = typename decltype(tag)::type;
            *out = variadic_kernel<T>(plans, n, OpAdd{}, true);
        });
    } else {
        ok = visit_arith(t, [&](auto tag) {
            using T = typename decltype(tag)::type;
            if (K == Var::Max) *out = variadic_kernel<T>(plans, n, OpMax{}, false);
            if (K == Var::Min) *out = variadic_kernel<T>(plans, n, OpMin{}, false);
            if (K == Var::Sum) *out = variadic_kernel<T>(plans, n, OpAdd{}, false);
        });
    }
    if (!ok) return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op, dtype_name(t));
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Where(cond, X, Y)
// ---------------------------------------------------------------------------------

Status where_shape(const InferContext &ctx, Shape *out) {
    for (size_t i = 0; i < 3; i++) EMBER_RETURN_IF_ERROR(require_input(ctx, "Where", i));
    Shape cx;
    const Shape &c = ctx.input(0)->shape, &x = ctx.input(1)->shape, &y = ctx.input(2)->shape;
    if (!broadcast_shapes(c, x, &cx) || !broadcast_shapes(cx, y, out))
        return errorf(EMBER_ERR_SHAPE, "Where: shapes %s, %s and %s do not broadcast",
                      shape_str(c).c_str(), shape_str(x).c_str(), shape_str(y).c_str());
    return check_out_shape("Where", *out);
}

Status where_infer(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, "Where", {}));
    Shape out;
    EMBER_RETURN_IF_ERROR(where_shape(ctx, &out));
    if (ctx.input(0)->dtype != DType::Bool)
        return errorf(EMBER_ERR_SHAPE, "Where: condition has dtype %s, expected bool",
                      dtype_name(ctx.input(0)->dtype));
    const DType tx = ctx.input(1)->dtype, ty = ctx.input(2)->dtype;
    if (tx != ty)
        return errorf(EMBER_ERR_SHAPE, "Where: X and Y dtypes %s and %s differ", dtype_name(tx),
                      dtype_name(ty));
    if (dtype_size(tx) == 0)
        return errorf(EMBER_ERR_UNSUPPORTED, "Where: dtype %s is not supported", dtype_name(tx));
    set_output(ctx, tx, out);
    return Status::OK();
}

template <class T>
inline void where_row(const uint8_t *__restrict c, const T *__restrict x, const T *__restrict y,
                      T *__restrict o, int64_t n) {
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int j = 0; j < kBlock; j++) {
            const T a = x[i + j], b = y[i + j];
            o[i + j] = c[i + j] ? a : b;
        }
    for (; i < n; i++) o[i] = c[i] ? x[i] : y[i];
}

// Copies elements by size: T is an unsigned integer of the element's width.
template <class T>
std::unique_ptr<Kernel> where_kernel(const BcastPlan &plan) {
    return make_fn_kernel([plan](const KernelIO &io) -> Status {
        EMBER_RETURN_IF_ERROR(check_io(io, 3));
        const uint8_t *c = static_cast<const uint8_t *>(io.inputs[0].data);
        const T *x = static_cast<const T *>(io.inputs[1].data);
        const T *y = static_cast<const T *>(io.inputs[2].data);
        T *o = static_cast<T *>(io.outputs[0].data);
        const int64_t sc = plan.inner_contig(0), sx = plan.inner_contig(1),
                      sy = plan.inner_contig(2);
        parallel_range(io, plan.total, kGrain, [&](int64_t begin, int64_t end) {
            plan_walk(plan, begin, end, [&](const int64_t *off, int64_t pos, int64_t n) {
                const uint8_t *pc = c + off[0];
                const T *px = x + off[1], *py = y + off[2];
                T *po = o + pos;
                if (sc && sx && sy) {
                    where_row(pc, px, py, po, n);
                } else {
                    for (int64_t i = 0; i < n; i++)
                        po[i] = pc[i * sc] ? px[i * sx] : py[i * sy];
                }
            });
        });
        return Status::OK();
    });
}

Status where_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    Shape oshape;
    EMBER_RETURN_IF_ERROR(where_shape(ctx, &oshape));
    const Shape *ins[3] = {&ctx.input(0)->shape, &ctx.input(1)->shape, &ctx.input(2)->shape};
    BcastPlan plan;
    EMBER_CHECK(make_plan(oshape, ins, 3, &plan));
    const DType t = compute_dtype(ctx.input(1)->dtype);
    switch (dtype_size(t)) {
        case 1: *out = where_kernel<uint8_t>(plan); break;
        case 2: *out = where_kernel<uint16_t>(plan); break;
        case 4: *out = where_kernel<uint32_t>(plan); break;
        case 8: *out = where_kernel<uint64_t>(plan); break;
        default:
            return errorf(EMBER_ERR_UNSUPPORTED, "Where: dtype %s is not supported", dtype_name(t));
    }
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------

template <Bin K>
void add_binary(OpRegistry &r) {
    OpSchema s;
    s.op_type = bin_info(K).name;
    s.infer = binary_infer<K>;
    s.create = binary_create<K>;
    r.add(s);
}

template <Var K>
void add_variadic(OpRegistry &r) {
    OpSchema s;
    s.op_type = var_name(K);
    s.infer = variadic_infer<K>;
    s.create = variadic_create<K>;
    r.add(s);
}

}  // namespace

void register_elementwise_ops(OpRegistry &r) {
    add_binary<Bin::Add>(r);
    add_binary<Bin::Sub>(r);
    add_binary<Bin::Mul>(r);
    add_binary<Bin::Div>(r);
    add_binary<Bin::Mod>(r);
    add_binary<Bin::Pow>(r);
    add_binary<Bin::PRelu>(r);
    add_binary<Bin::BitShift>(r);
    add_binary<Bin::Equal>(r);
    add_binary<Bin::Greater>(r);
    add_binary<Bin::GreaterOrEqual>(r);
    add_binary<Bin::Less>(r);
    add_binary<Bin::LessOrEqual>(r);
    add_binary<Bin::And>(r);
    add_binary<Bin::Or>(r);
    add_binary<Bin::Xor>(r);
    add_variadic<Var::Max>(r);
    add_variadic<Var::Min>(r);
    add_variadic<Var::Sum>(r);
    add_variadic<Var::Mean>(r);
    OpSchema where;
    where.op_type = "Where";
    where.infer = where_infer;
    where.create = where_create;
    r.add(where);
    register_elementwise_unary_ops(r);
    register_elementwise_cast_ops(r);
}

}  // namespace ember
