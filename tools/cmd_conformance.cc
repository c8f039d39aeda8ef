// `ember conformance PATH...`: converts each ONNX backend test case, runs it through the
// public C API and compares every output with the rule of shared/conformance/README.md.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/ember.h"
#include "core/dtype.h"
#include "formats/ember_format.h"
#include "formats/onnx_import.h"
#include "tools/commands.h"
#include "tools/tensor_io.h"

namespace {

using tools::HostTensor;

constexpr double kRtol = 1e-3, kAtol = 1e-4;

enum class Verdict { Pass, Fail, Skip };

struct Options {
    std::string backends = "auto";
    std::string tier;   // "" = all cases; "tier1" = only those index.tsv marks tier1
    bool verbose = false;
    bool list_passes = false;
};

void find_cases(const std::string &path, std::vector<std::string> *out) {
    if (tools::file_exists(path + "/model.onnx")) {
        out->push_back(path);
        return;
    }
    for (const std::string &n : tools::list_dir(path)) {
        std::string p = path + "/" + n;
        if (tools::is_dir(p)) find_cases(p, out);
    }
}

// Reads index.tsv from `dir` or one of its parents: case path -> tier.
void load_tiers(const std::string &start, std::map<std::string, std::string> *tiers,
                std::string *root) {
    std::string dir = start;
    for (int up = 0; up < 4; up++) {
        std::string tsv;
        if (tools::read_file(dir + "/index.tsv", &tsv)) {
            *root = dir;
            size_t pos = 0;
            while (pos < tsv.size()) {
                size_t e = tsv.find('\n', pos);
                if (e == std::string::npos) e = tsv.size();
                std::string line = tsv.substr(pos, e - pos);
                pos = e + 1;
                std::vector<std::string> cols;
                size_t a = 0;
                while (true) {
                    size_t t = line.find('\t', a);
                    cols.push_back(line.substr(a, t == std::string::npos ? std::string::npos : t - a));
                    if (t == std::string::npos) break;
                    a = t + 1;
                }
                if (cols.size() > 4) (*tiers)[cols[0]] = cols[4];
            }
            return;
        }
        dir += "/..";
    }
}

double element(const HostTensor &t, size_t i) {
    const uint8_t *p = t.data.data();
    switch (t.dtype) {
        case EMBER_DTYPE_FLOAT32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
        case EMBER_DTYPE_FLOAT64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
        case EMBER_DTYPE_FLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return ember::half_to_float(v); }
        case EMBER_DTYPE_BFLOAT16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return ember::bf16_to_float(v); }
        default: return 0;
    }
}

bool is_float(ember_dtype t) {
    return t == EMBER_DTYPE_FLOAT32 || t == EMBER_DTYPE_FLOAT64 || t == EMBER_DTYPE_FLOAT16 ||
           t == EMBER_DTYPE_BFLOAT16;
}

std::string int_element(ember_dtype t, const uint8_t *p) {
    char buf[64];
    switch (t) {
        case EMBER_DTYPE_INT8: snprintf(buf, sizeof buf, "%d", *reinterpret_cast<const int8_t *>(p)); break;
        case EMBER_DTYPE_UINT8: case EMBER_DTYPE_BOOL: snprintf(buf, sizeof buf, "%u", *p); break;
        case EMBER_DTYPE_INT16: { int16_t v; memcpy(&v, p, 2); snprintf(buf, sizeof buf, "%d", v); break; }
        case EMBER_DTYPE_UINT16: { uint16_t v; memcpy(&v, p, 2); snprintf(buf, sizeof buf, "%u", v); break; }
        case EMBER_DTYPE_INT32: { int32_t v; memcpy(&v, p, 4); snprintf(buf, sizeof buf, "%d", v); break; }
        case EMBER_DTYPE_UINT32: { uint32_t v; memcpy(&v, p, 4); snprintf(buf, sizeof buf, "%u", v); break; }
        case EMBER_DTYPE_INT64: { int64_t v; memcpy(&v, p, 8); snprintf(buf, sizeof buf, "%lld", (long long)v); break; }
        case EMBER_DTYPE_UINT64: { uint64_t v; memcpy(&v, p, 8); snprintf(buf, sizeof buf, "%llu", (unsigned long long)v); break; }
        default: snprintf(buf, sizeof buf, "?");
    }
    return buf;
}

std::string dims_str(const std::vector<int64_t> &d) {
    std::string s = "[";
    for (size_t i = 0; i < d.size(); i++) s += (i ? "," : "") + std::to_string(d[i]);
    return s + "]";
}

// Compares one output; on mismatch fills `why`.
bool compare(const HostTensor &want, const ember_tensor *got, std::string *why) {
    ember_dtype gt = ember_tensor_dtype(got);
    std::vector<int64_t> gd(ember_tensor_dims(got), ember_tensor_dims(got) + ember_tensor_rank(got));
    if (gt != want.dtype) {
        *why = std::string("dtype ") + ember_dtype_name(gt) + ", expected " + ember_dtype_name(want.dtype);
        return false;
    }
    if (gd != want.dims) {
        *why = "shape " + dims_str(gd) + ", expected " + dims_str(want.dims);
        return false;
    }
    HostTensor g;
    g.dtype = gt;
    const uint8_t *gp = static_cast<const uint8_t *>(ember_tensor_data_const(got));
    g.data.assign(gp, gp + ember_tensor_size_bytes(got));
    size_t esize = ember_dtype_size(gt);
    size_t n = esize ? want.data.size() / esize : 0;
    if (is_float(gt)) {
        double worst = -1;
        size_t worst_i = 0;
        bool bad = false;
        for (size_t i = 0; i < n; i++) {
            double e = element(want, i), a = element(g, i);
            bool ok;
            double err;
            if (std::isnan(e)) {
                ok = std::isnan(a);
                err = ok ? 0 : INFINITY;
            } else if (std::isinf(e)) {
                ok = a == e;
                err = ok ? 0 : INFINITY;
            } else {
                err = std::fabs(a - e) - (kAtol + kRtol * std::fabs(e));
                ok = !std::isnan(a) && err <= 0;
                if (std::isnan(a)) err = INFINITY;
            }
            if (!ok) bad = true;
            if (!ok && (err > worst || worst < 0)) {
                worst = err;
                worst_i = i;
            }
        }
        if (bad) {
            char buf[256];
            snprintf(buf, sizeof buf, "worst element %zu: expected %.9g, got %.9g", worst_i,
                     element(want, worst_i), element(g, worst_i));
            *why = buf;
            return false;
        }
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (memcmp(want.data.data() + i * esize, g.data.data() + i * esize, esize) != 0) {
            *why = "element " + std::to_string(i) + ": expected " +
                   int_element(gt, want.data.data() + i * esize) + ", got " +
                   int_element(gt, g.data.data() + i * esize);
            return false;
        }
    }
    return true;
}

struct Placement {
    size_t placed = 0, total = 0;
};

// Runs one case on `backends`. When `cpu_out` is given, also compares every output with
// the built-in kernels' (the caller's earlier cpu run, stored there when empty).
Verdict run_case(ember_runtime *rt, const std::string &dir, std::string *msg,
                 const char *backends = "auto", Placement *placement = nullptr,
                 const std::string &plugin_name = "", std::vector<HostTensor> *cpu_out = nullptr) {
    ember::ConvertOptions copts;
    ember::Graph graph;
    ember::Status st = ember::import_onnx_file(dir + "/model.onnx", copts, &graph);
    if (!st.ok()) {
        *msg = std::string("convert: ") + st.message();
        return st.code() == EMBER_ERR_UNSUPPORTED ? Verdict::Skip : Verdict::Fail;
    }
    std::vector<uint8_t> bytes;
    st = ember::write_ember(graph, &bytes);
    if (!st.ok()) {
        *msg = "write: " + st.message();
        return Verdict::Fail;
    }
    ember_model *model = nullptr;
    if (ember_model_load_memory(rt, bytes.data(), bytes.size(), nullptr, &model) != EMBER_OK) {
        *msg = std::string("load: ") + ember_last_error();
        return Verdict::Fail;
    }
    std::unique_ptr<ember_model, void (*)(ember_model *)> model_guard(
        model, [](ember_model *m) { ember_model_release(m); });
    ember_session *session = nullptr;
    ember_session_options so{};
    so.struct_size = sizeof so;
    so.backends = backends;
    ember_status s = ember_session_create(model, &so, &session);
    if (s != EMBER_OK) {
        *msg = std::string("session: ") + ember_last_error();
        return s == EMBER_ERR_UNSUPPORTED ? Verdict::Skip : Verdict::Fail;
    }
    std::unique_ptr<ember_session, void (*)(ember_session *)> session_guard(session, ember_session_release);
    size_t n_in = 0, n_out = 0;
    ember_model_input_count(model, &n_in);
    ember_model_output_count(model, &n_out);
    std::vector<HostTensor> inputs(n_in);
    std::vector<ember_tensor *> tensors(n_in, nullptr);
    struct Releaser {
        std::vector<ember_tensor *> *v;
        ~Releaser() { for (auto *t : *v) ember_tensor_release(t); }
    } rel{&tensors};
    for (size_t k = 0; k < n_in; k++) {
        std::string err;
        if (!tools::read_tensor_file(dir + "/inputs/" + std::to_string(k) + ".bin", &inputs[k], &err)) {
            *msg = "input " + std::to_string(k) + ": " + err;
            return Verdict::Fail;
        }
        if (ember_tensor_wrap(inputs[k].dtype, inputs[k].dims.data(), inputs[k].dims.size(),
                              inputs[k].data.data(), inputs[k].data.size(), &tensors[k]) != EMBER_OK) {
            *msg = std::string("input tensor: ") + ember_last_error();
            return Verdict::Fail;
        }
    }
    s = ember_session_run(session, tensors.data(), n_in);
    if (s != EMBER_OK) {
        *msg = std::string("run: ") + ember_last_error();
        return s == EMBER_ERR_UNSUPPORTED ? Verdict::Skip : Verdict::Fail;
    }
    bool ok = true;
    if (placement) {
        size_t nn = 0;
        ember_session_node_count(session, &nn);
        for (size_t i = 0; i < nn; i++) {
            const char *name, *op, *backend;
            ember_session_node_info(session, i, &name, &op, &backend);
            if (strcmp(backend, "constant") == 0) continue;
            placement->total++;
            placement->placed += plugin_name == backend;
        }
    }
    if (cpu_out) {
        if (cpu_out->empty()) {
            for (size_t k = 0; k < n_out; k++) {
                const ember_tensor *got = nullptr;
                ember_session_output(session, k, &got);
                HostTensor h;
                h.dtype = ember_tensor_dtype(got);
                h.dims.assign(ember_tensor_dims(got), ember_tensor_dims(got) + ember_tensor_rank(got));
                const uint8_t *p = static_cast<const uint8_t *>(ember_tensor_data_const(got));
                h.data.assign(p, p + ember_tensor_size_bytes(got));
                cpu_out->push_back(std::move(h));
            }
        } else {
            for (size_t k = 0; k < n_out && k < cpu_out->size(); k++) {
                const ember_tensor *got = nullptr;
                ember_session_output(session, k, &got);
                std::string why;
                if (!compare((*cpu_out)[k], got, &why)) {
                    *msg += "output " + std::to_string(k) + " differs from the built-in kernels: " + why + "; ";
                    ok = false;
                }
            }
        }
    }
    for (size_t k = 0;; k++) {
        std::string path = dir + "/outputs/" + std::to_string(k) + ".bin";
        if (!tools::file_exists(path)) {
            if (k != n_out) {
                *msg += "the case has " + std::to_string(k) + " outputs, the model " +
                        std::to_string(n_out) + "; ";
                ok = false;
            }
            break;
        }
        HostTensor want;
        std::string err;
        if (!tools::read_tensor_file(path, &want, &err)) {
            *msg += "output " + std::to_string(k) + ": " + err + "; ";
            ok = false;
            continue;
        }
        const ember_tensor *got = nullptr;
        if (k >= n_out || ember_session_output(session, k, &got) != EMBER_OK) {
            *msg += "output " + std::to_string(k) + " missing; ";
            ok = false;
            continue;
        }
        std::string why;
        if (!compare(want, got, &why)) {
            *msg += "output " + std::to_string(k) + " ('" + want.name + "'): " + why + "; ";
            ok = false;
        }
    }
    return ok ? Verdict::Pass : Verdict::Fail;
}

}  // namespace

int cmd_conformance(int argc, char **argv) {
    Options opt;
    std::vector<std::string> paths;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--tier" && i + 1 < argc) {
            opt.tier = argv[++i];
        } else if (a == "--backend" && i + 1 < argc) {
            opt.backends = argv[++i];
        } else if (a == "--verbose" || a == "-v") {
            opt.verbose = true;
        } else if (a == "--help" || a == "-h") {
            printf("usage: ember conformance [--tier tier1|tier2] [--backend LIST] [-v] PATH...\n"
                   "  PATH: a case folder (model.onnx, inputs/, outputs/) or a folder searched\n"
                   "  recursively. --tier keeps only the cases index.tsv assigns to that tier.\n");
            return 0;
        } else {
            paths.push_back(a);
        }
    }
    if (paths.empty()) {
        fprintf(stderr, "ember conformance: give at least one PATH (see --help)\n");
        return 2;
    }
    ember_runtime *rt = nullptr;
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = 1;
    ro.log_level = EMBER_LOG_ERROR;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK) {
        fprintf(stderr, "ember conformance: %s\n", ember_last_error());
        return 1;
    }
    int passed = 0, failed = 0, skipped = 0;
    std::map<std::string, int> skip_reasons;
    for (const std::string &p : paths) {
        std::vector<std::string> cases;
        find_cases(p, &cases);
        std::map<std::string, std::string> tiers;
        std::string root;
        if (!opt.tier.empty()) load_tiers(cases.empty() ? p : cases[0] + "/..", &tiers, &root);
        for (const std::string &c : cases) {
            if (!opt.tier.empty()) {
                // index.tsv keys are "suite/case" relative to the corpus root.
                size_t s2 = c.rfind('/');
                size_t s1 = s2 == std::string::npos ? std::string::npos : c.rfind('/', s2 - 1);
                std::string key = s1 == std::string::npos ? c : c.substr(s1 + 1);
                auto it = tiers.find(key);
                if (it == tiers.end() || it->second != opt.tier) continue;
            }
            std::string msg;
            Verdict v = run_case(rt, c, &msg, opt.backends.c_str());
            if (v == Verdict::Pass) {
                passed++;
                if (opt.verbose) printf("pass %s\n", c.c_str());
            } else if (v == Verdict::Fail) {
                failed++;
                printf("FAIL %s: %s\n", c.c_str(), msg.c_str());
            } else {
                skipped++;
                printf("skip %s: %s\n", c.c_str(), msg.c_str());
            }
            fflush(stdout);
        }
    }
    ember_runtime_release(rt);
    printf("conformance: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

// `ember plugin-check PLUGIN.so [PATH...]`: the plugin conformance kit. Loads the plugin,
// puts it first in the backend list and runs the conformance cases through it, comparing
// every output with the expected one and with the built-in kernels on the same inputs.
int cmd_plugin_check(int argc, char **argv) {
    std::string plugin;
    std::vector<std::string> paths;
    std::string tier = "tier1";
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--tier" && i + 1 < argc) tier = argv[++i];
        else if (a == "--all") tier.clear();
        else if (plugin.empty()) plugin = a;
        else paths.push_back(a);
    }
    if (plugin.empty()) {
        fprintf(stderr, "usage: ember plugin-check PLUGIN.so [--tier tier1|--all] [PATH...]\n"
                        "  default PATH: $EMBER_SHARED_DIR/conformance (or ../shared/conformance)\n");
        return 2;
    }
    if (paths.empty()) {
        const char *sd = getenv("EMBER_SHARED_DIR");
        paths.push_back(std::string(sd && *sd ? sd : "../shared") + "/conformance");
    }
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = 1;
    ro.log_level = EMBER_LOG_ERROR;
    ro.disable_plugin_discovery = 1;
    ember_runtime *rt = nullptr;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK) {
        fprintf(stderr, "plugin-check: %s\n", ember_last_error());
        return 1;
    }
    if (ember_runtime_load_plugin(rt, plugin.c_str()) != EMBER_OK) {
        fprintf(stderr, "plugin-check: %s\n", ember_last_error());
        ember_runtime_release(rt);
        return 1;
    }
    ember_plugin_info info{};
    info.struct_size = sizeof info;
    ember_runtime_plugin_info(rt, 0, &info);
    std::string name = info.name;
    std::string backends = name + ",cpu";
    printf("plugin-check: %s (plugin '%s' %s, %d device(s))\n", plugin.c_str(), info.name, info.version,
           info.device_count);
    int passed = 0, failed = 0, skipped = 0;
    Placement placement;
    for (const std::string &p : paths) {
        std::vector<std::string> cases;
        find_cases(p, &cases);
        std::map<std::string, std::string> tiers;
        std::string root;
        if (!tier.empty()) load_tiers(cases.empty() ? p : cases[0] + "/..", &tiers, &root);
        for (const std::string &c : cases) {
            if (!tier.empty()) {
                size_t s2 = c.rfind('/');
                size_t s1 = s2 == std::string::npos ? std::string::npos : c.rfind('/', s2 - 1);
                auto it = tiers.find(s1 == std::string::npos ? c : c.substr(s1 + 1));
                if (it == tiers.end() || it->second != tier) continue;
            }
            std::vector<HostTensor> cpu_out;
            std::string msg;
            Verdict ref = run_case(rt, c, &msg, "cpu", nullptr, "", &cpu_out);
            if (ref != Verdict::Pass) {
                skipped++;
                printf("skip %s: the built-in kernels do not pass it (%s)\n", c.c_str(), msg.c_str());
                continue;
            }
            msg.clear();
            Verdict v = run_case(rt, c, &msg, backends.c_str(), &placement, name, &cpu_out);
            if (v == Verdict::Pass) passed++;
            else if (v == Verdict::Skip) { skipped++; printf("skip %s: %s\n", c.c_str(), msg.c_str()); }
            else { failed++; printf("FAIL %s: %s\n", c.c_str(), msg.c_str()); }
            fflush(stdout);
        }
    }
    ember_runtime_release(rt);
    printf("plugin-check: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    printf("placed: %zu of %zu nodes on %s\n", placement.placed, placement.total, name.c_str());
    return failed ? 1 : 0;
}
