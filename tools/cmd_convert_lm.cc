// `ember convert` for language models: llama2.c checkpoints (+ --tokenizer tokenizer.bin)
// and GGUF files (formats/lm_import.h). cmd_convert() calls this first; it returns -1
// when the input is not a language-model file, so ONNX conversion goes on as before.
//
//   ember convert stories260K.bin --tokenizer tok512.bin -o stories260K.ember [--context N]
//   ember convert stories260K-f32.gguf -o stories260K.ember [--context N]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "formats/ember_format.h"
#include "formats/lm_import.h"
#include "tools/commands.h"

namespace {

bool ends_with(const std::string &s, const char *suffix) {
    size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "gguf", "llama2c" or "" from the first bytes of `path` (and its name).
std::string sniff_file(const std::string &path, bool have_tokenizer) {
    uint8_t head[28] = {0};
    size_t got = 0;
    if (FILE *f = std::fopen(path.c_str(), "rb")) {
        got = std::fread(head, 1, sizeof head, f);
        std::fclose(f);
    }
    std::string kind = ember::lm_sniff(head, got);
    if (kind == "gguf") return kind;
    if (ends_with(path, ".gguf")) return "gguf";
    if (have_tokenizer || kind == "llama2c" || ends_with(path, ".bin")) return "llama2c";
    return "";
}

}  // namespace

int cmd_convert_lm(int argc, char **argv) {
    std::string in, out, tokenizer;
    ember::LmImportOptions opts;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        bool has_value = i + 1 < argc;
        if ((a == "-o" || a == "--output") && has_value) {
            out = argv[++i];
        } else if (a == "--tokenizer" && has_value) {
            tokenizer = argv[++i];
        } else if (a == "--context" && has_value) {
            char *end = nullptr;
            long long v = std::strtoll(argv[++i], &end, 10);
            if (!end || *end || v <= 0) {
                fprintf(stderr, "ember convert: --context must be a positive integer\n");
                return 2;
            }
            opts.context = v;
        } else if ((a == "--labels" || a == "--preset" || a == "--preprocess") && has_value) {
            i++;  // ONNX options: not ours
        } else if (!a.empty() && a[0] != '-' && in.empty()) {
            in = a;
        }
    }
    if (in.empty()) return -1;
    const std::string kind = sniff_file(in, !tokenizer.empty());
    if (kind.empty()) return -1;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--labels" || a == "--preset" || a == "--preprocess" || a == "--no-fold") {
            fprintf(stderr, "ember convert: %s applies to ONNX models, not to language models\n", a.c_str());
            return 2;
        }
    }
    if (out.empty()) {
        fprintf(stderr, "usage: ember convert MODEL.bin --tokenizer TOKENIZER.bin -o MODEL.ember [--context N]\n"
                        "       ember convert MODEL.gguf -o MODEL.ember [--context N]\n");
        return 2;
    }
    if (kind == "gguf" && !tokenizer.empty()) {
        fprintf(stderr, "ember convert: a GGUF file carries its own vocabulary; --tokenizer is for llama2.c\n");
        return 2;
    }
    ember::Graph g;
    ember::Status st = kind == "gguf" ? ember::import_gguf_file(in, opts, &g)
                                      : ember::import_llama2c_file(in, tokenizer, opts, &g);
    if (!st.ok()) {
        fprintf(stderr, "ember convert: %s: %s (%s)\n", in.c_str(), st.message().c_str(),
                ember_status_string(st.code()));
        return 1;
    }
    st = ember::write_ember_file(g, out);
    if (!st.ok()) {
        fprintf(stderr, "ember convert: %s: %s\n", out.c_str(), st.message().c_str());
        return 1;
    }
    size_t params = 0;
    for (const auto &v : g.values)
        if (v.constant >= 0) params += static_cast<size_t>(ember::shape_numel(v.shape));
    const std::string *layers = g.metadata_get("lm.layers");
    const std::string *vocab = g.metadata_get("lm.vocab");
    if (layers)
        printf("converted %s -> %s: language model, %s layers, vocabulary %s, %zu parameters, %zu nodes\n",
               in.c_str(), out.c_str(), layers->c_str(), vocab ? vocab->c_str() : "?", params, g.nodes.size());
    else
        printf("converted %s -> %s: tokenizer only, vocabulary %s\n", in.c_str(), out.c_str(),
               vocab ? vocab->c_str() : "?");
    return 0;
}
