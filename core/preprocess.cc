// preprocess.cc — the spec parser and the resize / crop / normalise kernels.
//
// Resampling reproduces the arithmetic of Pillow's Image.resize(BILINEAR) on 8-bit
// images (Pillow's libImaging/Resample.c, read for its numerics, not copied): for an
// output pixel r of an axis scaled by s = in/out, the filter is the triangle
// max(0, 1 - |t|) stretched by f = max(s, 1) (so a downscale averages every source pixel
// it covers: antialiasing), centred on (r + 0.5) * s; its window is
// [int(c - f + 0.5), int(c + f + 0.5)) clipped to the image, and the weights are
// normalised over that window, then rounded to 22-bit fixed point. The horizontal pass
// runs first and rounds to 8 bits, then the vertical pass. With the same decoded pixels
// the result is identical to PIL's (tests/test_preprocess.c: PNG inputs match the
// PIL-made references exactly); JPEG inputs differ only by the decoders (libjpeg-turbo
// vs stb_image), see docs/preprocessing.md for the measured error.
#include "core/preprocess.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ember {

namespace {

constexpr int kPrecisionBits = 22;  // Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2

struct Preset {
    const char *name;
    const char *text;
};

const Preset kPresets[] = {
    {"imagenet",
     "resize=256;crop=224;order=rgb;scale=1/255;mean=0.485,0.456,0.406;std=0.229,0.224,0.225"},
    {"caffe", "resize=256;crop=224;order=bgr;scale=1;mean=104,117,123"},
    {"mnist", "resize=28x28;order=gray;scale=1"},
    {"cifar", "crop=square;resize=32x32;order=rgb;scale=1/255;mean=0.5;std=0.5"},
};

std::string trim(const std::string &s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\n' || s[b] == '\r')) b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r'))
        e--;
    return s.substr(b, e - b);
}

std::string lower(std::string s) {
    for (char &c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// A finite number, or a fraction "a/b" (scale=1/255). Locale-independent.
bool parse_number(const std::string &s, double *out) {
    size_t slash = s.find('/');
    if (slash != std::string::npos) {
        double a, b;
        if (!parse_number(s.substr(0, slash), &a) || !parse_number(s.substr(slash + 1), &b) ||
            b == 0)
            return false;
        *out = a / b;
        return std::isfinite(*out);
    }
    if (s.empty()) return false;
    const char *b = s.data(), *e = s.data() + s.size();
    if (*b == '+') b++;
    double v;
    auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc() || r.ptr != e || !std::isfinite(v)) return false;
    *out = v;
    return true;
}

bool parse_side(const std::string &s, int32_t *out) {
    if (s.empty() || s.size() > 6) return false;
    int32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    if (v < 1 || v > kMaxImageSide) return false;
    *out = v;
    return true;
}

// "N" (both sides N when `square_ok`) or "WxH".
bool parse_size(const std::string &s, int32_t *w, int32_t *h, bool *single) {
    size_t x = s.find_first_of("xX");
    if (x == std::string::npos) {
        if (!parse_side(s, w)) return false;
        *h = *w;
        *single = true;
        return true;
    }
    *single = false;
    return parse_side(s.substr(0, x), w) && parse_side(s.substr(x + 1), h);
}

bool parse_list(const std::string &s, double out[3], int *n) {
    int k = 0;
    size_t start = 0;
    for (;;) {
        size_t comma = s.find(',', start);
        std::string item =
            trim(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (k == 3 || !parse_number(item, &out[k])) return false;
        k++;
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (k != 1 && k != 3) return false;
    *n = k;
    return true;
}

Status bad_value(const std::string &key, const std::string &value, const char *expected) {
    return errorf(EMBER_ERR_INVALID_ARGUMENT, "preprocess spec: %s=%s: expected %s", key.c_str(),
                  value.c_str(), expected);
}

struct ParseState {
    PreprocessSpec spec;
    int mean_n = 0, std_n = 0;
};

Status apply_key(const std::string &key, const std::string &value, ParseState *st) {
    PreprocessSpec &p = st->spec;
    std::string v = lower(value);
    bool single = false;
    if (key == "resize") {
        int32_t w, h;
        if (!parse_size(v, &w, &h, &single))
            return bad_value(key, value, "N (shorter side to N) or WxH, sides 1..16384");
        p.resize = single ? ResizeMode::Shorter : ResizeMode::Exact;
        p.resize_w = w;
        p.resize_h = single ? 0 : h;
        p.letterbox_w = p.letterbox_h = 0;
    } else if (key == "interp") {
        if (v == "bilinear" || v == "linear")
            p.interp = Interp::Bilinear;
        else if (v == "nearest")
            p.interp = Interp::Nearest;
        else
            return bad_value(key, value, "bilinear or nearest");
    } else if (key == "crop") {
        if (v == "square") {
            p.crop = CropMode::Square;
            p.crop_w = p.crop_h = 0;
        } else {
            int32_t w, h;
            if (!parse_size(v, &w, &h, &single))
                return bad_value(key, value, "N, WxH or square, sides 1..16384");
            p.crop = CropMode::Center;
            p.crop_w = w;
            p.crop_h = h;
        }
        p.letterbox_w = p.letterbox_h = 0;
    } else if (key == "letterbox") {
        int32_t w, h;
        if (!parse_size(v, &w, &h, &single))
            return bad_value(key, value, "WxH (or N for NxN), sides 1..16384");
        p.letterbox_w = w;
        p.letterbox_h = h;
        p.resize = ResizeMode::None;
        p.crop = CropMode::None;
    } else if (key == "pad") {
        double d;
        if (!parse_number(v, &d) || d < 0 || d > 255)
            return bad_value(key, value, "a pixel value in [0, 255]");
        p.pad = d;
    } else if (key == "order") {
        if (v == "rgb")
            p.order = ChannelOrder::RGB;
        else if (v == "bgr")
            p.order = ChannelOrder::BGR;
        else if (v == "gray" || v == "grey" || v == "l")
            p.order = ChannelOrder::Gray;
        else
            return bad_value(key, value, "rgb, bgr or gray");
    } else if (key == "scale") {
        double d;
        if (!parse_number(v, &d) || d == 0)
            return bad_value(key, value, "a non-zero number or fraction such as 1/255");
        p.scale = d;
    } else if (key == "mean") {
        double m[3];
        int n;
        if (!parse_list(v, m, &n)) return bad_value(key, value, "one number, or three: a,b,c");
        for (int c = 0; c < 3; c++) p.mean[c] = m[n == 1 ? 0 : c];
        st->mean_n = n;
    } else if (key == "std") {
        double s[3];
        int n;
        if (!parse_list(v, s, &n)) return bad_value(key, value, "one number, or three: a,b,c");
        for (int c = 0; c < n; c++)
            if (s[c] == 0) return bad_value(key, value, "non-zero values");
        for (int c = 0; c < 3; c++) p.stddev[c] = s[n == 1 ? 0 : c];
        st->std_n = n;
    } else if (key == "layout") {
        if (v == "nchw")
            p.layout = Layout::NCHW;
        else if (v == "nhwc")
            p.layout = Layout::NHWC;
        else
            return bad_value(key, value, "nchw or nhwc");
    } else if (key == "dtype") {
        if (v == "float32" || v == "float")
            p.dtype = DType::F32;
        else if (v == "float16" || v == "half")
            p.dtype = DType::F16;
        else if (v == "uint8")
            p.dtype = DType::U8;
        else if (v == "int8")
            p.dtype = DType::I8;
        else
            return bad_value(key, value, "float32, float16, uint8 or int8");
        p.dtype_set = true;
    } else {
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "preprocess spec: unknown key '%s' (keys: %s)",
                      key.c_str(), preprocess_spec_keys());
    }
    return Status::OK();
}

Status apply_tokens(const std::string &text, bool allow_preset, ParseState *st) {
    size_t start = 0;
    bool first = true;
    for (;;) {
        size_t semi = text.find(';', start);
        std::string tok =
            trim(text.substr(start, semi == std::string::npos ? std::string::npos : semi - start));
        if (!tok.empty()) {
            size_t eq = tok.find('=');
            if (eq == std::string::npos) {
                std::string name = lower(tok);
                const char *preset = preprocess_preset(name);
                if (!preset)
                    return errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "preprocess spec: '%s' is neither a preset (%s) nor key=value",
                                  tok.c_str(), preprocess_preset_names());
                if (!allow_preset || !first)
                    return errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "preprocess spec: preset '%s' must come first", tok.c_str());
                EMBER_RETURN_IF_ERROR(apply_tokens(preset, false, st));
            } else {
                std::string key = lower(trim(tok.substr(0, eq)));
                std::string value = trim(tok.substr(eq + 1));
                if (key.empty())
                    return errorf(EMBER_ERR_INVALID_ARGUMENT, "preprocess spec: '%s' has no key",
                                  tok.c_str());
                EMBER_RETURN_IF_ERROR(apply_key(key, value, st));
            }
            first = false;
        }
        if (semi == std::string::npos) break;
        start = semi + 1;
    }
    return Status::OK();
}

// num / den rounded to nearest, halves to even (Python's round(), which the PIL-made
// references and torchvision's CenterCrop use). num >= 0, den > 0.
int64_t round_half_even(int64_t num, int64_t den) {
    int64_t q = num / den, r = num % den;
    if (2 * r > den || (2 * r == den && (q & 1))) q++;
    return q;
}

// Canvas position of a resized axis of `resized` pixels centred in `canvas`: minus the
// crop's left edge round((resized - canvas) / 2) for a centre crop, the left padding
// floor((canvas - resized) / 2) when the canvas is larger (letterbox).
int32_t place(int32_t canvas, int32_t resized) {
    if (canvas >= resized) return (canvas - resized) / 2;
    return -static_cast<int32_t>(round_half_even(resized - canvas, 2));
}

struct Geometry {
    int32_t src_x0 = 0, src_y0 = 0, src_w = 0, src_h = 0;  // source window
    int32_t rw = 0, rh = 0;                                // resized window
    int32_t canvas_w = 0, canvas_h = 0;                    // output
    int32_t off_x = 0, off_y = 0;  // canvas position of resized pixel (0, 0)
};

Geometry plan_geometry(const PreprocessSpec &p, int32_t w, int32_t h) {
    Geometry g;
    g.src_w = w;
    g.src_h = h;
    if (p.crop == CropMode::Square) {
        int32_t side = std::min(w, h);
        g.src_x0 = static_cast<int32_t>(round_half_even(w - side, 2));
        g.src_y0 = static_cast<int32_t>(round_half_even(h - side, 2));
        g.src_w = g.src_h = side;
    }
    int32_t sw = g.src_w, sh = g.src_h;
    if (p.letterbox_w > 0) {
        double s = std::min(static_cast<double>(p.letterbox_w) / sw,
                            static_cast<double>(p.letterbox_h) / sh);
        g.rw = std::clamp(static_cast<int32_t>(std::lround(sw * s)), 1, p.letterbox_w);
        g.rh = std::clamp(static_cast<int32_t>(std::lround(sh * s)), 1, p.letterbox_h);
    } else if (p.resize == ResizeMode::Shorter) {
        // The longer side keeps the aspect ratio: round(N * long / short), as the PIL-made
        // references have it (torchvision truncates instead; the two differ by a pixel).
        int64_t n = p.resize_w;
        if (sw <= sh) {
            g.rw = p.resize_w;
            g.rh = static_cast<int32_t>(
                std::clamp<int64_t>(round_half_even(n * sh, sw), 1, kMaxImageSide));
        } else {
            g.rh = p.resize_w;
            g.rw = static_cast<int32_t>(
                std::clamp<int64_t>(round_half_even(n * sw, sh), 1, kMaxImageSide));
        }
    } else if (p.resize == ResizeMode::Exact) {
        g.rw = p.resize_w;
        g.rh = p.resize_h;
    } else {
        g.rw = sw;
        g.rh = sh;
    }
    if (p.letterbox_w > 0) {
        g.canvas_w = p.letterbox_w;
        g.canvas_h = p.letterbox_h;
    } else if (p.crop == CropMode::Center) {
        g.canvas_w = p.crop_w;
        g.canvas_h = p.crop_h;
    } else {
        g.canvas_w = g.rw;
        g.canvas_h = g.rh;
    }
    g.off_x = place(g.canvas_w, g.rw);
    g.off_y = place(g.canvas_h, g.rh);
    return g;
}

// Fills one axis' resampling tables (see Preprocessor::Axis).
void build_axis(Interp interp, int32_t canvas, int32_t offset, int32_t resized, int32_t src0,
                int32_t src_len, std::vector<double> *wtmp, Preprocessor::Axis *a) {
    a->canvas = canvas;
    a->offset = offset;
    a->resized = resized;
    a->src0 = src0;
    a->src_len = src_len;
    a->r_begin = std::max(0, -offset);
    a->r_end = std::max(a->r_begin, std::min(resized, canvas - offset));
    a->identity = resized == src_len;
    int32_t n = a->r_end - a->r_begin;
    if (a->identity || n == 0) {
        a->ksize = 0;
        return;
    }
    a->first.resize(n);
    a->count.resize(n);
    if (interp == Interp::Nearest) {
        // Source pixel under the output pixel's centre: floor((r + 0.5) * in / out).
        a->ksize = 1;
        a->weights.assign(n, 1 << kPrecisionBits);
        for (int32_t i = 0; i < n; i++) {
            int64_t r = a->r_begin + i;
            int64_t x = ((2 * r + 1) * src_len) / (2 * static_cast<int64_t>(resized));
            a->first[i] = static_cast<int32_t>(std::min<int64_t>(x, src_len - 1));
            a->count[i] = 1;
        }
        return;
    }
    double scale = static_cast<double>(src_len) / resized;
    double fscale = std::max(scale, 1.0);
    double support = fscale;  // the triangle's support is 1, stretched by the downscale
    int32_t ksize = static_cast<int32_t>(std::ceil(support)) * 2 + 1;
    a->ksize = ksize;
    a->weights.assign(static_cast<size_t>(n) * ksize, 0);
    wtmp->resize(ksize);
    for (int32_t i = 0; i < n; i++) {
        double c = (a->r_begin + i + 0.5) * scale;
        int32_t lo = std::max(0, static_cast<int32_t>(c - support + 0.5));
        int32_t hi = std::min(src_len, static_cast<int32_t>(c + support + 0.5));
        int32_t cnt = std::max(0, std::min(hi - lo, ksize));
        double sum = 0;
        for (int32_t j = 0; j < cnt; j++) {
            double t = std::fabs((j + lo - c + 0.5) / fscale);
            double w = t < 1.0 ? 1.0 - t : 0.0;
            (*wtmp)[j] = w;
            sum += w;
        }
        int32_t *k = &a->weights[static_cast<size_t>(i) * ksize];
        for (int32_t j = 0; j < cnt; j++) {
            double w = sum != 0 ? (*wtmp)[j] / sum : 0.0;
            k[j] = static_cast<int32_t>(w * (1 << kPrecisionBits) + 0.5);
        }
        a->first[i] = lo;
        a->count[i] = cnt;
    }
}

inline uint8_t clip8(int32_t acc) {
    int32_t v = acc >> kPrecisionBits;
    return static_cast<uint8_t>(v > 255 ? 255 : (v < 0 ? 0 : v));
}

// An 8-bit plane set: element (row, col, c) is at
// base[(row - row0) * row_stride + col * pix_stride + off[c]].
struct View {
    const uint8_t *base = nullptr;
    size_t row_stride = 0;
    int32_t row0 = 0;
    int pix_stride = 1;
    int off[3] = {0, 0, 0};
    const uint8_t *at(int32_t row, int32_t col) const {
        return base + static_cast<size_t>(row - row0) * row_stride +
               static_cast<size_t>(col) * pix_stride;
    }
};

// Output conversion: value = (pixel * scale - mean) / std in the tensor's dtype.
template <typename T>
T convert_value(double x);
template <>
float convert_value<float>(double x) {
    return static_cast<float>(x);
}
template <>
uint16_t convert_value<uint16_t>(double x) {
    return float_to_half(static_cast<float>(x));
}
template <>
uint8_t convert_value<uint8_t>(double x) {
    double r = std::floor(x + 0.5);
    return static_cast<uint8_t>(r < 0 ? 0 : (r > 255 ? 255 : r));
}
template <>
int8_t convert_value<int8_t>(double x) {
    double r = std::floor(x + 0.5);
    return static_cast<int8_t>(r < -128 ? -128 : (r > 127 ? 127 : r));
}

// Work per parallel chunk: about this many multiply-adds, so a small image (MNIST,
// CIFAR, a 224x224 crop of a 500x375 photo's rows) stays on the calling thread and a
// large photo is split over the pool.
constexpr int64_t kChunkWork = 1 << 17;

int64_t grain_for(int64_t work_per_row) {
    return std::max<int64_t>(1, kChunkWork / std::max<int64_t>(1, work_per_row));
}

struct OutputPlan {
    void *slot;         // batch slot start
    int32_t w, h;       // canvas
    int channels;       // output channels (1 or 3)
    int work_channels;  // channels of the resampled data (1 or 3)
    Layout layout;
};

// Canvas pixels [x0, x0 + n) of row y get the 8-bit values `v` (n x work_channels),
// converted through the per-channel tables.
template <typename T>
void write_span(const OutputPlan &o, const T lut[3][256], int32_t y, int32_t x0, int32_t n,
                const uint8_t *v) {
    T *out = static_cast<T *>(o.slot);
    const size_t plane = static_cast<size_t>(o.w) * o.h;
    const size_t pix0 = static_cast<size_t>(y) * o.w + x0;
    const int cw = o.work_channels;
    if (o.layout == Layout::NCHW) {
        for (int c = 0; c < o.channels; c++) {
            T *d = out + c * plane + pix0;
            const T *t = lut[c];
            const uint8_t *s = v + (cw == 1 ? 0 : c);
            for (int32_t i = 0; i < n; i++) d[i] = t[s[i * cw]];
        }
    } else {
        T *d = out + pix0 * o.channels;
        for (int32_t i = 0; i < n; i++)
            for (int c = 0; c < o.channels; c++)
                d[i * o.channels + c] = lut[c][v[i * cw + (cw == 1 ? 0 : c)]];
    }
}

template <typename T>
void write_pad_span(const OutputPlan &o, const T pad[3], int32_t y, int32_t x0, int32_t n) {
    T *out = static_cast<T *>(o.slot);
    const size_t plane = static_cast<size_t>(o.w) * o.h;
    const size_t pix0 = static_cast<size_t>(y) * o.w + x0;
    for (int32_t i = 0; i < n; i++)
        for (int c = 0; c < o.channels; c++) {
            if (o.layout == Layout::NCHW)
                out[c * plane + pix0 + i] = pad[c];
            else
                out[(pix0 + i) * o.channels + c] = pad[c];
        }
}

// Resampled rows are kept packed: (r_end - r_begin) pixels x cw channels per row, row 0
// being source-window row `row0`.
struct Packed {
    const uint8_t *data;
    size_t row_bytes;
    int32_t row0;
    const uint8_t *row(int32_t r) const { return data + static_cast<size_t>(r - row0) * row_bytes; }
};

// Tile of the vertical pass: accumulators for this many bytes of a row live on the stack.
constexpr int32_t kTileBytes = 1024;

// The vertical pass (a copy when rows are not resampled) fused with the conversion to
// the tensor's dtype, for canvas rows [y0, y1).
template <typename T>
void vertical_rows(const OutputPlan &o, const Preprocessor::Axis &ax, const Preprocessor::Axis &ay,
                   const Packed &h, const T lut[3][256], const T pad[3], int32_t y0, int32_t y1) {
    const int cw = o.work_channels;
    const int32_t x_in0 = ax.offset + ax.r_begin, x_in1 = ax.offset + ax.r_end;
    const int32_t row_bytes = (x_in1 - x_in0) * cw;
    int32_t acc[kTileBytes];
    uint8_t vals[kTileBytes];
    for (int32_t y = y0; y < y1; y++) {
        int32_t ry = y - ay.offset;
        if (ry < ay.r_begin || ry >= ay.r_end || x_in1 <= x_in0) {
            write_pad_span(o, pad, y, 0, o.w);
            continue;
        }
        write_pad_span(o, pad, y, 0, x_in0);
        write_pad_span(o, pad, y, x_in1, o.w - x_in1);
        if (ay.identity) {
            write_span(o, lut, y, x_in0, x_in1 - x_in0, h.row(ry));
            continue;
        }
        const int32_t iy = ry - ay.r_begin;
        const int32_t first = ay.first[iy], n = ay.count[iy];
        const int32_t *k = &ay.weights[static_cast<size_t>(iy) * ay.ksize];
        const int32_t tile = kTileBytes / cw * cw;  // whole pixels per tile
        for (int32_t b0 = 0; b0 < row_bytes; b0 += tile) {
            const int32_t nb = std::min(tile, row_bytes - b0);
            for (int32_t b = 0; b < nb; b++) acc[b] = 1 << (kPrecisionBits - 1);
            for (int32_t j = 0; j < n; j++) {
                const uint8_t *src = h.row(first + j) + b0;
                const int32_t w = k[j];
                int32_t b = 0;
                for (; b + 16 <= nb; b += 16)  // fixed-length blocks: the compiler vectorises
                    for (int32_t q = 0; q < 16; q++) acc[b + q] += src[b + q] * w;
                for (; b < nb; b++) acc[b] += src[b] * w;
            }
            for (int32_t b = 0; b < nb; b++) vals[b] = clip8(acc[b]);
            write_span(o, lut, y, x_in0 + b0 / cw, nb / cw, vals);
        }
    }
}

// The horizontal pass for source rows [r0, r1) (window coordinates) into packed rows:
// CW channels taken from source bytes off[0..CW) of each pixel.
template <int CW>
void horizontal_rows(const Preprocessor::Axis &ax, const View &src, uint8_t *dst, int32_t row0,
                     int32_t r0, int32_t r1) {
    const int32_t nx = ax.r_end - ax.r_begin;
    const int ps = src.pix_stride;
    const int o0 = src.off[0], o1 = src.off[1], o2 = src.off[2];
    for (int32_t row = r0; row < r1; row++) {
        const uint8_t *s = src.at(row, 0);
        uint8_t *d = dst + static_cast<size_t>(row - row0) * nx * CW;
        if (ax.identity) {  // repack only
            const uint8_t *p = s + static_cast<size_t>(ax.r_begin) * ps;
            for (int32_t i = 0; i < nx; i++, p += ps) {
                d[i * CW] = p[o0];
                if (CW == 3) {
                    d[i * CW + 1] = p[o1];
                    d[i * CW + 2] = p[o2];
                }
            }
            continue;
        }
        for (int32_t i = 0; i < nx; i++) {
            const int32_t n = ax.count[i];
            const int32_t *k = &ax.weights[static_cast<size_t>(i) * ax.ksize];
            const uint8_t *p = s + static_cast<size_t>(ax.first[i]) * ps;
            int32_t a0 = 1 << (kPrecisionBits - 1), a1 = a0, a2 = a0;
            for (int32_t j = 0; j < n; j++, p += ps) {
                a0 += p[o0] * k[j];
                if (CW == 3) {
                    a1 += p[o1] * k[j];
                    a2 += p[o2] * k[j];
                }
            }
            d[i * CW] = clip8(a0);
            if (CW == 3) {
                d[i * CW + 1] = clip8(a1);
                d[i * CW + 2] = clip8(a2);
            }
        }
    }
}

// Pillow's convert('L'): L = (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16, the
// ITU-R 601-2 weights 0.299, 0.587, 0.114 in 16-bit fixed point, rounded.
inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
    return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

// Source rows [r0, r1) of the window an axis reads: all rows of the resized range.
void rows_needed(const Preprocessor::Axis &a, int32_t *r0, int32_t *r1) {
    if (a.r_end <= a.r_begin) {
        *r0 = *r1 = 0;
    } else if (a.identity) {
        *r0 = a.r_begin;
        *r1 = a.r_end;
    } else {
        int32_t last = a.r_end - a.r_begin - 1;
        *r0 = a.first[0];
        *r1 = a.first[last] + a.count[last];
    }
}

template <typename T>
void build_luts(const PreprocessSpec &p, int channels, T lut[3][256], T pad[3]) {
    for (int c = 0; c < channels; c++) {
        for (int v = 0; v < 256; v++)
            lut[c][v] = convert_value<T>((v * p.scale - p.mean[c]) / p.stddev[c]);
        pad[c] = convert_value<T>((p.pad * p.scale - p.mean[c]) / p.stddev[c]);
    }
}

template <typename T>
void run_vertical(const PreprocessSpec &p, const OutputPlan &o, const Preprocessor::Axis &ax,
                  const Preprocessor::Axis &ay, const Packed &h, ThreadPool *pool,
                  int max_threads) {
    T lut[3][256];
    T pad[3];
    build_luts(p, o.channels, lut, pad);
    int64_t per_row = static_cast<int64_t>(o.w) * o.channels * std::max(1, ay.ksize);
    pool->parallel_for(o.h, grain_for(per_row), max_threads, [&](int64_t b, int64_t e) {
        vertical_rows<T>(o, ax, ay, h, lut, pad, static_cast<int32_t>(b), static_cast<int32_t>(e));
    });
}

// The source window as a View whose channels are in the output order (cw = 3), or one
// gray channel (cw = 1). A colour image with order=gray is converted first, rows
// [r0, r1) only, into *gray (Pillow converts with convert('L') before resizing).
View source_view(const PreprocessSpec &p, const Image &img, const Geometry &g, int32_t r0,
                 int32_t r1, std::vector<uint8_t> *gray, ThreadPool *pool, int max_threads,
                 int *cw) {
    const int src_ch = pixel_format_channels(img.format);
    const bool src_bgr = img.format == PixelFormat::BGR || img.format == PixelFormat::BGRA;
    const int ri = src_bgr ? 2 : 0, bi = src_bgr ? 0 : 2;
    View src;
    src.base = img.pixels + static_cast<size_t>(g.src_y0) * img.stride_bytes +
               static_cast<size_t>(g.src_x0) * src_ch;
    src.row_stride = img.stride_bytes;
    src.pix_stride = src_ch;
    *cw = 1;
    if (img.format == PixelFormat::Gray) return src;
    if (p.order != ChannelOrder::Gray) {
        *cw = 3;
        bool want_bgr = p.order == ChannelOrder::BGR;
        src.off[0] = want_bgr ? bi : ri;
        src.off[1] = 1;
        src.off[2] = want_bgr ? ri : bi;
        return src;
    }
    const size_t w = static_cast<size_t>(g.src_w);
    gray->resize(w * static_cast<size_t>(std::max(0, r1 - r0)));
    uint8_t *gd = gray->data();
    pool->parallel_for(r1 - r0, grain_for(static_cast<int64_t>(w) * 4), max_threads,
                       [&](int64_t b, int64_t e) {
                           for (int64_t r = b; r < e; r++) {
                               const uint8_t *sp = src.at(r0 + static_cast<int32_t>(r), 0);
                               uint8_t *d = gd + static_cast<size_t>(r) * w;
                               for (size_t x = 0; x < w; x++, sp += src.pix_stride)
                                   d[x] = luma(sp[ri], sp[1], sp[bi]);
                           }
                       });
    View gv;
    gv.base = gray->data();
    gv.row_stride = w;
    gv.row0 = r0;
    gv.pix_stride = 1;
    return gv;
}

// The horizontal pass (a repack when the columns are not resampled) of source rows
// [r0, r1) into *buf: packed rows of cw channels in the output order.
Packed horizontal_pass(const Preprocessor::Axis &ax, const View &src, int cw, int32_t r0,
                       int32_t r1, std::vector<uint8_t> *buf, ThreadPool *pool, int max_threads) {
    const int32_t nx = ax.r_end - ax.r_begin;
    buf->resize(static_cast<size_t>(nx) * cw * std::max(0, r1 - r0));
    uint8_t *d = buf->data();
    int64_t per_row = static_cast<int64_t>(nx) * cw * std::max(1, ax.ksize);
    pool->parallel_for(r1 - r0, grain_for(per_row), max_threads, [&](int64_t b, int64_t e) {
        int32_t a0 = r0 + static_cast<int32_t>(b), a1 = r0 + static_cast<int32_t>(e);
        if (cw == 3)
            horizontal_rows<3>(ax, src, d, r0, a0, a1);
        else
            horizontal_rows<1>(ax, src, d, r0, a0, a1);
    });
    return Packed{buf->data(), static_cast<size_t>(nx) * cw, r0};
}

const char *order_name(ChannelOrder o) {
    return o == ChannelOrder::Gray ? "gray" : (o == ChannelOrder::BGR ? "bgr" : "rgb");
}

}  // namespace

const char *preprocess_spec_keys() {
    return "resize, interp, crop, letterbox, pad, order, scale, mean, std, layout, dtype";
}

const char *preprocess_preset_names() { return "imagenet, caffe, mnist, cifar"; }

const char *preprocess_preset(const std::string &name) {
    for (const Preset &p : kPresets)
        if (name == p.name) return p.text;
    return nullptr;
}

Status parse_preprocess_spec(const std::string &text, PreprocessSpec *out) {
    if (trim(text).empty()) return errorf(EMBER_ERR_INVALID_ARGUMENT, "preprocess spec is empty");
    ParseState st;
    EMBER_RETURN_IF_ERROR(apply_tokens(text, true, &st));
    int ch = st.spec.channels();
    if (st.mean_n > ch)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "preprocess spec: mean has %d values but order=%s has %d channel", st.mean_n,
                      order_name(st.spec.order), ch);
    if (st.std_n > ch)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "preprocess spec: std has %d values but order=%s has %d channel", st.std_n,
                      order_name(st.spec.order), ch);
    *out = st.spec;
    return Status::OK();
}

void preprocess_output_size(const PreprocessSpec &spec, int32_t src_w, int32_t src_h,
                            int32_t *out_w, int32_t *out_h) {
    Geometry g = plan_geometry(spec, src_w, src_h);
    *out_w = g.canvas_w;
    *out_h = g.canvas_h;
}

bool preprocess_fixed_output_size(const PreprocessSpec &spec, int32_t *out_w, int32_t *out_h) {
    if (spec.letterbox_w > 0) {
        *out_w = spec.letterbox_w;
        *out_h = spec.letterbox_h;
    } else if (spec.crop == CropMode::Center) {
        *out_w = spec.crop_w;
        *out_h = spec.crop_h;
    } else if (spec.resize == ResizeMode::Exact) {
        *out_w = spec.resize_w;
        *out_h = spec.resize_h;
    } else {
        return false;
    }
    return true;
}

Status preprocess_check_tensor(const PreprocessSpec &spec, const Shape &dims, DType dtype,
                               int32_t out_w, int32_t out_h, const std::string &what) {
    if (dims.size() != 4)
        return errorf(EMBER_ERR_SHAPE,
                      "%s has shape %s: preprocessing fills rank-4 tensors (N,C,H,W or N,H,W,C)",
                      what.c_str(), shape_str(dims).c_str());
    if (dtype != DType::F32 && dtype != DType::F16 && dtype != DType::U8 && dtype != DType::I8)
        return errorf(EMBER_ERR_SHAPE,
                      "%s is %s: preprocessing writes float32, float16, uint8 or int8",
                      what.c_str(), dtype_name(dtype));
    if (spec.dtype_set && spec.dtype != dtype)
        return errorf(EMBER_ERR_SHAPE, "the preprocess spec says dtype=%s but %s is %s",
                      dtype_name(spec.dtype), what.c_str(), dtype_name(dtype));
    int64_t c = spec.channels();
    bool nchw = spec.layout == Layout::NCHW;
    int64_t want_c = nchw ? dims[1] : dims[3];
    int64_t want_h = nchw ? dims[2] : dims[1];
    int64_t want_w = nchw ? dims[3] : dims[2];
    bool c_ok = want_c < 0 || want_c == c;
    bool size_ok =
        out_w < 0 || ((want_h < 0 || want_h == out_h) && (want_w < 0 || want_w == out_w));
    if (c_ok && size_ok) return Status::OK();
    std::string got =
        out_w < 0 ? std::string("?x?") : std::to_string(out_h) + "x" + std::to_string(out_w);
    return errorf(EMBER_ERR_SHAPE,
                  "preprocessing gives %lld channel(s) (order=%s) of %s (HxW), layout %s, but %s "
                  "has shape %s",
                  static_cast<long long>(c), order_name(spec.order), got.c_str(),
                  nchw ? "nchw" : "nhwc", what.c_str(), shape_str(dims).c_str());
}

Status Preprocessor::run(const PreprocessSpec &p, const Image &img, const Tensor &dst,
                         int64_t batch, ThreadPool *pool, int max_threads) {
    Geometry g = plan_geometry(p, img.width, img.height);
    EMBER_RETURN_IF_ERROR(
        preprocess_check_tensor(p, dst.shape, dst.dtype, g.canvas_w, g.canvas_h, "the tensor"));
    if (batch < 0 || batch >= dst.shape[0])
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "batch slot %lld is out of range (batch size %lld)",
                      static_cast<long long>(batch), static_cast<long long>(dst.shape[0]));
    EMBER_CHECK(dst.data != nullptr);

    build_axis(p.interp, g.canvas_w, g.off_x, g.rw, g.src_x0, g.src_w, &wtmp_, &ax_);
    build_axis(p.interp, g.canvas_h, g.off_y, g.rh, g.src_y0, g.src_h, &wtmp_, &ay_);
    int32_t r0, r1;
    rows_needed(ay_, &r0, &r1);
    int cw = 1;
    View src = source_view(p, img, g, r0, r1, &gray_, pool, max_threads, &cw);
    Packed h = horizontal_pass(ax_, src, cw, r0, r1, &hbuf_, pool, max_threads);

    OutputPlan o;
    o.w = g.canvas_w;
    o.h = g.canvas_h;
    o.channels = p.channels();
    o.work_channels = cw;
    o.layout = p.layout;
    size_t slot_bytes = static_cast<size_t>(o.w) * o.h * o.channels * dtype_size(dst.dtype);
    o.slot = static_cast<char *>(dst.data) + static_cast<size_t>(batch) * slot_bytes;
    switch (dst.dtype) {
        case DType::F32:
            run_vertical<float>(p, o, ax_, ay_, h, pool, max_threads);
            break;
        case DType::F16:
            run_vertical<uint16_t>(p, o, ax_, ay_, h, pool, max_threads);
            break;
        case DType::U8:
            run_vertical<uint8_t>(p, o, ax_, ay_, h, pool, max_threads);
            break;
        case DType::I8:
            run_vertical<int8_t>(p, o, ax_, ay_, h, pool, max_threads);
            break;
        default:
            return errorf(EMBER_ERR_INTERNAL, "unexpected dtype %s", dtype_name(dst.dtype));
    }
    return Status::OK();
}

}  // namespace ember
