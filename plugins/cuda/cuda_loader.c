/* cuda_loader.c — libember-cuda.so, the file the plugin registry finds.
 *
 * It depends on nothing but libc and libdl, so the registry can always load it, and it
 * answers "can the CUDA backend run here?" before the backend proper
 * (cuda/libember-cuda-impl.so, linked to libcudart, libcublas, libcublasLt, libcudnn) is
 * loaded. Each refusal names what is missing, and `ember plugins` prints it:
 *
 *   1. the NVIDIA driver: libcuda.so.1 cannot be opened ("no CUDA driver");
 *   2. a device: cuInit / cuDeviceGetCount through the driver API (dlsym'd, nothing
 *      linked), e.g. "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)";
 *   3. the toolkit's libraries: the backend's dlopen fails with the loader's text, which
 *      names the missing library (libcudnn.so.9, libcublasLt.so.13, ...);
 *   4. the backend's own checks (compute capability, kernel image for the device): its
 *      ember_cuda_init sets the reason.
 *
 * The driver and the backend are opened with RTLD_NODELETE: the CUDA driver leaves
 * threads behind whose code must stay mapped until the process exits. This loader itself
 * unloads normally (no function of it is in the plugin table).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember_plugin.h"

typedef ember_status (*cuda_init_fn)(const ember_host_api *host, ember_plugin_api *out);
typedef int (*cu_init_fn)(unsigned int flags);
typedef int (*cu_count_fn)(int *count);
typedef int (*cu_error_name_fn)(int error, const char **name);

static void refuse(const ember_host_api *host, const char *fmt, const char *a, const char *b) {
    char msg[6144];
    char text[5120];
    snprintf(text, sizeof text, fmt, a ? a : "", b ? b : "");
    snprintf(msg, sizeof msg, "cuda: %s; the runtime continues with the CPU backends", text);
    host->set_error(host->host_ctx, msg);
}

/* Whether the driver is present and sees at least one device; sets the reason if not. */
static int driver_has_device(const ember_host_api *host) {
    void *drv = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!drv) {
        const char *e = dlerror();
        refuse(host, "no CUDA driver (%.2048s)", e ? e : "libcuda.so.1 not found", NULL);
        return 0;
    }
    cu_init_fn cu_init = (cu_init_fn)dlsym(drv, "cuInit");
    cu_count_fn cu_count = (cu_count_fn)dlsym(drv, "cuDeviceGetCount");
    cu_error_name_fn cu_name = (cu_error_name_fn)dlsym(drv, "cuGetErrorName");
    if (!cu_init || !cu_count) {
        refuse(host, "libcuda.so.1 lacks cuInit / cuDeviceGetCount: not an NVIDIA driver", NULL, NULL);
        return 0;
    }
    int rc = cu_init(0);
    int n = 0;
    if (rc == 0) rc = cu_count(&n);
    if (rc != 0 || n <= 0) {
        const char *name = NULL;
        char num[32];
        if (rc != 0 && (!cu_name || cu_name(rc, &name) != 0 || !name)) {
            snprintf(num, sizeof num, "CUDA driver error %d", rc);
            name = num;
        }
        refuse(host, "no CUDA device (%s%s)", rc != 0 ? "cuInit: " : "the driver reports 0 devices",
               rc != 0 ? name : NULL);
        return 0;
    }
    return 1;
}

EMBER_PLUGIN_EXPORT ember_status ember_plugin_init(const ember_host_api *host, ember_plugin_api *out) {
    if (!host || !out) return EMBER_ERR_INVALID_ARGUMENT;
    if (host->struct_size < sizeof *host) return EMBER_ERR_ABI;
    if (host->abi_min > EMBER_PLUGIN_ABI_VERSION || host->abi_max < EMBER_PLUGIN_ABI_VERSION) {
        host->set_error(host->host_ctx, "cuda speaks plugin ABI 1 only");
        return EMBER_ERR_ABI;
    }
    if (!driver_has_device(host)) return EMBER_ERR_BACKEND;

    /* The backend library lies in cuda/ beside this file. */
    Dl_info info;
    if (dladdr((void *)&ember_plugin_init, &info) == 0 || !info.dli_fname) {
        refuse(host, "cannot find the plugin's own folder (dladdr failed)", NULL, NULL);
        return EMBER_ERR_BACKEND;
    }
    char path[4096];
    const char *slash = strrchr(info.dli_fname, '/');
    int dir_len = slash ? (int)(slash - info.dli_fname) : 1;
    const char *dir = slash ? info.dli_fname : ".";
    if (snprintf(path, sizeof path, "%.*s/cuda/libember-cuda-impl.so", dir_len, dir) >= (int)sizeof path) {
        refuse(host, "plugin path too long", NULL, NULL);
        return EMBER_ERR_BACKEND;
    }
    void *impl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!impl) {
        const char *e = dlerror();
        refuse(host, "cannot load the CUDA backend (missing CUDA runtime, cuBLAS or cuDNN 9?): %.2048s%.0s",
               e ? e : path, NULL);
        return EMBER_ERR_BACKEND;
    }
    cuda_init_fn init = (cuda_init_fn)dlsym(impl, "ember_cuda_init");
    if (!init) {
        refuse(host, "no symbol ember_cuda_init in %.2048s: not the CUDA backend library%.0s", path, NULL);
        return EMBER_ERR_BACKEND;
    }
    return init(host, out);
}
