// reader.cc — validates and loads a .ember file (layout: formats/FORMAT.md).
//
// Two passes. Pass 1 checks every byte the reader will ever use: the header, the
// section table (ranges inside the file, no overlaps, zero gaps, checksums), then it
// decodes metadata, graph and tensor table into a staging Graph whose constants have
// no data yet, checking every count against the bytes left before allocating, every
// string length, dtype, rank, dim, reference and tensor range. Pass 2 only attaches
// the tensors' views (pointers into `data`), runs Graph::validate_and_sort() and moves
// the result into `*out`. Nothing is written to `*out` or `*layout` on failure.
//
// Ranges are checked as `off <= size && len <= size - off`: off + len is never computed
// from unchecked numbers, so no sum can overflow.
#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <new>

#include "formats/crc32c.h"
#include "formats/ember_format.h"
#include "formats/format_spec.h"

namespace ember {

namespace {

using namespace fmt;

using ull = unsigned long long;

bool range_in(uint64_t off, uint64_t len, uint64_t limit) {
    return off <= limit && len <= limit - off;
}

// A name as it appears in messages: quoted, at most 64 bytes, control bytes as '?'.
std::string show(const std::string &s) {
    std::string r = "'";
    size_t n = std::min<size_t>(s.size(), 64);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        r += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
    }
    if (s.size() > n) r += "...";
    return r + "'";
}

std::string vformat(const char *fmt, va_list ap) {
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}

Status fail_at(ember_status code, uint64_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
Status fail_at(ember_status code, uint64_t at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string msg = vformat(fmt, ap);
    va_end(ap);
    return errorf(code, "offset 0x%llx: %s", static_cast<ull>(at), msg.c_str());
}

// What a cursor is decoding, for messages; formatted only when something fails.
struct Item {
    const char *kind = nullptr;  // "value", "node", ...; nullptr: the section itself
    uint64_t index = 0;
    const std::string *name = nullptr;
};

// Reads little-endian fields from [pos, end) of the file; every read is bounds-checked.
class Cursor {
public:
    Cursor(const uint8_t *base, uint64_t begin, uint64_t end, const char *section)
        : base_(base), pos_(begin), end_(end), section_(section) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return end_ - pos_; }
    Item item;

    // "offset 0x..: graph section, value 3 'x': <message>"
    Status fail(ember_status code, uint64_t at, const char *fmt, ...)
        __attribute__((format(printf, 4, 5))) {
        va_list ap;
        va_start(ap, fmt);
        std::string msg = vformat(fmt, ap);
        va_end(ap);
        std::string where = std::string(section_) + " section";
        if (item.kind) {
            where += std::string(", ") + item.kind + " " + std::to_string(item.index);
            if (item.name && !item.name->empty()) where += " " + show(*item.name);
        }
        return errorf(code, "offset 0x%llx: %s: %s", static_cast<ull>(at), where.c_str(),
                      msg.c_str());
    }

    Status take(uint64_t n, const char *what, const uint8_t **p) {
        if (n > left())
            return fail(EMBER_ERR_FORMAT, pos_,
                        "%s needs %llu bytes but the section ends at 0x%llx (%llu bytes left)",
                        what, static_cast<ull>(n), static_cast<ull>(end_),
                        static_cast<ull>(left()));
        *p = base_ + pos_;
        pos_ += n;
        return Status::OK();
    }
    Status u8(uint8_t *v, const char *what) {
        const uint8_t *p;
        EMBER_RETURN_IF_ERROR(take(1, what, &p));
        *v = *p;
        return Status::OK();
    }
    Status u16(uint16_t *v, const char *what) {
        const uint8_t *p;
        EMBER_RETURN_IF_ERROR(take(2, what, &p));
        *v = load_u16(p);
        return Status::OK();
    }
    Status u32(uint32_t *v, const char *what) {
        const uint8_t *p;
        EMBER_RETURN_IF_ERROR(take(4, what, &p));
        *v = load_u32(p);
        return Status::OK();
    }
    Status u64(uint64_t *v, const char *what) {
        const uint8_t *p;
        EMBER_RETURN_IF_ERROR(take(8, what, &p));
        *v = load_u64(p);
        return Status::OK();
    }
    Status i32(int32_t *v, const char *what) {
        uint32_t u;
        EMBER_RETURN_IF_ERROR(u32(&u, what));
        *v = static_cast<int32_t>(u);
        return Status::OK();
    }
    Status i64(int64_t *v, const char *what) {
        uint64_t u;
        EMBER_RETURN_IF_ERROR(u64(&u, what));
        *v = static_cast<int64_t>(u);
        return Status::OK();
    }
    Status f32(float *v, const char *what) {
        uint32_t u;
        EMBER_RETURN_IF_ERROR(u32(&u, what));
        std::memcpy(v, &u, 4);
        return Status::OK();
    }
    Status f64(double *v, const char *what) {
        uint64_t u;
        EMBER_RETURN_IF_ERROR(u64(&u, what));
        std::memcpy(v, &u, 8);
        return Status::OK();
    }
    // `bytes`: u32 length + that many bytes, anything allowed.
    Status bytes(std::string *s, const char *what) {
        uint64_t at = pos_;
        uint32_t n;
        EMBER_RETURN_IF_ERROR(u32(&n, what));
        if (n > left())
            return fail(EMBER_ERR_FORMAT, at,
                        "%s: length %u runs past the end of the section (%llu bytes left)", what,
                        n, static_cast<ull>(left()));
        const uint8_t *p;
        EMBER_RETURN_IF_ERROR(take(n, what, &p));
        s->assign(reinterpret_cast<const char *>(p), n);
        return Status::OK();
    }
    // `name`: like bytes, without NUL bytes; `nonempty` when "" is not allowed.
    Status name(std::string *s, const char *what, bool nonempty) {
        uint64_t at = pos_;
        EMBER_RETURN_IF_ERROR(bytes(s, what));
        if (std::memchr(s->data(), 0, s->size()))
            return fail(EMBER_ERR_FORMAT, at, "%s %s contains a NUL byte", what, show(*s).c_str());
        if (nonempty && s->empty()) return fail(EMBER_ERR_FORMAT, at, "%s is empty", what);
        return Status::OK();
    }
    // A u32 count of items that take at least `min_item` bytes each: bounded by the
    // bytes left, so nothing is ever allocated for items that cannot be in the file.
    Status count(uint32_t *n, uint64_t min_item, const char *what) {
        uint64_t at = pos_;
        EMBER_RETURN_IF_ERROR(u32(n, what));
        return check_count(*n, min_item, what, at);
    }
    Status check_count(uint32_t n, uint64_t min_item, const char *what, uint64_t at) {
        if (n > static_cast<uint32_t>(INT32_MAX) || n > left() / min_item)
            return fail(EMBER_ERR_FORMAT, at,
                        "%s %u cannot fit: each takes at least %llu bytes and only %llu are left",
                        what, n, static_cast<ull>(min_item), static_cast<ull>(left()));
        return Status::OK();
    }

private:
    const uint8_t *base_;
    uint64_t pos_, end_;
    const char *section_;
};

// ---- pass 1: header and section table ----

struct Header {
    uint16_t major = 0, minor = 0;
    uint64_t table_offset = 0;
    uint32_t section_count = 0, entry_size = 0;
};

struct Section {
    uint32_t kind = 0, flags = 0, crc = 0;
    uint64_t offset = 0, size = 0;
    uint64_t entry_at = 0;  // file offset of its table entry, for messages
};

// Staged tensor-table entry: where its bytes are, for pass 2.
struct TensorRec {
    int32_t value = -1;
    uint64_t rel = 0, nbytes = 0;
    uint64_t entry_at = 0;
};

class FileReader {
public:
    FileReader(const uint8_t *data, uint64_t size, const ReadOptions &opts)
        : data_(data), size_(size), opts_(opts) {}

    Status run(Graph *out, FileLayout *layout);

private:
    Status read_header();
    Status read_section_table();
    Status check_section_entry(uint64_t at, Section *s);
    Status check_overlaps_and_gaps();
    Status verify_checksums();
    Status read_metadata(const Section &s, Graph *g);
    Status read_graph(const Section &s, Graph *g);
    Status read_value(Cursor *c, Value *v);
    Status read_node(Cursor *c, const Graph &g, Node *n);
    Status read_attr(Cursor *c, const Graph &g, Attribute *a);
    Status read_ids(Cursor *c, int32_t nv, std::vector<int32_t> *ids, const char *what,
                    const char *count_what);
    Status check_unique_value_names(const Section &s, const Graph &g);
    Status read_tensors(const Section &s, Graph *g);
    Status read_tensor(Cursor *c, uint32_t t, Graph *g, TensorRec *rec);
    Status read_quant(Cursor *c, DType dtype, const Shape &dims, QuantParams *q);
    Status check_constant_links(const Section &s, const Graph &g);
    Status check_tensor_overlaps(const Graph &g);
    Status finish(const Cursor &c, const char *after);
    void fill_layout(FileLayout *layout) const;

    // Bytes past what this reader's version defines are allowed only in a file of a
    // newer minor version (which may append fields at the end of a section).
    bool newer_minor() const { return hdr_.minor > kVersionMinor; }
    const Section *find(uint32_t kind) const {
        for (const auto &s : sections_)
            if (s.kind == kind) return &s;
        return nullptr;
    }

    const uint8_t *data_;
    uint64_t size_;
    ReadOptions opts_;
    Header hdr_;
    std::vector<Section> sections_;
    std::vector<TensorRec> tensors_;
};

Status FileReader::read_header() {
    if (size_ >= 8 && std::memcmp(data_, kMagic, 8) != 0)
        return fail_at(EMBER_ERR_FORMAT, 0,
                       "bad magic %02x %02x %02x %02x %02x %02x %02x %02x: not an .ember file "
                       "(expected 89 45 4d 42 45 52 0d 0a, \"\\x89EMBER\\r\\n\")",
                       data_[0], data_[1], data_[2], data_[3], data_[4], data_[5], data_[6],
                       data_[7]);
    if (size_ >= 12) {  // magic and version are at the same place in every version
        hdr_.major = load_u16(data_ + kHdrMajor);
        hdr_.minor = load_u16(data_ + kHdrMinor);
        if (hdr_.major > kVersionMajor)
            return fail_at(EMBER_ERR_UNSUPPORTED, kHdrMajor,
                           "format version %u.%u is newer than this reader (%u.%u); "
                           "a newer Ember is needed",
                           hdr_.major, hdr_.minor, kVersionMajor, kVersionMinor);
        if (hdr_.major == 0)
            return fail_at(EMBER_ERR_FORMAT, kHdrMajor, "format version 0.%u is not valid",
                           hdr_.minor);
    }
    if (size_ < kHeaderSize)
        return fail_at(EMBER_ERR_FORMAT, 0,
                       "file is %llu bytes, shorter than the %zu-byte header (truncated?)",
                       static_cast<ull>(size_), kHeaderSize);
    if (opts_.verify_checksums) {
        uint32_t want = load_u32(data_ + kHdrCrc), got = crc32c(data_, kHdrCrc);
        if (want != got)
            return fail_at(EMBER_ERR_FORMAT, kHdrCrc,
                           "header checksum 0x%08x does not match the stored 0x%08x "
                           "(file damaged)",
                           got, want);
    }
    uint32_t flags = load_u32(data_ + kHdrFlags);
    if (flags & kHeaderFlagsMustUnderstand)
        return fail_at(EMBER_ERR_UNSUPPORTED, kHdrFlags,
                       "header flags 0x%08x use bits this reader does not know", flags);
    uint64_t file_size = load_u64(data_ + kHdrFileSize);
    if (file_size != size_)
        return fail_at(EMBER_ERR_FORMAT, kHdrFileSize,
                       "header says the file size is 0x%llx bytes but it is 0x%llx "
                       "(truncated or padded)",
                       static_cast<ull>(file_size), static_cast<ull>(size_));
    hdr_.table_offset = load_u64(data_ + kHdrTableOffset);
    hdr_.section_count = load_u32(data_ + kHdrSectionCount);
    hdr_.entry_size = load_u32(data_ + kHdrEntrySize);
    if (hdr_.entry_size < kEntrySize || hdr_.entry_size > kEntrySizeMax || hdr_.entry_size % 8)
        return fail_at(EMBER_ERR_FORMAT, kHdrEntrySize,
                       "section entry size %u is not a multiple of 8 in [%u, %u]",
                       hdr_.entry_size, kEntrySize, kEntrySizeMax);
    if (hdr_.section_count == 0 || hdr_.section_count > kMaxSections)
        return fail_at(EMBER_ERR_FORMAT, kHdrSectionCount, "section count %u is not in [1, %u]",
                       hdr_.section_count, kMaxSections);
    uint64_t table_size = uint64_t(hdr_.section_count) * hdr_.entry_size;  // <= 256 KiB
    if (hdr_.table_offset < kHeaderSize || hdr_.table_offset % kSectionAlign)
        return fail_at(EMBER_ERR_FORMAT, kHdrTableOffset,
                       "section table offset 0x%llx is not a multiple of 8 after the header",
                       static_cast<ull>(hdr_.table_offset));
    if (!range_in(hdr_.table_offset, table_size, size_))
        return fail_at(EMBER_ERR_FORMAT, kHdrTableOffset,
                       "section table [0x%llx, +0x%llx) ends past end of file (0x%llx)",
                       static_cast<ull>(hdr_.table_offset), static_cast<ull>(table_size),
                       static_cast<ull>(size_));
    if (opts_.verify_checksums) {
        uint32_t want = load_u32(data_ + kHdrTableCrc);
        uint32_t got = crc32c(data_ + hdr_.table_offset, table_size);
        if (want != got)
            return fail_at(EMBER_ERR_FORMAT, hdr_.table_offset,
                           "section table checksum 0x%08x does not match the stored 0x%08x "
                           "(file damaged)",
                           got, want);
    }
    return Status::OK();
}

Status FileReader::check_section_entry(uint64_t at, Section *s) {
    const uint8_t *e = data_ + at;
    s->entry_at = at;
    s->kind = load_u32(e + kEntKind);
    s->flags = load_u32(e + kEntFlags);
    s->offset = load_u64(e + kEntOffset);
    s->size = load_u64(e + kEntSize);
    s->crc = load_u32(e + kEntCrc);
    const char *name = section_kind_name(s->kind);
    if (s->kind == 0) return fail_at(EMBER_ERR_FORMAT, at, "section kind 0 is not valid");
    if (s->flags & ~kSectionRequired)
        return fail_at(EMBER_ERR_FORMAT, at + kEntFlags,
                       "section kind %u: reserved flag bits set (0x%08x)", s->kind, s->flags);
    uint64_t align = s->kind == kSectionData ? kDataAlign : kSectionAlign;
    if (s->offset % align)
        return fail_at(EMBER_ERR_FORMAT, at + kEntOffset,
                       "%s section offset 0x%llx is not a multiple of %llu",
                       name ? name : "unknown", static_cast<ull>(s->offset),
                       static_cast<ull>(align));
    if (!range_in(s->offset, s->size, size_))
        return fail_at(EMBER_ERR_FORMAT, at + kEntOffset,
                       "%s section [0x%llx, +0x%llx) ends past end of file (0x%llx)",
                       name ? name : "unknown", static_cast<ull>(s->offset),
                       static_cast<ull>(s->size), static_cast<ull>(size_));
    if (!name && (s->flags & kSectionRequired))
        return fail_at(EMBER_ERR_UNSUPPORTED, at,
                       "section of unknown kind %u is marked required; a newer Ember is needed",
                       s->kind);
    return Status::OK();
}

Status FileReader::read_section_table() {
    sections_.reserve(hdr_.section_count);  // <= kMaxSections
    for (uint32_t i = 0; i < hdr_.section_count; i++) {
        Section s;
        uint64_t at = hdr_.table_offset + uint64_t(i) * hdr_.entry_size;
        EMBER_RETURN_IF_ERROR(check_section_entry(at, &s));
        if (section_kind_name(s.kind) && find(s.kind))
            return fail_at(EMBER_ERR_FORMAT, at, "second %s section",
                           section_kind_name(s.kind));
        sections_.push_back(s);
    }
    for (uint32_t kind : {kSectionGraph, kSectionTensors, kSectionData})
        if (!find(kind))
            return fail_at(EMBER_ERR_FORMAT, hdr_.table_offset, "required %s section is missing",
                           section_kind_name(kind));
    EMBER_RETURN_IF_ERROR(check_overlaps_and_gaps());
    return verify_checksums();
}

// Header, table and sections must not overlap; every byte outside them must be zero,
// so that no byte of the file escapes the checksums.
Status FileReader::check_overlaps_and_gaps() {
    struct Range {
        uint64_t off, size;
        const char *what;
    };
    std::vector<Range> r;
    r.reserve(sections_.size() + 2);
    r.push_back({0, kHeaderSize, "header"});
    r.push_back({hdr_.table_offset, uint64_t(hdr_.section_count) * hdr_.entry_size,
                 "section table"});
    for (const auto &s : sections_) {
        const char *n = section_kind_name(s.kind);
        if (s.size) r.push_back({s.offset, s.size, n ? n : "unknown"});
    }
    std::stable_sort(r.begin(), r.end(),
                     [](const Range &a, const Range &b) { return a.off < b.off; });
    uint64_t end = 0;  // end of the previous range: all ranges are inside the file
    for (size_t i = 0; i < r.size(); i++) {
        if (r[i].off < end)
            return fail_at(EMBER_ERR_FORMAT, r[i].off, "%s [0x%llx, +0x%llx) overlaps the %s",
                           r[i].what, static_cast<ull>(r[i].off), static_cast<ull>(r[i].size),
                           r[i - 1].what);
        for (uint64_t p = end; p < r[i].off; p++)
            if (data_[p])
                return fail_at(EMBER_ERR_FORMAT, p,
                               "byte 0x%02x between sections (padding must be zero)", data_[p]);
        end = r[i].off + r[i].size;
    }
    for (uint64_t p = end; p < size_; p++)
        if (data_[p])
            return fail_at(EMBER_ERR_FORMAT, p,
                           "byte 0x%02x after the last section (padding must be zero)", data_[p]);
    return Status::OK();
}

Status FileReader::verify_checksums() {
    if (!opts_.verify_checksums) return Status::OK();
    for (const auto &s : sections_) {
        uint32_t got = crc32c(data_ + s.offset, s.size);
        if (got != s.crc) {
            const char *n = section_kind_name(s.kind);
            return fail_at(EMBER_ERR_FORMAT, s.offset,
                           "%s section [0x%llx, +0x%llx): checksum 0x%08x does not match the "
                           "stored 0x%08x (file damaged)",
                           n ? n : "unknown", static_cast<ull>(s.offset),
                           static_cast<ull>(s.size), got, s.crc);
        }
    }
    return Status::OK();
}

Status FileReader::finish(const Cursor &c, const char *after) {
    if (c.left() && !newer_minor())
        return fail_at(EMBER_ERR_FORMAT, c.pos(), "%llu unexpected bytes after %s",
                       static_cast<ull>(c.left()), after);
    return Status::OK();
}

// ---- pass 1: metadata ----

Status FileReader::read_metadata(const Section &s, Graph *g) {
    Cursor c(data_, s.offset, s.offset + s.size, "metadata");
    uint32_t n;
    EMBER_RETURN_IF_ERROR(c.count(&n, kMinMetaEntry, "metadata entry count"));
    std::vector<std::pair<std::string, std::string>> md;
    md.reserve(n);
    for (uint32_t i = 0; i < n; i++) {
        std::string key, payload;
        uint8_t type;
        c.item = Item{"entry", i, nullptr};
        EMBER_RETURN_IF_ERROR(c.name(&key, "key", true));
        c.item.name = &key;
        uint64_t at = c.pos();
        EMBER_RETURN_IF_ERROR(c.u8(&type, "type"));
        EMBER_RETURN_IF_ERROR(c.bytes(&payload, "value"));
        char buf[40];
        switch (type) {
            case kMetaString:
                if (std::memchr(payload.data(), 0, payload.size()))
                    return c.fail(EMBER_ERR_FORMAT, at, "string value contains a NUL byte");
                break;
            case kMetaBytes: break;
            case kMetaInt64:
            case kMetaFloat64: {
                if (payload.size() != 8)
                    return c.fail(EMBER_ERR_FORMAT, at, "%s value has %zu bytes, not 8",
                                  type == kMetaInt64 ? "int64" : "float64", payload.size());
                uint64_t u = load_u64(reinterpret_cast<const uint8_t *>(payload.data()));
                if (type == kMetaInt64) {
                    snprintf(buf, sizeof buf, "%lld", static_cast<long long>(u));
                } else {
                    double d;
                    std::memcpy(&d, &u, 8);
                    snprintf(buf, sizeof buf, "%.17g", d);
                }
                payload = buf;
                break;
            }
            default:
                if (newer_minor()) continue;  // a type added later: skip the entry
                return c.fail(EMBER_ERR_FORMAT, at, "unknown value type %u", type);
        }
        md.emplace_back(std::move(key), std::move(payload));
    }
    c.item = Item{};
    std::vector<size_t> order(md.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return md[a].first < md[b].first; });
    for (size_t i = 1; i < order.size(); i++)
        if (md[order[i]].first == md[order[i - 1]].first)
            return c.fail(EMBER_ERR_FORMAT, s.offset, "duplicate key %s",
                          show(md[order[i]].first).c_str());
    EMBER_RETURN_IF_ERROR(finish(c, "the last metadata entry"));
    g->metadata = std::move(md);
    return Status::OK();
}

// ---- pass 1: graph ----

Status FileReader::read_value(Cursor *c, Value *v) {
    uint8_t dtype, flags, rank;
    EMBER_RETURN_IF_ERROR(c->name(&v->name, "name", true));
    c->item.name = &v->name;
    uint64_t at = c->pos();
    EMBER_RETURN_IF_ERROR(c->u8(&dtype, "dtype"));
    EMBER_RETURN_IF_ERROR(c->u8(&flags, "flags"));
    EMBER_RETURN_IF_ERROR(c->u8(&rank, "rank"));
    EMBER_RETURN_IF_ERROR(c->i32(&v->constant, "constant index"));
    if (dtype != 0 && !dtype_valid(dtype))
        return c->fail(EMBER_ERR_FORMAT, at, "dtype code %u is not a known element type", dtype);
    if (flags & ~kValueHasShape)
        return c->fail(EMBER_ERR_FORMAT, at + 1, "reserved flag bits set (0x%02x)", flags);
    v->dtype = static_cast<DType>(dtype);
    v->has_shape = flags & kValueHasShape;
    if (rank > kMaxRank)
        return c->fail(EMBER_ERR_FORMAT, at + 2, "rank %u exceeds the maximum %zu", rank,
                       kMaxRank);
    if (!v->has_shape && rank)
        return c->fail(EMBER_ERR_FORMAT, at + 2, "rank %u without the has-shape flag", rank);
    if (v->constant < -1)
        return c->fail(EMBER_ERR_FORMAT, at + 3, "constant index %d is below -1", v->constant);
    v->shape.resize(rank);
    for (uint8_t d = 0; d < rank; d++) {
        uint64_t dat = c->pos();
        EMBER_RETURN_IF_ERROR(c->i64(&v->shape[d], "dim"));
        if (v->shape[d] < -1 || v->shape[d] > kMaxElements)
            return c->fail(EMBER_ERR_FORMAT, dat, "dim %u is %lld, not in [-1, 2^40]", d,
                           static_cast<long long>(v->shape[d]));
    }
    v->dim_names.resize(rank);
    for (uint8_t d = 0; d < rank; d++)
        EMBER_RETURN_IF_ERROR(c->name(&v->dim_names[d], "dim name", false));
    return Status::OK();
}

// A node's input or output ids: each a value id or -1 (omitted).
Status FileReader::read_ids(Cursor *c, int32_t nv, std::vector<int32_t> *ids, const char *what,
                            const char *count_what) {
    uint32_t n;
    EMBER_RETURN_IF_ERROR(c->count(&n, 4, count_what));
    ids->resize(n);
    for (uint32_t k = 0; k < n; k++) {
        uint64_t at = c->pos();
        EMBER_RETURN_IF_ERROR(c->i32(&(*ids)[k], what));
        int32_t id = (*ids)[k];
        if (id < -1 || id >= nv)
            return c->fail(EMBER_ERR_FORMAT, at,
                           "%s %u refers to value %d, but the graph has %d values (valid: -1..%d)",
                           what, k, id, nv, nv - 1);
    }
    return Status::OK();
}

Status FileReader::read_attr(Cursor *c, const Graph &g, Attribute *a) {
    uint64_t at = c->pos();
    EMBER_RETURN_IF_ERROR(c->name(&a->name, "attribute name", true));
    uint8_t type;
    EMBER_RETURN_IF_ERROR(c->u8(&type, "attribute type"));
    uint32_t n;
    switch (type) {
        case uint8_t(AttrType::Int): EMBER_RETURN_IF_ERROR(c->i64(&a->i, "int attribute")); break;
        case uint8_t(AttrType::Float):
            EMBER_RETURN_IF_ERROR(c->f32(&a->f, "float attribute"));
            break;
        case uint8_t(AttrType::String):
            EMBER_RETURN_IF_ERROR(c->bytes(&a->s, "string attribute"));
            break;
        case uint8_t(AttrType::Ints):
            EMBER_RETURN_IF_ERROR(c->count(&n, 8, "ints attribute count"));
            a->ints.resize(n);
            for (auto &x : a->ints) EMBER_RETURN_IF_ERROR(c->i64(&x, "ints attribute"));
            break;
        case uint8_t(AttrType::Floats):
            EMBER_RETURN_IF_ERROR(c->count(&n, 4, "floats attribute count"));
            a->floats.resize(n);
            for (auto &x : a->floats) EMBER_RETURN_IF_ERROR(c->f32(&x, "floats attribute"));
            break;
        case uint8_t(AttrType::Strings):
            EMBER_RETURN_IF_ERROR(c->count(&n, 4, "strings attribute count"));
            a->strings.resize(n);
            for (auto &x : a->strings) EMBER_RETURN_IF_ERROR(c->bytes(&x, "strings attribute"));
            break;
        case uint8_t(AttrType::Tensor): {
            int32_t id;
            uint64_t vat = c->pos();
            EMBER_RETURN_IF_ERROR(c->i32(&id, "tensor attribute"));
            int32_t nv = static_cast<int32_t>(g.values.size());
            if (id < 0 || id >= nv || g.values[id].constant < 0)
                return c->fail(EMBER_ERR_FORMAT, vat,
                               "tensor attribute %s refers to value %d, which is not a "
                               "constant of the %d values",
                               show(a->name).c_str(), id, nv);
            a->i = id;
            break;
        }
        default:
            return c->fail(EMBER_ERR_FORMAT, at, "attribute %s has unknown type %u",
                           show(a->name).c_str(), type);
    }
    a->type = static_cast<AttrType>(type);
    return Status::OK();
}

Status FileReader::read_node(Cursor *c, const Graph &g, Node *n) {
    EMBER_RETURN_IF_ERROR(c->name(&n->name, "name", false));
    c->item.name = &n->name;
    EMBER_RETURN_IF_ERROR(c->name(&n->op_type, "op_type", true));
    EMBER_RETURN_IF_ERROR(c->name(&n->domain, "domain", false));
    int32_t nv = static_cast<int32_t>(g.values.size());
    EMBER_RETURN_IF_ERROR(read_ids(c, nv, &n->inputs, "input", "input count"));
    EMBER_RETURN_IF_ERROR(read_ids(c, nv, &n->outputs, "output", "output count"));
    uint32_t na;
    uint64_t at = c->pos();
    EMBER_RETURN_IF_ERROR(c->count(&na, kMinAttr, "attribute count"));
    n->attrs.resize(na);
    for (auto &a : n->attrs) EMBER_RETURN_IF_ERROR(read_attr(c, g, &a));
    if (na > 1) {
        std::vector<const std::string *> names;
        names.reserve(na);
        for (const auto &a : n->attrs) names.push_back(&a.name);
        std::sort(names.begin(), names.end(),
                  [](const std::string *x, const std::string *y) { return *x < *y; });
        for (size_t k = 1; k < names.size(); k++)
            if (*names[k] == *names[k - 1])
                return c->fail(EMBER_ERR_FORMAT, at, "attribute %s appears twice",
                               show(*names[k]).c_str());
    }
    return Status::OK();
}

Status FileReader::check_unique_value_names(const Section &s, const Graph &g) {
    std::vector<int32_t> order(g.values.size());
    for (size_t i = 0; i < order.size(); i++) order[i] = static_cast<int32_t>(i);
    std::sort(order.begin(), order.end(),
              [&](int32_t a, int32_t b) { return g.values[a].name < g.values[b].name; });
    for (size_t i = 1; i < order.size(); i++)
        if (g.values[order[i]].name == g.values[order[i - 1]].name)
            return fail_at(EMBER_ERR_FORMAT, s.offset,
                           "graph section: duplicate value name %s (values %d and %d)",
                           show(g.values[order[i]].name).c_str(),
                           std::min(order[i], order[i - 1]), std::max(order[i], order[i - 1]));
    return Status::OK();
}

Status FileReader::read_graph(const Section &s, Graph *g) {
    Cursor c(data_, s.offset, s.offset + s.size, "graph");
    uint64_t at = c.pos();
    EMBER_RETURN_IF_ERROR(c.i64(&g->opset, "opset"));
    if (g->opset < kOpsetMin || g->opset > kOpsetMax)
        return c.fail(EMBER_ERR_FORMAT, at, "opset %lld is not in [%lld, %lld]",
                      static_cast<long long>(g->opset), static_cast<long long>(kOpsetMin),
                      static_cast<long long>(kOpsetMax));
    uint32_t nv, nn, ni, no;
    uint64_t counts_at = c.pos();
    EMBER_RETURN_IF_ERROR(c.u32(&nv, "value count"));
    EMBER_RETURN_IF_ERROR(c.u32(&nn, "node count"));
    EMBER_RETURN_IF_ERROR(c.u32(&ni, "graph input count"));
    EMBER_RETURN_IF_ERROR(c.u32(&no, "graph output count"));
    // Each count alone must fit in what is left; each array is checked again where it
    // starts, against the bytes then left.
    EMBER_RETURN_IF_ERROR(c.check_count(nv, kMinValue, "value count", counts_at));
    EMBER_RETURN_IF_ERROR(c.check_count(nn, kMinNode, "node count", counts_at + 4));
    EMBER_RETURN_IF_ERROR(c.check_count(ni, 4, "graph input count", counts_at + 8));
    EMBER_RETURN_IF_ERROR(c.check_count(no, 4, "graph output count", counts_at + 12));

    g->values.resize(nv);
    for (uint32_t i = 0; i < nv; i++) {
        c.item = Item{"value", i, nullptr};
        EMBER_RETURN_IF_ERROR(read_value(&c, &g->values[i]));
    }
    c.item = Item{};
    EMBER_RETURN_IF_ERROR(check_unique_value_names(s, *g));
    EMBER_RETURN_IF_ERROR(c.check_count(nn, kMinNode, "node count", counts_at + 4));
    g->nodes.resize(nn);
    for (uint32_t i = 0; i < nn; i++) {
        c.item = Item{"node", i, nullptr};
        EMBER_RETURN_IF_ERROR(read_node(&c, *g, &g->nodes[i]));
    }
    c.item = Item{};
    const int32_t nvi = static_cast<int32_t>(nv);
    EMBER_RETURN_IF_ERROR(c.check_count(ni, 4, "graph input count", counts_at + 8));
    g->inputs.resize(ni);
    for (uint32_t k = 0; k < ni; k++) {
        uint64_t iat = c.pos();
        EMBER_RETURN_IF_ERROR(c.i32(&g->inputs[k], "graph input"));
        if (g->inputs[k] < 0 || g->inputs[k] >= nvi)
            return c.fail(EMBER_ERR_FORMAT, iat, "graph input %u refers to value %d of %d", k,
                          g->inputs[k], nvi);
    }
    EMBER_RETURN_IF_ERROR(c.check_count(no, 4, "graph output count", counts_at + 12));
    g->outputs.resize(no);
    for (uint32_t k = 0; k < no; k++) {
        uint64_t oat = c.pos();
        EMBER_RETURN_IF_ERROR(c.i32(&g->outputs[k], "graph output"));
        if (g->outputs[k] < 0 || g->outputs[k] >= nvi)
            return c.fail(EMBER_ERR_FORMAT, oat, "graph output %u refers to value %d of %d", k,
                          g->outputs[k], nvi);
    }
    return finish(c, "the graph outputs");
}

// ---- pass 1: tensor table ----

bool zero_point_fits(DType t, int32_t z) {
    switch (t) {
        case DType::I8: return z >= -128 && z <= 127;
        case DType::U8: return z >= 0 && z <= 255;
        case DType::I16: return z >= -32768 && z <= 32767;
        case DType::U16: return z >= 0 && z <= 65535;
        default: return true;
    }
}

Status FileReader::read_quant(Cursor *c, DType dtype, const Shape &dims, QuantParams *q) {
    uint64_t at = c->pos();
    uint32_t ns, nz;
    EMBER_RETURN_IF_ERROR(c->i32(&q->axis, "quantisation axis"));
    EMBER_RETURN_IF_ERROR(c->count(&ns, 4, "scale count"));
    q->scales.resize(ns);
    for (auto &s : q->scales) {
        uint64_t sat = c->pos();
        EMBER_RETURN_IF_ERROR(c->f32(&s, "scale"));
        if (!std::isfinite(s) || s < 0.0f)
            return c->fail(EMBER_ERR_FORMAT, sat, "scale %g is not finite and >= 0",
                           static_cast<double>(s));
    }
    EMBER_RETURN_IF_ERROR(c->count(&nz, 4, "zero point count"));
    q->zero_points.resize(nz);
    for (auto &z : q->zero_points) {
        uint64_t zat = c->pos();
        EMBER_RETURN_IF_ERROR(c->i32(&z, "zero point"));
        if (!zero_point_fits(dtype, z))
            return c->fail(EMBER_ERR_FORMAT, zat, "zero point %d does not fit %s", z,
                           dtype_name(dtype));
    }
    if (nz != 0 && nz != ns)
        return c->fail(EMBER_ERR_FORMAT, at, "%u zero points for %u scales (need 0 or %u)", nz,
                       ns, ns);
    if (ns > 1) {
        if (q->axis < 0 || static_cast<size_t>(q->axis) >= dims.size())
            return c->fail(EMBER_ERR_FORMAT, at,
                           "per-channel quantisation axis %d is not in [0, %zu)", q->axis,
                           dims.size());
        if (dims[q->axis] != static_cast<int64_t>(ns))
            return c->fail(EMBER_ERR_FORMAT, at, "%u scales but dim %d (the axis) is %lld", ns,
                           q->axis, static_cast<long long>(dims[q->axis]));
    }
    return Status::OK();
}

Status FileReader::read_tensor(Cursor *c, uint32_t t, Graph *g, TensorRec *rec) {
    rec->entry_at = c->pos();
    uint8_t code, rank;
    uint16_t flags;
    EMBER_RETURN_IF_ERROR(c->i32(&rec->value, "value id"));
    const int32_t nv = static_cast<int32_t>(g->values.size());
    if (rec->value < 0 || rec->value >= nv)
        return c->fail(EMBER_ERR_FORMAT, rec->entry_at, "value id %d is not in [0, %d)",
                       rec->value, nv);
    const Value &v = g->values[rec->value];
    c->item.name = &v.name;
    if (v.constant != static_cast<int32_t>(t))
        return c->fail(EMBER_ERR_FORMAT, rec->entry_at,
                       "names value %d, whose constant index is %d, not %u", rec->value,
                       v.constant, t);
    uint64_t at = c->pos();
    EMBER_RETURN_IF_ERROR(c->u8(&code, "storage dtype"));
    EMBER_RETURN_IF_ERROR(c->u8(&rank, "rank"));
    EMBER_RETURN_IF_ERROR(c->u16(&flags, "flags"));
    EMBER_RETURN_IF_ERROR(c->u64(&rec->rel, "data offset"));
    EMBER_RETURN_IF_ERROR(c->u64(&rec->nbytes, "byte size"));
    const bool blocks = dtype_is_block(DType(code));
    if (code >= kFirstBlockDType && !blocks)
        return c->fail(EMBER_ERR_UNSUPPORTED, at,
                       "storage dtype %u is reserved for block-quantised weights this reader "
                       "(format %u.%u) does not know (it knows q8_0 = 32, q4_0 = 33, q4_0x8 = 34 "
                       "and q8_0x8 = 35)",
                       code, kVersionMajor, kVersionMinor);
    if (!blocks && !dtype_valid(code))
        return c->fail(EMBER_ERR_FORMAT, at, "storage dtype code %u is not a known element type",
                       code);
    // A block-quantised tensor stores a float32 value.
    const DType logical = blocks ? DType::F32 : DType(code);
    if (logical != v.dtype)
        return c->fail(EMBER_ERR_FORMAT, at, "storage dtype %s differs from the value's %s%s",
                       dtype_name(DType(code)), dtype_name(v.dtype),
                       blocks ? " (a block-quantised tensor's value must be float32)" : "");
    if (flags) return c->fail(EMBER_ERR_FORMAT, at + 2, "reserved flag bits set (0x%04x)", flags);
    if (rank > kMaxRank)
        return c->fail(EMBER_ERR_FORMAT, at + 1, "rank %u exceeds the maximum %zu", rank,
                       kMaxRank);
    Shape dims(rank);
    for (auto &d : dims) EMBER_RETURN_IF_ERROR(c->i64(&d, "dim"));
    if (!v.has_shape || dims != v.shape) {
        std::string vs = v.has_shape ? shape_str(v.shape) : "(no shape)";
        return c->fail(EMBER_ERR_FORMAT, at, "shape %s differs from the value's %s",
                       shape_str(dims).c_str(), vs.c_str());
    }
    int64_t numel = 0;
    if (!shape_numel_checked(dims, &numel))
        return c->fail(EMBER_ERR_FORMAT, at, "shape %s has a negative dim or over 2^40 elements",
                       shape_str(dims).c_str());
    if (blocks && (rank < 1 || dims.back() % kQuantBlock != 0))
        return c->fail(EMBER_ERR_FORMAT, at,
                       "a %s tensor's last dim must be a multiple of %lld, the shape is %s",
                       dtype_name(DType(code)), static_cast<long long>(kQuantBlock),
                       shape_str(dims).c_str());
    if (dtype_is_x8(DType(code)) && rank != 2)
        return c->fail(EMBER_ERR_FORMAT, at,
                       "a %s tensor is a matrix [rows, K] (its rows are interleaved by 8), "
                       "the shape is %s",
                       dtype_name(DType(code)), shape_str(dims).c_str());
    // < 2^43 (block types: numel / 32 * 34)
    uint64_t want = static_cast<uint64_t>(dtype_storage_bytes(DType(code), numel));
    if (rec->nbytes != want)
        return c->fail(EMBER_ERR_FORMAT, at + 12,
                       "byte size %llu does not match %s x %s (%llu bytes)",
                       static_cast<ull>(rec->nbytes), shape_str(dims).c_str(),
                       dtype_name(DType(code)), static_cast<ull>(want));
    const Section &d = *find(kSectionData);
    if (rec->rel % kDataAlign || (d.offset + rec->rel) % kDataAlign)
        return c->fail(EMBER_ERR_FORMAT, at + 4,
                       "data offset 0x%llx is not 64-byte aligned", static_cast<ull>(rec->rel));
    if (rec->rel > d.size)
        return c->fail(EMBER_ERR_FORMAT, at + 4,
                       "data offset 0x%llx lies past the end of the data section "
                       "[0x%llx, 0x%llx)",
                       static_cast<ull>(rec->rel), static_cast<ull>(d.offset),
                       static_cast<ull>(d.offset + d.size));
    if (rec->nbytes > d.size - rec->rel)  // nbytes < 2^43: the sums below cannot overflow
        return c->fail(EMBER_ERR_FORMAT, at + 4,
                       "data [0x%llx, 0x%llx) ends past end of the data section "
                       "[0x%llx, 0x%llx)",
                       static_cast<ull>(d.offset + rec->rel),
                       static_cast<ull>(d.offset + rec->rel + rec->nbytes),
                       static_cast<ull>(d.offset), static_cast<ull>(d.offset + d.size));
    ConstData &cd = g->constants[t];
    cd.nbytes = static_cast<size_t>(rec->nbytes);
    EMBER_RETURN_IF_ERROR(read_quant(c, DType(code), dims, &cd.quant));
    if (blocks) {
        if (!cd.quant.scales.empty() || !cd.quant.zero_points.empty())
            return c->fail(EMBER_ERR_FORMAT, at, "a %s tensor has %zu scales (its scales are in "
                           "its blocks: 0 expected)", dtype_name(DType(code)), cd.quant.scales.size());
        // In memory the value takes its storage type, so every op sees the blocks as such
        // and only those that read them accept them (core/session.cc).
        g->values[rec->value].dtype = DType(code);
    }
    return Status::OK();
}

Status FileReader::check_tensor_overlaps(const Graph &g) {
    std::vector<const TensorRec *> order;
    order.reserve(tensors_.size());
    for (const auto &r : tensors_)
        if (r.nbytes) order.push_back(&r);
    std::stable_sort(order.begin(), order.end(),
                     [](const TensorRec *a, const TensorRec *b) { return a->rel < b->rel; });
    for (size_t i = 1; i < order.size(); i++) {
        const TensorRec &a = *order[i - 1], &b = *order[i];
        if (a.rel + a.nbytes > b.rel)  // both inside the data section: no overflow
            return fail_at(EMBER_ERR_FORMAT, b.entry_at,
                           "tensors section: data of %s [+0x%llx, +0x%llx) overlaps data of %s "
                           "[+0x%llx, +0x%llx) (offsets in the data section)",
                           show(g.values[b.value].name).c_str(), static_cast<ull>(b.rel),
                           static_cast<ull>(b.rel + b.nbytes),
                           show(g.values[a.value].name).c_str(), static_cast<ull>(a.rel),
                           static_cast<ull>(a.rel + a.nbytes));
    }
    return Status::OK();
}

// Every value that claims a constant must be named by that tensor entry.
Status FileReader::check_constant_links(const Section &s, const Graph &g) {
    for (size_t v = 0; v < g.values.size(); v++) {
        int32_t k = g.values[v].constant;
        if (k < 0) continue;
        if (static_cast<size_t>(k) >= tensors_.size())
            return fail_at(EMBER_ERR_FORMAT, find(kSectionGraph)->offset,
                           "graph section: value %zu %s refers to constant %d, but the tensor "
                           "table has %zu entries",
                           v, show(g.values[v].name).c_str(), k, tensors_.size());
        if (tensors_[k].value != static_cast<int32_t>(v))
            return fail_at(EMBER_ERR_FORMAT, s.offset,
                           "tensors section: value %zu %s claims constant %d, which belongs to "
                           "value %d",
                           v, show(g.values[v].name).c_str(), k, tensors_[k].value);
    }
    return Status::OK();
}

Status FileReader::read_tensors(const Section &s, Graph *g) {
    Cursor c(data_, s.offset, s.offset + s.size, "tensors");
    uint32_t n;
    EMBER_RETURN_IF_ERROR(c.count(&n, kMinTensor, "tensor count"));
    g->constants.resize(n);
    tensors_.resize(n);
    for (uint32_t t = 0; t < n; t++) {
        c.item = Item{"tensor", t, nullptr};
        EMBER_RETURN_IF_ERROR(read_tensor(&c, t, g, &tensors_[t]));
    }
    c.item = Item{};
    EMBER_RETURN_IF_ERROR(finish(c, "the last tensor entry"));
    EMBER_RETURN_IF_ERROR(check_constant_links(s, *g));
    return check_tensor_overlaps(*g);
}

void FileReader::fill_layout(FileLayout *layout) const {
    layout->version_major = hdr_.major;
    layout->version_minor = hdr_.minor;
    layout->file_size = size_;
    layout->sections.clear();
    for (const auto &s : sections_) {
        SectionInfo si;
        si.kind = s.kind;
        const char *n = section_kind_name(s.kind);
        si.name = n ? n : "unknown(" + std::to_string(s.kind) + ")";
        si.offset = s.offset;
        si.size = s.size;
        si.checksum = s.crc;
        layout->sections.push_back(std::move(si));
    }
}

Status FileReader::run(Graph *out, FileLayout *layout) {
    // Pass 1: validate everything, staging the graph without any pointer into data_.
    EMBER_RETURN_IF_ERROR(read_header());
    EMBER_RETURN_IF_ERROR(read_section_table());
    Graph g;
    if (const Section *m = find(kSectionMetadata)) EMBER_RETURN_IF_ERROR(read_metadata(*m, &g));
    EMBER_RETURN_IF_ERROR(read_graph(*find(kSectionGraph), &g));
    EMBER_RETURN_IF_ERROR(read_tensors(*find(kSectionTensors), &g));

    // Pass 2: attach the tensors in place, then the graph-level checks.
    const Section &d = *find(kSectionData);
    for (size_t t = 0; t < tensors_.size(); t++)
        g.constants[t].data = data_ + d.offset + tensors_[t].rel;
    Status st = g.validate_and_sort();
    if (!st.ok())
        return fail_at(EMBER_ERR_FORMAT, find(kSectionGraph)->offset, "graph section: %s",
                       st.message().c_str());
    FileLayout lay;
    if (layout) fill_layout(&lay);
    *out = std::move(g);
    if (layout) *layout = std::move(lay);
    return Status::OK();
}

}  // namespace

Status read_ember(const uint8_t *data, size_t size, const ReadOptions &opts, Graph *out,
                  FileLayout *layout) {
    if (!out) return errorf(EMBER_ERR_INVALID_ARGUMENT, "read_ember: out is NULL");
    if (!data && size) return errorf(EMBER_ERR_INVALID_ARGUMENT, "read_ember: data is NULL");
    if (size == 0) return errorf(EMBER_ERR_FORMAT, "offset 0x0: the file is empty");
    if (reinterpret_cast<uintptr_t>(data) % kDataAlign)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "read_ember: buffer %p is not 64-byte aligned (tensors are used in place)",
                      static_cast<const void *>(data));
    try {
        FileReader r(data, size, opts);
        return r.run(out, layout);
    } catch (const std::bad_alloc &) {
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "read_ember: out of memory");
    } catch (...) {
        return errorf(EMBER_ERR_INTERNAL, "read_ember: unexpected exception");
    }
}

}  // namespace ember
