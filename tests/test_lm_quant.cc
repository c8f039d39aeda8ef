// test_lm_quant.cc — quantised language models end to end (docs/language-models.md,
// "Quantised weights"), on the real stories260K checkpoint.
//
// What it checks:
//   - `ember quantize` (run by the quantize_lm_models fixture) to Q8_0: greedy generation
//     from BOS follows the float32 golden ids (stories260K.golden.json) for at least the
//     first 64 tokens, and it says where it diverges; from "Once upon a time" likewise;
//   - Q4_0: runs, logits finite, and the drift against float32 (the same token history)
//     is bounded: the figures are printed for the docs;
//   - GGUF: stories260K-f32.gguf rewritten here as Q8_0 and as Q4_0 files (the 2-D weights
//     whose rows are whole blocks quantised, the others kept F32, as llama.cpp would if it
//     could) imports with its blocks kept, and gives the same logits as `ember quantize`
//     of the float32 model;
//   - the format: a q8_0 / q4_0 tensor round-trips through the writer and reader; wrong
//     byte size, a last dim that is not whole blocks, a non-float32 value, scales on a
//     block tensor are refused; a quantised constant fed to an op that does not read
//     blocks is refused by the planner, one fed to Linear runs.
// No timing here.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "api/ember.h"
#include "core/kernels/llm_quant.h"
#include "formats/ember_format.h"
#include "formats/lm_import.h"

using namespace ember;

#define LM_DIR EMBER_SHARED_DIR "/models/lm/"
#define MODELS EMBER_BUILD_DIR "/models/"

namespace {

// ---- helpers ----

std::string slurp(const char *path) {
    Bytes b;
    if (!read_file_bytes(path, &b).ok()) fail_msg("cannot read %s", path);
    return std::string(b->begin(), b->end());
}

// The int array after "key": in a golden JSON file.
std::vector<int32_t> json_ints(const std::string &s, const char *key) {
    std::vector<int32_t> out;
    size_t at = s.find(std::string("\"") + key + "\"");
    if (at == std::string::npos) fail_msg("no %s in the golden file", key);
    at = s.find('[', at);
    const size_t end = s.find(']', at);
    const char *p = s.c_str() + at + 1;
    while (p < s.c_str() + end) {
        char *q;
        long v = std::strtol(p, &q, 10);
        if (q == p) {
            p++;
            continue;
        }
        out.push_back(static_cast<int32_t>(v));
        p = q;
    }
    return out;
}

struct Lm {
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    ember_generator *gen = nullptr;
    explicit Lm(const std::string &path) {
        ember_runtime_options ro{};
        ro.struct_size = sizeof ro;
        ro.num_threads = 1;
        if (ember_runtime_create(&ro, &rt) != EMBER_OK ||
            ember_model_load_file(rt, path.c_str(), nullptr, &model) != EMBER_OK ||
            ember_session_create(model, nullptr, &session) != EMBER_OK ||
            ember_generator_create(session, nullptr, &gen) != EMBER_OK)
            fail_msg("%s: %s", path.c_str(), ember_last_error());
    }
    ~Lm() {
        ember_generator_release(gen);
        ember_session_release(session);
        ember_model_release(model);
        ember_runtime_release(rt);
    }
    void feed(const int32_t *ids, size_t n) {
        if (ember_generator_feed(gen, ids, n) != EMBER_OK) fail_msg("feed: %s", ember_last_error());
    }
    std::vector<float> logits() {
        const float *l = nullptr;
        size_t n = 0;
        if (ember_generator_logits(gen, &l, &n) != EMBER_OK)
            fail_msg("logits: %s", ember_last_error());
        return std::vector<float>(l, l + n);
    }
    int32_t greedy() {
        int32_t t = -1;
        if (ember_generator_sample(gen, &t) != EMBER_OK) fail_msg("sample: %s", ember_last_error());
        return t;
    }
};

// Greedy from `prompt`: how many generated tokens equal `golden` before the first that differs.
size_t follows(const std::string &model, const std::vector<int32_t> &prompt,
               const std::vector<int32_t> &golden) {
    Lm lm(model);
    lm.feed(prompt.data(), prompt.size());
    for (size_t i = 0; i < golden.size(); i++) {
        const int32_t t = lm.greedy();
        if (t != golden[i]) return i;
        if (i + 1 < golden.size()) lm.feed(&t, 1);
    }
    return golden.size();
}

// ---- Q8_0 / Q4_0 of stories260K against the float32 golden outputs ----

void test_q8_0_follows_golden(void **) {
    const std::string g = slurp(LM_DIR "stories260K.golden.json");
    const std::vector<int32_t> prompt = json_ints(g, "prompt_ids"),
                               want = json_ints(g, "greedy_ids");
    const size_t n = follows(MODELS "stories260K-q8_0.ember", prompt, want);
    print_message("Q8_0 stories260K from BOS: the golden greedy ids for %zu of %zu tokens%s\n", n,
                  want.size(), n < want.size() ? " (then diverges)" : "");
    if (n < 64) fail_msg("Q8_0 diverges from the float32 golden ids at token %zu (64 required)", n);
    const std::string gp = slurp(LM_DIR "stories260K.prompt.golden.json");
    const std::vector<int32_t> pp = json_ints(gp, "prompt_ids"), pw = json_ints(gp, "greedy_ids");
    const size_t np = follows(MODELS "stories260K-q8_0.ember", pp, pw);
    print_message("Q8_0 stories260K from \"Once upon a time\": %zu of %zu tokens\n", np, pw.size());
    if (np < 32) fail_msg("Q8_0 from the prompt diverges at token %zu", np);
    // The float32 model itself follows all of them (the reference of the comparison).
    assert_int_equal(follows(MODELS "stories260K.ember", prompt, want), want.size());
}

// The golden token history fed to both models: |logit difference| per step.
void drift(const char *quantised, size_t steps, double *max_abs, double *max_logit,
           size_t *top1_same) {
    const std::string g = slurp(LM_DIR "stories260K.golden.json");
    const std::vector<int32_t> prompt = json_ints(g, "prompt_ids"),
                               hist = json_ints(g, "greedy_ids");
    Lm a(MODELS "stories260K.ember"), b(quantised);
    a.feed(prompt.data(), prompt.size());
    b.feed(prompt.data(), prompt.size());
    *max_abs = *max_logit = 0;
    *top1_same = 0;
    for (size_t s = 0; s < steps; s++) {
        const std::vector<float> la = a.logits(), lb = b.logits();
        assert_int_equal(la.size(), lb.size());
        for (size_t j = 0; j < la.size(); j++) {
            if (!std::isfinite(lb[j]))
                fail_msg("%s: logit %zu at step %zu is %g", quantised, j, s, lb[j]);
            *max_abs = std::max(*max_abs, static_cast<double>(std::fabs(la[j] - lb[j])));
            *max_logit = std::max(*max_logit, static_cast<double>(std::fabs(la[j])));
        }
        *top1_same += a.greedy() == b.greedy();
        a.feed(&hist[s], 1);
        b.feed(&hist[s], 1);
    }
}

void test_q4_0_drift(void **) {
    double q8_abs, q4_abs, big;
    size_t q8_same, q4_same;
    const size_t steps = 64;
    drift(MODELS "stories260K-q8_0.ember", steps, &q8_abs, &big, &q8_same);
    drift(MODELS "stories260K-q4_0.ember", steps, &q4_abs, &big, &q4_same);
    print_message(
        "drift over %zu steps of the golden history (largest |logit| %.3g): Q8_0 max |dlogit| "
        "%.4g, "
        "same top-1 %zu/%zu; Q4_0 max |dlogit| %.4g, same top-1 %zu/%zu\n",
        steps, big, q8_abs, q8_same, steps, q4_abs, q4_same, steps);
    // Bounds well above what is measured (Q8_0 ~0.3, Q4_0 ~2-9 on logits up to ~22) but
    // far below what broken blocks give (garbage logits differ by the logits' own size).
    if (!(q8_abs < 0.05 * big)) fail_msg("Q8_0 drift %g is above 5%% of %g", q8_abs, big);
    if (!(q4_abs < 0.6 * big)) fail_msg("Q4_0 drift %g is above 60%% of %g", q4_abs, big);
    if (q8_same < steps - 2) fail_msg("Q8_0 top-1 agrees on only %zu of %zu steps", q8_same, steps);
    if (q4_same < steps / 2) fail_msg("Q4_0 top-1 agrees on only %zu of %zu steps", q4_same, steps);
}

// ---- GGUF with Q8_0 / Q4_0 tensors ----

struct Rd {
    const uint8_t *p;
    size_t off = 0;
    template <typename T>
    T get() {
        T v;
        std::memcpy(&v, p + off, sizeof v);
        off += sizeof v;
        return v;
    }
    void skip_value(uint32_t type) {
        static const size_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        if (type == 8) {
            off += get<uint64_t>();
        } else if (type == 9) {
            const uint32_t et = get<uint32_t>();
            const uint64_t n = get<uint64_t>();
            for (uint64_t i = 0; i < n; i++) skip_value(et);
        } else {
            assert_true(type < 13);
            off += sizes[type];
        }
    }
};

template <typename T>
void put(std::vector<uint8_t> *b, T v) {
    const uint8_t *p = reinterpret_cast<const uint8_t *>(&v);
    b->insert(b->end(), p, p + sizeof v);
}

// stories260K-f32.gguf with every 2-D F32 tensor whose rows are whole blocks stored as
// `qt` (ggml type 8 = Q8_0, 2 = Q4_0), the rest unchanged. Alignment: the default 32.
Bytes gguf_quantised(DType qt) {
    Bytes f;
    assert_true(read_file_bytes(LM_DIR "stories260K-f32.gguf", &f).ok());
    Rd r{f->data()};
    assert_int_equal(r.get<uint32_t>(), 0x46554747u);  // "GGUF"
    const uint32_t version = r.get<uint32_t>();
    const uint64_t n_tensors = r.get<uint64_t>(), n_kv = r.get<uint64_t>();
    const size_t kv_begin = r.off;
    for (uint64_t i = 0; i < n_kv; i++) {
        r.off += r.get<uint64_t>();  // key
        const uint32_t type = r.get<uint32_t>();
        r.skip_value(type);
    }
    const size_t kv_end = r.off;
    assert_true(
        std::string(reinterpret_cast<const char *>(f->data()), kv_end).find("general.alignment") ==
        std::string::npos);
    struct Info {
        std::string name;
        std::vector<uint64_t> ne;
        uint32_t type;
        uint64_t offset;
    };
    std::vector<Info> infos(n_tensors);
    for (Info &t : infos) {
        const uint64_t len = r.get<uint64_t>();
        t.name.assign(reinterpret_cast<const char *>(f->data() + r.off), len);
        r.off += len;
        t.ne.resize(r.get<uint32_t>());
        for (uint64_t &d : t.ne) d = r.get<uint64_t>();
        t.type = r.get<uint32_t>();
        t.offset = r.get<uint64_t>();
        assert_int_equal(t.type, 0);
    }
    const size_t data_start = (r.off + 31) / 32 * 32;
    // New data: each tensor converted, at offsets aligned to 32.
    std::vector<std::vector<uint8_t>> data(n_tensors);
    int quantised = 0;
    for (size_t i = 0; i < infos.size(); i++) {
        Info &t = infos[i];
        uint64_t n = 1;
        for (uint64_t d : t.ne) n *= d;
        const float *src = reinterpret_cast<const float *>(f->data() + data_start + t.offset);
        if (t.ne.size() == 2 && t.ne[0] % 32 == 0) {
            data[i].resize(dtype_storage_bytes(qt, static_cast<int64_t>(n)));
            quantize_blocks(qt, src, static_cast<int64_t>(n), data[i].data());
            t.type = qt == DType::Q8_0 ? 8 : 2;
            quantised++;
        } else {
            data[i].assign(reinterpret_cast<const uint8_t *>(src),
                           reinterpret_cast<const uint8_t *>(src + n));
        }
    }
    assert_true(quantised >= 30);  // 5 x 6 projections, the embedding, the copied classifier
    std::vector<uint8_t> out;
    put<uint32_t>(&out, 0x46554747u);
    put<uint32_t>(&out, version);
    put<uint64_t>(&out, n_tensors);
    put<uint64_t>(&out, n_kv);
    out.insert(out.end(), f->data() + kv_begin, f->data() + kv_end);
    uint64_t off = 0;
    for (size_t i = 0; i < infos.size(); i++) {
        const Info &t = infos[i];
        put<uint64_t>(&out, t.name.size());
        out.insert(out.end(), t.name.begin(), t.name.end());
        put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
        for (uint64_t d : t.ne) put<uint64_t>(&out, d);
        put<uint32_t>(&out, t.type);
        put<uint64_t>(&out, off);
        off = (off + data[i].size() + 31) / 32 * 32;
    }
    out.resize((out.size() + 31) / 32 * 32, 0);
    for (size_t i = 0; i < infos.size(); i++) {
        out.insert(out.end(), data[i].begin(), data[i].end());
        out.resize((out.size() + 31) / 32 * 32, 0);
    }
    return std::make_shared<std::vector<uint8_t>>(std::move(out));
}

void test_gguf_quantised_import(void **) {
    for (DType qt : {DType::Q8_0, DType::Q4_0}) {
        Graph g;
        Status st = import_gguf(gguf_quantised(qt), LmImportOptions(), &g);
        if (!st.ok()) fail_msg("%s GGUF: %s", dtype_name(qt), st.message().c_str());
        int blocks = 0, f32 = 0;
        // Matrices come in as q4_0x8 / q8_0x8 (rows interleaved by 8), as `ember quantize`
        // writes them.
        const DType stored = qt == DType::Q4_0 ? DType::Q4_0X8 : DType::Q8_0X8;
        for (const Value &v : g.values) {
            if (v.constant < 0) continue;
            if (v.dtype == stored)
                blocks++;
            else if (v.dtype == DType::F32)
                f32++;
            if (v.name == "token_embd.weight" || v.name == "blk.0.attn_q.weight")
                assert_int_equal(static_cast<int>(v.dtype), static_cast<int>(stored));
            if (v.name == "blk.0.ffn_down.weight")
                assert_int_equal(static_cast<int>(v.dtype),
                                 static_cast<int>(DType::F32));  // K = 172
            assert_true(v.name != "output.weight");  // the copied classifier is tied again
        }
        assert_int_equal(blocks, 31);  // 5 x (q, k, v, o, gate, up) + the embedding
        const std::string path =
            std::string(MODELS "stories260K-gguf-") + dtype_name(qt) + ".ember";
        st = write_ember_file(g, path);
        assert_true(st.ok());
        // The same logits as `ember quantize` of the float32 llama2.c model.
        Lm a(path), b(std::string(MODELS "stories260K-") + dtype_name(qt) + ".ember");
        const int32_t prompt[5] = {1, 403, 407, 261, 378};
        a.feed(prompt, 5);
        b.feed(prompt, 5);
        double worst = 0;
        for (int s = 0; s < 8; s++) {
            const std::vector<float> la = a.logits(), lb = b.logits();
            for (size_t j = 0; j < la.size(); j++)
                worst = std::max(worst, static_cast<double>(std::fabs(la[j] - lb[j])));
            const int32_t t = a.greedy();
            assert_int_equal(t, b.greedy());
            a.feed(&t, 1);
            b.feed(&t, 1);
        }
        if (worst > 1e-5)
            fail_msg("%s: GGUF import and ember quantize differ by %g", dtype_name(qt), worst);
    }
}

// ---- the format and the planner ----

// x float32 [1, 64] -> Linear(x, W) with W [4, 64] stored as `t`; `second_op` reads W too.
Graph tiny_graph(DType t, const char *second_op = nullptr) {
    Graph g;
    int32_t x = g.add_value("x", DType::F32);
    g.values[x].has_shape = true;
    g.values[x].shape = {1, 64};
    g.values[x].dim_names = {"", ""};
    g.inputs.push_back(x);
    std::vector<float> wf(4 * 64);
    for (size_t i = 0; i < wf.size(); i++) wf[i] = std::sin(0.37f * static_cast<float>(i));
    std::vector<uint8_t> wq(dtype_storage_bytes(t, 256));
    // X8 types with 4 rows: no whole group, so the bytes are plain rows (llm_quant.h).
    quantize_blocks(dtype_plain_blocks(t), wf.data(), 256, wq.data());
    int32_t w = g.add_constant("w", t, {4, 64}, wq.data(), wq.size());
    g.values[w].dim_names = {"", ""};
    Node n;
    n.name = "lin";
    n.op_type = "Linear";
    n.domain = "ember";
    n.inputs = {x, w};
    int32_t y = g.add_value("y", DType::F32);
    n.outputs = {y};
    g.nodes.push_back(n);
    g.outputs.push_back(y);
    if (second_op) {
        Node r;
        r.name = "bad";
        r.op_type = second_op;
        r.inputs = {w};
        int32_t z = g.add_value("z", DType::F32);
        r.outputs = {z};
        g.nodes.push_back(r);
        g.outputs.push_back(z);
    }
    return g;
}

void expect_refused(const Graph &g, ember_status code, const char *needle, const char *what) {
    std::vector<uint8_t> b;
    assert_true(write_ember(g, &b).ok());
    std::vector<uint8_t> aligned(b.size() + 64);
    uint8_t *p = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(aligned.data()) + 63) &
                                             ~uintptr_t(63));
    std::memcpy(p, b.data(), b.size());
    Graph back;
    Status st = read_ember(p, b.size(), ReadOptions(), &back);
    if (st.code() != code || st.message().find(needle) == std::string::npos)
        fail_msg("%s: got %d '%s', want %d '%s'", what, st.code(), st.message().c_str(), code,
                 needle);
}

void test_format_and_planner(void **) {
    for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_0X8, DType::Q8_0X8}) {
        Graph g = tiny_graph(t);
        assert_true(g.validate_and_sort().ok());
        const std::string path = std::string(MODELS "tiny-") + dtype_name(t) + ".ember";
        assert_true(write_ember_file(g, path).ok());
        // Round trip: the value keeps its block type, the bytes are the same.
        std::vector<uint8_t> b;
        assert_true(write_ember(g, &b).ok());
        std::vector<uint8_t> buf(b.size() + 64);
        uint8_t *p = reinterpret_cast<uint8_t *>((reinterpret_cast<uintptr_t>(buf.data()) + 63) &
                                                 ~uintptr_t(63));
        std::memcpy(p, b.data(), b.size());
        Graph back;
        Status st = read_ember(p, b.size(), ReadOptions(), &back);
        if (!st.ok()) fail_msg("%s round trip: %s", dtype_name(t), st.message().c_str());
        const Value &w = back.values[1];
        assert_int_equal(static_cast<int>(w.dtype), static_cast<int>(t));
        const ConstData &c = back.constants[w.constant];
        assert_int_equal(c.nbytes, g.constants[0].nbytes);
        assert_memory_equal(c.data, g.constants[0].data, c.nbytes);
        // Refusals.
        Graph bad = tiny_graph(t);
        bad.constants[0].nbytes -= 2;
        expect_refused(bad, EMBER_ERR_FORMAT, "does not match", "wrong byte size");
        bad = tiny_graph(t);
        bad.values[1].shape = {8, 32};  // same bytes, whole blocks: accepted
        expect_refused(bad, EMBER_OK, "", "reshaped [8, 32]");
        bad.values[1].shape = {16, 16};
        expect_refused(bad, EMBER_ERR_FORMAT, "last dim must be a multiple of 32", "rows of 16");
        if (dtype_is_x8(t)) {  // its rows are interleaved: a matrix only
            bad = tiny_graph(t);
            bad.values[1].shape = {2, 2, 64};
            bad.values[1].dim_names = {"", "", ""};
            expect_refused(bad, EMBER_ERR_FORMAT, "tensor is a matrix", "rank 3");
        }
        bad = tiny_graph(t);
        bad.constants[0].quant.scales = {1.0f};
        expect_refused(bad, EMBER_ERR_FORMAT, "scales", "block tensor with scales");
        // Linear runs through the C API; Relu on the same blocks is refused by the planner.
        ember_runtime *rt = nullptr;
        ember_model *m = nullptr;
        ember_session *s = nullptr;
        assert_int_equal(ember_runtime_create(nullptr, &rt), EMBER_OK);
        assert_int_equal(ember_model_load_file(rt, path.c_str(), nullptr, &m), EMBER_OK);
        assert_int_equal(ember_session_create(m, nullptr, &s), EMBER_OK);
        float x[64];
        for (int i = 0; i < 64; i++) x[i] = std::cos(0.1f * static_cast<float>(i));
        int64_t dims[2] = {1, 64};
        ember_tensor *in = nullptr;
        assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_FLOAT32, dims, 2, x, sizeof x, &in),
                         EMBER_OK);
        assert_int_equal(ember_session_run(s, &in, 1), EMBER_OK);
        const ember_tensor *out = nullptr;
        assert_int_equal(ember_session_output(s, 0, &out), EMBER_OK);
        const float *y = static_cast<const float *>(ember_tensor_data_const(out));
        std::vector<float> wf(256);
        dequantize_blocks(dtype_plain_blocks(t), g.constants[0].data, 256, wf.data());
        for (int r = 0; r < 4; r++) {
            double want = 0;
            for (int k = 0; k < 64; k++) want += wf[r * 64 + k] * x[k];
            if (!(std::fabs(y[r] - want) < 0.02))
                fail_msg("%s Linear row %d: %g, want %g", dtype_name(t), r, y[r], want);
        }
        ember_tensor_release(in);
        ember_session_release(s);
        ember_model_release(m);
        Graph relu = tiny_graph(t, "Relu");
        assert_true(relu.validate_and_sort().ok());
        const std::string rpath = std::string(MODELS "tiny-relu-") + dtype_name(t) + ".ember";
        assert_true(write_ember_file(relu, rpath).ok());
        assert_int_equal(ember_model_load_file(rt, rpath.c_str(), nullptr, &m), EMBER_OK);
        s = nullptr;
        // The input shape is fixed, so the session plans (and refuses) at creation.
        assert_int_equal(ember_session_create(m, nullptr, &s), EMBER_ERR_UNSUPPORTED);
        assert_non_null(strstr(ember_last_error(), "block-quantised"));
        ember_session_release(s);
        ember_model_release(m);
        ember_runtime_release(rt);
    }
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0_follows_golden),
        cmocka_unit_test(test_q4_0_drift),
        cmocka_unit_test(test_gguf_quantised_import),
        cmocka_unit_test(test_format_and_planner),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
