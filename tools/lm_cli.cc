// lm_cli.cc — shared helpers of the language-model commands (lm_cli.h).
#include "tools/lm_cli.h"

#include <cstdio>

bool LmHandles::open(const char *tool, const std::string &path, int threads, int64_t context) {
    ember_runtime_options ro{};
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ro.log_level = EMBER_LOG_WARNING;
    ro.spin_us = spin_us;
    ember_session_options so{};
    so.struct_size = sizeof so;
    so.num_threads = threads;
    so.enable_profiling = profile ? 1 : 0;
    ember_generator_options go{};
    go.struct_size = sizeof go;
    go.context = context;
    ember_model_options mo{};
    mo.struct_size = sizeof mo;
    mo.copy_on_load = copy_on_load ? 1 : 0;
    mo.verify_checksums = 1;
    if (ember_runtime_create(&ro, &rt) != EMBER_OK ||
        ember_model_load_file(rt, path.c_str(), &mo, &model) != EMBER_OK ||
        ember_session_create(model, &so, &session) != EMBER_OK ||
        ember_generator_create(session, &go, &gen) != EMBER_OK) {
        fprintf(stderr, "%s: %s\n", tool, ember_last_error());
        return false;
    }
    if (ember_generator_tokenizer(gen, &tok) != EMBER_OK) tok = nullptr;
    return true;
}

void json_append_string(std::string *out, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    out->push_back('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"': *out += "\\\""; break;
            case '\\': *out += "\\\\"; break;
            case '\n': *out += "\\n"; break;
            case '\r': *out += "\\r"; break;
            case '\t': *out += "\\t"; break;
            default:
                if (c < 0x20) {
                    *out += "\\u00";
                    out->push_back(hex[c >> 4]);
                    out->push_back(hex[c & 15]);
                } else {
                    out->push_back(static_cast<char>(c));
                }
        }
    }
    out->push_back('"');
}
