// `ember info MODEL.ember [--graph]`
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "core/runtime.h"
#include "formats/ember_format.h"
#include "tools/commands.h"

namespace {

std::string value_str(const ember::Value &v) {
    std::string s = std::string(ember::dtype_name(v.dtype));
    if (!v.has_shape) return s + "[?]";
    s += "[";
    for (size_t d = 0; d < v.shape.size(); d++) {
        if (d) s += ",";
        if (v.shape[d] >= 0)
            s += std::to_string(v.shape[d]);
        else
            s += d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : "?";
    }
    return s + "]";
}

}  // namespace

int cmd_info(int argc, char **argv) {
    std::string path;
    bool graph_lines = false;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--graph") graph_lines = true;
        else if (path.empty() && a[0] != '-') path = a;
        else {
            fprintf(stderr, "ember info: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (path.empty()) {
        fprintf(stderr, "usage: ember info MODEL.ember [--graph]\n");
        return 2;
    }
    std::unique_ptr<ember::ModelBytes> bytes;
    ember::Status st = ember::ModelBytes::map_file(path, false, &bytes);
    ember::Graph g;
    ember::FileLayout layout;
    if (st.ok()) st = ember::read_ember(bytes->data(), bytes->size(), ember::ReadOptions(), &g, &layout);
    if (!st.ok()) {
        fprintf(stderr, "ember info: %s: %s\n", path.c_str(), st.message().c_str());
        return 1;
    }
    printf("file: %s (%llu bytes, format %u.%u)\n", path.c_str(),
           static_cast<unsigned long long>(layout.file_size), layout.version_major, layout.version_minor);
    printf("inputs:\n");
    for (int32_t id : g.inputs) printf("  %s: %s\n", g.values[id].name.c_str(), value_str(g.values[id]).c_str());
    printf("outputs:\n");
    for (int32_t id : g.outputs) printf("  %s: %s\n", g.values[id].name.c_str(), value_str(g.values[id]).c_str());
    std::map<std::string, int> ops;
    for (const auto &n : g.nodes) ops[n.op_type]++;
    printf("nodes: %zu\n", g.nodes.size());
    for (const auto &kv : ops) printf("  %-24s %d\n", kv.first.c_str(), kv.second);
    size_t params = 0, bytes_total = 0;
    for (const auto &v : g.values) {
        if (v.constant < 0) continue;
        params += static_cast<size_t>(ember::shape_numel(v.shape));
        bytes_total += g.constants[v.constant].nbytes;
    }
    printf("parameters: %zu (%zu bytes in %zu tensors)\n", params, bytes_total, g.constants.size());
    // Block-quantised weights (ember quantize, GGUF Q8_0/Q4_0): tensors and bytes per type.
    std::map<std::string, std::pair<size_t, size_t>> by_type;
    bool blocks = false;
    for (const auto &v : g.values) {
        if (v.constant < 0) continue;
        blocks |= ember::dtype_is_block(v.dtype);
        auto &e = by_type[ember::dtype_name(v.dtype)];
        e.first++;
        e.second += g.constants[v.constant].nbytes;
    }
    if (blocks) {
        printf("weights by type:\n");
        for (const auto &kv : by_type)
            printf("  %-10s %zu tensors, %zu bytes\n", kv.first.c_str(), kv.second.first, kv.second.second);
    }
    printf("metadata:\n");
    for (const auto &kv : g.metadata) {
        std::string v = kv.second;
        size_t lines = 0;
        for (char c : v) lines += c == '\n';
        if (v.size() > 80 || lines > 0)
            printf("  %s: (%zu bytes, %zu lines) %s...\n", kv.first.c_str(), v.size(), lines + 1,
                   v.substr(0, v.find('\n') == std::string::npos ? 40 : std::min<size_t>(40, v.find('\n'))).c_str());
        else
            printf("  %s: %s\n", kv.first.c_str(), v.c_str());
    }
    printf("layout:\n");
    for (const auto &s : layout.sections)
        printf("  %-10s offset 0x%08llx size %10llu crc32c %08x\n", s.name.c_str(),
               static_cast<unsigned long long>(s.offset), static_cast<unsigned long long>(s.size), s.checksum);
    if (graph_lines) {
        printf("graph:\n");
        for (const auto &n : g.nodes) {
            std::string line = "  " + n.name + " = " + n.op_type + "(";
            for (size_t i = 0; i < n.inputs.size(); i++) {
                if (i) line += ", ";
                line += n.inputs[i] < 0 ? "-" : g.values[n.inputs[i]].name;
            }
            line += ") -> ";
            for (size_t o = 0; o < n.outputs.size(); o++) {
                if (o) line += ", ";
                line += n.outputs[o] < 0 ? "-" : g.values[n.outputs[o]].name + ":" + value_str(g.values[n.outputs[o]]);
            }
            printf("%s\n", line.c_str());
        }
    }
    return 0;
}
