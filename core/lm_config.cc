// lm_config.cc — lm.* metadata keys of a language model (lm_config.h).
#include "core/lm_config.h"

#include <cmath>
#include <cstdio>

#include "core/tokenizer.h"

namespace ember {

namespace {

std::string fmt_double(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

}  // namespace

Status lm_config_check(LmConfig *c, const char *what) {
    struct Limit {
        const char *name;
        int64_t v, max;
    } limits[] = {
        {"dim", c->dim, kLmMaxDim},          {"layers", c->layers, kLmMaxLayers},
        {"heads", c->heads, kLmMaxHeads},    {"kv_heads", c->kv_heads, kLmMaxHeads},
        {"hidden", c->hidden, 4 * kLmMaxDim}, {"vocab", c->vocab, kMaxVocab},
        {"context", c->context, kLmMaxContext},
    };
    for (const Limit &l : limits)
        if (l.v <= 0 || l.v > l.max)
            return errorf(EMBER_ERR_FORMAT, "%s: %s = %lld is outside [1, %lld]", what, l.name,
                          static_cast<long long>(l.v), static_cast<long long>(l.max));
    if (c->dim % c->heads != 0)
        return errorf(EMBER_ERR_FORMAT, "%s: dim %lld is not a multiple of heads %lld", what,
                      static_cast<long long>(c->dim), static_cast<long long>(c->heads));
    if (c->heads % c->kv_heads != 0)
        return errorf(EMBER_ERR_FORMAT, "%s: heads %lld is not a multiple of kv_heads %lld", what,
                      static_cast<long long>(c->heads), static_cast<long long>(c->kv_heads));
    int64_t hd = c->dim / c->heads;
    if (c->head_dim == 0) c->head_dim = hd;
    if (c->head_dim != hd)
        return errorf(EMBER_ERR_FORMAT, "%s: head_dim %lld is not dim / heads = %lld", what,
                      static_cast<long long>(c->head_dim), static_cast<long long>(hd));
    if (hd % 2 != 0)
        return errorf(EMBER_ERR_FORMAT, "%s: head_dim %lld is odd; rotary embedding rotates pairs",
                      what, static_cast<long long>(hd));
    if (!(c->rope_theta > 0) || !std::isfinite(c->rope_theta))
        return errorf(EMBER_ERR_FORMAT, "%s: rope_theta %g is not a positive number", what, c->rope_theta);
    if (!(c->norm_eps >= 0) || !std::isfinite(c->norm_eps) || c->norm_eps > 1)
        return errorf(EMBER_ERR_FORMAT, "%s: norm_eps %g is outside [0, 1]", what, c->norm_eps);
    if (c->bos < -1 || c->bos >= c->vocab || c->eos < -1 || c->eos >= c->vocab)
        return errorf(EMBER_ERR_FORMAT, "%s: bos %lld / eos %lld outside the vocabulary of %lld", what,
                      static_cast<long long>(c->bos), static_cast<long long>(c->eos),
                      static_cast<long long>(c->vocab));
    return Status::OK();
}

void lm_config_to_metadata(const LmConfig &c, Graph *g) {
    g->metadata_set("lm.arch", c.arch);
    g->metadata_set("lm.dim", std::to_string(c.dim));
    g->metadata_set("lm.layers", std::to_string(c.layers));
    g->metadata_set("lm.heads", std::to_string(c.heads));
    g->metadata_set("lm.kv_heads", std::to_string(c.kv_heads));
    g->metadata_set("lm.head_dim", std::to_string(c.head_dim));
    g->metadata_set("lm.hidden", std::to_string(c.hidden));
    g->metadata_set("lm.vocab", std::to_string(c.vocab));
    g->metadata_set("lm.context", std::to_string(c.context));
    g->metadata_set("lm.rope_theta", fmt_double(c.rope_theta));
    g->metadata_set("lm.norm_eps", fmt_double(c.norm_eps));
    g->metadata_set("lm.tied", c.tied ? "1" : "0");
    g->metadata_set("lm.bos", std::to_string(c.bos));
    g->metadata_set("lm.eos", std::to_string(c.eos));
}

Status lm_config_from_metadata(const Graph &g, LmConfig *out) {
    LmConfig c;
    if (!g.metadata_get("lm.layers"))
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "not a language model: the model has no 'lm.layers' metadata (convert a "
                      "llama2.c or GGUF checkpoint with ember convert)");
    struct Key {
        const char *key;
        int64_t *v;
    } keys[] = {{"lm.dim", &c.dim},       {"lm.layers", &c.layers}, {"lm.heads", &c.heads},
                {"lm.kv_heads", &c.kv_heads}, {"lm.hidden", &c.hidden}, {"lm.vocab", &c.vocab},
                {"lm.context", &c.context}};
    for (const Key &k : keys)
        if (!metadata_int(g, k.key, k.v))
            return errorf(EMBER_ERR_FORMAT, "language model metadata '%s' is missing or not an integer", k.key);
    int64_t v = 0;
    if (metadata_int(g, "lm.head_dim", &v)) c.head_dim = v;
    if (g.metadata_get("lm.rope_theta") && !metadata_float(g, "lm.rope_theta", &c.rope_theta))
        return errorf(EMBER_ERR_FORMAT, "language model metadata 'lm.rope_theta' is not a number");
    if (g.metadata_get("lm.norm_eps") && !metadata_float(g, "lm.norm_eps", &c.norm_eps))
        return errorf(EMBER_ERR_FORMAT, "language model metadata 'lm.norm_eps' is not a number");
    if (metadata_int(g, "lm.tied", &v)) c.tied = v != 0;
    if (metadata_int(g, "lm.bos", &v)) c.bos = v;
    if (metadata_int(g, "lm.eos", &v)) c.eos = v;
    if (const std::string *a = g.metadata_get("lm.arch")) c.arch = *a;
    EMBER_RETURN_IF_ERROR(lm_config_check(&c, "language model metadata"));
    *out = c;
    return Status::OK();
}

}  // namespace ember
