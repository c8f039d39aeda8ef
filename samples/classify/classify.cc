// ember-classify — image classification with Ember, through the public C API only.
//
//   ember-classify MODEL.ember PHOTO... [--top K] [--backend LIST] [--batch N] [--json]
//
// The model carries its preprocessing ("preprocess" metadata) and its labels (ember
// convert --preset caffe --labels synset.txt). For each photo this prints the top-K
// classes with probabilities, the backend that ran, and the time spent decoding,
// preprocessing and in inference; --json prints one JSON object per line instead:
//   {"image":..,"top":[{"index":..,"label":..,"score":..},..],"backend":..,
//    "preprocess_ms":..,"decode_ms":..,"infer_ms":..,"batch":..}
// preprocess_ms is ember_session_preprocess alone (decoding is decode_ms); infer_ms is the
// run of the batch the photo was in (batch = its size). Exit status: 0 when every photo
// was classified, 1 when some could not be, 2 on a usage error.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ember.h>

namespace {

struct Options {
    std::string model;
    std::vector<std::string> photos;
    int top = 5;
    int batch = 1;
    bool json = false;
    std::string backends = "auto";
};

struct Photo {
    std::string path;
    bool ok = false;
    double decode_ms = 0, preprocess_ms = 0;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string json_string(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

int usage() {
    fprintf(stderr,
            "usage: ember-classify MODEL.ember PHOTO... [--top K] [--backend LIST] [--batch N] "
            "[--json]\n");
    return 2;
}

bool parse_args(int argc, char **argv, Options *o) {
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--top" && i + 1 < argc) {
            o->top = atoi(argv[++i]);
        } else if (a == "--batch" && i + 1 < argc) {
            o->batch = atoi(argv[++i]);
        } else if (a == "--backend" && i + 1 < argc) {
            o->backends = argv[++i];
        } else if (a == "--json") {
            o->json = true;
        } else if (!a.empty() && a[0] == '-') {
            fprintf(stderr, "ember-classify: unknown option '%s'\n", a.c_str());
            return false;
        } else if (o->model.empty()) {
            o->model = a;
        } else {
            o->photos.push_back(a);
        }
    }
    if (o->top < 1 || o->top > 1000 || o->batch < 1 || o->batch > 1024) {
        fprintf(stderr, "ember-classify: --top must be in [1, 1000] and --batch in [1, 1024]\n");
        return false;
    }
    return !o->model.empty() && !o->photos.empty();
}

// The distinct backends the session's nodes run on, "cpu" or "onednn,cpu".
std::string session_backends(ember_session *s) {
    size_t n = 0;
    std::string out;
    if (ember_session_node_count(s, &n) != EMBER_OK) return "?";
    for (size_t i = 0; i < n; i++) {
        const char *name, *op, *backend;
        if (ember_session_node_info(s, i, &name, &op, &backend) != EMBER_OK) continue;
        std::string b = backend;
        std::string padded = "," + out + ",";
        if (padded.find("," + b + ",") == std::string::npos) out += (out.empty() ? "" : ",") + b;
    }
    return out.empty() ? "cpu" : out;
}

void print_result(const Options &o, const Photo &p, const ember_class_score *top, size_t n,
                  const std::string &backend, double infer_ms, int batch) {
    if (o.json) {
        std::string line = "{\"image\":" + json_string(p.path) + ",\"top\":[";
        for (size_t i = 0; i < n; i++) {
            char score[32];
            snprintf(score, sizeof score, "%.6g", top[i].score);
            line += (i ? "," : "") + std::string("{\"index\":") + std::to_string(top[i].index) +
                    ",\"label\":" + json_string(top[i].label) + ",\"score\":" + score + "}";
        }
        char tail[160];
        snprintf(tail, sizeof tail,
                 "],\"backend\":%s,\"preprocess_ms\":%.3f,\"decode_ms\":%.3f,\"infer_ms\":%.3f,"
                 "\"batch\":%d}",
                 json_string(backend).c_str(), p.preprocess_ms, p.decode_ms, infer_ms, batch);
        printf("%s%s\n", line.c_str(), tail);
        return;
    }
    printf("%s\n", p.path.c_str());
    for (size_t i = 0; i < n; i++)
        printf("  %6.2f%%  %5lld  %s\n", 100.0 * top[i].score, static_cast<long long>(top[i].index),
               top[i].label);
    printf("  backend %s; decode %.2f ms, preprocess %.2f ms, inference %.2f ms%s\n",
           backend.c_str(), p.decode_ms, p.preprocess_ms, infer_ms,
           batch > 1 ? (" (batch of " + std::to_string(batch) + ")").c_str() : "");
}

// Decodes and preprocesses `p` into slot `slot` of `input`; false (with a message on
// stderr) if the photo cannot be used.
bool prepare(ember_session *s, ember_tensor *input, int64_t slot, Photo *p) {
    auto t0 = std::chrono::steady_clock::now();
    ember_image *img = nullptr;
    if (ember_image_load_file(p->path.c_str(), &img) != EMBER_OK) {
        fprintf(stderr, "ember-classify: %s\n", ember_last_error());
        return false;
    }
    p->decode_ms = ms_since(t0);
    t0 = std::chrono::steady_clock::now();
    ember_status st = ember_session_preprocess(s, 0, img, nullptr, input, slot);
    p->preprocess_ms = ms_since(t0);
    ember_image_release(img);
    if (st != EMBER_OK) {
        fprintf(stderr, "ember-classify: %s: %s\n", p->path.c_str(), ember_last_error());
        return false;
    }
    return true;
}

struct Handles {
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    ember_tensor *input = nullptr;
    ~Handles() {
        ember_tensor_release(input);
        ember_session_release(session);
        ember_model_release(model);
        ember_runtime_release(rt);
    }
};

int fail(const char *what) {
    fprintf(stderr, "ember-classify: %s: %s\n", what, ember_last_error());
    return 1;
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    if (!parse_args(argc, argv, &o)) return usage();
    Handles h;
    if (ember_runtime_create(nullptr, &h.rt) != EMBER_OK) return fail("runtime");
    if (ember_model_load_file(h.rt, o.model.c_str(), nullptr, &h.model) != EMBER_OK)
        return fail("model");
    ember_session_options so{};
    so.struct_size = sizeof so;
    so.backends = o.backends.c_str();
    if (ember_session_create(h.model, &so, &h.session) != EMBER_OK) return fail("session");
    ember_value_info info{};
    info.struct_size = sizeof info;
    if (ember_model_input_info(h.model, 0, &info) != EMBER_OK) return fail("input 0");
    if (info.rank != 4) {
        fprintf(stderr, "ember-classify: input '%s' has rank %zu; an image input has rank 4\n",
                info.name, info.rank);
        return 1;
    }
    std::vector<int64_t> dims(info.dims, info.dims + info.rank);
    for (size_t d = 1; d < dims.size(); d++) {
        if (dims[d] < 0) {
            fprintf(stderr, "ember-classify: input '%s' has a symbolic dimension %zu\n", info.name,
                    d);
            return 1;
        }
    }
    int batch = o.batch;
    if (dims[0] > 0 && batch > dims[0]) {
        fprintf(stderr,
                "ember-classify: the model's batch size is fixed at %lld; using --batch %lld\n",
                static_cast<long long>(dims[0]), static_cast<long long>(dims[0]));
        batch = static_cast<int>(dims[0]);
    }
    std::vector<ember_class_score> top(static_cast<size_t>(o.top));
    std::string backend;
    int failures = 0;
    int64_t tensor_rows = 0;
    for (size_t start = 0; start < o.photos.size(); start += static_cast<size_t>(batch)) {
        size_t count = std::min(o.photos.size() - start, static_cast<size_t>(batch));
        // A fixed batch dimension keeps its size; a symbolic one gets exactly `count` rows.
        int64_t rows = dims[0] > 0 ? dims[0] : static_cast<int64_t>(count);
        if (rows != tensor_rows) {
            ember_tensor_release(h.input);
            h.input = nullptr;
            dims[0] = rows;
            if (ember_tensor_create(info.dtype, dims.data(), dims.size(), &h.input) != EMBER_OK)
                return fail("input tensor");
            dims[0] = info.dims[0];
            tensor_rows = rows;
        }
        std::vector<Photo> photos(count);
        bool any = false;
        for (size_t i = 0; i < count; i++) {
            photos[i].path = o.photos[start + i];
            photos[i].ok = prepare(h.session, h.input, static_cast<int64_t>(i), &photos[i]);
            any |= photos[i].ok;
            failures += photos[i].ok ? 0 : 1;
        }
        if (!any) continue;
        auto t0 = std::chrono::steady_clock::now();
        const ember_tensor *inputs[1] = {h.input};
        if (ember_session_run(h.session, inputs, 1) != EMBER_OK) return fail("run");
        double infer_ms = ms_since(t0);
        if (backend.empty()) backend = session_backends(h.session);
        for (size_t i = 0; i < count; i++) {
            if (!photos[i].ok) continue;
            size_t n = 0;
            if (ember_session_top_k(h.session, 0, static_cast<int64_t>(i), top.size(), top.data(),
                                    &n) != EMBER_OK)
                return fail("top-k");
            print_result(o, photos[i], top.data(), n, backend, infer_ms, static_cast<int>(count));
        }
    }
    return failures ? 1 : 0;
}
