// `ember run MODEL.ember -i FILE [-i FILE...] -o DIR`
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "api/ember.h"
#include "tools/commands.h"
#include "tools/tensor_io.h"

namespace {

// Prints the K largest scores of each batch row of a float output, with labels from the
// model's "labels" metadata when it has one per score.
void print_top(ember_model *model, const ember_tensor *t, const char *name, int k) {
    if (ember_tensor_dtype(t) != EMBER_DTYPE_FLOAT32 || ember_tensor_rank(t) == 0) return;
    std::vector<std::string> labels;
    const char *text = nullptr;
    size_t size = 0;
    if (ember_model_metadata(model, "labels", &text, &size) == EMBER_OK) {
        std::string all(text, size), line;
        for (char c : all) {
            if (c == '\n') { labels.push_back(line); line.clear(); }
            else line += c;
        }
        if (!line.empty()) labels.push_back(line);
    }
    const float *v = static_cast<const float *>(ember_tensor_data_const(t));
    int64_t batch = ember_tensor_dims(t)[0];
    int64_t per = batch > 0 ? ember_tensor_element_count(t) / batch : 0;
    for (int64_t b = 0; b < batch; b++) {
        std::vector<int64_t> idx(per);
        for (int64_t i = 0; i < per; i++) idx[i] = i;
        int64_t kk = std::min<int64_t>(k, per);
        std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(),
                          [&](int64_t a, int64_t c) { return v[b * per + a] > v[b * per + c]; });
        printf("%s[%lld] top-%lld:\n", name, static_cast<long long>(b), static_cast<long long>(kk));
        for (int64_t j = 0; j < kk; j++) {
            int64_t i = idx[j];
            printf("  %5lld  %10.6f  %s\n", static_cast<long long>(i), v[b * per + i],
                   static_cast<int64_t>(labels.size()) == per ? labels[i].c_str() : "");
        }
    }
}

}  // namespace

int cmd_run(int argc, char **argv) {
    std::string model_path, out_dir;
    std::vector<std::string> inputs;
    int threads = 0, top = 0;
    const char *backends = "auto";
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "-i" || a == "--input") && i + 1 < argc) inputs.push_back(argv[++i]);
        else if ((a == "-o" || a == "--output") && i + 1 < argc) out_dir = argv[++i];
        else if (a == "--threads" && i + 1 < argc) threads = atoi(argv[++i]);
        else if (a == "--top" && i + 1 < argc) top = atoi(argv[++i]);
        else if (a == "--backend" && i + 1 < argc) backends = argv[++i];
        else if (model_path.empty() && a[0] != '-') model_path = a;
        else {
            fprintf(stderr, "ember run: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (model_path.empty() || (out_dir.empty() && top <= 0)) {
        fprintf(stderr, "usage: ember run MODEL.ember -i FILE [-i FILE...] (-o DIR | --top K) [--threads T]\n");
        return 2;
    }
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ember_session_options so{};
    so.struct_size = sizeof so;
    so.backends = backends;
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    std::vector<tools::HostTensor> host(inputs.size());
    std::vector<ember_tensor *> tensors(inputs.size(), nullptr);
    int rc = 1;
    size_t n_in = 0, n_out = 0;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK ||
        ember_model_load_file(rt, model_path.c_str(), nullptr, &model) != EMBER_OK ||
        ember_session_create(model, &so, &session) != EMBER_OK) {
        fprintf(stderr, "ember run: %s\n", ember_last_error());
        goto done;
    }
    ember_model_input_count(model, &n_in);
    if (inputs.size() != n_in) {
        fprintf(stderr, "ember run: the model has %zu inputs, %zu given\n", n_in, inputs.size());
        goto done;
    }
    for (size_t k = 0; k < inputs.size(); k++) {
        std::string err;
        if (!tools::read_tensor_file(inputs[k], &host[k], &err)) {
            fprintf(stderr, "ember run: %s\n", err.c_str());
            goto done;
        }
        if (ember_tensor_wrap(host[k].dtype, host[k].dims.data(), host[k].dims.size(),
                              host[k].data.data(), host[k].data.size(), &tensors[k]) != EMBER_OK) {
            fprintf(stderr, "ember run: %s: %s\n", inputs[k].c_str(), ember_last_error());
            goto done;
        }
    }
    if (ember_session_run(session, tensors.data(), tensors.size()) != EMBER_OK) {
        fprintf(stderr, "ember run: %s\n", ember_last_error());
        goto done;
    }
    if (!out_dir.empty()) mkdir(out_dir.c_str(), 0755);
    ember_model_output_count(model, &n_out);
    for (size_t k = 0; k < n_out; k++) {
        const ember_tensor *t = nullptr;
        ember_value_info info{};
        info.struct_size = sizeof info;
        ember_session_output(session, k, &t);
        ember_model_output_info(model, k, &info);
        std::string name = info.name;
        for (char &c : name)
            if (c == '/' || c == '\\' || c == ':') c = '_';
        if (top > 0) print_top(model, t, info.name, top);
        if (out_dir.empty()) continue;
        std::string path = out_dir + "/" + name + ".npy";
        std::string err;
        if (!tools::write_npy(path, ember_tensor_dtype(t), ember_tensor_dims(t), ember_tensor_rank(t),
                              ember_tensor_data_const(t), ember_tensor_size_bytes(t), &err)) {
            fprintf(stderr, "ember run: %s\n", err.c_str());
            goto done;
        }
        printf("%s\n", path.c_str());
    }
    rc = 0;
done:
    for (auto *t : tensors) ember_tensor_release(t);
    ember_session_release(session);
    ember_model_release(model);
    ember_runtime_release(rt);
    return rc;
}
