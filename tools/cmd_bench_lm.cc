// `ember bench-lm MODEL.ember [--prompt-len P] [--gen N] [--threads T] [--runs R] [--json]
//                             [--profile] [--copy-on-load] [--spin-us US]`
//
// Prefill and decode speed of a language model: a fixed pseudo-random prompt of P tokens
// is fed in one batched run (prefill tok/s = P / time), then N tokens are generated
// greedily without stopping at EOS (decode tok/s = N / time; each token is one T = 1
// run). One warm-up pass builds both plans; the figures are the medians of R runs, and
// the best run's (`*_best`: the least disturbed on a shared machine).
// --copy-on-load: the model is read into memory (ember_model_options.copy_on_load), which
// for large files asks for transparent huge pages (core/runtime.cc), instead of mmap'd.
// --spin-us US: ember_runtime_options.spin_us (idle workers poll for US microseconds before
// sleeping; default 0).
// --profile: per operator type, the decode step's time per token (the session's step
// timings of the one-token plan), and what is left outside the kernels (session run,
// sampling, the generator).
// Figures, not a test (docs/language-models.md lists the measured ones).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "api/handles.h"
#include "tools/commands.h"
#include "tools/lm_cli.h"

namespace {

// Weight bytes one decode step reads: every ember.Linear weight whole (the classifier
// too, tied or not), one row of a constant Gather table (the embedding), the norm
// weights. Each constant once. This is the numerator of the memory-bandwidth bound
// (tools/bench_lm.sh): bytes per token x tokens per second / bandwidth.
double decode_weight_bytes(const ember::Graph &g) {
    std::vector<double> bytes(g.constants.size(), 0.0);
    for (const ember::Node &n : g.nodes) {
        const bool linear = n.domain == "ember" && n.op_type == "Linear";
        const bool norm = n.domain == "ember" && n.op_type == "RMSNorm";
        const bool gather = n.domain.empty() && n.op_type == "Gather";
        for (size_t i = 0; i < n.inputs.size(); i++) {
            const int32_t id = n.inputs[i];
            if (id < 0 || g.values[id].constant < 0) continue;
            const int32_t c = g.values[id].constant;
            const double all = static_cast<double>(g.constants[c].nbytes);
            if ((linear && i == 1) || (norm && i == 1)) {
                bytes[c] = all;
            } else if (gather && i == 0 && !g.values[id].shape.empty() && g.values[id].shape[0] > 0) {
                bytes[c] = std::max(bytes[c], all / static_cast<double>(g.values[id].shape[0]));
            }
        }
    }
    double total = 0.0;
    for (double b : bytes) total += b;
    return total;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int cmd_bench_lm(int argc, char **argv) {
    std::string path;
    long long prompt_len = 32, gen = 64;
    int threads = 1, runs = 3, spin_us = 0;
    bool json = false, profile = false, copy = false;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if (a == "--prompt-len" && v) prompt_len = atoll(argv[++i]);
        else if (a == "--gen" && v) gen = atoll(argv[++i]);
        else if (a == "--threads" && v) threads = atoi(argv[++i]);
        else if (a == "--runs" && v) runs = atoi(argv[++i]);
        else if (a == "--json") json = true;
        else if (a == "--profile") profile = true;
        else if (a == "--copy-on-load") copy = true;
        else if (a == "--spin-us" && v) spin_us = atoi(argv[++i]);
        else if (path.empty() && !a.empty() && a[0] != '-') path = a;
        else {
            fprintf(stderr, "ember bench-lm: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (path.empty() || prompt_len < 1 || gen < 1 || threads < 0 || runs < 1 || spin_us < 0) {
        fprintf(stderr, "usage: ember bench-lm MODEL.ember [--prompt-len P] [--gen N] [--threads T] [--runs R] [--json] [--profile]\n"
                "                      [--copy-on-load] [--spin-us US]\n");
        return 2;
    }
    LmHandles h;
    h.profile = profile;
    h.copy_on_load = copy;
    h.spin_us = spin_us;
    if (!h.open("ember bench-lm", path, threads, 0)) return 1;
    int64_t ctx = 0;
    ember_generator_position(h.gen, nullptr, &ctx);
    if (prompt_len + gen > ctx) {
        fprintf(stderr, "ember bench-lm: %lld + %lld tokens do not fit the model's context of %lld\n", prompt_len, gen,
                static_cast<long long>(ctx));
        return 2;
    }
    const float *logits = nullptr;
    size_t vocab = 0;
    const char *v = nullptr;
    size_t vlen = 0;
    if (ember_model_metadata(h.model, "lm.vocab", &v, &vlen) == EMBER_OK) vocab = static_cast<size_t>(atoll(v));
    if (vocab < 4) {
        fprintf(stderr, "ember bench-lm: the model's vocabulary is too small\n");
        return 1;
    }
    // A fixed prompt of ordinary tokens (ids 3.. skip <unk>, <s>, </s>).
    std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
    uint32_t x = 12345;
    for (auto &t : prompt) {
        x = x * 1664525u + 1013904223u;
        t = static_cast<int32_t>(3 + (x >> 8) % (vocab - 3));
    }
    ember_generate_options go{};
    go.struct_size = sizeof go;
    go.max_tokens = gen;
    go.ignore_eos = 1;
    std::vector<int32_t> out(static_cast<size_t>(gen));
    std::vector<double> prefill, decode;
    for (int r = -1; r < runs; r++) {  // r = -1: warm-up (plans both shapes)
        ember_generator_truncate(h.gen, 0);
        double t0 = lm_now_s();
        if (ember_generator_feed(h.gen, prompt.data(), prompt.size()) != EMBER_OK) {
            fprintf(stderr, "ember bench-lm: %s\n", ember_last_error());
            return 1;
        }
        double t1 = lm_now_s();
        size_t n = 0;
        ember_stop_reason why;
        if (ember_generator_generate(h.gen, &go, out.data(), out.size(), &n, &why) != EMBER_OK) {
            fprintf(stderr, "ember bench-lm: %s\n", ember_last_error());
            return 1;
        }
        double t2 = lm_now_s();
        if (r < 0) continue;
        prefill.push_back(prompt_len / (t1 - t0));
        decode.push_back(static_cast<double>(n) / (t2 - t1));
    }
    (void)logits;
    int32_t used = 0;
    ember_runtime_num_threads(h.rt, &used);
    const double p = median(prefill), d = median(decode);
    const double wbytes = decode_weight_bytes(h.model->m.graph);
    const double pb = *std::max_element(prefill.begin(), prefill.end());
    const double db = *std::max_element(decode.begin(), decode.end());
    if (json) {
        printf("{\"model\":\"%s\",\"threads\":%d,\"prompt_len\":%lld,\"gen\":%lld,\"runs\":%d,"
               "\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f,\"prefill_tok_s_best\":%.2f,\"decode_tok_s_best\":%.2f,"
               "\"weight_bytes_per_token\":%.0f}\n",
               path.c_str(), used, prompt_len, gen, runs, p, d, pb, db, wbytes);
    } else {
        printf("%s: %d thread(s), prompt %lld, generate %lld, median (best) of %d runs\n", path.c_str(), used,
               prompt_len, gen, runs);
        printf("  prefill %10.1f tok/s (%.1f)\n  decode  %10.1f tok/s (%.1f), %.1f MB of weights per token\n", p, pb,
               d, db, wbytes / 1e6);
    }
    if (profile) {
        // The current plan is the one-token step's: its timings cover the warm-up's and
        // every run's decode steps (calls of the first step = tokens decoded).
        size_t steps = 0;
        if (ember_session_profile_count(h.session, &steps) != EMBER_OK) {
            fprintf(stderr, "ember bench-lm: %s\n", ember_last_error());
            return 1;
        }
        std::map<std::string, std::pair<double, int64_t>> by_op;  // ms, steps per token
        double total = 0.0;
        int64_t tokens = 0;
        for (size_t i = 0; i < steps; i++) {
            const char *name, *op, *backend;
            int64_t nodes, calls;
            double ms;
            if (ember_session_profile(h.session, i, &name, &op, &backend, &nodes, &ms, &calls) != EMBER_OK) continue;
            if (i == 0) tokens = calls;
            by_op[op].first += ms;
            by_op[op].second++;
            total += ms;
        }
        if (tokens > 0) {
            const double step_ms = 1000.0 / d;
            printf("decode step profile (%lld tokens; %zu steps; ms per token):\n", static_cast<long long>(tokens),
                   steps);
            for (const auto &e : by_op)
                printf("  %-16s %4lld x  %9.4f ms\n", e.first.c_str(), static_cast<long long>(e.second.second),
                       e.second.first / static_cast<double>(tokens));
            printf("  %-16s        %9.4f ms\n  %-16s        %9.4f ms (median step %.4f ms, not timed per step)\n",
                   "kernels", total / static_cast<double>(tokens), "outside kernels",
                   step_ms - total / static_cast<double>(tokens), step_ms);
        }
    }
    return 0;
}
