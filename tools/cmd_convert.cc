// `ember convert MODEL.onnx -o MODEL.ember`
#include <cstdio>
#include <string>

#include "formats/ember_format.h"
#include "formats/onnx_import.h"
#include "tools/commands.h"

int cmd_convert(int argc, char **argv) {
    std::string in, out;
    ember::ConvertOptions opts;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "-o" || a == "--output") && i + 1 < argc) {
            out = argv[++i];
        } else if (a == "--labels" && i + 1 < argc) {
            opts.labels_path = argv[++i];
        } else if ((a == "--preprocess" || a == "--preset") && i + 1 < argc) {
            opts.preprocess = argv[++i];
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
        fprintf(stderr, "usage: ember convert MODEL.onnx -o MODEL.ember [--labels FILE] [--preprocess SPEC]\n");
        return 2;
    }
    ember::Graph g;
    ember::Status st = ember::import_onnx_file(in, opts, &g);
    if (!st.ok()) {
        fprintf(stderr, "ember convert: %s: %s\n", in.c_str(), st.message().c_str());
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
    printf("converted %s -> %s: %zu nodes, %zu parameters\n", in.c_str(), out.c_str(),
           g.nodes.size(), params);
    return 0;
}
