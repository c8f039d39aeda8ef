#include "core/session.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/tensor_handle.h"

namespace ember {

namespace {

constexpr size_t kArenaAlign = 64;

// Empty tensors still need a non-null "value" so that planning knows them.
alignas(64) const uint8_t kEmptyValue[64] = {0};

size_t align_up(size_t n) { return (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

struct PlanValue {
    // Internal: produced and consumed inside one plugin subgraph; never in the arena.
    enum Kind : uint8_t { Unset, Input, Const, Folded, Arena, Internal };
    Kind kind = Unset;
    TensorInfo info;
    int input_index = -1;
    size_t bytes = 0;
    int64_t offset = -1;
    int32_t alias_root = -1;
    int first = INT_MAX;
    int last = -1;
    // The graph says float16 but the plan keeps float32 here: chains of kernels without
    // native half support pass float32 to each other and round only at graph outputs
    // (what ONNX Runtime's cast elimination does; one rounding instead of one per node).
    bool held = false;
    DType held_half = DType::Undefined;  // the float16 type a held value rounds back to
    std::shared_ptr<std::vector<uint8_t>> folded;
};

// One element conversion or copy around a kernel.
struct Convert {
    enum Kind : uint8_t { Widen, Narrow, Copy } kind;
    DType half;  // F16 or BF16 for Widen/Narrow
    int32_t src_value, dst_value;
    Tensor src, dst;
};

}  // namespace

struct Step {
    const Node *node = nullptr;       // the node (first node of a plugin subgraph)
    std::unique_ptr<Kernel> kernel;   // built-in CPU kernel, or null for a plugin step
    const Plugin *plugin = nullptr;   // plugin step: the backend and its compiled subgraph
    std::shared_ptr<void> compiled;
    std::vector<ember_plugin_tensor> pins, pouts;
    int64_t n_nodes = 1;
    double total_ns = 0;  // profiling
    int64_t calls = 0;
    std::vector<int32_t> in_values, out_values;  // plan value ids the kernel reads/writes
    std::vector<Tensor> ins, outs;
    std::vector<Convert> before, after;
    int32_t scratch_value = -1;
    void *scratch = nullptr;
};

class Plan {
public:
    ~Plan() { std::free(arena); }
    std::vector<PlanValue> vals;  // graph values first, then temporaries
    std::vector<Step> steps;
    std::shared_ptr<const Graph> variant;  // the graph planned, when not the model's
    std::vector<Shape> input_shapes;
    std::vector<std::pair<int, std::vector<uint8_t>>> input_values;  // shape-determining inputs
    std::vector<std::pair<Tensor *, int>> patches;  // tensors bound to graph input k each run
    uint8_t *arena = nullptr;
    size_t arena_size = 0;
    std::vector<ember_tensor> outputs;
    std::vector<std::pair<int, int>> output_patches;  // output i is graph input k
    std::vector<Convert> final_converts;  // held float32 graph outputs -> float16

    int32_t add_temp(DType dtype, const Shape &shape, size_t bytes) {
        PlanValue v;
        v.kind = PlanValue::Arena;
        v.info.dtype = dtype;
        v.info.shape = shape;
        v.bytes = bytes;
        vals.push_back(std::move(v));
        return static_cast<int32_t>(vals.size() - 1);
    }
};

Session::Session(Model *model, const SessionOptions &opts) : model_(model), opts_(opts) {}
Session::~Session() = default;

namespace {

// Values whose contents (not just shapes) planning needs: inputs named in an op's
// value_inputs, and everything they are computed from, except through Shape/Size.
std::vector<char> values_needed_at_plan(const Graph &g, const OpRegistry &ops) {
    std::vector<char> need(g.values.size(), 0);
    for (const Node &n : g.nodes) {
        const OpSchema *s = ops.find(n.op_type, n.domain);
        if (!s) continue;
        for (size_t i = 0; i < n.inputs.size() && i < 64; i++)
            if ((s->value_inputs >> i & 1) && n.inputs[i] >= 0) need[n.inputs[i]] = 1;
    }
    for (size_t k = g.nodes.size(); k-- > 0;) {
        const Node &n = g.nodes[k];
        bool any = false;
        for (int32_t o : n.outputs) any |= o >= 0 && need[o];
        if (!any || n.op_type == "Shape" || n.op_type == "Size") continue;
        for (int32_t i : n.inputs)
            if (i >= 0) need[i] = 1;
    }
    return need;
}

std::vector<char> live_nodes(const Graph &g, const OpRegistry &ops) {
    std::vector<char> used(g.values.size(), 0), live(g.nodes.size(), 0);
    for (int32_t o : g.outputs) used[o] = 1;
    for (size_t k = g.nodes.size(); k-- > 0;) {
        const Node &n = g.nodes[k];
        for (int32_t o : n.outputs) live[k] |= o >= 0 && used[o];
        if (!live[k]) continue;
        for (int32_t i : n.inputs)
            if (i >= 0) used[i] = 1;
    }
    return live;
}

bool is_shape_only_op(const Node &n) { return n.op_type == "Shape" || n.op_type == "Size"; }

// Greedy offset assignment, largest first: each buffer takes the lowest offset that does
// not overlap a placed buffer whose lifetime intersects its own.
size_t assign_offsets(std::vector<PlanValue> &vals) {
    std::vector<int32_t> order;
    for (size_t i = 0; i < vals.size(); i++)
        if (vals[i].kind == PlanValue::Arena && vals[i].alias_root < 0 && vals[i].last >= 0)
            order.push_back(static_cast<int32_t>(i));
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        if (vals[a].bytes != vals[b].bytes) return vals[a].bytes > vals[b].bytes;
        return vals[a].first < vals[b].first;
    });
    std::vector<int32_t> placed;
    size_t total = 0;
    for (int32_t id : order) {
        PlanValue &v = vals[id];
        std::vector<std::pair<size_t, size_t>> busy;
        for (int32_t p : placed) {
            const PlanValue &q = vals[p];
            if (q.first <= v.last && v.first <= q.last)
                busy.emplace_back(static_cast<size_t>(q.offset), static_cast<size_t>(q.offset) + q.bytes);
        }
        std::sort(busy.begin(), busy.end());
        size_t off = 0;
        size_t need = align_up(std::max<size_t>(v.bytes, 1));
        for (const auto &b : busy) {
            if (off + need <= b.first) break;
            off = std::max(off, align_up(b.second));
        }
        v.offset = static_cast<int64_t>(off);
        total = std::max(total, off + need);
        placed.push_back(id);
    }
    return total;
}

void run_convert(const Convert &c) {
    int64_t n = c.src.numel();
    switch (c.kind) {
        case Convert::Widen:
            convert_half_to_float(c.half, c.src.data, static_cast<float *>(c.dst.data), n);
            break;
        case Convert::Narrow:
            convert_float_to_half(c.half, static_cast<const float *>(c.src.data), c.dst.data, n);
            break;
        case Convert::Copy:
            if (c.src.data != c.dst.data) std::memcpy(c.dst.data, c.src.data, c.src.nbytes());
            break;
    }
}


// Owns the C descriptions of nodes handed to a plugin (ember_plugin.h).
struct NodeDesc {
    std::vector<ember_plugin_value> ins, outs;
    std::vector<ember_plugin_attr> attrs;
    ember_plugin_node node{};
};

void describe_value(const Graph &g, int32_t id, const TensorInfo *info, ember_plugin_value *v) {
    static const int64_t kNoDims[1] = {0};
    if (id < 0 || !info) {
        *v = ember_plugin_value{"", EMBER_DTYPE_UNDEFINED, 0, kNoDims, nullptr};
        return;
    }
    v->name = g.values[id].name.c_str();
    v->dtype = static_cast<ember_dtype>(info->dtype);
    v->rank = info->shape.size();
    v->dims = info->shape.empty() ? kNoDims : info->shape.data();
    v->constant_data = g.values[id].constant >= 0 ? info->value : nullptr;
}

void describe_node(const Graph &g, const Node &n, const std::vector<const TensorInfo *> &ins,
                   const std::vector<const TensorInfo *> &outs, NodeDesc *d) {
    d->ins.resize(n.inputs.size());
    for (size_t i = 0; i < n.inputs.size(); i++) describe_value(g, n.inputs[i], ins[i], &d->ins[i]);
    d->outs.resize(n.outputs.size());
    for (size_t o = 0; o < n.outputs.size(); o++) describe_value(g, n.outputs[o], outs[o], &d->outs[o]);
    d->attrs.clear();
    for (const Attribute &a : n.attrs) {
        ember_plugin_attr pa{};
        pa.name = a.name.c_str();
        switch (a.type) {
            case AttrType::Int: pa.type = EMBER_ATTR_INT; pa.i = a.i; break;
            case AttrType::Float: pa.type = EMBER_ATTR_FLOAT; pa.f = a.f; break;
            case AttrType::String: pa.type = EMBER_ATTR_STRING; pa.s = a.s.c_str(); break;
            case AttrType::Ints: pa.type = EMBER_ATTR_INTS; pa.count = a.ints.size(); pa.ints = a.ints.data(); break;
            case AttrType::Floats: pa.type = EMBER_ATTR_FLOATS; pa.count = a.floats.size(); pa.floats = a.floats.data(); break;
            default: continue;  // tensors and string lists are not offered to plugins
        }
        d->attrs.push_back(pa);
    }
    d->node.name = n.name.c_str();
    d->node.op_type = n.op_type.c_str();
    d->node.domain = n.domain.c_str();
    d->node.n_inputs = d->ins.size();
    d->node.inputs = d->ins.data();
    d->node.n_outputs = d->outs.size();
    d->node.outputs = d->outs.data();
    d->node.n_attrs = d->attrs.size();
    d->node.attrs = d->attrs.data();
}

bool node_has_unsupported_attr(const Node &n) {
    for (const Attribute &a : n.attrs)
        if (a.type == AttrType::Tensor || a.type == AttrType::Strings) return true;
    return false;
}

// Block-quantised weights (Q8_0, Q4_0) are read only by the built-in kernels that know
// them: ember.Linear's W and Gather's table. Anything else would misread the blocks.
bool reads_blocks(const Graph &g, const Node &n) {
    for (int32_t id : n.inputs)
        if (id >= 0 && dtype_is_block(g.values[id].dtype)) return true;
    return false;
}

Status check_block_inputs(const Graph &g, const Node &n) {
    for (size_t i = 0; i < n.inputs.size(); i++) {
        const int32_t id = n.inputs[i];
        if (id < 0 || !dtype_is_block(g.values[id].dtype)) continue;
        const bool ok = (n.domain == "ember" && n.op_type == "Linear" && i == 1) ||
                        (n.domain.empty() && n.op_type == "Gather" && i == 0);
        if (!ok)
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "node '%s' (%s): input %zu '%s' is %s block-quantised; only ember.Linear's "
                          "weight (input 1) and Gather's table (input 0) may be",
                          n.name.c_str(), n.op_type.c_str(), i, g.values[id].name.c_str(),
                          dtype_name(g.values[id].dtype));
    }
    return Status::OK();
}

}  // namespace

Status Session::resolve_backends() {
    PluginRegistry &reg = model_->runtime->plugins();
    backends_.clear();
    std::string list = opts_.backends.empty() ? "auto" : opts_.backends;
    size_t start = 0;
    while (start <= list.size()) {
        size_t comma = list.find(',', start);
        std::string name = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        while (!name.empty() && name.front() == ' ') name.erase(name.begin());
        while (!name.empty() && name.back() == ' ') name.pop_back();
        if (name == "cpu") break;  // the built-in kernels take everything from here on
        if (name == "auto") {
            for (const Plugin *p : reg.loaded_by_priority())
                if (std::find(backends_.begin(), backends_.end(), p) == backends_.end()) backends_.push_back(p);
        } else if (!name.empty()) {
            const Plugin *p = reg.find_loaded(name);
            if (!p) {
                std::string why;
                for (size_t i = 0; i < reg.size(); i++)
                    if (reg.at(i)->name == name && !reg.at(i)->loaded) why = reg.at(i)->reason;
                if (!why.empty())
                    return errorf(EMBER_ERR_BACKEND, "backend '%s' is not available: %s", name.c_str(), why.c_str());
                std::string avail;
                for (const Plugin *q : reg.loaded_by_priority()) avail += q->name + ", ";
                return errorf(EMBER_ERR_UNSUPPORTED, "no backend named '%s' (available: %scpu)",
                              name.c_str(), avail.c_str());
            }
            if (std::find(backends_.begin(), backends_.end(), p) == backends_.end()) backends_.push_back(p);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return Status::OK();
}

namespace {
}  // namespace

Status Session::init() {
    EMBER_RETURN_IF_ERROR(resolve_backends());
    const Graph &g = model_->graph;
    const OpRegistry &ops = builtin_ops();
    for (const Node &n : g.nodes) {
        if (!ops.find(n.op_type, n.domain))
            return errorf(EMBER_ERR_UNSUPPORTED,
                          "node '%s': operator '%s'%s%s%s is not supported by any backend",
                          n.name.c_str(), n.op_type.c_str(), n.domain.empty() ? "" : " (domain '",
                          n.domain.c_str(), n.domain.empty() ? "" : "')");
    }
    // Plan now when every input shape is fixed.
    std::vector<Shape> shapes;
    for (int32_t id : g.inputs) {
        const Value &v = g.values[id];
        if (!v.has_shape) return Status::OK();
        for (int64_t d : v.shape)
            if (d < 0) return Status::OK();
        shapes.push_back(v.shape);
    }
    // Inputs whose values shape the plan are only known at run time.
    std::vector<char> need = values_needed_at_plan(g, ops);
    for (int32_t id : g.inputs)
        if (need[id]) return Status::OK();
    return plan_for(shapes, nullptr);
}

Status Session::plan_for(const std::vector<Shape> &shapes, const ember_tensor *const *inputs,
                         const std::shared_ptr<const Graph> &variant) {
    const Graph &g = variant ? *variant : model_->graph;
    const OpRegistry &ops = builtin_ops();
    ThreadPool &pool = model_->runtime->pool();
    std::unique_ptr<Plan> plan(new Plan());
    plan->variant = variant;
    // node_info() describes the model's nodes: a variant's plan keeps its own list.
    std::vector<std::string> variant_backend;
    std::vector<std::string> &backend_of = variant ? variant_backend : node_backend_;
    // Reserve every temporary up front (widened inputs, omitted outputs, scratch, narrowed
    // graph outputs) so references into vals stay valid while planning.
    size_t temps = g.outputs.size();
    for (const Node &n : g.nodes) temps += n.inputs.size() + n.outputs.size() + 1;
    plan->vals.reserve(g.values.size() + temps);
    plan->vals.resize(g.values.size());
    plan->input_shapes = shapes;
    // Input shapes (declared, or given to a run) are checked before anything is sized from
    // them: a hostile file may declare [2^20,2^20,2^20], or dims whose product overflows.
    for (size_t k = 0; k < shapes.size() && k < g.inputs.size(); k++) {
        int64_t n;
        if (!shape_numel_checked(shapes[k], &n))
            return errorf(EMBER_ERR_SHAPE,
                          "input %zu ('%s') has shape %s: a negative dim or more than 2^40 "
                          "elements",
                          k, g.values[g.inputs[k]].name.c_str(), shape_str(shapes[k]).c_str());
    }
    std::vector<char> need = values_needed_at_plan(g, ops);
    std::vector<char> live = live_nodes(g, ops);
    for (int32_t id : g.outputs)
        if (dtype_is_block(g.values[id].dtype))
            return errorf(EMBER_ERR_UNSUPPORTED, "graph output '%s' is a %s block-quantised weight",
                          g.values[id].name.c_str(), dtype_name(g.values[id].dtype));

    for (size_t v = 0; v < g.values.size(); v++) {
        const Value &gv = g.values[v];
        if (gv.constant < 0) continue;
        PlanValue &pv = plan->vals[v];
        pv.kind = PlanValue::Const;
        pv.info.dtype = gv.dtype;
        pv.info.shape = gv.shape;
        pv.info.value = g.constants[gv.constant].data ? g.constants[gv.constant].data : kEmptyValue;
    }
    for (size_t k = 0; k < g.inputs.size(); k++) {
        int32_t id = g.inputs[k];
        PlanValue &pv = plan->vals[id];
        pv.kind = PlanValue::Input;
        pv.input_index = static_cast<int>(k);
        pv.info.dtype = g.values[id].dtype;
        pv.info.shape = shapes[k];
        if (need[id]) {
            if (!inputs) return errorf(EMBER_ERR_INTERNAL, "planning needs input values");
            const ember_tensor *t = inputs[k];
            const uint8_t *p = static_cast<const uint8_t *>(t->t.data);
            plan->input_values.emplace_back(static_cast<int>(k),
                                            std::vector<uint8_t>(p, p + t->t.nbytes()));
            pv.info.value = plan->input_values.back().second.data();
        }
    }
    // input_values must not reallocate after pointers were taken: re-point them.
    for (auto &iv : plan->input_values)
        plan->vals[g.inputs[iv.first]].info.value = iv.second.empty() ? kEmptyValue : iv.second.data();

    // Who reads each value (Shape/Size read only the shape, not the data).
    std::vector<std::vector<int32_t>> readers(g.values.size());
    std::vector<char> is_output(g.values.size(), 0);
    for (int32_t id : g.outputs) is_output[id] = 1;
    for (size_t k = 0; k < g.nodes.size(); k++) {
        if (!live[k] || is_shape_only_op(g.nodes[k])) continue;
        for (int32_t id : g.nodes[k].inputs)
            if (id >= 0) readers[id].push_back(static_cast<int32_t>(k));
    }
    int threads = opts_.num_threads > 0 ? std::min(opts_.num_threads, pool.num_threads())
                                        : pool.num_threads();
    backend_of.assign(g.nodes.size(), "constant");

    // Consecutive nodes claimed by one plugin become one compiled subgraph.
    const Plugin *group_plugin = nullptr;
    std::vector<int32_t> group;
    auto flush_group = [&]() -> Status {
        if (group.empty()) return Status::OK();
        const Plugin *p = group_plugin;
        std::vector<char> in_group(g.nodes.size(), 0);
        for (int32_t n : group) in_group[n] = 1;
        std::vector<int32_t> sg_in, sg_out;
        std::vector<char> produced(g.values.size(), 0), listed(g.values.size(), 0);
        for (int32_t n : group) {
            for (int32_t id : g.nodes[n].inputs)
                if (id >= 0 && !produced[id] && !listed[id]) { listed[id] = 1; sg_in.push_back(id); }
            for (int32_t id : g.nodes[n].outputs)
                if (id >= 0) produced[id] = 1;
        }
        for (int32_t n : group) {
            for (int32_t id : g.nodes[n].outputs) {
                if (id < 0) continue;
                bool outside = is_output[id];
                for (int32_t r : readers[id]) outside |= !in_group[r];
                if (outside) sg_out.push_back(id);
                else plan->vals[id].kind = PlanValue::Internal;
            }
        }
        std::vector<NodeDesc> descs(group.size());
        std::vector<ember_plugin_node> nodes(group.size());
        for (size_t j = 0; j < group.size(); j++) {
            const Node &n = g.nodes[group[j]];
            std::vector<const TensorInfo *> ins(n.inputs.size(), nullptr), outs(n.outputs.size(), nullptr);
            for (size_t i = 0; i < n.inputs.size(); i++) if (n.inputs[i] >= 0) ins[i] = &plan->vals[n.inputs[i]].info;
            for (size_t o = 0; o < n.outputs.size(); o++) if (n.outputs[o] >= 0) outs[o] = &plan->vals[n.outputs[o]].info;
            describe_node(g, n, ins, outs, &descs[j]);
            nodes[j] = descs[j].node;
        }
        std::vector<ember_plugin_value> vin(sg_in.size()), vout(sg_out.size());
        for (size_t i = 0; i < sg_in.size(); i++) describe_value(g, sg_in[i], &plan->vals[sg_in[i]].info, &vin[i]);
        for (size_t o = 0; o < sg_out.size(); o++) describe_value(g, sg_out[o], &plan->vals[sg_out[o]].info, &vout[o]);
        ember_plugin_subgraph sg{};
        sg.n_nodes = nodes.size();
        sg.nodes = nodes.data();
        sg.n_inputs = vin.size();
        sg.inputs = vin.data();
        sg.n_outputs = vout.size();
        sg.outputs = vout.data();
        sg.device = 0;
        sg.num_threads = threads;
        void *compiled = nullptr;
        PluginRegistry::take_error();
        const int32_t cs = p->api.compile(p->api.ctx, &sg, &compiled);  // any number
        if (cs != EMBER_OK) {
            std::string why = PluginRegistry::take_error();
            return errorf(EMBER_ERR_BACKEND, "backend '%s' failed to compile %zu node(s) from '%s' (%s)%s%s",
                          p->name.c_str(), group.size(), g.nodes[group[0]].name.c_str(),
                          PluginRegistry::status_text(cs).c_str(), why.empty() ? "" : ": ", why.c_str());
        }
        Step step;
        step.node = &g.nodes[group[0]];
        step.plugin = p;
        step.n_nodes = static_cast<int64_t>(group.size());
        step.compiled = std::shared_ptr<void>(compiled, [p](void *c) { if (c) p->api.release(p->api.ctx, c); });
        int sidx = static_cast<int>(plan->steps.size());
        step.in_values = sg_in;
        for (int32_t id : sg_in) plan->vals[id].last = std::max(plan->vals[id].last, sidx);
        step.out_values = sg_out;
        for (int32_t id : sg_out) {
            plan->vals[id].first = sidx;
            plan->vals[id].last = std::max(plan->vals[id].last, sidx);
        }
        plan->steps.push_back(std::move(step));
        group.clear();
        group_plugin = nullptr;
        return Status::OK();
    };

    for (size_t k = 0; k < g.nodes.size(); k++) {
        if (!live[k]) continue;
        const Node &node = g.nodes[k];
        const OpSchema *schema = ops.find(node.op_type, node.domain);
        EMBER_RETURN_IF_ERROR(check_block_inputs(g, node));
        std::vector<const TensorInfo *> ins(node.inputs.size(), nullptr);
        bool all_known = true, any_held = false;
        for (size_t i = 0; i < node.inputs.size(); i++) {
            int32_t id = node.inputs[i];
            if (id < 0) continue;
            const PlanValue &pv = plan->vals[id];
            if (pv.kind == PlanValue::Unset)
                return errorf(EMBER_ERR_INTERNAL, "node '%s' reads '%s' before it is planned",
                              node.name.c_str(), g.values[id].name.c_str());
            ins[i] = &pv.info;
            all_known &= pv.info.value != nullptr;
            any_held |= pv.held;
        }
        bool fold = is_shape_only_op(node) || all_known;
        if (fold) {
            std::vector<TensorInfo> outs;
            std::vector<std::shared_ptr<std::vector<uint8_t>>> data;
            // A value computed while planning is held by the plan like arena memory: the
            // session cap bounds it too, checked before it is computed.
            size_t cap = opts_.max_arena_bytes > 0 ? static_cast<size_t>(opts_.max_arena_bytes)
                                                   : SIZE_MAX;
            Status st = evaluate_node(g, node, *schema, ins, &pool, &outs, &data, cap);
            if (st.code() == EMBER_ERR_OUT_OF_MEMORY)
                return errorf(EMBER_ERR_OUT_OF_MEMORY, "%s (the session cap, max_arena_bytes)",
                              st.message().c_str());
            EMBER_RETURN_IF_ERROR(st);
            for (size_t o = 0; o < node.outputs.size(); o++) {
                int32_t id = node.outputs[o];
                if (id < 0) continue;
                PlanValue &pv = plan->vals[id];
                pv.kind = PlanValue::Folded;
                pv.info = outs[o];
                pv.folded = data[o];
                pv.info.value = data[o]->data();
            }
            continue;
        }
        Step step;
        step.node = &node;
        InferContext ctx;
        std::vector<TensorInfo> kin, outs;
        std::vector<std::shared_ptr<std::vector<uint8_t>>> keep;
        HalfBridge bridge;
        EMBER_RETURN_IF_ERROR(
            infer_node(g, node, *schema, ins, &ctx, &kin, &keep, &outs, &bridge, any_held));
        // An output larger than the cap can never fit in the arena: refused before the
        // kernel is created, since creating it may allocate in proportion (pooling taps...).
        for (size_t o = 0; opts_.max_arena_bytes > 0 && o < ctx.outputs.size(); o++) {
            size_t bytes = static_cast<size_t>(shape_numel(ctx.outputs[o].shape)) *
                           dtype_size(ctx.outputs[o].dtype);
            if (bytes > static_cast<size_t>(opts_.max_arena_bytes))
                return node_error(node, errorf(EMBER_ERR_OUT_OF_MEMORY,
                                               "output %zu needs %zu bytes, above the session "
                                               "cap of %lld bytes (max_arena_bytes)",
                                               o, bytes,
                                               static_cast<long long>(opts_.max_arena_bytes)));
        }
        // The first plugin in the session's list that claims the node runs it.
        const Plugin *chosen = nullptr;
        if (!backends_.empty() && !node_has_unsupported_attr(node) && !reads_blocks(g, node)) {
            std::vector<const TensorInfo *> out_ptrs(node.outputs.size(), nullptr);
            for (size_t o = 0; o < node.outputs.size(); o++) out_ptrs[o] = &outs[o];
            NodeDesc d;
            describe_node(g, node, ins, out_ptrs, &d);
            for (const Plugin *p : backends_) {
                if (p->api.supports(p->api.ctx, &d.node) == 1) {
                    chosen = p;
                    break;
                }
            }
        }
        if (chosen) {
            if (chosen != group_plugin) EMBER_RETURN_IF_ERROR(flush_group());
            for (size_t o = 0; o < node.outputs.size(); o++) {
                int32_t id = node.outputs[o];
                if (id < 0) continue;
                PlanValue &pv = plan->vals[id];
                pv.kind = PlanValue::Arena;
                pv.info = outs[o];
                pv.bytes = static_cast<size_t>(shape_numel(pv.info.shape)) * dtype_size(pv.info.dtype);
            }
            group_plugin = chosen;
            group.push_back(static_cast<int32_t>(k));
            backend_of[k] = chosen->name;
            continue;
        }
        EMBER_RETURN_IF_ERROR(flush_group());
        backend_of[k] = "cpu";
        Status st = schema->create(ctx, &step.kernel);
        if (!st.ok()) return node_error(node, st);
        if (!step.kernel) return node_error(node, errorf(EMBER_ERR_INTERNAL, "no kernel created"));
        int s = static_cast<int>(plan->steps.size());
        // Inputs, widened through temporaries where the kernel needs float32.
        step.in_values.assign(node.inputs.size(), -1);
        for (size_t i = 0; i < node.inputs.size(); i++) {
            int32_t id = node.inputs[i];
            if (id < 0) continue;
            plan->vals[id].last = std::max(plan->vals[id].last, s);
            if (bridge.widen_input[i]) {
                // Copies: add_temp() may reallocate plan->vals.
                const DType half = plan->vals[id].info.dtype;
                const Shape shape = plan->vals[id].info.shape;
                int32_t tmp = plan->add_temp(DType::F32, shape, static_cast<size_t>(shape_numel(shape)) * 4);
                plan->vals[tmp].first = plan->vals[tmp].last = s;
                Convert c{Convert::Widen, half, id, tmp, {}, {}};
                step.before.push_back(c);
                step.in_values[i] = tmp;
            } else {
                step.in_values[i] = id;
            }
        }
        step.out_values.assign(node.outputs.size(), -1);
        for (size_t o = 0; o < node.outputs.size(); o++) {
            int32_t id = node.outputs[o];
            const TensorInfo &kinfo = ctx.outputs[o];
            size_t kbytes = static_cast<size_t>(shape_numel(kinfo.shape)) * dtype_size(kinfo.dtype);
            if (id < 0) {  // an omitted optional output still needs somewhere to go
                int32_t tmp = plan->add_temp(kinfo.dtype, kinfo.shape, kbytes);
                plan->vals[tmp].first = plan->vals[tmp].last = s;
                step.out_values[o] = tmp;
                continue;
            }
            PlanValue &pv = plan->vals[id];
            pv.kind = PlanValue::Arena;
            pv.info = outs[o];
            pv.first = s;
            pv.last = std::max(pv.last, s);
            bool graph_half = g.values[id].dtype == DType::F16 || g.values[id].dtype == DType::BF16;
            if (bridge.narrow_output[o] || (any_held && kinfo.dtype == DType::F32 && graph_half)) {
                pv.held = true;
                // The half type comes from inference (the bridge) or, for a float32 kernel
                // output in a held chain, from the graph: never from an unchecked declared
                // dtype of another width (found by fuzz/fuzz_ember_file.cc).
                pv.held_half = bridge.narrow_output[o] ? outs[o].dtype : g.values[id].dtype;
                pv.info.dtype = DType::F32;
            }
            pv.bytes = static_cast<size_t>(shape_numel(pv.info.shape)) * dtype_size(pv.info.dtype);
            if (pv.held) {
                step.out_values[o] = id;
            } else {
                step.out_values[o] = id;
                if (o == 0 && schema->may_alias_input0 && !bridge.active() && node.has_input(0)) {
                    int32_t in0 = node.inputs[0];
                    const PlanValue &src = plan->vals[in0];
                    if (src.kind == PlanValue::Arena && src.bytes == pv.bytes)
                        pv.alias_root = src.alias_root >= 0 ? src.alias_root : in0;
                }
            }
        }
        size_t scratch = step.kernel->scratch_bytes();
        if (scratch) {
            step.scratch_value = plan->add_temp(DType::U8, {static_cast<int64_t>(scratch)}, scratch);
            plan->vals[step.scratch_value].first = plan->vals[step.scratch_value].last = s;
        }
        plan->steps.push_back(std::move(step));
    }

    EMBER_RETURN_IF_ERROR(flush_group());

    // Graph outputs live to the end; an output that is a graph input is copied, and one
    // held in float32 is rounded to its float16 type once, into its own buffer.
    int end = static_cast<int>(plan->steps.size());
    std::vector<int32_t> output_value(g.outputs.size());
    for (size_t i = 0; i < g.outputs.size(); i++) {
        int32_t id = g.outputs[i];
        PlanValue &pv = plan->vals[id];
        if (pv.kind == PlanValue::Arena) pv.last = end;
        output_value[i] = id;
        if (pv.held) {
            DType half = pv.held_half;
            const Shape shape = pv.info.shape;
            int32_t tmp = plan->add_temp(half, shape, static_cast<size_t>(shape_numel(shape)) * 2);
            plan->vals[tmp].first = plan->vals[tmp].last = end;
            plan->final_converts.push_back(Convert{Convert::Narrow, half, id, tmp, {}, {}});
            output_value[i] = tmp;
        }
    }
    // Aliases keep their root alive as long as themselves.
    for (PlanValue &v : plan->vals) {
        if (v.alias_root < 0) continue;
        PlanValue &r = plan->vals[v.alias_root];
        r.last = std::max(r.last, v.last);
    }
    size_t arena_size = assign_offsets(plan->vals);
    for (PlanValue &v : plan->vals)
        if (v.alias_root >= 0) v.offset = plan->vals[v.alias_root].offset;
    // Output copies of graph inputs get their own buffers after the arena.
    size_t out_copy = arena_size;
    std::vector<std::pair<size_t, size_t>> copies;  // output index, offset
    for (size_t i = 0; i < g.outputs.size(); i++) {
        const PlanValue &pv = plan->vals[g.outputs[i]];
        if (pv.kind != PlanValue::Input) continue;
        size_t bytes = static_cast<size_t>(pv.info.numel()) * dtype_size(pv.info.dtype);
        copies.emplace_back(i, out_copy);
        out_copy += align_up(std::max<size_t>(bytes, 1));
    }
    // The cap covers the whole allocation, copies included (what arena_bytes() reports).
    if (opts_.max_arena_bytes > 0 && out_copy > static_cast<size_t>(opts_.max_arena_bytes))
        return errorf(EMBER_ERR_OUT_OF_MEMORY,
                      "the plan needs a %zu-byte arena, above the session cap of %lld bytes",
                      out_copy, static_cast<long long>(opts_.max_arena_bytes));
    plan->arena_size = out_copy;
    plan->arena = static_cast<uint8_t *>(std::aligned_alloc(kArenaAlign, align_up(std::max<size_t>(out_copy, 1))));
    if (!plan->arena)
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate a %zu-byte arena", out_copy);

    auto bind = [&](int32_t id, Tensor *t) {
        const PlanValue &pv = plan->vals[id];
        t->dtype = pv.info.dtype;
        t->shape = pv.info.shape;
        switch (pv.kind) {
            case PlanValue::Arena: t->data = plan->arena + pv.offset; break;
            case PlanValue::Input: t->data = nullptr; plan->patches.emplace_back(t, pv.input_index); break;
            default: t->data = const_cast<void *>(pv.info.value); break;
        }
    };
    for (Step &step : plan->steps) {
        step.ins.resize(step.in_values.size());
        step.outs.resize(step.out_values.size());
        for (Convert &c : step.before) { bind(c.src_value, &c.src); bind(c.dst_value, &c.dst); }
        for (Convert &c : step.after) { bind(c.src_value, &c.src); bind(c.dst_value, &c.dst); }
        for (size_t i = 0; i < step.in_values.size(); i++)
            if (step.in_values[i] >= 0) bind(step.in_values[i], &step.ins[i]);
        for (size_t o = 0; o < step.out_values.size(); o++) bind(step.out_values[o], &step.outs[o]);
        if (step.scratch_value >= 0) step.scratch = plan->arena + plan->vals[step.scratch_value].offset;
    }
    for (Convert &c : plan->final_converts) { bind(c.src_value, &c.src); bind(c.dst_value, &c.dst); }
    for (Step &step : plan->steps) {
        if (!step.plugin) continue;
        auto to_plugin = [](const Tensor &t) {
            static const int64_t kNoDims[1] = {0};
            return ember_plugin_tensor{static_cast<ember_dtype>(t.dtype), t.shape.size(),
                                       t.shape.empty() ? kNoDims : t.shape.data(), t.data};
        };
        for (const Tensor &t : step.ins) step.pins.push_back(to_plugin(t));
        for (const Tensor &t : step.outs) step.pouts.push_back(to_plugin(t));
    }
    // Patches were recorded with pointers into steps' vectors, which no longer move.
    plan->outputs.resize(g.outputs.size());
    for (size_t i = 0; i < g.outputs.size(); i++) {
        const PlanValue &pv = plan->vals[output_value[i]];
        ember_tensor &t = plan->outputs[i];
        t.t.dtype = pv.info.dtype;
        t.t.shape = pv.info.shape;
        t.t.data = pv.kind == PlanValue::Arena ? plan->arena + pv.offset
                                               : const_cast<void *>(pv.info.value);
        t.capacity = t.t.nbytes();
    }
    for (const auto &c : copies) {
        ember_tensor &t = plan->outputs[c.first];
        t.t.data = plan->arena + c.second;
        plan->output_patches.emplace_back(static_cast<int>(c.first),
                                          plan->vals[g.outputs[c.first]].input_index);
    }
    plan_ = std::move(plan);
    return Status::OK();
}

Status Session::derived_graph(const char *key, DeriveFn make, std::shared_ptr<const Graph> *out) {
    for (const auto &d : derived_)
        if (d.first == key) {
            *out = d.second;
            return Status::OK();
        }
    auto g = std::make_shared<Graph>();
    EMBER_RETURN_IF_ERROR(make(model_->graph, g.get()));
    const Graph &m = model_->graph;
    if (g->inputs != m.inputs || g->outputs.size() != m.outputs.size() || g->values.size() < m.values.size())
        return errorf(EMBER_ERR_INTERNAL, "derived graph '%s' changes the model's interface", key);
    derived_.emplace_back(key, g);
    *out = std::move(g);
    return Status::OK();
}

Status Session::run(const ember_tensor *const *inputs, size_t n_inputs) {
    return run(inputs, n_inputs, nullptr);
}

Status Session::run(const ember_tensor *const *inputs, size_t n_inputs,
                    const std::shared_ptr<const Graph> &variant) {
    const Graph &g = variant ? *variant : model_->graph;
    have_outputs_ = false;
    if (n_inputs != g.inputs.size())
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "the model has %zu inputs, %zu were given",
                      g.inputs.size(), n_inputs);
    if (n_inputs && !inputs) return errorf(EMBER_ERR_INVALID_ARGUMENT, "inputs is NULL");
    for (size_t k = 0; k < n_inputs; k++) {
        const ember_tensor *t = inputs[k];
        const Value &v = g.values[g.inputs[k]];
        if (!t) return errorf(EMBER_ERR_INVALID_ARGUMENT, "input %zu ('%s') is NULL", k, v.name.c_str());
        if (t->t.dtype != v.dtype)
            return errorf(EMBER_ERR_SHAPE, "input %zu ('%s') must be %s, got %s", k, v.name.c_str(),
                          dtype_name(v.dtype), dtype_name(t->t.dtype));
        if (v.has_shape) {
            bool ok = t->t.shape.size() == v.shape.size();
            for (size_t d = 0; ok && d < v.shape.size(); d++)
                ok = v.shape[d] < 0 || v.shape[d] == t->t.shape[d];
            if (!ok)
                return errorf(EMBER_ERR_SHAPE, "input %zu ('%s') has shape %s, the model expects %s",
                              k, v.name.c_str(), shape_str(t->t.shape).c_str(),
                              shape_str(v.shape).c_str());
        }
        if (t->t.numel() > 0 && !t->t.data)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "input %zu ('%s') has no data", k, v.name.c_str());
    }
    if (!plan_matches(plan_.get(), &g, inputs)) {
        // A few plans are kept, so alternating shapes (a language model's prefill and
        // decode steps, two batch sizes) do not re-plan on every run.
        size_t hit = spare_plans_.size();
        for (size_t i = 0; i < spare_plans_.size(); i++)
            if (plan_matches(spare_plans_[i].get(), &g, inputs)) hit = i;
        if (hit < spare_plans_.size()) {
            std::swap(plan_, spare_plans_[hit]);
        } else {
            std::vector<Shape> shapes;
            for (size_t k = 0; k < n_inputs; k++) shapes.push_back(inputs[k]->t.shape);
            std::unique_ptr<Plan> current = std::move(plan_);
            Status st = plan_for(shapes, inputs, variant);
            if (!st.ok()) {
                plan_ = std::move(current);
                return st;
            }
            if (current) {
                if (spare_plans_.size() + 1 >= kMaxPlans) spare_plans_.erase(spare_plans_.begin());
                spare_plans_.push_back(std::move(current));
            }
        }
    }
    Plan &p = *plan_;
    // An empty input may come without a buffer (ember_tensor_wrap(NULL, 0)); kernels get a
    // non-null pointer for every tensor, as for empty values inside the plan.
    for (auto &patch : p.patches) {
        void *d = inputs[patch.second]->t.data;
        patch.first->data = d ? d : const_cast<uint8_t *>(kEmptyValue);
    }
    ThreadPool &pool = model_->runtime->pool();
    int threads = opts_.num_threads > 0 ? std::min(opts_.num_threads, pool.num_threads())
                                        : pool.num_threads();
    const bool prof = opts_.profile;
    for (Step &step : p.steps) {
        std::chrono::steady_clock::time_point t0;
        if (prof) t0 = std::chrono::steady_clock::now();
        Status st = run_step(step, pool, threads);
        if (prof) {
            step.total_ns += std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
            step.calls++;
        }
        if (!st.ok()) return st;
    }
    for (const Convert &c : p.final_converts) run_convert(c);
    for (const auto &op : p.output_patches) {
        ember_tensor &t = p.outputs[op.first];
        if (t.t.nbytes()) std::memcpy(t.t.data, inputs[op.second]->t.data, t.t.nbytes());
    }
    have_outputs_ = true;
    return Status::OK();
}

Status Session::run_step(Step &step, ThreadPool &pool, int threads) {
    {
        if (step.plugin) {
            for (size_t i = 0; i < step.pins.size(); i++) step.pins[i].data = step.ins[i].data;
            PluginRegistry::take_error();
            const int32_t ps = step.plugin->api.execute(step.plugin->api.ctx, step.compiled.get(),
                                                       step.pins.data(), step.pins.size(),
                                                       step.pouts.data(), step.pouts.size());
            if (ps != EMBER_OK) {
                std::string why = PluginRegistry::take_error();
                return errorf(EMBER_ERR_BACKEND, "backend '%s' failed running the subgraph from '%s' (%s)%s%s",
                              step.plugin->name.c_str(), step.node->name.c_str(),
                              PluginRegistry::status_text(ps).c_str(),
                              why.empty() ? "" : ": ", why.c_str());
            }
            return Status::OK();
        }
        for (const Convert &c : step.before) run_convert(c);
        KernelIO io;
        io.inputs = step.ins.data();
        io.num_inputs = step.ins.size();
        io.outputs = step.outs.data();
        io.num_outputs = step.outs.size();
        io.scratch = step.scratch;
        io.pool = &pool;
        io.max_threads = threads;
        Status st = step.kernel->run(io);
        if (!st.ok()) return node_error(*step.node, st);
        for (const Convert &c : step.after) run_convert(c);
    }
    return Status::OK();
}

bool Session::plan_matches(const Plan *p, const Graph *g, const ember_tensor *const *inputs) const {
    if (!p || (p->variant ? p->variant.get() : &model_->graph) != g) return false;
    for (size_t k = 0; k < p->input_shapes.size(); k++)
        if (inputs[k]->t.shape != p->input_shapes[k]) return false;
    for (const auto &iv : p->input_values) {
        const Tensor &t = inputs[iv.first]->t;
        if (t.nbytes() != iv.second.size() ||
            (!iv.second.empty() && std::memcmp(t.data, iv.second.data(), iv.second.size()) != 0))
            return false;
    }
    return true;
}

Status Session::output(size_t index, const ember_tensor **out) const {
    if (!have_outputs_ || !plan_)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "no successful run yet: outputs are not available");
    if (index >= plan_->outputs.size())
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "output index %zu out of range (the model has %zu)",
                      index, plan_->outputs.size());
    *out = &plan_->outputs[index];
    return Status::OK();
}

size_t Session::node_count() const { return model_->graph.nodes.size(); }

Status Session::node_info(size_t index, const char **name, const char **op, const char **backend) const {
    const Graph &g = model_->graph;
    if (index >= g.nodes.size())
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "node index %zu out of range (%zu nodes)", index,
                      g.nodes.size());
    if (name) *name = g.nodes[index].name.c_str();
    if (op) *op = g.nodes[index].op_type.c_str();
    if (backend) *backend = index < node_backend_.size() ? node_backend_[index].c_str() : "cpu";
    return Status::OK();
}

size_t Session::arena_bytes() const { return plan_ ? plan_->arena_size : 0; }

size_t Session::profile_count() const { return plan_ ? plan_->steps.size() : 0; }

Status Session::profile(size_t index, StepProfile *out) const {
    if (!opts_.profile)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "the session was created without enable_profiling");
    if (!plan_ || index >= plan_->steps.size())
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "profile index %zu out of range (%zu steps)", index,
                      plan_ ? plan_->steps.size() : 0);
    const Step &st = plan_->steps[index];
    out->name = st.node->name.c_str();
    out->op = st.node->op_type.c_str();
    out->backend = st.plugin ? st.plugin->name.c_str() : "cpu";
    out->nodes = st.n_nodes;
    out->total_ms = st.total_ns / 1e6;
    out->calls = st.calls;
    return Status::OK();
}

}  // namespace ember
