// test_cuda_ops.cc — what the CUDA plugin claims and how it reads each node
// (cuda_ops.cc), checked on the host: no device, driver or CUDA library is needed, so
// this runs wherever the plugin builds (CI included).
//
// Each case builds one ember_plugin_node and checks node_supported() and the parsed
// parameters that compile() will use. A failure names the case and the values.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cuda_ops.h"

using namespace ember_cuda;

namespace {

int g_failures = 0;

#define CHECK(cond, ...)                                             \
    do {                                                             \
        if (!(cond)) {                                               \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            std::printf(__VA_ARGS__);                                \
            std::printf("\n");                                       \
            g_failures++;                                            \
        }                                                            \
    } while (0)

// A node under construction; every pointer it hands out stays valid while it lives.
struct NodeBuilder {
    std::string op;
    std::vector<std::vector<int64_t>> dims_in, dims_out;
    std::vector<ember_plugin_value> ins, outs;
    std::vector<std::string> names;
    std::vector<ember_plugin_attr> attrs;
    std::vector<std::vector<int64_t>> attr_ints;
    std::vector<std::vector<float>> consts;
    std::vector<std::vector<int64_t>> int_consts;
    ember_plugin_node node{};

    explicit NodeBuilder(const char *op_type) : op(op_type) {
        names.reserve(64);
        dims_in.reserve(16);
        dims_out.reserve(16);
        attr_ints.reserve(16);
        consts.reserve(16);
        int_consts.reserve(16);
    }
    // A float32 input; `constant` gives it (zero) data.
    NodeBuilder &in(std::vector<int64_t> d, bool constant = false, ember_dtype t = EMBER_DTYPE_FLOAT32) {
        dims_in.push_back(d);
        names.push_back("in" + std::to_string(ins.size()));
        ember_plugin_value v{};
        v.dtype = t;
        v.rank = d.size();
        if (constant) {
            size_t n = 1;
            for (int64_t x : d) n *= static_cast<size_t>(x);
            consts.emplace_back(n, 0.5f);
            v.constant_data = consts.back().data();
        }
        ins.push_back(v);
        return *this;
    }
    NodeBuilder &in_ints(std::vector<int64_t> values) {
        dims_in.push_back({static_cast<int64_t>(values.size())});
        names.push_back("in" + std::to_string(ins.size()));
        int_consts.push_back(values);
        ember_plugin_value v{};
        v.dtype = EMBER_DTYPE_INT64;
        v.rank = 1;
        v.constant_data = int_consts.back().data();
        ins.push_back(v);
        return *this;
    }
    NodeBuilder &out(std::vector<int64_t> d) {
        dims_out.push_back(d);
        names.push_back("out" + std::to_string(outs.size()));
        ember_plugin_value v{};
        v.dtype = EMBER_DTYPE_FLOAT32;
        v.rank = d.size();
        outs.push_back(v);
        return *this;
    }
    NodeBuilder &attr_i(const char *name, int64_t i) {
        ember_plugin_attr a{};
        a.name = name;
        a.type = EMBER_ATTR_INT;
        a.i = i;
        attrs.push_back(a);
        return *this;
    }
    NodeBuilder &attr_is(const char *name, std::vector<int64_t> v) {
        attr_ints.push_back(v);
        ember_plugin_attr a{};
        a.name = name;
        a.type = EMBER_ATTR_INTS;
        a.count = v.size();
        a.ints = attr_ints.back().data();
        attrs.push_back(a);
        return *this;
    }
    NodeBuilder &attr_s(const char *name, const char *s) {
        ember_plugin_attr a{};
        a.name = name;
        a.type = EMBER_ATTR_STRING;
        a.s = s;
        attrs.push_back(a);
        return *this;
    }
    const NodeView view() {
        size_t k = 0;
        for (size_t i = 0; i < ins.size(); i++) {
            ins[i].name = names[k++].c_str();
            ins[i].dims = dims_in[i].data();
        }
        for (size_t o = 0; o < outs.size(); o++) {
            outs[o].name = names[k++].c_str();
            outs[o].dims = dims_out[o].data();
        }
        node.name = "n";
        node.op_type = op.c_str();
        node.domain = "";
        node.n_inputs = ins.size();
        node.inputs = ins.data();
        node.n_outputs = outs.size();
        node.outputs = outs.data();
        node.n_attrs = attrs.size();
        node.attrs = attrs.data();
        return NodeView(&node);
    }
};

void test_conv() {
    {
        NodeBuilder b("Conv");
        b.in({1, 3, 8, 8}).in({16, 3, 3, 3}, true).in({16}, true).out({1, 16, 8, 8}).attr_is("pads", {1, 1, 1, 1});
        ConvSpec s;
        CHECK(parse_conv(b.view(), &s), "3x3 pad 1");
        CHECK(!s.pointwise() && !s.depthwise() && s.has_bias && s.pt == 1 && s.pb == 1, "3x3 fields");
    }
    {
        NodeBuilder b("Conv");
        b.in({1, 3, 8, 8}).in({16, 3, 3, 3}, true).out({1, 16, 7, 7}).attr_is("pads", {1, 1, 0, 0});
        ConvSpec s;
        CHECK(!parse_conv(b.view(), &s), "asymmetric pads on the cuDNN path are refused");
    }
    {
        NodeBuilder b("Conv");  // depthwise, SAME_UPPER, stride 2: pads 0 before, 1 after
        b.in({2, 8, 8, 8}).in({8, 1, 3, 3}, true).out({2, 8, 4, 4}).attr_i("group", 8).attr_s("auto_pad", "SAME_UPPER")
            .attr_is("strides", {2, 2});
        ConvSpec s;
        CHECK(parse_conv(b.view(), &s), "depthwise SAME_UPPER");
        CHECK(s.depthwise() && s.pt == 0 && s.pb == 1 && s.pl == 0 && s.pr == 1, "depthwise pads %d %d", s.pt, s.pb);
    }
    {
        NodeBuilder b("Conv");
        b.in({4, 32, 7, 7}).in({64, 32, 1, 1}, true).out({4, 64, 7, 7});
        ConvSpec s;
        CHECK(parse_conv(b.view(), &s) && s.pointwise(), "1x1 is pointwise");
    }
    {
        NodeBuilder b("Conv");  // computed weights: not here
        b.in({1, 3, 8, 8}).in({16, 3, 3, 3}).out({1, 16, 6, 6});
        CHECK(!node_supported(b.view()), "computed weights refused");
    }
    {
        NodeBuilder b("Conv");  // wrong output size
        b.in({1, 3, 8, 8}).in({16, 3, 3, 3}, true).out({1, 16, 8, 8});
        CHECK(!node_supported(b.view()), "output size must match the window");
    }
    {
        NodeBuilder b("Conv");  // 1-D
        b.in({1, 3, 8}).in({16, 3, 3}, true).out({1, 16, 6});
        CHECK(!node_supported(b.view()), "1-D convolution refused");
    }
}

void test_matmul() {
    {
        NodeBuilder b("MatMul");
        b.in({2, 3, 4, 5}).in({5, 6}, true).out({2, 3, 4, 6});
        MatMulSpec s;
        CHECK(parse_matmul(b.view(), &s), "shared B");
        CHECK(s.batch == 1 && s.m == 24 && s.k == 5 && s.n == 6, "folded: batch %lld m %lld", (long long)s.batch,
              (long long)s.m);
    }
    {
        NodeBuilder b("MatMul");
        b.in({2, 4, 5}).in({2, 5, 6}).out({2, 4, 6});
        MatMulSpec s;
        CHECK(parse_matmul(b.view(), &s) && s.batch == 2 && s.stride_a == 20 && s.stride_b == 30, "equal batches");
    }
    {
        NodeBuilder b("MatMul");
        b.in({4, 5}).in({3, 5, 6}).out({3, 4, 6});
        MatMulSpec s;
        CHECK(parse_matmul(b.view(), &s) && s.batch == 3 && s.stride_a == 0, "shared A");
    }
    {
        NodeBuilder b("MatMul");
        b.in({2, 1, 4, 5}).in({1, 3, 5, 6}).out({2, 3, 4, 6});
        CHECK(!node_supported(b.view()), "partial batch broadcast refused");
    }
    {
        NodeBuilder b("MatMul");
        b.in({5}).in({5, 6}).out({6});
        CHECK(!node_supported(b.view()), "1-D operand refused");
    }
    {
        NodeBuilder b("Gemm");
        b.in({8, 16}).in({32, 16}, true).in({32}, true).out({8, 32}).attr_i("transB", 1);
        MatMulSpec s;
        CHECK(parse_matmul(b.view(), &s), "Gemm transB with bias");
        CHECK(s.trans_b && s.m == 8 && s.n == 32 && s.k == 16 && s.has_c && s.c_dims == Dims({1, 32}), "Gemm fields");
    }
    {
        NodeBuilder b("Gemm");
        b.in({8, 16}).in({16, 32}, true).in({8, 2}, true).out({8, 32});
        CHECK(!node_supported(b.view()), "C not broadcastable refused");
    }
}

void test_pool_reduce() {
    {
        NodeBuilder b("MaxPool");  // 112 -> 56 with ceil_mode
        b.in({1, 8, 112, 112}).out({1, 8, 56, 56}).attr_is("kernel_shape", {3, 3}).attr_is("strides", {2, 2})
            .attr_i("ceil_mode", 1);
        PoolSpec s;
        CHECK(parse_pool(b.view(), &s) && s.p.max && s.p.oh == 56 && s.p.nc == 8, "MaxPool ceil");
    }
    {
        NodeBuilder b("AveragePool");
        b.in({1, 8, 8, 8}).out({1, 8, 8, 8}).attr_is("kernel_shape", {3, 3}).attr_is("pads", {1, 1, 1, 1})
            .attr_i("count_include_pad", 1);
        PoolSpec s;
        CHECK(parse_pool(b.view(), &s) && !s.p.max && s.p.count_include_pad && s.p.pt == 1, "AveragePool pads");
    }
    {
        NodeBuilder b("MaxPool");  // Indices output
        b.in({1, 8, 8, 8}).out({1, 8, 4, 4}).out({1, 8, 4, 4}).attr_is("kernel_shape", {2, 2})
            .attr_is("strides", {2, 2});
        CHECK(!node_supported(b.view()), "MaxPool with Indices refused");
    }
    {
        NodeBuilder b("GlobalAveragePool");
        b.in({2, 8, 7, 7}).out({2, 8, 1, 1});
        ReduceSpec s;
        CHECK(parse_reduce(b.view(), &s) && s.rows == 16 && s.cols == 49 && s.op == ReduceOp::Mean, "GAP");
    }
    {
        NodeBuilder b("ReduceMean");
        b.in({2, 3, 4}).out({2, 1, 4}).attr_is("axes", {1});
        CHECK(!node_supported(b.view()), "non-trailing reduction refused");
    }
    {
        NodeBuilder b("ReduceSum");
        b.in({2, 3, 4}).in_ints({-1, -2}).out({2, 1, 1});
        ReduceSpec s;
        CHECK(parse_reduce(b.view(), &s) && s.rows == 2 && s.cols == 12 && s.op == ReduceOp::Sum, "ReduceSum axes input");
    }
}

void test_elementwise() {
    {
        NodeBuilder b("Add");
        b.in({1, 3, 4, 4}).in({3, 1, 1}, true).out({1, 3, 4, 4});
        BinarySpec s;
        CHECK(parse_binary(b.view(), &s), "Add broadcast");
        CHECK(s.shape.rank == 4 && s.shape.a_strides[3] == 1 && s.shape.b_strides[1] == 1 && s.shape.b_strides[2] == 0 &&
                  s.shape.b_strides[0] == 0,
              "strides b %lld %lld %lld %lld", (long long)s.shape.b_strides[0], (long long)s.shape.b_strides[1],
              (long long)s.shape.b_strides[2], (long long)s.shape.b_strides[3]);
    }
    {
        NodeBuilder b("Clip");
        b.in({4, 4}).in({}, true).in({}, true).out({4, 4});
        Act a;
        CHECK(parse_act(b.view(), &a) && a.kind == ActKind::Clip && a.a == 0.5f && a.b == 0.5f, "Clip constants");
    }
    {
        NodeBuilder b("Relu");
        b.in({4, 4}, false, EMBER_DTYPE_INT64).out({4, 4});
        CHECK(!node_supported(b.view()), "integer Relu refused");
    }
    {
        NodeBuilder b("Gelu");
        b.in({4, 4}).out({4, 4}).attr_s("approximate", "tanh");
        Act a;
        CHECK(parse_act(b.view(), &a) && a.kind == ActKind::GeluTanh, "Gelu tanh");
    }
    {
        NodeBuilder b("Softmax");
        b.in({1, 1000, 1, 1}).out({1, 1000, 1, 1}).attr_i("axis", 1).attr_i("coerce_2d", 1);
        SoftmaxSpec s;
        CHECK(parse_softmax(b.view(), &s) && s.outer == 1 && s.axis == 1000 && s.inner == 1, "Softmax coerce_2d");
    }
    {
        NodeBuilder b("Softmax");
        b.in({2, 5, 3}).out({2, 5, 3}).attr_i("axis", 1);
        SoftmaxSpec s;
        CHECK(parse_softmax(b.view(), &s) && s.outer == 2 && s.axis == 5 && s.inner == 3, "Softmax middle axis");
    }
    {
        NodeBuilder b("Transpose");
        b.in({2, 3, 4, 5}).out({2, 4, 5, 3}).attr_is("perm", {0, 2, 3, 1});
        StridedShape s;
        CHECK(parse_transpose(b.view(), &s) && s.in_strides[0] == 60 && s.in_strides[1] == 5 && s.in_strides[2] == 1 &&
                  s.in_strides[3] == 20,
              "Transpose strides");
    }
    {
        NodeBuilder b("Concat");
        b.in({1, 16, 4, 4}).in({1, 32, 4, 4}).out({1, 48, 4, 4}).attr_i("axis", 1);
        ConcatSpec s;
        CHECK(parse_concat(b.view(), &s) && s.outer == 1 && s.out_row == 48 * 16 && s.in_rows[1] == 32 * 16, "Concat");
    }
    {
        NodeBuilder b("Reshape");
        b.in({1, 256, 1, 1}).in_ints({1, 256}).out({1, 256});
        CHECK(node_supported(b.view()), "Reshape is a view");
    }
    {
        NodeBuilder b("Dropout");  // the mask output (bool), as the converter keeps it
        b.in({1, 8, 2, 2}).out({1, 8, 2, 2}).out({1, 8, 2, 2});
        b.outs[1].dtype = EMBER_DTYPE_BOOL;
        CHECK(node_supported(b.view()), "Dropout with its mask is a view");
    }
    {
        NodeBuilder b("Identity");  // a second output on anything else: no
        b.in({4}).out({4}).out({4});
        CHECK(!node_supported(b.view()), "Identity with two outputs refused");
    }
    {
        NodeBuilder b("Resize");
        b.in({1, 3, 4, 4}).out({1, 3, 8, 8});
        CHECK(!node_supported(b.view()), "unknown operator refused");
    }
}

}  // namespace

int main() {
    test_conv();
    test_matmul();
    test_pool_reduce();
    test_elementwise();
    if (g_failures) {
        std::printf("test_cuda_ops: %d failure(s)\n", g_failures);
        return 1;
    }
    std::printf("test_cuda_ops: all passed\n");
    return 0;
}
