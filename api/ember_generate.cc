// ember_generate.cc — the C ABI of language models: tokenizers and generators
// (api/ember.h, "Language models"; core/tokenizer.h, core/generate.h).
#include <cmath>
#include <cstring>
#include <memory>
#include <new>

#include "api/ember.h"
#include "api/handles.h"
#include "core/generate.h"
#include "core/tokenizer.h"

using ember_api::fail;

struct ember_tokenizer {
    ember::Tokenizer t;
};

struct ember_generator {
    ember::Generator g;
    ember_tokenizer tok;  // a copy of g's tokenizer, handed out as a borrowed handle
    bool has_tok = false;
};

namespace {

template <typename T>
bool read_opts(const T *in, T *out) {
    if (!in) return true;
    const size_t declared = in->struct_size;
    if (declared < sizeof(size_t) || declared > (1u << 16)) return false;
    size_t n = declared < sizeof(T) ? declared : sizeof(T);
    std::memcpy(static_cast<void *>(out), in, n);
    out->struct_size = sizeof(T);
    return true;
}

}  // namespace

extern "C" {

/* ---- tokenizer ---- */

ember_status ember_tokenizer_create(const ember_model *model, ember_tokenizer **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    std::unique_ptr<ember_tokenizer> t(new ember_tokenizer());
    ember::Status st = ember::Tokenizer::from_metadata(model->m.graph, &t->t);
    if (!st.ok()) return fail(st);
    *out = t.release();
    return EMBER_OK;
    EMBER_API_END
}

void ember_tokenizer_release(ember_tokenizer *tokenizer) { delete tokenizer; }

ember_status ember_tokenizer_get_info(const ember_tokenizer *tokenizer, ember_tokenizer_info *info) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(tokenizer && info, "tokenizer or info is NULL");
    EMBER_REQUIRE(info->struct_size >= sizeof(ember_tokenizer_info),
                  "ember_tokenizer_info.struct_size is too small");
    const ember::Tokenizer &t = tokenizer->t;
    info->vocab_size = t.size();
    info->bos = t.bos;
    info->eos = t.eos;
    info->unk = t.unk;
    info->add_bos = t.add_bos ? 1 : 0;
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_tokenizer_encode(const ember_tokenizer *tokenizer, const char *text, size_t text_len,
                                    uint32_t flags, int32_t *ids, size_t capacity, size_t *n_ids) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(tokenizer && n_ids, "tokenizer or n_ids is NULL");
    EMBER_REQUIRE(text || text_len == 0, "text is NULL");
    EMBER_REQUIRE(ids || capacity == 0, "ids is NULL");
    EMBER_REQUIRE((flags & ~(EMBER_TOKENIZE_ADD_BOS | EMBER_TOKENIZE_PARSE_SPECIAL)) == 0,
                  "unknown ember_tokenizer_encode flags");
    std::vector<int32_t> v;
    ember::Status st = tokenizer->t.encode(text, text_len, (flags & EMBER_TOKENIZE_ADD_BOS) != 0,
                                           (flags & EMBER_TOKENIZE_PARSE_SPECIAL) != 0, &v);
    if (!st.ok()) return fail(st);
    size_t n = std::min(v.size(), capacity);
    if (n) std::memcpy(ids, v.data(), n * sizeof(int32_t));
    *n_ids = v.size();
    if (v.size() > capacity)
        return fail(ember::errorf(EMBER_ERR_BUFFER_TOO_SMALL, "the text gives %zu token(s), the buffer holds %zu",
                                  v.size(), capacity));
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_tokenizer_decode(const ember_tokenizer *tokenizer, const int32_t *ids, size_t n_ids,
                                    char *text, size_t capacity, size_t *n_bytes) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(tokenizer && n_bytes, "tokenizer or n_bytes is NULL");
    EMBER_REQUIRE(ids || n_ids == 0, "ids is NULL");
    EMBER_REQUIRE(text || capacity == 0, "text is NULL");
    std::string s;
    ember::Status st = tokenizer->t.decode(ids, n_ids, &s);
    if (!st.ok()) return fail(st);
    *n_bytes = s.size();
    if (s.size() > capacity)
        return fail(ember::errorf(EMBER_ERR_BUFFER_TOO_SMALL, "the text is %zu bytes, the buffer holds %zu",
                                  s.size(), capacity));
    if (!s.empty()) std::memcpy(text, s.data(), s.size());
    if (s.size() < capacity) text[s.size()] = '\0';
    return EMBER_OK;
    EMBER_API_END
}

/* ---- generator ---- */

ember_status ember_generator_create(ember_session *session, const ember_generator_options *opts,
                                    ember_generator **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && out, "session or out is NULL");
    ember_generator_options o{};
    o.struct_size = sizeof o;
    EMBER_REQUIRE(read_opts(opts, &o), "ember_generator_options.struct_size is invalid");
    EMBER_REQUIRE(o.context >= 0, "ember_generator_options.context is negative");
    std::unique_ptr<ember_generator> g(new ember_generator());
    EMBER_REQUIRE(o.all_logits == 0 || o.all_logits == 1, "ember_generator_options.all_logits must be 0 or 1");
    ember::Status st = g->g.init(&session->s, o.context, o.all_logits != 0);
    if (!st.ok()) return fail(st);
    if (const ember::Tokenizer *t = g->g.tokenizer()) {
        g->tok.t = *t;
        g->has_tok = true;
    }
    *out = g.release();
    return EMBER_OK;
    EMBER_API_END
}

void ember_generator_release(ember_generator *generator) { delete generator; }

ember_status ember_generator_tokenizer(const ember_generator *generator, const ember_tokenizer **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator && out, "generator or out is NULL");
    if (!generator->has_tok)
        return fail(EMBER_ERR_NOT_FOUND, "the model has no tokenizer (metadata 'lm.tokenizer')");
    *out = &generator->tok;
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_feed(ember_generator *generator, const int32_t *ids, size_t n_ids) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator, "generator is NULL");
    EMBER_REQUIRE(ids || n_ids == 0, "ids is NULL");
    ember::Status st = generator->g.feed(ids, n_ids);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_logits(const ember_generator *generator, const float **logits, size_t *n_vocab) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator && logits, "generator or logits is NULL");
    const float *l = generator->g.logits();
    if (!l)
        return fail(EMBER_ERR_INVALID_ARGUMENT,
                    "no logits: nothing was fed since the generator was created or truncated");
    *logits = l;
    if (n_vocab) *n_vocab = static_cast<size_t>(generator->g.config().vocab);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_position(const ember_generator *generator, int64_t *position, int64_t *context) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator, "generator is NULL");
    if (position) *position = generator->g.position();
    if (context) *context = generator->g.context();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_truncate(ember_generator *generator, int64_t position) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator, "generator is NULL");
    ember::Status st = generator->g.truncate(position);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_set_sampler(ember_generator *generator, const ember_sampler_options *opts) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator, "generator is NULL");
    ember_sampler_options o{};
    o.struct_size = sizeof o;
    o.top_p = 1.0f;
    EMBER_REQUIRE(read_opts(opts, &o), "ember_sampler_options.struct_size is invalid");
    EMBER_REQUIRE(std::isfinite(o.temperature), "ember_sampler_options.temperature is not finite");
    EMBER_REQUIRE(std::isfinite(o.top_p) && o.top_p <= 1.0f,
                  "ember_sampler_options.top_p must be a number <= 1");
    EMBER_REQUIRE(o.top_k >= 0, "ember_sampler_options.top_k is negative");
    ember::SamplerOptions so;
    so.temperature = o.temperature;
    so.top_k = o.top_k;
    so.top_p = o.top_p;
    so.seed = o.seed;
    generator->g.sampler().reset(so);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_sample(ember_generator *generator, int32_t *token) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator && token, "generator or token is NULL");
    const float *l = generator->g.logits();
    if (!l)
        return fail(EMBER_ERR_INVALID_ARGUMENT,
                    "no logits: nothing was fed since the generator was created or truncated");
    *token = generator->g.sampler().sample(l);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_generator_generate(ember_generator *generator, const ember_generate_options *opts,
                                      int32_t *ids, size_t capacity, size_t *n_ids,
                                      ember_stop_reason *reason) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(generator && n_ids, "generator or n_ids is NULL");
    EMBER_REQUIRE(ids || capacity == 0, "ids is NULL");
    ember_generate_options o{};
    o.struct_size = sizeof o;
    EMBER_REQUIRE(read_opts(opts, &o), "ember_generate_options.struct_size is invalid");
    EMBER_REQUIRE(o.max_tokens >= 0, "ember_generate_options.max_tokens is negative");
    ember::GenerateRequest r;
    r.max_tokens = o.max_tokens;
    r.stop_at_eos = o.ignore_eos == 0;
    r.callback = o.callback;
    r.user = o.user_data;
    r.out = ids;
    r.out_capacity = capacity;
    size_t n = 0;
    ember::StopReason why = ember::StopReason::None;
    ember::Status st = generator->g.generate(r, &n, &why);
    *n_ids = n;
    if (reason) *reason = static_cast<ember_stop_reason>(why);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

}  // extern "C"
