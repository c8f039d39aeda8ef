#include "core/graph.h"

#include <cstring>
#include <queue>

namespace ember {

const Attribute *Node::attr(const char *name) const {
    for (const auto &a : attrs)
        if (a.name == name) return &a;
    return nullptr;
}

int64_t Node::attr_int(const char *name, int64_t dflt) const {
    const Attribute *a = attr(name);
    return a && a->type == AttrType::Int ? a->i : dflt;
}

float Node::attr_float(const char *name, float dflt) const {
    const Attribute *a = attr(name);
    if (!a) return dflt;
    if (a->type == AttrType::Float) return a->f;
    if (a->type == AttrType::Int) return static_cast<float>(a->i);
    return dflt;
}

std::string Node::attr_string(const char *name, const std::string &dflt) const {
    const Attribute *a = attr(name);
    return a && a->type == AttrType::String ? a->s : dflt;
}

std::vector<int64_t> Node::attr_ints(const char *name) const {
    const Attribute *a = attr(name);
    if (!a) return {};
    if (a->type == AttrType::Ints) return a->ints;
    if (a->type == AttrType::Int) return {a->i};
    return {};
}

std::vector<float> Node::attr_floats(const char *name) const {
    const Attribute *a = attr(name);
    if (!a) return {};
    if (a->type == AttrType::Floats) return a->floats;
    if (a->type == AttrType::Float) return {a->f};
    return {};
}

int32_t Graph::add_value(const std::string &name, DType dtype) {
    Value v;
    v.name = name;
    v.dtype = dtype;
    values.push_back(std::move(v));
    return static_cast<int32_t>(values.size() - 1);
}

int32_t Graph::add_constant(const std::string &name, DType dtype, const Shape &shape,
                            const void *bytes, size_t nbytes) {
    int32_t id = add_value(name, dtype);
    Value &v = values[id];
    v.has_shape = true;
    v.shape = shape;
    v.dim_names.assign(shape.size(), "");
    ConstData c;
    c.owned = std::make_shared<std::vector<uint8_t>>(nbytes ? nbytes : 1);  // never a null data pointer
    if (nbytes) std::memcpy(c.owned->data(), bytes, nbytes);
    c.data = c.owned->data();
    c.nbytes = nbytes;
    constants.push_back(std::move(c));
    v.constant = static_cast<int32_t>(constants.size() - 1);
    return id;
}

const std::string *Graph::metadata_get(const std::string &key) const {
    for (const auto &kv : metadata)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Graph::metadata_set(const std::string &key, const std::string &value) {
    for (auto &kv : metadata) {
        if (kv.first == key) {
            kv.second = value;
            return;
        }
    }
    metadata.emplace_back(key, value);
}

Status Graph::validate_and_sort() {
    const int32_t nv = static_cast<int32_t>(values.size());
    std::vector<int32_t> producer(values.size(), -1);
    std::vector<char> is_input(values.size(), 0);
    for (int32_t in : inputs) {
        if (in < 0 || in >= nv)
            return errorf(EMBER_ERR_FORMAT, "graph input refers to value %d of %d", in, nv);
        if (values[in].constant >= 0)
            return errorf(EMBER_ERR_FORMAT, "graph input '%s' is also a constant",
                          values[in].name.c_str());
        is_input[in] = 1;
    }
    for (size_t c = 0; c < values.size(); c++) {
        int32_t k = values[c].constant;
        if (k >= 0 && static_cast<size_t>(k) >= constants.size())
            return errorf(EMBER_ERR_FORMAT, "value '%s' refers to constant %d of %zu",
                          values[c].name.c_str(), k, constants.size());
    }
    for (size_t n = 0; n < nodes.size(); n++) {
        const Node &node = nodes[n];
        // Every operator has at least one output; kernels rely on output 0 existing.
        if (node.outputs.empty())
            return errorf(EMBER_ERR_FORMAT, "node '%s' (%s) has no outputs", node.name.c_str(),
                          node.op_type.c_str());
        for (int32_t in : node.inputs)
            if (in < -1 || in >= nv)
                return errorf(EMBER_ERR_FORMAT, "node '%s' (%s): input refers to value %d of %d",
                              node.name.c_str(), node.op_type.c_str(), in, nv);
        for (int32_t out : node.outputs) {
            if (out < -1 || out >= nv)
                return errorf(EMBER_ERR_FORMAT, "node '%s' (%s): output refers to value %d of %d",
                              node.name.c_str(), node.op_type.c_str(), out, nv);
            if (out < 0) continue;
            if (producer[out] >= 0 || is_input[out] || values[out].constant >= 0)
                return errorf(EMBER_ERR_FORMAT, "value '%s' is produced more than once",
                              values[out].name.c_str());
            producer[out] = static_cast<int32_t>(n);
        }
    }
    for (int32_t out : outputs) {
        if (out < 0 || out >= nv)
            return errorf(EMBER_ERR_FORMAT, "graph output refers to value %d of %d", out, nv);
        if (producer[out] < 0 && !is_input[out] && values[out].constant < 0)
            return errorf(EMBER_ERR_FORMAT, "graph output '%s' has no producer",
                          values[out].name.c_str());
    }
    // Kahn's algorithm; keeps the original order where it is already valid.
    std::vector<int32_t> pending(nodes.size(), 0);
    std::vector<std::vector<int32_t>> users(nodes.size());
    for (size_t n = 0; n < nodes.size(); n++) {
        for (int32_t in : nodes[n].inputs) {
            if (in < 0) continue;
            int32_t p = producer[in];
            if (p < 0) {
                if (!is_input[in] && values[in].constant < 0)
                    return errorf(EMBER_ERR_FORMAT, "node '%s' (%s) reads '%s', which nothing produces",
                                  nodes[n].name.c_str(), nodes[n].op_type.c_str(),
                                  values[in].name.c_str());
                continue;
            }
            pending[n]++;
            users[p].push_back(static_cast<int32_t>(n));
        }
    }
    std::priority_queue<int32_t, std::vector<int32_t>, std::greater<int32_t>> ready;
    for (size_t n = 0; n < nodes.size(); n++)
        if (pending[n] == 0) ready.push(static_cast<int32_t>(n));
    std::vector<int32_t> order;
    order.reserve(nodes.size());
    while (!ready.empty()) {
        int32_t n = ready.top();
        ready.pop();
        order.push_back(n);
        for (int32_t u : users[n])
            if (--pending[u] == 0) ready.push(u);
    }
    if (order.size() != nodes.size()) {
        for (size_t n = 0; n < nodes.size(); n++)
            if (pending[n] > 0)
                return errorf(EMBER_ERR_FORMAT, "the graph has a cycle through node '%s' (%s)",
                              nodes[n].name.c_str(), nodes[n].op_type.c_str());
    }
    bool sorted = true;
    for (size_t i = 0; i < order.size(); i++) sorted &= order[i] == static_cast<int32_t>(i);
    if (!sorted) {
        std::vector<Node> out;
        out.reserve(nodes.size());
        for (int32_t n : order) out.push_back(std::move(nodes[n]));
        nodes = std::move(out);
    }
    return Status::OK();
}

}  // namespace ember
