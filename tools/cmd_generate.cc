// `ember generate MODEL.ember [--prompt TEXT] [-n N] [--temperature T] [--top-k K]
//  [--top-p P] [--seed S] [--threads T] [--spin-us US] [--context C] [--ignore-eos] [--json]`
//
// Streams the prompt and then each generated token's text to stdout as it comes (like
// llama2.c's run.c). Defaults follow run.c: 256 tokens, temperature 1.0, top-p 0.9;
// --temperature 0 is greedy. With --json the text is followed by a newline and one line
//   {"prompt_ids":[...],"ids":[...],"text":"...","stop":"eos","prefill_tok_s":...,"decode_tok_s":...}
// where ids are the generated ids only and text is the decoded prompt + generated ids.
// Timings go to stderr.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tools/commands.h"
#include "tools/lm_cli.h"

namespace {

int32_t stream_piece(void *, int32_t, const char *piece, size_t len) {
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

const char *stop_name(ember_stop_reason r) {
    switch (r) {
        case EMBER_STOP_LENGTH: return "length";
        case EMBER_STOP_EOS: return "eos";
        case EMBER_STOP_CONTEXT: return "context";
        case EMBER_STOP_CALLBACK: return "callback";
        default: return "none";
    }
}

void append_ids(std::string *out, const int32_t *ids, size_t n) {
    out->push_back('[');
    for (size_t i = 0; i < n; i++) {
        if (i) out->push_back(',');
        *out += std::to_string(ids[i]);
    }
    out->push_back(']');
}

}  // namespace

int cmd_generate(int argc, char **argv) {
    std::string path, prompt;
    long long n = 256, context = 0;
    int threads = 0, spin_us = 0;
    bool json = false, ignore_eos = false;
    ember_sampler_options so{};
    so.struct_size = sizeof so;
    so.temperature = 1.0f;
    so.top_p = 0.9f;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if (a == "--prompt" && v) prompt = argv[++i];
        else if ((a == "-n" || a == "--tokens") && v) n = atoll(argv[++i]);
        else if (a == "--temperature" && v) so.temperature = static_cast<float>(atof(argv[++i]));
        else if (a == "--top-k" && v) so.top_k = atoi(argv[++i]);
        else if (a == "--top-p" && v) so.top_p = static_cast<float>(atof(argv[++i]));
        else if (a == "--seed" && v) so.seed = strtoull(argv[++i], nullptr, 10);
        else if (a == "--threads" && v) threads = atoi(argv[++i]);
        else if (a == "--spin-us" && v) spin_us = atoi(argv[++i]);
        else if (a == "--context" && v) context = atoll(argv[++i]);
        else if (a == "--ignore-eos") ignore_eos = true;
        else if (a == "--json") json = true;
        else if (path.empty() && !a.empty() && a[0] != '-') path = a;
        else {
            fprintf(stderr, "ember generate: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (path.empty() || n < 0 || threads < 0 || context < 0 || spin_us < 0) {
        fprintf(stderr, "usage: ember generate MODEL.ember [--prompt TEXT] [-n N] [--temperature T] "
                        "[--top-k K] [--top-p P] [--seed S] [--threads T] [--spin-us US] [--context C] [--ignore-eos] [--json]\n");
        return 2;
    }
    LmHandles h;
    h.spin_us = spin_us;
    if (!h.open("ember generate", path, threads, context)) return 1;
    if (ember_generator_set_sampler(h.gen, &so) != EMBER_OK) {
        fprintf(stderr, "ember generate: %s\n", ember_last_error());
        return 2;
    }
    // The prompt: BOS + its tokens (run.c's encode(prompt, bos=1, eos=0)).
    std::vector<int32_t> prompt_ids(1);
    size_t n_prompt = 0;
    if (h.tok) {
        ember_status st = ember_tokenizer_encode(h.tok, prompt.data(), prompt.size(), EMBER_TOKENIZE_ADD_BOS,
                                                 nullptr, 0, &n_prompt);
        if (st == EMBER_ERR_BUFFER_TOO_SMALL) {
            prompt_ids.resize(n_prompt);
            st = ember_tokenizer_encode(h.tok, prompt.data(), prompt.size(), EMBER_TOKENIZE_ADD_BOS,
                                        prompt_ids.data(), prompt_ids.size(), &n_prompt);
        }
        if (st != EMBER_OK) {
            fprintf(stderr, "ember generate: %s\n", ember_last_error());
            return 1;
        }
    } else if (!prompt.empty()) {
        fprintf(stderr, "ember generate: the model has no tokenizer, so --prompt cannot be encoded\n");
        return 1;
    } else {
        const char *bos = nullptr;
        size_t len = 0;
        prompt_ids[0] = ember_model_metadata(h.model, "lm.bos", &bos, &len) == EMBER_OK ? atoi(bos) : 1;
        n_prompt = 1;
    }
    if (n_prompt == 0) {  // a vocabulary without BOS and an empty prompt
        fprintf(stderr, "ember generate: nothing to start from: give a --prompt\n");
        return 2;
    }
    prompt_ids.resize(n_prompt);
    if (h.tok) {
        size_t need = 0;
        ember_tokenizer_decode(h.tok, prompt_ids.data(), n_prompt, nullptr, 0, &need);
        std::string text(need + 1, '\0');
        size_t got = 0;
        if (ember_tokenizer_decode(h.tok, prompt_ids.data(), n_prompt, &text[0], text.size(), &got) == EMBER_OK)
            fwrite(text.data(), 1, got, stdout);
        fflush(stdout);
    }
    double t0 = lm_now_s();
    if (ember_generator_feed(h.gen, prompt_ids.data(), n_prompt) != EMBER_OK) {
        fprintf(stderr, "\nember generate: %s\n", ember_last_error());
        return 1;
    }
    double t1 = lm_now_s();
    int64_t ctx = 0;
    ember_generator_position(h.gen, nullptr, &ctx);
    std::vector<int32_t> ids(static_cast<size_t>(n > 0 ? n : ctx));
    ember_generate_options go{};
    go.struct_size = sizeof go;
    go.max_tokens = n > 0 ? n : 0;
    go.ignore_eos = ignore_eos ? 1 : 0;
    go.callback = h.tok ? stream_piece : nullptr;
    size_t n_ids = 0;
    ember_stop_reason why = EMBER_STOP_NONE;
    ember_status st = ember_generator_generate(h.gen, &go, ids.data(), ids.size(), &n_ids, &why);
    double t2 = lm_now_s();
    printf("\n");
    if (st != EMBER_OK) {
        fprintf(stderr, "ember generate: %s\n", ember_last_error());
        return 1;
    }
    const double prefill_tok_s = t1 > t0 ? n_prompt / (t1 - t0) : 0.0;
    const double decode_tok_s = t2 > t1 && n_ids ? n_ids / (t2 - t1) : 0.0;
    fprintf(stderr, "prefill: %zu tokens, %.1f tok/s; decode: %zu tokens, %.1f tok/s; stop: %s\n", n_prompt,
            prefill_tok_s, n_ids, decode_tok_s, stop_name(why));
    if (json) {
        std::string j = "{\"prompt_ids\":";
        append_ids(&j, prompt_ids.data(), n_prompt);
        j += ",\"ids\":";
        append_ids(&j, ids.data(), n_ids);
        if (h.tok) {
            std::vector<int32_t> all(prompt_ids);
            all.insert(all.end(), ids.begin(), ids.begin() + static_cast<long>(n_ids));
            size_t need = 0;
            ember_tokenizer_decode(h.tok, all.data(), all.size(), nullptr, 0, &need);
            std::string text(need + 1, '\0');
            size_t got = 0;
            if (ember_tokenizer_decode(h.tok, all.data(), all.size(), &text[0], text.size(), &got) != EMBER_OK)
                got = 0;
            j += ",\"text\":";
            json_append_string(&j, text.data(), got);
        }
        char buf[160];
        snprintf(buf, sizeof buf, ",\"stop\":\"%s\",\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}", stop_name(why),
                 prefill_tok_s, decode_tok_s);
        j += buf;
        printf("%s\n", j.c_str());
    }
    return 0;
}
