// lm_import.h — language-model checkpoints -> an Ember graph (ember convert).
//
//   llama2.c "version 0" checkpoints (+ its tokenizer.bin)   formats/llama2c_import.cc
//   GGUF v2/v3 files of architecture "llama"                  formats/gguf_import.cc
//   the decoder graph both build                             formats/lm_import.cc
//
// The graph (docs/language-models.md): inputs tokens int64[T], pos int64[1], k_cache and
// v_cache float32[layers, context, kv_dim]; output logits float32[T, vocab]. Weights stay
// in the checkpoints' [out, in] layout (ember.Linear computes x W^T). The model
// configuration and the tokenizer go into metadata (core/lm_config.h, core/tokenizer.h).
//
// Parsing is fuzz-safe: every count, size and offset is checked against the bytes that
// are really there before use; damage gives EMBER_ERR_FORMAT with a message saying what
// and where, a feature Ember does not run (quantised tensors, another architecture)
// EMBER_ERR_UNSUPPORTED.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/lm_config.h"
#include "core/status.h"
#include "core/tokenizer.h"

namespace ember {

struct LmImportOptions {
    int64_t context = 0;  // > 0: overrides the trained context length stored as lm.context
};

using Bytes = std::shared_ptr<std::vector<uint8_t>>;

// llama2.c: `checkpoint` (required) and `tokenizer` (may be null: no tokenizer stored).
Status import_llama2c(const Bytes &checkpoint, const std::vector<uint8_t> *tokenizer,
                      const LmImportOptions &opts, Graph *out);
Status import_llama2c_file(const std::string &checkpoint_path, const std::string &tokenizer_path,
                           const LmImportOptions &opts, Graph *out);

// GGUF. A file without tensors (a vocabulary-only GGUF) gives a tokenizer-only model:
// no graph, the tokenizer and lm.vocab only.
Status import_gguf(const Bytes &file, const LmImportOptions &opts, Graph *out);
Status import_gguf_file(const std::string &path, const LmImportOptions &opts, Graph *out);

// "gguf" when the bytes start with GGUF's magic, "llama2c" for a llama2.c header (its
// seven int32 fit the checks of a plausible model), else "".
std::string lm_sniff(const uint8_t *data, size_t size);

// Reads a whole file (EMBER_ERR_IO when it cannot).
Status read_file_bytes(const std::string &path, Bytes *out);

// ---- shared by the importers (formats/lm_import.cc) ----

// One weight tensor: `data` points into `owner`'s bytes: float32, or Q8_0 / Q4_0 blocks
// when `dtype` says so (GGUF; weight matrices only), then reinterpreted from bytes.
struct LmTensor {
    const float *data = nullptr;
    Bytes owner;
    DType dtype = DType::F32;
};

struct LmWeights {
    LmTensor embed;       // [vocab, dim]
    LmTensor final_norm;  // [dim]
    LmTensor classifier;  // [vocab, dim]; data == nullptr: tied to embed
    struct Layer {
        LmTensor attn_norm;       // [dim]
        LmTensor wq, wk, wv, wo;  // [dim, dim], [kv_dim, dim], [kv_dim, dim], [dim, dim]
        LmTensor ffn_norm;        // [dim]
        LmTensor w1, w2, w3;      // gate [hidden, dim], down [dim, hidden], up [hidden, dim]
    };
    std::vector<Layer> layers;
};

// Builds the decoder graph, validates it and stores config, tokenizer (when `tok` is not
// null) and producer in the metadata.
Status build_lm_graph(const LmConfig &c, const LmWeights &w, const Tokenizer *tok,
                      const std::string &producer, Graph *out);

}  // namespace ember
