// gguf_import.cc — GGUF v2/v3 files of architecture "llama" (lm_import.h).
//
// Layout (ggml's docs/gguf.md), little-endian:
//   u32 magic "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x { string key, u32 type, value },        string = u64 length + bytes
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset },
//   padding to general.alignment (default 32), then the tensor data; each offset is
//   relative to the data start and a multiple of the alignment.
// ne[0] is the fastest-varying dimension, so a matrix with ne = [in, out] is row-major
// [out][in]: the layout ember.Linear takes.
//
// Every count is checked against the bytes left before anything is allocated, every
// string and array is bounded, tensors must lie inside the file without overlapping,
// and each tensor's shape must be what the configuration implies. F32 tensors are used
// as they are; F16 and BF16 are widened to float32; Q8_0 and Q4_0 weight matrices keep their
// blocks (Ember's are GGML's), stored as q8_0x8 / q4_0x8 (the same blocks with rows
// interleaved by 8, core/kernels/llm_quant.h), norm weights of those types are dequantised;
// other quantised types are refused (EMBER_ERR_UNSUPPORTED).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "core/kernels/llm_quant.h"
#include "core/node_eval.h"
#include "formats/lm_import.h"

namespace ember {

namespace {

enum : uint32_t {
    kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
    kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

size_t scalar_size(uint32_t t) {
    switch (t) {
        case kU8: case kI8: case kBool: return 1;
        case kU16: case kI16: return 2;
        case kU32: case kI32: case kF32: return 4;
        case kU64: case kI64: case kF64: return 8;
        default: return 0;
    }
}

const char *type_name(uint32_t t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
                                  "string", "array", "u64", "i64", "f64"};
    return t <= kF64 ? names[t] : "unknown";
}

// ggml tensor types: block size (elements) and bytes per block.
struct GgmlType {
    uint32_t id;
    const char *name;
    int64_t block, bytes;
};
const GgmlType kGgmlTypes[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},  {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292},  {24, "I8", 1, 1},       {25, "I16", 1, 2},
    {26, "I32", 1, 4},      {27, "I64", 1, 8},       {28, "F64", 1, 8},      {30, "BF16", 1, 2},
};
const GgmlType *ggml_type(uint32_t id) {
    for (const GgmlType &t : kGgmlTypes)
        if (t.id == id) return &t;
    return nullptr;
}

struct KV {
    uint32_t type = 0;
    size_t offset = 0;          // of the value, for messages
    // scalars
    bool is_int = false;
    int64_t i = 0;              // integer types (u64 above INT64_MAX: not is_int)
    double f = 0.0;             // f32 / f64
    bool b = false;
    std::string s;
    // arrays: element type, count and the offset of the first element
    uint32_t elem = 0;
    uint64_t count = 0;
    size_t data = 0;
};

struct GgufTensor {
    std::string name;
    std::vector<int64_t> ne;
    const GgmlType *type = nullptr;
    uint64_t offset = 0;  // relative to the data start
    uint64_t nbytes = 0;
    bool used = false;
};

class Parser {
public:
    Parser(const uint8_t *p, size_t n) : p_(p), size_(n) {}

    Status parse();

    const uint8_t *p_;
    size_t size_;
    size_t off_ = 0;
    uint32_t version_ = 0;
    std::map<std::string, KV> kv_;
    std::vector<GgufTensor> tensors_;
    std::map<std::string, size_t> by_name_;
    size_t data_start_ = 0;
    uint64_t alignment_ = 32;

    size_t left() const { return size_ - off_; }
    Status short_read(const char *what, size_t need) const {
        return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: %s needs %zu bytes, %zu left (truncated file?)",
                      off_, what, need, left());
    }
    Status u32(uint32_t *v, const char *what) {
        if (left() < 4) return short_read(what, 4);
        std::memcpy(v, p_ + off_, 4);
        off_ += 4;
        return Status::OK();
    }
    Status u64(uint64_t *v, const char *what) {
        if (left() < 8) return short_read(what, 8);
        std::memcpy(v, p_ + off_, 8);
        off_ += 8;
        return Status::OK();
    }
    Status str(std::string *s, const char *what) {
        uint64_t n = 0;
        EMBER_RETURN_IF_ERROR(u64(&n, what));
        if (n > left())
            return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: %s is %llu bytes long, %zu bytes left",
                          off_ - 8, what, static_cast<unsigned long long>(n), left());
        s->assign(reinterpret_cast<const char *>(p_ + off_), static_cast<size_t>(n));
        off_ += static_cast<size_t>(n);
        return Status::OK();
    }
    Status skip_string(const char *what) {
        uint64_t n = 0;
        EMBER_RETURN_IF_ERROR(u64(&n, what));
        if (n > left())
            return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: %s is %llu bytes long, %zu bytes left",
                          off_ - 8, what, static_cast<unsigned long long>(n), left());
        off_ += static_cast<size_t>(n);
        return Status::OK();
    }
    Status value(uint32_t type, const std::string &key, int depth, KV *out);
    Status array(const std::string &key, int depth, KV *out);
};

Status Parser::value(uint32_t type, const std::string &key, int depth, KV *kv) {
    kv->type = type;
    kv->offset = off_;
    if (type == kString) return str(&kv->s, "a string value");
    if (type == kArray) return array(key, depth, kv);
    size_t n = scalar_size(type);
    if (n == 0)
        return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key '%s' has unknown value type %u", off_ - 4,
                      key.c_str(), type);
    if (left() < n) return short_read("a value", n);
    const uint8_t *q = p_ + off_;
    off_ += n;
    switch (type) {
        case kU8: kv->i = q[0]; kv->is_int = true; break;
        case kI8: kv->i = static_cast<int8_t>(q[0]); kv->is_int = true; break;
        case kBool: kv->b = q[0] != 0; break;
        case kU16: { uint16_t v; std::memcpy(&v, q, 2); kv->i = v; kv->is_int = true; break; }
        case kI16: { int16_t v; std::memcpy(&v, q, 2); kv->i = v; kv->is_int = true; break; }
        case kU32: { uint32_t v; std::memcpy(&v, q, 4); kv->i = v; kv->is_int = true; break; }
        case kI32: { int32_t v; std::memcpy(&v, q, 4); kv->i = v; kv->is_int = true; break; }
        case kF32: { float v; std::memcpy(&v, q, 4); kv->f = v; break; }
        case kU64: {
            uint64_t v;
            std::memcpy(&v, q, 8);
            kv->is_int = v <= static_cast<uint64_t>(INT64_MAX);
            kv->i = static_cast<int64_t>(v);
            break;
        }
        case kI64: { int64_t v; std::memcpy(&v, q, 8); kv->i = v; kv->is_int = true; break; }
        case kF64: { double v; std::memcpy(&v, q, 8); kv->f = v; break; }
    }
    return Status::OK();
}

Status Parser::array(const std::string &key, int depth, KV *kv) {
    if (depth > 3)
        return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key '%s': arrays nested too deep", off_, key.c_str());
    EMBER_RETURN_IF_ERROR(u32(&kv->elem, "an array's element type"));
    EMBER_RETURN_IF_ERROR(u64(&kv->count, "an array's count"));
    kv->data = off_;
    size_t es = scalar_size(kv->elem);
    if (es) {
        if (kv->count > left() / es)
            return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key '%s': %llu %s elements need more than the %zu bytes left",
                          off_ - 12, key.c_str(), static_cast<unsigned long long>(kv->count),
                          type_name(kv->elem), left());
        off_ += static_cast<size_t>(kv->count) * es;
        return Status::OK();
    }
    if (kv->elem != kString && kv->elem != kArray)
        return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key '%s': unknown array element type %u",
                      off_ - 12, key.c_str(), kv->elem);
    // Strings take at least 8 bytes, nested arrays at least 12: bound the count first.
    if (kv->count > left() / (kv->elem == kString ? 8 : 12))
        return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key '%s': %llu %s elements cannot fit in the %zu bytes left",
                      off_ - 12, key.c_str(), static_cast<unsigned long long>(kv->count),
                      type_name(kv->elem), left());
    for (uint64_t i = 0; i < kv->count; i++) {
        if (kv->elem == kString) {
            EMBER_RETURN_IF_ERROR(skip_string("an array string"));
        } else {
            KV inner;
            EMBER_RETURN_IF_ERROR(array(key, depth + 1, &inner));
        }
    }
    return Status::OK();
}

Status Parser::parse() {
    if (size_ < 4 || std::memcmp(p_, "GGUF", 4) != 0)
        return errorf(EMBER_ERR_FORMAT, "GGUF: the file does not start with the magic \"GGUF\"");
    off_ = 4;
    EMBER_RETURN_IF_ERROR(u32(&version_, "the version"));
    if (version_ == 1)
        return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: version 1 files are not supported (convert to v3)");
    if (version_ != 2 && version_ != 3)
        return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: version %u is not supported (2 and 3 are)", version_);
    uint64_t n_tensors = 0, n_kv = 0;
    EMBER_RETURN_IF_ERROR(u64(&n_tensors, "the tensor count"));
    EMBER_RETURN_IF_ERROR(u64(&n_kv, "the key/value count"));
    // A key/value takes at least 13 bytes, a tensor info at least 24.
    if (n_kv > left() / 13)
        return errorf(EMBER_ERR_FORMAT, "GGUF: %llu key/value pairs cannot fit in a %zu-byte file",
                      static_cast<unsigned long long>(n_kv), size_);
    if (n_tensors > left() / 24)
        return errorf(EMBER_ERR_FORMAT, "GGUF: %llu tensors cannot fit in a %zu-byte file",
                      static_cast<unsigned long long>(n_tensors), size_);
    for (uint64_t i = 0; i < n_kv; i++) {
        std::string key;
        EMBER_RETURN_IF_ERROR(str(&key, "a key"));
        if (key.empty()) return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: key %llu is empty", off_,
                                       static_cast<unsigned long long>(i));
        uint32_t type = 0;
        EMBER_RETURN_IF_ERROR(u32(&type, "a value type"));
        KV kv;
        EMBER_RETURN_IF_ERROR(value(type, key, 0, &kv));
        if (!kv_.emplace(key, std::move(kv)).second)
            return errorf(EMBER_ERR_FORMAT, "GGUF: key '%s' appears twice", key.c_str());
    }
    auto al = kv_.find("general.alignment");
    if (al != kv_.end()) {
        const KV &a = al->second;
        if (!a.is_int || a.i <= 0 || a.i > (1 << 20) || (a.i & (a.i - 1)) != 0)
            return errorf(EMBER_ERR_FORMAT, "GGUF: general.alignment must be a power of two up to 2^20");
        alignment_ = static_cast<uint64_t>(a.i);
    }
    tensors_.resize(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; i++) {
        GgufTensor &t = tensors_[i];
        size_t at = off_;
        EMBER_RETURN_IF_ERROR(str(&t.name, "a tensor name"));
        if (t.name.empty() || t.name.size() > 256)
            return errorf(EMBER_ERR_FORMAT, "GGUF: offset 0x%zx: tensor %llu has a name of %zu bytes", at,
                          static_cast<unsigned long long>(i), t.name.size());
        uint32_t nd = 0;
        EMBER_RETURN_IF_ERROR(u32(&nd, "a tensor's dimension count"));
        if (nd < 1 || nd > 4)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s' has %u dimensions (1 to 4 allowed)", t.name.c_str(), nd);
        int64_t numel = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne = 0;
            EMBER_RETURN_IF_ERROR(u64(&ne, "a tensor dimension"));
            if (ne > static_cast<uint64_t>(kMaxElements) ||
                (ne > 0 && numel > kMaxElements / static_cast<int64_t>(ne)))
                return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s': dimension %u = %llu makes it larger than %lld elements",
                              t.name.c_str(), d, static_cast<unsigned long long>(ne),
                              static_cast<long long>(kMaxElements));
            t.ne.push_back(static_cast<int64_t>(ne));
            numel *= static_cast<int64_t>(ne);
        }
        uint32_t type = 0;
        EMBER_RETURN_IF_ERROR(u32(&type, "a tensor type"));
        t.type = ggml_type(type);
        if (!t.type)
            return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: tensor '%s' has ggml type %u, which Ember does not know",
                          t.name.c_str(), type);
        if (t.ne[0] % t.type->block != 0)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s': %s rows of %lld elements are not whole blocks of %lld",
                          t.name.c_str(), t.type->name, static_cast<long long>(t.ne[0]),
                          static_cast<long long>(t.type->block));
        t.nbytes = static_cast<uint64_t>(numel / t.type->block) * static_cast<uint64_t>(t.type->bytes);
        EMBER_RETURN_IF_ERROR(u64(&t.offset, "a tensor offset"));
        if (t.offset % alignment_ != 0)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s': offset %llu is not a multiple of the alignment %llu",
                          t.name.c_str(), static_cast<unsigned long long>(t.offset),
                          static_cast<unsigned long long>(alignment_));
        if (!by_name_.emplace(t.name, static_cast<size_t>(i)).second)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensor name '%s' appears twice", t.name.c_str());
    }
    uint64_t start = (off_ + alignment_ - 1) / alignment_ * alignment_;
    if (n_tensors == 0) start = std::min<uint64_t>(start, size_);
    if (start > size_)
        return errorf(EMBER_ERR_FORMAT, "GGUF: the data section would start at 0x%llx, past the end of the file (0x%zx)",
                      static_cast<unsigned long long>(start), size_);
    data_start_ = static_cast<size_t>(start);
    const uint64_t data_size = size_ - data_start_;
    std::vector<const GgufTensor *> order;
    for (const GgufTensor &t : tensors_) {
        if (t.offset > data_size || t.nbytes > data_size - t.offset)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s': data [0x%llx, +%llu) ends past the end of the file (truncated?)",
                          t.name.c_str(), static_cast<unsigned long long>(data_start_ + t.offset),
                          static_cast<unsigned long long>(t.nbytes));
        order.push_back(&t);
    }
    std::sort(order.begin(), order.end(), [](const GgufTensor *a, const GgufTensor *b) { return a->offset < b->offset; });
    for (size_t i = 1; i < order.size(); i++)
        if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset && order[i - 1]->nbytes && order[i]->nbytes)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tensors '%s' and '%s' overlap", order[i - 1]->name.c_str(),
                          order[i]->name.c_str());
    return Status::OK();
}

// ---- the llama model on top of a parsed file ----

class LlamaGguf {
public:
    LlamaGguf(Parser &p, const Bytes &file) : p_(p), file_(file) {}

    const KV *find(const std::string &key) const {
        auto it = p_.kv_.find(key);
        return it == p_.kv_.end() ? nullptr : &it->second;
    }

    // An integer key; `required` false leaves *out alone when absent.
    Status get_int(const std::string &key, bool required, int64_t *out) const {
        const KV *kv = find(key);
        if (!kv) {
            if (required) return errorf(EMBER_ERR_FORMAT, "GGUF: required key '%s' is missing", key.c_str());
            return Status::OK();
        }
        if (!kv->is_int)
            return errorf(EMBER_ERR_FORMAT, "GGUF: key '%s' is a %s, expected an integer", key.c_str(),
                          type_name(kv->type));
        *out = kv->i;
        return Status::OK();
    }
    Status get_float(const std::string &key, double *out) const {
        const KV *kv = find(key);
        if (!kv) return Status::OK();
        if (kv->type == kF32 || kv->type == kF64) *out = kv->f;
        else if (kv->is_int) *out = static_cast<double>(kv->i);
        else return errorf(EMBER_ERR_FORMAT, "GGUF: key '%s' is a %s, expected a number", key.c_str(), type_name(kv->type));
        return Status::OK();
    }
    bool get_bool(const std::string &key, bool dflt) const {
        const KV *kv = find(key);
        if (!kv) return dflt;
        if (kv->type == kBool) return kv->b;
        if (kv->is_int) return kv->i != 0;
        return dflt;
    }

    Status tokenizer(int64_t *vocab, Tokenizer *out, bool *present) const;
    // `blocks`: a weight matrix, whose Q8_0 / Q4_0 blocks are kept as they are; other
    // tensors (norm weights) of those types are dequantised to float32.
    Status tensor(const std::string &name, std::vector<int64_t> ne, LmTensor *out, bool required = true,
                  bool blocks = false);
    Status unused_tensor() const {
        for (const GgufTensor &t : p_.tensors_)
            if (!t.used)
                return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: tensor '%s' is not part of the llama graph Ember builds "
                              "(RoPE scaling, biases and other variants are not supported yet)", t.name.c_str());
        return Status::OK();
    }

private:
    Parser &p_;
    Bytes file_;
};

Status LlamaGguf::tokenizer(int64_t *vocab, Tokenizer *out, bool *present) const {
    *present = false;
    const KV *model = find("tokenizer.ggml.model");
    if (!model) return Status::OK();
    if (model->type != kString) return errorf(EMBER_ERR_FORMAT, "GGUF: tokenizer.ggml.model is not a string");
    if (model->s != "llama")
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "GGUF: tokenizer model '%s' is not supported (only 'llama', SentencePiece BPE)",
                      model->s.c_str());
    const KV *toks = find("tokenizer.ggml.tokens");
    if (!toks || toks->type != kArray || toks->elem != kString)
        return errorf(EMBER_ERR_FORMAT, "GGUF: tokenizer.ggml.tokens is missing or not an array of strings");
    if (toks->count == 0 || toks->count > static_cast<uint64_t>(kMaxVocab))
        return errorf(EMBER_ERR_FORMAT, "GGUF: tokenizer.ggml.tokens has %llu entries (1 to %lld allowed)",
                      static_cast<unsigned long long>(toks->count), static_cast<long long>(kMaxVocab));
    const size_t n = static_cast<size_t>(toks->count);
    Tokenizer t;
    t.pieces.resize(n);
    t.scores.assign(n, 0.0f);
    t.types.assign(n, static_cast<uint8_t>(TokenType::Normal));
    // The array was bounds-checked while parsing; read it again.
    Parser r(p_.p_, p_.size_);
    r.off_ = toks->data;
    for (size_t i = 0; i < n; i++) EMBER_RETURN_IF_ERROR(r.str(&t.pieces[i], "a token"));
    if (const KV *sc = find("tokenizer.ggml.scores")) {
        if (sc->type != kArray || sc->elem != kF32 || sc->count != toks->count)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tokenizer.ggml.scores must be %zu f32 values", n);
        std::memcpy(t.scores.data(), p_.p_ + sc->data, n * 4);
    }
    if (const KV *ty = find("tokenizer.ggml.token_type")) {
        if (ty->type != kArray || (ty->elem != kI32 && ty->elem != kU32) || ty->count != toks->count)
            return errorf(EMBER_ERR_FORMAT, "GGUF: tokenizer.ggml.token_type must be %zu i32 values", n);
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            std::memcpy(&v, p_.p_ + ty->data + 4 * i, 4);
            if (v < 0 || v > static_cast<int32_t>(TokenType::Byte))
                return errorf(EMBER_ERR_FORMAT, "GGUF: token %zu ('%s') has unknown type %d", i,
                              t.pieces[i].c_str(), v);
            t.types[i] = static_cast<uint8_t>(v);
        }
    }
    auto special = [&](const char *key, int64_t dflt, int32_t *id) -> Status {
        int64_t v = dflt;
        EMBER_RETURN_IF_ERROR(get_int(key, false, &v));
        *id = v >= 0 && v < static_cast<int64_t>(n) ? static_cast<int32_t>(v) : -1;  // 0xFFFFFFFF: none
        return Status::OK();
    };
    EMBER_RETURN_IF_ERROR(special("tokenizer.ggml.bos_token_id", 1, &t.bos));
    EMBER_RETURN_IF_ERROR(special("tokenizer.ggml.eos_token_id", 2, &t.eos));
    EMBER_RETURN_IF_ERROR(special("tokenizer.ggml.unknown_token_id", 0, &t.unk));
    t.add_bos = get_bool("tokenizer.ggml.add_bos_token", true);
    t.add_space_prefix = get_bool("tokenizer.ggml.add_space_prefix", true);
    Status st = t.finalize();
    if (!st.ok()) return Status(st.code(), "GGUF: " + st.message());
    *vocab = static_cast<int64_t>(n);
    *out = std::move(t);
    *present = true;
    return Status::OK();
}

Status LlamaGguf::tensor(const std::string &name, std::vector<int64_t> ne, LmTensor *out, bool required,
                         bool blocks) {
    auto it = p_.by_name_.find(name);
    if (it == p_.by_name_.end()) {
        if (!required) return Status::OK();
        return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s' is missing", name.c_str());
    }
    GgufTensor &t = p_.tensors_[it->second];
    t.used = true;
    std::vector<int64_t> got = t.ne;
    while (got.size() > ne.size() && got.back() == 1) got.pop_back();
    if (got != ne) {
        std::string a, b;
        for (int64_t v : t.ne) a += (a.empty() ? "" : ", ") + std::to_string(v);
        for (int64_t v : ne) b += (b.empty() ? "" : ", ") + std::to_string(v);
        return errorf(EMBER_ERR_FORMAT, "GGUF: tensor '%s' has ne [%s], the configuration implies [%s]",
                      name.c_str(), a.c_str(), b.c_str());
    }
    const uint8_t *src = p_.p_ + p_.data_start_ + t.offset;
    const int64_t n = shape_numel(ne);
    if (t.type->id == 0 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0) {
        out->data = reinterpret_cast<const float *>(src);
        out->owner = file_;
        return Status::OK();
    }
    // Q8_0 (ggml type 8) and Q4_0 (2) have Ember's block layouts (core/kernels/llm_quant.h);
    // the parser checked that rows are whole blocks and the bytes lie inside the file.
    const bool q = t.type->id == 8 || t.type->id == 2;
    const DType qt = t.type->id == 8 ? DType::Q8_0 : DType::Q4_0;
    if (q && blocks && ne.size() == 2) {
        // Matrices are written with their rows interleaved by 8 (q8_0x8, q4_0x8), the
        // layout the decode kernels stream fastest (llm_quant.h); same bytes, reordered.
        Bytes buf = std::make_shared<std::vector<uint8_t>>(dtype_storage_bytes(qt, n));
        x8_pack(qt, src, ne[1], ne[0], buf->data());
        out->data = reinterpret_cast<const float *>(buf->data());
        out->owner = buf;
        out->dtype = qt == DType::Q4_0 ? DType::Q4_0X8 : DType::Q8_0X8;
        return Status::OK();
    }
    if (q && blocks) {
        out->data = reinterpret_cast<const float *>(src);  // blocks, 2-byte aligned at most
        out->owner = file_;
        out->dtype = qt;
        return Status::OK();
    }
    if (t.type->id != 0 && t.type->id != 1 && t.type->id != 30 && !q)
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "GGUF: tensor '%s' is %s; Ember imports F32, F16, BF16, Q8_0 and Q4_0 weights",
                      name.c_str(), t.type->name);
    Bytes buf = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(n) * sizeof(float));
    float *dst = reinterpret_cast<float *>(buf->data());
    if (t.type->id == 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    else if (q) dequantize_blocks(qt, src, n, dst);
    else convert_half_to_float(t.type->id == 1 ? DType::F16 : DType::BF16, src, dst, n);
    out->data = dst;
    out->owner = buf;
    return Status::OK();
}

Status import_llama(Parser &p, const Bytes &file, const LmImportOptions &opts, Graph *out) {
    LlamaGguf m(p, file);
    const KV *arch_kv = m.find("general.architecture");
    if (!arch_kv || arch_kv->type != kString)
        return errorf(EMBER_ERR_FORMAT, "GGUF: general.architecture is missing or not a string");
    const std::string arch = arch_kv->s;
    if (arch != "llama")
        return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: architecture '%s' is not supported (only 'llama')", arch.c_str());

    Tokenizer tok;
    bool has_tok = false;
    int64_t tok_vocab = 0;
    EMBER_RETURN_IF_ERROR(m.tokenizer(&tok_vocab, &tok, &has_tok));

    if (p.tensors_.empty()) {
        // Vocabulary-only file: a tokenizer model.
        if (!has_tok) return errorf(EMBER_ERR_FORMAT, "GGUF: the file has neither tensors nor a tokenizer");
        Graph g;
        tok.to_metadata(&g);
        g.metadata_set("lm.vocab", std::to_string(tok_vocab));
        g.metadata_set("lm.source", "gguf v" + std::to_string(p.version_) + " (vocabulary only)");
        g.metadata_set("producer", "ember convert (gguf)");
        EMBER_RETURN_IF_ERROR(g.validate_and_sort());
        *out = std::move(g);
        return Status::OK();
    }

    LmConfig c;
    const std::string a = arch + ".";
    EMBER_RETURN_IF_ERROR(m.get_int(a + "embedding_length", true, &c.dim));
    EMBER_RETURN_IF_ERROR(m.get_int(a + "block_count", true, &c.layers));
    EMBER_RETURN_IF_ERROR(m.get_int(a + "attention.head_count", true, &c.heads));
    c.kv_heads = c.heads;
    EMBER_RETURN_IF_ERROR(m.get_int(a + "attention.head_count_kv", false, &c.kv_heads));
    EMBER_RETURN_IF_ERROR(m.get_int(a + "feed_forward_length", true, &c.hidden));
    EMBER_RETURN_IF_ERROR(m.get_int(a + "context_length", true, &c.context));
    EMBER_RETURN_IF_ERROR(m.get_float(a + "rope.freq_base", &c.rope_theta));
    EMBER_RETURN_IF_ERROR(m.get_float(a + "attention.layer_norm_rms_epsilon", &c.norm_eps));
    if (m.find(a + "rope.scaling.type") || m.find(a + "rope.scaling.factor")) {
        const KV *st = m.find(a + "rope.scaling.type");
        if (!(st && st->type == kString && st->s == "none"))
            return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: RoPE scaling is not supported yet");
    }
    c.vocab = tok_vocab;
    if (c.vocab == 0) EMBER_RETURN_IF_ERROR(m.get_int(a + "vocab_size", false, &c.vocab));
    if (c.vocab == 0) {
        auto it = p.by_name_.find("token_embd.weight");
        if (it != p.by_name_.end() && p.tensors_[it->second].ne.size() >= 2) c.vocab = p.tensors_[it->second].ne[1];
    }
    c.bos = has_tok ? tok.bos : 1;
    c.eos = has_tok ? tok.eos : 2;
    if (c.vocab > 0 && c.bos >= c.vocab) c.bos = -1;
    if (c.vocab > 0 && c.eos >= c.vocab) c.eos = -1;
    EMBER_RETURN_IF_ERROR(lm_config_check(&c, "GGUF llama configuration"));
    int64_t rope_dim = c.head_dim;
    EMBER_RETURN_IF_ERROR(m.get_int(a + "rope.dimension_count", false, &rope_dim));
    if (rope_dim != c.head_dim)
        return errorf(EMBER_ERR_UNSUPPORTED, "GGUF: rope.dimension_count %lld differs from head_dim %lld "
                      "(partial rotary embedding is not supported)", static_cast<long long>(rope_dim),
                      static_cast<long long>(c.head_dim));

    const int64_t d = c.dim, kvd = c.kv_dim(), hid = c.hidden, V = c.vocab;
    LmWeights w;
    w.layers.resize(static_cast<size_t>(c.layers));
    EMBER_RETURN_IF_ERROR(m.tensor("token_embd.weight", {d, V}, &w.embed, true, true));
    EMBER_RETURN_IF_ERROR(m.tensor("output_norm.weight", {d}, &w.final_norm));
    EMBER_RETURN_IF_ERROR(m.tensor("output.weight", {d, V}, &w.classifier, false, true));
    // llama.cpp's llama2.c converter stores the tied classifier as a copy: tie it again.
    if (w.classifier.data && w.classifier.dtype == w.embed.dtype &&
        std::memcmp(w.classifier.data, w.embed.data, dtype_storage_bytes(w.embed.dtype, V * d)) == 0)
        w.classifier = LmTensor();
    for (int64_t l = 0; l < c.layers; l++) {
        const std::string b = "blk." + std::to_string(l) + ".";
        LmWeights::Layer &lw = w.layers[l];
        EMBER_RETURN_IF_ERROR(m.tensor(b + "attn_norm.weight", {d}, &lw.attn_norm));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "attn_q.weight", {d, d}, &lw.wq, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "attn_k.weight", {d, kvd}, &lw.wk, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "attn_v.weight", {d, kvd}, &lw.wv, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "attn_output.weight", {d, d}, &lw.wo, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "ffn_norm.weight", {d}, &lw.ffn_norm));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "ffn_gate.weight", {d, hid}, &lw.w1, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "ffn_down.weight", {hid, d}, &lw.w2, true, true));
        EMBER_RETURN_IF_ERROR(m.tensor(b + "ffn_up.weight", {d, hid}, &lw.w3, true, true));
    }
    EMBER_RETURN_IF_ERROR(m.unused_tensor());
    if (opts.context > 0) {
        if (opts.context > kLmMaxContext)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "context %lld is above the limit %lld",
                          static_cast<long long>(opts.context), static_cast<long long>(kLmMaxContext));
        c.context = opts.context;
    }
    EMBER_RETURN_IF_ERROR(build_lm_graph(c, w, has_tok ? &tok : nullptr, "ember convert (gguf)", out));
    out->metadata_set("lm.source", "gguf v" + std::to_string(p.version_));
    return Status::OK();
}

}  // namespace

Status import_gguf(const Bytes &file, const LmImportOptions &opts, Graph *out) {
    if (!file) return errorf(EMBER_ERR_INVALID_ARGUMENT, "GGUF: no bytes");
    Parser p(file->data(), file->size());
    EMBER_RETURN_IF_ERROR(p.parse());
    return import_llama(p, file, opts, out);
}

Status import_gguf_file(const std::string &path, const LmImportOptions &opts, Graph *out) {
    Bytes b;
    EMBER_RETURN_IF_ERROR(read_file_bytes(path, &b));
    return import_gguf(b, opts, out);
}

}  // namespace ember
