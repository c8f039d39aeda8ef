#include "core/passes.h"

#include <map>

#include "core/node_eval.h"
#include "core/op.h"
#include "core/thread_pool.h"

namespace ember {

namespace {
// Folded results larger than this stay as nodes: folding must not blow up the file
// (an Expand or ConstantOfShape of a constant can be huge).
constexpr size_t kMaxFoldBytes = size_t(64) << 20;
}  // namespace

Status fold_constants(Graph *g) {
    const OpRegistry &ops = builtin_ops();
    ThreadPool pool(1);
    std::vector<Node> kept;
    kept.reserve(g->nodes.size());
    for (size_t k = 0; k < g->nodes.size(); k++) {
        Node &node = g->nodes[k];
        const OpSchema *schema = ops.find(node.op_type, node.domain);
        bool foldable = schema != nullptr;
        std::vector<TensorInfo> infos(node.inputs.size());
        std::vector<const TensorInfo *> ins(node.inputs.size(), nullptr);
        for (size_t i = 0; foldable && i < node.inputs.size(); i++) {
            int32_t id = node.inputs[i];
            if (id < 0) continue;
            const ConstData *c = g->constant_of(id);
            if (!c) {
                foldable = false;
                break;
            }
            infos[i].dtype = g->values[id].dtype;
            infos[i].shape = g->values[id].shape;
            static const uint8_t empty[8] = {0};
            infos[i].value = c->data ? c->data : empty;
            ins[i] = &infos[i];
        }
        // Shape/Size of a value with a fully known shape folds too.
        if (schema && !foldable && (node.op_type == "Shape" || node.op_type == "Size") &&
            node.has_input(0)) {
            const Value &v = g->values[node.inputs[0]];
            bool known = v.has_shape;
            for (int64_t d : v.shape) known &= d >= 0;
            if (known) {
                infos.assign(1, TensorInfo());
                infos[0].dtype = v.dtype;
                infos[0].shape = v.shape;
                infos[0].value = nullptr;  // the kernel reads only the shape
                ins.assign(1, &infos[0]);
                foldable = true;
            }
        }
        if (!foldable) {
            kept.push_back(std::move(node));
            continue;
        }
        std::vector<TensorInfo> outs;
        std::vector<std::shared_ptr<std::vector<uint8_t>>> data;
        // Too big to fold is found before computing anything (EMBER_ERR_OUT_OF_MEMORY only
        // comes from that limit): the node stays a node.
        Status st = evaluate_node(*g, node, *schema, ins, &pool, &outs, &data, kMaxFoldBytes);
        if (st.code() == EMBER_ERR_OUT_OF_MEMORY) {
            kept.push_back(std::move(node));
            continue;
        }
        if (!st.ok()) return st;
        for (size_t o = 0; o < node.outputs.size(); o++) {
            int32_t id = node.outputs[o];
            if (id < 0) continue;
            Value &v = g->values[id];
            v.dtype = outs[o].dtype;
            v.has_shape = true;
            v.shape = outs[o].shape;
            v.dim_names.assign(v.shape.size(), "");
            ConstData c;
            c.owned = data[o];
            c.data = data[o]->data();
            c.nbytes = static_cast<size_t>(shape_numel(outs[o].shape)) * dtype_size(outs[o].dtype);
            g->constants.push_back(std::move(c));
            v.constant = static_cast<int32_t>(g->constants.size() - 1);
        }
    }
    g->nodes = std::move(kept);
    // A graph output that became a constant stays a graph output: fine for the runtime.
    return Status::OK();
}

namespace {

// One shape-inference pass with symbolic dims replaced by `fill(name)`. Returns the
// inferred infos per value (dtype Undefined where unknown).
Status infer_pass(const Graph &g, const std::map<std::string, int64_t> &subst, int64_t dflt,
                  std::vector<TensorInfo> *infos, std::vector<char> *known) {
    const OpRegistry &ops = builtin_ops();
    infos->assign(g.values.size(), TensorInfo());
    known->assign(g.values.size(), 0);
    for (size_t v = 0; v < g.values.size(); v++) {
        const Value &gv = g.values[v];
        if (gv.constant < 0) continue;
        (*infos)[v].dtype = gv.dtype;
        (*infos)[v].shape = gv.shape;
        static const uint8_t empty[8] = {0};
        (*infos)[v].value = g.constants[gv.constant].data ? g.constants[gv.constant].data : empty;
        (*known)[v] = 1;
    }
    for (int32_t id : g.inputs) {
        const Value &gv = g.values[id];
        if (!gv.has_shape) continue;
        TensorInfo &t = (*infos)[id];
        t.dtype = gv.dtype;
        t.shape = gv.shape;
        for (size_t d = 0; d < t.shape.size(); d++) {
            if (t.shape[d] >= 0) continue;
            auto it = subst.find(gv.dim_names.size() > d ? gv.dim_names[d] : "");
            t.shape[d] = it != subst.end() ? it->second : dflt;
        }
        (*known)[id] = 1;
    }
    for (const Node &node : g.nodes) {
        const OpSchema *schema = ops.find(node.op_type, node.domain);
        if (!schema) continue;
        std::vector<const TensorInfo *> ins(node.inputs.size(), nullptr);
        bool ok = true;
        for (size_t i = 0; i < node.inputs.size(); i++) {
            int32_t id = node.inputs[i];
            if (id < 0) continue;
            if (!(*known)[id]) { ok = false; break; }
            if ((schema->value_inputs >> i & 1) && !(*infos)[id].value) { ok = false; break; }
            ins[i] = &(*infos)[id];
        }
        if (!ok) continue;
        InferContext ctx;
        std::vector<TensorInfo> kin, outs;
        std::vector<std::shared_ptr<std::vector<uint8_t>>> keep;
        HalfBridge bridge;
        EMBER_RETURN_IF_ERROR(infer_node(g, node, *schema, ins, &ctx, &kin, &keep, &outs, &bridge));
        for (size_t o = 0; o < node.outputs.size(); o++) {
            int32_t id = node.outputs[o];
            if (id < 0) continue;
            (*infos)[id] = outs[o];
            (*infos)[id].value = nullptr;
            (*known)[id] = 1;
        }
    }
    return Status::OK();
}

}  // namespace

Status infer_shapes(Graph *g) {
    // Symbolic dims get two different stand-in values; a dim that differs between the
    // passes depends on them and stays symbolic.
    std::map<std::string, int64_t> a, b;
    int64_t next = 0;
    for (int32_t id : g->inputs) {
        const Value &v = g->values[id];
        for (size_t d = 0; d < v.shape.size(); d++) {
            if (v.shape[d] >= 0) continue;
            std::string n = d < v.dim_names.size() ? v.dim_names[d] : "";
            if (!a.count(n)) {
                a[n] = 3 + 2 * next;
                b[n] = 5 + 2 * next;
                next++;
            }
        }
    }
    std::vector<TensorInfo> ia, ib;
    std::vector<char> ka, kb;
    EMBER_RETURN_IF_ERROR(infer_pass(*g, a, 3, &ia, &ka));
    if (!a.empty()) {
        Status st = infer_pass(*g, b, 5, &ib, &kb);
        if (!st.ok()) return st;
    }
    std::map<int64_t, std::string> names_a;
    for (const auto &kv : a) names_a[kv.second] = kv.first;
    for (size_t v = 0; v < g->values.size(); v++) {
        Value &val = g->values[v];
        if (val.constant >= 0 || !ka[v]) continue;
        bool is_input = false;
        for (int32_t id : g->inputs) is_input |= id == static_cast<int32_t>(v);
        if (is_input) continue;
        if (!a.empty() && (!kb[v] || ib[v].shape.size() != ia[v].shape.size())) continue;
        val.dtype = ia[v].dtype;
        val.has_shape = true;
        val.shape = ia[v].shape;
        val.dim_names.assign(val.shape.size(), "");
        if (a.empty()) continue;
        for (size_t d = 0; d < val.shape.size(); d++) {
            if (ia[v].shape[d] == ib[v].shape[d]) continue;
            val.shape[d] = -1;
            auto it = names_a.find(ia[v].shape[d]);
            if (it != names_a.end() && b[it->second] == ib[v].shape[d]) val.dim_names[d] = it->second;
        }
    }
    return Status::OK();
}

void remove_dead_nodes(Graph *g) {
    std::vector<char> used(g->values.size(), 0);
    for (int32_t o : g->outputs) used[o] = 1;
    std::vector<char> live(g->nodes.size(), 0);
    for (size_t k = g->nodes.size(); k-- > 0;) {
        const Node &n = g->nodes[k];
        for (int32_t o : n.outputs) live[k] |= o >= 0 && used[o];
        if (!live[k]) continue;
        for (int32_t i : n.inputs)
            if (i >= 0) used[i] = 1;
        for (const Attribute &a : n.attrs)
            if (a.type == AttrType::Tensor && a.i >= 0 && static_cast<size_t>(a.i) < used.size())
                used[a.i] = 1;
    }
    std::vector<Node> kept;
    for (size_t k = 0; k < g->nodes.size(); k++)
        if (live[k]) kept.push_back(std::move(g->nodes[k]));
    g->nodes = std::move(kept);
    // Drop constants nothing reads; keep value ids stable by leaving the value entry
    // (renumbering would invalidate ids held elsewhere) but release its data.
    for (size_t v = 0; v < g->values.size(); v++) {
        Value &val = g->values[v];
        if (val.constant < 0 || used[v]) continue;
        ConstData &c = g->constants[val.constant];
        c.owned.reset();
        c.data = nullptr;
        c.nbytes = 0;
        val.constant = -1;
    }
    // Compact: values that are neither produced, read, nor graph inputs/outputs vanish.
    std::vector<char> keep(g->values.size(), 0);
    for (int32_t id : g->inputs) keep[id] = 1;
    for (int32_t id : g->outputs) keep[id] = 1;
    for (const Node &n : g->nodes) {
        for (int32_t i : n.inputs) if (i >= 0) keep[i] = 1;
        for (int32_t o : n.outputs) if (o >= 0) keep[o] = 1;
        for (const Attribute &a : n.attrs)
            if (a.type == AttrType::Tensor && a.i >= 0 && static_cast<size_t>(a.i) < keep.size()) keep[a.i] = 1;
    }
    std::vector<int32_t> remap(g->values.size(), -1);
    std::vector<Value> values;
    std::vector<ConstData> constants;
    for (size_t v = 0; v < g->values.size(); v++) {
        if (!keep[v]) continue;
        remap[v] = static_cast<int32_t>(values.size());
        Value val = std::move(g->values[v]);
        if (val.constant >= 0) {
            constants.push_back(std::move(g->constants[val.constant]));
            val.constant = static_cast<int32_t>(constants.size() - 1);
        }
        values.push_back(std::move(val));
    }
    auto fix = [&](int32_t &id) { if (id >= 0) id = remap[id]; };
    for (int32_t &id : g->inputs) fix(id);
    for (int32_t &id : g->outputs) fix(id);
    for (Node &n : g->nodes) {
        for (int32_t &i : n.inputs) fix(i);
        for (int32_t &o : n.outputs) fix(o);
        for (Attribute &a : n.attrs)
            if (a.type == AttrType::Tensor && a.i >= 0) a.i = remap[a.i];
    }
    g->values = std::move(values);
    g->constants = std::move(constants);
}

}  // namespace ember
