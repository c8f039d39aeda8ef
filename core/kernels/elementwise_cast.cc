// elementwise_cast.cc — Cast (attribute `to`, an ONNX TensorProto data type) and
// CastLike (the dtype of input 1), between every Ember dtype.
//
// f16_native: the kernel reads and writes float16 and bfloat16 itself.
// Conversion rules:
//   - float -> float: one rounding, to nearest even. float64 -> float16/bfloat16 rounds
//     to float32 with round-to-odd first, which keeps the final rounding exact (no
//     double rounding); integers -> float16/bfloat16 go through float64 likewise.
//   - float -> integer: truncation toward zero, like C; values beyond the target's
//     range saturate to its minimum or maximum, NaN gives 0 (C leaves both undefined).
//   - integer -> integer: modulo 2^bits (two's complement), like numpy's astype.
//   - anything -> bool: x != 0 (NaN -> true); bool -> anything: 0 or 1.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

void register_elementwise_cast_ops(OpRegistry &r);

namespace {

constexpr int64_t kGrain = 32768;

// Storage types that need a tag of their own.
struct Half { uint16_t bits; };
struct BFloat { uint16_t bits; };
struct Boolean { uint8_t v; };

template <class T>
struct Tag {
    using type = T;
};

template <class F>
bool visit_all(DType t, F &&f) {
    switch (t) {
        case DType::F32: f(Tag<float>{}); return true;
        case DType::F64: f(Tag<double>{}); return true;
        case DType::F16: f(Tag<Half>{}); return true;
        case DType::BF16: f(Tag<BFloat>{}); return true;
        case DType::I8: f(Tag<int8_t>{}); return true;
        case DType::U8: f(Tag<uint8_t>{}); return true;
        case DType::I16: f(Tag<int16_t>{}); return true;
        case DType::U16: f(Tag<uint16_t>{}); return true;
        case DType::I32: f(Tag<int32_t>{}); return true;
        case DType::U32: f(Tag<uint32_t>{}); return true;
        case DType::I64: f(Tag<int64_t>{}); return true;
        case DType::U64: f(Tag<uint64_t>{}); return true;
        case DType::Bool: f(Tag<Boolean>{}); return true;
        default: return false;
    }
}

// ONNX TensorProto.DataType -> Ember dtype; Undefined for types Ember lacks.
DType dtype_from_onnx(int64_t code) {
    switch (code) {
        case 1: return DType::F32;
        case 2: return DType::U8;
        case 3: return DType::I8;
        case 4: return DType::U16;
        case 5: return DType::I16;
        case 6: return DType::I32;
        case 7: return DType::I64;
        case 9: return DType::Bool;
        case 10: return DType::F16;
        case 11: return DType::F64;
        case 12: return DType::U32;
        case 13: return DType::U64;
        case 16: return DType::BF16;
        default: return DType::Undefined;
    }
}

const char *onnx_type_name(int64_t code) {
    switch (code) {
        case 0: return "undefined";
        case 8: return "string";
        case 14: return "complex64";
        case 15: return "complex128";
        case 17: return "float8e4m3fn";
        case 18: return "float8e4m3fnuz";
        case 19: return "float8e5m2";
        case 20: return "float8e5m2fnuz";
        case 21: return "uint4";
        case 22: return "int4";
        default: return "unknown";
    }
}

// d rounded to float with round-to-odd: truncate, then set the last bit if inexact.
// A later round-to-nearest-even to 16 bits then equals rounding d directly.
float round_to_odd_float(double d) {
    float f = static_cast<float>(d);
    if (d != d || static_cast<double>(f) == d) return f;
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u |= 1u;
    std::memcpy(&f, &u, 4);
    return f;
}

// Truncation toward zero, saturating, NaN -> 0.
template <class D>
D double_to_int(double v) {
    if (v != v) return 0;
    const double lo = static_cast<double>(std::numeric_limits<D>::min());
    const double hi = static_cast<double>(std::numeric_limits<D>::max());
    const double t = std::trunc(v);
    if (t <= lo) return std::numeric_limits<D>::min();
    if (t >= hi) return std::numeric_limits<D>::max();
    return static_cast<D>(t);
}

// ---- a value of a source type, in the widest type of its kind ----

template <class S>
constexpr bool kSrcFloat = std::is_floating_point<S>::value || std::is_same<S, Half>::value ||
                           std::is_same<S, BFloat>::value;

template <class S>
inline auto load(S s) {
    if constexpr (std::is_same<S, Half>::value) {
        return static_cast<double>(half_to_float(s.bits));
    } else if constexpr (std::is_same<S, BFloat>::value) {
        return static_cast<double>(bf16_to_float(s.bits));
    } else if constexpr (std::is_floating_point<S>::value) {
        return static_cast<double>(s);
    } else if constexpr (std::is_same<S, Boolean>::value) {
        return static_cast<uint64_t>(s.v != 0);
    } else if constexpr (std::is_signed<S>::value) {
        return static_cast<int64_t>(s);
    } else {
        return static_cast<uint64_t>(s);
    }
}

// ---- a loaded value (double, int64_t or uint64_t) stored as D ----

template <class D, class V>
inline D store(V v) {
    constexpr bool from_float = std::is_floating_point<V>::value;
    if constexpr (std::is_same<D, Boolean>::value) {
        return Boolean{static_cast<uint8_t>(v != 0)};
    } else if constexpr (std::is_same<D, Half>::value) {
        return Half{float_to_half(round_to_odd_float(static_cast<double>(v)))};
    } else if constexpr (std::is_same<D, BFloat>::value) {
        return BFloat{float_to_bf16(round_to_odd_float(static_cast<double>(v)))};
    } else if constexpr (std::is_floating_point<D>::value) {
        return static_cast<D>(v);
    } else if constexpr (from_float) {
        return double_to_int<D>(v);
    } else {
        return static_cast<D>(v);  // modulo 2^bits
    }
}

template <class S, class D>
inline D convert(S s) {
    if constexpr (std::is_same<S, float>::value && std::is_same<D, Half>::value) {
        return Half{float_to_half(s)};  // exact shortcut: a float needs no round-to-odd
    } else if constexpr (std::is_same<S, float>::value && std::is_same<D, BFloat>::value) {
        return BFloat{float_to_bf16(s)};
    } else if constexpr (std::is_same<S, Half>::value && std::is_same<D, float>::value) {
        return half_to_float(s.bits);
    } else if constexpr (std::is_same<S, BFloat>::value && std::is_same<D, float>::value) {
        return bf16_to_float(s.bits);
    } else {
        return store<D>(load(s));
    }
}

template <class S, class D>
std::unique_ptr<Kernel> cast_kernel(int64_t n) {
    return make_fn_kernel([n](const KernelIO &io) -> Status {
        EMBER_CHECK(io.num_inputs >= 1 && io.num_outputs >= 1);
        EMBER_CHECK(io.inputs[0].data != nullptr && io.outputs[0].data != nullptr);
        const S *x = static_cast<const S *>(io.inputs[0].data);
        D *o = static_cast<D *>(io.outputs[0].data);
        auto body = [&](int64_t b, int64_t e) {
            if constexpr (std::is_same<S, D>::value) {
                std::memcpy(o + b, x + b, static_cast<size_t>(e - b) * sizeof(S));
            } else {
                for (int64_t i = b; i < e; i++) o[i] = convert<S, D>(x[i]);
            }
        };
        if (n <= kGrain || io.max_threads <= 1 || !io.pool) {
            if (n > 0) body(0, n);
        } else {
            io.pool->parallel_for(n, kGrain, io.max_threads, body);
        }
        return Status::OK();
    });
}

// Cast: `to`; CastLike: input 1's dtype.
Status cast_target(const InferContext &ctx, bool like, DType *out) {
    const char *op = like ? "CastLike" : "Cast";
    if (ctx.node) {
        for (const Attribute &a : ctx.node->attrs) {
            // `saturate` (opset 19) only affects float8 targets, which are refused.
            if (a.name == "saturate" || (!like && a.name == "to")) continue;
            return errorf(EMBER_ERR_UNSUPPORTED, "%s: attribute '%s' is not supported", op,
                          a.name.c_str());
        }
    }
    if (!ctx.input(0)) return errorf(EMBER_ERR_SHAPE, "%s: input 0 is missing", op);
    if (like) {
        if (!ctx.input(1)) return errorf(EMBER_ERR_SHAPE, "CastLike: input 1 is missing");
        *out = ctx.input(1)->dtype;
    } else {
        const Attribute *to = ctx.node ? ctx.node->attr("to") : nullptr;
        if (!to) return errorf(EMBER_ERR_UNSUPPORTED, "Cast: attribute 'to' is missing");
        *out = dtype_from_onnx(to->i);
        if (*out == DType::Undefined)
            return errorf(EMBER_ERR_UNSUPPORTED, "Cast: target type %lld (%s) is not supported",
                          static_cast<long long>(to->i), onnx_type_name(to->i));
    }
    if (!visit_all(*out, [](auto) {}))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: target dtype %s is not supported", op,
                      dtype_name(*out));
    const DType src = ctx.input(0)->dtype;
    if (!visit_all(src, [](auto) {}))
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: input dtype %s is not supported", op,
                      dtype_name(src));
    return Status::OK();
}

template <bool Like>
Status cast_infer(InferContext &ctx) {
    DType to;
    EMBER_RETURN_IF_ERROR(cast_target(ctx, Like, &to));
    if (ctx.outputs.size() < 1) ctx.outputs.resize(1);
    ctx.outputs[0].dtype = to;
    ctx.outputs[0].shape = ctx.input(0)->shape;
    ctx.outputs[0].value = nullptr;
    return Status::OK();
}

template <bool Like>
Status cast_create(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    DType to;
    EMBER_RETURN_IF_ERROR(cast_target(ctx, Like, &to));
    const int64_t n = ctx.input(0)->numel();
    bool ok = false;
    visit_all(ctx.input(0)->dtype, [&](auto s) {
        using S = typename decltype(s)::type;
        ok = visit_all(to, [&](auto d) {
            using D = typename decltype(d)::type;
            *out = cast_kernel<S, D>(n);
        });
    });
    EMBER_CHECK(ok);
    return Status::OK();
}

}  // namespace

void register_elementwise_cast_ops(OpRegistry &r) {
    OpSchema cast;
    cast.op_type = "Cast";
    cast.f16_native = true;
    cast.infer = cast_infer<false>;
    cast.create = cast_create<false>;
    r.add(cast);
    OpSchema like;
    like.op_type = "CastLike";
    like.f16_native = true;
    like.infer = cast_infer<true>;
    like.create = cast_create<true>;
    r.add(like);
}

}  // namespace ember
