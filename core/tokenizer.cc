// tokenizer.cc — SentencePiece-BPE encode/decode and the vocabulary blob (tokenizer.h).
#include "core/tokenizer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <queue>

namespace ember {

namespace {

const char kSpaceMark[] = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

// Length of the UTF-8 sequence a lead byte starts (llama.cpp's table: continuation
// bytes and invalid lead bytes count as one).
size_t utf8_len(unsigned char c) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

// "<0xNN>" -> NN, or -1.
int parse_byte_piece(const std::string &p) {
    if (p.size() != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

std::string replace_all(const std::string &s, const std::string &from, const std::string &to) {
    std::string r;
    r.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        if (s.compare(i, from.size(), from) == 0) {
            r += to;
            i += from.size();
        } else {
            r += s[i++];
        }
    }
    return r;
}

void put_u32(std::string *b, uint32_t v) {
    for (int i = 0; i < 4; i++) b->push_back(static_cast<char>(v >> (8 * i)));
}

uint32_t get_u32(const unsigned char *p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

struct Symbol {
    size_t start = 0, n = 0;  // bytes of the text
    int prev = -1, next = -1;
};

struct Bigram {
    int left, right;
    float score;
    size_t size;
};

struct BigramOrder {
    bool operator()(const Bigram &l, const Bigram &r) const {
        return l.score < r.score || (l.score == r.score && l.left > r.left);
    }
};

}  // namespace

bool metadata_int(const Graph &g, const char *key, int64_t *out) {
    const std::string *v = g.metadata_get(key);
    if (!v || v->empty()) return false;
    errno = 0;
    char *end = nullptr;
    long long x = std::strtoll(v->c_str(), &end, 10);
    if (errno != 0 || end != v->c_str() + v->size()) return false;
    *out = x;
    return true;
}

bool metadata_float(const Graph &g, const char *key, double *out) {
    const std::string *v = g.metadata_get(key);
    if (!v || v->empty()) return false;
    errno = 0;
    char *end = nullptr;
    double x = std::strtod(v->c_str(), &end);
    if (errno != 0 || end != v->c_str() + v->size() || !std::isfinite(x)) return false;
    *out = x;
    return true;
}

Status Tokenizer::finalize() {
    ready_ = false;
    const size_t n = pieces.size();
    if (n == 0) return errorf(EMBER_ERR_FORMAT, "tokenizer: the vocabulary is empty");
    if (static_cast<int64_t>(n) > kMaxVocab)
        return errorf(EMBER_ERR_FORMAT, "tokenizer: %zu tokens, more than the limit of %lld", n,
                      static_cast<long long>(kMaxVocab));
    if (scores.size() != n || types.size() != n)
        return errorf(EMBER_ERR_FORMAT, "tokenizer: %zu pieces but %zu scores and %zu types", n,
                      scores.size(), types.size());
    for (int32_t id : {bos, eos, unk})
        if (id < -1 || id >= static_cast<int32_t>(n))
            return errorf(EMBER_ERR_FORMAT, "tokenizer: special id %d outside the vocabulary of %zu",
                          id, n);
    index_.clear();
    index_.reserve(n * 2);
    display_.assign(n, std::string());
    specials_.clear();
    for (int i = 0; i < 256; i++) byte_ids_[i] = -1;
    for (size_t i = 0; i < n; i++) {
        const std::string &p = pieces[i];
        if (static_cast<int64_t>(p.size()) > kMaxPieceBytes)
            return errorf(EMBER_ERR_FORMAT, "tokenizer: token %zu is %zu bytes long", i, p.size());
        if (types[i] > static_cast<uint8_t>(TokenType::Byte))
            return errorf(EMBER_ERR_FORMAT, "tokenizer: token %zu has unknown type %u", i, types[i]);
        if (!std::isfinite(scores[i]))
            return errorf(EMBER_ERR_FORMAT, "tokenizer: token %zu has a non-finite score", i);
        index_[p] = static_cast<int32_t>(i);
        TokenType t = static_cast<TokenType>(types[i]);
        if (t == TokenType::Byte) {
            int b = parse_byte_piece(p);
            if (b < 0)
                return errorf(EMBER_ERR_FORMAT, "tokenizer: byte token %zu is '%s', not <0xNN>", i,
                              p.c_str());
            display_[i] = std::string(1, static_cast<char>(b));
        } else if (t == TokenType::Control) {
            display_[i] = "";
        } else {
            display_[i] = replace_all(p, kSpaceMark, " ");
        }
        if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) &&
            !p.empty())
            specials_.push_back(static_cast<int32_t>(i));
    }
    // Byte fallback: "<0xNN>" (upper-case hex, as llama.cpp looks it up), else the byte
    // itself as a piece.
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char buf[7] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>', 0};
        auto it = index_.find(buf);
        if (it == index_.end()) it = index_.find(std::string(1, static_cast<char>(b)));
        byte_ids_[b] = it == index_.end() ? -1 : it->second;
    }
    std::stable_sort(specials_.begin(), specials_.end(), [&](int32_t a, int32_t b) {
        return pieces[a].size() > pieces[b].size();
    });
    ready_ = true;
    return Status::OK();
}

int32_t Tokenizer::find(const std::string &piece) const {
    auto it = index_.find(piece);
    return it == index_.end() ? -1 : it->second;
}

void Tokenizer::encode_fragment(const std::string &text, std::vector<int32_t> *out) const {
    // 2. UTF-8 characters as a doubly linked list of symbols.
    std::vector<Symbol> sym;
    sym.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
        Symbol s;
        s.start = off;
        s.n = std::min(utf8_len(static_cast<unsigned char>(text[off])), text.size() - off);
        off += s.n;
        s.prev = static_cast<int>(sym.size()) - 1;
        s.next = off == text.size() ? -1 : static_cast<int>(sym.size()) + 1;
        sym.push_back(s);
    }
    if (sym.empty()) return;
    // 3. Best-scoring merges first; stale queue entries are recognised by their size.
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue;
    std::string buf;
    auto try_add = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        buf.assign(text, sym[left].start, sym[left].n + sym[right].n);
        auto it = index_.find(buf);
        if (it == index_.end()) return;
        queue.push(Bigram{left, right, scores[it->second], buf.size()});
    };
    for (int i = 1; i < static_cast<int>(sym.size()); i++) try_add(i - 1, i);
    while (!queue.empty()) {
        Bigram b = queue.top();
        queue.pop();
        Symbol &l = sym[b.left], &r = sym[b.right];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) sym[r.next].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    // 4. Pieces, or byte fallback. (Merges only ever form pieces, so a symbol that is
    // not one is a single character.)
    for (int i = 0; i != -1; i = sym[i].next) {
        const Symbol &s = sym[i];
        buf.assign(text, s.start, s.n);
        auto it = index_.find(buf);
        if (it != index_.end()) {
            out->push_back(it->second);
            continue;
        }
        for (size_t j = 0; j < s.n; j++) {
            int32_t id = byte_ids_[static_cast<unsigned char>(text[s.start + j])];
            out->push_back(id >= 0 ? id : std::max<int32_t>(unk, 0));
        }
    }
}

Status Tokenizer::encode(const char *text, size_t len, bool with_bos, bool parse_special,
                         std::vector<int32_t> *out) const {
    if (!ready_) return errorf(EMBER_ERR_INTERNAL, "tokenizer used before finalize()");
    if (len && !text) return errorf(EMBER_ERR_INVALID_ARGUMENT, "text is NULL");
    if (with_bos && bos >= 0) out->push_back(bos);
    // Split out special-token texts (control and unknown only with parse_special;
    // user-defined pieces always, as llama.cpp does).
    bool prev_special = true;  // the first fragment gets the space prefix
    size_t pos = 0;
    std::string frag;
    auto flush = [&](size_t end) {
        if (end <= pos) return;
        frag.assign(text + pos, end - pos);
        if (add_space_prefix && prev_special) frag.insert(frag.begin(), ' ');
        encode_fragment(replace_all(frag, " ", kSpaceMark), out);
        prev_special = false;
    };
    size_t i = 0;
    while (i < len) {
        int32_t hit = -1;
        for (int32_t id : specials_) {
            TokenType t = static_cast<TokenType>(types[id]);
            if (!parse_special && t != TokenType::UserDefined) continue;
            const std::string &p = pieces[id];
            if (p.size() <= len - i && std::memcmp(text + i, p.data(), p.size()) == 0) {
                hit = id;
                break;
            }
        }
        if (hit < 0) {
            i++;
            continue;
        }
        flush(i);
        out->push_back(hit);
        prev_special = true;
        i += pieces[hit].size();
        pos = i;
    }
    flush(len);
    return Status::OK();
}

bool Tokenizer::piece(int32_t prev, int32_t id, const char **data, size_t *len) const {
    if (!ready_ || id < 0 || id >= size()) return false;
    const std::string &d = display_[id];
    size_t skip = prev >= 0 && prev == bos && !d.empty() && d[0] == ' ' ? 1 : 0;
    *data = d.data() + skip;
    *len = d.size() - skip;
    return true;
}

Status Tokenizer::decode(const int32_t *ids, size_t n, std::string *out) const {
    if (!ready_) return errorf(EMBER_ERR_INTERNAL, "tokenizer used before finalize()");
    int32_t prev = -1;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t len;
        if (!piece(prev, ids[i], &p, &len))
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "token id %d at index %zu is outside the vocabulary of %d",
                          ids[i], i, size());
        out->append(p, len);
        prev = ids[i];
    }
    return Status::OK();
}

std::string Tokenizer::serialize() const {
    std::string b;
    put_u32(&b, static_cast<uint32_t>(pieces.size()));
    for (size_t i = 0; i < pieces.size(); i++) {
        b.push_back(static_cast<char>(types[i]));
        uint32_t bits;
        std::memcpy(&bits, &scores[i], 4);
        put_u32(&b, bits);
        put_u32(&b, static_cast<uint32_t>(pieces[i].size()));
        b += pieces[i];
    }
    return b;
}

Status Tokenizer::parse(const std::string &blob, Tokenizer *out) {
    const unsigned char *p = reinterpret_cast<const unsigned char *>(blob.data());
    size_t left = blob.size();
    if (left < 4) return errorf(EMBER_ERR_FORMAT, "lm.tokenizer: %zu bytes, too short for a count", left);
    uint32_t count = get_u32(p);
    p += 4;
    left -= 4;
    if (count == 0 || count > kMaxVocab || count > left / 9)
        return errorf(EMBER_ERR_FORMAT, "lm.tokenizer: %u tokens cannot fit in %zu bytes", count, left);
    out->pieces.resize(count);
    out->scores.resize(count);
    out->types.resize(count);
    for (uint32_t i = 0; i < count; i++) {
        if (left < 9)
            return errorf(EMBER_ERR_FORMAT, "lm.tokenizer: token %u: entry cut short (%zu bytes left)", i, left);
        out->types[i] = p[0];
        uint32_t bits = get_u32(p + 1);
        std::memcpy(&out->scores[i], &bits, 4);
        uint32_t n = get_u32(p + 5);
        p += 9;
        left -= 9;
        if (n > left)
            return errorf(EMBER_ERR_FORMAT, "lm.tokenizer: token %u: %u bytes of piece, %zu left", i, n, left);
        out->pieces[i].assign(reinterpret_cast<const char *>(p), n);
        p += n;
        left -= n;
    }
    if (left != 0)
        return errorf(EMBER_ERR_FORMAT, "lm.tokenizer: %zu bytes after the last of %u tokens", left, count);
    return out->finalize();
}

void Tokenizer::to_metadata(Graph *g) const {
    g->metadata_set("lm.tokenizer.model", "llama");
    g->metadata_set("lm.tokenizer", serialize());
    g->metadata_set("lm.bos", std::to_string(bos));
    g->metadata_set("lm.eos", std::to_string(eos));
    g->metadata_set("lm.unk", std::to_string(unk));
    g->metadata_set("lm.tokenizer.add_bos", add_bos ? "1" : "0");
    g->metadata_set("lm.tokenizer.add_space_prefix", add_space_prefix ? "1" : "0");
}

Status Tokenizer::from_metadata(const Graph &g, Tokenizer *out) {
    const std::string *model = g.metadata_get("lm.tokenizer.model");
    const std::string *blob = g.metadata_get("lm.tokenizer");
    if (!model || !blob) return errorf(EMBER_ERR_NOT_FOUND, "the model has no tokenizer (metadata 'lm.tokenizer')");
    if (*model != "llama")
        return errorf(EMBER_ERR_UNSUPPORTED, "tokenizer model '%s' is not supported (only 'llama')",
                      model->c_str());
    Tokenizer t;
    int64_t v = -1;
    t.bos = metadata_int(g, "lm.bos", &v) ? static_cast<int32_t>(std::max<int64_t>(-1, std::min<int64_t>(v, kMaxVocab))) : -1;
    v = -1;
    t.eos = metadata_int(g, "lm.eos", &v) ? static_cast<int32_t>(std::max<int64_t>(-1, std::min<int64_t>(v, kMaxVocab))) : -1;
    v = -1;
    t.unk = metadata_int(g, "lm.unk", &v) ? static_cast<int32_t>(std::max<int64_t>(-1, std::min<int64_t>(v, kMaxVocab))) : -1;
    v = 1;
    t.add_bos = !metadata_int(g, "lm.tokenizer.add_bos", &v) || v != 0;
    v = 1;
    t.add_space_prefix = !metadata_int(g, "lm.tokenizer.add_space_prefix", &v) || v != 0;
    EMBER_RETURN_IF_ERROR(parse(*blob, &t));
    *out = std::move(t);
    return Status::OK();
}

}  // namespace ember
