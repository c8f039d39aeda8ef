// resize.cc — Resize (opset 11-19 semantics; Upsample and Resize-10 arrive here as
// Resize with coordinate_transformation_mode=asymmetric, nearest_mode=floor).
//
// Coordinates follow the ONNX reference implementation: every transformation uses
// the scale (given, or sizes/input), and "output width" means scale * input width,
// not the rounded output size. This matters for downsampling with align_corners,
// where it differs from ONNX Runtime (see /work/shared/conformance/README.md).
//
// nearest: one gather through per-axis index maps; any dtype (by element size).
// linear, cubic: float32; separable, one pass per resized axis, each output point a
//   2- or 4-tap weighted sum along that axis, in the order that moves the least
//   data (order_passes). Taps outside the input are clamped to the
//   edge (or dropped and the weights renormalised with exclude_outside=1).
// tf_crop_and_resize: points sampled outside the input get extrapolation_value.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "core/kernels/shape_internal.h"
#include "core/thread_pool.h"

namespace ember {

using shape_detail::require_input;

namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kHalfPixelSymmetric, kAsymmetric, kPytorchHalfPixel,
                   kAlignCorners, kTfCropAndResize, kTfHalfPixelForNn };
enum class NearestRound { kPreferFloor, kPreferCeil, kFloor, kCeil };

struct ResizeSpec {
    Mode mode = Mode::kNearest;
    Coord coord = Coord::kHalfPixel;
    NearestRound nearest = NearestRound::kPreferFloor;
    double cubic_a = -0.75;
    bool exclude_outside = false;
    float extrapolation = 0.0f;
    Shape in, out;
    std::vector<double> scale;       // per dim, used by the coordinate transformation
    std::vector<double> out_width;   // per dim: scale * input width (the reference's)
    std::vector<double> roi_start, roi_end;  // per dim, tf_crop_and_resize only
};

Status parse_enum_attrs(const Node &node, ResizeSpec *s) {
    std::string mode = node.attr_string("mode", "nearest");
    if (mode == "nearest") s->mode = Mode::kNearest;
    else if (mode == "linear" || mode == "bilinear") s->mode = Mode::kLinear;
    else if (mode == "cubic" || mode == "bicubic") s->mode = Mode::kCubic;
    else return errorf(EMBER_ERR_UNSUPPORTED, "Resize: mode '%s' is not supported", mode.c_str());

    std::string ct = node.attr_string("coordinate_transformation_mode", "half_pixel");
    if (ct == "half_pixel") s->coord = Coord::kHalfPixel;
    else if (ct == "half_pixel_symmetric") s->coord = Coord::kHalfPixelSymmetric;
    else if (ct == "asymmetric") s->coord = Coord::kAsymmetric;
    else if (ct == "pytorch_half_pixel") s->coord = Coord::kPytorchHalfPixel;
    else if (ct == "align_corners") s->coord = Coord::kAlignCorners;
    else if (ct == "tf_crop_and_resize") s->coord = Coord::kTfCropAndResize;
    else if (ct == "tf_half_pixel_for_nn") s->coord = Coord::kTfHalfPixelForNn;  // opset 11
    else return errorf(EMBER_ERR_UNSUPPORTED,
                       "Resize: coordinate_transformation_mode '%s' is not supported", ct.c_str());

    std::string nm = node.attr_string("nearest_mode", "round_prefer_floor");
    if (nm == "round_prefer_floor") s->nearest = NearestRound::kPreferFloor;
    else if (nm == "round_prefer_ceil") s->nearest = NearestRound::kPreferCeil;
    else if (nm == "floor") s->nearest = NearestRound::kFloor;
    else if (nm == "ceil") s->nearest = NearestRound::kCeil;
    else return errorf(EMBER_ERR_UNSUPPORTED, "Resize: nearest_mode '%s' is not supported",
                       nm.c_str());

    s->cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
    s->exclude_outside = node.attr_int("exclude_outside", 0) != 0;
    s->extrapolation = node.attr_float("extrapolation_value", 0.0f);
    if (node.attr_int("antialias", 0) != 0 && s->mode != Mode::kNearest)
        return errorf(EMBER_ERR_UNSUPPORTED, "Resize: antialias=1 is not supported");
    return Status::OK();
}

// An optional input counts as given when present and non-empty (opset 11-12 graphs
// pass an empty `scales` next to `sizes`).
const TensorInfo *given(const InferContext &ctx, size_t i) {
    const TensorInfo *t = ctx.input(i);
    return t && t->numel() > 0 ? t : nullptr;
}

Status read_float_values(const TensorInfo &t, const char *what, std::vector<double> *out) {
    if (!t.value)
        return errorf(EMBER_ERR_UNSUPPORTED, "Resize: the value of %s is not known when planning",
                      what);
    int64_t n = t.numel();
    out->resize(static_cast<size_t>(n));
    if (t.dtype == DType::F32) {
        for (int64_t i = 0; i < n; i++) (*out)[i] = t.as<float>()[i];
    } else if (t.dtype == DType::F64) {
        for (int64_t i = 0; i < n; i++) (*out)[i] = t.as<double>()[i];
    } else {
        return errorf(EMBER_ERR_UNSUPPORTED, "Resize: %s dtype %s is not supported", what,
                      dtype_name(t.dtype));
    }
    return Status::OK();
}

// Round half to even (numpy's round).
double round_even(double v) {
    double f = std::floor(v), d = v - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return std::fmod(f, 2.0) == 0.0 ? f : f + 1;
}

Status resize_spec(const InferContext &ctx, ResizeSpec *s) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Resize", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(parse_enum_attrs(*ctx.node, s));
    if (s->mode != Mode::kNearest && x.dtype != DType::F32)
        return errorf(EMBER_ERR_UNSUPPORTED, "Resize: mode %s on dtype %s is not supported "
                      "(float32 only)", s->mode == Mode::kLinear ? "linear" : "cubic",
                      dtype_name(x.dtype));
    EMBER_RETURN_IF_ERROR(shape_detail::check_known_dtype("Resize", x.dtype));
    int64_t r = x.rank();
    std::vector<int64_t> axes;
    const Attribute *axes_attr = ctx.node->attr("axes");
    std::vector<char> seen(static_cast<size_t>(r), 0);
    if (axes_attr) {
        for (int64_t a : axes_attr->ints) {
            int64_t ax;
            if (!normalize_axis(a, r, &ax) || seen[ax])
                return errorf(EMBER_ERR_SHAPE, "Resize: axes %s invalid for input %s",
                              shape_detail::ints_str(axes_attr->ints).c_str(),
                              shape_str(x.shape).c_str());
            seen[ax] = 1;
            axes.push_back(ax);
        }
    } else {
        for (int64_t i = 0; i < r; i++) axes.push_back(i);
    }
    size_t na = axes.size();
    s->in = x.shape;
    s->out = x.shape;
    s->scale.assign(r, 1.0);
    s->out_width.assign(r, 0.0);
    for (int64_t d = 0; d < r; d++) s->out_width[d] = static_cast<double>(x.shape[d]);
    s->roi_start.assign(r, 0.0);
    s->roi_end.assign(r, 1.0);

    const TensorInfo *scales = given(ctx, 2);
    const TensorInfo *sizes = given(ctx, 3);
    if (scales && sizes)
        return errorf(EMBER_ERR_SHAPE, "Resize: both scales and sizes are given");
    if (!scales && !sizes)
        return errorf(EMBER_ERR_SHAPE, "Resize: neither scales nor sizes is given");
    if (scales) {
        std::vector<double> v;
        EMBER_RETURN_IF_ERROR(read_float_values(*scales, "scales", &v));
        if (v.size() != na)
            return errorf(EMBER_ERR_SHAPE, "Resize: %zu scales for %zu axes of input %s",
                          v.size(), na, shape_str(x.shape).c_str());
        for (size_t i = 0; i < na; i++) {
            int64_t d = axes[i];
            if (!(v[i] > 0) || !std::isfinite(v[i]))
                return errorf(EMBER_ERR_SHAPE, "Resize: scale %g for axis %lld must be positive",
                              v[i], static_cast<long long>(d));
            double w = v[i] * static_cast<double>(x.shape[d]);
            if (w > static_cast<double>(kMaxElements))
                return errorf(EMBER_ERR_SHAPE, "Resize: scale %g makes axis %lld too large", v[i],
                              static_cast<long long>(d));
            s->scale[d] = v[i];
            s->out_width[d] = w;
            s->out[d] = static_cast<int64_t>(std::floor(w));
        }
    } else {
        std::vector<int64_t> v;
        if (sizes->dtype != DType::I64)
            return errorf(EMBER_ERR_UNSUPPORTED, "Resize: sizes dtype %s is not supported",
                          dtype_name(sizes->dtype));
        if (!sizes->value)
            return errorf(EMBER_ERR_UNSUPPORTED, "Resize: the value of sizes is not known when planning");
        read_int_values(*sizes, &v);
        if (v.size() != na)
            return errorf(EMBER_ERR_SHAPE, "Resize: %zu sizes for %zu axes of input %s", v.size(),
                          na, shape_str(x.shape).c_str());
        for (size_t i = 0; i < na; i++)
            if (v[i] < 0 || v[i] > kMaxElements)
                return errorf(EMBER_ERR_SHAPE, "Resize: sizes %s has an invalid entry",
                              shape_detail::ints_str(v).c_str());
        std::string policy = ctx.node->attr_string("keep_aspect_ratio_policy", "stretch");
        if (policy == "stretch") {
            for (size_t i = 0; i < na; i++) {
                int64_t d = axes[i];
                s->out[d] = v[i];
                s->out_width[d] = static_cast<double>(v[i]);
                s->scale[d] = x.shape[d] ? static_cast<double>(v[i]) / x.shape[d] : 1.0;
            }
        } else if (policy == "not_larger" || policy == "not_smaller") {
            bool smaller = policy == "not_larger";
            double sc = smaller ? HUGE_VAL : 0.0;
            for (size_t i = 0; i < na; i++) {
                int64_t d = axes[i];
                if (!x.shape[d]) continue;
                double q = static_cast<double>(v[i]) / x.shape[d];
                sc = smaller ? std::min(sc, q) : std::max(sc, q);
            }
            if (!(sc > 0) || !std::isfinite(sc))
                return errorf(EMBER_ERR_SHAPE, "Resize: sizes %s give no usable scale",
                              shape_detail::ints_str(v).c_str());
            for (size_t i = 0; i < na; i++) {
                int64_t d = axes[i];
                s->scale[d] = sc;
                s->out_width[d] = sc * x.shape[d];
                s->out[d] = static_cast<int64_t>(round_even(sc * x.shape[d]));
            }
        } else {
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "Resize: keep_aspect_ratio_policy '%s' is not supported", policy.c_str());
        }
    }
    if (s->coord == Coord::kTfCropAndResize) {
        const TensorInfo *roi = given(ctx, 1);
        if (!roi)
            return errorf(EMBER_ERR_SHAPE, "Resize: tf_crop_and_resize needs the roi input");
        std::vector<double> v;
        EMBER_RETURN_IF_ERROR(read_float_values(*roi, "roi", &v));
        if (v.size() != 2 * na)
            return errorf(EMBER_ERR_SHAPE, "Resize: roi has %zu entries, %zu expected", v.size(),
                          2 * na);
        for (size_t i = 0; i < na; i++) {
            s->roi_start[axes[i]] = v[i];
            s->roi_end[axes[i]] = v[na + i];
        }
    }
    return Status::OK();
}

// Input coordinate of output index `o` along dim `d`; false = extrapolate.
bool source_coord(const ResizeSpec &s, int d, int64_t o, double *x) {
    double scale = s.scale[d], in = static_cast<double>(s.in[d]);
    double ow = s.out_width[d], xo = static_cast<double>(o);
    switch (s.coord) {
        case Coord::kHalfPixel:
            *x = (xo + 0.5) / scale - 0.5;
            break;
        case Coord::kHalfPixelSymmetric: {
            double adjustment = static_cast<double>(s.out[d]) / ow;
            double center = in / 2;
            double offset = center * (1 - adjustment);
            *x = offset + (xo + 0.5) / scale - 0.5;
            break;
        }
        case Coord::kAsymmetric:
            *x = xo / scale;
            break;
        case Coord::kTfHalfPixelForNn:
            *x = (xo + 0.5) / scale;
            break;
        case Coord::kPytorchHalfPixel:
            *x = s.out[d] > 1 ? (xo + 0.5) / scale - 0.5 : 0.0;
            break;
        case Coord::kAlignCorners:
            *x = ow == 1.0 ? 0.0 : xo * (in - 1) / (ow - 1);
            break;
        case Coord::kTfCropAndResize: {
            double r0 = s.roi_start[d], r1 = s.roi_end[d];
            if (ow == 1.0) *x = (r1 - r0) * (in - 1) / 2;
            else *x = xo * (r1 - r0) * (in - 1) / (ow - 1);
            *x += r0 * (in - 1);
            if (*x < 0 || *x > in - 1) return false;
            break;
        }
    }
    return true;
}

int64_t nearest_index(NearestRound m, double x, int64_t n) {
    double f = std::floor(x), frac = x - f;
    int64_t i;
    switch (m) {
        case NearestRound::kPreferFloor: i = static_cast<int64_t>(frac <= 0.5 ? f : f + 1); break;
        case NearestRound::kPreferCeil: i = static_cast<int64_t>(frac < 0.5 ? f : f + 1); break;
        case NearestRound::kFloor: i = static_cast<int64_t>(f); break;
        default: i = static_cast<int64_t>(std::ceil(x)); break;
    }
    return std::min(std::max<int64_t>(i, 0), n - 1);
}

bool axis_is_identity(const ResizeSpec &s, int d) {
    if (s.in[d] != s.out[d]) return false;
    for (int64_t o = 0; o < s.out[d]; o++) {
        double x;
        if (!source_coord(s, d, o, &x) || x != static_cast<double>(o)) return false;
    }
    return true;
}

// Encodes extrapolation_value in the tensor's dtype.
void extrapolation_bytes(DType t, float v, uint8_t out[8]) {
    std::memset(out, 0, 8);
    auto put = [&](auto x) { std::memcpy(out, &x, sizeof x); };
    auto sat = [&](double lo, double hi) { return std::min(std::max<double>(v, lo), hi); };
    switch (t) {
        case DType::F32: put(v); break;
        case DType::F64: put(static_cast<double>(v)); break;
        case DType::F16: put(float_to_half(v)); break;
        case DType::BF16: put(float_to_bf16(v)); break;
        case DType::I8: put(static_cast<int8_t>(sat(-128, 127))); break;
        case DType::U8: put(static_cast<uint8_t>(sat(0, 255))); break;
        case DType::I16: put(static_cast<int16_t>(sat(-32768, 32767))); break;
        case DType::U16: put(static_cast<uint16_t>(sat(0, 65535))); break;
        case DType::I32: put(static_cast<int32_t>(sat(-2147483648.0, 2147483647.0))); break;
        case DType::U32: put(static_cast<uint32_t>(sat(0, 4294967295.0))); break;
        case DType::I64: put(static_cast<int64_t>(sat(-9.2e18, 9.2e18))); break;
        case DType::U64: put(static_cast<uint64_t>(sat(0, 1.8e19))); break;
        case DType::Bool: put(static_cast<uint8_t>(v != 0.0f)); break;
        default: break;
    }
}

// ---- nearest: a gather through per-axis index maps ----

struct NearestPlan {
    int rank = 0;
    size_t elem = 0;
    Shape out;
    std::vector<int64_t> in_strides;        // elements
    std::vector<std::vector<int64_t>> map;  // per dim: output -> input index, -1 = extrapolate
    bool last_identity = false;             // innermost map is o -> o
    uint8_t extrap[8];
    int64_t rows = 0, row_elems = 0;
};

struct NearestJob {
    const NearestPlan *p;
    const uint8_t *src;
    uint8_t *dst;
};

// d[o] = s[map[o]], or the extrapolation value where map[o] < 0.
template <typename T>
void gather_row(const uint8_t *s, const int64_t *map, const uint8_t *extrap, uint8_t *d,
                int64_t n) {
    T ev;
    std::memcpy(&ev, extrap, sizeof(T));
    const T *src = reinterpret_cast<const T *>(s);
    T *dst = reinterpret_cast<T *>(d);
    for (int64_t o = 0; o < n; o++) dst[o] = map[o] < 0 ? ev : src[map[o]];
}

void nearest_rows(const NearestJob &j, int64_t begin, int64_t end) {
    const NearestPlan &p = *j.p;
    int last = p.rank - 1;
    size_t e = p.elem;
    size_t row_bytes = static_cast<size_t>(p.row_elems) * e;
    int64_t idx[kMaxRank] = {0};
    int64_t r = begin;
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = r % p.out[d];
        r /= p.out[d];
    }
    const std::vector<int64_t> &m = p.map[last];
    int64_t prev_base = -2;
    for (int64_t row = begin; row < end; row++) {
        uint8_t *d = j.dst + row * static_cast<int64_t>(row_bytes);
        int64_t base = 0;
        for (int k = 0; k < last; k++) {
            int64_t s = p.map[k][idx[k]];
            if (s < 0) {
                base = -1;
                break;
            }
            base += s * p.in_strides[k];
        }
        if (base < 0) {
            shape_detail::fill_elems(d, p.extrap, e, p.row_elems);
        } else if (base == prev_base) {  // upsampling: same source row as the last one
            std::memcpy(d, d - row_bytes, row_bytes);
        } else {
            const uint8_t *s = j.src + base * static_cast<int64_t>(e);
            if (p.last_identity) {
                std::memcpy(d, s, row_bytes);
            } else {
                switch (e) {
                    case 1: gather_row<uint8_t>(s, m.data(), p.extrap, d, p.row_elems); break;
                    case 2: gather_row<uint16_t>(s, m.data(), p.extrap, d, p.row_elems); break;
                    case 4: gather_row<uint32_t>(s, m.data(), p.extrap, d, p.row_elems); break;
                    case 8: gather_row<uint64_t>(s, m.data(), p.extrap, d, p.row_elems); break;
                }
            }
        }
        prev_base = base;
        for (int k = last - 1; k >= 0; k--) {
            if (++idx[k] < p.out[k]) break;
            idx[k] = 0;
        }
    }
}

Status create_nearest(const ResizeSpec &s, DType dt, std::unique_ptr<Kernel> *out) {
    NearestPlan p;
    p.elem = dtype_size(dt);
    p.out = s.out;
    Shape in = s.in;
    ResizeSpec spec = s;
    if (in.empty()) {  // scalar: nothing to resize
        in = {1};
        p.out = {1};
        spec.in = in;
        spec.out = p.out;
        spec.scale = {1.0};
        spec.out_width = {1.0};
        spec.roi_start = {0.0};
        spec.roi_end = {1.0};
    }
    p.rank = static_cast<int>(in.size());
    p.in_strides = shape_detail::contiguous_strides(in);
    p.map.resize(p.rank);
    for (int d = 0; d < p.rank; d++) {
        p.map[d].resize(static_cast<size_t>(p.out[d]));
        for (int64_t o = 0; o < p.out[d]; o++) {
            double x;
            p.map[d][o] = source_coord(spec, d, o, &x) ? nearest_index(spec.nearest, x, in[d]) : -1;
        }
    }
    int last = p.rank - 1;
    p.row_elems = p.out[last];
    p.last_identity = p.out[last] == in[last];
    for (int64_t o = 0; p.last_identity && o < p.row_elems; o++)
        p.last_identity = p.map[last][o] == o;
    p.rows = 1;
    for (int d = 0; d < last; d++) p.rows *= p.out[d];
    extrapolation_bytes(dt, s.extrapolation, p.extrap);
    bool empty = shape_numel(in) == 0 || shape_numel(p.out) == 0;
    *out = make_fn_kernel([p, empty](const KernelIO &io) -> Status {
        if (empty) {
            if (io.outputs[0].numel() > 0)
                shape_detail::fill_elems(io.outputs[0].data, p.extrap, p.elem, io.outputs[0].numel());
            return Status::OK();
        }
        NearestJob j{&p, static_cast<const uint8_t *>(io.inputs[0].data),
                     static_cast<uint8_t *>(io.outputs[0].data)};
        int64_t row_bytes = p.row_elems * static_cast<int64_t>(p.elem);
        if (io.max_threads <= 1 || p.rows * row_bytes < shape_detail::kParallelBytes) {
            nearest_rows(j, 0, p.rows);
            return Status::OK();
        }
        const NearestJob *jp = &j;
        int64_t grain = std::max<int64_t>(1, (int64_t(1) << 14) / std::max<int64_t>(1, row_bytes));
        io.pool->parallel_for(p.rows, grain, io.max_threads,
                              [jp](int64_t b, int64_t e) { nearest_rows(*jp, b, e); });
        return Status::OK();
    });
    return Status::OK();
}

// ---- linear / cubic: separable passes ----

struct ResizePass {
    int64_t outer = 1, in_len = 1, out_len = 1, inner = 1;
    int taps = 2;
    std::vector<int64_t> idx;   // out_len * taps, clamped input indices
    std::vector<float> w;       // out_len * taps
    std::vector<uint8_t> extrap;  // out_len: 1 = extrapolation_value
};

void tap_weights(const ResizeSpec &s, double ratio, double *w) {
    if (s.mode == Mode::kLinear) {
        w[0] = 1 - ratio;
        w[1] = ratio;
        return;
    }
    double a = s.cubic_a, r = ratio;
    double r1 = r + 1, q = 1 - r, q1 = q + 1;
    w[0] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
    w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
    w[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
    w[3] = ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a;
}

ResizePass build_pass(const ResizeSpec &s, int d, const Shape &cur) {
    ResizePass p;
    for (int k = 0; k < d; k++) p.outer *= cur[k];
    for (size_t k = static_cast<size_t>(d) + 1; k < cur.size(); k++) p.inner *= cur[k];
    p.in_len = cur[d];
    p.out_len = s.out[d];
    p.taps = s.mode == Mode::kLinear ? 2 : 4;
    int first = s.mode == Mode::kLinear ? 0 : -1;  // offset of tap 0 from floor(x)
    p.idx.resize(static_cast<size_t>(p.out_len * p.taps));
    p.w.resize(p.idx.size());
    p.extrap.assign(static_cast<size_t>(p.out_len), 0);
    for (int64_t o = 0; o < p.out_len; o++) {
        double x;
        int64_t *ix = &p.idx[o * p.taps];
        float *wf = &p.w[o * p.taps];
        if (!source_coord(s, d, o, &x)) {
            p.extrap[o] = 1;
            for (int t = 0; t < p.taps; t++) {
                ix[t] = 0;
                wf[t] = 0.0f;
            }
            continue;
        }
        double f = std::floor(x);
        double w[4];
        tap_weights(s, x - f, w);
        double sum = 0;
        for (int t = 0; t < p.taps; t++) {
            int64_t i = static_cast<int64_t>(f) + first + t;
            bool outside = i < 0 || i >= p.in_len;
            if (outside && s.exclude_outside) w[t] = 0;
            sum += w[t];
            ix[t] = std::min(std::max<int64_t>(i, 0), p.in_len - 1);
        }
        for (int t = 0; t < p.taps; t++)
            wf[t] = static_cast<float>(s.exclude_outside && sum != 0 ? w[t] / sum : w[t]);
    }
    return p;
}

struct PassJob {
    const ResizePass *p;
    const float *src;
    float *dst;
    float extrap;
};

void pass_units(const PassJob &j, int64_t begin, int64_t end) {
    const ResizePass &p = *j.p;
    int64_t inner = p.inner;
    int64_t o = begin / p.out_len, k = begin % p.out_len;
    for (int64_t u = begin; u < end; u++) {
        float *d = j.dst + u * inner;
        const float *s = j.src + o * p.in_len * inner;
        const int64_t *ix = &p.idx[k * p.taps];
        const float *w = &p.w[k * p.taps];
        if (p.extrap[k]) {
            for (int64_t i = 0; i < inner; i++) d[i] = j.extrap;
        } else if (p.taps == 2) {
            const float *a = s + ix[0] * inner, *b = s + ix[1] * inner;
            float w0 = w[0], w1 = w[1];
            for (int64_t i = 0; i < inner; i++) d[i] = w0 * a[i] + w1 * b[i];
        } else {
            const float *a = s + ix[0] * inner, *b = s + ix[1] * inner;
            const float *c = s + ix[2] * inner, *e = s + ix[3] * inner;
            float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
            for (int64_t i = 0; i < inner; i++)
                d[i] = (w0 * a[i] + w1 * b[i]) + (w2 * c[i] + w3 * e[i]);
        }
        if (++k == p.out_len) {
            k = 0;
            o++;
        }
    }
}

void run_pass(const ResizePass &p, const float *src, float *dst, float extrap,
              const KernelIO &io) {
    PassJob j{&p, src, dst, extrap};
    int64_t units = p.outer * p.out_len;
    if (units == 0) return;
    int64_t work = units * p.inner * p.taps;
    if (io.max_threads <= 1 || work < (int64_t(1) << 15)) {
        pass_units(j, 0, units);
        return;
    }
    const PassJob *jp = &j;
    int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.inner));
    io.pool->parallel_for(units, grain, io.max_threads,
                          [jp](int64_t b, int64_t e) { pass_units(*jp, b, e); });
}

// Estimated cost of running the passes in this order: elements written times taps,
// doubled for a pass along the innermost axis (a scalar gather, where the other
// passes are vector loops over contiguous rows).
double passes_cost(const ResizeSpec &s, const std::vector<int> &dims) {
    Shape cur = s.in;
    double cost = 0;
    int taps = s.mode == Mode::kLinear ? 2 : 4;
    for (int d : dims) {
        cur[d] = s.out[d];
        bool innermost = true;
        for (size_t k = static_cast<size_t>(d) + 1; k < cur.size(); k++) innermost &= cur[k] == 1;
        cost += static_cast<double>(shape_numel(cur)) * taps * (innermost ? 2 : 1);
    }
    return cost;
}

// Picks the cheapest order of the passes (all orders for up to 4 axes; otherwise the
// shrinking ones first, so that later passes touch less data).
void order_passes(const ResizeSpec &s, std::vector<int> *dims) {
    std::stable_sort(dims->begin(), dims->end(), [&](int a, int b) {
        return static_cast<double>(s.out[a]) * s.in[b] < static_cast<double>(s.out[b]) * s.in[a];
    });
    if (dims->size() > 4) return;
    std::vector<int> p = *dims, best = *dims;
    std::sort(p.begin(), p.end());
    double best_cost = passes_cost(s, best);
    do {
        double c = passes_cost(s, p);
        if (c < best_cost) {
            best_cost = c;
            best = p;
        }
    } while (std::next_permutation(p.begin(), p.end()));
    *dims = best;
}

Status create_interpolating(const ResizeSpec &s, std::unique_ptr<Kernel> *out) {
    int r = static_cast<int>(s.in.size());
    std::vector<int> dims;
    for (int d = 0; d < r; d++)
        if (!axis_is_identity(s, d)) dims.push_back(d);
    order_passes(s, &dims);
    std::vector<ResizePass> passes;
    Shape cur = s.in;
    int64_t buf_elems = 0;  // largest intermediate
    for (size_t i = 0; i < dims.size(); i++) {
        passes.push_back(build_pass(s, dims[i], cur));
        cur[dims[i]] = s.out[dims[i]];
        if (i + 1 < dims.size()) buf_elems = std::max(buf_elems, shape_numel(cur));
    }
    int64_t in_elems = shape_numel(s.in), out_elems = shape_numel(s.out);
    size_t half = (static_cast<size_t>(buf_elems) * sizeof(float) + 63) / 64 * 64;
    float extrap = s.extrapolation;
    bool empty_in = in_elems == 0;
    *out = make_fn_kernel(
        [passes, half, extrap, in_elems, out_elems, empty_in](const KernelIO &io) -> Status {
            const float *x = io.inputs[0].as<float>();
            float *y = io.outputs[0].as<float>();
            if (out_elems == 0) return Status::OK();
            if (empty_in) {
                for (int64_t i = 0; i < out_elems; i++) y[i] = extrap;
                return Status::OK();
            }
            if (passes.empty()) {
                shape_detail::run_copy(shape_detail::plan_memcpy(in_elems * 4), x, y, io);
                return Status::OK();
            }
            float *bufs[2] = {static_cast<float *>(io.scratch),
                              reinterpret_cast<float *>(static_cast<uint8_t *>(io.scratch) + half)};
            const float *src = x;
            for (size_t i = 0; i < passes.size(); i++) {
                float *dst = i + 1 == passes.size() ? y : bufs[i % 2];
                run_pass(passes[i], src, dst, extrap, io);
                src = dst;
            }
            return Status::OK();
        },
        2 * half);
    return Status::OK();
}

Status infer_resize(InferContext &ctx) {
    ResizeSpec s;
    EMBER_RETURN_IF_ERROR(resize_spec(ctx, &s));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = s.out;
    return Status::OK();
}

Status create_resize(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    ResizeSpec s;
    EMBER_RETURN_IF_ERROR(resize_spec(ctx, &s));
    // An empty output has nothing to fill; its coordinate tables would be a dim long, and a
    // dim beside a zero one may be enormous (as Pad's, found by fuzz_ember_file). Otherwise
    // every table is at most the output's element count, held against max_arena_bytes.
    if (!s.out.empty() && shape_numel(s.out) == 0) {
        *out = make_fn_kernel([](const KernelIO &) -> Status { return Status::OK(); });
        return Status::OK();
    }
    if (s.mode == Mode::kNearest) return create_nearest(s, ctx.input(0)->dtype, out);
    return create_interpolating(s, out);
}

}  // namespace

void register_resize_ops(OpRegistry &r) {
    OpSchema s;
    s.op_type = "Resize";
    s.value_inputs = (1u << 1) | (1u << 2) | (1u << 3);  // roi, scales, sizes
    s.f16_native = false;
    s.infer = infer_resize;
    s.create = create_resize;
    r.add(s);
}

}  // namespace ember
