// test_format.cc — the .ember reader and writer (formats/FORMAT.md).
//
// What it checks:
//   - CRC-32C: known vectors, portable path == SSE4.2 path on odd lengths and offsets;
//   - a rich graph (every attribute type, constants of many dtypes, per-channel quant,
//     symbolic dims, metadata) round-trips field by field, and re-writing what was read
//     gives the same bytes; tensors are used in place, 64-byte aligned;
//   - damaged files: truncated at every header/table offset and along the rest, single
//     bytes flipped everywhere (checksums on: a clean failure; off: a clean failure or a
//     graph that writes and reads back the same), random multi-byte damage;
//   - a table of hand-made damage, one case per check of the reader, each asserting the
//     status, that the message names the problem, and that the output is untouched.
// To add a case: append a row to kCases (a graph mutation and/or a byte patch).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
extern "C" {  // cmocka.h 1.1 has no extern "C" of its own
#include <cmocka.h>
}

#include <dirent.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "formats/crc32c.h"
#include "formats/ember_format.h"
#include "formats/format_spec.h"

using namespace ember;
using Bytes = std::vector<uint8_t>;

namespace {

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// A copy of some bytes at a 64-byte aligned address, allocated at exactly their size so
// AddressSanitizer catches any read past the end.
class Aligned {
public:
    explicit Aligned(const uint8_t *p, size_t n) : n_(n) {
        void *m = nullptr;
        if (posix_memalign(&m, 64, n ? n : 1) != 0) m = nullptr;
        assert_non_null(m);
        if (n) std::memcpy(m, p, n);
        p_ = static_cast<uint8_t *>(m);
    }
    explicit Aligned(const Bytes &b) : Aligned(b.data(), b.size()) {}
    ~Aligned() { std::free(p_); }
    Aligned(const Aligned &) = delete;
    Aligned &operator=(const Aligned &) = delete;
    const uint8_t *data() const { return p_; }
    size_t size() const { return n_; }

private:
    uint8_t *p_ = nullptr;
    size_t n_ = 0;
};

int32_t vid(const Graph &g, const char *name) {
    for (size_t i = 0; i < g.values.size(); i++)
        if (g.values[i].name == name) return static_cast<int32_t>(i);
    fail_msg("no value named '%s'", name);
    return -1;
}

void set_shape(Graph &g, int32_t v, const Shape &s, const std::vector<std::string> &names = {}) {
    g.values[v].has_shape = true;
    g.values[v].shape = s;
    g.values[v].dim_names = names.empty() ? std::vector<std::string>(s.size()) : names;
}

template <typename T>
int32_t add_const(Graph &g, const char *name, DType dt, const Shape &s, const std::vector<T> &v) {
    return g.add_constant(name, dt, s, v.data(), v.size() * sizeof(T));
}

Attribute attr_of(const char *name, AttrType t) {
    Attribute a;
    a.name = name;
    a.type = t;
    return a;
}

Node make_node(const char *name, const char *op, std::vector<int32_t> in,
               std::vector<int32_t> out) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    return n;
}

// A small graph that uses every feature of the format.
Graph make_rich_graph() {
    Graph g;
    g.opset = 17;
    g.metadata_set("producer", "test_format");
    g.metadata_set("labels", "cat\ndog\n");
    g.metadata_set("blob", std::string("x\0y", 3));  // NUL inside: stored as bytes

    int32_t in = g.add_value("input", DType::F32);
    set_shape(g, in, {-1, 3, 8, 8}, {"batch", "", "", ""});
    std::vector<float> w(4 * 3 * 3 * 3);
    for (size_t i = 0; i < w.size(); i++) w[i] = 0.01f * static_cast<float>(i) - 0.5f;
    int32_t cw = add_const(g, "conv.weight", DType::F32, {4, 3, 3, 3}, w);
    int32_t cb = add_const(g, "conv.bias", DType::F32, {4}, std::vector<float>{1, -2, 3.5f, 0});
    int32_t co = g.add_value("conv_out", DType::F32);
    set_shape(g, co, {-1, 4, 8, 8}, {"batch", "", "", ""});
    int32_t ro = g.add_value("relu_out", DType::F32);  // no shape
    int32_t qw = add_const(g, "q.weight", DType::I8, {4, 2},
                           std::vector<int8_t>{-128, 127, 0, 1, -1, 5, 6, -7});
    ConstData &qwc = g.constants[g.values[qw].constant];
    qwc.quant.axis = 0;
    qwc.quant.scales = {0.5f, 0.25f, 0.125f, 1.0f};
    qwc.quant.zero_points = {0, 1, -1, 5};
    int32_t qb = add_const(g, "q.bias", DType::I32, {4}, std::vector<int32_t>{-1, 2, -3, 400000});
    g.constants[g.values[qb].constant].quant.scales = {0.01f};  // per tensor, no zero point
    int32_t hf = add_const(g, "half", DType::F16, {5},
                           std::vector<uint16_t>{0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000});
    int32_t ix = add_const(g, "idx", DType::I64, {2}, std::vector<int64_t>{-1, INT64_MAX});
    int32_t em = add_const(g, "empty", DType::U8, {0}, std::vector<uint8_t>{});
    int32_t fl = add_const(g, "flags", DType::Bool, {3}, std::vector<uint8_t>{1, 0, 1});
    int32_t d64 = add_const(g, "d64", DType::F64, {}, std::vector<double>{3.141592653589793});
    int32_t bf = add_const(g, "bf", DType::BF16, {2}, std::vector<uint16_t>{0x3f80, 0xc0a0});
    int32_t out = g.add_value("out", DType::F32);
    set_shape(g, out, {-1, 8}, {"batch", ""});

    Node conv = make_node("conv0", "Conv", {in, cw, cb}, {co});
    Attribute ks = attr_of("kernel_shape", AttrType::Ints);
    ks.ints = {3, 3};
    Attribute pads = attr_of("pads", AttrType::Ints);
    pads.ints = {1, 1, 1, 1};
    Attribute group = attr_of("group", AttrType::Int);
    group.i = 1;
    Attribute ap = attr_of("auto_pad", AttrType::String);
    ap.s = "NOTSET";
    conv.attrs = {ks, pads, group, ap};
    g.nodes.push_back(conv);
    g.nodes.push_back(make_node("relu0", "Relu", {co}, {ro}));

    Node mixed = make_node("mixed0", "Mixed", {ro, -1, qw, qb, hf, ix, em, fl, d64, bf}, {out, -1});
    mixed.domain = "com.ember.test";
    Attribute ai = attr_of("i", AttrType::Int);
    ai.i = -7;
    Attribute af = attr_of("f", AttrType::Float);
    af.f = 2.5f;
    Attribute as = attr_of("s", AttrType::String);
    as.s = std::string("a\0b", 3);
    Attribute ais = attr_of("ints", AttrType::Ints);
    ais.ints = {INT64_MIN, 0, INT64_MAX};
    Attribute afs = attr_of("floats", AttrType::Floats);
    afs.floats = {-1.5f, 0.0f, 1e30f};
    Attribute ass = attr_of("strings", AttrType::Strings);
    ass.strings = {"x", "", "yz"};
    Attribute at = attr_of("t", AttrType::Tensor);
    at.i = hf;
    Attribute empty_ints = attr_of("no_ints", AttrType::Ints);
    mixed.attrs = {ai, af, as, ais, afs, ass, at, empty_ints};
    g.nodes.push_back(mixed);

    g.inputs = {in};
    g.outputs = {out};
    return g;
}

void check_attr_equal(const Attribute &a, const Attribute &b) {
    assert_string_equal(a.name.c_str(), b.name.c_str());
    assert_int_equal(static_cast<int>(a.type), static_cast<int>(b.type));
    switch (a.type) {
        case AttrType::Int:
        case AttrType::Tensor: assert_int_equal(a.i, b.i); break;
        case AttrType::Float: assert_memory_equal(&a.f, &b.f, sizeof a.f); break;
        case AttrType::String: assert_true(a.s == b.s); break;
        case AttrType::Ints: assert_true(a.ints == b.ints); break;
        case AttrType::Floats:
            assert_int_equal(a.floats.size(), b.floats.size());
            if (!a.floats.empty())
                assert_memory_equal(a.floats.data(), b.floats.data(), a.floats.size() * 4);
            break;
        case AttrType::Strings: assert_true(a.strings == b.strings); break;
    }
}

// Every field of two graphs, constants compared by content.
void check_graphs_equal(const Graph &a, const Graph &b) {
    assert_int_equal(a.opset, b.opset);
    assert_true(a.metadata == b.metadata);
    assert_true(a.inputs == b.inputs);
    assert_true(a.outputs == b.outputs);
    assert_int_equal(a.values.size(), b.values.size());
    for (size_t i = 0; i < a.values.size(); i++) {
        const Value &x = a.values[i], &y = b.values[i];
        assert_string_equal(x.name.c_str(), y.name.c_str());
        assert_int_equal(static_cast<int>(x.dtype), static_cast<int>(y.dtype));
        assert_int_equal(x.has_shape, y.has_shape);
        assert_int_equal(x.constant, y.constant);
        if (x.has_shape) {
            assert_true(x.shape == y.shape);
            assert_true(x.dim_names == y.dim_names);
        }
    }
    assert_int_equal(a.nodes.size(), b.nodes.size());
    for (size_t i = 0; i < a.nodes.size(); i++) {
        const Node &x = a.nodes[i], &y = b.nodes[i];
        assert_string_equal(x.name.c_str(), y.name.c_str());
        assert_string_equal(x.op_type.c_str(), y.op_type.c_str());
        assert_string_equal(x.domain.c_str(), y.domain.c_str());
        assert_true(x.inputs == y.inputs);
        assert_true(x.outputs == y.outputs);
        assert_int_equal(x.attrs.size(), y.attrs.size());
        for (size_t k = 0; k < x.attrs.size(); k++) check_attr_equal(x.attrs[k], y.attrs[k]);
    }
    assert_int_equal(a.constants.size(), b.constants.size());
    for (size_t i = 0; i < a.constants.size(); i++) {
        const ConstData &x = a.constants[i], &y = b.constants[i];
        assert_int_equal(x.nbytes, y.nbytes);
        if (x.nbytes) assert_memory_equal(x.data, y.data, x.nbytes);
        assert_int_equal(x.quant.axis, y.quant.axis);
        assert_true(x.quant.scales == y.quant.scales);
        assert_true(x.quant.zero_points == y.quant.zero_points);
    }
}

Bytes write_or_fail(const Graph &g) {
    Bytes b;
    Status st = write_ember(g, &b);
    if (!st.ok()) fail_msg("write_ember: %s", st.message().c_str());
    return b;
}

// Checksums of a patched file, recomputed the way FORMAT.md defines them.
// Copes with damaged tables: fixes what it can find, and always the header.
void fix_checksums(Bytes &b) {
    using namespace fmt;
    if (b.size() < kHeaderSize) return;
    uint64_t table = load_u64(&b[kHdrTableOffset]);
    uint32_t count = load_u32(&b[kHdrSectionCount]);
    uint32_t esize = load_u32(&b[kHdrEntrySize]);
    bool table_ok = count <= kMaxSections && esize >= kEntrySize && esize <= kEntrySizeMax &&
                    table <= b.size() && uint64_t(count) * esize <= b.size() - table;
    if (!table_ok) {
        store_u32(&b[kHdrCrc], crc32c(b.data(), kHdrCrc));
        return;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *e = &b[table + uint64_t(i) * esize];
        uint64_t off = load_u64(e + kEntOffset), size = load_u64(e + kEntSize);
        if (off <= b.size() && size <= b.size() - off)
            store_u32(e + kEntCrc, crc32c(b.data() + off, size));
    }
    store_u32(&b[kHdrTableCrc], crc32c(&b[table], uint64_t(count) * esize));
    store_u32(&b[kHdrCrc], crc32c(b.data(), kHdrCrc));
}

// Builds a container from sections, independently of the writer: header, table at 64,
// each section on a 64-byte boundary after `gap` zero bytes.
struct RawSection {
    uint32_t kind, flags;
    Bytes bytes;
};

Bytes assemble(const std::vector<RawSection> &secs, uint16_t minor = 0, uint64_t gap = 0) {
    using namespace fmt;
    uint64_t at = kHeaderSize + secs.size() * kEntrySize;
    std::vector<uint64_t> offs;
    for (const auto &s : secs) {
        at = (at + gap + 63) / 64 * 64;
        offs.push_back(at);
        at += s.bytes.size();
    }
    Bytes b(at, 0);
    std::memcpy(&b[0], kMagic, 8);
    store_u16(&b[kHdrMajor], 1);
    store_u16(&b[kHdrMinor], minor);
    store_u64(&b[kHdrFileSize], b.size());
    store_u64(&b[kHdrTableOffset], kHeaderSize);
    store_u32(&b[kHdrSectionCount], static_cast<uint32_t>(secs.size()));
    store_u32(&b[kHdrEntrySize], kEntrySize);
    for (size_t i = 0; i < secs.size(); i++) {
        uint8_t *e = &b[kHeaderSize + i * kEntrySize];
        store_u32(e + kEntKind, secs[i].kind);
        store_u32(e + kEntFlags, secs[i].flags);
        store_u64(e + kEntOffset, offs[i]);
        store_u64(e + kEntSize, secs[i].bytes.size());
        if (!secs[i].bytes.empty())
            std::memcpy(&b[offs[i]], secs[i].bytes.data(), secs[i].bytes.size());
    }
    fix_checksums(b);
    return b;
}

// ---------------------------------------------------------------------------
// Fixture: the rich graph, its file, and where things are in it
// ---------------------------------------------------------------------------

struct Loc {
    uint64_t meta = 0, meta_size = 0, graph = 0, graph_size = 0, tensors = 0, tensors_size = 0,
             data = 0, data_size = 0;
    uint64_t tensor_entry[16] = {};  // file offset of each tensor-table entry
    size_t n_tensors = 0;
};

struct Fixture {
    Graph graph;
    Bytes file;
    Loc loc;
    std::string tmpdir;
};
Fixture *fx = nullptr;

RawSection raw_section(const Bytes &file, uint32_t kind) {
    using namespace fmt;
    uint64_t table = load_u64(&file[kHdrTableOffset]);
    uint32_t count = load_u32(&file[kHdrSectionCount]);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = &file[table + i * kEntrySize];
        if (load_u32(e + kEntKind) != kind) continue;
        uint64_t off = load_u64(e + kEntOffset), size = load_u64(e + kEntSize);
        return RawSection{kind, load_u32(e + kEntFlags),
                          Bytes(file.begin() + off, file.begin() + off + size)};
    }
    fail_msg("no section of kind %u", kind);
    return {};
}

std::vector<RawSection> rich_sections() {
    return {raw_section(fx->file, fmt::kSectionMetadata), raw_section(fx->file, fmt::kSectionGraph),
            raw_section(fx->file, fmt::kSectionTensors), raw_section(fx->file, fmt::kSectionData)};
}

void locate(const Bytes &file, const FileLayout &lay, Loc *loc) {
    using namespace fmt;
    for (const auto &s : lay.sections) {
        if (s.name == "metadata") loc->meta = s.offset, loc->meta_size = s.size;
        if (s.name == "graph") loc->graph = s.offset, loc->graph_size = s.size;
        if (s.name == "tensors") loc->tensors = s.offset, loc->tensors_size = s.size;
        if (s.name == "data") loc->data = s.offset, loc->data_size = s.size;
    }
    // Walk the tensor table (FORMAT.md "Tensor entry") to find each entry.
    loc->n_tensors = load_u32(&file[loc->tensors]);
    assert_true(loc->n_tensors <= 16);
    uint64_t at = loc->tensors + 4;
    for (size_t t = 0; t < loc->n_tensors; t++) {
        loc->tensor_entry[t] = at;
        uint8_t rank = file[at + 5];
        at += 24 + 8 * uint64_t(rank) + 4;
        uint32_t ns = load_u32(&file[at]);
        at += 4 + 4 * uint64_t(ns);
        uint32_t nz = load_u32(&file[at]);
        at += 4 + 4 * uint64_t(nz);
    }
    assert_int_equal(at, loc->tensors + loc->tensors_size);
}

int group_setup(void **state) {
    fx = new Fixture;
    fx->graph = make_rich_graph();
    Status st = fx->graph.validate_and_sort();
    if (!st.ok()) {
        fprintf(stderr, "rich graph invalid: %s\n", st.message().c_str());
        return -1;
    }
    if (!write_ember(fx->graph, &fx->file).ok()) return -1;
    Aligned a(fx->file);
    Graph g;
    FileLayout lay;
    st = read_ember(a.data(), a.size(), ReadOptions(), &g, &lay);
    if (!st.ok()) {
        fprintf(stderr, "rich file unreadable: %s\n", st.message().c_str());
        return -1;
    }
    locate(fx->file, lay, &fx->loc);
    char tmpl[] = "/tmp/ember_test_format_XXXXXX";
    if (!mkdtemp(tmpl)) return -1;
    fx->tmpdir = tmpl;
    return 0;
}

int group_teardown(void **state) {
    if (DIR *d = opendir(fx->tmpdir.c_str())) {
        while (dirent *e = readdir(d))
            if (e->d_name[0] != '.') unlink((fx->tmpdir + "/" + e->d_name).c_str());
        closedir(d);
    }
    rmdir(fx->tmpdir.c_str());
    delete fx;
    fx = nullptr;
    return 0;
}

// A graph the reader must never touch on failure: compared before and after.
Graph sentinel_graph() {
    Graph g;
    g.add_value("sentinel", DType::U8);
    g.metadata_set("sentinel", "untouched");
    return g;
}

bool is_sentinel(const Graph &g) {
    return g.values.size() == 1 && g.values[0].name == "sentinel" && g.nodes.empty() &&
           g.metadata.size() == 1 && g.metadata[0].second == "untouched";
}

// Reads `b` (any size, copied to an aligned buffer of exactly that size). The graph's
// constants point into that buffer: pass `keep` to use them after the call.
Status read_bytes(const Bytes &b, bool verify, Graph *out, FileLayout *lay = nullptr,
                  std::unique_ptr<Aligned> *keep = nullptr) {
    auto a = std::make_unique<Aligned>(b);
    ReadOptions o;
    o.verify_checksums = verify;
    Status st = read_ember(a->data(), a->size(), o, out, lay);
    if (keep) *keep = std::move(a);
    return st;
}

// ---------------------------------------------------------------------------
// CRC-32C
// ---------------------------------------------------------------------------

void test_crc32c_vectors(void **state) {
    assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_portable(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c_hw(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {}, ones[32];
    std::memset(ones, 0xff, sizeof ones);
    assert_int_equal(crc32c(zeros, 32), 0x8A9136AAu);  // RFC 3720 B.4
    assert_int_equal(crc32c(ones, 32), 0x62A8AB43u);
    assert_int_equal(crc32c(nullptr, 0), 0u);

    // Portable and hardware agree on every length and misalignment; extend composes.
    std::vector<uint8_t> buf(600);
    uint32_t s = 12345;
    for (auto &x : buf) x = static_cast<uint8_t>((s = s * 1103515245u + 12345u) >> 16);
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n + off <= buf.size(); n += (n < 80 ? 1 : 37)) {
            uint32_t p = crc32c_portable(0, buf.data() + off, n);
            uint32_t h = crc32c_hw(0, buf.data() + off, n);
            if (p != h) fail_msg("crc32c off %zu len %zu: portable %08x hw %08x", off, n, p, h);
            assert_int_equal(crc32c(buf.data() + off, n), p);
            size_t cut = n / 3;
            assert_int_equal(crc32c_extend(crc32c(buf.data() + off, cut), buf.data() + off + cut,
                                           n - cut),
                             p);
        }
    }
}

// ---------------------------------------------------------------------------
// Round trip
// ---------------------------------------------------------------------------

void test_round_trip(void **state) {
    Aligned a(fx->file);
    Graph g;
    FileLayout lay;
    Status st = read_ember(a.data(), a.size(), ReadOptions(), &g, &lay);
    if (!st.ok()) fail_msg("read: %s", st.message().c_str());
    check_graphs_equal(fx->graph, g);

    // Spot checks of what the comparison covers, so a bug in both sides shows.
    assert_int_equal(g.values[vid(g, "input")].shape[0], -1);
    assert_string_equal(g.values[vid(g, "input")].dim_names[0].c_str(), "batch");
    assert_false(g.values[vid(g, "relu_out")].has_shape);
    assert_true(g.values[vid(g, "d64")].shape.empty());
    const ConstData *q = g.constant_of(vid(g, "q.weight"));
    assert_non_null(q);
    assert_int_equal(q->quant.scales.size(), 4);
    assert_true(q->quant.zero_points == (std::vector<int32_t>{0, 1, -1, 5}));
    assert_int_equal(g.nodes[2].inputs[1], -1);
    assert_int_equal(g.nodes[2].outputs[1], -1);
    assert_true(g.nodes[2].attr("s")->s == std::string("a\0b", 3));
    assert_int_equal(g.nodes[2].attr("t")->i, vid(g, "half"));
    assert_true(*g.metadata_get("blob") == std::string("x\0y", 3));
    assert_int_equal(g.opset, 17);

    // Layout.
    assert_int_equal(lay.version_major, 1);
    assert_int_equal(lay.version_minor, 0);
    assert_int_equal(lay.file_size, fx->file.size());
    assert_int_equal(lay.sections.size(), 4);
    const char *names[] = {"metadata", "graph", "tensors", "data"};
    for (int i = 0; i < 4; i++) {
        assert_string_equal(lay.sections[i].name.c_str(), names[i]);
        assert_int_equal(lay.sections[i].kind, i + 1);
        assert_int_equal(lay.sections[i].checksum,
                         crc32c(a.data() + lay.sections[i].offset, lay.sections[i].size));
    }

    // What was read writes back to the very same bytes.
    Bytes again = write_or_fail(g);
    assert_int_equal(again.size(), fx->file.size());
    assert_memory_equal(again.data(), fx->file.data(), again.size());

    // Checksums off reads the same graph.
    Graph g2;
    std::unique_ptr<Aligned> keep;
    st = read_bytes(fx->file, false, &g2, nullptr, &keep);
    assert_true(st.ok());
    check_graphs_equal(fx->graph, g2);
}

void test_tensors_in_place(void **state) {
    Aligned a(fx->file);
    Graph g;
    FileLayout lay;
    assert_true(read_ember(a.data(), a.size(), ReadOptions(), &g, &lay).ok());
    const SectionInfo &data = lay.sections[3];
    assert_int_equal(data.offset % 64, 0);
    for (size_t c = 0; c < g.constants.size(); c++) {
        const ConstData &cd = g.constants[c];
        assert_true(cd.owned == nullptr);
        uintptr_t p = reinterpret_cast<uintptr_t>(cd.data);
        uintptr_t lo = reinterpret_cast<uintptr_t>(a.data());
        if (p < lo + data.offset || p - lo > a.size() || cd.nbytes > a.size() - (p - lo))
            fail_msg("constant %zu lies outside the data section", c);
        if (p % 64) fail_msg("constant %zu at %p is not 64-byte aligned", c, cd.data);
        if (cd.nbytes) assert_memory_equal(cd.data, fx->graph.constants[c].data, cd.nbytes);
    }
    // Through a typed view: the float weights are usable where they lie.
    const ConstData *w = g.constant_of(vid(g, "conv.weight"));
    const float *f = reinterpret_cast<const float *>(w->data);
    assert_true(std::fabs(f[10] - (0.01f * 10 - 0.5f)) < 1e-6f);
}

void test_empty_graph(void **state) {
    Graph empty;
    Bytes b = write_or_fail(empty);
    Graph g = sentinel_graph();
    Status st = read_bytes(b, true, &g);
    if (!st.ok()) fail_msg("empty graph: %s", st.message().c_str());
    assert_int_equal(g.values.size(), 0);
    assert_int_equal(g.nodes.size(), 0);
    assert_int_equal(g.metadata.size(), 0);
}

Bytes read_file(const std::string &path) {
    Bytes b;
    FILE *f = fopen(path.c_str(), "rb");
    assert_non_null(f);
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) b.insert(b.end(), buf, buf + n);
    fclose(f);
    return b;
}

int count_dir_entries(const std::string &dir) {
    int n = 0;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d)) n += e->d_name[0] != '.';
        closedir(d);
    }
    return n;
}

void test_write_file(void **state) {
    std::string path = fx->tmpdir + "/model.ember";
    for (int round = 0; round < 2; round++) {  // the second replaces the first atomically
        Status st = write_ember_file(fx->graph, path);
        if (!st.ok()) fail_msg("write_ember_file: %s", st.message().c_str());
        Bytes b = read_file(path);
        assert_int_equal(b.size(), fx->file.size());
        assert_memory_equal(b.data(), fx->file.data(), b.size());
        assert_int_equal(count_dir_entries(fx->tmpdir), 1);  // no temp file left behind
    }
    Status st = write_ember_file(fx->graph, fx->tmpdir + "/no/such/dir/model.ember");
    assert_int_equal(st.code(), EMBER_ERR_IO);
    assert_non_null(strstr(st.message().c_str(), "no/such/dir"));
    assert_int_equal(count_dir_entries(fx->tmpdir), 1);
}

// ---------------------------------------------------------------------------
// Damaged files: truncation, flipped bytes, random damage
// ---------------------------------------------------------------------------

// A failed read: the given codes only, a message, and the output untouched.
void expect_clean_failure(const Status &st, const Graph &out, const char *what, size_t pos,
                          bool allow_unsupported) {
    bool code_ok = st.code() == EMBER_ERR_FORMAT ||
                   (allow_unsupported && st.code() == EMBER_ERR_UNSUPPORTED);
    if (!code_ok)
        fail_msg("%s at %zu: got %s: %s", what, pos, ember_status_string(st.code()),
                 st.message().c_str());
    if (st.message().empty()) fail_msg("%s at %zu: empty message", what, pos);
    if (st.message().compare(0, 9, "offset 0x") != 0)
        fail_msg("%s at %zu: message does not say where: %s", what, pos, st.message().c_str());
    if (!is_sentinel(out)) fail_msg("%s at %zu: output was modified on failure", what, pos);
}

void test_truncated(void **state) {
    const Bytes &file = fx->file;
    const size_t table_end = fmt::kHeaderSize + 4 * fmt::kEntrySize;
    std::vector<size_t> cuts;
    for (size_t c = 0; c <= table_end; c++) cuts.push_back(c);
    for (size_t c = table_end + 1; c < file.size(); c += 11) cuts.push_back(c);
    cuts.push_back(file.size() - 1);
    for (size_t cut : cuts) {
        Bytes b(file.begin(), file.begin() + cut);
        for (bool verify : {true, false}) {
            Graph g = sentinel_graph();
            Status st = read_bytes(b, verify, &g);
            if (cut == 0) {  // says "the file is empty"
                assert_int_equal(st.code(), EMBER_ERR_FORMAT);
                assert_non_null(strstr(st.message().c_str(), "empty"));
                continue;
            }
            expect_clean_failure(st, g, "truncated", cut, false);
        }
    }
    // The header's file size catches truncation first; with the header patched to the
    // shorter size (checksums fixed), the section checks must catch it.
    for (size_t cut = table_end; cut < file.size(); cut += 7) {
        Bytes b(file.begin(), file.begin() + cut);
        fmt::store_u64(&b[fmt::kHdrFileSize], cut);
        fix_checksums(b);
        Graph g = sentinel_graph();
        Status st = read_bytes(b, true, &g);
        expect_clean_failure(st, g, "truncated, size patched", cut, false);
        if (!strstr(st.message().c_str(), "past end"))
            fail_msg("truncated at %zu: %s", cut, st.message().c_str());
    }
}

// Every section cut at every length, checksums consistent, the cut section placed last
// so that reading one byte past its end would also read past the buffer (ASan).
void test_truncated_sections(void **state) {
    const char *names[] = {"metadata", "graph", "tensors", "data"};
    for (int k = 0; k < 4; k++) {
        auto secs = rich_sections();
        RawSection cut_sec = secs[k];
        secs.erase(secs.begin() + k);
        size_t full = cut_sec.bytes.size();
        for (size_t len = 0; len < full; len++) {
            auto s = secs;
            s.push_back(RawSection{cut_sec.kind, cut_sec.flags,
                                   Bytes(cut_sec.bytes.begin(), cut_sec.bytes.begin() + len)});
            Bytes b = assemble(s);
            for (bool verify : {true, false}) {
                Graph g = sentinel_graph();
                Status st = read_bytes(b, verify, &g);
                expect_clean_failure(st, g, names[k], len, false);
                // The data section's content is only known through the tensor table.
                const char *where = k == 3 ? "tensors section" : names[k];
                if (!strstr(st.message().c_str(), where))
                    fail_msg("%s cut to %zu: message does not name the section: %s", names[k],
                             len, st.message().c_str());
            }
        }
    }
}

// A graph read from a damaged file with checksums off must be one the writer accepts
// and that reads back the same.
void check_accepted_graph(const Graph &g, const char *what, size_t pos) {
    Bytes again;
    Status st = write_ember(g, &again);
    if (!st.ok())
        fail_msg("%s at %zu: accepted graph does not write: %s", what, pos, st.message().c_str());
    Graph g2;
    std::unique_ptr<Aligned> keep;
    st = read_bytes(again, true, &g2, nullptr, &keep);
    if (!st.ok())
        fail_msg("%s at %zu: re-written graph fails: %s", what, pos, st.message().c_str());
    check_graphs_equal(g, g2);
}

void test_flipped_bytes(void **state) {
    const Bytes &file = fx->file;
    std::vector<size_t> positions;
    for (size_t p = 0; p < fx->loc.data; p++) positions.push_back(p);  // all but the data
    for (size_t p = fx->loc.data; p < file.size(); p += 5) positions.push_back(p);
    int accepted = 0, refused = 0;
    for (size_t pos : positions) {
        for (uint8_t mask : {0x01, 0x80, 0xff}) {
            Bytes b = file;
            b[pos] ^= mask;
            Graph g = sentinel_graph();
            Status st = read_bytes(b, true, &g);
            expect_clean_failure(st, g, "flip (checksums on)", pos, true);

            Graph h = sentinel_graph();
            std::unique_ptr<Aligned> keep;
            st = read_bytes(b, false, &h, nullptr, &keep);
            if (st.ok()) {
                accepted++;
                check_accepted_graph(h, "flip (checksums off)", pos);
            } else {
                refused++;
                expect_clean_failure(st, h, "flip (checksums off)", pos, true);
            }
        }
    }
    if (std::getenv("EMBER_TEST_VERBOSE"))
        printf("flips with checksums off: %d accepted, %d refused\n", accepted, refused);
    // Both outcomes must occur, or the corpus tests less than it seems to.
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

// SQLite-style: random damage in increasing quantities, checksums off.
void test_random_damage(void **state) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    auto next = [&s]() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    };
    for (int iter = 0; iter < 3000; iter++) {
        Bytes b = fx->file;
        int n = 1 + iter / 200;
        for (int k = 0; k < n; k++) {
            // Mostly in the structured part, sometimes anywhere.
            size_t lim = (next() & 3) ? fx->loc.data : b.size();
            b[next() % lim] = static_cast<uint8_t>(next());
        }
        if (iter & 1) fix_checksums(b);  // half the time, past the checksums
        Graph g = sentinel_graph();
        std::unique_ptr<Aligned> keep;
        Status st = read_bytes(b, (iter & 2) != 0, &g, nullptr, &keep);
        if (st.ok())
            check_accepted_graph(g, "random damage", static_cast<size_t>(iter));
        else
            expect_clean_failure(st, g, "random damage", static_cast<size_t>(iter), true);
    }
}

// ---------------------------------------------------------------------------
// Hand-made damage: one case per check
// ---------------------------------------------------------------------------

using GraphMut = void (*)(Graph &);
using ByteMut = void (*)(Bytes &, const Loc &);

struct Case {
    const char *name;
    GraphMut graph_mut;  // applied to the rich graph before writing; null: none
    ByteMut byte_mut;    // applied to the written bytes; null: none
    bool fix_crc;        // recompute checksums after byte_mut
    bool verify;         // ReadOptions::verify_checksums
    ember_status want;
    const char *want_msg;  // must appear in the message (EMBER_OK: nullptr)
};

void put16(Bytes &b, uint64_t at, uint16_t v) { fmt::store_u16(&b[at], v); }
void put32(Bytes &b, uint64_t at, uint32_t v) { fmt::store_u32(&b[at], v); }
void put64(Bytes &b, uint64_t at, uint64_t v) { fmt::store_u64(&b[at], v); }
uint64_t get64(const Bytes &b, uint64_t at) { return fmt::load_u64(&b[at]); }
uint64_t entry(int i) { return fmt::kHeaderSize + i * fmt::kEntrySize; }  // 0 meta .. 3 data

// The first value entry of the graph section, after opset and four counts.
uint64_t first_value(const Loc &l) { return l.graph + fmt::kGraphHeader; }

Bytes metadata_section(const std::vector<std::tuple<std::string, uint8_t, Bytes>> &entries) {
    Bytes b(4);
    fmt::store_u32(&b[0], static_cast<uint32_t>(entries.size()));
    for (const auto &e : entries) {
        const std::string &k = std::get<0>(e);
        const Bytes &v = std::get<2>(e);
        uint8_t len[4];
        fmt::store_u32(len, static_cast<uint32_t>(k.size()));
        b.insert(b.end(), len, len + 4);
        b.insert(b.end(), k.begin(), k.end());
        b.push_back(std::get<1>(e));
        fmt::store_u32(len, static_cast<uint32_t>(v.size()));
        b.insert(b.end(), len, len + 4);
        b.insert(b.end(), v.begin(), v.end());
    }
    return b;
}

Bytes le64(uint64_t v) {
    Bytes b(8);
    fmt::store_u64(b.data(), v);
    return b;
}

void replace_with_sections(Bytes &b, std::vector<RawSection> secs, uint16_t minor = 0,
                           uint64_t gap = 0) {
    b = assemble(secs, minor, gap);
}

const Case kCases[] = {
    // ---- header ----
    {"wrong magic", nullptr, [](Bytes &b, const Loc &) { b[1] = 'X'; }, false, true,
     EMBER_ERR_FORMAT, "magic"},
    {"newer major version", nullptr, [](Bytes &b, const Loc &) { put16(b, 8, 2); }, false, true,
     EMBER_ERR_UNSUPPORTED, "version 2.0 is newer"},
    {"major version 0", nullptr, [](Bytes &b, const Loc &) { put16(b, 8, 0); }, true, true,
     EMBER_ERR_FORMAT, "version 0"},
    {"header checksum", nullptr, [](Bytes &b, const Loc &) { b[50] ^= 1; }, false, true,
     EMBER_ERR_FORMAT, "header checksum"},
    {"header reserved bytes ignored without checksums", nullptr,
     [](Bytes &b, const Loc &) { b[50] ^= 1; }, false, false, EMBER_OK, nullptr},
    {"must-understand header flag", nullptr, [](Bytes &b, const Loc &) { put32(b, 12, 1); }, true,
     true, EMBER_ERR_UNSUPPORTED, "flags"},
    {"optional header flag ignored", nullptr,
     [](Bytes &b, const Loc &) { put32(b, 12, 0x10000); }, true, true, EMBER_OK, nullptr},
    {"file size too large", nullptr,
     [](Bytes &b, const Loc &) { put64(b, 16, b.size() + 1); }, true, true, EMBER_ERR_FORMAT,
     "file size"},
    {"padded file", nullptr, [](Bytes &b, const Loc &) { b.resize(b.size() + 64); }, false, true,
     EMBER_ERR_FORMAT, "file size"},
    {"section table past end", nullptr,
     [](Bytes &b, const Loc &) { put64(b, 24, (b.size() - 8) & ~uint64_t(7)); }, true, true,
     EMBER_ERR_FORMAT, "section table [0x"},
    {"section table offset huge", nullptr,
     [](Bytes &b, const Loc &) { put64(b, 24, ~uint64_t(7)); }, true, true, EMBER_ERR_FORMAT,
     "past end of file"},
    {"section table misaligned", nullptr, [](Bytes &b, const Loc &) { put64(b, 24, 68); }, true,
     true, EMBER_ERR_FORMAT, "section table offset"},
    {"section count 0", nullptr, [](Bytes &b, const Loc &) { put32(b, 32, 0); }, true, true,
     EMBER_ERR_FORMAT, "section count 0"},
    {"section count huge", nullptr, [](Bytes &b, const Loc &) { put32(b, 32, 0xffffffffu); },
     true, true, EMBER_ERR_FORMAT, "section count"},
    {"section entry size", nullptr, [](Bytes &b, const Loc &) { put32(b, 36, 33); }, true, true,
     EMBER_ERR_FORMAT, "entry size 33"},
    {"section table checksum", nullptr, [](Bytes &b, const Loc &) { b[entry(1) + 28] ^= 4; },
     false, true, EMBER_ERR_FORMAT, "section table checksum"},

    // ---- section table ----
    {"section offset past end", nullptr,
     [](Bytes &b, const Loc &) { put64(b, entry(1) + 8, (b.size() + 64) & ~uint64_t(7)); }, true,
     true, EMBER_ERR_FORMAT, "graph section [0x"},
    {"section size overflows", nullptr,
     [](Bytes &b, const Loc &) { put64(b, entry(1) + 16, ~uint64_t(0) - 8); }, true, true,
     EMBER_ERR_FORMAT, "past end of file"},
    {"section offset misaligned", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, entry(1) + 8, l.graph + 4); }, true, true,
     EMBER_ERR_FORMAT, "not a multiple of 8"},
    {"data section misaligned", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, entry(3) + 8, l.data - 8); }, true, true,
     EMBER_ERR_FORMAT, "not a multiple of 64"},
    {"sections overlap", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, entry(1) + 8, l.meta); }, true, true,
     EMBER_ERR_FORMAT, "overlaps"},
    {"section overlaps the table", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, entry(0) + 8, 64); }, true, true, EMBER_ERR_FORMAT,
     "overlaps"},
    {"section kind 0", nullptr, [](Bytes &b, const Loc &) { put32(b, entry(0), 0); }, true, true,
     EMBER_ERR_FORMAT, "kind 0"},
    {"section reserved flag", nullptr, [](Bytes &b, const Loc &) { put32(b, entry(0) + 4, 2); },
     true, true, EMBER_ERR_FORMAT, "reserved flag"},
    {"duplicate section", nullptr, [](Bytes &b, const Loc &) { put32(b, entry(0), 2); }, true,
     true, EMBER_ERR_FORMAT, "second graph section"},
    {"unknown required kind in place of the graph", nullptr,
     [](Bytes &b, const Loc &) { put32(b, entry(1), 77); }, true, true, EMBER_ERR_UNSUPPORTED,
     "unknown kind 77"},
    {"missing graph section, optional unknown", nullptr,
     [](Bytes &b, const Loc &) {
         put32(b, entry(1), 77);
         put32(b, entry(1) + 4, 0);
     },
     true, true, EMBER_ERR_FORMAT, "required graph section is missing"},
    {"section checksum", nullptr, [](Bytes &b, const Loc &l) { b[l.graph + 9] ^= 0x20; }, false,
     true, EMBER_ERR_FORMAT, "graph section [0x"},
    {"data checksum", nullptr, [](Bytes &b, const Loc &l) { b[l.data + 3] ^= 0x20; }, false, true,
     EMBER_ERR_FORMAT, "checksum"},
    {"data damage unseen without checksums", nullptr,
     [](Bytes &b, const Loc &l) { b[l.data + 3] ^= 0x20; }, false, false, EMBER_OK, nullptr},
    {"non-zero padding between sections", nullptr,
     [](Bytes &b, const Loc &) {
         replace_with_sections(b, rich_sections(), 0, 64);
         b[fmt::kHeaderSize + 4 * fmt::kEntrySize + 5] = 0xaa;  // in the first gap
     },
     false, false, EMBER_ERR_FORMAT, "padding must be zero"},
    {"non-zero byte after the last section", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         std::swap(secs[2], secs[3]);  // tensors last, then pad the file after it
         replace_with_sections(b, secs);
         b.resize(b.size() + 16, 0);
         b.back() = 1;
         put64(b, 16, b.size());
         fix_checksums(b);
     },
     false, true, EMBER_ERR_FORMAT, "after the last section"},
    {"reassembled with gaps reads fine", nullptr,
     [](Bytes &b, const Loc &) { replace_with_sections(b, rich_sections(), 0, 200); }, false,
     true, EMBER_OK, nullptr},
    {"unknown optional section is skipped", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs.insert(secs.begin() + 1, RawSection{99, 0, Bytes(40, 0x5a)});
         replace_with_sections(b, secs, 3);
     },
     false, true, EMBER_OK, nullptr},
    {"unknown required section", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs.push_back(RawSection{99, fmt::kSectionRequired, Bytes(8, 1)});
         replace_with_sections(b, secs, 3);
     },
     false, true, EMBER_ERR_UNSUPPORTED, "unknown kind 99"},
    {"metadata section is optional", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs.erase(secs.begin());
         replace_with_sections(b, secs);
     },
     false, true, EMBER_OK, nullptr},

    // ---- metadata ----
    {"huge metadata count", nullptr, [](Bytes &b, const Loc &l) { put32(b, l.meta, 0x7fffffff); },
     true, true, EMBER_ERR_FORMAT, "metadata entry count"},
    {"metadata key length past section", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.meta + 4, 0xfffffff0u); }, true, true,
     EMBER_ERR_FORMAT, "length 4294967280"},
    {"metadata int64 of 4 bytes", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[0].bytes = metadata_section({std::make_tuple("n", fmt::kMetaInt64, Bytes(4))});
         replace_with_sections(b, secs);
     },
     false, true, EMBER_ERR_FORMAT, "not 8"},
    {"metadata duplicate key", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[0].bytes = metadata_section({std::make_tuple("k", fmt::kMetaString, Bytes{'a'}),
                                           std::make_tuple("k", fmt::kMetaString, Bytes{'b'})});
         replace_with_sections(b, secs);
     },
     false, true, EMBER_ERR_FORMAT, "duplicate key 'k'"},
    {"metadata unknown type", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[0].bytes = metadata_section({std::make_tuple("k", uint8_t(9), Bytes{'a'})});
         replace_with_sections(b, secs);
     },
     false, true, EMBER_ERR_FORMAT, "unknown value type 9"},
    {"metadata unknown type skipped in a newer minor", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[0].bytes = metadata_section({std::make_tuple("k", uint8_t(9), Bytes{'a'})});
         replace_with_sections(b, secs, 1);
     },
     false, true, EMBER_OK, nullptr},
    {"metadata string with NUL", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[0].bytes = metadata_section({std::make_tuple("k", fmt::kMetaString, Bytes{'a', 0})});
         replace_with_sections(b, secs);
     },
     false, true, EMBER_ERR_FORMAT, "NUL"},
    {"trailing bytes in a section", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[1].bytes.resize(secs[1].bytes.size() + 8, 0x11);
         replace_with_sections(b, secs);
     },
     false, true, EMBER_ERR_FORMAT, "8 unexpected bytes after the graph outputs"},
    {"trailing bytes allowed in a newer minor", nullptr,
     [](Bytes &b, const Loc &) {
         auto secs = rich_sections();
         secs[1].bytes.resize(secs[1].bytes.size() + 8, 0x11);
         replace_with_sections(b, secs, 1);
     },
     false, true, EMBER_OK, nullptr},

    // ---- graph section, patched ----
    {"opset 0", nullptr, [](Bytes &b, const Loc &l) { put64(b, l.graph, 0); }, true, true,
     EMBER_ERR_FORMAT, "opset 0"},
    {"huge value count", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.graph + 8, 0xffffffffu); }, true, true,
     EMBER_ERR_FORMAT, "value count 4294967295 cannot fit"},
    {"huge node count", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.graph + 12, 0x10000000u); }, true, true,
     EMBER_ERR_FORMAT, "node count 268435456 cannot fit"},
    {"huge graph input count", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.graph + 16, 0x40000000u); }, true, true,
     EMBER_ERR_FORMAT, "graph input count"},
    {"value name length past section", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, first_value(l), 0x7ffffff0u); }, true, true,
     EMBER_ERR_FORMAT, "runs past the end"},
    {"value dtype unknown", nullptr,
     [](Bytes &b, const Loc &l) { b[first_value(l) + 4 + 5] = 99; }, true, true,
     EMBER_ERR_FORMAT, "dtype code 99"},
    {"value reserved flag", nullptr,
     [](Bytes &b, const Loc &l) { b[first_value(l) + 4 + 6] = 0x81; }, true, true,
     EMBER_ERR_FORMAT, "reserved flag"},

    // ---- tensor table, patched (tensor 0 is conv.weight, float32 [4,3,3,3]) ----
    {"huge tensor count", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.tensors, 0xfffffff0u); }, true, true,
     EMBER_ERR_FORMAT, "tensor count"},
    {"misaligned tensor", nullptr,
     [](Bytes &b, const Loc &l) {
         put64(b, l.tensor_entry[0] + 8, get64(b, l.tensor_entry[0] + 8) + 4);
     },
     true, true, EMBER_ERR_FORMAT, "not 64-byte aligned"},
    {"tensor data past end of data section", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, l.tensor_entry[0] + 8, (l.data_size - 64) & ~63ull); },
     true, true, EMBER_ERR_FORMAT, "ends past end of the data section"},
    {"tensor data offset near 2^64", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, l.tensor_entry[0] + 8, ~uint64_t(63)); }, true, true,
     EMBER_ERR_FORMAT, "data offset 0xffffffffffffffc0 lies past the end"},
    {"tensor byte size mismatch", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, l.tensor_entry[0] + 16, 4 * 108 + 4); }, true, true,
     EMBER_ERR_FORMAT, "byte size 436 does not match"},
    {"reserved block-quantised storage dtype", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 40; }, true, true,
     EMBER_ERR_UNSUPPORTED, "block-quantised"},
    // q8_0 (32) / q4_0 (33) are known, but conv.weight's rows of 3 are not whole blocks.
    {"q8_0 storage with a last dim of 3", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 32; }, true, true,
     EMBER_ERR_FORMAT, "last dim must be a multiple of 32"},
    {"q4_0 storage with a last dim of 3", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 33; }, true, true,
     EMBER_ERR_FORMAT, "last dim must be a multiple of 32"},
    {"reserved storage dtype 200", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 200; }, true, true,
     EMBER_ERR_UNSUPPORTED, "storage dtype 200"},
    {"unknown storage dtype", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 20; }, true, true, EMBER_ERR_FORMAT,
     "dtype code 20"},
    {"storage dtype differs from value", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 4] = 9; }, true, true, EMBER_ERR_FORMAT,
     "differs from the value's float32"},
    {"tensor rank too large", nullptr,
     [](Bytes &b, const Loc &l) { b[l.tensor_entry[0] + 5] = 200; }, true, true,
     EMBER_ERR_FORMAT, "rank 200"},
    {"tensor shape differs", nullptr,
     [](Bytes &b, const Loc &l) { put64(b, l.tensor_entry[0] + 24, 5); }, true, true,
     EMBER_ERR_FORMAT, "shape [5,3,3,3] differs"},
    {"tensor reserved flags", nullptr,
     [](Bytes &b, const Loc &l) { put16(b, l.tensor_entry[0] + 6, 1); }, true, true,
     EMBER_ERR_FORMAT, "reserved flag"},
    {"tensor value id out of range", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.tensor_entry[0], 1000); }, true, true,
     EMBER_ERR_FORMAT, "value id 1000"},
    {"tensor names another value", nullptr,
     [](Bytes &b, const Loc &l) { put32(b, l.tensor_entry[0], 0); }, true, true,
     EMBER_ERR_FORMAT, "constant index is -1"},
    {"tensors overlap", nullptr,
     [](Bytes &b, const Loc &l) {
         put64(b, l.tensor_entry[1] + 8, get64(b, l.tensor_entry[0] + 8));
     },
     true, true, EMBER_ERR_FORMAT, "data of 'conv.bias' [+0x0, +0x10) overlaps data of"},

    // ---- graphs the writer accepts and the reader refuses ----
    {"cycle",
     [](Graph &g) {
         int32_t a = g.add_value("cyc_a", DType::F32), b = g.add_value("cyc_b", DType::F32);
         g.nodes.push_back(make_node("cyc0", "Add", {b, vid(g, "input")}, {a}));
         g.nodes.push_back(make_node("cyc1", "Relu", {a}, {b}));
     },
     nullptr, false, true, EMBER_ERR_FORMAT, "cycle"},
    {"node input refers to a missing value",
     [](Graph &g) { g.nodes[1].inputs[0] = 99; }, nullptr, false, true, EMBER_ERR_FORMAT,
     "input 0 refers to value 99"},
    {"node input below -1", [](Graph &g) { g.nodes[1].inputs[0] = -2; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "value -2"},
    {"node output refers to a missing value",
     [](Graph &g) { g.nodes[0].outputs[0] = 1000; }, nullptr, false, true, EMBER_ERR_FORMAT,
     "output 0 refers to value 1000"},
    {"graph input out of range", [](Graph &g) { g.inputs[0] = 77; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "graph input 0 refers to value 77"},
    {"graph output out of range", [](Graph &g) { g.outputs.push_back(-3); }, nullptr, false,
     true, EMBER_ERR_FORMAT, "graph output 1 refers to value -3"},
    {"value constant index out of range",
     [](Graph &g) { g.values[vid(g, "relu_out")].constant = 50; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "constant 50"},
    {"value constant index below -1",
     [](Graph &g) { g.values[vid(g, "relu_out")].constant = -5; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "constant index -5"},
    {"duplicate value name", [](Graph &g) { g.values[vid(g, "relu_out")].name = "conv_out"; },
     nullptr, false, true, EMBER_ERR_FORMAT, "duplicate value name 'conv_out'"},
    {"empty value name", [](Graph &g) { g.values[vid(g, "relu_out")].name = ""; }, nullptr, false,
     true, EMBER_ERR_FORMAT, "name is empty"},
    {"empty op_type", [](Graph &g) { g.nodes[1].op_type = ""; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "op_type is empty"},
    {"rank above the maximum",
     [](Graph &g) { set_shape(g, vid(g, "relu_out"), Shape(17, 2)); }, nullptr, false, true,
     EMBER_ERR_FORMAT, "rank 17 exceeds"},
    {"dim below -1", [](Graph &g) { set_shape(g, vid(g, "relu_out"), {2, -5}); }, nullptr, false,
     true, EMBER_ERR_FORMAT, "dim 1 is -5"},
    {"dim above 2^40",
     [](Graph &g) { set_shape(g, vid(g, "relu_out"), {int64_t(1) << 41}); }, nullptr, false, true,
     EMBER_ERR_FORMAT, "dim 0 is 2199023255552"},
    {"constant with too many elements",
     [](Graph &g) {
         Value &v = g.values[vid(g, "conv.weight")];
         v.shape = {int64_t(1) << 30, int64_t(1) << 30, 4, 3};
     },
     nullptr, false, true, EMBER_ERR_FORMAT, "over 2^40 elements"},
    {"constant byte size mismatch",
     [](Graph &g) { g.constants[g.values[vid(g, "conv.bias")].constant].nbytes = 12; }, nullptr,
     false, true, EMBER_ERR_FORMAT, "byte size 12 does not match [4] x float32 (16 bytes)"},
    {"constant without shape",
     [](Graph &g) { g.values[vid(g, "conv.bias")].has_shape = false; }, nullptr, false, true,
     EMBER_ERR_FORMAT, "(no shape)"},
    {"per-channel scale count mismatch",
     [](Graph &g) { g.constants[g.values[vid(g, "q.weight")].constant].quant.scales.pop_back(); },
     nullptr, false, true, EMBER_ERR_FORMAT, "4 zero points for 3 scales"},
    {"per-channel scales vs axis dim",
     [](Graph &g) {
         QuantParams &q = g.constants[g.values[vid(g, "q.weight")].constant].quant;
         q.scales.pop_back();
         q.zero_points.pop_back();
     },
     nullptr, false, true, EMBER_ERR_FORMAT, "3 scales but dim 0 (the axis) is 4"},
    {"per-channel axis out of range",
     [](Graph &g) { g.constants[g.values[vid(g, "q.weight")].constant].quant.axis = 2; },
     nullptr, false, true, EMBER_ERR_FORMAT, "axis 2 is not in [0, 2)"},
    {"per-channel zero point count mismatch",
     [](Graph &g) {
         g.constants[g.values[vid(g, "q.weight")].constant].quant.zero_points = {0, 0};
     },
     nullptr, false, true, EMBER_ERR_FORMAT, "2 zero points for 4 scales"},
    {"negative scale",
     [](Graph &g) { g.constants[g.values[vid(g, "q.weight")].constant].quant.scales[1] = -1; },
     nullptr, false, true, EMBER_ERR_FORMAT, "scale -1"},
    {"NaN scale",
     [](Graph &g) { g.constants[g.values[vid(g, "q.bias")].constant].quant.scales[0] = NAN; },
     nullptr, false, true, EMBER_ERR_FORMAT, "not finite"},
    {"int8 zero point out of range",
     [](Graph &g) {
         g.constants[g.values[vid(g, "q.weight")].constant].quant.zero_points[2] = 300;
     },
     nullptr, false, true, EMBER_ERR_FORMAT, "zero point 300 does not fit int8"},
    {"tensor attribute names a non-constant",
     [](Graph &g) { const_cast<Attribute *>(g.nodes[2].attr("t"))->i = vid(g, "input"); },
     nullptr, false, true, EMBER_ERR_FORMAT, "tensor attribute 't' refers to value 0"},
    {"duplicate attribute", [](Graph &g) { g.nodes[0].attrs.push_back(g.nodes[0].attrs[0]); },
     nullptr, false, true, EMBER_ERR_FORMAT, "attribute 'kernel_shape' appears twice"},
    {"value produced twice",
     [](Graph &g) { g.nodes[1].outputs[0] = vid(g, "conv_out"); }, nullptr, false, true,
     EMBER_ERR_FORMAT, "produced more than once"},
    {"node reads a value nothing produces",
     [](Graph &g) { g.add_value("orphan", DType::F32); g.nodes[1].inputs[0] = vid(g, "orphan"); },
     nullptr, false, true, EMBER_ERR_FORMAT, "which nothing produces"},
    {"graph input is a constant",
     [](Graph &g) { g.inputs.push_back(vid(g, "conv.bias")); }, nullptr, false, true,
     EMBER_ERR_FORMAT, "also a constant"},
    {"opset too large", [](Graph &g) { g.opset = 5000; }, nullptr, false, true, EMBER_ERR_FORMAT,
     "opset 5000"},
};

void test_damage_table(void **state) {
    for (const Case &c : kCases) {
        Graph g = make_rich_graph();
        if (c.graph_mut) c.graph_mut(g);
        Bytes b;
        Status st = write_ember(g, &b);
        if (!st.ok()) fail_msg("%s: write_ember: %s", c.name, st.message().c_str());
        if (c.byte_mut) c.byte_mut(b, fx->loc);
        if (c.fix_crc) fix_checksums(b);
        Graph out = sentinel_graph();
        FileLayout lay;
        lay.version_major = 77;
        st = read_bytes(b, c.verify, &out, &lay);
        if (st.code() != c.want)
            fail_msg("%s: want %s, got %s: %s", c.name, ember_status_string(c.want),
                     ember_status_string(st.code()), st.message().c_str());
        if (std::getenv("EMBER_TEST_VERBOSE"))
            printf("%-50s %s %s\n", c.name, ember_status_string(st.code()), st.message().c_str());
        if (c.want == EMBER_OK) {
            assert_false(is_sentinel(out));
            assert_int_equal(lay.version_major, 1);
            continue;
        }
        if (st.message().empty()) fail_msg("%s: empty message", c.name);
        if (c.want_msg && !strstr(st.message().c_str(), c.want_msg))
            fail_msg("%s: message lacks \"%s\": %s", c.name, c.want_msg, st.message().c_str());
        if (st.message().compare(0, 9, "offset 0x") != 0)
            fail_msg("%s: message does not say where: %s", c.name, st.message().c_str());
        if (!is_sentinel(out)) fail_msg("%s: output modified on failure", c.name);
        if (lay.version_major != 77) fail_msg("%s: layout modified on failure", c.name);
    }
}

// Typed metadata values become strings in Graph::metadata; unknown sections show in the
// layout.
void test_typed_metadata_and_layout(void **state) {
    auto secs = rich_sections();
    double half = 0.5;
    uint64_t hbits;
    std::memcpy(&hbits, &half, 8);
    secs[0].bytes = metadata_section({
        std::make_tuple("s", fmt::kMetaString, Bytes{'h', 'i'}),
        std::make_tuple("i", fmt::kMetaInt64, le64(static_cast<uint64_t>(int64_t(-42)))),
        std::make_tuple("f", fmt::kMetaFloat64, le64(hbits)),
        std::make_tuple("b", fmt::kMetaBytes, Bytes{'a', 0, 'b'}),
        std::make_tuple("e", fmt::kMetaString, Bytes{}),
    });
    secs.push_back(RawSection{1234, 0, Bytes(3, 7)});
    Bytes b = assemble(secs, 0, 8);
    Graph g;
    FileLayout lay;
    Status st = read_bytes(b, true, &g, &lay);
    if (!st.ok()) fail_msg("typed metadata: %s", st.message().c_str());
    assert_string_equal(g.metadata_get("s")->c_str(), "hi");
    assert_string_equal(g.metadata_get("i")->c_str(), "-42");
    assert_string_equal(g.metadata_get("f")->c_str(), "0.5");
    assert_true(*g.metadata_get("b") == std::string("a\0b", 3));
    assert_string_equal(g.metadata_get("e")->c_str(), "");
    assert_int_equal(lay.sections.size(), 5);
    assert_string_equal(lay.sections[4].name.c_str(), "unknown(1234)");
    assert_int_equal(lay.sections[4].size, 3);
}

// The writer refuses only what it cannot encode.
void test_writer_refuses(void **state) {
    struct {
        const char *name;
        GraphMut mut;
        const char *want_msg;
    } cases[] = {
        {"NUL in a value name",
         [](Graph &g) { g.values[0].name = std::string("in\0put", 6); }, "NUL"},
        {"NUL in a metadata key", [](Graph &g) { g.metadata_set(std::string("k\0", 2), "v"); },
         "NUL"},
        {"duplicate metadata key",
         [](Graph &g) { g.metadata.emplace_back("producer", "again"); }, "twice"},
        {"constant owned twice",
         [](Graph &g) {
             g.values[vid(g, "relu_out")].constant = g.values[vid(g, "conv.bias")].constant;
         },
         "owned by both"},
        {"constant owned by nobody",
         [](Graph &g) { g.values[vid(g, "conv.bias")].constant = -1; }, "owned by no value"},
        {"constant bytes missing",
         [](Graph &g) { g.constants[0].data = nullptr; }, "no data"},
        {"dim names of the wrong rank",
         [](Graph &g) { g.values[0].dim_names = {"a"}; }, "dim names"},
        {"rank beyond a byte",
         [](Graph &g) { set_shape(g, vid(g, "relu_out"), Shape(300, 1)); }, "rank 300"},
        {"unknown attribute type",
         [](Graph &g) { g.nodes[0].attrs[2].type = static_cast<AttrType>(42); }, "type 42"},
        {"tensor attribute beyond int32",
         [](Graph &g) { const_cast<Attribute *>(g.nodes[2].attr("t"))->i = int64_t(1) << 40; },
         "tensor attribute"},
    };
    for (const auto &c : cases) {
        Graph g = make_rich_graph();
        c.mut(g);
        Bytes b{1, 2, 3};
        Status st = write_ember(g, &b);
        if (st.code() != EMBER_ERR_INVALID_ARGUMENT)
            fail_msg("%s: want EMBER_ERR_INVALID_ARGUMENT, got %s: %s", c.name,
                     ember_status_string(st.code()), st.message().c_str());
        if (!strstr(st.message().c_str(), c.want_msg))
            fail_msg("%s: message lacks \"%s\": %s", c.name, c.want_msg, st.message().c_str());
        assert_int_equal(b.size(), 3);  // untouched
    }
    assert_int_equal(write_ember(fx->graph, nullptr).code(), EMBER_ERR_INVALID_ARGUMENT);
}

void test_read_arguments(void **state) {
    Aligned a(fx->file);
    Graph g = sentinel_graph();
    ReadOptions o;
    assert_int_equal(read_ember(a.data(), a.size(), o, nullptr).code(), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(read_ember(nullptr, 10, o, &g).code(), EMBER_ERR_INVALID_ARGUMENT);
    Status st = read_ember(nullptr, 0, o, &g);
    assert_int_equal(st.code(), EMBER_ERR_FORMAT);
    assert_non_null(strstr(st.message().c_str(), "empty"));

    // A buffer that is not 64-byte aligned is refused, not used.
    Bytes shifted(fx->file.size() + 64);
    uint8_t *p = shifted.data();
    while (reinterpret_cast<uintptr_t>(p) % 64 != 8) p++;
    std::memcpy(p, fx->file.data(), fx->file.size());
    st = read_ember(p, fx->file.size(), o, &g);
    assert_int_equal(st.code(), EMBER_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(st.message().c_str(), "64-byte aligned"));
    assert_true(is_sentinel(g));

    // Files shorter than the header that still start like one.
    for (size_t n = 1; n < fmt::kHeaderSize; n++) {
        Bytes b(fx->file.begin(), fx->file.begin() + n);
        Graph h = sentinel_graph();
        st = read_bytes(b, true, &h);
        assert_int_equal(st.code(), EMBER_ERR_FORMAT);
        if (!strstr(st.message().c_str(), "shorter than the 64-byte header"))
            fail_msg("%zu bytes: %s", n, st.message().c_str());
    }
}

}  // namespace

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tensors_in_place),
        cmocka_unit_test(test_empty_graph),
        cmocka_unit_test(test_write_file),
        cmocka_unit_test(test_read_arguments),
        cmocka_unit_test(test_writer_refuses),
        cmocka_unit_test(test_typed_metadata_and_layout),
        cmocka_unit_test(test_damage_table),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_truncated_sections),
        cmocka_unit_test(test_flipped_bytes),
        cmocka_unit_test(test_random_damage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
