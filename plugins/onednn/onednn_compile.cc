// onednn_compile.cc — subgraph -> primitives, and running them (see onednn_compile.h).
#include "onednn_compile.h"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "onednn_half.h"
#include "onednn_ops.h"

namespace ember_onednn {

ThreadScope::ThreadScope(int n) : prev_(omp_get_max_threads()) { omp_set_num_threads(n > 0 ? n : 1); }
ThreadScope::~ThreadScope() { omp_set_num_threads(prev_); }

namespace {

constexpr size_t kAlign = 64;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

[[noreturn]] void fail(const std::string &msg) { throw std::runtime_error(msg); }

struct FreeDeleter {
    void operator()(void *p) const { std::free(p); }
};

// Where a memory object's bytes live.
struct Buffer {
    enum Kind { Arena, HostIn, HostOut } kind = Arena;
    size_t host_index = 0;            // HostIn / HostOut: the subgraph input / output
    size_t bytes = 0;
    int first = INT_MAX, last = -1;   // steps that touch it (Arena)
    std::vector<int> values;          // values with a memory object on it
    size_t offset = 0;                // in the arena
};

// A memory object; buffer -1: bytes owned by the object or by the model (constants).
struct Mem {
    dnnl::memory m;
    int buffer = -1;
};

struct Step {
    dnnl::primitive prim;
    std::unordered_map<int, dnnl::memory> args;  // owns the memory objects
    std::vector<dnnl_exec_arg_t> c_args;         // the same for the C API: run allocates nothing
    int threads = 1;                             // OpenMP threads it was created for and runs on
    // Instead of a primitive: a row-major half <-> float32 conversion (onednn_half.h).
    enum Convert { None, Widen, Narrow } convert = None;
    ember_dtype half = EMBER_DTYPE_UNDEFINED;
    dnnl::memory from, to;
    size_t count = 0;
};

// One value of the subgraph, by name.
struct Val {
    std::string name;
    Dims dims;                 // rank 0 is stored as {1}
    ember_dtype dtype = EMBER_DTYPE_UNDEFINED;
    memory::data_type host_dt = memory::data_type::f32;  // in host buffers (edges)
    const void *constant = nullptr;
    int sg_input = -1, sg_output = -1;
    std::vector<int> consumers;  // node indices, each once
    int primary = -1;            // Mem holding the value as produced
    std::vector<int> alts;       // the same value in other layouts or shapes
};

struct HostBinding {
    dnnl::memory m;
    bool output;
    size_t index;
};

}  // namespace

struct Compiled {
    int num_threads = 1;
    dnnl::stream stream;
    std::vector<Step> steps;
    std::vector<HostBinding> host;
    std::vector<std::pair<size_t, size_t>> fill_ones;  // output index, bytes (Dropout masks)
    std::vector<Dims> in_dims, out_dims;
    std::unique_ptr<void, FreeDeleter> arena, scratch;
    std::vector<dnnl::memory> constants;       // reordered weights, owned by oneDNN
    std::vector<std::vector<float>> folded;    // constant data computed at compile
};

namespace {

Dims md_dims(const ember_plugin_value &v) {
    if (v.rank == 0) return Dims{1};
    return Dims(v.dims, v.dims + v.rank);
}

// A post-operation of a fused chain: an activation step or a residual sum.
struct PostItem {
    bool sum = false;
    int residual = -1;  // value added (sum)
    std::vector<EltStep> elt;
    int node = -1;      // the node it came from
    int out = -1;       // that node's output value
};

// A depthwise convolution fused into the 1x1 convolution before it (post_ops::append_dw).
struct DwFusion {
    bool fused = false;
    int node = -1, out = -1;          // the depthwise node and its output value
    int64_t stride = 1;
    const float *weights = nullptr;   // [m, 1, 3, 3]
    const float *bias = nullptr;      // [m]
    std::vector<PostItem> post;       // its activations
};

class Builder {
public:
    // probe: create primitive descriptors only (no JIT code, no data): supports().
    Builder(const Context &ctx, const ember_plugin_subgraph &sg, Compiled *c, bool probe)
        : ctx_(ctx), sg_(sg), c_(c), probe_(probe) {}

    void build();

private:
    const Context &ctx_;
    const ember_plugin_subgraph &sg_;
    Compiled *c_;
    bool probe_;
    std::vector<Val> vals_;
    std::map<std::string, int> by_name_;
    std::vector<Mem> mems_;
    std::vector<Buffer> bufs_;
    std::vector<std::pair<dnnl::memory, size_t>> scratch_mems_;  // memory, bytes
    std::vector<char> absorbed_;
    std::vector<int> host_out_buf_;  // per subgraph output: its HostOut buffer or -1

    // ---- values and memory ----
    int value(const ember_plugin_value &v);
    int input_value(size_t node, size_t i) { return value(sg_.nodes[node].inputs[i]); }
    // A constant's data as float32 (half constants widened once).
    const float *cst(const ember_plugin_value &v) { return static_cast<const float *>(vals_[value(v)].constant); }
    int output_value(size_t node, size_t o) { return value(sg_.nodes[node].outputs[o]); }
    int new_mem(const memory::desc &md, int buffer, int val);
    int new_arena_buffer(size_t bytes);
    int view(int mem, const memory::desc &md, int val);
    int mem_as(int v, const memory::desc &md);
    int find_mem(int v, const memory::desc &md) const;
    int src_f32(int v);
    int produce(int v, const memory::desc &md);
    void finish(int v);
    dnnl::memory const_memory(const memory::desc &plain, const float *data, const memory::desc &want);
    const float *folded_copy(std::vector<float> data);
    bool can_overwrite(int buffer, int anchor, int fused_node) const;
    void reorder_now(const dnnl::memory &src, const dnnl::memory &dst);

    // ---- steps ----
    dnnl::primitive_attr attr_with(const dnnl::post_ops &po) const;
    void add_step(const dnnl::primitive_desc_base &pd, const std::vector<std::pair<int, int>> &args, int threads);
    // Threads for a primitive of `work` multiply-adds (memory-bound operators count
    // kElemWork per element): the subgraph's threads when the work pays for waking
    // them, else 1. Set on the calling thread before the primitive is created.
    int use_threads(double work);
    void add_reorder(int src_mem, int dst_mem);
    void add_convert(int src_mem, int dst_mem, Step::Convert how, ember_dtype half);
    void touch(int mem, int step);

    // ---- operators ----
    std::string where(size_t node) const;
    void emit(size_t node);
    void emit_conv(size_t node);
    void emit_matmul(size_t node);
    void emit_pool(size_t node);
    void emit_eltwise(size_t node);
    void emit_batchnorm(size_t node);
    void emit_softmax(size_t node);
    void emit_layernorm(size_t node);
    void emit_concat(size_t node);
    void emit_binary(size_t node);
    void emit_lrn(size_t node);
    void emit_transpose(size_t node);
    void emit_view(size_t node);
    void collect_post_ops(size_t anchor, int out, bool allow_sum, std::vector<PostItem> *post);
    bool match_dw(size_t anchor, int v, int64_t m, DwFusion *dw);
    int chain_output(int out, const std::vector<PostItem> &post) const {
        return post.empty() ? out : post.back().out;
    }
    dnnl::post_ops make_post_ops(const std::vector<EltStep> &pre, const std::vector<PostItem> &post) const;
    int bind_dst(int out, const memory::desc &dst_md, const std::vector<PostItem> &post, size_t anchor);
    void absorb(const std::vector<PostItem> &post) {
        for (const PostItem &p : post) absorbed_[p.node] = 1;
    }

    void layout_arena();

    // Primitives that follow their source's layout are created for that layout or, when
    // this oneDNN has no implementation for it, for the row-major one (*src becomes the
    // value reordered there). make(md) creates the primitive descriptor.
    template <class MakePd>
    auto follow_layout(int v, int *src, MakePd make) -> decltype(make(memory::desc())) {
        memory::desc md = mems_[*src].m.get_desc();
        try {
            return make(md);
        } catch (const dnnl::error &) {
            memory::desc plain = plain_md(vals_[v].dims);
            if (md == plain) throw;
            *src = mem_as(v, plain);
            return make(plain);
        }
    }
};

std::string Builder::where(size_t node) const {
    const ember_plugin_node &n = sg_.nodes[node];
    return std::string("node '") + n.name + "' (" + n.op_type + ")";
}

int Builder::value(const ember_plugin_value &v) {
    auto it = by_name_.find(v.name);
    if (it != by_name_.end()) return it->second;
    Val val;
    val.name = v.name;
    val.dims = md_dims(v);
    val.dtype = v.dtype;
    val.host_dt = host_type(v.dtype);
    val.constant = v.constant_data;
    if (v.constant_data && (v.dtype == EMBER_DTYPE_FLOAT16 || v.dtype == EMBER_DTYPE_BFLOAT16)) {
        std::vector<float> wide(static_cast<size_t>(numel(val.dims)));
        constant_to_f32(v, wide.size(), wide.data());
        val.constant = folded_copy(std::move(wide));
        val.dtype = EMBER_DTYPE_FLOAT32;
        val.host_dt = memory::data_type::f32;
    }
    vals_.push_back(val);
    int id = static_cast<int>(vals_.size() - 1);
    by_name_[val.name] = id;
    return id;
}

int Builder::new_arena_buffer(size_t bytes) {
    Buffer b;
    b.kind = Buffer::Arena;
    b.bytes = bytes;
    bufs_.push_back(b);
    return static_cast<int>(bufs_.size() - 1);
}

int Builder::new_mem(const memory::desc &md, int buffer, int val) {
    Mem m;
    m.m = dnnl::memory(md, ctx_.engine, DNNL_MEMORY_NONE);
    m.buffer = buffer;
    mems_.push_back(m);
    if (buffer >= 0 && val >= 0) {
        std::vector<int> &vs = bufs_[buffer].values;
        if (std::find(vs.begin(), vs.end(), val) == vs.end()) vs.push_back(val);
    }
    return static_cast<int>(mems_.size() - 1);
}

// Another descriptor over the same bytes (a reshape, a transposed or broadcast view).
int Builder::view(int mem, const memory::desc &md, int val) {
    int buffer = mems_[mem].buffer;
    if (buffer < 0) {  // constant: same pointer
        Mem m;
        m.m = dnnl::memory(md, ctx_.engine, mems_[mem].m.get_data_handle());
        mems_.push_back(m);
        return static_cast<int>(mems_.size() - 1);
    }
    return new_mem(md, buffer, val);
}

int Builder::find_mem(int v, const memory::desc &md) const {
    const Val &val = vals_[v];
    if (val.primary >= 0 && mems_[val.primary].m.get_desc() == md) return val.primary;
    for (int a : val.alts)
        if (mems_[a].m.get_desc() == md) return a;
    return -1;
}

// The value in layout `md` (same element count; other dims = a row-major reshape),
// reordering once where needed: at compile for constants, as a step otherwise.
int Builder::mem_as(int v, const memory::desc &md) {
    Val &val = vals_[v];
    if (val.primary < 0) fail("internal: value '" + val.name + "' is used before it is computed");
    int found = find_mem(v, md);
    if (found >= 0) return found;
    int src = val.primary;
    if (mems_[src].m.get_desc().data_type() != memory::data_type::f32) {
        // A half tensor from the host: widened once, row-major, then as any float32 one.
        memory::desc pf = plain_md(val.dims);
        int wide = find_mem(v, pf);
        if (wide < 0) {
            wide = new_mem(pf, new_arena_buffer(pf.get_size()), v);
            add_convert(src, wide, Step::Widen, val.dtype);
            vals_[v].alts.push_back(wide);
        }
        if (pf == md) return wide;
        src = wide;
    }
    if (md.dims() != val.dims) {
        if (numel(md.dims()) != numel(val.dims)) fail("internal: reshape of '" + val.name + "' changes its size");
        int plain = mem_as(v, plain_md(val.dims));
        memory::desc pmd = plain_md(md.dims());
        int pv = find_mem(v, pmd);
        if (pv < 0) {
            pv = view(plain, pmd, v);
            vals_[v].alts.push_back(pv);
        }
        if (pmd == md) return pv;
        src = pv;
    }
    int dst;
    if (vals_[v].constant) {
        Mem m;
        m.m = probe_ ? dnnl::memory(md, ctx_.engine, DNNL_MEMORY_NONE) : dnnl::memory(md, ctx_.engine);
        reorder_now(mems_[src].m, m.m);
        c_->constants.push_back(m.m);
        mems_.push_back(m);
        dst = static_cast<int>(mems_.size() - 1);
    } else {
        dst = new_mem(md, new_arena_buffer(md.get_size()), v);
        add_reorder(src, dst);
    }
    vals_[v].alts.push_back(dst);
    return dst;
}

// The value as the source of a primitive that takes any layout: as it is when float32,
// widened (row-major) when it is a half tensor from the host.
int Builder::src_f32(int v) {
    int p = vals_[v].primary;
    if (p >= 0 && mems_[p].m.get_desc().data_type() == memory::data_type::f32) return p;
    return mem_as(v, plain_md(vals_[v].dims));
}

// The memory a producer writes value v into: the host output buffer when v is a
// subgraph output and `md` is row-major, the arena otherwise.
int Builder::produce(int v, const memory::desc &md) {
    Val &val = vals_[v];
    if (val.primary >= 0) fail("internal: value '" + val.name + "' is computed twice");
    int buffer;
    if (val.sg_output >= 0 && md == plain_md(val.dims, val.host_dt)) {
        int &hb = host_out_buf_[val.sg_output];
        if (hb < 0) {
            Buffer b;
            b.kind = Buffer::HostOut;
            b.host_index = static_cast<size_t>(val.sg_output);
            b.bytes = md.get_size();
            bufs_.push_back(b);
            hb = static_cast<int>(bufs_.size() - 1);
        }
        buffer = hb;
    } else {
        buffer = new_arena_buffer(md.get_size());
    }
    int m = new_mem(md, buffer, v);
    vals_[v].primary = m;
    return m;
}

// After v's producing step: a subgraph output not written to its host buffer is
// reordered (or copied) there.
void Builder::finish(int v) {
    Val &val = vals_[v];
    if (val.sg_output < 0) return;
    int hb = host_out_buf_[val.sg_output];
    if (hb >= 0 && mems_[val.primary].buffer == hb) return;
    if (hb < 0) {
        Buffer b;
        b.kind = Buffer::HostOut;
        b.host_index = static_cast<size_t>(val.sg_output);
        b.bytes = plain_md(val.dims, val.host_dt).get_size();
        bufs_.push_back(b);
        hb = static_cast<int>(bufs_.size() - 1);
        host_out_buf_[val.sg_output] = hb;
    }
    int out = new_mem(plain_md(val.dims, val.host_dt), hb, v);
    if (val.host_dt == memory::data_type::f32) {
        add_reorder(vals_[v].primary, out);
    } else {  // rounded once to the host's half type, from row-major float32
        add_convert(mem_as(v, plain_md(vals_[v].dims)), out, Step::Narrow, vals_[v].dtype);
    }
    vals_[v].alts.push_back(out);
}

void Builder::reorder_now(const dnnl::memory &src, const dnnl::memory &dst) {
    if (probe_) return;
    dnnl::reorder(src, dst).execute(c_->stream, const_cast<dnnl::memory &>(src), const_cast<dnnl::memory &>(dst));
    c_->stream.wait();
}

// Constant data (row-major in `plain`) reordered into `want`, owned by the compiled
// object. The source is read during this call only.
dnnl::memory Builder::const_memory(const memory::desc &plain, const float *data, const memory::desc &want) {
    dnnl::memory src(plain, ctx_.engine, const_cast<float *>(data));
    dnnl::memory dst = probe_ ? dnnl::memory(want, ctx_.engine, DNNL_MEMORY_NONE) : dnnl::memory(want, ctx_.engine);
    reorder_now(src, dst);
    c_->constants.push_back(dst);
    return dst;
}

const float *Builder::folded_copy(std::vector<float> data) {
    c_->folded.push_back(std::move(data));
    return c_->folded.back().data();
}

// Whether the primitive emitted at node `anchor` may overwrite `buffer`: an arena
// buffer whose values leave the subgraph nowhere and are read by no node from the
// anchor on (the anchor itself reads its sources while it writes), except `fused_node`
// (absorbed into the anchor).
bool Builder::can_overwrite(int buffer, int anchor, int fused_node) const {
    if (buffer < 0 || bufs_[buffer].kind != Buffer::Arena) return false;
    for (int v : bufs_[buffer].values) {
        if (vals_[v].sg_output >= 0) return false;
        for (int c : vals_[v].consumers)
            if (c >= anchor && c != fused_node) return false;
    }
    return true;
}

dnnl::primitive_attr Builder::attr_with(const dnnl::post_ops &po) const {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_post_ops(po);
    return attr;
}

// Creates the primitive of `pd` (JIT code is generated here, once) and appends it.
void Builder::add_step(const dnnl::primitive_desc_base &pd, const std::vector<std::pair<int, int>> &args,
                       int threads) {
    Step s;
    s.threads = threads;
    omp_set_num_threads(threads);
    if (!probe_) s.prim = dnnl::primitive(pd.get());
    int idx = static_cast<int>(c_->steps.size());
    for (const auto &a : args) {
        s.args[a.first] = mems_[a.second].m;
        touch(a.second, idx);
    }
    memory::desc sd = pd.scratchpad_desc();
    size_t sbytes = sd.get_size();
    if (sbytes > 0) {
        dnnl::memory sm(sd, ctx_.engine, DNNL_MEMORY_NONE);
        s.args[DNNL_ARG_SCRATCHPAD] = sm;
        scratch_mems_.emplace_back(sm, sbytes);
    }
    c_->steps.push_back(std::move(s));
}

void Builder::touch(int mem, int step) {
    int b = mems_[mem].buffer;
    if (b < 0) return;
    bufs_[b].first = std::min(bufs_[b].first, step);
    bufs_[b].last = std::max(bufs_[b].last, step);
}

void Builder::add_convert(int src_mem, int dst_mem, Step::Convert how, ember_dtype half) {
    Step s;
    s.convert = how;
    s.half = half;
    s.from = mems_[src_mem].m;
    s.to = mems_[dst_mem].m;
    s.count = static_cast<size_t>(numel(mems_[dst_mem].m.get_desc().dims()));
    int idx = static_cast<int>(c_->steps.size());
    touch(src_mem, idx);
    touch(dst_mem, idx);
    c_->steps.push_back(std::move(s));
}

// A parallel region costs a futex wake-up per worker with the passive wait policy
// (tens of microseconds on a busy machine): below ~50 us of single-thread work
// (2.5M multiply-adds at ~50 per ns) one thread is faster.
constexpr double kParallelWork = 2.5e6;
constexpr double kElemWork = 16;  // a memory-bound element ~ 16 multiply-adds of time

int Builder::use_threads(double work) {
    int n = work >= kParallelWork ? c_->num_threads : 1;
    omp_set_num_threads(n);
    return n;
}

void Builder::add_reorder(int src_mem, int dst_mem) {
    int nt = use_threads(kElemWork * static_cast<double>(numel(mems_[dst_mem].m.get_desc().dims())));
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::reorder::primitive_desc pd(ctx_.engine, mems_[src_mem].m.get_desc(), ctx_.engine,
                                     mems_[dst_mem].m.get_desc(), attr);
    add_step(pd, {{DNNL_ARG_FROM, src_mem}, {DNNL_ARG_TO, dst_mem}}, nt);
}

// ---- fusion ----

// Activations and at most one residual Add after an anchor (Conv, MatMul, Gemm) whose
// output `out` has no other reader: each becomes a post-op of the anchor's primitive.
void Builder::collect_post_ops(size_t anchor, int out, bool allow_sum, std::vector<PostItem> *post) {
    int cur = out;
    bool have_sum = false;
    while (true) {
        const Val &cv = vals_[cur];
        if (cv.sg_output >= 0 || cv.consumers.size() != 1) return;
        int cn = cv.consumers[0];
        if (absorbed_[cn] || cn <= static_cast<int>(anchor)) return;
        NodeView n(&sg_.nodes[cn]);
        PostItem item;
        item.node = cn;
        EltSpec elt;
        if (parse_eltwise(n, &elt) && input_value(cn, 0) == cur) {
            item.elt = elt.steps;
        } else if (allow_sum && !have_sum && n.is("Add") && n.n_inputs() == 2 && n.has_input(0) &&
                   n.has_input(1)) {
            int a = input_value(cn, 0), b = input_value(cn, 1);
            int other = a == cur ? b : a;
            if ((a != cur && b != cur) || a == b) return;
            const Val &ov = vals_[other];
            // The residual must exist before the anchor runs and match the shape exactly.
            if (ov.primary < 0 || !is_float_type(ov.dtype) || ov.dims != cv.dims ||
                md_dims(n.out(0)) != cv.dims)
                return;
            item.sum = true;
            item.residual = other;
            have_sum = true;
        } else {
            return;
        }
        item.out = output_value(cn, 0);
        post->push_back(item);
        cur = item.out;
    }
}

dnnl::post_ops Builder::make_post_ops(const std::vector<EltStep> &pre, const std::vector<PostItem> &post) const {
    dnnl::post_ops po;
    for (const EltStep &e : pre) po.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    for (const PostItem &p : post) {
        if (p.sum) po.append_sum(1.f);
        for (const EltStep &e : p.elt) po.append_eltwise(1.f, e.alg, e.alpha, e.beta);
    }
    return po;
}

// The destination of an anchor whose chain ends in value `out`. With a residual sum,
// the residual is in dst before the primitive runs: either dst is the residual's own
// buffer (no later reader) or the residual is copied there first.
int Builder::bind_dst(int out, const memory::desc &dst_md, const std::vector<PostItem> &post, size_t anchor) {
    const PostItem *sum = nullptr;
    for (const PostItem &p : post)
        if (p.sum) sum = &p;
    if (!sum) return produce(out, dst_md);
    int r = sum->residual;
    int rm = find_mem(r, dst_md);
    const Val &ov = vals_[out];
    bool to_host = ov.sg_output >= 0 && dst_md == plain_md(ov.dims, ov.host_dt);  // see produce()
    if (rm >= 0 && !to_host && can_overwrite(mems_[rm].buffer, static_cast<int>(anchor), sum->node)) {
        int m = new_mem(dst_md, mems_[rm].buffer, out);
        vals_[out].primary = m;
        return m;
    }
    int dst = produce(out, dst_md);
    add_reorder(rm >= 0 ? rm : src_f32(r), dst);
    return dst;
}

// ---- Conv (+ folded BatchNormalization / per-channel Mul, Add, Sub) (+ post-ops) ----

void Builder::emit_conv(size_t node) {
    NodeView n(&sg_.nodes[node]);
    ConvSpec cs;
    if (!parse_conv(n, &cs)) fail("internal: " + where(node) + " is not a supported convolution");
    int x = input_value(node, 0), w = input_value(node, 1);
    int b = cs.has_bias ? input_value(node, 2) : -1;
    int y = output_value(node, 0);
    const Dims &xd = vals_[x].dims, &wd = vals_[w].dims;
    int64_t m = wd[0], g = cs.groups;
    bool w_const = vals_[w].constant && (b < 0 || vals_[b].constant);

    // Folds into the weights and bias: only with constant weights, before any post-op.
    std::vector<float> wf, bf;
    bool folded = false;
    auto start_fold = [&]() {
        if (folded) return;
        const float *wp = static_cast<const float *>(vals_[w].constant);
        wf.assign(wp, wp + numel(wd));
        bf.assign(static_cast<size_t>(m), 0.f);
        if (b >= 0) {
            const float *bp = static_cast<const float *>(vals_[b].constant);
            bf.assign(bp, bp + m);
        }
        folded = true;
    };
    int64_t per_oc = numel(wd) / m;
    int cur = y;
    while (w_const) {
        const Val &cv = vals_[cur];
        if (cv.sg_output >= 0 || cv.consumers.size() != 1) break;
        int cn = cv.consumers[0];
        NodeView f(&sg_.nodes[cn]);
        if (f.is("BatchNormalization")) {
            BatchNormSpec bs;
            if (!parse_batchnorm(f, &bs) || input_value(cn, 0) != cur) break;
            bool consts = true;
            for (size_t i = 1; i < 5; i++) consts &= f.in(i).constant_data != nullptr;
            if (!consts) break;
            start_fold();
            const float *sc = cst(f.in(1)), *sh = cst(f.in(2)), *mean = cst(f.in(3)), *var = cst(f.in(4));
            for (int64_t o = 0; o < m; o++) {
                float k = sc[o] / std::sqrt(var[o] + bs.epsilon);
                for (int64_t i = 0; i < per_oc; i++) wf[o * per_oc + i] *= k;
                bf[o] = (bf[o] - mean[o]) * k + sh[o];
            }
        } else if ((f.is("Mul") || f.is("Add") || f.is("Sub")) && f.n_inputs() == 2 && f.has_input(0) &&
                   f.has_input(1) && f.node().n_attrs == 0) {
            int a0 = input_value(cn, 0), a1 = input_value(cn, 1);
            if (f.is("Sub") && a0 != cur) break;
            int other = a0 == cur ? a1 : a0;
            if ((a0 != cur && a1 != cur) || a0 == a1) break;
            const ember_plugin_value &ov = a0 == cur ? f.in(1) : f.in(0);
            if (!ov.constant_data || !is_float(ov) || ov.rank > xd.size() || md_dims(f.out(0)) != vals_[cur].dims)
                break;
            // Per output channel (or one scalar): dims 1 except dim 1 of the output.
            Dims od = pad_left(vals_[other].dims, xd.size());
            bool ok = true;
            for (size_t i = 0; i < od.size(); i++) ok &= od[i] == 1 || (i == 1 && od[i] == m);
            if (!ok) break;
            start_fold();
            const float *cvp = cst(ov);
            bool vec = od[1] == m && m > 1;
            for (int64_t o = 0; o < m; o++) {
                float k = cvp[vec ? o : 0];
                if (f.is("Mul")) {
                    for (int64_t i = 0; i < per_oc; i++) wf[o * per_oc + i] *= k;
                    bf[o] *= k;
                } else if (f.is("Add")) {
                    bf[o] += k;
                } else {
                    bf[o] -= k;
                }
            }
        } else {
            break;
        }
        absorbed_[cn] = 1;
        cur = output_value(cn, 0);
    }
    int conv_out = cur;  // the value the convolution itself produces, after folds

    std::vector<PostItem> post;
    collect_post_ops(node, conv_out, true, &post);

    Dims wdims = wd;
    if (g > 1) {
        wdims = {g, m / g};
        wdims.insert(wdims.end(), wd.begin() + 1, wd.end());
    }
    memory::desc src_any(xd, memory::data_type::f32, memory::format_tag::any);
    memory::desc w_any(wdims, memory::data_type::f32, memory::format_tag::any);
    memory::desc dst_any(vals_[conv_out].dims, memory::data_type::f32, memory::format_tag::any);
    // Several images: channel-blocked nChw16c (oneDNN's blocked direct and 1x1 kernels),
    // where `any` would give NHWC and brgemm kernels. Measured by CPU time at batch 8,
    // one thread: SqueezeNet 60-65 ms instead of 68-85 (the fire modules' concats
    // become block copies), ResNet-50 613-633 instead of 639-684; at batch 1 NHWC is as
    // fast or faster (SqueezeNet 8.2 vs 9.3 ms), so it stays there.
    if (xd.size() == 4 && xd[0] > 1) {
        if (xd[1] % 16 == 0) src_any = memory::desc(xd, memory::data_type::f32, memory::format_tag::nChw16c);
        if (m % 16 == 0)
            dst_any = memory::desc(vals_[conv_out].dims, memory::data_type::f32, memory::format_tag::nChw16c);
    }
    bool has_bias = b >= 0 || folded;
    memory::desc bias_md = has_bias ? plain_md(Dims{m}) : memory::desc();

    int nt = use_threads(static_cast<double>(numel(vals_[conv_out].dims)) * static_cast<double>(per_oc));
    auto make_pd = [&](const memory::desc &dst_md) {
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::convolution_direct,
                                          src_any, w_any, bias_md, dst_md, cs.strides, cs.dilates, cs.pad_l,
                                          cs.pad_r);
        return dnnl::convolution_forward::primitive_desc(d, attr_with(make_post_ops({}, post)), ctx_.engine);
    };
    dnnl::convolution_forward::primitive_desc pd;
    while (true) {
        try {
            pd = make_pd(dst_any);
            break;
        } catch (const dnnl::error &) {
            if (post.empty()) throw;
            post.pop_back();  // a combination this build cannot fuse: run the tail alone
        }
    }
    absorb(post);
    int out = chain_output(conv_out, post);

    // Several images, a 1x1 convolution (+ activations) read only by a 3x3 depthwise one
    // with padding 1 (MobileNet's inverted residual): the depthwise convolution and its
    // activations become a post-op (oneDNN's fused kernel runs both in one pass, never
    // writing the wide 1x1 output). Kept only when oneDNN has a JIT kernel for it.
    DwFusion dw;
    bool post_sum = false;
    for (const PostItem &p : post) post_sum |= p.sum;
    if (w_const && !post_sum && xd.size() == 4 && xd[0] > 1 && g == 1 && wd[2] == 1 && wd[3] == 1 &&
        cs.strides == Dims({1, 1}) && cs.pad_l == Dims({0, 0}) && cs.pad_r == Dims({0, 0}) &&
        match_dw(node, out, m, &dw)) {
        try {
            dnnl::post_ops po = make_post_ops({}, post);
            po.append_dw(memory::data_type::f32, memory::data_type::f32, memory::data_type::f32, 3, dw.stride, 1, 0,
                         {});
            for (const PostItem &p : dw.post)
                for (const EltStep &e : p.elt) po.append_eltwise(1.f, e.alg, e.alpha, e.beta);
            dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::convolution_direct,
                                              src_any, w_any, bias_md, dst_any, cs.strides, cs.dilates, cs.pad_l,
                                              cs.pad_r);
            dnnl::convolution_forward::primitive_desc fused(d, attr_with(po), ctx_.engine);
            int dw_out = chain_output(dw.out, dw.post);
            if (std::string(fused.impl_info_str()).find("ref") == std::string::npos &&
                fused.dst_desc().dims() == vals_[dw_out].dims) {
                pd = fused;
                absorbed_[dw.node] = 1;
                absorb(dw.post);
                out = dw_out;
                dw.fused = true;
            }
        } catch (const dnnl::error &) {  // no fused implementation: two primitives
        }
    }

    int src_m = mem_as(x, pd.src_desc());
    int w_m, b_m = -1;
    if (w_const) {
        const float *wp = folded ? folded_copy(std::move(wf)) : static_cast<const float *>(vals_[w].constant);
        Mem wm;
        wm.m = const_memory(plain_md(wdims), wp, pd.weights_desc());
        mems_.push_back(wm);
        w_m = static_cast<int>(mems_.size() - 1);
        if (has_bias) {
            const float *bp = folded ? folded_copy(std::move(bf)) : static_cast<const float *>(vals_[b].constant);
            Mem bm;
            bm.m = dnnl::memory(bias_md, ctx_.engine, const_cast<float *>(bp));
            mems_.push_back(bm);
            b_m = static_cast<int>(mems_.size() - 1);
        }
    } else {
        w_m = mem_as(w, pd.weights_desc());
        if (b >= 0) b_m = mem_as(b, bias_md);
    }
    int dst_m = bind_dst(out, pd.dst_desc(), post, node);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DST, dst_m}};
    if (b_m >= 0) args.push_back({DNNL_ARG_BIAS, b_m});
    if (dw.fused) {
        const int dw_w = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, dw_b = DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS;
        Mem wm;
        wm.m = const_memory(plain_md(Dims{m, 1, 1, 3, 3}), dw.weights, pd.query_md(dnnl::query::exec_arg_md, dw_w));
        mems_.push_back(wm);
        args.push_back({dw_w, static_cast<int>(mems_.size() - 1)});
        Mem bm;
        bm.m = dnnl::memory(plain_md(Dims{m}), ctx_.engine, const_cast<float *>(dw.bias));
        mems_.push_back(bm);
        args.push_back({dw_b, static_cast<int>(mems_.size() - 1)});
    }
    add_step(pd, args, nt);
    finish(out);
}

// The depthwise convolution a 1x1 one's chain (ending in value `v`, m channels) can
// absorb: v's only reader, a Conv with group = m, constant 3x3 weights, padding 1 on
// every side, equal strides of 1 or 2, no dilation; then its activations.
bool Builder::match_dw(size_t anchor, int v, int64_t m, DwFusion *dw) {
    const Val &val = vals_[v];
    if (val.sg_output >= 0 || val.consumers.size() != 1) return false;
    int cn = val.consumers[0];
    if (absorbed_[cn] || cn <= static_cast<int>(anchor)) return false;
    NodeView n(&sg_.nodes[cn]);
    ConvSpec cs;
    if (!n.is("Conv") || !parse_conv(n, &cs) || input_value(cn, 0) != v) return false;
    if (cs.groups != m || n.in(1).rank != 4 || !n.in(1).constant_data) return false;
    Dims wd = md_dims(n.in(1));
    if (wd != Dims({m, 1, 3, 3}) || cs.dilates != Dims({0, 0})) return false;
    if (cs.pad_l != Dims({1, 1}) || cs.pad_r != Dims({1, 1})) return false;
    if (cs.strides[0] != cs.strides[1] || (cs.strides[0] != 1 && cs.strides[0] != 2)) return false;
    if (cs.has_bias && !n.in(2).constant_data) return false;
    dw->node = cn;
    dw->stride = cs.strides[0];
    dw->out = output_value(cn, 0);
    dw->weights = cst(n.in(1));
    if (cs.has_bias) {
        dw->bias = cst(n.in(2));
    } else {
        dw->bias = folded_copy(std::vector<float>(static_cast<size_t>(m), 0.f));
    }
    collect_post_ops(cn, dw->out, false, &dw->post);
    return true;
}

// ---- MatMul / Gemm (+ bias Add) (+ post-ops) ----

// A bias of a rank-r product can be folded with it to 2-D: none, or one broadcast
// along every dimension but the last.
bool bias_fits_fold(const Dims &bias, size_t r) {
    if (bias.empty()) return true;
    if (bias.size() != r) return false;
    bool ones = true;
    for (size_t i = 0; i + 1 < r; i++) ones &= bias[i] == 1;
    return ones;
}

void Builder::emit_matmul(size_t node) {
    NodeView n(&sg_.nodes[node]);
    MatMulSpec ms;
    if (!parse_matmul(n, &ms)) fail("internal: " + where(node) + " is not a supported matmul");
    int a = input_value(node, 0), b = input_value(node, 1);
    int y = output_value(node, 0);
    bool b_const = vals_[b].constant != nullptr;
    size_t r = ms.dst_dims.size();
    std::vector<EltStep> pre;  // alpha as a post-op when it cannot scale the weights
    if (ms.alpha != 1.f && !b_const) pre.push_back(EltStep{algorithm::eltwise_linear, ms.alpha, 0.f});

    // Bias: Gemm's C, or a following Add of a constant broadcast along the output.
    int c = ms.has_c ? input_value(node, 2) : -1;
    const float *bias_data = nullptr;
    Dims bias_dims;
    std::vector<float> bias_copy;
    int cur = y;
    if (c >= 0) {
        bias_dims = ms.c_dims;
        if (vals_[c].constant) {
            const float *cp = static_cast<const float *>(vals_[c].constant);
            bias_copy.assign(cp, cp + numel(bias_dims));
            for (float &v : bias_copy) v *= ms.beta;
        }
    } else if (pre.empty() && vals_[y].sg_output < 0 && vals_[y].consumers.size() == 1 &&
               vals_[y].dims == ms.dst_dims) {
        int cn = vals_[y].consumers[0];
        NodeView f(&sg_.nodes[cn]);
        if (f.is("Add") && f.n_inputs() == 2 && f.has_input(0) && f.has_input(1) && cn > static_cast<int>(node)) {
            int a0 = input_value(cn, 0), a1 = input_value(cn, 1);
            int other = a0 == y ? a1 : a0;
            const ember_plugin_value &ov = a0 == y ? f.in(1) : f.in(0);
            if ((a0 == y || a1 == y) && a0 != a1 && ov.constant_data && is_float(ov) && ov.rank <= r &&
                md_dims(f.out(0)) == ms.dst_dims) {
                Dims od = pad_left(vals_[other].dims, r);
                bool ok = true;
                for (size_t i = 0; i < r; i++) ok &= od[i] == 1 || od[i] == ms.dst_dims[i];
                if (ok) {
                    bias_dims = od;
                    const float *cp = cst(ov);
                    bias_copy.assign(cp, cp + numel(od));
                    absorbed_[cn] = 1;
                    cur = output_value(cn, 0);
                }
            }
        }
    }
    bool has_bias = !bias_dims.empty();
    if (has_bias && !bias_copy.empty()) bias_data = folded_copy(std::move(bias_copy));

    std::vector<PostItem> post;
    // Post-ops need the dst in the output's own shape (no 1-D promotion).
    if (vals_[cur].dims == ms.dst_dims) collect_post_ops(node, cur, true, &post);

    // Weights shared by every batch (B's leading dims all 1, A row-major): one 2-D
    // product [batch * M, K] x [K, N] instead of `batch` products of M rows (a
    // transformer's [seq, 1, d] x [d, 3d] would be 128 one-row products), and constant
    // weights can then take oneDNN's blocked layout.
    bool fold = r > 2 && bias_fits_fold(bias_dims, r);
    for (size_t i = 0; fold && i + 2 < r; i++) fold = ms.b_dims[i] == 1;
    if (fold && ms.a_strides != row_major_strides(ms.a_dims)) fold = false;
    if (fold) {
        int64_t rows = numel(ms.a_dims) / ms.a_dims[r - 1];
        ms.a_dims = {rows, ms.a_dims[r - 1]};
        ms.a_strides = row_major_strides(ms.a_dims);
        ms.b_dims = {ms.b_dims[r - 2], ms.b_dims[r - 1]};
        ms.b_strides = row_major_strides(ms.b_dims);
        ms.dst_dims = {rows, ms.dst_dims[r - 1]};
        if (has_bias) bias_dims = {1, bias_dims[r - 1]};
    }
    memory::desc a_md(ms.a_dims, memory::data_type::f32, ms.a_strides);
    memory::desc b_plain(ms.b_dims, memory::data_type::f32, ms.b_strides);
    memory::desc b_md = b_const ? memory::desc(ms.b_dims, memory::data_type::f32, memory::format_tag::any) : b_plain;
    memory::desc bias_md = has_bias ? plain_md(bias_dims) : memory::desc();
    memory::desc dst_md = plain_md(ms.dst_dims);
    int nt = use_threads(static_cast<double>(numel(ms.dst_dims)) * static_cast<double>(ms.a_dims.back()));
    dnnl::matmul::primitive_desc pd;
    while (true) {
        try {
            dnnl::matmul::desc d(a_md, b_md, bias_md, dst_md);
            pd = dnnl::matmul::primitive_desc(d, attr_with(make_post_ops(pre, post)), ctx_.engine);
            break;
        } catch (const dnnl::error &) {
            if (post.empty()) throw;
            post.pop_back();
        }
    }
    absorb(post);
    int out = chain_output(cur, post);

    int a_plain = mem_as(a, plain_md(vals_[a].dims));
    int a_m = view(a_plain, a_md, a);
    int b_m;
    if (b_const) {
        std::vector<float> wv;
        const float *bp = static_cast<const float *>(vals_[b].constant);
        if (ms.alpha != 1.f) {
            wv.assign(bp, bp + numel(vals_[b].dims));
            for (float &v : wv) v *= ms.alpha;
            bp = folded_copy(std::move(wv));
        }
        Mem wm;
        wm.m = const_memory(b_plain, bp, pd.weights_desc());
        mems_.push_back(wm);
        b_m = static_cast<int>(mems_.size() - 1);
    } else {
        b_m = view(mem_as(b, plain_md(vals_[b].dims)), b_plain, b);
    }
    int bias_m = -1;
    if (has_bias) {
        if (bias_data) {
            Mem bm;
            bm.m = dnnl::memory(bias_md, ctx_.engine, const_cast<float *>(bias_data));
            mems_.push_back(bm);
            bias_m = static_cast<int>(mems_.size() - 1);
        } else {
            bias_m = view(mem_as(c, plain_md(vals_[c].dims)), bias_md, c);
        }
    }
    int out_m = bind_dst(out, plain_md(vals_[out].dims), post, node);
    int dst_m = vals_[out].dims == ms.dst_dims ? out_m : view(out_m, dst_md, out);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, a_m}, {DNNL_ARG_WEIGHTS, b_m}, {DNNL_ARG_DST, dst_m}};
    if (bias_m >= 0) args.push_back({DNNL_ARG_BIAS, bias_m});
    add_step(pd, args, nt);
    finish(out);
}

// ---- single-primitive operators ----

void Builder::emit_pool(size_t node) {
    NodeView n(&sg_.nodes[node]);
    PoolSpec ps;
    if (!parse_pool(n, &ps)) fail("internal: " + where(node) + " is not a supported pooling");
    int x = input_value(node, 0), y = output_value(node, 0);
    int src = src_f32(x);
    memory::desc dst_any(vals_[y].dims, memory::data_type::f32, memory::format_tag::any);
    int nt = use_threads(static_cast<double>(numel(vals_[y].dims)) * static_cast<double>(numel(ps.kernel)));
    auto pd = follow_layout(x, &src, [&](const memory::desc &md) {
        dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, ps.alg, md, dst_any, ps.strides,
                                         ps.kernel, ps.dilates, ps.pad_l, ps.pad_r);
        return dnnl::pooling_v2_forward::primitive_desc(d, attr_with(dnnl::post_ops()), ctx_.engine);
    });
    src = mem_as(x, pd.src_desc());
    int dst = produce(y, pd.dst_desc());
    add_step(pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, nt);
    finish(y);
}

void Builder::emit_eltwise(size_t node) {
    NodeView n(&sg_.nodes[node]);
    EltSpec es;
    if (!parse_eltwise(n, &es)) fail("internal: " + where(node) + " is not a supported activation");
    int x = input_value(node, 0), y = output_value(node, 0);
    int src = src_f32(x);
    int nt = use_threads(kElemWork * static_cast<double>(numel(vals_[y].dims)));
    std::vector<dnnl::eltwise_forward::primitive_desc> pds;
    for (const EltStep &e : es.steps) {
        pds.push_back(follow_layout(x, &src, [&](const memory::desc &md) {
            dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, e.alg, md, e.alpha, e.beta);
            return dnnl::eltwise_forward::primitive_desc(d, attr_with(dnnl::post_ops()), ctx_.engine);
        }));
    }
    if (pds.size() > 1 && pds[0].src_desc() != pds.back().src_desc()) {  // the second went row-major
        pds.clear();
        for (const EltStep &e : es.steps) {
            dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, e.alg, mems_[src].m.get_desc(),
                                          e.alpha, e.beta);
            pds.emplace_back(d, attr_with(dnnl::post_ops()), ctx_.engine);
        }
    }
    int dst = produce(y, mems_[src].m.get_desc());
    for (size_t i = 0; i < pds.size(); i++)  // the second step in place
        add_step(pds[i], {{DNNL_ARG_SRC, i == 0 ? src : dst}, {DNNL_ARG_DST, dst}}, nt);
    finish(y);
}

void Builder::emit_batchnorm(size_t node) {
    NodeView n(&sg_.nodes[node]);
    BatchNormSpec bs;
    if (!parse_batchnorm(n, &bs)) fail("internal: " + where(node) + " is not a supported batch normalization");
    int x = input_value(node, 0), y = output_value(node, 0);
    int src = src_f32(x);
    int nt = use_threads(kElemWork * static_cast<double>(numel(vals_[y].dims)));
    auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                 dnnl::normalization_flags::use_shift;
    auto pd = follow_layout(x, &src, [&](const memory::desc &md) {
        dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, bs.epsilon, flags);
        return dnnl::batch_normalization_forward::primitive_desc(d, attr_with(dnnl::post_ops()), ctx_.engine);
    });
    memory::desc md = mems_[src].m.get_desc();
    int64_t ch = vals_[x].dims[1];
    auto param = [&](size_t i) { return mem_as(input_value(node, i), plain_md(Dims{ch})); };
    int scale = param(1), shift = param(2), mean = param(3), var = param(4);
    int dst = produce(y, md);
    add_step(pd,
             {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift},
              {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, var}},
             nt);
    finish(y);
}

void Builder::emit_softmax(size_t node) {
    NodeView n(&sg_.nodes[node]);
    SoftmaxSpec ss;
    if (!parse_softmax(n, &ss)) fail("internal: " + where(node) + " is not a supported softmax");
    int x = input_value(node, 0), y = output_value(node, 0);
    memory::desc md = plain_md(ss.dims);
    int src = mem_as(x, md);
    int out = produce(y, plain_md(vals_[y].dims));
    int dst = ss.dims == vals_[y].dims ? out : view(out, md, y);
    int nt = use_threads(kElemWork * static_cast<double>(numel(ss.dims)));
    if (ss.log) {
        dnnl::logsoftmax_forward::desc d(dnnl::prop_kind::forward_inference, md, ss.axis);
        dnnl::logsoftmax_forward::primitive_desc pd(d, attr_with(dnnl::post_ops()), ctx_.engine);
        add_step(pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, nt);
    } else {
        dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, md, ss.axis);
        dnnl::softmax_forward::primitive_desc pd(d, attr_with(dnnl::post_ops()), ctx_.engine);
        add_step(pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, nt);
    }
    finish(y);
}

void Builder::emit_layernorm(size_t node) {
    NodeView n(&sg_.nodes[node]);
    LayerNormSpec ls;
    if (!parse_layernorm(n, &ls)) fail("internal: " + where(node) + " is not a supported layer normalization");
    int x = input_value(node, 0), y = output_value(node, 0);
    memory::desc md = plain_md(ls.dims);
    memory::desc cmd = plain_md(Dims{ls.dims[1]});
    int src = mem_as(x, md);
    int scale = mem_as(input_value(node, 1), cmd);
    int shift = ls.has_bias ? mem_as(input_value(node, 2), cmd) : -1;
    int out = produce(y, plain_md(vals_[y].dims));
    int dst = ls.dims == vals_[y].dims ? out : view(out, md, y);
    int nt = use_threads(kElemWork * static_cast<double>(numel(ls.dims)));
    dnnl::normalization_flags flags = dnnl::normalization_flags::use_scale;
    if (ls.has_bias) flags = flags | dnnl::normalization_flags::use_shift;
    dnnl::layer_normalization_forward::desc d(dnnl::prop_kind::forward_inference, md, ls.epsilon, flags);
    dnnl::layer_normalization_forward::primitive_desc pd(d, attr_with(dnnl::post_ops()), ctx_.engine);
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_SCALE, scale}, {DNNL_ARG_DST, dst}};
    if (shift >= 0) args.push_back({DNNL_ARG_SHIFT, shift});
    add_step(pd, args, nt);
    finish(y);
}

void Builder::emit_concat(size_t node) {
    NodeView n(&sg_.nodes[node]);
    ConcatSpec cs;
    if (!parse_concat(n, &cs)) fail("internal: " + where(node) + " is not a supported concat");
    int y = output_value(node, 0);
    std::vector<memory::desc> mds;
    std::vector<int> srcs;
    for (size_t i = 0; i < n.n_inputs(); i++) {
        int v = input_value(node, i);
        if (vals_[v].primary < 0) fail("internal: " + where(node) + " reads a value not computed yet");
        srcs.push_back(src_f32(v));
        mds.push_back(mems_[srcs.back()].m.get_desc());
    }
    int nt = use_threads(kElemWork * static_cast<double>(numel(vals_[y].dims)));
    dnnl::concat::primitive_desc pd;
    try {
        pd = dnnl::concat::primitive_desc(cs.axis, mds, ctx_.engine, attr_with(dnnl::post_ops()));
    } catch (const dnnl::error &) {  // no implementation for these layouts: row-major
        for (size_t i = 0; i < srcs.size(); i++) {
            int v = input_value(node, i);
            srcs[i] = mem_as(v, plain_md(vals_[v].dims));
            mds[i] = mems_[srcs[i]].m.get_desc();
        }
        pd = dnnl::concat::primitive_desc(cs.axis, mds, ctx_.engine, attr_with(dnnl::post_ops()));
    }
    int dst = produce(y, pd.dst_desc());
    std::vector<std::pair<int, int>> args = {{DNNL_ARG_DST, dst}};
    for (size_t i = 0; i < srcs.size(); i++) args.push_back({DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), srcs[i]});
    add_step(pd, args, nt);
    finish(y);
}

void Builder::emit_binary(size_t node) {
    NodeView n(&sg_.nodes[node]);
    BinarySpec bs;
    if (!parse_binary(n, &bs)) fail("internal: " + where(node) + " is not a supported binary operation");
    int a = input_value(node, bs.swap ? 1 : 0), b = input_value(node, bs.swap ? 0 : 1);
    int y = output_value(node, 0);
    const Dims &yd = vals_[y].dims;
    int src0 = src_f32(a);
    if (vals_[a].dims != yd) src0 = mem_as(a, plain_md(yd));  // a scalar output stored as {1}
    // src1 in src0's layout when shapes match; a broadcast src1 row-major with 1s.
    auto src1_for = [&](const memory::desc &md0) {
        if (bs.src1_dims == yd) return mem_as(b, md0);
        return view(mem_as(b, plain_md(vals_[b].dims)), plain_md(bs.src1_dims), b);
    };
    int nt = use_threads(kElemWork * static_cast<double>(numel(yd)));
    auto make = [&](const memory::desc &md0, const memory::desc &md1) {
        dnnl::binary::desc d(bs.alg, md0, md1, md0);
        return dnnl::binary::primitive_desc(d, attr_with(dnnl::post_ops()), ctx_.engine);
    };
    int src1 = src1_for(mems_[src0].m.get_desc());
    dnnl::binary::primitive_desc pd;
    try {
        pd = make(mems_[src0].m.get_desc(), mems_[src1].m.get_desc());
    } catch (const dnnl::error &) {  // no implementation for this layout: row-major
        src0 = mem_as(a, plain_md(yd));
        src1 = src1_for(plain_md(yd));
        pd = make(plain_md(yd), mems_[src1].m.get_desc());
    }
    memory::desc md0 = mems_[src0].m.get_desc();
    int dst = produce(y, md0);
    add_step(pd, {{DNNL_ARG_SRC_0, src0}, {DNNL_ARG_SRC_1, src1}, {DNNL_ARG_DST, dst}}, nt);
    finish(y);
}

void Builder::emit_lrn(size_t node) {
    NodeView n(&sg_.nodes[node]);
    LrnSpec ls;
    if (!parse_lrn(n, &ls)) fail("internal: " + where(node) + " is not a supported LRN");
    int x = input_value(node, 0), y = output_value(node, 0);
    int src = src_f32(x);
    int nt = use_threads(kElemWork * static_cast<double>(numel(vals_[y].dims) * ls.size));
    auto pd = follow_layout(x, &src, [&](const memory::desc &md) {
        dnnl::lrn_forward::desc d(dnnl::prop_kind::forward_inference, algorithm::lrn_across_channels, md, ls.size,
                                  ls.alpha, ls.beta, ls.bias);
        return dnnl::lrn_forward::primitive_desc(d, attr_with(dnnl::post_ops()), ctx_.engine);
    });
    int dst = produce(y, mems_[src].m.get_desc());
    add_step(pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}}, nt);
    finish(y);
}

void Builder::emit_transpose(size_t node) {
    NodeView n(&sg_.nodes[node]);
    TransposeSpec ts;
    if (!parse_transpose(n, &ts)) fail("internal: " + where(node) + " is not a supported transpose");
    int x = input_value(node, 0), y = output_value(node, 0);
    const Dims &xd = vals_[x].dims, &yd = vals_[y].dims;
    int src = mem_as(x, plain_md(xd));
    Dims strides_in(xd.size());
    int64_t acc = 1;
    for (size_t i = xd.size(); i-- > 0;) {
        strides_in[i] = acc;
        acc *= xd[i];
    }
    Dims strides(yd.size());
    for (size_t i = 0; i < yd.size(); i++) strides[i] = strides_in[ts.perm[i]];
    int permuted = view(src, memory::desc(yd, memory::data_type::f32, strides), x);
    int dst = produce(y, plain_md(yd));
    add_reorder(permuted, dst);
    finish(y);
}

void Builder::emit_view(size_t node) {
    NodeView n(&sg_.nodes[node]);
    if (!parse_view(n)) fail("internal: " + where(node) + " is not a supported reshape");
    int x = input_value(node, 0), y = output_value(node, 0);
    if (vals_[y].primary >= 0) fail("internal: value '" + vals_[y].name + "' is computed twice");
    if (vals_[y].dims == vals_[x].dims) {
        // Identity, Dropout, a no-op reshape: the same bytes in whatever layout they are.
        int src = src_f32(x);
        vals_[y].primary = view(src, mems_[src].m.get_desc(), y);
    } else {
        int src = mem_as(x, plain_md(vals_[x].dims));
        vals_[y].primary = view(src, plain_md(vals_[y].dims), y);
    }
    finish(y);
    if (n.is("Dropout") && n.has_output(1)) {
        int mask = output_value(node, 1);
        if (vals_[mask].sg_output >= 0)
            c_->fill_ones.emplace_back(static_cast<size_t>(vals_[mask].sg_output),
                                       static_cast<size_t>(numel(vals_[mask].dims)));
        vals_[mask].primary = -2;  // produced by execute (all true)
    }
}

void Builder::emit(size_t node) {
    NodeView n(&sg_.nodes[node]);
    if (n.is("Conv")) return emit_conv(node);
    if (n.is("MatMul") || n.is("Gemm")) return emit_matmul(node);
    if (n.is("MaxPool") || n.is("AveragePool") || n.is("GlobalMaxPool") || n.is("GlobalAveragePool"))
        return emit_pool(node);
    if (n.is("BatchNormalization")) return emit_batchnorm(node);
    if (n.is("Softmax") || n.is("LogSoftmax")) return emit_softmax(node);
    if (n.is("LayerNormalization")) return emit_layernorm(node);
    if (n.is("Concat")) return emit_concat(node);
    if (n.is("Add") || n.is("Sub") || n.is("Mul") || n.is("Div")) return emit_binary(node);
    if (n.is("LRN")) return emit_lrn(node);
    if (n.is("Transpose")) return emit_transpose(node);
    if (n.is("Reshape") || n.is("Flatten") || n.is("Squeeze") || n.is("Unsqueeze") || n.is("Identity") ||
        n.is("Dropout"))
        return emit_view(node);
    EltSpec es;
    if (parse_eltwise(n, &es)) return emit_eltwise(node);
    fail("internal: " + where(node) + " was claimed but has no emitter");
}

// Greedy placement, largest first: each arena buffer takes the lowest offset free over
// its lifetime [first, last] in steps.
void Builder::layout_arena() {
    std::vector<int> order;
    for (size_t i = 0; i < bufs_.size(); i++)
        if (bufs_[i].kind == Buffer::Arena && bufs_[i].last >= 0) order.push_back(static_cast<int>(i));
    std::sort(order.begin(), order.end(), [&](int a, int b) {
        if (bufs_[a].bytes != bufs_[b].bytes) return bufs_[a].bytes > bufs_[b].bytes;
        return bufs_[a].first < bufs_[b].first;
    });
    std::vector<int> placed;
    size_t total = 0;
    for (int id : order) {
        Buffer &bb = bufs_[id];
        std::vector<std::pair<size_t, size_t>> busy;
        for (int p : placed) {
            const Buffer &q = bufs_[p];
            if (q.first <= bb.last && bb.first <= q.last) busy.emplace_back(q.offset, q.offset + q.bytes);
        }
        std::sort(busy.begin(), busy.end());
        size_t off = 0, need = align_up(std::max<size_t>(bb.bytes, 1));
        for (const auto &r : busy) {
            if (off + need <= r.first) break;
            off = std::max(off, align_up(r.second));
        }
        bb.offset = off;
        total = std::max(total, off + need);
        placed.push_back(id);
    }
    if (total > 0) {
        c_->arena.reset(std::aligned_alloc(kAlign, align_up(total)));
        if (!c_->arena) fail("cannot allocate a " + std::to_string(total) + "-byte arena");
    }
    size_t scratch = 0;
    for (const auto &s : scratch_mems_) scratch = std::max(scratch, s.second);
    if (scratch > 0) {
        c_->scratch.reset(std::aligned_alloc(kAlign, align_up(scratch)));
        if (!c_->scratch) fail("cannot allocate a " + std::to_string(scratch) + "-byte scratchpad");
        for (auto &s : scratch_mems_) s.first.set_data_handle(c_->scratch.get());
    }
    uint8_t *base = static_cast<uint8_t *>(c_->arena.get());
    for (Mem &m : mems_) {
        if (m.buffer < 0) continue;
        const Buffer &bb = bufs_[m.buffer];
        if (bb.kind == Buffer::Arena) {
            m.m.set_data_handle(base + bb.offset);
        } else {
            c_->host.push_back(HostBinding{m.m, bb.kind == Buffer::HostOut, bb.host_index});
        }
    }
}

void Builder::build() {
    size_t nn = sg_.n_nodes;
    absorbed_.assign(nn, 0);
    host_out_buf_.assign(sg_.n_outputs, -1);
    // Values, subgraph edges, readers.
    for (size_t i = 0; i < sg_.n_inputs; i++) {
        int v = value(sg_.inputs[i]);
        vals_[v].sg_input = static_cast<int>(i);
        c_->in_dims.push_back(Dims(sg_.inputs[i].dims, sg_.inputs[i].dims + sg_.inputs[i].rank));
    }
    for (size_t o = 0; o < sg_.n_outputs; o++) {
        int v = value(sg_.outputs[o]);
        vals_[v].sg_output = static_cast<int>(o);
        c_->out_dims.push_back(Dims(sg_.outputs[o].dims, sg_.outputs[o].dims + sg_.outputs[o].rank));
    }
    for (size_t k = 0; k < nn; k++) {
        const ember_plugin_node &n = sg_.nodes[k];
        for (size_t i = 0; i < n.n_inputs; i++) {
            if (!n.inputs[i].name || !n.inputs[i].name[0]) continue;
            Val &v = vals_[value(n.inputs[i])];
            if (v.consumers.empty() || v.consumers.back() != static_cast<int>(k)) v.consumers.push_back(static_cast<int>(k));
        }
        for (size_t o = 0; o < n.n_outputs; o++)
            if (n.outputs[o].name && n.outputs[o].name[0]) value(n.outputs[o]);
    }
    // Subgraph inputs: constants in place, the rest bound to the host buffers at run.
    for (size_t i = 0; i < sg_.n_inputs; i++) {
        int v = by_name_[sg_.inputs[i].name];
        Val &val = vals_[v];
        if (!is_float_type(val.dtype)) continue;  // shapes, axes: read at planning only
        memory::desc md = plain_md(val.dims, val.host_dt);
        if (val.constant) {
            Mem m;
            m.m = dnnl::memory(md, ctx_.engine, const_cast<void *>(val.constant));
            mems_.push_back(m);
            val.primary = static_cast<int>(mems_.size() - 1);
        } else {
            Buffer b;
            b.kind = Buffer::HostIn;
            b.host_index = i;
            b.bytes = md.get_size();
            bufs_.push_back(b);
            vals_[v].primary = new_mem(md, static_cast<int>(bufs_.size() - 1), v);
        }
    }
    for (size_t k = 0; k < nn; k++) {
        if (absorbed_[k]) continue;
        try {
            emit(k);
        } catch (const dnnl::error &e) {
            fail(where(k) + ": oneDNN: " + e.what());
        }
    }
    for (size_t o = 0; o < sg_.n_outputs; o++) {
        const Val &v = vals_[by_name_[sg_.outputs[o].name]];
        if (host_out_buf_[o] < 0 && v.primary != -2)
            fail("internal: subgraph output '" + v.name + "' is never written");
    }
    if (probe_) return;
    layout_arena();
    for (Step &st : c_->steps)
        for (const auto &a : st.args) st.c_args.push_back(dnnl_exec_arg_t{a.first, a.second.get()});
}

}  // namespace

Compiled *compile_subgraph(const Context &ctx, const ember_plugin_subgraph &sg) {
    std::unique_ptr<Compiled> c(new Compiled());
    c->num_threads = sg.num_threads > 0 ? sg.num_threads : 1;
    // oneDNN sizes its blocking for the thread count it sees when a primitive is created.
    ThreadScope threads(c->num_threads);
    c->stream = dnnl::stream(ctx.engine);
    Builder b(ctx, sg, c.get(), false);
    b.build();
    return c.release();
}

bool probe_node(const Context &ctx, const ember_plugin_node &node) {
    ember_plugin_subgraph sg{};
    std::vector<ember_plugin_value> ins, outs;
    for (size_t i = 0; i < node.n_inputs; i++) {
        const ember_plugin_value &v = node.inputs[i];
        if (!v.name || !v.name[0]) continue;
        bool dup = false;
        for (const ember_plugin_value &u : ins) dup |= std::strcmp(u.name, v.name) == 0;
        if (!dup) ins.push_back(v);
    }
    for (size_t o = 0; o < node.n_outputs; o++)
        if (node.outputs[o].name && node.outputs[o].name[0]) outs.push_back(node.outputs[o]);
    sg.n_nodes = 1;
    sg.nodes = &node;
    sg.n_inputs = ins.size();
    sg.inputs = ins.data();
    sg.n_outputs = outs.size();
    sg.outputs = outs.data();
    sg.num_threads = 1;
    ThreadScope threads(1);  // the caller's OpenMP setting comes back on return
    Compiled c;
    c.stream = dnnl::stream(ctx.engine);
    Builder b(ctx, sg, &c, true);
    b.build();
    return true;
}

void execute_compiled(Compiled &c, const ember_plugin_tensor *inputs, size_t n_inputs,
                      ember_plugin_tensor *outputs, size_t n_outputs) {
    if (n_inputs != c.in_dims.size() || n_outputs != c.out_dims.size())
        fail("execute: " + std::to_string(n_inputs) + " inputs and " + std::to_string(n_outputs) +
             " outputs given, the subgraph was compiled for " + std::to_string(c.in_dims.size()) + " and " +
             std::to_string(c.out_dims.size()));
    for (size_t i = 0; i < n_inputs; i++)
        if (Dims(inputs[i].dims, inputs[i].dims + inputs[i].rank) != c.in_dims[i])
            fail("execute: input " + std::to_string(i) + " has another shape than at compile");
    for (size_t o = 0; o < n_outputs; o++)
        if (Dims(outputs[o].dims, outputs[o].dims + outputs[o].rank) != c.out_dims[o])
            fail("execute: output " + std::to_string(o) + " has another shape than at compile");
    for (const HostBinding &h : c.host) {
        void *p = h.output ? outputs[h.index].data : inputs[h.index].data;
        if (!p) fail("execute: a host buffer is NULL");
        h.m.set_data_handle(p);
    }
    for (const auto &f : c.fill_ones) std::memset(outputs[f.first].data, 1, f.second);
    ThreadScope threads(c.num_threads);
    int current = c.num_threads;
    for (Step &s : c.steps) {
        if (s.convert == Step::Widen) {
            half_to_float(s.half, s.from.get_data_handle(), static_cast<float *>(s.to.get_data_handle()), s.count);
            continue;
        }
        if (s.convert == Step::Narrow) {
            float_to_half(s.half, static_cast<const float *>(s.from.get_data_handle()), s.to.get_data_handle(), s.count);
            continue;
        }
        if (s.threads != current) {
            omp_set_num_threads(s.threads);
            current = s.threads;
        }
        dnnl_status_t st = dnnl_primitive_execute(s.prim.get(), c.stream.get(), static_cast<int>(s.c_args.size()),
                                                  s.c_args.data());
        if (st != dnnl_success) fail("execute: a oneDNN primitive failed (status " + std::to_string(st) + ")");
    }
    dnnl_status_t st = dnnl_stream_wait(c.stream.get());
    if (st != dnnl_success) fail("execute: oneDNN stream wait failed (status " + std::to_string(st) + ")");
}

void release_compiled(Compiled *c) { delete c; }

}  // namespace ember_onednn
