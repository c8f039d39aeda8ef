// generate.cc — KV caches, feeding, sampling and the generation loop (generate.h).
#include "core/generate.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/kernels/llm_kernels.h"

namespace ember {

// ---------------------------------------------------------------------------------
// Sampler
// ---------------------------------------------------------------------------------

void Sampler::resize(int64_t vocab) {
    probs_.assign(static_cast<size_t>(vocab), 0.0f);
    idx_.assign(static_cast<size_t>(vocab), 0);
}

void Sampler::reset(const SamplerOptions &o) {
    o_ = o;
    uint64_t z = o.seed + 0x9E3779B97F4A7C15ull;  // splitmix64: any seed, a non-zero state
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    state_ = (z ^ (z >> 31)) | 1;
}

float Sampler::next_f32() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    uint32_t r = static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
    return static_cast<float>(r >> 8) / 16777216.0f;  // [0, 1)
}

int32_t Sampler::sample(const float *logits) {
    const int32_t n = static_cast<int32_t>(probs_.size());
    if (n == 0) return 0;
    if (!(o_.temperature > 0.0f) || o_.top_k == 1)  // the first maximum, as llama2.c's argmax
        return static_cast<int32_t>(llm_kernels().argmax(logits, n));
    // Softmax of logits / temperature (in double for the sum).
    float mx = logits[0];
    for (int32_t i = 1; i < n; i++) mx = std::max(mx, logits[i]);
    const float inv_t = 1.0f / o_.temperature;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        probs_[i] = std::exp((logits[i] - mx) * inv_t);
        sum += probs_[i];
    }
    for (int32_t i = 0; i < n; i++) probs_[i] = static_cast<float>(probs_[i] / sum);
    // Candidates, most likely first (ties: lower id first, so runs are reproducible).
    int32_t m = n;
    for (int32_t i = 0; i < n; i++) idx_[i] = i;
    auto more_likely = [&](int32_t a, int32_t b) {
        return probs_[a] > probs_[b] || (probs_[a] == probs_[b] && a < b);
    };
    const bool top_p = o_.top_p > 0.0f && o_.top_p < 1.0f;
    if (o_.top_k > 0 && o_.top_k < n) {
        m = o_.top_k;
        std::nth_element(idx_.begin(), idx_.begin() + (m - 1), idx_.begin() + n, more_likely);
        std::sort(idx_.begin(), idx_.begin() + m, more_likely);
    } else if (top_p) {
        // Tokens below (1 - top_p) / (n - 1) can never be needed (llama2.c's cutoff).
        const float cutoff = (1.0f - o_.top_p) / static_cast<float>(n - 1 > 0 ? n - 1 : 1);
        m = 0;
        for (int32_t i = 0; i < n; i++)
            if (probs_[i] >= cutoff) idx_[m++] = i;
        if (m == 0) {
            for (int32_t i = 0; i < n; i++) idx_[i] = i;
            m = n;
        }
        std::sort(idx_.begin(), idx_.begin() + m, more_likely);
    }
    double mass = 0.0;
    for (int32_t i = 0; i < m; i++) mass += probs_[idx_[i]];
    if (top_p) {
        // The smallest prefix whose share of the candidates' mass reaches top_p.
        double acc = 0.0;
        int32_t keep = m;
        for (int32_t i = 0; i < m; i++) {
            acc += probs_[idx_[i]];
            if (acc >= o_.top_p * mass) {
                keep = i + 1;
                break;
            }
        }
        m = keep;
        mass = acc;
    }
    const double r = static_cast<double>(next_f32()) * mass;
    double acc = 0.0;
    for (int32_t i = 0; i < m; i++) {
        acc += probs_[idx_[i]];
        if (r < acc) return idx_[i];
    }
    return idx_[m - 1];  // rounding
}

// ---------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------

namespace {

void bind_input(ember_tensor *t, DType dt, const Shape &shape, void *data, size_t bytes) {
    t->t.dtype = dt;
    t->t.shape = shape;
    t->t.data = data;
    t->owned = nullptr;
    t->capacity = bytes;
}

}  // namespace

Status lm_last_row_graph(const Graph &m, Graph *out) {
    int32_t logits = -1;
    for (int32_t o : m.outputs)
        if (m.values[o].name == "logits") logits = o;
    if (logits < 0) return errorf(EMBER_ERR_NOT_FOUND, "no graph output 'logits'");
    auto producer = [&](int32_t v) -> int32_t {
        for (size_t k = 0; k < m.nodes.size(); k++)
            for (int32_t o : m.nodes[k].outputs)
                if (o == v) return static_cast<int32_t>(k);
        return -1;
    };
    // logits = Classifier(RMSNorm(x, w), W): the classifier is ember.Linear (or a
    // quantised Linear of the same ember domain) whose row t depends on input row t only.
    const int32_t cls = producer(logits);
    if (cls < 0 || m.nodes[cls].domain != "ember" || m.nodes[cls].op_type.compare(0, 6, "Linear") != 0 ||
        !m.nodes[cls].has_input(0))
        return errorf(EMBER_ERR_NOT_FOUND, "'logits' is not produced by ember.Linear");
    const int32_t norm = producer(m.nodes[cls].inputs[0]);
    if (norm < 0 || m.nodes[norm].domain != "ember" || m.nodes[norm].op_type != "RMSNorm" ||
        !m.nodes[norm].has_input(0) || m.nodes[norm].outputs.size() != 1)
        return errorf(EMBER_ERR_NOT_FOUND, "the classifier's input is not an ember.RMSNorm");
    // The normalised rows feed nothing but the classifier (else the selection would change
    // another consumer's input).
    const int32_t h = m.nodes[norm].outputs[0];
    for (size_t k = 0; k < m.nodes.size(); k++)
        for (int32_t i : m.nodes[k].inputs)
            if (i == h && static_cast<int32_t>(k) != cls)
                return errorf(EMBER_ERR_NOT_FOUND, "the final norm has other consumers");
    for (int32_t o : m.outputs)
        if (o == h) return errorf(EMBER_ERR_NOT_FOUND, "the final norm is a graph output");

    Graph g;
    g.values = m.values;
    g.nodes = m.nodes;
    g.inputs = m.inputs;
    g.outputs = m.outputs;
    g.constants = m.constants;  // pointers into the model's mapping: nothing is copied
    g.opset = m.opset;
    const int64_t last = -1;
    const int32_t idx = g.add_constant("lm.last_row.index", DType::I64, {1}, &last, sizeof last);
    const int32_t row = g.add_value("lm.last_row", DType::F32);
    Node sel;
    sel.name = "lm.last_row";
    sel.op_type = "Gather";
    sel.inputs = {m.nodes[norm].inputs[0], idx};
    sel.outputs = {row};
    Attribute axis;
    axis.name = "axis";
    axis.type = AttrType::Int;
    axis.i = 0;
    sel.attrs.push_back(axis);
    g.nodes[norm].inputs[0] = row;
    // The rows after the selection are 1, not T.
    for (int32_t v : {h, logits}) {
        g.values[v].has_shape = false;
        g.values[v].shape.clear();
        g.values[v].dim_names.clear();
    }
    g.nodes.push_back(std::move(sel));
    EMBER_RETURN_IF_ERROR(g.validate_and_sort());
    *out = std::move(g);
    return Status::OK();
}

Status Generator::init(Session *session, int64_t context, bool all_logits) {
    s_ = session;
    variant_.reset();
    const Graph &g = session->model()->graph;
    EMBER_RETURN_IF_ERROR(lm_config_from_metadata(g, &cfg_));
    // The interface the importers build (formats/lm_import.cc).
    static const char *names[4] = {"tokens", "pos", "k_cache", "v_cache"};
    if (g.inputs.size() != 4 || g.outputs.empty())
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "not a language model: expected inputs tokens, pos, k_cache, v_cache and output logits");
    int slot[4] = {-1, -1, -1, -1};
    for (size_t k = 0; k < 4; k++)
        for (int j = 0; j < 4; j++)
            if (g.values[g.inputs[k]].name == names[j]) slot[j] = static_cast<int>(k);
    for (int j = 0; j < 4; j++)
        if (slot[j] < 0)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "not a language model: no graph input '%s'", names[j]);
    logits_output_ = g.outputs.size();
    for (size_t o = 0; o < g.outputs.size(); o++)
        if (g.values[g.outputs[o]].name == "logits") logits_output_ = o;
    if (logits_output_ == g.outputs.size())
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "not a language model: no graph output 'logits'");

    ctx_ = context > 0 ? context : cfg_.context;
    if (ctx_ <= 0 || ctx_ > kLmMaxContext)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "context %lld is outside [1, %lld]",
                      static_cast<long long>(ctx_), static_cast<long long>(kLmMaxContext));
    const size_t cache = static_cast<size_t>(cfg_.layers * ctx_ * cfg_.kv_dim());
    k_cache_.reset(static_cast<float *>(std::calloc(cache, sizeof(float))));
    v_cache_.reset(static_cast<float *>(std::calloc(cache, sizeof(float))));
    if (!k_cache_ || !v_cache_)
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate 2 x %zu bytes of key/value cache for a context of %lld",
                      cache * sizeof(float), static_cast<long long>(ctx_));
    logits_.assign(static_cast<size_t>(cfg_.vocab), 0.0f);
    tokens_.assign(static_cast<size_t>(std::min<int64_t>(ctx_, 512)), 0);  // grows for longer prompts
    history_.clear();
    history_.reserve(static_cast<size_t>(ctx_));
    const Shape cshape{cfg_.layers, ctx_, cfg_.kv_dim()};
    bind_input(&in_tokens_, DType::I64, {1}, tokens_.data(), tokens_.size() * sizeof(int64_t));
    bind_input(&in_pos_, DType::I64, {1}, &pos_value_, sizeof pos_value_);
    bind_input(&in_k_, DType::F32, cshape, k_cache_.get(), cache * sizeof(float));
    bind_input(&in_v_, DType::F32, cshape, v_cache_.get(), cache * sizeof(float));
    inputs_[slot[0]] = &in_tokens_;
    inputs_[slot[1]] = &in_pos_;
    inputs_[slot[2]] = &in_k_;
    inputs_[slot[3]] = &in_v_;

    Status ts = Tokenizer::from_metadata(g, &tok_);
    if (ts.ok()) {
        has_tok_ = true;
        if (tok_.size() != cfg_.vocab)
            return errorf(EMBER_ERR_FORMAT, "the tokenizer has %d tokens, the model %lld", tok_.size(),
                          static_cast<long long>(cfg_.vocab));
    } else if (ts.code() != EMBER_ERR_NOT_FOUND) {
        return ts;
    }
    if (!all_logits) {
        // Graphs this does not recognise (or cannot rewrite) keep the full path: all rows.
        Status vs = session->derived_graph("lm.last_row", lm_last_row_graph, &variant_);
        if (!vs.ok()) {
            variant_.reset();
            if (vs.code() == EMBER_ERR_OUT_OF_MEMORY) return vs;
        }
    }
    sampler_.resize(cfg_.vocab);
    sampler_.reset(SamplerOptions());
    pos_ = 0;
    have_logits_ = false;
    return Status::OK();
}

Status Generator::feed(const int32_t *ids, size_t n) {
    if (n == 0) return errorf(EMBER_ERR_INVALID_ARGUMENT, "no tokens to feed");
    if (!ids) return errorf(EMBER_ERR_INVALID_ARGUMENT, "ids is NULL");
    if (static_cast<int64_t>(n) > ctx_ - pos_)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "context overflow: %zu token(s) at position %lld do not fit the context of %lld "
                      "(truncate, or create the generator with a longer context)",
                      n, static_cast<long long>(pos_), static_cast<long long>(ctx_));
    if (n > tokens_.size()) {  // a long prompt: the only feed that may allocate
        tokens_.resize(n);
        in_tokens_.t.data = tokens_.data();
        in_tokens_.capacity = tokens_.size() * sizeof(int64_t);
    }
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= cfg_.vocab)
            return errorf(EMBER_ERR_INVALID_ARGUMENT, "token id %d at index %zu is outside the vocabulary of %lld",
                          ids[i], i, static_cast<long long>(cfg_.vocab));
        tokens_[i] = ids[i];
    }
    in_tokens_.t.shape[0] = static_cast<int64_t>(n);
    pos_value_ = pos_;
    EMBER_RETURN_IF_ERROR(s_->run(inputs_, 4, variant_));
    const ember_tensor *out = nullptr;
    EMBER_RETURN_IF_ERROR(s_->output(logits_output_, &out));
    const Tensor &t = out->t;
    const int64_t rows = variant_ ? 1 : static_cast<int64_t>(n);
    if (t.dtype != DType::F32 || t.rank() != 2 || t.shape[0] != rows || t.shape[1] != cfg_.vocab)
        return errorf(EMBER_ERR_INTERNAL, "logits have shape %s, expected [%lld, %lld]",
                      shape_str(t.shape).c_str(), static_cast<long long>(rows), static_cast<long long>(cfg_.vocab));
    std::memcpy(logits_.data(), t.as<const float>() + (rows - 1) * cfg_.vocab,
                static_cast<size_t>(cfg_.vocab) * sizeof(float));
    pos_ += static_cast<int64_t>(n);
    history_.insert(history_.end(), ids, ids + n);
    have_logits_ = true;
    return Status::OK();
}

Status Generator::truncate(int64_t pos) {
    if (pos < 0 || pos > pos_)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "cannot truncate to position %lld: the generator holds %lld token(s)",
                      static_cast<long long>(pos), static_cast<long long>(pos_));
    if (pos == pos_) return Status::OK();
    pos_ = pos;
    history_.resize(static_cast<size_t>(pos));
    have_logits_ = false;
    return Status::OK();
}

Status Generator::generate(const GenerateRequest &r, size_t *n_out, StopReason *why) {
    *n_out = 0;
    *why = StopReason::None;
    if (!have_logits_)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "no logits to sample from: feed at least one token (BOS, or the prompt) first");
    int64_t limit = r.max_tokens > 0 ? r.max_tokens : INT64_MAX;
    if (r.out) limit = std::min<int64_t>(limit, static_cast<int64_t>(r.out_capacity));
    size_t n = 0;
    for (;;) {
        if (static_cast<int64_t>(n) >= limit) {
            *why = StopReason::Length;
            break;
        }
        const int32_t tok = sampler_.sample(logits_.data());
        if (r.stop_at_eos && ((cfg_.eos >= 0 && tok == cfg_.eos) || (cfg_.bos >= 0 && tok == cfg_.bos))) {
            *why = StopReason::Eos;
            break;
        }
        if (r.out) r.out[n] = tok;
        n++;
        int32_t stop = 0;
        if (r.callback) {
            const char *piece = "";
            size_t len = 0;
            if (has_tok_) tok_.piece(history_.empty() ? -1 : history_.back(), tok, &piece, &len);
            stop = r.callback(r.user, tok, piece, len);
        }
        if (pos_ >= ctx_) {  // emitted, but there is no room to feed it
            *why = StopReason::Context;
            break;
        }
        Status st = feed(&tok, 1);
        if (!st.ok()) {
            *n_out = n;
            return st;
        }
        if (stop) {
            *why = StopReason::Callback;
            break;
        }
    }
    *n_out = n;
    return Status::OK();
}

}  // namespace ember
