// `ember convert MODEL.onnx -o MODEL.ember [--labels FILE] [--preset NAME] [--preprocess SPEC]`
#include <cstdio>
#include <string>

#include "core/preprocess.h"
#include "formats/ember_format.h"
#include "formats/onnx_import.h"
#include "tools/commands.h"

namespace {

// Follows output 0 back through ops that only move or reshape data and reports whether
// a Softmax made it: "probabilities", "logits" for another classifier-shaped output (one
// dimension besides the batch above 1), or "" (not a classifier: no metadata).
std::string output_kind(const ember::Graph &g) {
    if (g.outputs.empty()) return "";
    int32_t v = g.outputs[0];
    for (int hops = 0; hops < 16; hops++) {
        const ember::Node *producer = nullptr;
        for (const auto &n : g.nodes)
            for (int32_t o : n.outputs)
                if (o == v) producer = &n;
        if (!producer) break;
        const std::string &op = producer->op_type;
        if (op == "Softmax") return "probabilities";
        bool passthrough = op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
                           op == "Unsqueeze" || op == "Identity" || op == "Dropout";
        if (!passthrough || producer->inputs.empty()) break;
        v = producer->inputs[0];
    }
    const ember::Value &out = g.values[g.outputs[0]];
    if (!out.has_shape || out.shape.empty()) return "";
    int big = 0;
    for (size_t d = 1; d < out.shape.size(); d++) big += out.shape[d] != 1;
    return big == 1 ? "logits" : "";
}

// Checks the preprocessing spec against graph input 0; "" when it fits.
std::string check_spec_fits(const ember::Graph &g, const ember::PreprocessSpec &spec) {
    if (g.inputs.empty()) return "the model has no inputs";
    const ember::Value &in = g.values[g.inputs[0]];
    if (!in.has_shape) return "";
    int32_t w = -1, h = -1;
    ember::preprocess_fixed_output_size(spec, &w, &h);
    ember::Status st = ember::preprocess_check_tensor(spec, in.shape, in.dtype, w, h,
                                                      "input '" + in.name + "'");
    return st.ok() ? "" : st.message();
}

}  // namespace

int cmd_convert(int argc, char **argv) {
    // llama2.c and GGUF language models (tools/cmd_convert_lm.cc); -1: not one of them.
    int lm = cmd_convert_lm(argc, argv);
    if (lm >= 0) return lm;
    std::string in, out, preset, spec_text;
    ember::ConvertOptions opts;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "-o" || a == "--output") && i + 1 < argc) {
            out = argv[++i];
        } else if (a == "--labels" && i + 1 < argc) {
            opts.labels_path = argv[++i];
        } else if (a == "--preset" && i + 1 < argc) {
            preset = argv[++i];
        } else if (a == "--preprocess" && i + 1 < argc) {
            spec_text = argv[++i];
        } else if (a == "--no-fold") {
            opts.fold_constants = false;
        } else if (!a.empty() && a[0] != '-' && in.empty()) {
            in = a;
        } else {
            fprintf(stderr, "ember convert: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (in.empty() || out.empty()) {
        fprintf(stderr, "usage: ember convert MODEL.onnx -o MODEL.ember [--labels FILE] "
                        "[--preset NAME] [--preprocess SPEC]\n"
                        "       ember convert MODEL.bin|MODEL.gguf [--tokenizer TOK.bin] -o MODEL.ember\n");
        return 2;
    }
    // --preset NAME, --preprocess SPEC, or both (the spec then overrides the preset's keys).
    if (!preset.empty() && !ember::preprocess_preset(preset)) {
        fprintf(stderr, "ember convert: --preset '%s' is not a preset (presets: %s)\n",
                preset.c_str(), ember::preprocess_preset_names());
        return 2;
    }
    opts.preprocess = preset.empty() ? spec_text
                                     : (spec_text.empty() ? preset : preset + ";" + spec_text);
    ember::PreprocessSpec spec;
    if (!opts.preprocess.empty()) {
        ember::Status ps = ember::parse_preprocess_spec(opts.preprocess, &spec);
        if (!ps.ok()) {
            fprintf(stderr, "ember convert: '%s': %s\n", opts.preprocess.c_str(),
                    ps.message().c_str());
            return 2;
        }
    }
    ember::Graph g;
    ember::Status st = ember::import_onnx_file(in, opts, &g);
    if (!st.ok()) {
        fprintf(stderr, "ember convert: %s: %s\n", in.c_str(), st.message().c_str());
        return 1;
    }
    if (!opts.preprocess.empty()) {
        std::string bad = check_spec_fits(g, spec);
        if (!bad.empty()) {
            fprintf(stderr, "ember convert: preprocessing '%s' does not fit the model: %s\n",
                    opts.preprocess.c_str(), bad.c_str());
            return 1;
        }
    }
    std::string kind = output_kind(g);
    if (!kind.empty()) g.metadata_set("output_kind", kind);
    st = ember::write_ember_file(g, out);
    if (!st.ok()) {
        fprintf(stderr, "ember convert: %s: %s\n", out.c_str(), st.message().c_str());
        return 1;
    }
    size_t params = 0;
    for (const auto &v : g.values)
        if (v.constant >= 0) params += static_cast<size_t>(ember::shape_numel(v.shape));
    printf("converted %s -> %s: %zu nodes, %zu parameters\n", in.c_str(), out.c_str(),
           g.nodes.size(), params);
    return 0;
}
