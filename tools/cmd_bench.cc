// `ember bench MODEL.ember --threads T --batch N [--json]`: latency of repeated runs on
// fixed-pattern inputs, after a warm-up. Figures, not a test.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "api/ember.h"
#include "tools/commands.h"

namespace {

// CPU time of the whole process (every thread, user + system), in ms.
double cpu_ms() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

double now_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

void fill_pattern(ember_tensor *t) {
    int64_t n = ember_tensor_element_count(t);
    void *d = ember_tensor_data(t);
    switch (ember_tensor_dtype(t)) {
        case EMBER_DTYPE_FLOAT32:
            for (int64_t i = 0; i < n; i++) static_cast<float *>(d)[i] = static_cast<float>((i * 37) % 256 - 128) / 128.0f;
            break;
        default:
            break;  // zeros
    }
}

}  // namespace

int cmd_bench(int argc, char **argv) {
    std::string path;
    int threads = 1, batch = 1, runs = 0, warmup = 3;
    double min_seconds = 2.0;
    bool json = false, profile = false;
    const char *backends = "auto";
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = atoi(argv[++i]);
        else if (a == "--batch" && i + 1 < argc) batch = atoi(argv[++i]);
        else if (a == "--runs" && i + 1 < argc) runs = atoi(argv[++i]);
        else if (a == "--warmup" && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc) min_seconds = atof(argv[++i]);
        else if (a == "--backend" && i + 1 < argc) backends = argv[++i];
        else if (a == "--json") json = true;
        else if (a == "--profile") profile = true;
        else if (path.empty() && a[0] != '-') path = a;
        else {
            fprintf(stderr, "ember bench: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (path.empty() || threads < 1 || batch < 1) {
        fprintf(stderr, "usage: ember bench MODEL.ember [--threads T] [--batch N] [--runs R] [--json] [--profile] [--backend LIST]\n");
        return 2;
    }
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    std::vector<ember_tensor *> inputs;
    std::vector<double> times;
    int rc = 1;
    size_t n_in = 0;
    double load_ms = 0, first_ms = 0, cpu_per_run = 0;
    ember_session_options so{};
    so.struct_size = sizeof so;
    so.backends = backends;
    so.enable_profiling = profile ? 1 : 0;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK) goto fail;
    {
        double t0 = now_ms();
        if (ember_model_load_file(rt, path.c_str(), nullptr, &model) != EMBER_OK) goto fail;
        load_ms = now_ms() - t0;
    }
    if (ember_session_create(model, &so, &session) != EMBER_OK) goto fail;
    ember_model_input_count(model, &n_in);
    for (size_t k = 0; k < n_in; k++) {
        ember_value_info info{};
        info.struct_size = sizeof info;
        ember_model_input_info(model, k, &info);
        std::vector<int64_t> dims(info.dims, info.dims + info.rank);
        for (size_t d = 0; d < dims.size(); d++) {
            if (dims[d] < 0) dims[d] = d == 0 ? batch : 1;
            else if (d == 0 && batch != 1 && dims[d] != batch) {
                fprintf(stderr, "ember bench: input '%s' has a fixed batch of %lld; --batch %d is not possible\n",
                        info.name, static_cast<long long>(dims[d]), batch);
                goto done;
            }
        }
        ember_tensor *t = nullptr;
        if (ember_tensor_create(info.dtype, dims.data(), dims.size(), &t) != EMBER_OK) goto fail;
        fill_pattern(t);
        inputs.push_back(t);
    }
    {
        double t0 = now_ms();
        if (ember_session_run(session, inputs.data(), inputs.size()) != EMBER_OK) goto fail;
        first_ms = now_ms() - t0;
        for (int i = 1; i < warmup; i++)
            if (ember_session_run(session, inputs.data(), inputs.size()) != EMBER_OK) goto fail;
        double start = now_ms(), cpu0 = cpu_ms();
        while ((runs > 0 && static_cast<int>(times.size()) < runs) ||
               (runs <= 0 && (now_ms() - start < min_seconds * 1000 || times.size() < 10))) {
            double a = now_ms();
            if (ember_session_run(session, inputs.data(), inputs.size()) != EMBER_OK) goto fail;
            times.push_back(now_ms() - a);
        }
        cpu_per_run = (cpu_ms() - cpu0) / static_cast<double>(times.size());
    }
    {
        std::sort(times.begin(), times.end());
        double median = times[times.size() / 2];
        double p90 = times[std::min(times.size() - 1, times.size() * 9 / 10)];
        size_t arena = 0;
        ember_session_arena_bytes(session, &arena);
        std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
        // Which backends ran the nodes, e.g. "onednn+cpu".
        std::string used;
        size_t nn = 0;
        ember_session_node_count(session, &nn);
        for (size_t i = 0; i < nn; i++) {
            const char *nname, *op, *backend;
            ember_session_node_info(session, i, &nname, &op, &backend);
            if (strcmp(backend, "constant") == 0) continue;
            std::string b = backend;
            if (("+" + used + "+").find("+" + b + "+") == std::string::npos) used += (used.empty() ? "" : "+") + b;
        }
        if (used.empty()) used = "cpu";
        if (json) {
            printf("{\"model\":\"%s\",\"backend\":\"%s\",\"threads\":%d,\"batch\":%d,\"median_ms\":%.4f,"
                   "\"p90_ms\":%.4f,\"runs\":%zu,\"load_ms\":%.3f,\"first_run_ms\":%.3f,\"arena_bytes\":%zu,\"cpu_ms\":%.4f}\n",
                   name.c_str(), used.c_str(), threads, batch, median, p90, times.size(), load_ms, first_ms, arena,
                   cpu_per_run);
        } else {
            printf("model %s  backend %s  threads %d  batch %d\n", name.c_str(), used.c_str(), threads, batch);
            printf("  load %.3f ms, first run %.3f ms, arena %zu bytes\n", load_ms, first_ms, arena);
            printf("  median %.4f ms  p90 %.4f ms  over %zu runs, %.4f ms of CPU time per run\n", median, p90,
                   times.size(), cpu_per_run);
        }
    }
    if (profile) {
        // Per-op and per-backend totals over the timed and warm-up runs of this plan.
        size_t n = 0;
        ember_session_profile_count(session, &n);
        std::vector<std::pair<double, std::string>> by_op, by_backend;
        double total = 0;
        int64_t calls = 1;
        for (size_t i = 0; i < n; i++) {
            const char *nname, *op, *backend;
            int64_t nodes, c;
            double ms;
            if (ember_session_profile(session, i, &nname, &op, &backend, &nodes, &ms, &c) != EMBER_OK) break;
            calls = c > 0 ? c : 1;
            total += ms;
            std::string key = std::string(op) + (nodes > 1 ? "+" + std::to_string(nodes - 1) + " more" : "");
            auto add = [&](std::vector<std::pair<double, std::string>> &v, const std::string &k) {
                for (auto &e : v)
                    if (e.second == k) { e.first += ms; return; }
                v.emplace_back(ms, k);
            };
            add(by_op, key + " [" + backend + "]");
            add(by_backend, backend);
        }
        std::sort(by_op.rbegin(), by_op.rend());
        fprintf(json ? stderr : stdout, "profile (per run, %lld runs):\n", static_cast<long long>(calls));
        for (const auto &e : by_op)
            fprintf(json ? stderr : stdout, "  %-40s %9.4f ms  %5.1f%%\n", e.second.c_str(), e.first / calls,
                    total > 0 ? 100.0 * e.first / total : 0.0);
        for (const auto &e : by_backend)
            fprintf(json ? stderr : stdout, "  backend %-32s %9.4f ms\n", e.second.c_str(), e.first / calls);
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "ember bench: %s\n", ember_last_error());
done:
    for (auto *t : inputs) ember_tensor_release(t);
    ember_session_release(session);
    ember_model_release(model);
    ember_runtime_release(rt);
    return rc;
}
