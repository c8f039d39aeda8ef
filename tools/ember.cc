// ember — the command-line tool: convert, inspect, run and benchmark models.
#include <cstdio>
#include <cstring>
#include <string>

#include "api/ember.h"
#include "tools/commands.h"

namespace {

void usage(FILE *f) {
    fprintf(f,
            "ember %s — an embeddable inference runtime\n"
            "usage:\n"
            "  ember convert MODEL.onnx -o MODEL.ember [--labels FILE] [--preprocess SPEC]\n"
            "  ember convert MODEL.bin --tokenizer TOK.bin -o MODEL.ember   (llama2.c; or MODEL.gguf)\n"
            "  ember generate MODEL.ember [--prompt TEXT] [-n N] [--temperature T] [--top-k K]\n"
            "                 [--top-p P] [--seed S] [--threads T] [--json]\n"
            "  ember bench-lm MODEL.ember [--prompt-len P] [--gen N] [--threads T] [--json]\n"
            "  ember quantize IN.ember -o OUT.ember --type q8_0|q4_0 [--prompt TEXT] [--steps N]\n"
            "  ember make-random-llama -o OUT.bin [--dim D --layers L --heads H --kv-heads K\n"
            "                 --hidden F --vocab V --seq-len S --seed S]\n"
            "  ember bench-mem [--size-mib N] [--threads LIST] [--passes P] [--json]\n"
            "  ember info MODEL.ember [--graph]\n"
            "  ember run MODEL.ember -i FILE [-i FILE...] [-o DIR] [--top K] [--threads T] [--backend LIST]\n"
            "  ember bench MODEL.ember [--threads T] [--batch N] [--runs R] [--json] [--backend LIST]\n"
            "  ember conformance [--tier tier1] [--backend LIST] PATH...\n"
            "  ember plugins [--load PATH]...\n"
            "  ember plugin-check PLUGIN.so [PATH...]\n"
            "Inputs are .npy files, or raw little-endian .bin files with a .json sidecar\n"
            "({\"dtype\": \"float32\", \"shape\": [1,3,224,224]}). Outputs are written as .npy.\n",
            ember_version());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string cmd = argv[1];
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
        usage(stdout);
        return 0;
    }
    if (cmd == "--version") {
        printf("ember %s (C ABI %u)\n", ember_version(), ember_api_version());
        return 0;
    }
    if (cmd == "convert") return cmd_convert(argc - 2, argv + 2);
    if (cmd == "info") return cmd_info(argc - 2, argv + 2);
    if (cmd == "run") return cmd_run(argc - 2, argv + 2);
    if (cmd == "bench") return cmd_bench(argc - 2, argv + 2);
    if (cmd == "conformance") return cmd_conformance(argc - 2, argv + 2);
    if (cmd == "plugins") return cmd_plugins(argc - 2, argv + 2);
    if (cmd == "plugin-check") return cmd_plugin_check(argc - 2, argv + 2);
    if (cmd == "generate") return cmd_generate(argc - 2, argv + 2);
    if (cmd == "bench-lm") return cmd_bench_lm(argc - 2, argv + 2);
    if (cmd == "make-random-llama") return cmd_make_random_llama(argc - 2, argv + 2);
    if (cmd == "quantize") return cmd_quantize(argc - 2, argv + 2);
    if (cmd == "bench-mem") return cmd_bench_mem(argc - 2, argv + 2);
    fprintf(stderr, "ember: unknown command '%s'\n", cmd.c_str());
    usage(stderr);
    return 2;
}
