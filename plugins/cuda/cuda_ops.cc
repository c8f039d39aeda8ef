// cuda_ops.cc — node -> step parameters (cuda_ops.h). Pure host code: no CUDA call, so
// supports() answers without touching the device.
#include "cuda_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace ember_cuda {

// ---- NodeView ----

bool NodeView::is(const char *op) const { return std::strcmp(n_->op_type, op) == 0 && n_->domain[0] == 0; }

bool NodeView::has_input(size_t i) const {
    return i < n_->n_inputs && n_->inputs[i].dtype != EMBER_DTYPE_UNDEFINED && n_->inputs[i].name &&
           n_->inputs[i].name[0];
}

bool NodeView::has_output(size_t i) const {
    return i < n_->n_outputs && n_->outputs[i].dtype != EMBER_DTYPE_UNDEFINED && n_->outputs[i].name &&
           n_->outputs[i].name[0];
}

Dims NodeView::in_dims(size_t i) const { return Dims(in(i).dims, in(i).dims + in(i).rank); }
Dims NodeView::out_dims(size_t i) const { return Dims(out(i).dims, out(i).dims + out(i).rank); }

const ember_plugin_attr *NodeView::attr(const char *name) const {
    for (size_t i = 0; i < n_->n_attrs; i++)
        if (std::strcmp(n_->attrs[i].name, name) == 0) return &n_->attrs[i];
    return nullptr;
}

bool NodeView::only_attrs(std::initializer_list<const char *> names) const {
    for (size_t i = 0; i < n_->n_attrs; i++) {
        bool known = false;
        for (const char *k : names) known |= std::strcmp(n_->attrs[i].name, k) == 0;
        if (!known) return false;
    }
    return true;
}

bool NodeView::get_int(const char *name, int64_t def, int64_t *out) const {
    const ember_plugin_attr *a = attr(name);
    if (!a) { *out = def; return true; }
    if (a->type != EMBER_ATTR_INT) return false;
    *out = a->i;
    return true;
}

bool NodeView::get_float(const char *name, float def, float *out) const {
    const ember_plugin_attr *a = attr(name);
    if (!a) { *out = def; return true; }
    if (a->type != EMBER_ATTR_FLOAT) return false;
    *out = a->f;
    return true;
}

bool NodeView::get_string(const char *name, const char *def, std::string *out) const {
    const ember_plugin_attr *a = attr(name);
    if (!a) { *out = def; return true; }
    if (a->type != EMBER_ATTR_STRING || !a->s) return false;
    *out = a->s;
    return true;
}

bool NodeView::get_ints(const char *name, const Dims &def, Dims *out) const {
    const ember_plugin_attr *a = attr(name);
    if (!a) { *out = def; return true; }
    if (a->type != EMBER_ATTR_INTS || (a->count && !a->ints)) return false;
    out->assign(a->ints, a->ints + a->count);
    return true;
}

// ---- values ----

int64_t numel(const Dims &d) {
    int64_t n = 1;
    for (int64_t x : d) n *= x;
    return n;
}

bool is_float_tensor(const ember_plugin_value &v, bool allow_scalar) {
    bool ok_type = v.dtype == EMBER_DTYPE_FLOAT32 || (v.constant_data && v.dtype == EMBER_DTYPE_FLOAT16);
    if (!ok_type || v.rank > static_cast<size_t>(kMaxRank) || (v.rank == 0 && !allow_scalar)) return false;
    for (size_t i = 0; i < v.rank; i++)
        if (v.dims[i] <= 0) return false;
    return true;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            exp = 127 - 15 + 1;
            while (!(man & 0x400u)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void constant_to_f32(const ember_plugin_value &v, size_t n, float *out) {
    if (v.dtype == EMBER_DTYPE_FLOAT16) {
        const uint16_t *h = static_cast<const uint16_t *>(v.constant_data);
        for (size_t i = 0; i < n; i++) out[i] = half_to_float(h[i]);
    } else {
        std::memcpy(out, v.constant_data, n * sizeof(float));
    }
}

bool constant_scalar(const ember_plugin_value &v, float *out) {
    if (!v.constant_data || !is_float_tensor(v, true)) return false;
    Dims d(v.dims, v.dims + v.rank);
    if (numel(d) != 1) return false;
    constant_to_f32(v, 1, out);
    return true;
}

static bool const_ints(const ember_plugin_value &v, Dims *out) {
    if (!v.constant_data || v.rank > 1) return false;
    int64_t n = v.rank ? v.dims[0] : 1;
    if (v.dtype == EMBER_DTYPE_INT64) {
        const int64_t *p = static_cast<const int64_t *>(v.constant_data);
        out->assign(p, p + n);
    } else if (v.dtype == EMBER_DTYPE_INT32) {
        const int32_t *p = static_cast<const int32_t *>(v.constant_data);
        out->assign(p, p + n);
    } else {
        return false;
    }
    return true;
}

// Pads of one spatial axis from auto_pad (SAME_*: total = max(0, (o-1)*s + (k-1)*d + 1 - i)).
static bool axis_pads(const std::string &auto_pad, int64_t in, int64_t out, int64_t k, int64_t s, int64_t d,
                      int64_t *begin, int64_t *end) {
    if (auto_pad == "VALID") {
        *begin = *end = 0;
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
        int64_t total = std::max<int64_t>(0, (out - 1) * s + (k - 1) * d + 1 - in);
        int64_t small = total / 2;
        *begin = auto_pad == "SAME_UPPER" ? small : total - small;
        *end = total - *begin;
    } else if (auto_pad != "NOTSET") {
        return false;
    }
    return true;
}

// Kernel, strides, dilations and pads of a 2-D window; pads from auto_pad or `pads`.
struct Window2d {
    int64_t kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};
static bool parse_window(const NodeView &n, const Dims &kernel, int64_t h, int64_t w, int64_t oh, int64_t ow,
                         bool allow_dilations, Window2d *win) {
    std::string auto_pad;
    Dims strides, dil, pads;
    if (!n.get_string("auto_pad", "NOTSET", &auto_pad) || !n.get_ints("strides", {1, 1}, &strides) ||
        !n.get_ints("dilations", {1, 1}, &dil) || !n.get_ints("pads", {0, 0, 0, 0}, &pads))
        return false;
    if (kernel.size() != 2 || strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return false;
    if (!allow_dilations && (dil[0] != 1 || dil[1] != 1)) return false;
    for (int i = 0; i < 2; i++)
        if (kernel[i] < 1 || strides[i] < 1 || dil[i] < 1 || kernel[i] > 1024 || strides[i] > 1024 || dil[i] > 1024)
            return false;
    for (int64_t p : pads)
        if (p < 0 || p > 1024) return false;
    *win = Window2d{kernel[0], kernel[1], strides[0], strides[1], dil[0], dil[1], pads[0], pads[1], pads[2], pads[3]};
    if (auto_pad != "NOTSET") {
        if (!axis_pads(auto_pad, h, oh, win->kh, win->sh, win->dh, &win->pt, &win->pb) ||
            !axis_pads(auto_pad, w, ow, win->kw, win->sw, win->dw, &win->pl, &win->pr))
            return false;
    }
    return true;
}

// ---- Conv ----

bool parse_conv(const NodeView &n, ConvSpec *s) {
    if (!n.only_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})) return false;
    if (n.n_inputs() < 2 || n.n_inputs() > 3 || !n.has_input(0) || !n.has_input(1) || n.n_outputs() != 1 ||
        !n.has_output(0))
        return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.in(1)) || !is_float_tensor(n.out(0))) return false;
    if (n.in(0).constant_data || !n.in(1).constant_data) return false;  // weights constant, input computed
    Dims x = n.in_dims(0), wt = n.in_dims(1), y = n.out_dims(0);
    if (x.size() != 4 || wt.size() != 4 || y.size() != 4) return false;
    int64_t groups;
    if (!n.get_int("group", 1, &groups) || groups < 1 || x[1] % groups != 0 || wt[0] % groups != 0) return false;
    if (wt[1] != x[1] / groups || y[1] != wt[0] || y[0] != x[0]) return false;
    Dims kernel;
    if (!n.get_ints("kernel_shape", {wt[2], wt[3]}, &kernel) || kernel.size() != 2 || kernel[0] != wt[2] ||
        kernel[1] != wt[3])
        return false;
    Window2d win;
    if (!parse_window(n, kernel, x[2], x[3], y[2], y[3], true, &win)) return false;
    int64_t eh = (win.kh - 1) * win.dh + 1, ew = (win.kw - 1) * win.dw + 1;
    if (x[2] + win.pt + win.pb < eh || x[3] + win.pl + win.pr < ew) return false;
    if ((x[2] + win.pt + win.pb - eh) / win.sh + 1 != y[2] || (x[3] + win.pl + win.pr - ew) / win.sw + 1 != y[3])
        return false;
    s->has_bias = n.has_input(2);
    if (s->has_bias) {
        if (!n.in(2).constant_data || !is_float_tensor(n.in(2)) || n.in_dims(2) != Dims{wt[0]}) return false;
    }
    s->n = x[0]; s->c = x[1]; s->h = x[2]; s->w = x[3];
    s->k = y[1]; s->oh = y[2]; s->ow = y[3];
    s->groups = groups;
    s->kh = static_cast<int>(win.kh); s->kw = static_cast<int>(win.kw);
    s->sh = static_cast<int>(win.sh); s->sw = static_cast<int>(win.sw);
    s->dh = static_cast<int>(win.dh); s->dw = static_cast<int>(win.dw);
    s->pt = static_cast<int>(win.pt); s->pl = static_cast<int>(win.pl);
    s->pb = static_cast<int>(win.pb); s->pr = static_cast<int>(win.pr);
    // cuDNN pads both sides alike: asymmetric pads only on the plugin's own depthwise kernel.
    if (!s->depthwise() && !s->pointwise() && (s->pt != s->pb || s->pl != s->pr)) return false;
    return true;
}

// ---- pooling and reductions ----

bool parse_pool(const NodeView &n, PoolSpec *s) {
    bool max = n.is("MaxPool");
    if (max ? !n.only_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"})
            : !n.only_attrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"}))
        return false;
    if (n.n_inputs() != 1 || !n.has_input(0) || !n.has_output(0) || (n.n_outputs() > 1 && n.has_output(1)))
        return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0))) return false;
    Dims x = n.in_dims(0), y = n.out_dims(0), kernel;
    if (x.size() != 4 || y.size() != 4 || y[0] != x[0] || y[1] != x[1]) return false;
    int64_t ceil_mode, storage_order, cip;
    if (!n.get_int("ceil_mode", 0, &ceil_mode) || !n.get_int("storage_order", 0, &storage_order) ||
        !n.get_int("count_include_pad", 0, &cip) || storage_order != 0 || (ceil_mode != 0 && ceil_mode != 1) ||
        (cip != 0 && cip != 1))
        return false;
    if (!n.get_ints("kernel_shape", {}, &kernel) || kernel.size() != 2) return false;
    Window2d win;
    if (!parse_window(n, kernel, x[2], x[3], y[2], y[3], max, &win)) return false;
    if (y[2] < 1 || y[3] < 1) return false;
    // Every window must overlap the input, and the last one may run past the end only
    // with ceil_mode.
    if ((y[2] - 1) * win.sh - win.pt >= x[2] || (y[3] - 1) * win.sw - win.pl >= x[3]) return false;
    if (!ceil_mode) {
        if ((y[2] - 1) * win.sh + (win.kh - 1) * win.dh + 1 > x[2] + win.pt + win.pb) return false;
        if ((y[3] - 1) * win.sw + (win.kw - 1) * win.dw + 1 > x[3] + win.pl + win.pr) return false;
    } else if (cip) {
        return false;  // counting pads past the explicit ones: no
    }
    s->global = false;
    s->p = PoolParams{};
    s->p.nc = x[0] * x[1];
    s->p.h = x[2]; s->p.w = x[3]; s->p.oh = y[2]; s->p.ow = y[3];
    s->p.kh = static_cast<int>(win.kh); s->p.kw = static_cast<int>(win.kw);
    s->p.sh = static_cast<int>(win.sh); s->p.sw = static_cast<int>(win.sw);
    s->p.dh = static_cast<int>(win.dh); s->p.dw = static_cast<int>(win.dw);
    s->p.pt = static_cast<int>(win.pt); s->p.pl = static_cast<int>(win.pl);
    s->p.max = max;
    s->p.count_include_pad = cip != 0;
    return true;
}

bool parse_reduce(const NodeView &n, ReduceSpec *s) {
    if (n.n_inputs() < 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0), true)) return false;
    Dims x = n.in_dims(0);
    int64_t r = static_cast<int64_t>(x.size());
    Dims axes;
    if (n.is("GlobalAveragePool") || n.is("GlobalMaxPool")) {
        if (n.n_attrs() != 0 || n.n_inputs() != 1 || r < 3) return false;
        s->op = n.is("GlobalMaxPool") ? ReduceOp::Max : ReduceOp::Mean;
        for (int64_t i = 2; i < r; i++) axes.push_back(i);
    } else {
        int64_t keepdims, noop;
        if (n.is("ReduceSum")) {
            if (!n.only_attrs({"keepdims", "noop_with_empty_axes"})) return false;
            if (n.n_inputs() > 2) return false;
            if (n.has_input(1) && !const_ints(n.in(1), &axes)) return false;
            s->op = ReduceOp::Sum;
        } else {
            if (!n.only_attrs({"axes", "keepdims"}) || n.n_inputs() != 1) return false;
            if (!n.get_ints("axes", {}, &axes)) return false;
            if (n.is("ReduceMean")) s->op = ReduceOp::Mean;
            else if (n.is("ReduceMax")) s->op = ReduceOp::Max;
            else return false;
        }
        if (!n.get_int("keepdims", 1, &keepdims) || !n.get_int("noop_with_empty_axes", 0, &noop) || noop != 0)
            return false;
        if (axes.empty())
            for (int64_t i = 0; i < r; i++) axes.push_back(i);
    }
    for (auto &a : axes) {
        if (a < -r || a >= r) return false;
        if (a < 0) a += r;
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return false;
    // Only trailing axes: the reduced elements of one output are contiguous.
    int64_t first = r - static_cast<int64_t>(axes.size());
    for (size_t i = 0; i < axes.size(); i++)
        if (axes[i] != first + static_cast<int64_t>(i)) return false;
    s->rows = 1;
    s->cols = 1;
    for (int64_t i = 0; i < r; i++) (i < first ? s->rows : s->cols) *= x[i];
    return numel(n.out_dims(0)) == s->rows;
}

// ---- activations ----

bool parse_act(const NodeView &n, Act *a) {
    struct Simple { const char *op; ActKind kind; };
    static const Simple simple[] = {
        {"Relu", ActKind::Relu},     {"Sigmoid", ActKind::Sigmoid}, {"Tanh", ActKind::Tanh},
        {"HardSwish", ActKind::HardSwish}, {"Abs", ActKind::Abs},   {"Neg", ActKind::Neg},
        {"Sqrt", ActKind::Sqrt},     {"Exp", ActKind::Exp},         {"Softplus", ActKind::Softplus},
    };
    if (n.n_outputs() != 1 || !n.has_output(0) || n.n_inputs() < 1 || !n.has_input(0)) return false;
    if (!is_float_tensor(n.in(0), true) || !is_float_tensor(n.out(0), true) || n.in_dims(0) != n.out_dims(0))
        return false;
    if (n.in(0).constant_data) return false;
    *a = Act{};
    for (const Simple &s : simple) {
        if (n.is(s.op)) {
            if (n.n_attrs() != 0 || n.n_inputs() != 1) return false;
            a->kind = s.kind;
            return true;
        }
    }
    if (n.is("LeakyRelu") || n.is("Elu")) {
        a->kind = n.is("Elu") ? ActKind::Elu : ActKind::LeakyRelu;
        return n.n_inputs() == 1 && n.only_attrs({"alpha"}) &&
               n.get_float("alpha", a->kind == ActKind::Elu ? 1.0f : 0.01f, &a->a);
    }
    if (n.is("Selu")) {
        a->kind = ActKind::Selu;
        return n.n_inputs() == 1 && n.only_attrs({"alpha", "gamma"}) &&
               n.get_float("alpha", 1.67326319217681884765625f, &a->a) &&
               n.get_float("gamma", 1.05070102214813232421875f, &a->b);
    }
    if (n.is("HardSigmoid")) {
        a->kind = ActKind::HardSigmoid;
        return n.n_inputs() == 1 && n.only_attrs({"alpha", "beta"}) && n.get_float("alpha", 0.2f, &a->a) &&
               n.get_float("beta", 0.5f, &a->b);
    }
    if (n.is("Gelu")) {
        std::string approx;
        if (n.n_inputs() != 1 || !n.only_attrs({"approximate"}) || !n.get_string("approximate", "none", &approx))
            return false;
        if (approx == "none") a->kind = ActKind::Gelu;
        else if (approx == "tanh") a->kind = ActKind::GeluTanh;
        else return false;
        return true;
    }
    if (n.is("Clip")) {
        if (n.n_attrs() != 0 || n.n_inputs() > 3) return false;
        a->kind = ActKind::Clip;
        a->a = -std::numeric_limits<float>::infinity();
        a->b = std::numeric_limits<float>::infinity();
        if (n.has_input(1) && !constant_scalar(n.in(1), &a->a)) return false;
        if (n.has_input(2) && !constant_scalar(n.in(2), &a->b)) return false;
        return !(a->a > a->b) && !std::isnan(a->a) && !std::isnan(a->b);
    }
    return false;
}

// ---- Gemm, MatMul ----

static bool parse_gemm(const NodeView &n, MatMulSpec *s) {
    if (!n.only_attrs({"alpha", "beta", "transA", "transB"})) return false;
    if (n.n_inputs() < 2 || n.n_inputs() > 3 || !n.has_input(0) || !n.has_input(1)) return false;
    int64_t ta, tb;
    if (!n.get_int("transA", 0, &ta) || !n.get_int("transB", 0, &tb) || !n.get_float("alpha", 1.0f, &s->alpha) ||
        !n.get_float("beta", 1.0f, &s->beta) || (ta != 0 && ta != 1) || (tb != 0 && tb != 1))
        return false;
    Dims a = n.in_dims(0), b = n.in_dims(1), y = n.out_dims(0);
    if (a.size() != 2 || b.size() != 2 || y.size() != 2) return false;
    s->gemm = true;
    s->trans_a = ta != 0;
    s->trans_b = tb != 0;
    s->m = ta ? a[1] : a[0];
    s->k = ta ? a[0] : a[1];
    s->n = tb ? b[0] : b[1];
    if ((tb ? b[1] : b[0]) != s->k || y != Dims{s->m, s->n}) return false;
    s->has_c = n.has_input(2);
    if (s->has_c) {
        if (!is_float_tensor(n.in(2), true)) return false;
        Dims c = n.in_dims(2);
        if (c.size() > 2) return false;
        while (c.size() < 2) c.insert(c.begin(), 1);
        if ((c[0] != 1 && c[0] != s->m) || (c[1] != 1 && c[1] != s->n)) return false;
        s->c_dims = c;
    }
    return true;
}

bool parse_matmul(const NodeView &n, MatMulSpec *s) {
    *s = MatMulSpec{};
    if (n.n_outputs() != 1 || !n.has_output(0) || !is_float_tensor(n.out(0))) return false;
    if (n.n_inputs() < 2 || !n.has_input(0) || !n.has_input(1) || !is_float_tensor(n.in(0)) ||
        !is_float_tensor(n.in(1)))
        return false;
    if (n.is("Gemm")) return parse_gemm(n, s);
    if (!n.is("MatMul") || n.n_attrs() != 0 || n.n_inputs() != 2) return false;
    Dims a = n.in_dims(0), b = n.in_dims(1), y = n.out_dims(0);
    if (a.size() < 2 || b.size() < 2) return false;  // 1-D operands: not here
    s->m = a[a.size() - 2];
    s->k = a.back();
    s->n = b.back();
    if (b[b.size() - 2] != s->k) return false;
    Dims ab(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
    size_t r = std::max(ab.size(), bb.size());
    while (ab.size() < r) ab.insert(ab.begin(), 1);
    while (bb.size() < r) bb.insert(bb.begin(), 1);
    Dims want(r);
    for (size_t d = 0; d < r; d++) {
        if (ab[d] != bb[d] && ab[d] != 1 && bb[d] != 1) return false;
        want[d] = std::max(ab[d], bb[d]);
    }
    want.push_back(s->m);
    want.push_back(s->n);
    if (y != want) return false;
    int64_t batch_a = numel(ab), batch_b = numel(bb);
    if (batch_b == 1) {
        s->m *= batch_a;  // B shared: A's batches fold into M, one GEMM
        s->batch = 1;
    } else if (batch_a == 1) {
        s->batch = batch_b;
        s->stride_a = 0;
        s->stride_b = s->k * s->n;
    } else if (ab == bb) {
        s->batch = batch_a;
        s->stride_a = s->m * s->k;
        s->stride_b = s->k * s->n;
    } else {
        return false;  // partial broadcasting of batch dims: not here
    }
    return s->batch <= std::numeric_limits<int32_t>::max();
}

// ---- BatchNormalization ----

bool parse_batchnorm(const NodeView &n, BatchNormSpec *s) {
    if (!n.only_attrs({"epsilon", "momentum", "training_mode"})) return false;
    int64_t training;
    if (!n.get_int("training_mode", 0, &training) || training != 0 || !n.get_float("epsilon", 1e-5f, &s->epsilon))
        return false;
    if (n.n_inputs() != 5 || !n.has_output(0)) return false;
    for (size_t o = 1; o < n.n_outputs(); o++)
        if (n.has_output(o)) return false;
    if (!is_float_tensor(n.in(0)) || n.in(0).constant_data || n.in_dims(0) != n.out_dims(0)) return false;
    Dims x = n.in_dims(0);
    if (x.size() < 2) return false;
    for (size_t i = 1; i < 5; i++)
        if (!n.has_input(i) || !n.in(i).constant_data || !is_float_tensor(n.in(i)) || n.in_dims(i) != Dims{x[1]})
            return false;
    s->outer = x[0];
    s->channels = x[1];
    s->inner = 1;
    for (size_t i = 2; i < x.size(); i++) s->inner *= x[i];
    return true;
}

// ---- Softmax ----

bool parse_softmax(const NodeView &n, SoftmaxSpec *s) {
    s->log = n.is("LogSoftmax");
    if (!n.only_attrs({"axis", "coerce_2d"})) return false;
    if (n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || n.in(0).constant_data || n.out_dims(0) != n.in_dims(0)) return false;
    int64_t coerce, axis;
    if (!n.get_int("coerce_2d", 0, &coerce) || (coerce != 0 && coerce != 1)) return false;
    if (!n.get_int("axis", coerce ? 1 : -1, &axis)) return false;
    Dims x = n.in_dims(0);
    int64_t r = static_cast<int64_t>(x.size());
    if (axis < -r || axis >= r) return false;
    if (axis < 0) axis += r;
    s->outer = s->axis = s->inner = 1;
    for (int64_t i = 0; i < r; i++) {
        if (i < axis) s->outer *= x[i];
        else if (i == axis || coerce) s->axis *= x[i];
        else s->inner *= x[i];
    }
    return s->outer <= std::numeric_limits<int32_t>::max();
}

// ---- Concat ----

bool parse_concat(const NodeView &n, ConcatSpec *s) {
    if (!n.only_attrs({"axis"}) || n.n_inputs() < 1 || n.n_outputs() != 1 || !n.has_output(0)) return false;
    int64_t axis;
    if (!n.attr("axis") || !n.get_int("axis", 0, &axis)) return false;
    Dims y = n.out_dims(0);
    int64_t r = static_cast<int64_t>(y.size());
    if (!is_float_tensor(n.out(0)) || axis < -r || axis >= r) return false;
    if (axis < 0) axis += r;
    int64_t inner = 1, sum = 0;
    s->outer = 1;
    for (int64_t i = 0; i < r; i++) {
        if (i < axis) s->outer *= y[i];
        if (i > axis) inner *= y[i];
    }
    s->in_rows.clear();
    for (size_t i = 0; i < n.n_inputs(); i++) {
        if (!n.has_input(i) || !is_float_tensor(n.in(i))) return false;
        Dims x = n.in_dims(i);
        if (static_cast<int64_t>(x.size()) != r) return false;
        for (int64_t d = 0; d < r; d++)
            if (d != axis && x[d] != y[d]) return false;
        sum += x[axis];
        s->in_rows.push_back(x[axis] * inner);
    }
    s->out_row = y[axis] * inner;
    return sum == y[axis];
}

// ---- Add, Sub, Mul, Div ----

static bool broadcast_strides(const Dims &in, const Dims &out, int64_t *strides) {
    size_t r = out.size(), off = r - in.size();
    if (in.size() > r) return false;
    int64_t stride = 1;
    for (size_t d = r; d-- > 0;) {
        int64_t dim = d >= off ? in[d - off] : 1;
        if (dim != out[d] && dim != 1) return false;
        strides[d] = dim == 1 ? 0 : stride;
        stride *= dim;
    }
    return true;
}

bool parse_binary(const NodeView &n, BinarySpec *s) {
    if (n.is("Add")) s->op = BinaryOp::Add;
    else if (n.is("Sub")) s->op = BinaryOp::Sub;
    else if (n.is("Mul")) s->op = BinaryOp::Mul;
    else if (n.is("Div")) s->op = BinaryOp::Div;
    else return false;
    if (n.n_attrs() != 0 || n.n_inputs() != 2 || !n.has_input(0) || !n.has_input(1) || n.n_outputs() != 1 ||
        !n.has_output(0))
        return false;
    if (!is_float_tensor(n.in(0), true) || !is_float_tensor(n.in(1), true) || !is_float_tensor(n.out(0), true))
        return false;
    if (n.in(0).constant_data && n.in(1).constant_data) return false;
    Dims y = n.out_dims(0);
    s->shape = BinaryShape{};
    s->shape.rank = static_cast<int>(y.size());
    for (size_t d = 0; d < y.size(); d++) s->shape.dims[d] = y[d];
    return broadcast_strides(n.in_dims(0), y, s->shape.a_strides) &&
           broadcast_strides(n.in_dims(1), y, s->shape.b_strides);
}

// ---- Transpose, views ----

bool parse_transpose(const NodeView &n, StridedShape *s) {
    if (!n.only_attrs({"perm"}) || n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0))
        return false;
    if (!is_float_tensor(n.in(0)) || n.in(0).constant_data || !is_float_tensor(n.out(0))) return false;
    Dims x = n.in_dims(0), y = n.out_dims(0), perm, def;
    for (size_t i = x.size(); i-- > 0;) def.push_back(static_cast<int64_t>(i));
    if (!n.get_ints("perm", def, &perm) || perm.size() != x.size() || y.size() != x.size()) return false;
    Dims in_strides(x.size());
    int64_t stride = 1;
    for (size_t d = x.size(); d-- > 0;) { in_strides[d] = stride; stride *= x[d]; }
    std::vector<char> seen(x.size(), 0);
    *s = StridedShape{};
    s->rank = static_cast<int>(x.size());
    for (size_t d = 0; d < perm.size(); d++) {
        int64_t p = perm[d];
        if (p < 0 || p >= static_cast<int64_t>(x.size()) || seen[p] || y[d] != x[p]) return false;
        seen[p] = 1;
        s->dims[d] = y[d];
        s->in_strides[d] = in_strides[p];
    }
    return true;
}

bool parse_view(const NodeView &n) {
    bool ok_op = n.is("Reshape") || n.is("Flatten") || n.is("Squeeze") || n.is("Unsqueeze") || n.is("Identity") ||
                 n.is("Dropout");
    if (!ok_op || n.n_inputs() < 1 || !n.has_input(0) || n.n_outputs() < 1 || !n.has_output(0)) return false;
    // Dropout's mask (bool, the output's shape) is all true in inference: the host's
    // buffer is filled, no device work.
    for (size_t o = 1; o < n.n_outputs(); o++) {
        if (!n.has_output(o)) continue;
        if (!n.is("Dropout") || o != 1 || n.out(1).dtype != EMBER_DTYPE_BOOL || n.out_dims(1) != n.in_dims(0))
            return false;
    }
    if (!is_float_tensor(n.in(0), true) || n.in(0).constant_data || !is_float_tensor(n.out(0), true)) return false;
    if (n.is("Dropout")) {
        // Inference only: training_mode absent or a constant false.
        if (n.has_input(2)) {
            const ember_plugin_value &t = n.in(2);
            if (!t.constant_data || t.dtype != EMBER_DTYPE_BOOL || *static_cast<const uint8_t *>(t.constant_data))
                return false;
        }
    }
    return numel(n.in_dims(0)) == numel(n.out_dims(0));
}

bool node_supported(const NodeView &n) {
    const ember_plugin_node &node = n.node();
    if (!node.op_type || !node.domain || node.domain[0] != 0) return false;
    if (n.is("Conv")) { ConvSpec s; return parse_conv(n, &s); }
    if (n.is("MaxPool") || n.is("AveragePool")) { PoolSpec s; return parse_pool(n, &s); }
    if (n.is("GlobalAveragePool") || n.is("GlobalMaxPool") || n.is("ReduceMean") || n.is("ReduceSum") ||
        n.is("ReduceMax")) {
        ReduceSpec s;
        return parse_reduce(n, &s);
    }
    if (n.is("Gemm") || n.is("MatMul")) { MatMulSpec s; return parse_matmul(n, &s); }
    if (n.is("BatchNormalization")) { BatchNormSpec s; return parse_batchnorm(n, &s); }
    if (n.is("Softmax") || n.is("LogSoftmax")) { SoftmaxSpec s; return parse_softmax(n, &s); }
    if (n.is("Concat")) { ConcatSpec s; return parse_concat(n, &s); }
    if (n.is("Add") || n.is("Sub") || n.is("Mul") || n.is("Div")) { BinarySpec s; return parse_binary(n, &s); }
    if (n.is("Transpose")) { StridedShape s; return parse_transpose(n, &s); }
    if (parse_view(n)) return true;
    Act a;
    return parse_act(n, &a);
}

}  // namespace ember_cuda
