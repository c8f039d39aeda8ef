// lm_import.cc — the decoder graph shared by the llama2.c and GGUF importers, and file
// helpers (lm_import.h).
//
// Per layer l (x is the residual stream [T, dim]):
//   h = ember.RMSNorm(x, attn_norm)
//   q = ember.Rotary(ember.Linear(h, wq), pos); k = ember.Rotary(ember.Linear(h, wk), pos)
//   v = ember.Linear(h, wv)
//   a = ember.CacheAttention(q, k, v, k_cache, v_cache, pos)        layer = l
//   x = Add(x, ember.Linear(a, wo))
//   h = ember.RMSNorm(x, ffn_norm)
//   x = Add(x, ember.Linear(ember.SwiGLU(ember.Linear(h, w1), ember.Linear(h, w3)), w2))
// then logits = ember.Linear(ember.RMSNorm(x, final_norm), classifier or embed), and the
// embedding itself is Gather(embed, tokens).
#include "formats/lm_import.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ember {

Status read_file_bytes(const std::string &path, Bytes *out) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return errorf(EMBER_ERR_IO, "cannot open '%s': %s", path.c_str(), std::strerror(errno));
    Bytes b = std::make_shared<std::vector<uint8_t>>();
    Status st;
    if (std::fseek(f, 0, SEEK_END) != 0) {
        st = errorf(EMBER_ERR_IO, "cannot seek '%s'", path.c_str());
    } else {
        long n = std::ftell(f);
        if (n < 0 || std::fseek(f, 0, SEEK_SET) != 0) {
            st = errorf(EMBER_ERR_IO, "cannot size '%s'", path.c_str());
        } else {
            b->resize(static_cast<size_t>(n));
            if (n > 0 && std::fread(b->data(), 1, b->size(), f) != b->size())
                st = errorf(EMBER_ERR_IO, "cannot read '%s'", path.c_str());
        }
    }
    std::fclose(f);
    if (!st.ok()) return st;
    *out = std::move(b);
    return Status::OK();
}

std::string lm_sniff(const uint8_t *data, size_t size) {
    if (size >= 4 && std::memcmp(data, "GGUF", 4) == 0) return "gguf";
    if (size >= 28) {
        int32_t h[7];
        std::memcpy(h, data, sizeof h);
        if (h[0] == 0x616b3432) return "llama2c";  // "ak42": llama2.c version 1/2 files
        bool plausible = h[0] > 0 && h[0] <= kLmMaxDim && h[1] > 0 && h[2] > 0 && h[2] <= kLmMaxLayers &&
                         h[3] > 0 && h[3] <= kLmMaxHeads && h[4] > 0 && h[4] <= h[3] && h[5] != 0 &&
                         h[6] > 0 && h[6] <= kLmMaxContext;
        if (plausible) return "llama2c";
    }
    return "";
}

namespace {

class GraphBuilder {
public:
    explicit GraphBuilder(Graph *g) : g_(g) {}

    int32_t input(const std::string &name, DType dt, const Shape &shape,
                  const std::vector<std::string> &dim_names) {
        int32_t id = g_->add_value(name, dt);
        Value &v = g_->values[id];
        v.has_shape = true;
        v.shape = shape;
        v.dim_names = dim_names;
        g_->inputs.push_back(id);
        return id;
    }

    int32_t weight(const std::string &name, const LmTensor &t, const Shape &shape) {
        int32_t id = g_->add_value(name, t.dtype);
        Value &v = g_->values[id];
        v.has_shape = true;
        v.shape = shape;
        v.dim_names.assign(shape.size(), "");
        ConstData c;
        c.data = reinterpret_cast<const uint8_t *>(t.data);
        c.nbytes = dtype_storage_bytes(t.dtype, shape_numel(shape));
        c.owned = t.owner;
        v.constant = static_cast<int32_t>(g_->constants.size());
        g_->constants.push_back(std::move(c));
        return id;
    }

    int32_t node(const std::string &name, const char *op, const char *domain,
                 std::vector<int32_t> inputs, std::vector<Attribute> attrs = {}) {
        int32_t out = g_->add_value(name, DType::F32);
        Node n;
        n.name = name;
        n.op_type = op;
        n.domain = domain;
        n.inputs = std::move(inputs);
        n.outputs = {out};
        n.attrs = std::move(attrs);
        g_->nodes.push_back(std::move(n));
        return out;
    }

    static Attribute attr_int(const char *name, int64_t v) {
        Attribute a;
        a.name = name;
        a.type = AttrType::Int;
        a.i = v;
        return a;
    }
    static Attribute attr_float(const char *name, double v) {
        Attribute a;
        a.name = name;
        a.type = AttrType::Float;
        a.f = static_cast<float>(v);
        return a;
    }

private:
    Graph *g_;
};

}  // namespace

Status build_lm_graph(const LmConfig &c, const LmWeights &w, const Tokenizer *tok,
                      const std::string &producer, Graph *out) {
    if (static_cast<int64_t>(w.layers.size()) != c.layers)
        return errorf(EMBER_ERR_INTERNAL, "lm graph: %zu layer weights for %lld layers", w.layers.size(),
                      static_cast<long long>(c.layers));
    Graph g;
    GraphBuilder b(&g);
    const int64_t kvd = c.kv_dim();
    int32_t tokens = b.input("tokens", DType::I64, {-1}, {"T"});
    int32_t pos = b.input("pos", DType::I64, {1}, {""});
    int32_t kc = b.input("k_cache", DType::F32, {c.layers, -1, kvd}, {"", "context", ""});
    int32_t vc = b.input("v_cache", DType::F32, {c.layers, -1, kvd}, {"", "context", ""});

    int32_t embed = b.weight("token_embd.weight", w.embed, {c.vocab, c.dim});
    Attribute eps = GraphBuilder::attr_float("epsilon", c.norm_eps);
    std::vector<Attribute> rope = {GraphBuilder::attr_int("head_dim", c.head_dim),
                                   GraphBuilder::attr_float("theta", c.rope_theta)};
    int32_t x = b.node("embed", "Gather", "", {embed, tokens}, {GraphBuilder::attr_int("axis", 0)});
    for (int64_t l = 0; l < c.layers; l++) {
        const LmWeights::Layer &lw = w.layers[l];
        const std::string p = "blk." + std::to_string(l) + ".";
        int32_t an = b.weight(p + "attn_norm.weight", lw.attn_norm, {c.dim});
        int32_t wq = b.weight(p + "attn_q.weight", lw.wq, {c.dim, c.dim});
        int32_t wk = b.weight(p + "attn_k.weight", lw.wk, {kvd, c.dim});
        int32_t wv = b.weight(p + "attn_v.weight", lw.wv, {kvd, c.dim});
        int32_t wo = b.weight(p + "attn_output.weight", lw.wo, {c.dim, c.dim});
        int32_t fn = b.weight(p + "ffn_norm.weight", lw.ffn_norm, {c.dim});
        int32_t w1 = b.weight(p + "ffn_gate.weight", lw.w1, {c.hidden, c.dim});
        int32_t w2 = b.weight(p + "ffn_down.weight", lw.w2, {c.dim, c.hidden});
        int32_t w3 = b.weight(p + "ffn_up.weight", lw.w3, {c.hidden, c.dim});

        int32_t h = b.node(p + "attn_norm", "RMSNorm", "ember", {x, an}, {eps});
        int32_t q = b.node(p + "q", "Linear", "ember", {h, wq});
        int32_t k = b.node(p + "k", "Linear", "ember", {h, wk});
        int32_t v = b.node(p + "v", "Linear", "ember", {h, wv});
        q = b.node(p + "q_rope", "Rotary", "ember", {q, pos}, rope);
        k = b.node(p + "k_rope", "Rotary", "ember", {k, pos}, rope);
        int32_t a = b.node(p + "attn", "CacheAttention", "ember", {q, k, v, kc, vc, pos},
                           {GraphBuilder::attr_int("layer", l), GraphBuilder::attr_int("heads", c.heads),
                            GraphBuilder::attr_int("kv_heads", c.kv_heads),
                            GraphBuilder::attr_int("head_dim", c.head_dim)});
        int32_t o = b.node(p + "attn_out", "Linear", "ember", {a, wo});
        x = b.node(p + "attn_residual", "Add", "", {x, o});
        h = b.node(p + "ffn_norm", "RMSNorm", "ember", {x, fn}, {eps});
        int32_t gate = b.node(p + "ffn_gate", "Linear", "ember", {h, w1});
        int32_t up = b.node(p + "ffn_up", "Linear", "ember", {h, w3});
        int32_t act = b.node(p + "ffn_swiglu", "SwiGLU", "ember", {gate, up});
        int32_t down = b.node(p + "ffn_down", "Linear", "ember", {act, w2});
        x = b.node(p + "ffn_residual", "Add", "", {x, down});
    }
    int32_t fnorm = b.weight("output_norm.weight", w.final_norm, {c.dim});
    int32_t h = b.node("output_norm", "RMSNorm", "ember", {x, fnorm}, {eps});
    int32_t cls = w.classifier.data ? b.weight("output.weight", w.classifier, {c.vocab, c.dim}) : embed;
    int32_t logits = b.node("logits", "Linear", "ember", {h, cls});
    Value &lv = g.values[logits];
    lv.has_shape = true;
    lv.shape = {-1, c.vocab};
    lv.dim_names = {"T", ""};
    g.outputs.push_back(logits);

    LmConfig cc = c;
    cc.tied = w.classifier.data == nullptr;
    lm_config_to_metadata(cc, &g);
    if (tok) tok->to_metadata(&g);
    // The config's special ids win over the tokenizer's defaults when both exist.
    g.metadata_set("lm.bos", std::to_string(c.bos));
    g.metadata_set("lm.eos", std::to_string(c.eos));
    g.metadata_set("producer", producer);
    g.metadata_set("output_kind", "logits");
    EMBER_RETURN_IF_ERROR(g.validate_and_sort());
    *out = std::move(g);
    return Status::OK();
}

}  // namespace ember
