// llama2c_import.cc — llama2.c "version 0" checkpoints and tokenizer.bin (lm_import.h).
//
// Checkpoint (little-endian): seven int32 — dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size (negative: separate classifier), seq_len — then float32
// tensors, matrices row-major [out][in]:
//   token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
//   wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim],
//   w2[L][dim][hidden], w3[L][hidden][dim], rms_final[dim],
//   legacy RoPE tables freq_cis_real/imag [seq_len][head_dim/2] each (unused),
//   and, when vocab_size < 0, wcls[vocab][dim].
// Unlike run.c, the header is checked and the file size must be exactly what it implies
// (the RoPE tables may be absent, as some exporters leave them out).
//
// tokenizer.bin: int32 max_token_length, then per token: float32 score, int32 length,
// bytes. Spaces are stored as ' ' (SentencePiece's "▁" is restored here), BOS/EOS as
// "\n<s>\n" / "\n</s>\n", byte-fallback tokens as "<0xNN>".
#include <cctype>
#include <cstring>

#include "formats/lm_import.h"

namespace ember {

namespace {

int32_t rd_i32(const uint8_t *p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

Status parse_tokenizer_bin(const std::vector<uint8_t> &b, int64_t vocab, Tokenizer *out) {
    const size_t size = b.size();
    if (size < 4) return errorf(EMBER_ERR_FORMAT, "tokenizer: %zu bytes, too short for a header", size);
    int32_t max_len = rd_i32(b.data());
    if (max_len <= 0 || max_len > kMaxPieceBytes)
        return errorf(EMBER_ERR_FORMAT, "tokenizer: max_token_length %d is outside [1, %lld]", max_len,
                      static_cast<long long>(kMaxPieceBytes));
    if (vocab > static_cast<int64_t>((size - 4) / 8))
        return errorf(EMBER_ERR_FORMAT, "tokenizer: %zu bytes cannot hold the model's %lld tokens", size,
                      static_cast<long long>(vocab));
    Tokenizer t;
    t.pieces.resize(static_cast<size_t>(vocab));
    t.scores.resize(static_cast<size_t>(vocab));
    t.types.resize(static_cast<size_t>(vocab));
    size_t off = 4;
    for (int64_t i = 0; i < vocab; i++) {
        if (size - off < 8)
            return errorf(EMBER_ERR_FORMAT, "tokenizer: offset 0x%zx: token %lld of %lld cut short (file ends)",
                          off, static_cast<long long>(i), static_cast<long long>(vocab));
        std::memcpy(&t.scores[i], b.data() + off, 4);
        int32_t len = rd_i32(b.data() + off + 4);
        off += 8;
        if (len < 0 || static_cast<size_t>(len) > size - off)
            return errorf(EMBER_ERR_FORMAT, "tokenizer: offset 0x%zx: token %lld has length %d, %zu bytes left",
                          off - 4, static_cast<long long>(i), len, size - off);
        std::string p(reinterpret_cast<const char *>(b.data() + off), static_cast<size_t>(len));
        off += static_cast<size_t>(len);
        TokenType type = TokenType::Normal;
        if (p == "<unk>") {
            type = TokenType::Unknown;
            t.unk = static_cast<int32_t>(i);
        } else if (p == "\n<s>\n" || p == "<s>") {
            p = "<s>";
            type = TokenType::Control;
            t.bos = static_cast<int32_t>(i);
        } else if (p == "\n</s>\n" || p == "</s>") {
            p = "</s>";
            type = TokenType::Control;
            t.eos = static_cast<int32_t>(i);
        } else if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>' &&
                   std::isxdigit(static_cast<unsigned char>(p[3])) &&
                   std::isxdigit(static_cast<unsigned char>(p[4]))) {
            type = TokenType::Byte;
        } else {
            std::string s;
            for (char c : p) {
                if (c == ' ') s += "\xe2\x96\x81";
                else s += c;
            }
            p = std::move(s);
        }
        t.pieces[i] = std::move(p);
        t.types[i] = static_cast<uint8_t>(type);
    }
    if (off != size)
        return errorf(EMBER_ERR_FORMAT,
                      "tokenizer: %zu bytes after the model's %lld tokens: the tokenizer does not belong to "
                      "this model (another vocabulary size?)",
                      size - off, static_cast<long long>(vocab));
    EMBER_RETURN_IF_ERROR(t.finalize());
    *out = std::move(t);
    return Status::OK();
}

}  // namespace

Status import_llama2c(const Bytes &ckpt, const std::vector<uint8_t> *tok_bytes,
                      const LmImportOptions &opts, Graph *out) {
    if (!ckpt) return errorf(EMBER_ERR_INVALID_ARGUMENT, "llama2.c: no checkpoint bytes");
    const std::vector<uint8_t> &b = *ckpt;
    if (b.size() >= 4 && rd_i32(b.data()) == 0x616b3432)
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "llama2.c: this is a version 1/2 checkpoint (magic \"ak42\"); only the legacy "
                      "version 0 fp32 format is supported (export with --version 0)");
    if (b.size() < 28)
        return errorf(EMBER_ERR_FORMAT, "llama2.c: %zu bytes, too short for the 28-byte header", b.size());
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = rd_i32(b.data() + 4 * i);
    LmConfig c;
    c.dim = h[0];
    c.hidden = h[1];
    c.layers = h[2];
    c.heads = h[3];
    c.kv_heads = h[4];
    c.tied = h[5] > 0;
    c.vocab = h[5] < 0 ? -static_cast<int64_t>(h[5]) : h[5];
    c.context = h[6];
    c.bos = 1;
    c.eos = 2;
    EMBER_RETURN_IF_ERROR(lm_config_check(&c, "llama2.c header"));

    // Floats the header implies; each term is bounded by the limits, so no overflow.
    const int64_t L = c.layers, d = c.dim, kvd = c.kv_dim(), hid = c.hidden, V = c.vocab;
    const int64_t weights = V * d + L * d + L * d * d + 2 * L * kvd * d + L * d * d + L * d +
                            3 * L * hid * d + d;
    const int64_t rope = c.context * c.head_dim;
    const int64_t cls = c.tied ? 0 : V * d;
    const int64_t with_rope = 28 + 4 * (weights + rope + cls);
    const int64_t without_rope = 28 + 4 * (weights + cls);
    const int64_t size = static_cast<int64_t>(b.size());
    if (size != with_rope && size != without_rope)
        return errorf(EMBER_ERR_FORMAT,
                      "llama2.c: the header (dim %lld, hidden %lld, layers %lld, heads %lld, kv_heads %lld, "
                      "vocab %lld%s, seq_len %lld) implies a file of %lld bytes, but it has %lld%s",
                      static_cast<long long>(d), static_cast<long long>(hid), static_cast<long long>(L),
                      static_cast<long long>(c.heads), static_cast<long long>(c.kv_heads),
                      static_cast<long long>(V), c.tied ? "" : " untied", static_cast<long long>(c.context),
                      static_cast<long long>(with_rope), static_cast<long long>(size),
                      size < with_rope ? " (truncated?)" : "");
    const bool has_rope = size == with_rope;

    // Tensors in file order.
    const float *p = reinterpret_cast<const float *>(b.data() + 28);
    auto take = [&](int64_t n) {
        LmTensor t;
        t.data = p;
        t.owner = ckpt;
        p += n;
        return t;
    };
    LmWeights w;
    w.layers.resize(static_cast<size_t>(L));
    w.embed = take(V * d);
    for (auto &l : w.layers) l.attn_norm = take(d);
    for (auto &l : w.layers) l.wq = take(d * d);
    for (auto &l : w.layers) l.wk = take(kvd * d);
    for (auto &l : w.layers) l.wv = take(kvd * d);
    for (auto &l : w.layers) l.wo = take(d * d);
    for (auto &l : w.layers) l.ffn_norm = take(d);
    for (auto &l : w.layers) l.w1 = take(hid * d);
    for (auto &l : w.layers) l.w2 = take(d * hid);
    for (auto &l : w.layers) l.w3 = take(hid * d);
    w.final_norm = take(d);
    if (has_rope) take(rope);
    if (!c.tied) w.classifier = take(V * d);

    Tokenizer tok;
    if (tok_bytes) {
        EMBER_RETURN_IF_ERROR(parse_tokenizer_bin(*tok_bytes, V, &tok));
        if (tok.bos >= 0) c.bos = tok.bos;
        if (tok.eos >= 0) c.eos = tok.eos;
    }
    if (opts.context > 0) {
        if (opts.context > kLmMaxContext)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "context %lld is above the limit %lld",
                          static_cast<long long>(opts.context), static_cast<long long>(kLmMaxContext));
        c.context = opts.context;
    }
    Status st = build_lm_graph(c, w, tok_bytes ? &tok : nullptr, "ember convert (llama2.c v0)", out);
    if (st.ok()) out->metadata_set("lm.source", "llama2.c v0");
    return st;
}

Status import_llama2c_file(const std::string &checkpoint_path, const std::string &tokenizer_path,
                           const LmImportOptions &opts, Graph *out) {
    Bytes ckpt, tok;
    EMBER_RETURN_IF_ERROR(read_file_bytes(checkpoint_path, &ckpt));
    if (!tokenizer_path.empty()) {
        EMBER_RETURN_IF_ERROR(read_file_bytes(tokenizer_path, &tok));
        Status st = import_llama2c(ckpt, tok.get(), opts, out);
        if (!st.ok() && st.message().compare(0, 10, "tokenizer:") == 0)
            return Status(st.code(), tokenizer_path + ": " + st.message());
        return st;
    }
    return import_llama2c(ckpt, nullptr, opts, out);
}

}  // namespace ember
