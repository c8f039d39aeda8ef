// `ember run MODEL.ember -i FILE [-i FILE...] -o DIR`
#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "api/ember.h"
#include "tools/commands.h"
#include "tools/tensor_io.h"

int cmd_run(int argc, char **argv) {
    std::string model_path, out_dir;
    std::vector<std::string> inputs;
    int threads = 0;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "-i" || a == "--input") && i + 1 < argc) inputs.push_back(argv[++i]);
        else if ((a == "-o" || a == "--output") && i + 1 < argc) out_dir = argv[++i];
        else if (a == "--threads" && i + 1 < argc) threads = atoi(argv[++i]);
        else if (model_path.empty() && a[0] != '-') model_path = a;
        else {
            fprintf(stderr, "ember run: unexpected argument '%s'\n", a.c_str());
            return 2;
        }
    }
    if (model_path.empty() || out_dir.empty()) {
        fprintf(stderr, "usage: ember run MODEL.ember -i FILE [-i FILE...] -o DIR [--threads T]\n");
        return 2;
    }
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    std::vector<tools::HostTensor> host(inputs.size());
    std::vector<ember_tensor *> tensors(inputs.size(), nullptr);
    int rc = 1;
    size_t n_in = 0, n_out = 0;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK ||
        ember_model_load_file(rt, model_path.c_str(), nullptr, &model) != EMBER_OK ||
        ember_session_create(model, nullptr, &session) != EMBER_OK) {
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
    mkdir(out_dir.c_str(), 0755);
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
