/* onednn_loader.c — libember-onednn.so, the file the plugin registry finds.
 *
 * It does two things before the backend proper (onednn/libember-onednn-impl.so, which
 * links oneDNN and, through it, GNU OpenMP) is loaded:
 *
 * 1. OpenMP wait policy. libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, in its
 *    constructor, when it is loaded. Its default lets idle worker threads spin for
 *    300,000 iterations (milliseconds) after every parallel region, i.e. after every
 *    oneDNN primitive and after every ember_session_run, taking cores from the host's
 *    own thread pool and from other processes. Measured on a loaded 2-core machine
 *    (docs/plugin-onednn.md), passive waiting was both cheaper in CPU and faster. So
 *    when neither variable is set and libgomp is not yet in the process, the loader
 *    sets OMP_WAIT_POLICY=PASSIVE for the duration of the dlopen (libgomp's constructor
 *    runs inside it) and then removes it again: the process environment is unchanged
 *    afterwards. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT always wins; if libgomp
 *    was already loaded (the application uses OpenMP) its settings stay as they are.
 *    The variable is set on the calling thread while the runtime loads plugins;
 *    applications that call setenv/getenv concurrently from other threads at that
 *    moment should set OMP_WAIT_POLICY themselves, which turns this off.
 *
 * 2. Unloading. libgomp keeps worker threads parked inside its code; unmapping it
 *    (dlclose of the last user) under them is unsafe. The backend is opened with
 *    RTLD_NODELETE, so it, oneDNN and libgomp stay mapped until the process exits;
 *    this small loader itself unloads normally (no function of it is in the table).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember_plugin.h"

typedef ember_status (*onednn_init_fn)(const ember_host_api *host, ember_plugin_api *out);

static void report(const ember_host_api *host, const char *what, const char *path, const char *why) {
    char msg[6144];
    snprintf(msg, sizeof msg, "onednn: %s %.4096s: %.1024s", what, path, why);
    host->set_error(host->host_ctx, msg);
}

EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    if (!host || !out) return EMBER_ERR_INVALID_ARGUMENT;
    if (host->struct_size < sizeof *host) return EMBER_ERR_ABI;
    if (host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION) {
        host->set_error(host->host_ctx, "onednn speaks plugin ABI 1 only");
        return EMBER_ERR_ABI;
    }
    /* The backend library lies in onednn/ beside this file. */
    Dl_info info;
    if (dladdr((void *)&ember_plugin_init, &info) == 0 || !info.dli_fname) {
        host->set_error(host->host_ctx, "onednn: cannot find the plugin's own folder (dladdr failed)");
        return EMBER_ERR_BACKEND;
    }
    char path[4096];
    const char *slash = strrchr(info.dli_fname, '/');
    int dir_len = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    if (snprintf(path, sizeof path, "%.*s/onednn/libember-onednn-impl.so", dir_len, dir) >= (int)sizeof path) {
        host->set_error(host->host_ctx, "onednn: plugin path too long");
        return EMBER_ERR_BACKEND;
    }

    int set_policy = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) {
        void *gomp = dlopen("libgomp.so.1", RTLD_LAZY | RTLD_NOLOAD);
        if (gomp) {
            dlclose(gomp); /* already initialised: too late to choose its policy */
        } else if (setenv("OMP_WAIT_POLICY", "PASSIVE", 0) == 0) {
            set_policy = 1;
        }
    }
    void *impl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    const char *why = impl ? NULL : dlerror();
    if (set_policy) unsetenv("OMP_WAIT_POLICY");
    if (!impl) {
        report(host, "cannot load", path, why ? why : "unknown dlopen error");
        return EMBER_ERR_BACKEND;
    }
    onednn_init_fn init = (onednn_init_fn)dlsym(impl, "ember_onednn_init");
    if (!init) {
        report(host, "no symbol ember_onednn_init in", path, "not the oneDNN backend library");
        return EMBER_ERR_BACKEND;
    }
    ember_status st = init(host, out);
    if (st == EMBER_OK && host->log)
        host->log(host->host_ctx, EMBER_LOG_DEBUG,
                  set_policy ? "OpenMP wait policy: passive (set by the plugin)"
                             : "OpenMP wait policy: left to the environment or the application");
    return st;
}
