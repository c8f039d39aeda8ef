// lm_config.h — the configuration of a decoder-only (Llama-family) language model as a
// .ember file stores it: "lm.*" metadata keys (formats/FORMAT.md), written by the
// importers (formats/lm_import.h) and read by the generator (core/generate.h).
#pragma once

#include <cstdint>
#include <string>

#include "core/graph.h"
#include "core/status.h"

namespace ember {

struct LmConfig {
    std::string arch = "llama";  // lm.arch
    int64_t dim = 0;             // lm.dim: model width (d_model)
    int64_t layers = 0;          // lm.layers
    int64_t heads = 0;           // lm.heads: query heads
    int64_t kv_heads = 0;        // lm.kv_heads: key/value heads (heads % kv_heads == 0)
    int64_t head_dim = 0;        // lm.head_dim: dim / heads
    int64_t hidden = 0;          // lm.hidden: feed-forward width
    int64_t vocab = 0;           // lm.vocab
    int64_t context = 0;         // lm.context: trained context length (positions)
    double rope_theta = 10000.0; // lm.rope_theta
    double norm_eps = 1e-5;      // lm.norm_eps: RMSNorm epsilon
    bool tied = true;            // lm.tied: classifier shares the token embedding
    int64_t bos = -1, eos = -1;  // lm.bos, lm.eos (-1: none)

    int64_t kv_dim() const { return kv_heads * head_dim; }
};

// Hard limits on a configuration read from a file.
constexpr int64_t kLmMaxDim = int64_t(1) << 16;
constexpr int64_t kLmMaxLayers = 1024;
constexpr int64_t kLmMaxHeads = 4096;
constexpr int64_t kLmMaxContext = int64_t(1) << 24;

// Checks the numbers of `c` (positive, within limits, heads dividing dim, kv_heads
// dividing heads, even head_dim); head_dim is computed when 0. EMBER_ERR_FORMAT with
// `what` ("llama2.c header") in the message.
Status lm_config_check(LmConfig *c, const char *what);

// Writes / reads the lm.* keys (not the tokenizer's: see core/tokenizer.h).
void lm_config_to_metadata(const LmConfig &c, Graph *g);
// EMBER_ERR_INVALID_ARGUMENT "not a language model" when lm.layers is absent;
// EMBER_ERR_FORMAT when a key is malformed or the numbers do not agree.
Status lm_config_from_metadata(const Graph &g, LmConfig *c);

}  // namespace ember
