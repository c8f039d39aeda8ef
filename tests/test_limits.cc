// test_limits.cc — absurd sizes are refused with a clear status before anything is
// allocated, never with std::bad_alloc, an "out of memory" from a failed allocation or a
// crash.
//
//   - a model whose input declares [2^20, 2^20, 2^20] (2^60 elements): session create
//     fails with EMBER_ERR_SHAPE naming the input and its shape; so does one whose dims
//     multiply past int64 ([2^40, 2^40], each dim alone valid in the format), one whose
//     graph input is also its output (no node to infer), and one with a symbolic batch
//     run on an empty batch;
//   - shapes computed at plan time from an input's values (Expand to a shape fed at run
//     time): 2^60 elements is EMBER_ERR_SHAPE; 2^40 elements (4 TiB) under a 1 GiB
//     max_arena_bytes is EMBER_ERR_OUT_OF_MEMORY with both figures, before allocating;
//     the session then still runs a sane shape;
//   - a constant folded at plan time (Range 0..2^38) over the cap is refused the same way;
//   - Pad and Resize to an empty output beside a 2^34 dim run without building tables;
//   - SqueezeNet under a small max_arena_bytes is refused at create with the figure; a
//     cap equal to its arena is accepted, one byte less is not.
// The models are built in memory with the formats writer and loaded through the C API.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "api/ember.h"
#include "formats/ember_format.h"

using namespace ember;

namespace {

ember_runtime *g_rt;

struct Loaded {
    ember_model *model = nullptr;
    ~Loaded() { ember_model_release(model); }
};

void set_shape(Graph &g, int32_t v, const Shape &s) {
    g.values[v].has_shape = true;
    g.values[v].shape = s;
    g.values[v].dim_names.assign(s.size(), "");
}

Node make_node(const char *name, const char *op, std::vector<int32_t> in, std::vector<int32_t> out) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

// Writes `g` and loads it through ember_model_load_memory.
void load(const Graph &g, Loaded *out) {
    std::vector<uint8_t> bytes;
    Status st = write_ember(g, &bytes);
    if (!st.ok()) fail_msg("write_ember: %s", st.message().c_str());
    if (ember_model_load_memory(g_rt, bytes.data(), bytes.size(), nullptr, &out->model) != EMBER_OK)
        fail_msg("load: %s", ember_last_error());
}

// x (float32, `shape`) -> Relu -> y
Graph relu_graph(const Shape &shape) {
    Graph g;
    int32_t x = g.add_value("x", DType::F32);
    set_shape(g, x, shape);
    int32_t y = g.add_value("y", DType::F32);
    set_shape(g, y, shape);
    g.nodes.push_back(make_node("relu", "Relu", {x}, {y}));
    g.inputs = {x};
    g.outputs = {y};
    return g;
}

void expect_create_fails(ember_model *m, const ember_session_options *so, ember_status want,
                         const std::vector<const char *> &mentions, const char *what) {
    ember_session *s = nullptr;
    ember_status st = ember_session_create(m, so, &s);
    if (st != want)
        fail_msg("%s: session create gave %s (%s), want %s", what, ember_status_string(st),
                 ember_last_error(), ember_status_string(want));
    assert_null(s);
    for (const char *w : mentions)
        if (!std::strstr(ember_last_error(), w))
            fail_msg("%s: message '%s' does not mention '%s'", what, ember_last_error(), w);
    printf("%s: %s\n", what, ember_last_error());
}

int setup(void **) {
    ember_runtime_options o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.num_threads = 2;
    return ember_runtime_create(&o, &g_rt) == EMBER_OK ? 0 : -1;
}

int teardown(void **) { return ember_runtime_release(g_rt) == EMBER_OK ? 0 : -1; }

void test_gigantic_fixed_input(void **) {
    const int64_t M = int64_t(1) << 20;
    {
        Loaded l;
        load(relu_graph({M, M, M}), &l);
        expect_create_fails(l.model, nullptr, EMBER_ERR_SHAPE, {"'x'", "[1048576,1048576,1048576]"},
                            "input [2^20,2^20,2^20]");
    }
    {
        // Each dim is within the format's 2^40 limit; the product overflows int64.
        const int64_t T = int64_t(1) << 40;
        Loaded l;
        load(relu_graph({T, T}), &l);
        expect_create_fails(l.model, nullptr, EMBER_ERR_SHAPE, {"'x'"}, "input [2^40,2^40]");
    }
    {
        // No node infers anything: the input is copied straight to the output.
        Graph g;
        int32_t x = g.add_value("x", DType::F32);
        set_shape(g, x, {M, M, M});
        g.inputs = {x};
        g.outputs = {x};
        Loaded l;
        load(g, &l);
        expect_create_fails(l.model, nullptr, EMBER_ERR_SHAPE, {"'x'"}, "input = output [2^20,2^20,2^20]");
    }
}

void test_gigantic_symbolic_input(void **) {
    const int64_t M = int64_t(1) << 20;
    Loaded l;
    load(relu_graph({-1, M, M, M}), &l);
    ember_session *s = nullptr;
    assert_int_equal(ember_session_create(l.model, nullptr, &s), EMBER_OK);  // plans at run
    // An empty batch is a tensor the caller can make; the plan must still refuse the
    // declared rows' size or run on nothing, without allocating for 2^60 elements.
    int64_t dims[4] = {0, M, M, M};
    ember_tensor *t = nullptr;
    assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_FLOAT32, dims, 4, nullptr, 0, &t), EMBER_OK);
    const ember_tensor *ins[1] = {t};
    ember_status st = ember_session_run(s, ins, 1);
    if (st != EMBER_OK && st != EMBER_ERR_SHAPE)
        fail_msg("empty batch: %s (%s)", ember_status_string(st), ember_last_error());
    printf("empty batch of [-1,2^20,2^20,2^20]: %s %s\n", ember_status_string(st), ember_last_error());
    // A batch of one cannot even be made: the tensor itself is refused.
    dims[0] = 1;
    ember_tensor *big = nullptr;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 4, &big), EMBER_ERR_INVALID_ARGUMENT);
    ember_tensor_release(t);
    ember_session_release(s);
}

// y = Expand(one, shape): the output shape is the run-time value of input `shape`.
void test_shape_from_input_values(void **) {
    Graph g;
    float one = 1.0f;
    int32_t c = g.add_constant("one", DType::F32, {1}, &one, sizeof one);
    int32_t shape = g.add_value("shape", DType::I64);
    set_shape(g, shape, {3});
    int32_t y = g.add_value("y", DType::F32);
    g.nodes.push_back(make_node("expand", "Expand", {c, shape}, {y}));
    g.inputs = {shape};
    g.outputs = {y};
    Loaded l;
    load(g, &l);
    ember_session_options so;
    std::memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.max_arena_bytes = int64_t(1) << 30;
    ember_session *s = nullptr;
    assert_int_equal(ember_session_create(l.model, &so, &s), EMBER_OK);
    int64_t vals[3];
    int64_t dims[1] = {3};
    ember_tensor *t = nullptr;
    assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_INT64, dims, 1, vals, sizeof vals, &t), EMBER_OK);
    const ember_tensor *ins[1] = {t};

    const int64_t M = int64_t(1) << 20;
    vals[0] = M, vals[1] = M, vals[2] = M;  // 2^60 elements
    ember_status st = ember_session_run(s, ins, 1);
    if (st != EMBER_ERR_SHAPE) fail_msg("2^60: %s (%s)", ember_status_string(st), ember_last_error());
    assert_non_null(std::strstr(ember_last_error(), "[1048576,1048576,1048576]"));
    printf("Expand to 2^60 elements: %s\n", ember_last_error());

    vals[0] = int64_t(1) << 14, vals[1] = int64_t(1) << 14, vals[2] = int64_t(1) << 12;  // 2^40: 4 TiB
    st = ember_session_run(s, ins, 1);
    if (st != EMBER_ERR_OUT_OF_MEMORY)
        fail_msg("2^40 under a 1 GiB cap: %s (%s)", ember_status_string(st), ember_last_error());
    printf("Expand to 2^40 elements: %s\n", ember_last_error());
    assert_non_null(std::strstr(ember_last_error(), "1073741824"));

    vals[0] = 2, vals[1] = 3, vals[2] = 4;  // still usable
    assert_int_equal(ember_session_run(s, ins, 1), EMBER_OK);
    const ember_tensor *out = nullptr;
    assert_int_equal(ember_session_output(s, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_element_count(out), 24);
    ember_tensor_release(t);
    ember_session_release(s);
}

// An empty output beside an enormous dim ([1, 3, 0, 2^34]): Pad and Resize build
// per-dim source tables a dim long, which would be 128 GiB here; an empty output must
// build none and run (found by fuzz_ember_file for Pad).
void test_empty_output_with_huge_dim(void **) {
    const int64_t big = (int64_t(1) << 34) + 5;
    for (const char *op : {"Pad", "Resize"}) {
        Graph g;
        int32_t x = g.add_value("x", DType::F32);
        set_shape(g, x, {1, 3, 0, big});
        int32_t v = g.add_value(std::strcmp(op, "Pad") == 0 ? "pads" : "sizes", DType::I64);
        set_shape(g, v, {std::strcmp(op, "Pad") == 0 ? 8 : 4});
        int32_t y = g.add_value("y", DType::F32);
        if (std::strcmp(op, "Pad") == 0)
            g.nodes.push_back(make_node("pad", "Pad", {x, v}, {y}));
        else
            g.nodes.push_back(make_node("resize", "Resize", {x, -1, -1, v}, {y}));
        g.inputs = {x, v};
        g.outputs = {y};
        Loaded l;
        load(g, &l);
        ember_session *s = nullptr;
        assert_int_equal(ember_session_create(l.model, nullptr, &s), EMBER_OK);
        int64_t xdims[4] = {1, 3, 0, big};
        ember_tensor *tx = nullptr;
        assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, xdims, 4, &tx), EMBER_OK);
        int64_t vals[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (std::strcmp(op, "Resize") == 0) vals[0] = 1, vals[1] = 3, vals[2] = 0, vals[3] = big;
        int64_t vdims[1] = {std::strcmp(op, "Pad") == 0 ? 8 : 4};
        ember_tensor *tv = nullptr;
        assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_INT64, vdims, 1, vals, vdims[0] * 8, &tv), EMBER_OK);
        const ember_tensor *ins[2] = {tx, tv};
        ember_status st = ember_session_run(s, ins, 2);
        if (st != EMBER_OK) fail_msg("%s to [1,3,0,2^34]: %s (%s)", op, ember_status_string(st), ember_last_error());
        const ember_tensor *out = nullptr;
        assert_int_equal(ember_session_output(s, 0, &out), EMBER_OK);
        assert_int_equal(ember_tensor_element_count(out), 0);
        ember_tensor_release(tx);
        ember_tensor_release(tv);
        ember_session_release(s);
    }
}

// A constant computed while planning (Range over constants) counts against the cap too.
void test_folded_constant_over_cap(void **) {
    Graph g;
    int64_t start = 0, limit = int64_t(1) << 38, delta = 1;  // 2^38 int64: 2 TiB
    int32_t a = g.add_constant("start", DType::I64, {}, &start, 8);
    int32_t b = g.add_constant("limit", DType::I64, {}, &limit, 8);
    int32_t d = g.add_constant("delta", DType::I64, {}, &delta, 8);
    int32_t r = g.add_value("r", DType::I64);
    g.nodes.push_back(make_node("range", "Range", {a, b, d}, {r}));
    int32_t x = g.add_value("x", DType::I64);
    set_shape(g, x, {1});
    int32_t y = g.add_value("y", DType::I64);
    g.nodes.push_back(make_node("add", "Add", {r, x}, {y}));
    g.inputs = {x};
    g.outputs = {y};
    Loaded l;
    load(g, &l);
    ember_session_options so;
    std::memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.max_arena_bytes = int64_t(1) << 30;
    expect_create_fails(l.model, &so, EMBER_ERR_OUT_OF_MEMORY, {"1073741824", "range"},
                        "Range of 2^38 int64 at plan time");
}

void test_squeezenet_arena_cap(void **) {
    char path[1024];
    std::snprintf(path, sizeof path, "%s/models/squeezenet1.1-caffe2-fp32.ember", EMBER_BUILD_DIR);
    Loaded l;
    if (ember_model_load_file(g_rt, path, nullptr, &l.model) != EMBER_OK)
        fail_msg("%s", ember_last_error());
    ember_session_options so;
    std::memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.max_arena_bytes = 1 << 20;
    expect_create_fails(l.model, &so, EMBER_ERR_OUT_OF_MEMORY, {"1048576", "arena"},
                        "squeezenet under 1 MiB");
    // The exact figure is a sufficient cap; one byte less is not.
    ember_session *s = nullptr;
    assert_int_equal(ember_session_create(l.model, nullptr, &s), EMBER_OK);
    size_t arena = 0;
    assert_int_equal(ember_session_arena_bytes(s, &arena), EMBER_OK);
    ember_session_release(s);
    assert_true(arena > (1u << 20));
    so.max_arena_bytes = static_cast<int64_t>(arena);
    assert_int_equal(ember_session_create(l.model, &so, &s), EMBER_OK);
    ember_session_release(s);
    so.max_arena_bytes = static_cast<int64_t>(arena) - 1;
    std::string figure = std::to_string(arena);
    expect_create_fails(l.model, &so, EMBER_ERR_OUT_OF_MEMORY, {figure.c_str()},
                        "squeezenet one byte under its arena");
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gigantic_fixed_input),
        cmocka_unit_test(test_gigantic_symbolic_input),
        cmocka_unit_test(test_shape_from_input_values),
        cmocka_unit_test(test_empty_output_with_huge_dim),
        cmocka_unit_test(test_folded_constant_over_cap),
        cmocka_unit_test(test_squeezenet_arena_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
