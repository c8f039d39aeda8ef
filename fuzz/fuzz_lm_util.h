// fuzz_lm_util.h — shared by fuzz_gguf.cc and fuzz_llama2c.cc: what happens to a graph an
// importer accepted. It is written as a .ember file (the writer must accept it), read back
// through the public C API, compiled into a session and, when it is a language model,
// driven through one generator step: tokenizer, prefill of two tokens, one sampled and
// fed token. Bounds: sessions cap their arena at 16 MiB, generators hold 16 positions.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "api/ember.h"
#include "formats/ember_format.h"
#include "fuzz/fuzz_util.h"

namespace fuzz_lm {

constexpr int64_t kContext = 16;                       // generator positions (caches)
constexpr int64_t kMaxArenaBytes = int64_t(16) << 20;  // per session plan

inline ember_runtime *runtime() {
    static ember_runtime *rt = [] {
        ember_runtime_options o;
        std::memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.num_threads = 1;
        o.disable_plugin_discovery = 1;
        ember_runtime *r = nullptr;
        if (ember_runtime_create(&o, &r) != EMBER_OK) fuzz_fail("%s", ember_last_error());
        return r;
    }();
    return rt;
}

// A failed call must say why.
inline void check_message(ember_status st, const char *what) {
    if (st != EMBER_OK && ember_last_error()[0] == '\0') fuzz_fail("%s failed with no message", what);
}

inline void exercise_tokenizer(const ember_tokenizer *tok) {
    ember_tokenizer_info info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (ember_tokenizer_get_info(tok, &info) != EMBER_OK) fuzz_fail("%s", ember_last_error());
    const char text[] = "Once upon a time, <s> \xe2\x96\x81 caf\xc3\xa9 \xff";
    int32_t ids[64];
    size_t n = 0;
    ember_status st = ember_tokenizer_encode(tok, text, sizeof text - 1,
                                             EMBER_TOKENIZE_ADD_BOS | EMBER_TOKENIZE_PARSE_SPECIAL,
                                             ids, 64, &n);
    check_message(st, "ember_tokenizer_encode");
    if (st != EMBER_OK) return;
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= info.vocab_size) fuzz_fail("encode gave id %d of %d", ids[i], info.vocab_size);
    char out[512];
    size_t bytes = 0;
    check_message(ember_tokenizer_decode(tok, ids, n, out, sizeof out, &bytes), "ember_tokenizer_decode");
}

inline void exercise_generator(ember_session *s) {
    ember_generator_options go;
    std::memset(&go, 0, sizeof go);
    go.struct_size = sizeof go;
    go.context = kContext;
    ember_generator *gen = nullptr;
    ember_status st = ember_generator_create(s, &go, &gen);
    check_message(st, "ember_generator_create");
    if (st != EMBER_OK) return;
    const ember_tokenizer *tok = nullptr;
    if (ember_generator_tokenizer(gen, &tok) == EMBER_OK) exercise_tokenizer(tok);
    const int32_t prompt[2] = {1, 0};
    st = ember_generator_feed(gen, prompt, 2);
    check_message(st, "ember_generator_feed");
    if (st == EMBER_OK) {
        const float *logits = nullptr;
        size_t vocab = 0;
        if (ember_generator_logits(gen, &logits, &vocab) != EMBER_OK) fuzz_fail("%s", ember_last_error());
        volatile float sum = 0;
        for (size_t i = 0; i < vocab; i++) sum = sum + logits[i];  // readable over its extent
        ember_generate_options o;
        std::memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.max_tokens = 1;
        o.ignore_eos = 1;
        int32_t out[1];
        size_t n = 0;
        ember_stop_reason why;
        check_message(ember_generator_generate(gen, &o, out, 1, &n, &why), "ember_generator_generate");
    }
    ember_generator_release(gen);
}

// Writes, loads and runs what an importer made of the fuzzed bytes.
inline void exercise_graph(const ember::Graph &g) {
    std::vector<uint8_t> file;
    ember::Status ws = ember::write_ember(g, &file);
    if (!ws.ok()) fuzz_fail("the writer refused an imported graph: %s", ws.message().c_str());
    ember_model *m = nullptr;
    ember_status st = ember_model_load_memory(runtime(), file.data(), file.size(), nullptr, &m);
    if (st != EMBER_OK) fuzz_fail("the reader refused what the writer wrote: %s", ember_last_error());
    ember_tokenizer *tok = nullptr;
    st = ember_tokenizer_create(m, &tok);
    check_message(st, "ember_tokenizer_create");
    if (st == EMBER_OK) {
        exercise_tokenizer(tok);
        ember_tokenizer_release(tok);
    }
    size_t n_in = 0;
    if (ember_model_input_count(m, &n_in) != EMBER_OK) fuzz_fail("%s", ember_last_error());
    if (n_in > 0) {  // a vocabulary-only model has no graph
        ember_session_options so;
        std::memset(&so, 0, sizeof so);
        so.struct_size = sizeof so;
        so.num_threads = 1;
        so.max_arena_bytes = kMaxArenaBytes;
        ember_session *s = nullptr;
        st = ember_session_create(m, &so, &s);
        check_message(st, "ember_session_create");
        if (st == EMBER_OK) {
            exercise_generator(s);
            ember_session_release(s);
        }
    }
    if (ember_model_release(m) != EMBER_OK) fuzz_fail("%s", ember_last_error());
}

}  // namespace fuzz_lm
