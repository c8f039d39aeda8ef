// test_lm_import.cc — the llama2.c and GGUF importers (formats/lm_import.h) on real and
// damaged files: every damage gives EMBER_ERR_FORMAT (or EMBER_ERR_UNSUPPORTED for a
// feature Ember does not run) with a message, never a crash. Under the sanitizer build
// the byte-flip loops double as a small fuzz run.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "formats/lm_import.h"

using namespace ember;

#define LM_DIR EMBER_SHARED_DIR "/models/lm/"

namespace {

Bytes load(const char *path) {
    Bytes b;
    Status st = read_file_bytes(path, &b);
    if (!st.ok()) fail_msg("%s", st.message().c_str());
    return b;
}

Bytes copy_prefix(const Bytes &b, size_t n) {
    return std::make_shared<std::vector<uint8_t>>(b->begin(), b->begin() + static_cast<long>(n));
}

void put_i32(Bytes &b, size_t off, int32_t v) { std::memcpy(b->data() + off, &v, 4); }
void put_u64(Bytes &b, size_t off, uint64_t v) { std::memcpy(b->data() + off, &v, 8); }

void expect(const Status &st, ember_status code, const char *needle, const char *what) {
    if (st.code() != code)
        fail_msg("%s: got %s (%s), expected %s", what, ember_status_string(st.code()), st.message().c_str(),
                 ember_status_string(code));
    if (needle && st.message().find(needle) == std::string::npos)
        fail_msg("%s: message '%s' lacks '%s'", what, st.message().c_str(), needle);
}

// ---- llama2.c ----

void test_llama2c_ok(void **) {
    Bytes ck = load(LM_DIR "stories260K.bin"), tok = load(LM_DIR "tok512.bin");
    Graph g;
    Status st = import_llama2c(ck, tok.get(), LmImportOptions(), &g);
    assert_true(st.ok());
    LmConfig c;
    assert_true(lm_config_from_metadata(g, &c).ok());
    assert_int_equal(c.dim, 64);
    assert_int_equal(c.layers, 5);
    assert_int_equal(c.heads, 8);
    assert_int_equal(c.kv_heads, 4);
    assert_int_equal(c.hidden, 172);
    assert_int_equal(c.vocab, 512);
    assert_int_equal(c.context, 512);
    assert_true(c.tied);
    assert_int_equal(c.bos, 1);
    assert_int_equal(c.eos, 2);
    Tokenizer t;
    assert_true(Tokenizer::from_metadata(g, &t).ok());
    std::vector<int32_t> ids;
    assert_true(t.encode("Once upon a time", 16, true, false, &ids).ok());
    assert_int_equal(ids.size(), 5);
    const int32_t want[5] = {1, 403, 407, 261, 378};
    assert_memory_equal(ids.data(), want, sizeof want);
    // 260,032 parameters, the classifier tied (no separate output.weight).
    size_t params = 0;
    for (const Value &v : g.values)
        if (v.constant >= 0) params += static_cast<size_t>(shape_numel(v.shape));
    assert_int_equal(params, 260032);
    // Without a tokenizer, and with a context override.
    LmImportOptions o;
    o.context = 1024;
    assert_true(import_llama2c(ck, nullptr, o, &g).ok());
    assert_true(lm_config_from_metadata(g, &c).ok());
    assert_int_equal(c.context, 1024);
    assert_int_equal(Tokenizer::from_metadata(g, &t).code(), EMBER_ERR_NOT_FOUND);
}

void test_llama2c_truncated(void **) {
    Bytes ck = load(LM_DIR "stories260K.bin");
    const size_t size = ck->size();
    const size_t cuts[] = {0, 3, 27, 28, 29, 1000, size / 2, size - 4 * 4096 - 4, size - 4, size - 1};
    for (size_t cut : cuts) {
        Graph g;
        Status st = import_llama2c(copy_prefix(ck, cut), nullptr, LmImportOptions(), &g);
        std::string what = "cut at " + std::to_string(cut);
        expect(st, EMBER_ERR_FORMAT, cut < 28 ? "header" : "implies a file of 1056540 bytes", what.c_str());
    }
    // A byte too many is damage too.
    Bytes longer = copy_prefix(ck, size);
    longer->push_back(0);
    Graph g;
    expect(import_llama2c(longer, nullptr, LmImportOptions(), &g), EMBER_ERR_FORMAT, "implies", "one byte more");
}

void test_llama2c_bad_header(void **) {
    Bytes ck = load(LM_DIR "stories260K.bin");
    struct Case {
        const char *name;
        int field;
        int32_t value;
        ember_status code;
        const char *needle;
    } cases[] = {
        {"dim 65", 0, 65, EMBER_ERR_FORMAT, "not a multiple of heads"},
        {"dim 72 (9 per head)", 0, 72, EMBER_ERR_FORMAT, "odd"},
        {"dim 128", 0, 128, EMBER_ERR_FORMAT, "implies a file"},
        {"hidden 173", 1, 173, EMBER_ERR_FORMAT, "implies a file"},
        {"layers 0", 2, 0, EMBER_ERR_FORMAT, "layers = 0"},
        {"layers 6", 2, 6, EMBER_ERR_FORMAT, "implies a file"},
        {"heads 3", 3, 3, EMBER_ERR_FORMAT, "not a multiple of heads"},
        {"kv_heads 3", 4, 3, EMBER_ERR_FORMAT, "not a multiple of kv_heads"},
        {"kv_heads 0", 4, 0, EMBER_ERR_FORMAT, "kv_heads = 0"},
        {"vocab 0", 5, 0, EMBER_ERR_FORMAT, "vocab = 0"},
        {"vocab -512 (untied)", 5, -512, EMBER_ERR_FORMAT, "untied"},
        {"vocab huge", 5, INT32_MAX, EMBER_ERR_FORMAT, "vocab"},
        {"seq_len -1", 6, -1, EMBER_ERR_FORMAT, "context"},
        {"seq_len 1024", 6, 1024, EMBER_ERR_FORMAT, "implies a file"},
        {"version 1 magic", 0, 0x616b3432, EMBER_ERR_UNSUPPORTED, "version 1/2"},
    };
    for (const Case &c : cases) {
        Bytes b = copy_prefix(ck, ck->size());
        put_i32(b, 4 * c.field, c.value);
        Graph g;
        expect(import_llama2c(b, nullptr, LmImportOptions(), &g), c.code, c.needle, c.name);
    }
}

void test_llama2c_tokenizer_damage(void **) {
    Bytes ck = load(LM_DIR "stories260K.bin"), tok = load(LM_DIR "tok512.bin");
    Graph g;
    for (size_t cut : {size_t(0), size_t(3), size_t(4), size_t(100), tok->size() - 1}) {
        std::vector<uint8_t> t(tok->begin(), tok->begin() + static_cast<long>(cut));
        expect(import_llama2c(ck, &t, LmImportOptions(), &g), EMBER_ERR_FORMAT, "tokenizer", "cut tokenizer");
    }
    // The Llama-2 32000-token vocabulary does not belong to a 512-token model.
    Bytes big = load(LM_DIR "tokenizer.bin");
    expect(import_llama2c(ck, big.get(), LmImportOptions(), &g), EMBER_ERR_FORMAT, "does not belong", "wrong vocab");
    // A negative piece length.
    std::vector<uint8_t> t(*tok);
    int32_t neg = -5;
    std::memcpy(t.data() + 8, &neg, 4);
    expect(import_llama2c(ck, &t, LmImportOptions(), &g), EMBER_ERR_FORMAT, "length -5", "negative length");
}

// ---- GGUF ----

void test_gguf_ok(void **) {
    Bytes f = load(LM_DIR "stories260K-f32.gguf");
    Graph g;
    Status st = import_gguf(f, LmImportOptions(), &g);
    if (!st.ok()) fail_msg("%s", st.message().c_str());
    LmConfig c;
    assert_true(lm_config_from_metadata(g, &c).ok());
    assert_int_equal(c.context, 128);  // what llama.cpp's converter wrote
    assert_int_equal(c.kv_heads, 4);
    assert_true(c.tied);  // output.weight is a copy of the embedding: tied again
    // Vocabulary only: a tokenizer model without a graph.
    Bytes v = load(LM_DIR "ggml-vocab-llama-spm.gguf");
    assert_true(import_gguf(v, LmImportOptions(), &g).ok());
    assert_int_equal(g.nodes.size(), 0);
    Tokenizer t;
    assert_true(Tokenizer::from_metadata(g, &t).ok());
    assert_int_equal(t.size(), 32000);
    assert_int_equal(lm_config_from_metadata(g, &c).code(), EMBER_ERR_INVALID_ARGUMENT);
}

// Offset just past the tensor infos (the data section starts at the next 32 bytes).
size_t gguf_infos_end(const Bytes &f) {
    (void)f;
    return 14152;  // stories260K-f32.gguf, checked below by the unchanged-prefix import
}

void test_gguf_truncated(void **) {
    Bytes f = load(LM_DIR "stories260K-f32.gguf");
    const size_t size = f->size();
    int n = 0;
    for (size_t cut = 0; cut < size; cut += (cut < 16384 ? 61 : 40009)) {
        Graph g;
        Status st = import_gguf(copy_prefix(f, cut), LmImportOptions(), &g);
        if (st.code() != EMBER_ERR_FORMAT || st.message().compare(0, 5, "GGUF:") != 0)
            fail_msg("cut at %zu: %s: %s", cut, ember_status_string(st.code()), st.message().c_str());
        n++;
    }
    assert_true(n > 200);
}

void test_gguf_bad_counts(void **) {
    Bytes f = load(LM_DIR "stories260K-f32.gguf");
    Graph g;
    struct Case {
        const char *name;
        size_t off;
        uint64_t value;
        ember_status code;
        const char *needle;
    } cases[] = {
        {"tensor count huge", 8, UINT64_MAX, EMBER_ERR_FORMAT, "cannot fit"},
        {"kv count huge", 16, uint64_t(1) << 40, EMBER_ERR_FORMAT, "cannot fit"},
        {"kv count +1", 16, 20, EMBER_ERR_FORMAT, "GGUF"},
        {"first key length huge", 24, uint64_t(1) << 62, EMBER_ERR_FORMAT, "bytes long"},
    };
    for (const Case &c : cases) {
        Bytes b = copy_prefix(f, f->size());
        put_u64(b, c.off, c.value);
        expect(import_gguf(b, LmImportOptions(), &g), c.code, c.needle, c.name);
    }
    // Version 1 and 4.
    Bytes b = copy_prefix(f, f->size());
    put_i32(b, 4, 1);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_UNSUPPORTED, "version 1", "version 1");
    put_i32(b, 4, 4);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_UNSUPPORTED, "version 4", "version 4");
    // The last tensor's offset: misaligned, then past the end.
    const size_t last_offset = gguf_infos_end(f) - 8;
    b = copy_prefix(f, f->size());
    uint64_t off;
    std::memcpy(&off, b->data() + last_offset, 8);
    assert_int_equal(off, 1170944);  // blk.4.ffn_norm.weight
    put_u64(b, last_offset, off + 4);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_FORMAT, "multiple of the alignment", "misaligned");
    put_u64(b, last_offset, off + 1024);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_FORMAT, "past the end", "offset past end");
    put_u64(b, last_offset, 0);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_FORMAT, "overlap", "overlapping");
    // Its type: Q4_1 parses (64 is whole blocks) but is refused as a weight; Q8_0 is
    // imported (a norm weight: dequantised to float32).
    b = copy_prefix(f, f->size());
    put_i32(b, last_offset - 4, 3);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_UNSUPPORTED, "Q4_1", "Q4_1 tensor");
    put_i32(b, last_offset - 4, 8);
    assert_true(import_gguf(b, LmImportOptions(), &g).ok());
    put_i32(b, last_offset - 4, 99);
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_UNSUPPORTED, "ggml type 99", "unknown type");
    // Another architecture ("llama" -> "llamb" keeps every length).
    b = copy_prefix(f, f->size());
    std::string s(reinterpret_cast<const char *>(b->data()), b->size());
    size_t at = s.find("general.architecture");
    assert_true(at != std::string::npos);
    size_t val = s.find("llama", at + 20);
    (*b)[val + 4] = 'b';
    expect(import_gguf(b, LmImportOptions(), &g), EMBER_ERR_UNSUPPORTED, "architecture 'llamb'", "arch");
}

// Every 7th byte of the header, key/values and tensor infos set to 0x00, 0xFF and
// flipped: any status, but a status.
void test_gguf_byte_flips(void **) {
    Bytes f = load(LM_DIR "stories260K-f32.gguf");
    Bytes b = copy_prefix(f, f->size());
    int ok = 0, bad = 0;
    for (size_t i = 0; i < gguf_infos_end(f); i += 7) {
        const uint8_t orig = (*b)[i];
        for (uint8_t v : {uint8_t(0), uint8_t(0xFF), uint8_t(orig ^ 0x5A)}) {
            (*b)[i] = v;
            Graph g;
            Status st = import_gguf(b, LmImportOptions(), &g);
            if (st.ok()) ok++;
            else bad++;
            if (!st.ok() && st.message().empty()) fail_msg("byte %zu = 0x%02x: error without a message", i, v);
        }
        (*b)[i] = orig;
    }
    assert_true(bad > 0);
    printf("gguf byte flips: %d imported, %d refused\n", ok, bad);
}

// ---- a tiny GGUF written here: F32, F16 and BF16 weights give the same model ----

struct GgufWriter {
    std::vector<uint8_t> b;
    void raw(const void *p, size_t n) {
        const uint8_t *q = static_cast<const uint8_t *>(p);
        b.insert(b.end(), q, q + n);
    }
    void u32(uint32_t v) { raw(&v, 4); }
    void u64(uint64_t v) { raw(&v, 8); }
    void str(const std::string &s) {
        u64(s.size());
        raw(s.data(), s.size());
    }
    void kv_u32(const char *k, uint32_t v) { str(k); u32(4); u32(v); }
    void kv_f32(const char *k, float v) { str(k); u32(6); raw(&v, 4); }
    void kv_str(const char *k, const std::string &v) { str(k); u32(8); str(v); }
    void kv_strs(const char *k, const std::vector<std::string> &v) {
        str(k); u32(9); u32(8); u64(v.size());
        for (const auto &x : v) str(x);
    }
    void kv_f32s(const char *k, const std::vector<float> &v) {
        str(k); u32(9); u32(6); u64(v.size());
        raw(v.data(), v.size() * 4);
    }
    void kv_i32s(const char *k, const std::vector<int32_t> &v) {
        str(k); u32(9); u32(5); u64(v.size());
        raw(v.data(), v.size() * 4);
    }
};

uint16_t to_half(float f) {  // exact for the values used (k/8, |k| <= 6)
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) == 0) return static_cast<uint16_t>(x >> 16);
    uint32_t sign = (x >> 16) & 0x8000, exp = ((x >> 23) & 0xff) - 127 + 15, man = (x >> 13) & 0x3ff;
    return static_cast<uint16_t>(sign | exp << 10 | man);
}

// dim 8, hidden 16, 1 layer, heads 2, kv_heads 1, vocab 8, context 16; ggml type 0/1/30.
Bytes tiny_gguf(uint32_t type) {
    struct T {
        std::string name;
        std::vector<uint64_t> ne;
    };
    const std::vector<T> ts = {
        {"token_embd.weight", {8, 8}},       {"output_norm.weight", {8}},
        {"blk.0.attn_norm.weight", {8}},     {"blk.0.attn_q.weight", {8, 8}},
        {"blk.0.attn_k.weight", {8, 4}},     {"blk.0.attn_v.weight", {8, 4}},
        {"blk.0.attn_output.weight", {8, 8}}, {"blk.0.ffn_norm.weight", {8}},
        {"blk.0.ffn_gate.weight", {8, 16}},  {"blk.0.ffn_down.weight", {16, 8}},
        {"blk.0.ffn_up.weight", {8, 16}},
    };
    GgufWriter w;
    w.raw("GGUF", 4);
    w.u32(3);
    w.u64(ts.size());
    w.u64(15);
    w.kv_str("general.architecture", "llama");
    w.kv_u32("llama.context_length", 16);
    w.kv_u32("llama.embedding_length", 8);
    w.kv_u32("llama.feed_forward_length", 16);
    w.kv_u32("llama.block_count", 1);
    w.kv_u32("llama.attention.head_count", 2);
    w.kv_u32("llama.attention.head_count_kv", 1);
    w.kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.kv_f32("llama.rope.freq_base", 10000.0f);
    w.kv_str("tokenizer.ggml.model", "llama");
    w.kv_strs("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b", "c", "d", "e"});
    w.kv_f32s("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3, -4, -5});
    w.kv_i32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1});
    w.kv_u32("tokenizer.ggml.bos_token_id", 1);
    w.kv_u32("tokenizer.ggml.eos_token_id", 2);
    const size_t esize = type == 0 ? 4 : 2;
    uint64_t off = 0;
    std::vector<uint64_t> offs;
    for (const T &t : ts) {
        w.str(t.name);
        w.u32(static_cast<uint32_t>(t.ne.size()));
        uint64_t n = 1;
        for (uint64_t e : t.ne) {
            w.u64(e);
            n *= e;
        }
        w.u32(type);
        w.u64(off);
        offs.push_back(off);
        off = (off + n * esize + 31) / 32 * 32;
    }
    while (w.b.size() % 32) w.b.push_back(0);
    const size_t data = w.b.size();
    w.b.resize(data + off, 0);
    for (size_t i = 0; i < ts.size(); i++) {
        uint64_t n = 1;
        for (uint64_t e : ts[i].ne) n *= e;
        for (uint64_t j = 0; j < n; j++) {
            float v = static_cast<float>(static_cast<int>((j * 7 + i) % 13) - 6) / 8.0f;
            uint8_t *dst = w.b.data() + data + offs[i] + j * esize;
            if (type == 0) {
                std::memcpy(dst, &v, 4);
            } else {
                uint32_t bits;
                std::memcpy(&bits, &v, 4);
                uint16_t h = type == 1 ? to_half(v) : static_cast<uint16_t>(bits >> 16);
                std::memcpy(dst, &h, 2);
            }
        }
    }
    return std::make_shared<std::vector<uint8_t>>(std::move(w.b));
}

void test_gguf_half_types(void **) {
    Graph ref;
    Status st = import_gguf(tiny_gguf(0), LmImportOptions(), &ref);
    if (!st.ok()) fail_msg("F32: %s", st.message().c_str());
    for (uint32_t type : {1u, 30u}) {
        Graph g;
        st = import_gguf(tiny_gguf(type), LmImportOptions(), &g);
        if (!st.ok()) fail_msg("type %u: %s", type, st.message().c_str());
        assert_int_equal(g.constants.size(), ref.constants.size());
        for (size_t c = 0; c < g.constants.size(); c++) {
            assert_int_equal(g.constants[c].nbytes, ref.constants[c].nbytes);
            if (std::memcmp(g.constants[c].data, ref.constants[c].data, g.constants[c].nbytes) != 0)
                fail_msg("type %u: constant %zu differs from the F32 file", type, c);
        }
    }
    LmConfig c;
    assert_true(lm_config_from_metadata(ref, &c).ok());
    assert_int_equal(c.kv_heads, 1);
    assert_int_equal(c.head_dim, 4);
    assert_true(c.tied);  // no output.weight: the classifier is the embedding
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama2c_ok),
        cmocka_unit_test(test_llama2c_truncated),
        cmocka_unit_test(test_llama2c_bad_header),
        cmocka_unit_test(test_llama2c_tokenizer_damage),
        cmocka_unit_test(test_gguf_ok),
        cmocka_unit_test(test_gguf_truncated),
        cmocka_unit_test(test_gguf_bad_counts),
        cmocka_unit_test(test_gguf_byte_flips),
        cmocka_unit_test(test_gguf_half_types),
    };
    return cmocka_run_group_tests(tests, nullptr, nullptr);
}
