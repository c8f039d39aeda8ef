// tokenizer.h — the SentencePiece-BPE tokenizer of Llama-family language models, as
// llama2.c and llama.cpp ("SPM" vocabulary) run it.
//
// Vocabulary: one piece per token id, in SentencePiece form (a space is U+2581 "▁"),
// with a score and a type (GGUF's codes). Byte-fallback tokens are "<0xNN>" (type Byte).
//
// Encoding (llama.cpp's llm_tokenizer_spm, which llama2.c's run.c encode() equals on
// these vocabularies):
//   1. if add_space_prefix and the text is not empty, prepend one space; replace every
//      space (0x20) with "▁";
//   2. split into UTF-8 characters (the length comes from the lead byte only, so broken
//      sequences become short symbols, never a read past the end);
//   3. repeatedly merge the adjacent pair whose concatenation is a vocabulary piece with
//      the highest score (ties: the leftmost pair);
//   4. each final symbol that is a piece gives its id; any other symbol gives one
//      byte-fallback token per byte ("<0xNN>", else the one-byte piece, else <unk>).
// Decoding: "▁" becomes a space, byte tokens become their byte, control tokens (BOS,
// EOS) give nothing, and a piece directly after BOS loses its leading space (run.c).
//
// Storage in a .ember file (formats/FORMAT.md, metadata key "lm.tokenizer"): a bytes
// value, little-endian: u32 count, then per token: u8 type, f32 score, u32 length,
// `length` bytes of piece. Special ids and flags are separate "lm.*" keys.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/graph.h"
#include "core/status.h"

namespace ember {

// Token types, with GGUF's tokenizer.ggml.token_type codes.
enum class TokenType : uint8_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

// A hostile vocabulary cannot ask for more than this.
constexpr int64_t kMaxVocab = int64_t(1) << 22;
constexpr int64_t kMaxPieceBytes = 1 << 16;

class Tokenizer {
public:
    // ---- vocabulary, filled by an importer or by parse() ----
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<uint8_t> types;  // TokenType codes
    int32_t bos = -1, eos = -1, unk = -1;
    bool add_space_prefix = true;
    bool add_bos = true;

    // Checks the vocabulary (sizes agree, ids in range, types known, pieces not too
    // long) and builds the lookup tables. Must succeed before encode()/decode().
    Status finalize();

    // Appends the ids of `text` to `*out`, after BOS when `with_bos` (and bos >= 0).
    // `parse_special`: control-token texts in `text` ("<s>", "</s>") become those ids.
    Status encode(const char *text, size_t len, bool with_bos, bool parse_special,
                  std::vector<int32_t> *out) const;
    // The bytes token `id` prints when it follows `prev` (-1: none); never allocates.
    // Returns false for an id out of range.
    bool piece(int32_t prev, int32_t id, const char **data, size_t *len) const;
    // Appends the text of ids[0, n) to `*out`; EMBER_ERR_INVALID_ARGUMENT on a bad id.
    Status decode(const int32_t *ids, size_t n, std::string *out) const;

    int32_t size() const { return static_cast<int32_t>(pieces.size()); }
    // Id of a piece, or -1.
    int32_t find(const std::string &piece) const;

    // The "lm.tokenizer" blob, and back (the blob is validated; then finalize()).
    std::string serialize() const;
    static Status parse(const std::string &blob, Tokenizer *out);

    // Stores the tokenizer in `g`'s metadata (lm.tokenizer, lm.tokenizer.model,
    // lm.bos/eos/unk, lm.tokenizer.add_bos, lm.tokenizer.add_space_prefix).
    void to_metadata(Graph *g) const;
    // Reads it back; EMBER_ERR_NOT_FOUND when the model has no tokenizer,
    // EMBER_ERR_FORMAT when it is damaged.
    static Status from_metadata(const Graph &g, Tokenizer *out);

private:
    std::unordered_map<std::string, int32_t> index_;  // piece -> id (last id wins, as llama.cpp)
    int32_t byte_ids_[256];                           // byte -> fallback id, -1 if none
    std::vector<std::string> display_;                // what each id prints
    std::vector<int32_t> specials_;                   // control ids, longest text first
    bool ready_ = false;

    void encode_fragment(const std::string &text, std::vector<int32_t> *out) const;
};

// Reads an integer / float "lm.*" metadata value; false if absent or malformed.
bool metadata_int(const Graph &g, const char *key, int64_t *out);
bool metadata_float(const Graph &g, const char *key, double *out);

}  // namespace ember
