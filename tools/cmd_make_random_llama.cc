// `ember make-random-llama -o OUT.bin [--preset 15M|42M|110M|tinyllama] [--dim D]
//  [--hidden F] [--layers L] [--heads H] [--kv-heads K] [--vocab V] [--seq-len S]
//  [--untied] [--seed S]`
//
// Writes a llama2.c "version 0" checkpoint with seeded random weights in the given
// shapes, for timing models that cannot be downloaded here (docs/language-models.md):
// weights uniform in +-1/sqrt(fan_in), norms 1, the legacy RoPE tables included. The
// same seed gives the same bytes. Convert it with the Llama-2 tokenizer.bin when vocab
// is 32000: ember convert OUT.bin --tokenizer tokenizer.bin -o OUT.ember
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tools/commands.h"

namespace {

struct Shape {
    long long dim, hidden, layers, heads, kv_heads, vocab, seq_len;
    bool tied;
};

bool preset(const std::string &name, Shape *s) {
    if (name == "15M") *s = {288, 768, 6, 6, 6, 32000, 256, true};
    else if (name == "42M") *s = {512, 1376, 8, 8, 8, 32000, 1024, true};
    else if (name == "110M") *s = {768, 2048, 12, 12, 12, 32000, 1024, true};
    else if (name == "tinyllama") *s = {2048, 5632, 22, 32, 4, 32000, 2048, false};
    else return false;
    return true;
}

class Writer {
public:
    Writer(FILE *f, uint64_t seed) : f_(f), state_(seed * 2654435761ull + 0x9E3779B97F4A7C15ull) {
        if (state_ == 0) state_ = 1;
        buf_.reserve(1 << 16);
    }
    void uniform(long long n, float bound) {
        for (long long i = 0; i < n; i++) {
            state_ ^= state_ >> 12;
            state_ ^= state_ << 25;
            state_ ^= state_ >> 27;
            uint32_t r = static_cast<uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 40);  // 24 bits
            put((static_cast<float>(r) / 8388608.0f - 1.0f) * bound);
        }
    }
    void constant(long long n, float v) {
        for (long long i = 0; i < n; i++) put(v);
    }
    bool finish() {
        flush();
        return ok_;
    }

private:
    void put(float v) {
        buf_.push_back(v);
        if (buf_.size() == buf_.capacity()) flush();
    }
    void flush() {
        if (!buf_.empty() && std::fwrite(buf_.data(), sizeof(float), buf_.size(), f_) != buf_.size()) ok_ = false;
        buf_.clear();
    }
    FILE *f_;
    uint64_t state_;
    std::vector<float> buf_;
    bool ok_ = true;
};

}  // namespace

int cmd_make_random_llama(int argc, char **argv) {
    Shape s;
    preset("15M", &s);
    std::string out;
    uint64_t seed = 1;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool v = i + 1 < argc;
        if ((a == "-o" || a == "--output") && v) out = argv[++i];
        else if (a == "--preset" && v) {
            if (!preset(argv[++i], &s)) {
                fprintf(stderr, "ember make-random-llama: unknown preset '%s' (15M, 42M, 110M, tinyllama)\n", argv[i]);
                return 2;
            }
        } else if (a == "--dim" && v) s.dim = atoll(argv[++i]);
        else if (a == "--hidden" && v) s.hidden = atoll(argv[++i]);
        else if (a == "--layers" && v) s.layers = atoll(argv[++i]);
        else if (a == "--heads" && v) s.heads = atoll(argv[++i]);
        else if (a == "--kv-heads" && v) s.kv_heads = atoll(argv[++i]);
        else if (a == "--vocab" && v) s.vocab = atoll(argv[++i]);
        else if (a == "--seq-len" && v) s.seq_len = atoll(argv[++i]);
        else if (a == "--untied") s.tied = false;
        else if (a == "--seed" && v) seed = strtoull(argv[++i], nullptr, 10);
        else {
            fprintf(stderr, "ember make-random-llama: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    const long long lim = 1 << 20;
    bool bad = out.empty() || s.dim <= 0 || s.dim > lim || s.hidden <= 0 || s.hidden > lim || s.layers <= 0 ||
               s.layers > 1024 || s.heads <= 0 || s.kv_heads <= 0 || s.vocab <= 0 || s.vocab > (1 << 22) ||
               s.seq_len <= 0 || s.seq_len > lim || s.dim % s.heads || s.heads % s.kv_heads || (s.dim / s.heads) % 2;
    if (bad) {
        fprintf(stderr, "usage: ember make-random-llama -o OUT.bin [--preset 15M|42M|110M|tinyllama] [--dim D] "
                        "[--hidden F] [--layers L] [--heads H] [--kv-heads K] [--vocab V] [--seq-len S] "
                        "[--untied] [--seed S]\n(dim divisible by heads, heads by kv-heads, even head size)\n");
        return 2;
    }
    FILE *f = std::fopen(out.c_str(), "wb");
    if (!f) {
        perror(out.c_str());
        return 1;
    }
    const long long d = s.dim, hd = s.dim / s.heads, kvd = s.kv_heads * hd, L = s.layers, F = s.hidden;
    int32_t header[7] = {static_cast<int32_t>(d), static_cast<int32_t>(F), static_cast<int32_t>(L),
                         static_cast<int32_t>(s.heads), static_cast<int32_t>(s.kv_heads),
                         static_cast<int32_t>(s.tied ? s.vocab : -s.vocab), static_cast<int32_t>(s.seq_len)};
    bool ok = std::fwrite(header, sizeof header, 1, f) == 1;
    Writer w(f, seed);
    const float bd = 1.0f / std::sqrt(static_cast<float>(d)), bf = 1.0f / std::sqrt(static_cast<float>(F));
    w.uniform(s.vocab * d, 1.0f);      // token embedding
    w.constant(L * d, 1.0f);           // rms_att
    w.uniform(L * d * d, bd);          // wq
    w.uniform(L * kvd * d, bd);        // wk
    w.uniform(L * kvd * d, bd);        // wv
    w.uniform(L * d * d, bd);          // wo
    w.constant(L * d, 1.0f);           // rms_ffn
    w.uniform(L * F * d, bd);          // w1
    w.uniform(L * d * F, bf);          // w2
    w.uniform(L * F * d, bd);          // w3
    w.constant(d, 1.0f);               // rms_final
    w.constant(s.seq_len * hd, 0.0f);  // legacy freq_cis_real / imag
    if (!s.tied) w.uniform(s.vocab * d, bd);
    ok = w.finish() && ok;
    ok = std::fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "ember make-random-llama: writing %s failed\n", out.c_str());
        return 1;
    }
    long long params = s.vocab * d * (s.tied ? 1 : 2) + L * (2 * d + 2 * d * d + 2 * kvd * d + 3 * F * d) + d;
    printf("wrote %s: dim %lld, hidden %lld, layers %lld, heads %lld/%lld, vocab %lld%s, seq_len %lld, %lld parameters\n",
           out.c_str(), d, F, L, s.heads, s.kv_heads, s.vocab, s.tied ? "" : " (untied)", s.seq_len, params);
    return 0;
}
