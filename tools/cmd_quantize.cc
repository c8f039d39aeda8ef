// `ember quantize IN.ember -o OUT.ember --type q8_0|q4_0 [--plain] [--prompt TEXT]
//  [--steps N] [--threads T]`
//
// Stores a language model's weight matrices as Q8_0 or Q4_0 blocks (core/kernels/llm_quant.h):
// every constant read only as ember.Linear's W or as Gather's table (the projections, the
// token embedding, a separate classifier) whose rows are whole 32-weight blocks. A matrix
// whose row width is not a multiple of 32 (stories260K's feed-forward down projection,
// K = 172) keeps its float32 storage: a per-tensor fallback, printed as such. Norm weights
// and everything else stay as they are. The matrices are written with their rows
// interleaved by 8 (q8_0x8 / q4_0x8, same size; the decode kernels' layout) unless --plain
// asks for GGML's row order.
//
// Then it runs both models greedily on a fixed prompt (BOS + "Once upon a time" by
// default) and prints the drift: the largest |logit difference| over the steps both
// models still share a history, and the number of greedy tokens before they diverge.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/kernels/llm_quant.h"
#include "core/runtime.h"
#include "formats/ember_format.h"
#include "tools/commands.h"
#include "tools/lm_cli.h"

namespace {

using ember::DType;

// Which constants may be stored as blocks: all their readers accept blocks (Linear's W,
// Gather's table along axis 0) and there is at least one.
std::vector<char> block_candidates(const ember::Graph &g) {
    std::vector<int> ok(g.values.size(), 0), bad(g.values.size(), 0);
    for (const ember::Node &n : g.nodes)
        for (size_t i = 0; i < n.inputs.size(); i++) {
            const int32_t id = n.inputs[i];
            if (id < 0 || g.values[id].constant < 0) continue;
            const bool allowed =
                (n.domain == "ember" && n.op_type == "Linear" && i == 1) ||
                (n.domain.empty() && n.op_type == "Gather" && i == 0 && n.attr_int("axis", 0) == 0);
            (allowed ? ok : bad)[id]++;
        }
    for (int32_t id : g.outputs) bad[id]++;
    std::vector<char> out(g.values.size(), 0);
    for (size_t v = 0; v < g.values.size(); v++) out[v] = ok[v] > 0 && bad[v] == 0;
    return out;
}

struct Drift {
    double max_abs = 0.0;    // largest |logit difference| over the shared steps
    double max_logit = 0.0;  // largest |logit| of the float32 model there (for scale)
    int steps = 0;           // greedy steps run
    int same = 0;            // greedy tokens equal before the first difference
    bool diverged = false;
};

bool greedy(ember_generator *g, int32_t *tok) {
    if (ember_generator_sample(g, tok) != EMBER_OK) {
        fprintf(stderr, "ember quantize: %s\n", ember_last_error());
        return false;
    }
    return true;
}

// Both models fed the same prompt, then greedy in lockstep while their tokens agree.
bool measure_drift(LmHandles &a, LmHandles &b, const std::vector<int32_t> &prompt, int steps,
                   Drift *d) {
    if (ember_generator_feed(a.gen, prompt.data(), prompt.size()) != EMBER_OK ||
        ember_generator_feed(b.gen, prompt.data(), prompt.size()) != EMBER_OK) {
        fprintf(stderr, "ember quantize: %s\n", ember_last_error());
        return false;
    }
    int64_t ctx = 0;
    ember_generator_position(a.gen, nullptr, &ctx);
    for (int s = 0; s < steps && static_cast<int64_t>(prompt.size()) + s < ctx; s++) {
        const float *la = nullptr, *lb = nullptr;
        size_t na = 0, nb = 0;
        if (ember_generator_logits(a.gen, &la, &na) != EMBER_OK ||
            ember_generator_logits(b.gen, &lb, &nb) != EMBER_OK || na != nb) {
            fprintf(stderr, "ember quantize: cannot read the logits: %s\n", ember_last_error());
            return false;
        }
        for (size_t j = 0; j < na; j++) {
            d->max_abs = std::max(d->max_abs, std::fabs(static_cast<double>(la[j]) - lb[j]));
            d->max_logit = std::max(d->max_logit, std::fabs(static_cast<double>(la[j])));
        }
        int32_t ta = 0, tb = 0;
        if (!greedy(a.gen, &ta) || !greedy(b.gen, &tb)) return false;
        d->steps++;
        if (ta != tb) {
            d->diverged = true;
            break;
        }
        d->same++;
        if (ember_generator_feed(a.gen, &ta, 1) != EMBER_OK ||
            ember_generator_feed(b.gen, &tb, 1) != EMBER_OK) {
            fprintf(stderr, "ember quantize: %s\n", ember_last_error());
            return false;
        }
    }
    return true;
}

void usage() {
    fprintf(
        stderr,
        "usage: ember quantize IN.ember -o OUT.ember --type q8_0|q4_0 [--plain] [--prompt TEXT] "
        "[--steps N] [--threads T]\n"
        "  --plain  GGML's row order (default: rows interleaved by 8, q8_0x8 / q4_0x8)\n");
}

}  // namespace

int cmd_quantize(int argc, char **argv) {
    std::string in, out, type, prompt = "Once upon a time";
    int steps = 64, threads = 1;
    bool plain = false;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if (a == "-o" && v)
            out = argv[++i];
        else if (a == "--type" && v)
            type = argv[++i];
        else if (a == "--prompt" && v)
            prompt = argv[++i];
        else if (a == "--steps" && v)
            steps = atoi(argv[++i]);
        else if (a == "--threads" && v)
            threads = atoi(argv[++i]);
        else if (a == "--plain")
            plain = true;
        else if (in.empty() && !a.empty() && a[0] != '-')
            in = a;
        else {
            fprintf(stderr, "ember quantize: unexpected argument '%s'\n", a.c_str());
            usage();
            return 2;
        }
    }
    DType qt;
    if (type == "q8_0")
        qt = DType::Q8_0;
    else if (type == "q4_0")
        qt = DType::Q4_0;
    else {
        if (!type.empty())
            fprintf(stderr, "ember quantize: unknown --type '%s' (q8_0 or q4_0)\n", type.c_str());
        usage();
        return 2;
    }
    if (in.empty() || out.empty() || steps < 0 || threads < 0) {
        usage();
        return 2;
    }

    std::unique_ptr<ember::ModelBytes> bytes;
    ember::Graph g;
    ember::Status st = ember::ModelBytes::map_file(in, false, &bytes);
    if (st.ok())
        st = ember::read_ember(bytes->data(), bytes->size(), ember::ReadOptions(), &g, nullptr);
    if (!st.ok()) {
        fprintf(stderr, "ember quantize: %s: %s\n", in.c_str(), st.message().c_str());
        return 1;
    }
    if (g.nodes.empty()) {
        fprintf(stderr, "ember quantize: %s has no graph (a tokenizer-only model?)\n", in.c_str());
        return 1;
    }
    const std::vector<char> cand = block_candidates(g);
    size_t bytes_in = 0, bytes_out = 0;
    int n_quant = 0, n_kept = 0;
    printf("%-28s %-14s %-9s %s\n", "tensor", "shape", "type", "bytes");
    for (size_t v = 0; v < g.values.size(); v++) {
        ember::Value &val = g.values[v];
        if (val.constant < 0) continue;
        ember::ConstData &c = g.constants[val.constant];
        bytes_in += c.nbytes;
        if (!cand[v]) {
            bytes_out += c.nbytes;
            continue;
        }
        const std::string shape = ember::shape_str(val.shape);
        if (val.dtype != DType::F32 || val.shape.size() != 2 ||
            val.shape[1] % ember::kQuantBlock != 0) {
            std::string why =
                val.dtype != DType::F32 ? std::string("stored as ") + ember::dtype_name(val.dtype)
                : val.shape.size() != 2
                    ? std::string("not a matrix")
                    : "rows of " + std::to_string(val.shape.back()) + " are not whole blocks of 32";
            printf("%-28s %-14s %-9s %zu (kept: %s)\n", val.name.c_str(), shape.c_str(),
                   ember::dtype_name(val.dtype), c.nbytes, why.c_str());
            bytes_out += c.nbytes;
            n_kept++;
            continue;
        }
        const int64_t n = ember::shape_numel(val.shape);
        auto q = std::make_shared<std::vector<uint8_t>>(ember::dtype_storage_bytes(qt, n));
        ember::quantize_blocks(qt, reinterpret_cast<const float *>(c.data), n, q->data());
        // Matrices are stored with their rows interleaved by 8 (q8_0x8, q4_0x8), the
        // layout the matrix-vector kernels stream fastest (core/kernels/llm_quant.h).
        DType st_type = qt;
        if (!plain) {
            auto x8 = std::make_shared<std::vector<uint8_t>>(q->size());
            ember::x8_pack(qt, q->data(), val.shape[0], val.shape[1], x8->data());
            q = x8;
            st_type = qt == DType::Q4_0 ? DType::Q4_0X8 : DType::Q8_0X8;
        }
        c.owned = q;
        c.data = q->data();
        c.nbytes = q->size();
        val.dtype = st_type;
        printf("%-28s %-14s %-9s %zu\n", val.name.c_str(), shape.c_str(),
               ember::dtype_name(st_type), c.nbytes);
        bytes_out += c.nbytes;
        n_quant++;
    }
    if (n_quant == 0) {
        fprintf(stderr, "ember quantize: %s has no weight matrix that can be stored as %s\n",
                in.c_str(), type.c_str());
        return 1;
    }
    g.metadata_set("lm.quantized", type);
    st = ember::write_ember_file(g, out);
    if (!st.ok()) {
        fprintf(stderr, "ember quantize: %s: %s\n", out.c_str(), st.message().c_str());
        return 1;
    }
    printf("%d tensor(s) %s, %d kept; constants %zu -> %zu bytes (%.2fx); wrote %s\n", n_quant,
           type.c_str(), n_kept, bytes_in, bytes_out,
           bytes_out ? static_cast<double>(bytes_in) / static_cast<double>(bytes_out) : 0.0,
           out.c_str());
    if (steps == 0) return 0;

    // Drift against the float32 model.
    LmHandles a, b;
    if (!a.open("ember quantize", in, threads, 0) || !b.open("ember quantize", out, threads, 0))
        return 1;
    std::vector<int32_t> ids(4096);
    size_t n_ids = 0;
    if (a.tok) {
        if (ember_tokenizer_encode(a.tok, prompt.c_str(), prompt.size(), EMBER_TOKENIZE_ADD_BOS,
                                   ids.data(), ids.size(), &n_ids) != EMBER_OK) {
            fprintf(stderr, "ember quantize: %s\n", ember_last_error());
            return 1;
        }
    } else {
        const std::string *bos = g.metadata_get("lm.bos");
        ids[0] = bos ? atoi(bos->c_str()) : 1;
        n_ids = 1;
        prompt = "(BOS only: no tokenizer)";
    }
    ids.resize(n_ids);
    Drift d;
    if (!measure_drift(a, b, ids, steps, &d)) return 1;
    printf(
        "drift on \"%s\" (%zu prompt tokens), %d greedy steps: max |logit difference| %.4g "
        "(largest |logit| %.4g); ",
        prompt.c_str(), ids.size(), d.steps, d.max_abs, d.max_logit);
    if (d.diverged)
        printf("greedy tokens equal for %d step(s), then diverge\n", d.same);
    else
        printf("greedy tokens equal for all %d step(s)\n", d.same);
    return 0;
}
