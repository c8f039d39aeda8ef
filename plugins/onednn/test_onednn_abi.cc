// test_onednn_abi.cc — the plugin through its ABI alone (api/ember_plugin.h), the way the
// host drives it, on hand-built subgraphs that the shared models and the one-operator
// conformance cases do not reach: the fusions (BatchNormalization and per-channel
// Mul/Add folded into Conv, activation post-ops, residual Add as a sum post-op, in place
// or copied), grouped / dilated / strided / asymmetric convolutions, computed weights,
// Gemm with transposes, alpha and beta, a fused value that leaves the subgraph, float16
// tensors at the edges, and the error paths (a bad subgraph, wrong tensors at execute). Each case is checked against a
// plain reference computed here (|d| <= 1e-4 * max|ref| + 1e-5).
//
//   test_onednn_abi PATH/libember-onednn.so
#include <dlfcn.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ember_plugin.h"

namespace {

int g_failures = 0;
std::string g_error;

void host_log(void *, ember_log_level, const char *) {}
void host_set_error(void *, const char *m) { g_error = m ? m : ""; }

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            std::printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            std::printf(__VA_ARGS__);                      \
            std::printf("\n");                             \
            g_failures++;                                  \
            return;                                        \
        }                                                  \
    } while (0)

using Dims = std::vector<int64_t>;

int64_t numel(const Dims &d) {
    int64_t n = 1;
    for (int64_t x : d) n *= x;
    return n;
}

struct Tensor {
    Dims dims;
    std::vector<float> data;
    bool constant = false;
};

struct Attr {
    Attr(const char *n, ember_plugin_attr_type t) : name(n), type(t) {}
    std::string name;
    ember_plugin_attr_type type;
    int64_t i = 0;
    float f = 0;
    std::string s;
    Dims ints;
};

struct Node {
    std::string op;
    std::vector<std::string> ins, outs;
    std::vector<Attr> attrs;
};

Attr ai(const char *n, int64_t v) { Attr a{n, EMBER_ATTR_INT}; a.i = v; return a; }
Attr af(const char *n, float v) { Attr a{n, EMBER_ATTR_FLOAT}; a.f = v; return a; }
Attr as(const char *n, const char *v) { Attr a{n, EMBER_ATTR_STRING}; a.s = v; return a; }
Attr aints(const char *n, Dims v) { Attr a{n, EMBER_ATTR_INTS}; a.ints = v; return a; }

const Attr *find_attr(const Node &n, const char *name) {
    for (const Attr &a : n.attrs)
        if (a.name == name) return &a;
    return nullptr;
}

// ---- reference operators (row-major, NCHW) ----

Tensor ref_conv(const Node &n, const Tensor &x, const Tensor &w, const Tensor *b) {
    int64_t g = find_attr(n, "group") ? find_attr(n, "group")->i : 1;
    Dims st = find_attr(n, "strides") ? find_attr(n, "strides")->ints : Dims{1, 1};
    Dims dl = find_attr(n, "dilations") ? find_attr(n, "dilations")->ints : Dims{1, 1};
    Dims pd = find_attr(n, "pads") ? find_attr(n, "pads")->ints : Dims{0, 0, 0, 0};
    int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
    int64_t M = w.dims[0], CG = w.dims[1], KH = w.dims[2], KW = w.dims[3];
    if (const Attr *ap = find_attr(n, "auto_pad")) {  // SAME_*: output = ceil(input / stride)
        int64_t in[2] = {H, W}, k[2] = {KH, KW};
        for (int i = 0; i < 2; i++) {
            int64_t out = (in[i] + st[i] - 1) / st[i];
            int64_t total = std::max<int64_t>(0, (out - 1) * st[i] + (k[i] - 1) * dl[i] + 1 - in[i]);
            pd[i] = ap->s == "SAME_UPPER" ? total / 2 : total - total / 2;
            pd[i + 2] = total - pd[i];
        }
    }
    int64_t OH = (H + pd[0] + pd[2] - ((KH - 1) * dl[0] + 1)) / st[0] + 1;
    int64_t OW = (W + pd[1] + pd[3] - ((KW - 1) * dl[1] + 1)) / st[1] + 1;
    Tensor y;
    y.dims = {N, M, OH, OW};
    y.data.assign(numel(y.dims), 0.f);
    int64_t MG = M / g;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < OW; ow++) {
                    double acc = b ? b->data[m] : 0.0;
                    int64_t grp = m / MG;
                    for (int64_t c = 0; c < CG; c++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < KW; kw++) {
                                int64_t ih = oh * st[0] - pd[0] + kh * dl[0], iw = ow * st[1] - pd[1] + kw * dl[1];
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += double(x.data[((nn * C + grp * CG + c) * H + ih) * W + iw]) *
                                       w.data[((m * CG + c) * KH + kh) * KW + kw];
                            }
                    y.data[((nn * M + m) * OH + oh) * OW + ow] = float(acc);
                }
    (void)C;
    return y;
}

// Numpy broadcasting of b onto a's shape (b right-aligned).
Tensor ref_binary(const Tensor &a, const Tensor &b, const std::function<float(float, float)> &f) {
    Tensor y = a;
    size_t r = a.dims.size();
    Dims bd(r, 1);
    for (size_t i = 0; i < b.dims.size(); i++) bd[r - b.dims.size() + i] = b.dims[i];
    std::vector<int64_t> idx(r, 0);
    for (int64_t e = 0; e < numel(a.dims); e++) {
        int64_t rem = e, off = 0, stride = 1;
        for (size_t d = r; d-- > 0;) {
            idx[d] = rem % a.dims[d];
            rem /= a.dims[d];
        }
        for (size_t d = r; d-- > 0;) {
            off += (bd[d] == 1 ? 0 : idx[d]) * stride;
            stride *= bd[d];
        }
        y.data[e] = f(a.data[e], b.data[off]);
    }
    return y;
}

Tensor ref_matmul(const Tensor &a, const Tensor &b, bool ta, bool tb, float alpha) {
    int64_t M = ta ? a.dims[1] : a.dims[0], K = ta ? a.dims[0] : a.dims[1];
    int64_t N = tb ? b.dims[0] : b.dims[1];
    Tensor y;
    y.dims = {M, N};
    y.data.assign(M * N, 0.f);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++)
                acc += double(ta ? a.data[k * M + i] : a.data[i * K + k]) * (tb ? b.data[j * K + k] : b.data[k * N + j]);
            y.data[i * N + j] = float(alpha * acc);
        }
    return y;
}

// ---- one subgraph: values, nodes, the C structures the host would pass ----

struct Case {
    explicit Case(const char *n) : name(n) {}
    const char *name;
    std::map<std::string, Tensor> vals;  // inputs and constants; computed values added by ref
    std::vector<Node> nodes;
    std::vector<std::string> outputs;    // subgraph outputs
    int threads = 1;

    Tensor &input(const std::string &n, Dims d, float scale = 1.f, bool constant = false) {
        Tensor t;
        t.dims = d;
        t.constant = constant;
        t.data.resize(numel(d));
        uint32_t s = 2166136261u;
        for (char c : n) s = (s ^ uint8_t(c)) * 16777619u;
        for (float &v : t.data) {
            s = s * 1664525u + 1013904223u;
            v = scale * (float((s >> 8) & 0xffff) / 32768.f - 1.f);
        }
        vals[n] = t;
        return vals[n];
    }
    Tensor &constant(const std::string &n, Dims d, float scale = 1.f) { return input(n, d, scale, true); }
    void node(const char *op, std::vector<std::string> ins, std::vector<std::string> outs, std::vector<Attr> attrs = {}) {
        nodes.push_back(Node{op, ins, outs, attrs});
    }
};

// Computes every node's outputs into c.vals (the reference).
void reference(Case &c) {
    for (const Node &n : c.nodes) {
        auto in = [&](size_t i) -> const Tensor & { return c.vals.at(n.ins[i]); };
        Tensor y;
        if (n.op == "Conv") {
            y = ref_conv(n, in(0), in(1), n.ins.size() > 2 ? &in(2) : nullptr);
        } else if (n.op == "BatchNormalization") {
            float eps = find_attr(n, "epsilon") ? find_attr(n, "epsilon")->f : 1e-5f;
            y = in(0);
            int64_t C = y.dims[1], inner = numel(y.dims) / (y.dims[0] * C);
            for (int64_t e = 0; e < numel(y.dims); e++) {
                int64_t ch = (e / inner) % C;
                y.data[e] = (y.data[e] - in(3).data[ch]) / std::sqrt(in(4).data[ch] + eps) * in(1).data[ch] + in(2).data[ch];
            }
        } else if (n.op == "Relu") {
            y = in(0);
            for (float &v : y.data) v = v > 0 ? v : 0;
        } else if (n.op == "Clip") {
            y = in(0);
            float lo = in(1).data[0], hi = in(2).data[0];
            for (float &v : y.data) v = std::min(std::max(v, lo), hi);
        } else if (n.op == "Sigmoid") {
            y = in(0);
            for (float &v : y.data) v = 1.f / (1.f + std::exp(-v));
        } else if (n.op == "Add" || n.op == "Mul" || n.op == "Sub") {
            const Tensor &a = in(0), &b = in(1);
            bool swap = numel(b.dims) > numel(a.dims);
            const std::string op = n.op;
            auto f = [op, swap](float p, float q) {
                float x = swap ? q : p, z = swap ? p : q;
                return op == "Add" ? x + z : op == "Mul" ? x * z : x - z;
            };
            y = swap ? ref_binary(b, a, f) : ref_binary(a, b, f);
        } else if (n.op == "Gemm" || n.op == "MatMul") {
            bool ta = find_attr(n, "transA") && find_attr(n, "transA")->i;
            bool tb = find_attr(n, "transB") && find_attr(n, "transB")->i;
            float alpha = find_attr(n, "alpha") ? find_attr(n, "alpha")->f : 1.f;
            float beta = find_attr(n, "beta") ? find_attr(n, "beta")->f : 1.f;
            if (in(0).dims.size() > 2 && in(1).dims.size() == 2) {  // [..., M, K] x [K, N]: rows stacked
                Tensor a2 = in(0);
                a2.dims = {numel(a2.dims) / a2.dims.back(), a2.dims.back()};
                y = ref_matmul(a2, in(1), false, false, 1.f);
                Dims yd = in(0).dims;
                yd.back() = in(1).dims[1];
                y.dims = yd;
            } else {
                y = ref_matmul(in(0), in(1), ta, tb, alpha);
            }
            if (n.ins.size() > 2) y = ref_binary(y, in(2), [beta](float p, float q) { return p + beta * q; });
        } else if (n.op == "LayerNormalization") {
            const Tensor &x = in(0);
            int64_t r = static_cast<int64_t>(x.dims.size());
            int64_t axis = find_attr(n, "axis") ? find_attr(n, "axis")->i : -1;
            if (axis < 0) axis += r;
            float eps = find_attr(n, "epsilon") ? find_attr(n, "epsilon")->f : 1e-5f;
            int64_t inner = 1;
            for (int64_t i = axis; i < r; i++) inner *= x.dims[i];
            y = x;
            for (int64_t row = 0; row < numel(x.dims) / inner; row++) {
                const float *p = &x.data[row * inner];
                double mean = 0, var = 0;
                for (int64_t i = 0; i < inner; i++) mean += p[i];
                mean /= inner;
                for (int64_t i = 0; i < inner; i++) var += (p[i] - mean) * (p[i] - mean);
                var /= inner;
                for (int64_t i = 0; i < inner; i++)
                    y.data[row * inner + i] = float((p[i] - mean) / std::sqrt(var + eps) * in(1).data[i] +
                                                    (n.ins.size() > 2 ? in(2).data[i] : 0.f));
            }
        } else if (n.op == "LRN") {
            int64_t size = find_attr(n, "size")->i;
            float alpha = 1e-4f, beta = 0.75f, bias = 1.f;
            const Tensor &x = in(0);
            y = x;
            int64_t C = x.dims[1], inner = x.dims[2] * x.dims[3];
            for (int64_t e = 0; e < numel(x.dims); e++) {
                int64_t ch = (e / inner) % C, base = e - ch * inner;
                double sq = 0;
                for (int64_t j = std::max<int64_t>(0, ch - (size - 1) / 2); j <= std::min(C - 1, ch + size / 2); j++)
                    sq += double(x.data[base + j * inner]) * x.data[base + j * inner];
                y.data[e] = float(x.data[e] / std::pow(bias + alpha / size * sq, beta));
            }
        } else if (n.op == "MaxPool" || n.op == "GlobalAveragePool") {
            const Tensor &x = in(0);
            bool global = n.op == "GlobalAveragePool";
            int64_t k = global ? x.dims[2] : find_attr(n, "kernel_shape")->ints[0];
            int64_t st = global ? 1 : find_attr(n, "strides")->ints[0];
            bool ceil_mode = find_attr(n, "ceil_mode") && find_attr(n, "ceil_mode")->i;
            int64_t H = x.dims[2], W = x.dims[3];
            auto out_size = [&](int64_t in) {
                int64_t o = ceil_mode ? (in - k + st - 1) / st + 1 : (in - k) / st + 1;
                if (ceil_mode && (o - 1) * st >= in) o--;
                return o;
            };
            int64_t OH = global ? 1 : out_size(H), OW = global ? 1 : out_size(W), KW = global ? W : k;
            y.dims = {x.dims[0], x.dims[1], OH, OW};
            for (int64_t nc = 0; nc < x.dims[0] * x.dims[1]; nc++)
                for (int64_t oh = 0; oh < OH; oh++)
                    for (int64_t ow = 0; ow < OW; ow++) {
                        double acc = global ? 0.0 : -INFINITY;
                        for (int64_t i = oh * st; i < std::min(H, oh * st + k); i++)
                            for (int64_t j = ow * st; j < std::min(W, ow * st + KW); j++) {
                                float v = x.data[(nc * H + i) * W + j];
                                acc = global ? acc + v : std::max(acc, double(v));
                            }
                        y.data.push_back(float(global ? acc / (H * W) : acc));
                    }
        } else if (n.op == "Concat") {
            // axis 1 of 4-D tensors
            const Tensor &a = in(0), &b = in(1);
            y.dims = a.dims;
            y.dims[1] += b.dims[1];
            int64_t inner = a.dims[2] * a.dims[3];
            for (int64_t nn = 0; nn < a.dims[0]; nn++) {
                y.data.insert(y.data.end(), a.data.begin() + nn * a.dims[1] * inner, a.data.begin() + (nn + 1) * a.dims[1] * inner);
                y.data.insert(y.data.end(), b.data.begin() + nn * b.dims[1] * inner, b.data.begin() + (nn + 1) * b.dims[1] * inner);
            }
        } else {
            std::printf("reference: no operator %s\n", n.op.c_str());
            g_failures++;
            return;
        }
        y.constant = false;
        c.vals[n.outs[0]] = y;
    }
}

class Plugin {
public:
    bool load(const char *path) {
        handle_ = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!handle_) {
            std::printf("cannot load %s: %s\n", path, dlerror());
            return false;
        }
        auto init = reinterpret_cast<ember_plugin_init_fn>(dlsym(handle_, "ember_plugin_init"));
        host_.struct_size = sizeof host_;
        host_.abi_min = host_.abi_max = EMBER_PLUGIN_ABI_VERSION;
        host_.log = host_log;
        host_.set_error = host_set_error;
        std::memset(&api, 0, sizeof api);
        if (!init || init(&host_, &api) != EMBER_OK) {
            std::printf("init failed: %s\n", g_error.c_str());
            return false;
        }
        return true;
    }
    ~Plugin() {
        if (api.destroy) api.destroy(api.ctx);
        if (handle_) dlclose(handle_);
    }
    ember_plugin_api api{};

private:
    void *handle_ = nullptr;
    ember_host_api host_{};
};

// The C description of a case (what core/session.cc builds).
struct Described {
    std::vector<std::vector<ember_plugin_value>> ins, outs;
    std::vector<std::vector<ember_plugin_attr>> attrs;
    std::vector<ember_plugin_node> nodes;
    std::vector<ember_plugin_value> sg_in, sg_out;
    std::vector<std::string> sg_in_names;
    ember_plugin_subgraph sg{};
};

ember_plugin_value describe_value(Case &c, const std::string &name) {
    const Tensor &t = c.vals.at(name);
    return ember_plugin_value{name.c_str(), EMBER_DTYPE_FLOAT32, t.dims.size(), t.dims.data(),
                              t.constant ? t.data.data() : nullptr};
}

void describe(Case &c, Described *d) {
    d->ins.resize(c.nodes.size());
    d->outs.resize(c.nodes.size());
    d->attrs.resize(c.nodes.size());
    std::map<std::string, int> produced;
    for (size_t k = 0; k < c.nodes.size(); k++) {
        Node &n = c.nodes[k];
        for (const std::string &i : n.ins) {
            d->ins[k].push_back(describe_value(c, i));
            if (!produced.count(i) && std::find(d->sg_in_names.begin(), d->sg_in_names.end(), i) == d->sg_in_names.end())
                d->sg_in_names.push_back(i);
        }
        for (const std::string &o : n.outs) {
            d->outs[k].push_back(describe_value(c, o));
            produced[o] = 1;
        }
        for (Attr &a : n.attrs) {
            ember_plugin_attr pa{};
            pa.name = a.name.c_str();
            pa.type = a.type;
            pa.i = a.i;
            pa.f = a.f;
            pa.s = a.s.c_str();
            pa.count = a.ints.size();
            pa.ints = a.ints.data();
            d->attrs[k].push_back(pa);
        }
    }
    for (size_t k = 0; k < c.nodes.size(); k++) {
        ember_plugin_node pn{};
        pn.name = c.nodes[k].outs[0].c_str();
        pn.op_type = c.nodes[k].op.c_str();
        pn.domain = "";
        pn.n_inputs = d->ins[k].size();
        pn.inputs = d->ins[k].data();
        pn.n_outputs = d->outs[k].size();
        pn.outputs = d->outs[k].data();
        pn.n_attrs = d->attrs[k].size();
        pn.attrs = d->attrs[k].data();
        d->nodes.push_back(pn);
    }
    for (const std::string &i : d->sg_in_names) d->sg_in.push_back(describe_value(c, i));
    for (const std::string &o : c.outputs) d->sg_out.push_back(describe_value(c, o));
    d->sg.n_nodes = d->nodes.size();
    d->sg.nodes = d->nodes.data();
    d->sg.n_inputs = d->sg_in.size();
    d->sg.inputs = d->sg_in.data();
    d->sg.n_outputs = d->sg_out.size();
    d->sg.outputs = d->sg_out.data();
    d->sg.num_threads = c.threads;
}

void run_case(Plugin &p, Case &c) {
    reference(c);
    Described d;
    describe(c, &d);
    for (const ember_plugin_node &n : d.nodes)
        CHECK(p.api.supports(p.api.ctx, &n) == 1, "%s: node %s (%s) not supported", c.name, n.name, n.op_type);
    void *compiled = nullptr;
    CHECK(p.api.compile(p.api.ctx, &d.sg, &compiled) == EMBER_OK, "%s: compile: %s", c.name, g_error.c_str());
    std::vector<ember_plugin_tensor> ins, outs;
    for (const std::string &i : d.sg_in_names) {
        Tensor &t = c.vals.at(i);
        ins.push_back(ember_plugin_tensor{EMBER_DTYPE_FLOAT32, t.dims.size(), t.dims.data(), t.data.data()});
    }
    std::vector<std::vector<float>> got(c.outputs.size());
    for (size_t o = 0; o < c.outputs.size(); o++) {
        Tensor &t = c.vals.at(c.outputs[o]);
        got[o].assign(t.data.size(), NAN);
        outs.push_back(ember_plugin_tensor{EMBER_DTYPE_FLOAT32, t.dims.size(), t.dims.data(), got[o].data()});
    }
    for (int rep = 0; rep < 2; rep++) {  // compiled once, run twice
        ember_status st = p.api.execute(p.api.ctx, compiled, ins.data(), ins.size(), outs.data(), outs.size());
        if (st != EMBER_OK) {
            p.api.release(p.api.ctx, compiled);
            CHECK(false, "%s: execute: %s", c.name, g_error.c_str());
        }
        for (size_t o = 0; o < c.outputs.size(); o++) {
            const std::vector<float> &want = c.vals.at(c.outputs[o]).data;
            double rmax = 0, worst = 0;
            size_t at = 0;
            for (float v : want) rmax = std::max(rmax, double(std::fabs(v)));
            for (size_t i = 0; i < want.size(); i++) {
                double e = std::fabs(double(got[o][i]) - want[i]);
                if (!(e <= worst)) { worst = std::isnan(e) ? INFINITY : e; at = i; }
            }
            if (!(worst <= 1e-4 * rmax + 1e-5)) {
                p.api.release(p.api.ctx, compiled);
                CHECK(false, "%s: output %s: max |diff| %.3g at %zu (got %.7g, want %.7g)", c.name,
                      c.outputs[o].c_str(), worst, at, got[o][at], want[at]);
            }
        }
    }
    p.api.release(p.api.ctx, compiled);
    std::printf("ok   %s\n", c.name);
}

void add_bn(Case &c, const std::string &x, const std::string &y, int64_t ch) {
    c.constant(y + ".scale", {ch});
    c.constant(y + ".shift", {ch});
    c.constant(y + ".mean", {ch}, 0.5f);
    Tensor &var = c.constant(y + ".var", {ch});
    for (float &v : var.data) v = std::fabs(v) + 0.1f;
    c.node("BatchNormalization", {x, y + ".scale", y + ".shift", y + ".mean", y + ".var"}, {y}, {af("epsilon", 1e-3f)});
}

// ---- cases ----

void cases(Plugin &p) {
    {
        Case c{"conv+bn+relu (bn folded, relu post-op)"};
        c.input("x", {2, 3, 9, 11});
        c.constant("w", {8, 3, 3, 3}, 0.5f);
        c.constant("b", {8});
        c.node("Conv", {"x", "w", "b"}, {"c"}, {aints("pads", {1, 1, 1, 1})});
        add_bn(c, "c", "bn", 8);
        c.node("Relu", {"bn"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"conv+mul+add per channel+clip (folded, clip post-op)"};
        c.input("x", {1, 4, 8, 8});
        c.constant("w", {6, 4, 1, 1});
        c.constant("m", {6, 1, 1});
        c.constant("a", {1, 6, 1, 1});
        c.constant("lo", {}, 0.f).data = {0.f};
        c.constant("hi", {}, 0.f).data = {0.4f};
        c.node("Conv", {"x", "w"}, {"c"});
        c.node("Mul", {"c", "m"}, {"cm"});
        c.node("Add", {"a", "cm"}, {"ca"});
        c.node("Clip", {"ca", "lo", "hi"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    for (int threads = 1; threads <= 2; threads++) {
        Case c{threads == 1 ? "residual block, residual copied (subgraph input), 1 thread"
                            : "residual block, residual copied (subgraph input), 2 threads"};
        c.threads = threads;
        c.input("x", {1, 16, 10, 10});
        c.constant("w1", {16, 16, 3, 3}, 0.2f);
        c.constant("w2", {16, 16, 3, 3}, 0.2f);
        c.node("Conv", {"x", "w1"}, {"c1"}, {aints("pads", {1, 1, 1, 1})});
        add_bn(c, "c1", "b1", 16);
        c.node("Relu", {"b1"}, {"r1"});
        c.node("Conv", {"r1", "w2"}, {"c2"}, {aints("pads", {1, 1, 1, 1})});
        add_bn(c, "c2", "b2", 16);
        c.node("Add", {"b2", "x"}, {"s"});
        c.node("Relu", {"s"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        // The residual is read by the sum's own convolution: it must be copied.
        Case c{"residual read by the fused convolution itself"};
        c.input("x", {1, 8, 7, 7});
        c.constant("w0", {16, 8, 1, 1});
        c.constant("w1", {16, 16, 3, 3}, 0.3f);
        c.node("Conv", {"x", "w0"}, {"c0"});
        c.node("Relu", {"c0"}, {"a"});
        c.node("Conv", {"a", "w1"}, {"c1"}, {aints("pads", {1, 1, 1, 1})});
        c.node("Add", {"a", "c1"}, {"s"});
        c.node("Sigmoid", {"s"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        // The residual has no reader after the block: its buffer takes the sum.
        Case c{"residual block, residual overwritten in place"};
        c.input("x", {1, 8, 7, 7});
        c.constant("w0", {16, 8, 1, 1});
        c.constant("w1", {16, 16, 3, 3}, 0.3f);
        c.constant("w2", {16, 16, 3, 3}, 0.3f);
        c.node("Conv", {"x", "w0"}, {"c0"});
        c.node("Relu", {"c0"}, {"a"});
        c.node("Conv", {"a", "w1"}, {"c1"}, {aints("pads", {1, 1, 1, 1})});
        c.node("Relu", {"c1"}, {"b"});
        c.node("Conv", {"b", "w2"}, {"c2"}, {aints("pads", {1, 1, 1, 1})});
        c.node("Add", {"a", "c2"}, {"s"});
        c.node("Sigmoid", {"s"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"fused chain with a value leaving the subgraph midway"};
        c.input("x", {1, 3, 6, 6});
        c.constant("w", {5, 3, 3, 3});
        c.node("Conv", {"x", "w"}, {"c"}, {aints("pads", {1, 1, 1, 1})});
        c.node("Relu", {"c"}, {"r"});
        c.node("Sigmoid", {"r"}, {"y"});
        c.outputs = {"r", "y"};
        run_case(p, c);
    }
    {
        Case c{"depthwise, dilated, strided, asymmetric pads"};
        c.input("x", {1, 12, 13, 11});
        c.constant("w", {12, 1, 3, 3});
        c.constant("b", {12});
        c.node("Conv", {"x", "w", "b"}, {"y"},
               {ai("group", 12), aints("dilations", {2, 1}), aints("strides", {2, 1}), aints("pads", {2, 0, 1, 1})});
        c.outputs = {"y"};
        run_case(p, c);
    }
    for (int64_t stride : {1, 2}) {
        // Batch > 1: the depthwise convolution and its clip become a post-op of the 1x1
        // (append_dw; oneDNN's JIT kernel for it at this size, checked in ONEDNN_VERBOSE:
        // jit_1x1 with attr-post-ops eltwise_clip+dw:k3s1p1 / k3s2p1+eltwise_clip).
        Case c{stride == 1 ? "1x1 + clip + depthwise 3x3 + clip fused, batch 8"
                           : "1x1 + clip + depthwise 3x3 stride 2 + clip fused, batch 8"};
        c.input("x", {8, 24, 28, 28});
        c.constant("w", {144, 24, 1, 1}, 0.5f);
        c.constant("b", {144});
        c.constant("dw", {144, 1, 3, 3});
        c.constant("db", {144});
        c.constant("lo", {}, 0.f).data = {0.f};
        c.constant("hi", {}, 0.f).data = {6.f};
        c.node("Conv", {"x", "w", "b"}, {"c"});
        c.node("Clip", {"c", "lo", "hi"}, {"r"});
        c.node("Conv", {"r", "dw", "db"}, {"d"},
               {ai("group", 144), aints("pads", {1, 1, 1, 1}), aints("strides", {stride, stride})});
        c.node("Clip", {"d", "lo", "hi"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"auto_pad SAME_LOWER, stride 2"};
        c.input("x", {1, 3, 8, 7});
        c.constant("w", {4, 3, 4, 4}, 0.5f);
        c.node("Conv", {"x", "w"}, {"y"}, {as("auto_pad", "SAME_LOWER"), aints("strides", {2, 2})});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"grouped conv with computed (non-constant) weights"};
        c.input("x", {1, 8, 6, 6});
        c.input("w", {4, 4, 3, 3});
        c.input("b", {4});
        c.node("Conv", {"x", "w", "b"}, {"y"}, {ai("group", 2), aints("pads", {1, 1, 1, 1})});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"two convs into a concat"};
        c.input("x", {1, 8, 5, 5});
        c.constant("wa", {16, 8, 1, 1});
        c.constant("wb", {16, 8, 3, 3}, 0.3f);
        c.node("Conv", {"x", "wa"}, {"ca"});
        c.node("Relu", {"ca"}, {"ra"});
        c.node("Conv", {"x", "wb"}, {"cb"}, {aints("pads", {1, 1, 1, 1})});
        c.node("Relu", {"cb"}, {"rb"});
        c.node("Concat", {"ra", "rb"}, {"y"}, {ai("axis", 1)});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        // Operators that follow their source's layout (blocked after a convolution).
        Case c{"conv (computed weights) into standalone bn, lrn, ceil max pool, mul, global pool"};
        c.input("x", {2, 16, 11, 11});
        c.input("w", {32, 16, 3, 3}, 0.3f);
        c.node("Conv", {"x", "w"}, {"c"}, {aints("pads", {1, 1, 1, 1})});
        add_bn(c, "c", "bn", 32);
        c.node("LRN", {"bn"}, {"l"}, {ai("size", 5)});
        c.node("MaxPool", {"l"}, {"p"}, {aints("kernel_shape", {3, 3}), aints("strides", {2, 2}), ai("ceil_mode", 1)});
        c.node("Mul", {"p", "p"}, {"q"});
        c.node("GlobalAveragePool", {"q"}, {"y"});
        c.outputs = {"p", "y"};
        run_case(p, c);
    }
    {
        Case c{"matmul + bias add + relu"};
        c.input("x", {5, 7});
        c.constant("w", {7, 3});
        c.constant("b", {3});
        c.node("MatMul", {"x", "w"}, {"m"});
        c.node("Add", {"m", "b"}, {"a"});
        c.node("Relu", {"a"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        // Weights shared by the batch: run as one [4*3, 7] x [7, 5] product, with the bias,
        // a residual sum and an activation fused.
        Case c{"rank-3 matmul with 2-D weights + bias + residual + relu"};
        c.input("x", {4, 3, 7});
        c.input("r", {4, 3, 5});
        c.constant("w", {7, 5});
        c.constant("b", {5});
        c.node("MatMul", {"x", "w"}, {"m"});
        c.node("Add", {"b", "m"}, {"a"});
        c.node("Add", {"a", "r"}, {"s"});
        c.node("Relu", {"s"}, {"y"});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"layer normalization, last axis, scale and bias; then over two axes, scale only"};
        c.input("x", {2, 5, 16});
        c.constant("g", {16});
        c.constant("b", {16});
        c.constant("g2", {5, 16});
        c.node("LayerNormalization", {"x", "g", "b"}, {"y"});
        c.node("LayerNormalization", {"y", "g2"}, {"z"}, {ai("axis", 1), af("epsilon", 1e-3f)});
        c.outputs = {"y", "z"};
        run_case(p, c);
    }
    {
        Case c{"gemm transA transB alpha beta, constant C"};
        c.input("a", {6, 4});
        c.constant("b", {5, 6});
        c.constant("cc", {4, 1});
        c.node("Gemm", {"a", "b", "cc"}, {"y"}, {ai("transA", 1), ai("transB", 1), af("alpha", 0.5f), af("beta", 2.f)});
        c.outputs = {"y"};
        run_case(p, c);
    }
    {
        Case c{"gemm alpha with computed B, no C"};
        c.input("a", {3, 4});
        c.input("b", {4, 2});
        c.node("Gemm", {"a", "b"}, {"y"}, {af("alpha", -1.5f)});
        c.outputs = {"y"};
        run_case(p, c);
    }
}

// Half tensors at the edges: every float16 bit pattern through Neg (widened to float32,
// negated, rounded back) comes back with only its sign flipped, zeros included; NaN
// stays NaN.
void half_edges(Plugin &p) {
    Dims d = {65536};
    ember_plugin_value x{"x", EMBER_DTYPE_FLOAT16, 1, d.data(), nullptr};
    ember_plugin_value y{"y", EMBER_DTYPE_FLOAT16, 1, d.data(), nullptr};
    ember_plugin_node n{"neg", "Neg", "", 1, &x, 1, &y, 0, nullptr};
    CHECK(p.api.supports(p.api.ctx, &n) == 1, "float16 Neg not supported");
    ember_plugin_subgraph sg{};
    sg.n_nodes = 1;
    sg.nodes = &n;
    sg.n_inputs = 1;
    sg.inputs = &x;
    sg.n_outputs = 1;
    sg.outputs = &y;
    sg.num_threads = 2;
    void *compiled = nullptr;
    CHECK(p.api.compile(p.api.ctx, &sg, &compiled) == EMBER_OK, "compile float16 Neg: %s", g_error.c_str());
    std::vector<uint16_t> in(65536), out(65536, 0);
    for (size_t i = 0; i < in.size(); i++) in[i] = uint16_t(i);
    ember_plugin_tensor ti{EMBER_DTYPE_FLOAT16, 1, d.data(), in.data()}, to{EMBER_DTYPE_FLOAT16, 1, d.data(), out.data()};
    ember_status st = p.api.execute(p.api.ctx, compiled, &ti, 1, &to, 1);
    p.api.release(p.api.ctx, compiled);
    CHECK(st == EMBER_OK, "execute float16 Neg: %s", g_error.c_str());
    for (size_t i = 0; i < in.size(); i++) {
        bool nan = (i & 0x7c00) == 0x7c00 && (i & 0x3ff) != 0;
        bool ok = nan ? ((out[i] & 0x7c00) == 0x7c00 && (out[i] & 0x3ff) != 0) : out[i] == (in[i] ^ 0x8000);
        CHECK(ok, "float16 0x%04zx: Neg gave 0x%04x", i, out[i]);
    }
    std::printf("ok   float16 edges: 65536 values through Neg\n");
}

void error_paths(Plugin &p) {
    // supports(): float only, exact attributes.
    {
        Dims d = {2, 3};
        ember_plugin_value v{"x", EMBER_DTYPE_INT64, 2, d.data(), nullptr};
        ember_plugin_value ins[2] = {v, v};
        ember_plugin_value out = v;
        out.name = "y";
        ember_plugin_node n{"add", "Add", "", 2, ins, 1, &out, 0, nullptr};
        CHECK(p.api.supports(p.api.ctx, &n) == 0, "int64 Add claimed");
        ember_plugin_attr tm{};
        tm.name = "training_mode";
        tm.type = EMBER_ATTR_INT;
        tm.i = 1;
        Dims c = {3};
        ember_plugin_value x{"x", EMBER_DTYPE_FLOAT32, 2, d.data(), nullptr};
        ember_plugin_value pv{"p", EMBER_DTYPE_FLOAT32, 1, c.data(), nullptr};
        ember_plugin_value bins[5] = {x, pv, pv, pv, pv};
        ember_plugin_value bout{"y", EMBER_DTYPE_FLOAT32, 2, d.data(), nullptr};
        ember_plugin_node bn{"bn", "BatchNormalization", "", 5, bins, 1, &bout, 1, &tm};
        CHECK(p.api.supports(p.api.ctx, &bn) == 0, "training-mode BatchNormalization claimed");
        ember_plugin_node other{"r", "Relu", "com.example", 1, &x, 1, &bout, 0, nullptr};
        CHECK(p.api.supports(p.api.ctx, &other) == 0, "an operator of another domain claimed");
    }
    // compile(): a node the plugin does not run is an error with a message, not a crash.
    {
        Dims d = {4};
        ember_plugin_value x{"x", EMBER_DTYPE_FLOAT32, 1, d.data(), nullptr};
        ember_plugin_value y{"y", EMBER_DTYPE_FLOAT32, 1, d.data(), nullptr};
        ember_plugin_node n{"n", "Floor", "", 1, &x, 1, &y, 0, nullptr};
        ember_plugin_subgraph sg{};
        sg.n_nodes = 1;
        sg.nodes = &n;
        sg.n_inputs = 1;
        sg.inputs = &x;
        sg.n_outputs = 1;
        sg.outputs = &y;
        sg.num_threads = 1;
        void *compiled = nullptr;
        g_error.clear();
        CHECK(p.api.compile(p.api.ctx, &sg, &compiled) != EMBER_OK, "compile accepted a Floor node");
        CHECK(!g_error.empty(), "compile failed without a message");
        std::printf("ok   compile error: %s\n", g_error.c_str());
    }
    // execute(): wrong tensor counts and shapes are errors.
    {
        Dims d = {4}, d5 = {5};
        ember_plugin_value x{"x", EMBER_DTYPE_FLOAT32, 1, d.data(), nullptr};
        ember_plugin_value y{"y", EMBER_DTYPE_FLOAT32, 1, d.data(), nullptr};
        ember_plugin_node n{"n", "Relu", "", 1, &x, 1, &y, 0, nullptr};
        ember_plugin_subgraph sg{};
        sg.n_nodes = 1;
        sg.nodes = &n;
        sg.n_inputs = 1;
        sg.inputs = &x;
        sg.n_outputs = 1;
        sg.outputs = &y;
        sg.num_threads = 1;
        void *compiled = nullptr;
        CHECK(p.api.compile(p.api.ctx, &sg, &compiled) == EMBER_OK, "compile Relu: %s", g_error.c_str());
        float a[5] = {-1, 2, -3, 4, 5}, b[5];
        ember_plugin_tensor ti{EMBER_DTYPE_FLOAT32, 1, d.data(), a}, to{EMBER_DTYPE_FLOAT32, 1, d.data(), b};
        ember_plugin_tensor bad{EMBER_DTYPE_FLOAT32, 1, d5.data(), a};
        bool ok = p.api.execute(p.api.ctx, compiled, &ti, 1, &to, 1) == EMBER_OK && b[0] == 0 && b[1] == 2;
        bool wrong_count = p.api.execute(p.api.ctx, compiled, &ti, 1, &to, 0) != EMBER_OK;
        bool wrong_shape = p.api.execute(p.api.ctx, compiled, &bad, 1, &to, 1) != EMBER_OK;
        p.api.release(p.api.ctx, compiled);
        CHECK(ok, "Relu gave wrong values");
        CHECK(wrong_count && wrong_shape, "execute accepted wrong tensors");
        std::printf("ok   execute errors\n");
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::printf("usage: test_onednn_abi PATH/libember-onednn.so\n");
        return 2;
    }
    {
        Plugin p;
        if (!p.load(argv[1])) return 1;
        cases(p);
        half_edges(p);
        error_paths(p);
    }
    std::printf("%s: %d failure(s)\n", g_failures ? "FAILED" : "passed", g_failures);
    return g_failures ? 1 : 0;
}
