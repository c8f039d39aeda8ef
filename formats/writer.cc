// writer.cc — serialises a Graph into a .ember file (layout: formats/FORMAT.md).
//
// The writer checks only what it needs to encode the graph (strings without NUL bytes,
// ranks that fit a byte, every constant owned by exactly one value, constant bytes
// present). Semantic checks (references in range, one producer per value, no cycle,
// byte sizes matching shapes, quantisation sizes) belong to the reader and to
// Graph::validate_and_sort(): call that first for a file that is meant to load. Keeping
// the writer permissive lets tests write the broken graphs the reader must refuse.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include "formats/crc32c.h"
#include "formats/ember_format.h"
#include "formats/format_spec.h"

namespace ember {

namespace {

using namespace fmt;

// A growing little-endian byte buffer.
class Encoder {
public:
    std::vector<uint8_t> bytes;

    void u8(uint8_t v) { bytes.push_back(v); }
    void u16(uint16_t v) {
        uint8_t b[2];
        store_u16(b, v);
        raw(b, 2);
    }
    void u32(uint32_t v) {
        uint8_t b[4];
        store_u32(b, v);
        raw(b, 4);
    }
    void u64(uint64_t v) {
        uint8_t b[8];
        store_u64(b, v);
        raw(b, 8);
    }
    void i32(int32_t v) { u32(static_cast<uint32_t>(v)); }
    void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
    void f32(float v) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        u32(u);
    }
    void f64(double v) {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        u64(u);
    }
    // Strings were checked by check_str (no NUL, length fits u32).
    void str(const std::string &s) {
        u32(static_cast<uint32_t>(s.size()));
        raw(s.data(), s.size());
    }
    void raw(const void *p, size_t n) {
        const uint8_t *b = static_cast<const uint8_t *>(p);
        bytes.insert(bytes.end(), b, b + n);
    }
};

Status check_str(const std::string &s, const char *what, size_t index) {
    if (s.size() > UINT32_MAX)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "%s %zu: string of %zu bytes is too long",
                      what, index, s.size());
    if (std::memchr(s.data(), 0, s.size()))
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "%s %zu: string contains a NUL byte", what,
                      index);
    return Status::OK();
}

Status check_count(size_t n, const char *what) {
    if (n > static_cast<size_t>(INT32_MAX))
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "too many %s (%zu)", what, n);
    return Status::OK();
}

// ---- sections ----

Status encode_metadata(const Graph &g, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_count(g.metadata.size(), "metadata entries"));
    e->u32(static_cast<uint32_t>(g.metadata.size()));
    for (size_t i = 0; i < g.metadata.size(); i++) {
        const auto &kv = g.metadata[i];
        EMBER_RETURN_IF_ERROR(check_str(kv.first, "metadata key", i));
        if (kv.second.size() > UINT32_MAX)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "metadata '%s': value is too long",
                          kv.first.c_str());
        for (size_t j = 0; j < i; j++)
            if (g.metadata[j].first == kv.first)
                return errorf(EMBER_ERR_INVALID_ARGUMENT, "metadata key '%s' appears twice",
                              kv.first.c_str());
        bool has_nul = std::memchr(kv.second.data(), 0, kv.second.size()) != nullptr;
        e->str(kv.first);
        e->u8(has_nul ? kMetaBytes : kMetaString);
        e->str(kv.second);  // payload size + payload: the same bytes as a string
    }
    return Status::OK();
}

Status encode_value(const Value &v, size_t index, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_str(v.name, "value", index));
    size_t rank = v.has_shape ? v.shape.size() : 0;
    if (rank > 255)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "value '%s': rank %zu does not fit the format",
                      v.name.c_str(), rank);
    if (v.has_shape && !v.dim_names.empty() && v.dim_names.size() != rank)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "value '%s': %zu dim names for rank %zu",
                      v.name.c_str(), v.dim_names.size(), rank);
    e->str(v.name);
    // A block-quantised constant's value is float32; its tensor entry has the blocks' type.
    e->u8(static_cast<uint8_t>(dtype_is_block(v.dtype) ? DType::F32 : v.dtype));
    e->u8(v.has_shape ? kValueHasShape : 0);
    e->u8(static_cast<uint8_t>(rank));
    e->i32(v.constant);
    for (size_t d = 0; d < rank; d++) e->i64(v.shape[d]);
    for (size_t d = 0; d < rank; d++) {
        static const std::string kNone;
        const std::string &n = v.dim_names.empty() ? kNone : v.dim_names[d];
        EMBER_RETURN_IF_ERROR(check_str(n, "dim name of value", index));
        e->str(n);
    }
    return Status::OK();
}

Status encode_attr(const Node &node, size_t node_index, const Attribute &a, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_str(a.name, "attribute name of node", node_index));
    e->str(a.name);
    e->u8(static_cast<uint8_t>(a.type));
    switch (a.type) {
        case AttrType::Int: e->i64(a.i); break;
        case AttrType::Float: e->f32(a.f); break;
        case AttrType::String:
            if (a.s.size() > UINT32_MAX)
                return errorf(EMBER_ERR_INVALID_ARGUMENT, "node '%s': attribute '%s' too long",
                              node.name.c_str(), a.name.c_str());
            e->str(a.s);  // attribute strings may hold any bytes
            break;
        case AttrType::Ints:
            EMBER_RETURN_IF_ERROR(check_count(a.ints.size(), "attribute ints"));
            e->u32(static_cast<uint32_t>(a.ints.size()));
            for (int64_t x : a.ints) e->i64(x);
            break;
        case AttrType::Floats:
            EMBER_RETURN_IF_ERROR(check_count(a.floats.size(), "attribute floats"));
            e->u32(static_cast<uint32_t>(a.floats.size()));
            for (float x : a.floats) e->f32(x);
            break;
        case AttrType::Strings:
            EMBER_RETURN_IF_ERROR(check_count(a.strings.size(), "attribute strings"));
            e->u32(static_cast<uint32_t>(a.strings.size()));
            for (const auto &s : a.strings) {
                if (s.size() > UINT32_MAX)
                    return errorf(EMBER_ERR_INVALID_ARGUMENT, "node '%s': attribute '%s' too long",
                                  node.name.c_str(), a.name.c_str());
                e->str(s);
            }
            break;
        case AttrType::Tensor:
            if (a.i < INT32_MIN || a.i > INT32_MAX)
                return errorf(EMBER_ERR_INVALID_ARGUMENT,
                              "node '%s': tensor attribute '%s' names value %lld",
                              node.name.c_str(), a.name.c_str(), static_cast<long long>(a.i));
            e->i32(static_cast<int32_t>(a.i));
            break;
        default:
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "node '%s': attribute '%s' has type %d",
                          node.name.c_str(), a.name.c_str(), static_cast<int>(a.type));
    }
    return Status::OK();
}

Status encode_ids(const std::vector<int32_t> &ids, const char *what, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_count(ids.size(), what));
    e->u32(static_cast<uint32_t>(ids.size()));
    for (int32_t id : ids) e->i32(id);
    return Status::OK();
}

Status encode_node(const Node &n, size_t index, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_str(n.name, "node", index));
    EMBER_RETURN_IF_ERROR(check_str(n.op_type, "op_type of node", index));
    EMBER_RETURN_IF_ERROR(check_str(n.domain, "domain of node", index));
    e->str(n.name);
    e->str(n.op_type);
    e->str(n.domain);
    EMBER_RETURN_IF_ERROR(encode_ids(n.inputs, "node inputs", e));
    EMBER_RETURN_IF_ERROR(encode_ids(n.outputs, "node outputs", e));
    EMBER_RETURN_IF_ERROR(check_count(n.attrs.size(), "attributes"));
    e->u32(static_cast<uint32_t>(n.attrs.size()));
    for (const auto &a : n.attrs) EMBER_RETURN_IF_ERROR(encode_attr(n, index, a, e));
    return Status::OK();
}

Status encode_graph(const Graph &g, Encoder *e) {
    EMBER_RETURN_IF_ERROR(check_count(g.values.size(), "values"));
    EMBER_RETURN_IF_ERROR(check_count(g.nodes.size(), "nodes"));
    EMBER_RETURN_IF_ERROR(check_count(g.inputs.size(), "graph inputs"));
    EMBER_RETURN_IF_ERROR(check_count(g.outputs.size(), "graph outputs"));
    e->i64(g.opset);
    e->u32(static_cast<uint32_t>(g.values.size()));
    e->u32(static_cast<uint32_t>(g.nodes.size()));
    e->u32(static_cast<uint32_t>(g.inputs.size()));
    e->u32(static_cast<uint32_t>(g.outputs.size()));
    for (size_t i = 0; i < g.values.size(); i++)
        EMBER_RETURN_IF_ERROR(encode_value(g.values[i], i, e));
    for (size_t i = 0; i < g.nodes.size(); i++)
        EMBER_RETURN_IF_ERROR(encode_node(g.nodes[i], i, e));
    for (int32_t id : g.inputs) e->i32(id);
    for (int32_t id : g.outputs) e->i32(id);
    return Status::OK();
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// One constant's bytes, placed at `rel` in the data section.
struct Piece {
    const uint8_t *data;
    size_t nbytes;
    uint64_t rel;
};

// Finds the value that owns each constant: exactly one per constant.
Status constant_owners(const Graph &g, std::vector<int32_t> *owner) {
    owner->assign(g.constants.size(), -1);
    for (size_t v = 0; v < g.values.size(); v++) {
        int32_t c = g.values[v].constant;
        if (c < 0 || static_cast<size_t>(c) >= g.constants.size()) continue;  // reader's job
        if ((*owner)[c] >= 0)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "constant %d is owned by both '%s' and '%s'",
                          c, g.values[(*owner)[c]].name.c_str(), g.values[v].name.c_str());
        (*owner)[c] = static_cast<int32_t>(v);
    }
    for (size_t c = 0; c < owner->size(); c++)
        if ((*owner)[c] < 0)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "constant %zu is owned by no value", c);
    return Status::OK();
}

Status encode_tensors(const Graph &g, Encoder *e, std::vector<Piece> *pieces,
                      uint64_t *data_size) {
    std::vector<int32_t> owner;
    EMBER_RETURN_IF_ERROR(constant_owners(g, &owner));
    EMBER_RETURN_IF_ERROR(check_count(g.constants.size(), "constants"));
    e->u32(static_cast<uint32_t>(g.constants.size()));
    uint64_t rel = 0;
    for (size_t c = 0; c < g.constants.size(); c++) {
        const ConstData &cd = g.constants[c];
        const Value &v = g.values[owner[c]];
        if (cd.nbytes && !cd.data)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "constant '%s': %zu bytes but no data",
                          v.name.c_str(), cd.nbytes);
        if (cd.quant.scales.size() > UINT32_MAX || cd.quant.zero_points.size() > UINT32_MAX)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "constant '%s': too many scales",
                          v.name.c_str());
        size_t rank = v.has_shape ? v.shape.size() : 0;  // rank <= 255: checked with the value
        rel = align_up(rel, kDataAlign);
        e->i32(owner[c]);
        e->u8(static_cast<uint8_t>(v.dtype));
        e->u8(static_cast<uint8_t>(rank));
        e->u16(0);  // flags
        e->u64(rel);
        e->u64(cd.nbytes);
        for (size_t d = 0; d < rank; d++) e->i64(v.shape[d]);
        e->i32(cd.quant.axis);
        e->u32(static_cast<uint32_t>(cd.quant.scales.size()));
        for (float s : cd.quant.scales) e->f32(s);
        e->u32(static_cast<uint32_t>(cd.quant.zero_points.size()));
        for (int32_t z : cd.quant.zero_points) e->i32(z);
        pieces->push_back(Piece{cd.data, cd.nbytes, rel});
        rel += cd.nbytes;
    }
    *data_size = rel;
    return Status::OK();
}

// Everything of a file except the data section's bytes, which are streamed from the
// constants (so a large model is never copied just to be written to disk).
struct Plan {
    std::vector<uint8_t> prefix;  // bytes [0, data_offset): header, table, small sections
    std::vector<Piece> pieces;    // tensor bytes, at data_offset + rel
    uint64_t data_offset = 0;
    uint64_t data_size = 0;
    uint64_t file_size = 0;
};

const uint8_t kZeros[64] = {};

uint32_t data_crc(const Plan &p) {
    uint32_t crc = 0;
    uint64_t at = 0;
    for (const Piece &pc : p.pieces) {
        while (at < pc.rel) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(64, pc.rel - at));
            crc = crc32c_extend(crc, kZeros, n);
            at += n;
        }
        crc = crc32c_extend(crc, pc.data, pc.nbytes);
        at += pc.nbytes;
    }
    return crc;
}

Status make_plan(const Graph &g, Plan *p) {
    Encoder meta, graph, tensors;
    EMBER_RETURN_IF_ERROR(encode_metadata(g, &meta));
    EMBER_RETURN_IF_ERROR(encode_graph(g, &graph));
    EMBER_RETURN_IF_ERROR(encode_tensors(g, &tensors, &p->pieces, &p->data_size));

    struct Sec {
        uint32_t kind, flags;
        const std::vector<uint8_t> *bytes;
        uint64_t offset;
    } secs[4] = {
        {kSectionMetadata, 0, &meta.bytes, 0},
        {kSectionGraph, kSectionRequired, &graph.bytes, 0},
        {kSectionTensors, kSectionRequired, &tensors.bytes, 0},
        {kSectionData, kSectionRequired, nullptr, 0},
    };
    const uint64_t table_offset = kHeaderSize;
    uint64_t at = table_offset + 4 * kEntrySize;
    for (int i = 0; i < 3; i++) {
        at = align_up(at, kSectionAlign);
        secs[i].offset = at;
        at += secs[i].bytes->size();
    }
    p->data_offset = align_up(at, kDataAlign);
    secs[3].offset = p->data_offset;
    p->file_size = p->data_offset + p->data_size;

    std::vector<uint8_t> &b = p->prefix;
    b.assign(p->data_offset, 0);
    for (int i = 0; i < 3; i++)
        if (!secs[i].bytes->empty())
            std::memcpy(&b[secs[i].offset], secs[i].bytes->data(), secs[i].bytes->size());
    for (int i = 0; i < 4; i++) {
        uint8_t *ent = &b[table_offset + i * kEntrySize];
        uint64_t size = secs[i].bytes ? secs[i].bytes->size() : p->data_size;
        uint32_t crc = secs[i].bytes ? crc32c(secs[i].bytes->data(), size) : data_crc(*p);
        store_u32(ent + kEntKind, secs[i].kind);
        store_u32(ent + kEntFlags, secs[i].flags);
        store_u64(ent + kEntOffset, secs[i].offset);
        store_u64(ent + kEntSize, size);
        store_u32(ent + kEntCrc, crc);
    }
    std::memcpy(&b[kHdrMagic], kMagic, 8);
    store_u16(&b[kHdrMajor], kVersionMajor);
    store_u16(&b[kHdrMinor], kVersionMinor);
    store_u32(&b[kHdrFlags], 0);
    store_u64(&b[kHdrFileSize], p->file_size);
    store_u64(&b[kHdrTableOffset], table_offset);
    store_u32(&b[kHdrSectionCount], 4);
    store_u32(&b[kHdrEntrySize], kEntrySize);
    store_u32(&b[kHdrTableCrc], crc32c(&b[table_offset], 4 * kEntrySize));
    store_u32(&b[kHdrCrc], crc32c(&b[0], kHdrCrc));
    return Status::OK();
}

// ---- files ----

Status write_all(int fd, const void *data, size_t n, const std::string &path) {
    const uint8_t *p = static_cast<const uint8_t *>(data);
    while (n) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errorf(EMBER_ERR_IO, "%s: write failed: %s", path.c_str(), std::strerror(errno));
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
    return Status::OK();
}

Status write_plan(int fd, const Plan &plan, const std::string &path) {
    EMBER_RETURN_IF_ERROR(write_all(fd, plan.prefix.data(), plan.prefix.size(), path));
    uint64_t at = 0;
    for (const Piece &pc : plan.pieces) {
        while (at < pc.rel) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(64, pc.rel - at));
            EMBER_RETURN_IF_ERROR(write_all(fd, kZeros, n, path));
            at += n;
        }
        EMBER_RETURN_IF_ERROR(write_all(fd, pc.data, pc.nbytes, path));
        at += pc.nbytes;
    }
    if (::fsync(fd) != 0)
        return errorf(EMBER_ERR_IO, "%s: fsync failed: %s", path.c_str(), std::strerror(errno));
    return Status::OK();
}

// Makes the rename durable; best effort (some file systems refuse fsync on a directory).
void sync_parent_dir(const std::string &path) {
    size_t slash = path.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : path.substr(0, slash ? slash : 1);
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    (void)::fsync(fd);
    ::close(fd);
}

Status write_file_atomically(const Plan &plan, const std::string &path) {
    static std::atomic<unsigned> counter{0};
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." +
                      std::to_string(counter.fetch_add(1));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return errorf(EMBER_ERR_IO, "%s: cannot create: %s", tmp.c_str(), std::strerror(errno));
    Status st = write_plan(fd, plan, tmp);
    if (::close(fd) != 0 && st.ok())
        st = errorf(EMBER_ERR_IO, "%s: close failed: %s", tmp.c_str(), std::strerror(errno));
    if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
        st = errorf(EMBER_ERR_IO, "cannot rename %s to %s: %s", tmp.c_str(), path.c_str(),
                    std::strerror(errno));
    if (!st.ok()) {
        ::unlink(tmp.c_str());
        return st;
    }
    sync_parent_dir(path);
    return Status::OK();
}

}  // namespace

Status write_ember(const Graph &graph, std::vector<uint8_t> *out) {
    if (!out) return errorf(EMBER_ERR_INVALID_ARGUMENT, "write_ember: out is NULL");
    try {
        Plan plan;
        EMBER_RETURN_IF_ERROR(make_plan(graph, &plan));
        std::vector<uint8_t> bytes = std::move(plan.prefix);
        bytes.resize(plan.file_size, 0);
        for (const Piece &pc : plan.pieces)
            if (pc.nbytes) std::memcpy(&bytes[plan.data_offset + pc.rel], pc.data, pc.nbytes);
        out->swap(bytes);
        return Status::OK();
    } catch (const std::bad_alloc &) {
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "write_ember: out of memory");
    } catch (...) {
        return errorf(EMBER_ERR_INTERNAL, "write_ember: unexpected exception");
    }
}

Status write_ember_file(const Graph &graph, const std::string &path) {
    try {
        Plan plan;
        EMBER_RETURN_IF_ERROR(make_plan(graph, &plan));
        return write_file_atomically(plan, path);
    } catch (const std::bad_alloc &) {
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "write_ember_file: out of memory");
    } catch (...) {
        return errorf(EMBER_ERR_INTERNAL, "write_ember_file: unexpected exception");
    }
}

}  // namespace ember
