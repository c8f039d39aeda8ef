// onednn_ops.cc — reading nodes into primitive parameters (see onednn_ops.h).
#include "onednn_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "onednn_half.h"

namespace ember_onednn {

// ---- NodeView ----

bool NodeView::is(const char *op) const {
    return n_->domain[0] == '\0' && std::strcmp(n_->op_type, op) == 0;
}

bool NodeView::has_input(size_t i) const {
    return i < n_->n_inputs && n_->inputs[i].dtype != EMBER_DTYPE_UNDEFINED &&
           n_->inputs[i].name && n_->inputs[i].name[0] != '\0';
}

bool NodeView::has_output(size_t i) const {
    return i < n_->n_outputs && n_->outputs[i].dtype != EMBER_DTYPE_UNDEFINED &&
           n_->outputs[i].name && n_->outputs[i].name[0] != '\0';
}

static Dims dims_of(const ember_plugin_value &v) { return Dims(v.dims, v.dims + v.rank); }

Dims NodeView::in_dims(size_t i) const { return dims_of(n_->inputs[i]); }
Dims NodeView::out_dims(size_t i) const { return dims_of(n_->outputs[i]); }

const ember_plugin_attr *NodeView::attr(const char *name) const {
    for (size_t i = 0; i < n_->n_attrs; i++)
        if (std::strcmp(n_->attrs[i].name, name) == 0) return &n_->attrs[i];
    return nullptr;
}

bool NodeView::only_attrs(std::initializer_list<const char *> names) const {
    for (size_t i = 0; i < n_->n_attrs; i++) {
        bool known = false;
        for (const char *nm : names) known |= std::strcmp(n_->attrs[i].name, nm) == 0;
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
    if (a->type != EMBER_ATTR_INTS) return false;
    out->assign(a->ints, a->ints + a->count);
    return true;
}

// ---- values ----

bool is_float_type(ember_dtype t) {
    return t == EMBER_DTYPE_FLOAT32 || t == EMBER_DTYPE_FLOAT16 || t == EMBER_DTYPE_BFLOAT16;
}

bool is_float(const ember_plugin_value &v) { return is_float_type(v.dtype); }

memory::data_type host_type(ember_dtype t) {
    switch (t) {
        case EMBER_DTYPE_FLOAT16: return memory::data_type::f16;
        case EMBER_DTYPE_BFLOAT16: return memory::data_type::bf16;
        default: return memory::data_type::f32;
    }
}

void constant_to_f32(const ember_plugin_value &v, size_t n, float *out) {
    if (v.dtype == EMBER_DTYPE_FLOAT32)
        std::memcpy(out, v.constant_data, n * sizeof(float));
    else
        half_to_float(v.dtype, v.constant_data, out, n);
}

bool is_float_tensor(const ember_plugin_value &v, bool allow_scalar) {
    if (!is_float(v)) return false;
    if (v.rank > kMaxRank || (v.rank == 0 && !allow_scalar)) return false;
    for (size_t i = 0; i < v.rank; i++)
        if (v.dims[i] <= 0) return false;
    return true;
}

int64_t numel(const Dims &d) {
    int64_t n = 1;
    for (int64_t x : d) n *= x;
    return n;
}

bool constant_scalar(const ember_plugin_value &v, float *out) {
    if (!is_float(v) || !v.constant_data) return false;
    for (size_t i = 0; i < v.rank; i++)
        if (v.dims[i] != 1) return false;
    constant_to_f32(v, 1, out);
    return true;
}

memory::desc plain_md(const Dims &dims, memory::data_type dt) {
    Dims strides(dims.size());
    int64_t s = 1;
    for (size_t i = dims.size(); i-- > 0;) {
        strides[i] = s;
        s *= dims[i];
    }
    return memory::desc(dims, dt, strides);
}

Dims pad_left(const Dims &dims, size_t rank) {
    Dims r(rank > dims.size() ? rank - dims.size() : 0, 1);
    r.insert(r.end(), dims.begin(), dims.end());
    return r;
}

// ---- shared by Conv and the pools: explicit or automatic padding ----

namespace {

// Fills pad_l/pad_r for `nsp` spatial dims from pads / auto_pad, given input and output
// spatial sizes. `ceil_extra` (pools) lets pad_r grow to reach the given output size.
bool spatial_padding(const NodeView &n, const Dims &in, const Dims &out, const Dims &kernel,
                     const Dims &strides, const Dims &dil, bool ceil_mode, Dims *pad_l, Dims *pad_r,
                     bool *extra) {
    size_t nsp = kernel.size();
    std::string auto_pad;
    if (!n.get_string("auto_pad", "NOTSET", &auto_pad)) return false;
    Dims pads;
    if (!n.get_ints("pads", Dims(2 * nsp, 0), &pads) || pads.size() != 2 * nsp) return false;
    pad_l->assign(nsp, 0);
    pad_r->assign(nsp, 0);
    if (extra) *extra = false;
    for (size_t i = 0; i < nsp; i++) {
        int64_t k_eff = (kernel[i] - 1) * dil[i] + 1;
        int64_t pl, pr;
        if (auto_pad == "NOTSET") {
            pl = pads[i];
            pr = pads[i + nsp];
        } else if (auto_pad == "VALID") {
            pl = pr = 0;
        } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
            int64_t total = std::max<int64_t>(0, (out[i] - 1) * strides[i] + k_eff - in[i]);
            pl = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
            pr = total - pl;
        } else {
            return false;
        }
        if (pl < 0 || pr < 0 || in[i] + pl + pr < k_eff) return false;
        int64_t floor_out = (in[i] + pl + pr - k_eff) / strides[i] + 1;
        if (out[i] == floor_out) {
            (*pad_l)[i] = pl;
            (*pad_r)[i] = pr;
            continue;
        }
        // ceil_mode: one more window, reaching into padding on the right only.
        if (!ceil_mode || out[i] != floor_out + 1) return false;
        int64_t r_eff = (out[i] - 1) * strides[i] + k_eff - in[i] - pl;
        if (r_eff < pr || r_eff >= k_eff || (out[i] - 1) * strides[i] >= in[i] + pl) return false;
        (*pad_l)[i] = pl;
        (*pad_r)[i] = r_eff;
        if (extra) *extra = true;
    }
    return true;
}

bool all_positive(const Dims &d) {
    for (int64_t x : d)
        if (x <= 0) return false;
    return true;
}

}  // namespace

// ---- Conv ----

bool parse_conv(const NodeView &n, ConvSpec *s) {
    if (!n.only_attrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"})) return false;
    if (n.n_inputs() < 2 || n.n_inputs() > 3 || !n.has_input(0) || !n.has_input(1)) return false;
    if (n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.in(1)) || !is_float_tensor(n.out(0))) return false;
    Dims x = n.in_dims(0), w = n.in_dims(1), y = n.out_dims(0);
    size_t r = x.size();
    if (r < 3 || r > 5 || w.size() != r || y.size() != r) return false;
    size_t nsp = r - 2;
    if (!n.get_int("group", 1, &s->groups) || s->groups < 1) return false;
    int64_t g = s->groups, c = x[1], m = w[0];
    if (c % g != 0 || w[1] * g != c || m % g != 0 || y[1] != m || y[0] != x[0]) return false;
    Dims kernel(w.begin() + 2, w.end()), ks;
    if (!n.get_ints("kernel_shape", kernel, &ks) || ks != kernel) return false;
    Dims dil;
    if (!n.get_ints("strides", Dims(nsp, 1), &s->strides) || s->strides.size() != nsp ||
        !all_positive(s->strides))
        return false;
    if (!n.get_ints("dilations", Dims(nsp, 1), &dil) || dil.size() != nsp || !all_positive(dil)) return false;
    Dims xin(x.begin() + 2, x.end()), yout(y.begin() + 2, y.end());
    if (!spatial_padding(n, xin, yout, kernel, s->strides, dil, false, &s->pad_l, &s->pad_r, nullptr))
        return false;
    s->dilates.resize(nsp);
    for (size_t i = 0; i < nsp; i++) s->dilates[i] = dil[i] - 1;
    s->has_bias = n.has_input(2);
    if (s->has_bias && (!is_float_tensor(n.in(2)) || n.in_dims(2) != Dims{m})) return false;
    return true;
}

// ---- pools ----

bool parse_pool(const NodeView &n, PoolSpec *s) {
    bool global = n.is("GlobalAveragePool") || n.is("GlobalMaxPool");
    bool max = n.is("MaxPool") || n.is("GlobalMaxPool");
    if (n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() < 1 || !n.has_output(0)) return false;
    for (size_t o = 1; o < n.n_outputs(); o++)
        if (n.has_output(o)) return false;  // MaxPool's Indices
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0))) return false;
    Dims x = n.in_dims(0), y = n.out_dims(0);
    size_t r = x.size();
    if (r < 3 || r > 5 || y.size() != r || y[0] != x[0] || y[1] != x[1]) return false;
    size_t nsp = r - 2;
    Dims xin(x.begin() + 2, x.end()), yout(y.begin() + 2, y.end());
    if (global) {
        if (n.node().n_attrs != 0) return false;
        s->alg = max ? algorithm::pooling_max : algorithm::pooling_avg_include_padding;
        s->kernel = xin;
        s->strides.assign(nsp, 1);
        s->dilates.assign(nsp, 0);
        s->pad_l.assign(nsp, 0);
        s->pad_r.assign(nsp, 0);
        for (int64_t d : yout)
            if (d != 1) return false;
        return true;
    }
    int64_t ceil_mode = 0, include_pad = 0, storage_order = 0;
    if (max) {
        if (!n.only_attrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads",
                           "storage_order", "strides"}))
            return false;
        if (!n.get_int("storage_order", 0, &storage_order) || storage_order != 0) return false;
    } else {
        if (!n.only_attrs({"auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape",
                           "pads", "strides"}))
            return false;
        if (!n.get_int("count_include_pad", 0, &include_pad) || (include_pad != 0 && include_pad != 1))
            return false;
    }
    if (!n.get_int("ceil_mode", 0, &ceil_mode) || (ceil_mode != 0 && ceil_mode != 1)) return false;
    if (!n.get_ints("kernel_shape", Dims(), &s->kernel) || s->kernel.size() != nsp || !all_positive(s->kernel))
        return false;
    if (!n.get_ints("strides", Dims(nsp, 1), &s->strides) || s->strides.size() != nsp ||
        !all_positive(s->strides))
        return false;
    Dims dil;
    if (!n.get_ints("dilations", Dims(nsp, 1), &dil) || dil.size() != nsp || !all_positive(dil)) return false;
    if (!max)
        for (int64_t d : dil)
            if (d != 1) return false;
    bool extra = false;
    if (!spatial_padding(n, xin, yout, s->kernel, s->strides, dil, ceil_mode != 0, &s->pad_l, &s->pad_r,
                         &extra))
        return false;
    // oneDNN counts a whole window with include-padding; ONNX does not count the part of
    // a ceil_mode window past the explicit pads.
    if (!max && include_pad && extra) return false;
    // Windows must overlap the input (every pad smaller than the window).
    for (size_t i = 0; i < nsp; i++) {
        int64_t k_eff = (s->kernel[i] - 1) * dil[i] + 1;
        if (s->pad_l[i] >= k_eff || s->pad_r[i] >= k_eff) return false;
    }
    s->dilates.resize(nsp);
    for (size_t i = 0; i < nsp; i++) s->dilates[i] = dil[i] - 1;
    s->alg = max ? algorithm::pooling_max
                 : include_pad ? algorithm::pooling_avg_include_padding : algorithm::pooling_avg_exclude_padding;
    return true;
}

// ---- activations ----

bool parse_eltwise(const NodeView &n, EltSpec *s) {
    s->steps.clear();
    if (n.n_outputs() != 1 || !n.has_output(0) || n.n_inputs() < 1 || !n.has_input(0)) return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0)) || n.in_dims(0) != n.out_dims(0)) return false;
    auto one = [&](algorithm a, float alpha = 0.f, float beta = 0.f) {
        s->steps.push_back(EltStep{a, alpha, beta});
        return true;
    };
    bool no_attrs = n.node().n_attrs == 0;
    if (n.n_inputs() != 1 && !n.is("Clip")) return false;
    float alpha, beta, gamma;
    if (n.is("Relu")) return no_attrs && one(algorithm::eltwise_relu);
    if (n.is("LeakyRelu"))
        return n.only_attrs({"alpha"}) && n.get_float("alpha", 0.01f, &alpha) && one(algorithm::eltwise_relu, alpha);
    if (n.is("Elu"))
        return n.only_attrs({"alpha"}) && n.get_float("alpha", 1.0f, &alpha) && one(algorithm::eltwise_elu, alpha);
    if (n.is("Selu")) {
        if (!n.only_attrs({"alpha", "gamma"}) || !n.get_float("alpha", 1.67326319217681884765625f, &alpha) ||
            !n.get_float("gamma", 1.05070102214813232421875f, &gamma))
            return false;
        return one(algorithm::eltwise_elu, alpha) && one(algorithm::eltwise_linear, gamma, 0.f);
    }
    if (n.is("Sigmoid")) return no_attrs && one(algorithm::eltwise_logistic);
    if (n.is("Tanh")) return no_attrs && one(algorithm::eltwise_tanh);
    if (n.is("HardSwish")) return no_attrs && one(algorithm::eltwise_hardswish);
    if (n.is("HardSigmoid")) {
        if (!n.only_attrs({"alpha", "beta"}) || !n.get_float("alpha", 0.2f, &alpha) ||
            !n.get_float("beta", 0.5f, &beta))
            return false;
        return one(algorithm::eltwise_linear, alpha, beta) && one(algorithm::eltwise_clip, 0.f, 1.f);
    }
    if (n.is("Softplus")) return no_attrs && one(algorithm::eltwise_soft_relu);
    if (n.is("Exp")) return no_attrs && one(algorithm::eltwise_exp);
    if (n.is("Abs")) return no_attrs && one(algorithm::eltwise_abs);
    if (n.is("Sqrt")) return no_attrs && one(algorithm::eltwise_sqrt);
    // -1 * x + (-0): -x for every x, zeros included (+ 0 would turn -0 into +0).
    if (n.is("Neg")) return no_attrs && one(algorithm::eltwise_linear, -1.f, -0.f);
    if (n.is("Gelu")) {  // ONNX opset 20; accepted in its ONNX form if a model has it
        std::string approx;
        if (!n.only_attrs({"approximate"}) || !n.get_string("approximate", "none", &approx)) return false;
        if (approx == "none") return one(algorithm::eltwise_gelu_erf);
        if (approx == "tanh") return one(algorithm::eltwise_gelu_tanh);
        return false;
    }
    if (n.is("Clip")) {
        // Opset-11+ form: min and max are optional inputs; they must be constants here.
        if (!no_attrs || n.n_inputs() > 3) return false;
        float lo = -INFINITY, hi = INFINITY;
        if (n.has_input(1) && !constant_scalar(n.in(1), &lo)) return false;
        if (n.has_input(2) && !constant_scalar(n.in(2), &hi)) return false;
        if (std::isnan(lo) || std::isnan(hi)) return false;
        if (lo == 0.f && hi == INFINITY) return one(algorithm::eltwise_relu);
        // ONNX: min(max(x, lo), hi), so hi wins when lo > hi; oneDNN's clip is
        // max(lo, min(hi, x)): equal unless lo > hi.
        if (lo > hi) return false;
        return one(algorithm::eltwise_clip, lo, hi);
    }
    return false;
}

// ---- Gemm / MatMul ----

Dims row_major_strides(const Dims &d) {
    Dims s(d.size());
    int64_t acc = 1;
    for (size_t i = d.size(); i-- > 0;) {
        s[i] = acc;
        acc *= d[i];
    }
    return s;
}

bool parse_matmul(const NodeView &n, MatMulSpec *s) {
    if (n.n_outputs() != 1 || !n.has_output(0) || !n.has_input(0) || !n.has_input(1)) return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.in(1)) || !is_float_tensor(n.out(0))) return false;
    Dims a = n.in_dims(0), b = n.in_dims(1), y = n.out_dims(0);
    if (n.is("Gemm")) {
        s->gemm = true;
        if (!n.only_attrs({"alpha", "beta", "transA", "transB"}) || n.n_inputs() > 3) return false;
        int64_t ta, tb;
        if (!n.get_float("alpha", 1.f, &s->alpha) || !n.get_float("beta", 1.f, &s->beta) ||
            !n.get_int("transA", 0, &ta) || !n.get_int("transB", 0, &tb))
            return false;
        if (a.size() != 2 || b.size() != 2 || y.size() != 2) return false;
        int64_t m = ta ? a[1] : a[0], k = ta ? a[0] : a[1];
        int64_t kb = tb ? b[1] : b[0], nn = tb ? b[0] : b[1];
        if (k != kb || y[0] != m || y[1] != nn) return false;
        s->a_dims = {m, k};
        s->a_strides = ta ? Dims{1, m} : Dims{k, 1};
        s->b_dims = {k, nn};
        s->b_strides = tb ? Dims{1, k} : Dims{nn, 1};
        s->dst_dims = {m, nn};
        s->has_c = n.has_input(2) && s->beta != 0.f;
        if (s->has_c) {
            if (!is_float_tensor(n.in(2), true) || n.in(2).rank > 2) return false;
            s->c_dims = pad_left(n.in_dims(2), 2);
            for (int i = 0; i < 2; i++)
                if (s->c_dims[i] != 1 && s->c_dims[i] != y[i]) return false;
            // beta scales a constant C once at compile; a computed C is added as is.
            if (s->beta != 1.f && !n.in(2).constant_data) return false;
        }
        // alpha scales constant weights once at compile; otherwise it is a post-op,
        // which would also scale C.
        if (s->alpha != 1.f && !n.in(1).constant_data && s->has_c) return false;
        return true;
    }
    if (!n.is("MatMul") || n.node().n_attrs != 0 || n.n_inputs() != 2) return false;
    Dims ap = a, bp = b;
    if (ap.size() == 1) ap.insert(ap.begin(), 1);
    if (bp.size() == 1) bp.push_back(1);
    size_t r = std::max(ap.size(), bp.size());
    if (r > kMaxRank) return false;
    ap = pad_left(ap, r);
    bp = pad_left(bp, r);
    if (ap[r - 1] != bp[r - 2]) return false;
    Dims d(r);
    for (size_t i = 0; i + 2 < r; i++) {
        if (ap[i] != bp[i] && ap[i] != 1 && bp[i] != 1) return false;
        d[i] = std::max(ap[i], bp[i]);
    }
    d[r - 2] = ap[r - 2];
    d[r - 1] = bp[r - 1];
    Dims expect(d.begin(), d.end() - 2);
    if (a.size() != 1) expect.push_back(d[r - 2]);
    if (b.size() != 1) expect.push_back(d[r - 1]);
    if (expect != y) return false;
    s->a_dims = ap;
    s->a_strides = row_major_strides(ap);
    s->b_dims = bp;
    s->b_strides = row_major_strides(bp);
    s->dst_dims = d;
    return true;
}

// ---- BatchNormalization (inference) ----

bool parse_batchnorm(const NodeView &n, BatchNormSpec *s) {
    if (!n.only_attrs({"epsilon", "momentum", "training_mode", "spatial"})) return false;
    int64_t training = 0, spatial = 1;
    if (!n.get_int("training_mode", 0, &training) || training != 0) return false;
    if (!n.get_int("spatial", 1, &spatial) || spatial != 1) return false;
    if (!n.get_float("epsilon", 1e-5f, &s->epsilon)) return false;
    if (n.n_inputs() != 5 || n.n_outputs() < 1 || !n.has_output(0)) return false;
    for (size_t o = 1; o < n.n_outputs(); o++)
        if (n.has_output(o)) return false;
    for (size_t i = 0; i < 5; i++)
        if (!n.has_input(i) || !is_float_tensor(n.in(i))) return false;
    Dims x = n.in_dims(0);
    if (x.size() < 2 || x.size() > 5 || n.out_dims(0) != x) return false;
    for (size_t i = 1; i < 5; i++)
        if (n.in_dims(i) != Dims{x[1]}) return false;
    return true;
}

// ---- Softmax / LogSoftmax ----

bool parse_softmax(const NodeView &n, SoftmaxSpec *s) {
    s->log = n.is("LogSoftmax");
    if (!n.only_attrs({"axis", "coerce_2d"})) return false;
    if (n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || n.out_dims(0) != n.in_dims(0)) return false;
    int64_t coerce = 0, axis;
    if (!n.get_int("coerce_2d", 0, &coerce) || (coerce != 0 && coerce != 1)) return false;
    if (!n.get_int("axis", coerce ? 1 : -1, &axis)) return false;
    Dims x = n.in_dims(0);
    int64_t r = static_cast<int64_t>(x.size());
    if (axis < -r || axis >= r) return false;
    if (axis < 0) axis += r;
    if (coerce) {
        int64_t outer = 1, inner = 1;
        for (int64_t i = 0; i < r; i++) (i < axis ? outer : inner) *= x[i];
        s->dims = {outer, inner};
        s->axis = 1;
    } else {
        s->dims = x;
        s->axis = static_cast<int>(axis);
    }
    return true;
}

// ---- LayerNormalization ----

bool parse_layernorm(const NodeView &n, LayerNormSpec *s) {
    if (!n.only_attrs({"axis", "epsilon", "stash_type"})) return false;
    if (n.n_inputs() < 2 || n.n_inputs() > 3 || !n.has_input(0) || !n.has_input(1)) return false;
    if (n.n_outputs() < 1 || !n.has_output(0)) return false;
    for (size_t o = 1; o < n.n_outputs(); o++)
        if (n.has_output(o)) return false;  // Mean, InvStdDev: not computed here
    int64_t axis, stash;
    if (!n.get_int("axis", -1, &axis) || !n.get_float("epsilon", 1e-5f, &s->epsilon) ||
        !n.get_int("stash_type", 1, &stash) || stash != 1)
        return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0)) || n.out_dims(0) != n.in_dims(0)) return false;
    Dims x = n.in_dims(0);
    int64_t r = static_cast<int64_t>(x.size());
    if (axis < -r || axis >= r) return false;
    if (axis < 0) axis += r;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < r; i++) (i < axis ? outer : inner) *= x[i];
    // oneDNN normalises the last dimension with per-element scale and shift: Scale and B
    // must cover the normalised dimensions whole (no broadcasting).
    for (size_t i = 1; i < n.n_inputs(); i++) {
        if (!n.has_input(i)) continue;
        if (!is_float_tensor(n.in(i)) || numel(n.in_dims(i)) != inner) return false;
    }
    s->has_bias = n.n_inputs() > 2 && n.has_input(2);
    s->dims = {outer, inner};
    return true;
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
    int64_t sum = 0;
    for (size_t i = 0; i < n.n_inputs(); i++) {
        if (!n.has_input(i) || !is_float_tensor(n.in(i))) return false;
        Dims x = n.in_dims(i);
        if (x.size() != y.size()) return false;
        for (int64_t d = 0; d < r; d++)
            if (d != axis && x[d] != y[d]) return false;
        sum += x[axis];
    }
    if (sum != y[axis]) return false;
    s->axis = static_cast<int>(axis);
    return true;
}

// ---- Add / Sub / Mul / Div ----

bool parse_binary(const NodeView &n, BinarySpec *s) {
    bool commutes = n.is("Add") || n.is("Mul");
    if (n.is("Add")) s->alg = algorithm::binary_add;
    else if (n.is("Sub")) s->alg = algorithm::binary_sub;
    else if (n.is("Mul")) s->alg = algorithm::binary_mul;
    else if (n.is("Div")) s->alg = algorithm::binary_div;
    else return false;
    if (n.node().n_attrs != 0 || n.n_inputs() != 2 || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!n.has_input(0) || !n.has_input(1)) return false;
    if (!is_float_tensor(n.in(0), true) || !is_float_tensor(n.in(1), true) || !is_float_tensor(n.out(0))) return false;
    Dims y = n.out_dims(0);
    Dims a = pad_left(n.in_dims(0), y.size()), b = pad_left(n.in_dims(1), y.size());
    if (n.in(0).rank > y.size() || n.in(1).rank > y.size()) return false;
    s->swap = false;
    if (a != y) {
        if (!commutes || b != y) return false;
        std::swap(a, b);
        s->swap = true;
    }
    for (size_t i = 0; i < y.size(); i++)
        if (b[i] != 1 && b[i] != y[i]) return false;
    s->src1_dims = b;
    return true;
}

// ---- LRN ----

bool parse_lrn(const NodeView &n, LrnSpec *s) {
    if (!n.only_attrs({"alpha", "beta", "bias", "size"})) return false;
    if (n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || n.in(0).rank != 4 || n.out_dims(0) != n.in_dims(0)) return false;
    if (!n.attr("size") || !n.get_int("size", 1, &s->size) || !n.get_float("alpha", 1e-4f, &s->alpha) ||
        !n.get_float("beta", 0.75f, &s->beta) || !n.get_float("bias", 1.0f, &s->bias))
        return false;
    // ONNX puts floor((size-1)/2) channels before and ceil after; oneDNN (size-1)/2 on
    // both sides: the same only for odd sizes.
    return s->size >= 1 && s->size % 2 == 1 && s->bias > 0.f;
}

// ---- Transpose ----

bool parse_transpose(const NodeView &n, TransposeSpec *s) {
    if (!n.only_attrs({"perm"})) return false;
    if (n.n_inputs() != 1 || !n.has_input(0) || n.n_outputs() != 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0)) || !is_float_tensor(n.out(0))) return false;
    Dims x = n.in_dims(0), y = n.out_dims(0);
    size_t r = x.size();
    Dims def(r);
    for (size_t i = 0; i < r; i++) def[i] = static_cast<int64_t>(r - 1 - i);
    if (!n.get_ints("perm", def, &s->perm) || s->perm.size() != r || y.size() != r) return false;
    std::vector<char> seen(r, 0);
    for (size_t i = 0; i < r; i++) {
        int64_t p = s->perm[i];
        if (p < 0 || p >= static_cast<int64_t>(r) || seen[p]) return false;
        seen[p] = 1;
        if (y[i] != x[p]) return false;
    }
    return true;
}

// ---- views ----

bool parse_view(const NodeView &n) {
    if (n.n_inputs() < 1 || !n.has_input(0) || n.n_outputs() < 1 || !n.has_output(0)) return false;
    if (!is_float_tensor(n.in(0), true) || !is_float_tensor(n.out(0), true)) return false;
    if (numel(n.in_dims(0)) != numel(n.out_dims(0))) return false;
    if (n.is("Reshape")) return n.only_attrs({"allowzero"}) && n.n_inputs() == 2 && n.n_outputs() == 1;
    if (n.is("Flatten")) return n.only_attrs({"axis"}) && n.n_inputs() == 1 && n.n_outputs() == 1;
    if (n.is("Squeeze") || n.is("Unsqueeze"))
        return n.node().n_attrs == 0 && n.n_inputs() <= 2 && n.n_outputs() == 1;
    if (n.is("Identity")) return n.node().n_attrs == 0 && n.n_inputs() == 1 && n.n_outputs() == 1;
    if (n.is("Dropout")) {
        // Inference: identity. The mask output (if any) is all true, written by execute.
        if (!n.only_attrs({"seed", "ratio", "is_test"}) || n.n_inputs() > 3 || n.n_outputs() > 2) return false;
        if (n.has_input(2)) {
            const ember_plugin_value &t = n.in(2);
            if (t.dtype != EMBER_DTYPE_BOOL || !t.constant_data || t.rank != 0 ||
                *static_cast<const uint8_t *>(t.constant_data) != 0)
                return false;
        }
        if (n.has_output(1) &&
            (n.out(1).dtype != EMBER_DTYPE_BOOL || n.out_dims(1) != n.out_dims(0)))
            return false;
        return true;
    }
    return false;
}

bool node_supported(const NodeView &n) {
    if (n.node().domain[0] != '\0') return false;
    ConvSpec conv;
    PoolSpec pool;
    EltSpec elt;
    MatMulSpec mm;
    BatchNormSpec bn;
    SoftmaxSpec sm;
    LayerNormSpec ln;
    ConcatSpec cc;
    BinarySpec bin;
    LrnSpec lrn;
    TransposeSpec tr;
    if (n.is("Conv")) return parse_conv(n, &conv);
    if (n.is("MaxPool") || n.is("AveragePool") || n.is("GlobalMaxPool") || n.is("GlobalAveragePool"))
        return parse_pool(n, &pool);
    if (n.is("Gemm") || n.is("MatMul")) return parse_matmul(n, &mm);
    if (n.is("BatchNormalization")) return parse_batchnorm(n, &bn);
    if (n.is("Softmax") || n.is("LogSoftmax")) return parse_softmax(n, &sm);
    if (n.is("LayerNormalization")) return parse_layernorm(n, &ln);
    if (n.is("Concat")) return parse_concat(n, &cc);
    if (n.is("Add") || n.is("Sub") || n.is("Mul") || n.is("Div")) return parse_binary(n, &bin);
    if (n.is("LRN")) return parse_lrn(n, &lrn);
    if (n.is("Transpose")) return parse_transpose(n, &tr);
    if (n.is("Reshape") || n.is("Flatten") || n.is("Squeeze") || n.is("Unsqueeze") || n.is("Identity") ||
        n.is("Dropout"))
        return parse_view(n);
    return parse_eltwise(n, &elt);
}

}  // namespace ember_onednn
