// generate.h — text generation on a language-model session: the KV caches, feeding
// tokens (a prompt in one batched run), sampling, rollback (api/ember.h, "Language
// models"; docs/language-models.md).
//
// A Generator owns the key/value caches of one sequence ([layers, context, kv_dim] each,
// allocated once) and hands them to the session as graph inputs; the session's
// CacheAttention nodes write the new rows in place. Positions [0, position()) of the
// caches hold the tokens fed so far; truncate() just moves the position back.
// After creation nothing allocates on the decode path: feeding one token reuses the
// session's prebuilt plan for T = 1 and the generator's own buffers.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/lm_config.h"
#include "core/session.h"
#include "core/tensor_handle.h"
#include "core/tokenizer.h"

namespace ember {

struct SamplerOptions {
    float temperature = 0.0f;  // <= 0: greedy (argmax)
    int32_t top_k = 0;         // > 0: keep the k most likely tokens
    float top_p = 1.0f;        // < 1: keep the smallest set whose probability reaches top_p
    uint64_t seed = 0;         // the random stream; same seed + same logits = same tokens
};

// Reproducible sampling: a xorshift64* stream seeded through splitmix64.
class Sampler {
public:
    void resize(int64_t vocab);
    void reset(const SamplerOptions &o);
    const SamplerOptions &options() const { return o_; }
    // Draws a token from `logits` (vocab values). Allocates nothing.
    int32_t sample(const float *logits);

private:
    float next_f32();
    SamplerOptions o_;
    uint64_t state_ = 1;
    std::vector<float> probs_;
    std::vector<int32_t> idx_;
};

enum class StopReason : int32_t { None = 0, Length = 1, Eos = 2, Context = 3, Callback = 4 };

// Called for each generated token with the text it prints; returns true to stop.
using TokenCallback = int32_t (*)(void *user, int32_t token, const char *piece, size_t len);

struct GenerateRequest {
    int64_t max_tokens = 0;      // 0: until a stop token or the end of the context
    bool stop_at_eos = true;     // stop (without emitting) on EOS or BOS
    TokenCallback callback = nullptr;
    void *user = nullptr;
    int32_t *out = nullptr;      // generated ids, capacity `out_capacity` (null: not stored)
    size_t out_capacity = 0;
};

// The model's graph with the rows of the final RMSNorm's input reduced to the last one:
// x[T, dim] -> Gather(x, [-1]) -> RMSNorm -> classifier -> logits [1, vocab], so that a
// prompt's prefill runs the classifier (the largest matrix of small models) once instead
// of T times. Found by shape: the output "logits" is produced by ember.Linear (or another
// row-wise op) of ember.RMSNorm; EMBER_ERR_NOT_FOUND for any other graph. Inputs and
// outputs keep their order; metadata is not copied. Session::derived_graph keeps it.
Status lm_last_row_graph(const Graph &model_graph, Graph *out);

class Generator {
public:
    // `context` 0: the model's lm.context. Checks that `session` runs a language model
    // (lm.* metadata and the tokens/pos/k_cache/v_cache -> logits interface).
    // `all_logits` false (the default): feeds run the session's last-row variant of the
    // graph (lm_last_row_graph), which computes the final norm and the classifier for the
    // last position only; true: the model's graph, whose output holds [n, vocab].
    Status init(Session *session, int64_t context, bool all_logits = false);

    // Runs ids[0, n) at positions [position(), position() + n) in one batched run; the
    // logits of the last one become logits(). With all_logits the session's output
    // holds the logits of all n positions; otherwise it holds [1, vocab], the last one.
    Status feed(const int32_t *ids, size_t n);
    // Moves the position back to `pos` (0 <= pos <= position()); logits() are then those
    // of token pos-1 only after the next feed.
    Status truncate(int64_t pos);
    // Samples, emits and feeds tokens until a stop condition (generate.cc).
    Status generate(const GenerateRequest &r, size_t *n_out, StopReason *why);

    const float *logits() const { return have_logits_ ? logits_.data() : nullptr; }
    int64_t position() const { return pos_; }
    int64_t context() const { return ctx_; }
    const LmConfig &config() const { return cfg_; }
    const Tokenizer *tokenizer() const { return has_tok_ ? &tok_ : nullptr; }
    Sampler &sampler() { return sampler_; }
    const std::vector<int32_t> &history() const { return history_; }
    // True when feeds compute the last position's logits only.
    bool last_row_only() const { return variant_ != nullptr; }

private:
    Session *s_ = nullptr;
    std::shared_ptr<const Graph> variant_;  // the last-row graph; null: the model's
    LmConfig cfg_;
    Tokenizer tok_;
    bool has_tok_ = false;
    int64_t ctx_ = 0;
    int64_t pos_ = 0;
    int64_t pos_value_ = 0;
    bool have_logits_ = false;
    size_t logits_output_ = 0;
    // Caches: calloc'd, so pages are only touched (and committed) as positions fill.
    struct FreeDeleter {
        void operator()(float *p) const { std::free(p); }
    };
    std::unique_ptr<float, FreeDeleter> k_cache_, v_cache_;
    std::vector<float> logits_;
    std::vector<int64_t> tokens_;
    std::vector<int32_t> history_;
    ember_tensor in_tokens_, in_pos_, in_k_, in_v_;
    const ember_tensor *inputs_[4] = {nullptr, nullptr, nullptr, nullptr};
    Sampler sampler_;
};

}  // namespace ember
