// `ember plugins [--load PATH...]`: every plugin found, loaded or refused with the
// reason, and each loaded plugin's devices.
#include <cstdio>
#include <string>
#include <vector>

#include "api/ember.h"
#include "tools/commands.h"

int cmd_plugins(int argc, char **argv) {
    std::vector<std::string> extra;
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--load" && i + 1 < argc) extra.push_back(argv[++i]);
        else {
            fprintf(stderr, "usage: ember plugins [--load PATH]...\n");
            return 2;
        }
    }
    ember_runtime *rt = nullptr;
    if (ember_runtime_create(nullptr, &rt) != EMBER_OK) {
        fprintf(stderr, "ember plugins: %s\n", ember_last_error());
        return 1;
    }
    for (const auto &p : extra)
        if (ember_runtime_load_plugin(rt, p.c_str()) != EMBER_OK)
            fprintf(stderr, "ember plugins: %s\n", ember_last_error());
    size_t n = 0;
    ember_runtime_plugin_count(rt, &n);
    const char *env = getenv("EMBER_PLUGIN_PATH");
    printf("search path: EMBER_PLUGIN_PATH=%s, then the ember/plugins folder beside libember.so\n",
           env ? env : "(unset)");
    printf("%zu plugin(s) found\n", n);
    for (size_t i = 0; i < n; i++) {
        ember_plugin_info info{};
        info.struct_size = sizeof info;
        ember_runtime_plugin_info(rt, i, &info);
        if (info.loaded) {
            printf("  %-10s loaded   %s (version %s, %d device(s))\n", info.name, info.path,
                   info.version, info.device_count);
            for (int32_t d = 0; d < info.device_count; d++) {
                const char *dn = nullptr;
                ember_runtime_plugin_device(rt, i, d, &dn);
                printf("             device %d: %s\n", d, dn);
            }
        } else {
            printf("  %-10s refused  %s: %s\n", info.name, info.path, info.reason);
        }
    }
    printf("  %-10s built in (always available, always last)\n", "cpu");
    ember_runtime_release(rt);
    return 0;
}
