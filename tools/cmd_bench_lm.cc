// `ember bench-lm MODEL.ember [--prompt-len P] [--gen N] [--threads T] [--runs R] [--json]`
//
// Prefill and decode speed of a language model: a fixed pseudo-random prompt of P tokens
// is fed in one batched run (prefill tok/s = P / time), then N tokens are generated
// greedily without stopping at EOS (decode tok/s = N / time; each token is one T = 1
// run). One warm-up pass builds both plans; the figures are the medians of R runs.
// Figures, not a test (docs/language-models.md lists the measured ones).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tools/commands.h"
#include "tools/lm_cli.h"

namespace {

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int cmd_bench_lm(int argc, char **argv) {
    std::string path;
    long long prompt_len = 32, gen = 64;
    int threads = 1, runs = 3;
    bool json = false;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if (a == "--prompt-len" && v) prompt_len = atoll(argv[++i]);
        else if (a == "--gen" && v) gen = atoll(argv[++i]);
        else if (a == "--threads" && v) threads = atoi(argv[++i]);
        else if (a == "--runs" && v) runs = atoi(argv[++i]);
        else if (a == "--json") json = true;
        else if (path.empty() && !a.empty() && a[0] != '-') path = a;
        else {
            fprintf(stderr, "ember bench-lm: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (path.empty() || prompt_len < 1 || gen < 1 || threads < 0 || runs < 1) {
        fprintf(stderr, "usage: ember bench-lm MODEL.ember [--prompt-len P] [--gen N] [--threads T] [--runs R] [--json]\n");
        return 2;
    }
    LmHandles h;
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
    if (json) {
        printf("{\"model\":\"%s\",\"threads\":%d,\"prompt_len\":%lld,\"gen\":%lld,\"runs\":%d,"
               "\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}\n",
               path.c_str(), used, prompt_len, gen, runs, p, d);
    } else {
        printf("%s: %d thread(s), prompt %lld, generate %lld, median of %d runs\n", path.c_str(), used, prompt_len,
               gen, runs);
        printf("  prefill %10.1f tok/s\n  decode  %10.1f tok/s\n", p, d);
    }
    return 0;
}
