// elementwise_unary.cc — one-input elementwise operators: math (Abs, Neg, Sqrt, Exp,
// Log, Erf, trigonometry...), activations (Relu, Sigmoid, Elu, Selu, HardSwish...),
// Clip, Sign, IsNaN, IsInf, Not.
//
// Each op is one scalar function apply<K>(x); run() is a flat loop over the elements
// in fixed blocks that GCC vectorises at -O2, split across threads in ranges of kGrain
// (kGrainDear for ops that call libm). float32 Exp and Sigmoid use a vectorisable exp
// (exp_core, 1.3 ulp); the other transcendental ops call libm.
// Float ops run on float32 and float64. These kernels are not f16_native: the planner
// presents float16 inputs as float32; compute_dtype() maps a float16 that still
// reaches infer()/create() to float32 as well.
//
// Integer semantics: Abs and Neg of the most negative value wrap (return it
// unchanged), as in two's complement.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

void register_elementwise_unary_ops(OpRegistry &r);

namespace {

constexpr int64_t kGrain = 32768;
constexpr int64_t kGrainDear = 8192;

DType compute_dtype(DType t) { return t == DType::F16 ? DType::F32 : t; }

template <class T>
struct Tag {
    using type = T;
};

template <class T>
constexpr bool kIsFloat = std::is_floating_point<T>::value;

enum class Un {
    Abs, Neg, Sign, Relu, Not, Clip, IsNaN, IsInf,
    Reciprocal, Sqrt, Exp, Log, Ceil, Floor, Round, Erf,
    Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh,
    Tanh, Sigmoid, LeakyRelu, Elu, Selu, Celu, HardSigmoid, HardSwish, Softplus,
    Softsign, ThresholdedRelu, Shrink, Mish,
};

// Which dtypes an op takes.
enum class Types { Float, Signed, Numeric, Bool };

struct UnInfo {
    const char *name;
    Types types;
    bool dear;   // calls libm per element
};

constexpr UnInfo un_info(Un k) {
    switch (k) {
        case Un::Abs: return {"Abs", Types::Numeric, false};
        case Un::Neg: return {"Neg", Types::Signed, false};
        case Un::Sign: return {"Sign", Types::Numeric, false};
        case Un::Relu: return {"Relu", Types::Signed, false};
        case Un::Not: return {"Not", Types::Bool, false};
        case Un::Clip: return {"Clip", Types::Numeric, false};
        case Un::IsNaN: return {"IsNaN", Types::Float, false};
        case Un::IsInf: return {"IsInf", Types::Float, false};
        case Un::Reciprocal: return {"Reciprocal", Types::Float, false};
        case Un::Sqrt: return {"Sqrt", Types::Float, false};
        case Un::Exp: return {"Exp", Types::Float, true};
        case Un::Log: return {"Log", Types::Float, true};
        case Un::Ceil: return {"Ceil", Types::Float, false};
        case Un::Floor: return {"Floor", Types::Float, false};
        case Un::Round: return {"Round", Types::Float, false};
        case Un::Erf: return {"Erf", Types::Float, true};
        case Un::Sin: return {"Sin", Types::Float, true};
        case Un::Cos: return {"Cos", Types::Float, true};
        case Un::Tan: return {"Tan", Types::Float, true};
        case Un::Asin: return {"Asin", Types::Float, true};
        case Un::Acos: return {"Acos", Types::Float, true};
        case Un::Atan: return {"Atan", Types::Float, true};
        case Un::Sinh: return {"Sinh", Types::Float, true};
        case Un::Cosh: return {"Cosh", Types::Float, true};
        case Un::Asinh: return {"Asinh", Types::Float, true};
        case Un::Acosh: return {"Acosh", Types::Float, true};
        case Un::Atanh: return {"Atanh", Types::Float, true};
        case Un::Tanh: return {"Tanh", Types::Float, true};
        case Un::Sigmoid: return {"Sigmoid", Types::Float, true};
        case Un::LeakyRelu: return {"LeakyRelu", Types::Float, false};
        case Un::Elu: return {"Elu", Types::Float, true};
        case Un::Selu: return {"Selu", Types::Float, true};
        case Un::Celu: return {"Celu", Types::Float, true};
        case Un::HardSigmoid: return {"HardSigmoid", Types::Float, false};
        case Un::HardSwish: return {"HardSwish", Types::Float, false};
        case Un::Softplus: return {"Softplus", Types::Float, true};
        case Un::Softsign: return {"Softsign", Types::Float, false};
        case Un::ThresholdedRelu: return {"ThresholdedRelu", Types::Float, false};
        case Un::Shrink: return {"Shrink", Types::Float, false};
        case Un::Mish: return {"Mish", Types::Float, true};
    }
    return {"?", Types::Float, false};
}

// Float attributes: (name, default) pairs an op reads into Params::a, b.
struct AttrDefaults {
    const char *name_a = nullptr;
    float dflt_a = 0.0f;
    const char *name_b = nullptr;
    float dflt_b = 0.0f;
};

AttrDefaults un_attrs(Un k) {
    switch (k) {
        case Un::LeakyRelu: return {"alpha", 0.01f, nullptr, 0.0f};
        case Un::Elu: return {"alpha", 1.0f, nullptr, 0.0f};
        case Un::Celu: return {"alpha", 1.0f, nullptr, 0.0f};
        case Un::ThresholdedRelu: return {"alpha", 1.0f, nullptr, 0.0f};
        case Un::Selu: return {"alpha", 1.67326319217681884765625f, "gamma",
                               1.05070102214813232421875f};
        case Un::HardSigmoid: return {"alpha", 0.2f, "beta", 0.5f};
        case Un::Shrink: return {"bias", 0.0f, "lambd", 0.5f};
        default: return {};
    }
}

struct Params {
    float a = 0.0f, b = 0.0f;
    bool detect_neg = true, detect_pos = true;  // IsInf
};

template <class T>
inline T sigmoid(T x) {
    if (x >= 0) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}

// log(1 + exp(x)) without overflow.
template <class T>
inline T softplus(T x) {
    return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// The scalar function of op K; R is the output type (bool outputs are uint8_t).
template <Un K, class T>
inline auto apply(T x, const Params &p) {
    if constexpr (K == Un::Abs) {
        if constexpr (kIsFloat<T>) {
            return static_cast<T>(std::fabs(x));
        } else if constexpr (std::is_signed<T>::value) {
            using U = typename std::make_unsigned<T>::type;
            return static_cast<T>(x < 0 ? static_cast<U>(0 - static_cast<U>(x)) : x);
        } else {
            return x;
        }
    } else if constexpr (K == Un::Neg) {
        if constexpr (kIsFloat<T>) {
            return static_cast<T>(-x);
        } else {
            using U = typename std::make_unsigned<T>::type;
            return static_cast<T>(static_cast<U>(0 - static_cast<U>(x)));
        }
    } else if constexpr (K == Un::Sign) {
        if constexpr (kIsFloat<T>) {
            return x > 0 ? T(1) : x < 0 ? T(-1) : x;  // keeps 0 and NaN
        } else if constexpr (std::is_signed<T>::value) {
            return static_cast<T>((x > 0) - (x < 0));
        } else {
            return static_cast<T>(x > 0);
        }
    } else if constexpr (K == Un::Relu) {
        return x < 0 ? T(0) : x;  // keeps NaN
    } else if constexpr (K == Un::Not) {
        return static_cast<uint8_t>(x == 0);
    } else if constexpr (K == Un::IsNaN) {
        return static_cast<uint8_t>(x != x);
    } else if constexpr (K == Un::IsInf) {
        return static_cast<uint8_t>((p.detect_pos && x == std::numeric_limits<T>::infinity()) ||
                                    (p.detect_neg && x == -std::numeric_limits<T>::infinity()));
    } else if constexpr (K == Un::Reciprocal) {
        return T(1) / x;
    } else if constexpr (K == Un::Sqrt) {
        return std::sqrt(x);
    } else if constexpr (K == Un::Exp) {
        return std::exp(x);
    } else if constexpr (K == Un::Log) {
        return std::log(x);
    } else if constexpr (K == Un::Ceil) {
        return std::ceil(x);
    } else if constexpr (K == Un::Floor) {
        return std::floor(x);
    } else if constexpr (K == Un::Round) {
        return std::nearbyint(x);  // half to even in the default rounding mode
    } else if constexpr (K == Un::Erf) {
        return std::erf(x);
    } else if constexpr (K == Un::Sin) {
        return std::sin(x);
    } else if constexpr (K == Un::Cos) {
        return std::cos(x);
    } else if constexpr (K == Un::Tan) {
        return std::tan(x);
    } else if constexpr (K == Un::Asin) {
        return std::asin(x);
    } else if constexpr (K == Un::Acos) {
        return std::acos(x);
    } else if constexpr (K == Un::Atan) {
        return std::atan(x);
    } else if constexpr (K == Un::Sinh) {
        return std::sinh(x);
    } else if constexpr (K == Un::Cosh) {
        return std::cosh(x);
    } else if constexpr (K == Un::Asinh) {
        return std::asinh(x);
    } else if constexpr (K == Un::Acosh) {
        return std::acosh(x);
    } else if constexpr (K == Un::Atanh) {
        return std::atanh(x);
    } else if constexpr (K == Un::Tanh) {
        return std::tanh(x);
    } else if constexpr (K == Un::Sigmoid) {
        return sigmoid(x);
    } else if constexpr (K == Un::LeakyRelu) {
        // max/min instead of a branch: GCC vectorises these selects, NaN passes through.
        return std::max(x, T(0)) + static_cast<T>(p.a) * std::min(x, T(0));
    } else if constexpr (K == Un::Elu) {
        return x < 0 ? static_cast<T>(p.a) * std::expm1(x) : x;
    } else if constexpr (K == Un::Selu) {
        return x > 0 ? static_cast<T>(p.b) * x
                     : static_cast<T>(p.b) * static_cast<T>(p.a) * std::expm1(x);
    } else if constexpr (K == Un::Celu) {
        const T alpha = static_cast<T>(p.a);
        return x > 0 ? x : alpha * std::expm1(x / alpha);
    } else if constexpr (K == Un::HardSigmoid) {
        const T v = static_cast<T>(p.a) * x + static_cast<T>(p.b);
        return std::min(std::max(v, T(0)), T(1));
    } else if constexpr (K == Un::HardSwish) {
        const T v = x * T(1.0 / 6.0) + T(0.5);
        return x * std::min(std::max(v, T(0)), T(1));
    } else if constexpr (K == Un::Softplus) {
        return softplus(x);
    } else if constexpr (K == Un::Softsign) {
        return x / (T(1) + std::fabs(x));
    } else if constexpr (K == Un::ThresholdedRelu) {
        return x > static_cast<T>(p.a) ? x : T(0);
    } else if constexpr (K == Un::Shrink) {
        const T bias = static_cast<T>(p.a), lambd = static_cast<T>(p.b);
        return x < -lambd ? x + bias : x > lambd ? x - bias : T(0);
    } else {
        static_assert(K == Un::Mish, "unhandled op");
        return x * std::tanh(softplus(x));
    }
}

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

Status check_io(const KernelIO &io) {
    EMBER_CHECK(io.num_inputs >= 1 && io.num_outputs >= 1);
    EMBER_CHECK(io.inputs[0].data != nullptr && io.outputs[0].data != nullptr);
    return Status::OK();
}

// Fixed blocks through __restrict pointers: GCC 12 at -O2 (the "very cheap" cost
// model) vectorises only loops with a known trip count and no runtime alias check.
constexpr int kBlock = 16;

// ---- float32 exp that GCC vectorises (Exp, Sigmoid) ----
// x = n*ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 split in a short exact part and a
// correction), e^r by its Taylor series to r^7 (truncation error < 6e-9 relative),
// and 2^n put in the exponent field in two halves, so that n = 128 still overflows to
// inf and n down to -152 underflows through the subnormals with a single rounding.
// Largest error measured against double exp over the float range: 1.3 ulp. About
// twice libm's speed at -O2 with SSE2; more where the compiler may use wider vectors.
// Selects must not feed arithmetic for GCC to if-convert them, hence the clamp is a
// separate step (exp_clamp) whose result is stored before exp_core reads it.

inline float exp_clamp(float x) {  // NaN passes through
    x = x < -104.0f ? -104.0f : x;  // e^-104 is below half the smallest subnormal
    return 89.0f < x ? 89.0f : x;   // e^89 overflows
}

inline float float_from_bits(int32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}

inline float exp_core(float x) {  // x already clamped
    const float fn = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round(x/ln2)
    float r = x - fn * 0.693359375f;      // 0.693359375 = 355/512: fn * it is exact
    r = r - fn * -2.12194440e-4f;         // ln2 - 355/512
    float q = 1.98412698e-4f;             // 1/7!
    q = q * r + 1.38888889e-3f;           // 1/6!
    q = q * r + 8.33333333e-3f;           // 1/5!
    q = q * r + 4.16666667e-2f;           // 1/4!
    q = q * r + 1.66666667e-1f;           // 1/3!
    q = q * r + 0.5f;
    const float e_r = (q * r) * r + r + 1.0f;
    const int32_t n = static_cast<int32_t>(fn);
    const int32_t n1 = n >> 1, n2 = n - n1;
    return e_r * float_from_bits((n1 + 127) << 23) * float_from_bits((n2 + 127) << 23);
}

template <Un K>
constexpr bool kFastExp = K == Un::Exp || K == Un::Sigmoid;

template <Un K>
void exp_row(const float *__restrict x, float *__restrict o, int64_t n) {
    constexpr float sign = K == Un::Exp ? 1.0f : -1.0f;
    int64_t i = 0;
    for (; i < n; i += kBlock) {
        const int m = static_cast<int>(std::min<int64_t>(kBlock, n - i));
        float t[kBlock];
        if (m == kBlock) {
            for (int j = 0; j < kBlock; j++) t[j] = exp_clamp(sign * x[i + j]);
            for (int j = 0; j < kBlock; j++) {
                const float e = exp_core(t[j]);
                o[i + j] = K == Un::Exp ? e : 1.0f / (1.0f + e);
            }
        } else {
            for (int j = 0; j < m; j++) {
                const float e = exp_core(exp_clamp(sign * x[i + j]));
                o[i + j] = K == Un::Exp ? e : 1.0f / (1.0f + e);
            }
        }
    }
}

// HardSwish: x * clamp(x/6 + 1/2, 0, 1), the clamp stored first (see exp_clamp).
template <class T>
void hardswish_row(const T *__restrict x, T *__restrict o, int64_t n) {
    auto gate = [](T v) {
        v = v * T(1.0 / 6.0) + T(0.5);
        v = v < T(0) ? T(0) : v;  // NaN passes through
        return T(1) < v ? T(1) : v;
    };
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
        T g[kBlock];
        for (int j = 0; j < kBlock; j++) g[j] = gate(x[i + j]);
        for (int j = 0; j < kBlock; j++) o[i + j] = x[i + j] * g[j];
    }
    for (; i < n; i++) o[i] = x[i] * gate(x[i]);
}

template <Un K, class T, class R>
void unary_row(const T *__restrict x, R *__restrict o, int64_t n, const Params &params) {
    if constexpr (kFastExp<K> && std::is_same<T, float>::value) {
        exp_row<K>(x, o, n);
    } else if constexpr (K == Un::HardSwish) {
        hardswish_row(x, o, n);
    } else {
        const Params p = params;
        int64_t i = 0;
        for (; i + kBlock <= n; i += kBlock)
            for (int j = 0; j < kBlock; j++) o[i + j] = apply<K, T>(x[i + j], p);
        for (; i < n; i++) o[i] = apply<K, T>(x[i], p);
    }
}

template <Un K, class T>
std::unique_ptr<Kernel> unary_kernel(Params p, int64_t n) {
    using R = decltype(apply<K, T>(T(), p));
    const int64_t grain = un_info(K).dear ? kGrainDear : kGrain;
    return make_fn_kernel([p, n, grain](const KernelIO &io) -> Status {
        EMBER_RETURN_IF_ERROR(check_io(io));
        const T *x = static_cast<const T *>(io.inputs[0].data);
        R *o = static_cast<R *>(io.outputs[0].data);
        parallel_range(io, n, grain, [&](int64_t b, int64_t e) {
            unary_row<K, T, R>(x + b, o + b, e - b, p);
        });
        return Status::OK();
    });
}

// Calls f(Tag<T>{}) for the C++ type computing `t` if op K takes it.
template <Un K, class F>
bool visit_types(DType t, F &&f) {
    constexpr Types types = un_info(K).types;
    if constexpr (types == Types::Bool) {
        if (t != DType::Bool) return false;
        f(Tag<uint8_t>{});
        return true;
    } else {
        switch (compute_dtype(t)) {
            case DType::F32: f(Tag<float>{}); return true;
            case DType::F64: f(Tag<double>{}); return true;
            default: break;
        }
        if constexpr (types == Types::Signed || types == Types::Numeric) {
            switch (t) {
                case DType::I8: f(Tag<int8_t>{}); return true;
                case DType::I16: f(Tag<int16_t>{}); return true;
                case DType::I32: f(Tag<int32_t>{}); return true;
                case DType::I64: f(Tag<int64_t>{}); return true;
                default: break;
            }
        }
        if constexpr (types == Types::Numeric) {
            switch (t) {
                case DType::U8: f(Tag<uint8_t>{}); return true;
                case DType::U16: f(Tag<uint16_t>{}); return true;
                case DType::U32: f(Tag<uint32_t>{}); return true;
                case DType::U64: f(Tag<uint64_t>{}); return true;
                default: break;
            }
        }
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
        for (const char *name : allowed) ok = ok || (name && a.name == name);
        if (!ok)
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: attribute '%s' is not supported", op,
                          a.name.c_str());
    }
    return Status::OK();
}

void set_output(InferContext &ctx, DType dtype, const Shape &shape) {
    if (ctx.outputs.size() < 1) ctx.outputs.resize(1);
    ctx.outputs[0].dtype = dtype;
    ctx.outputs[0].shape = shape;
    ctx.outputs[0].value = nullptr;
}

// ---------------------------------------------------------------------------------
// Plain unary ops
// ---------------------------------------------------------------------------------

template <Un K>
Status unary_infer(InferContext &ctx) {
    const char *op = un_info(K).name;
    const AttrDefaults ad = un_attrs(K);
    if (K == Un::IsInf) {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {"detect_negative", "detect_positive"}));
    } else {
        EMBER_RETURN_IF_ERROR(check_attrs(ctx, op, {ad.name_a, ad.name_b}));
    }
    if (ctx.num_inputs() != 1 || !ctx.input(0))
        return errorf(EMBER_ERR_SHAPE, "%s: expects 1 input, got %zu", op, ctx.num_inputs());
    const TensorInfo &x = *ctx.input(0);
    if (!visit_types<K>(x.dtype, [](auto) {}))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op,
                      dtype_name(x.dtype));
    const bool bool_out = K == Un::Not || K == Un::IsNaN || K == Un::IsInf;
    set_output(ctx, bool_out ? DType::Bool : x.dtype, x.shape);
    return Status::OK();
}

template <Un K>
Status unary_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const char *op = un_info(K).name;
    const AttrDefaults ad = un_attrs(K);
    Params p;
    if (ctx.node) {
        if (ad.name_a) p.a = ctx.node->attr_float(ad.name_a, ad.dflt_a);
        if (ad.name_b) p.b = ctx.node->attr_float(ad.name_b, ad.dflt_b);
        p.detect_neg = ctx.node->attr_int("detect_negative", 1) != 0;
        p.detect_pos = ctx.node->attr_int("detect_positive", 1) != 0;
    } else {
        p.a = ad.dflt_a;
        p.b = ad.dflt_b;
    }
    EMBER_CHECK(ctx.input(0) != nullptr);
    const TensorInfo &x = *ctx.input(0);
    const int64_t n = x.numel();
    const bool ok = visit_types<K>(x.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        *out = unary_kernel<K, T>(p, n);
    });
    if (!ok)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: dtype %s is not supported", op,
                      dtype_name(x.dtype));
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Clip(X, min = lowest, max = highest): min and max are optional scalar inputs, read
// at run time (they need not be constants). The opset < 11 attribute form (rewritten
// by the converter) is accepted too. min > max gives max everywhere; NaN stays NaN.
// ---------------------------------------------------------------------------------

Status clip_infer(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(check_attrs(ctx, "Clip", {"min", "max"}));
    if (ctx.num_inputs() < 1 || ctx.num_inputs() > 3 || !ctx.input(0))
        return errorf(EMBER_ERR_SHAPE, "Clip: expects 1 to 3 inputs, got %zu", ctx.num_inputs());
    const TensorInfo &x = *ctx.input(0);
    if (!visit_types<Un::Clip>(x.dtype, [](auto) {}))
        return errorf(EMBER_ERR_UNSUPPORTED, "Clip: dtype %s is not supported",
                      dtype_name(x.dtype));
    if (ctx.node && (ctx.node->attr("min") || ctx.node->attr("max")) &&
        compute_dtype(x.dtype) != DType::F32 && x.dtype != DType::F64)
        return errorf(EMBER_ERR_UNSUPPORTED, "Clip: min/max attributes with dtype %s",
                      dtype_name(x.dtype));
    for (size_t i = 1; i < ctx.num_inputs(); i++) {
        const TensorInfo *b = ctx.input(i);
        if (!b) continue;
        const char *which = i == 1 ? "min" : "max";
        if (b->dtype != x.dtype)
            return errorf(EMBER_ERR_SHAPE, "Clip: %s has dtype %s, input has %s", which,
                          dtype_name(b->dtype), dtype_name(x.dtype));
        if (b->numel() != 1)
            return errorf(EMBER_ERR_SHAPE, "Clip: %s must be a scalar, got shape %s", which,
                          shape_str(b->shape).c_str());
    }
    set_output(ctx, x.dtype, x.shape);
    return Status::OK();
}

template <class T>
void clip_row(const T *__restrict x, T *__restrict o, int64_t n, const T lo, const T hi) {
    auto clip = [lo, hi](T v) {
        v = v < lo ? lo : v;
        return hi < v ? hi : v;
    };
    int64_t i = 0;
    for (; i + kBlock <= n; i += kBlock)
        for (int j = 0; j < kBlock; j++) o[i + j] = clip(x[i + j]);
    for (; i < n; i++) o[i] = clip(x[i]);
}

template <class T>
std::unique_ptr<Kernel> clip_kernel(int64_t n, T lo_default, T hi_default) {
    return make_fn_kernel([n, lo_default, hi_default](const KernelIO &io) -> Status {
        EMBER_RETURN_IF_ERROR(check_io(io));
        T lo = lo_default, hi = hi_default;
        if (io.num_inputs > 1 && io.inputs[1].data) lo = *static_cast<const T *>(io.inputs[1].data);
        if (io.num_inputs > 2 && io.inputs[2].data) hi = *static_cast<const T *>(io.inputs[2].data);
        const T *x = static_cast<const T *>(io.inputs[0].data);
        T *o = static_cast<T *>(io.outputs[0].data);
        parallel_range(io, n, kGrain, [&](int64_t b, int64_t e) { clip_row(x + b, o + b, e - b, lo, hi); });
        return Status::OK();
    });
}

Status clip_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    EMBER_CHECK(ctx.input(0) != nullptr);
    const TensorInfo &x = *ctx.input(0);
    const int64_t n = x.numel();
    const bool ok = visit_types<Un::Clip>(x.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T lo, hi;
        if constexpr (kIsFloat<T>) {
            lo = -std::numeric_limits<T>::infinity();
            hi = std::numeric_limits<T>::infinity();
            if (ctx.node) {
                lo = static_cast<T>(ctx.node->attr_float("min", static_cast<float>(lo)));
                hi = static_cast<T>(ctx.node->attr_float("max", static_cast<float>(hi)));
            }
        } else {
            lo = std::numeric_limits<T>::lowest();
            hi = std::numeric_limits<T>::max();
        }
        *out = clip_kernel<T>(n, lo, hi);
    });
    if (!ok)
        return errorf(EMBER_ERR_UNSUPPORTED, "Clip: dtype %s is not supported",
                      dtype_name(x.dtype));
    return Status::OK();
}

template <Un K>
void add_unary(OpRegistry &r) {
    OpSchema s;
    s.op_type = un_info(K).name;
    s.infer = unary_infer<K>;
    s.create = unary_create<K>;
    r.add(s);
}

}  // namespace

void register_elementwise_unary_ops(OpRegistry &r) {
    add_unary<Un::Abs>(r);
    add_unary<Un::Neg>(r);
    add_unary<Un::Sign>(r);
    add_unary<Un::Relu>(r);
    add_unary<Un::Not>(r);
    add_unary<Un::IsNaN>(r);
    add_unary<Un::IsInf>(r);
    add_unary<Un::Reciprocal>(r);
    add_unary<Un::Sqrt>(r);
    add_unary<Un::Exp>(r);
    add_unary<Un::Log>(r);
    add_unary<Un::Ceil>(r);
    add_unary<Un::Floor>(r);
    add_unary<Un::Round>(r);
    add_unary<Un::Erf>(r);
    add_unary<Un::Sin>(r);
    add_unary<Un::Cos>(r);
    add_unary<Un::Tan>(r);
    add_unary<Un::Asin>(r);
    add_unary<Un::Acos>(r);
    add_unary<Un::Atan>(r);
    add_unary<Un::Sinh>(r);
    add_unary<Un::Cosh>(r);
    add_unary<Un::Asinh>(r);
    add_unary<Un::Acosh>(r);
    add_unary<Un::Atanh>(r);
    add_unary<Un::Tanh>(r);
    add_unary<Un::Sigmoid>(r);
    add_unary<Un::LeakyRelu>(r);
    add_unary<Un::Elu>(r);
    add_unary<Un::Selu>(r);
    add_unary<Un::Celu>(r);
    add_unary<Un::HardSigmoid>(r);
    add_unary<Un::HardSwish>(r);
    add_unary<Un::Softplus>(r);
    add_unary<Un::Softsign>(r);
    add_unary<Un::ThresholdedRelu>(r);
    add_unary<Un::Shrink>(r);
    add_unary<Un::Mish>(r);
    OpSchema clip;
    clip.op_type = "Clip";
    clip.infer = clip_infer;
    clip.create = clip_create;
    r.add(clip);
}

}  // namespace ember
