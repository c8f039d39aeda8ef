/* test_plugins.c — plugin discovery, refusal with reasons, per-node placement and
 * failures inside plugins, through the public API only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dlfcn.h>

#include "ember.h"

static char g_plugins[1024], g_model[1024];
static char g_run_error[1024]; /* ember_last_error() of the last failed run */

static int setup(void **state) {
    (void)state;
    snprintf(g_plugins, sizeof g_plugins, "%s/plugins", EMBER_BUILD_DIR);
    snprintf(g_model, sizeof g_model, "%s/models/squeezenet1.1-caffe2-fp32.ember", EMBER_BUILD_DIR);
    return 0;
}

static ember_runtime *new_runtime(int discover) {
    ember_runtime_options o = {sizeof o};
    o.num_threads = 2;
    o.disable_plugin_discovery = !discover;
    ember_runtime *rt = NULL;
    assert_int_equal(ember_runtime_create(&o, &rt), EMBER_OK);
    return rt;
}

/* The sample plugin is in build/plugins; the faulty ones in build/tests/plugins. */
static void plugin_path(char *buf, size_t n, const char *name) {
    if (!strncmp(name, "faulty", 6) || !strncmp(name, "does-not", 8))
        snprintf(buf, n, "%s/tests/plugins/libember-%s.so", EMBER_BUILD_DIR, name);
    else
        snprintf(buf, n, "%s/libember-%s.so", g_plugins, name);
}

static void expect_refused(const char *file, const char *reason_part) {
    ember_runtime *rt = new_runtime(0);
    char path[1100];
    plugin_path(path, sizeof path, file);
    ember_status s = ember_runtime_load_plugin(rt, path);
    if (s != EMBER_ERR_BACKEND) fail_msg("%s: got %s", file, ember_status_string(s));
    if (!strstr(ember_last_error(), reason_part))
        fail_msg("%s: message '%s' does not mention '%s'", file, ember_last_error(), reason_part);
    size_t n = 0;
    assert_int_equal(ember_runtime_plugin_count(rt, &n), EMBER_OK);
    assert_int_equal(n, 1);
    ember_plugin_info info = {sizeof info};
    assert_int_equal(ember_runtime_plugin_info(rt, 0, &info), EMBER_OK);
    assert_int_equal(info.loaded, 0);
    assert_non_null(strstr(info.reason, reason_part));
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_refusals(void **state) {
    (void)state;
    expect_refused("faulty-abi", "ABI");
    expect_refused("faulty-init", "libfake.so.1 not found");
    expect_refused("faulty-nodevice", "no device");
    expect_refused("does-not-exist", "cannot load");
    /* a shared library that is not a plugin */
    ember_runtime *rt = new_runtime(0);
    char path[1100];
    snprintf(path, sizeof path, "%s/libember.so", EMBER_BUILD_DIR);
    assert_int_equal(ember_runtime_load_plugin(rt, path), EMBER_ERR_BACKEND);
    assert_non_null(strstr(ember_last_error(), "ember_plugin_init"));
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_discovery_from_env(void **state) {
    (void)state;
    setenv("EMBER_PLUGIN_PATH", g_plugins, 1);
    ember_runtime *rt = new_runtime(1);
    unsetenv("EMBER_PLUGIN_PATH");
    size_t n = 0, loaded = 0;
    int found_sample = 0;
    assert_int_equal(ember_runtime_plugin_count(rt, &n), EMBER_OK);
    for (size_t i = 0; i < n; i++) {
        ember_plugin_info info = {sizeof info};
        assert_int_equal(ember_runtime_plugin_info(rt, i, &info), EMBER_OK);
        loaded += info.loaded;
        if (!strcmp(info.name, "samplerelu")) {
            found_sample = 1;
            assert_int_equal(info.loaded, 1);
            const char *dev = NULL;
            assert_int_equal(ember_runtime_plugin_device(rt, i, 0, &dev), EMBER_OK);
            assert_non_null(dev);
        }
        if (!info.loaded) assert_true(info.reason[0] != '\0');
    }
    assert_true(found_sample);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

/* Runs squeezenet on a fixed pattern with `backends`; copies the output. */
static void run_squeezenet(ember_runtime *rt, const char *backends, float *out, size_t *placed,
                           ember_status *run_status) {
    ember_model *m = NULL;
    ember_session *s = NULL;
    if (ember_model_load_file(rt, g_model, NULL, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    ember_session_options so = {sizeof so};
    so.backends = backends;
    *placed = 0;
    *run_status = ember_session_create(m, &so, &s);
    if (*run_status != EMBER_OK) { /* a plugin that fails to compile fails the planning */
        if (!strstr(ember_last_error(), "compile refused on purpose"))
            fail_msg("session: %s", ember_last_error());
        assert_int_equal(ember_model_release(m), EMBER_OK);
        return;
    }
    int64_t dims[4] = {1, 3, 224, 224};
    ember_tensor *in = NULL;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 4, &in), EMBER_OK);
    float *x = ember_tensor_data(in);
    for (int i = 0; i < 3 * 224 * 224; i++) x[i] = (float)((i * 37) % 256 - 128);
    const ember_tensor *ins[1] = {in};
    *run_status = ember_session_run(s, ins, 1);
    if (*run_status != EMBER_OK) snprintf(g_run_error, sizeof g_run_error, "%s", ember_last_error());
    if (*run_status == EMBER_OK) {
        const ember_tensor *o = NULL;
        assert_int_equal(ember_session_output(s, 0, &o), EMBER_OK);
        memcpy(out, ember_tensor_data_const(o), 1000 * sizeof(float));
    }
    size_t nn = 0;
    *placed = 0;
    assert_int_equal(ember_session_node_count(s, &nn), EMBER_OK);
    for (size_t i = 0; i < nn; i++) {
        const char *name, *op, *backend;
        assert_int_equal(ember_session_node_info(s, i, &name, &op, &backend), EMBER_OK);
        if (strcmp(backend, "cpu") != 0 && strcmp(backend, "constant") != 0) {
            (*placed)++;
            assert_string_equal(op, "Relu");
        }
    }
    ember_tensor_release(in);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
}

static void test_placement_and_equal_results(void **state) {
    (void)state;
    ember_runtime *rt = new_runtime(0);
    char path[1100];
    plugin_path(path, sizeof path, "samplerelu");
    if (ember_runtime_load_plugin(rt, path) != EMBER_OK) fail_msg("%s", ember_last_error());
    static float cpu[1000], plug[1000];
    size_t placed_cpu = 0, placed = 0;
    ember_status st;
    run_squeezenet(rt, "cpu", cpu, &placed_cpu, &st);
    assert_int_equal(st, EMBER_OK);
    assert_int_equal(placed_cpu, 0);
    run_squeezenet(rt, "samplerelu,cpu", plug, &placed, &st);
    assert_int_equal(st, EMBER_OK);
    assert_int_equal(placed, 26); /* every Relu of SqueezeNet 1.1 */
    assert_memory_equal(cpu, plug, sizeof cpu);
    run_squeezenet(rt, "auto", plug, &placed, &st);
    assert_int_equal(placed, 26);
    /* unknown backend names are refused with the list of what exists */
    ember_model *m = NULL;
    ember_session *s = NULL;
    assert_int_equal(ember_model_load_file(rt, g_model, NULL, &m), EMBER_OK);
    ember_session_options so = {sizeof so};
    so.backends = "tpu,cpu";
    assert_int_equal(ember_session_create(m, &so, &s), EMBER_ERR_UNSUPPORTED);
    assert_non_null(strstr(ember_last_error(), "samplerelu"));
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_failures_inside_plugins(void **state) {
    (void)state;
    char path[1100];
    static float out[1000];
    size_t placed;
    ember_status st;
    /* compile failure: the session cannot be planned; the message carries the plugin's */
    ember_runtime *rt = new_runtime(0);
    plugin_path(path, sizeof path, "faulty-compile");
    assert_int_equal(ember_runtime_load_plugin(rt, path), EMBER_OK);
    run_squeezenet(rt, "faulty,cpu", out, &placed, &st);
    assert_int_equal(st, EMBER_ERR_BACKEND);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
    /* execute failure: the run fails cleanly with the plugin's reason */
    rt = new_runtime(0);
    plugin_path(path, sizeof path, "faulty-execute");
    assert_int_equal(ember_runtime_load_plugin(rt, path), EMBER_OK);
    run_squeezenet(rt, "faulty,cpu", out, &placed, &st);
    assert_int_equal(st, EMBER_ERR_BACKEND);
    assert_non_null(strstr(g_run_error, "device lost on purpose"));
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}


/* ---- a plugin failing at each entry point in turn (tests/plugins/faulty_plugin.c) ---- */

typedef enum { REFUSED, PLACED, FALLBACK, SESSION_FAILS, RUN_FAILS, RUN_FAILS_ONCE } Expect;

static const struct {
    const char *mode;  /* EMBER_FAULTY_PLUGIN */
    Expect expect;
    const char *message; /* part of the error (REFUSED: of the refusal reason) */
} fault_cases[] = {
    {"none", PLACED, NULL},
    {"abi", REFUSED, "ABI"},
    {"init", REFUSED, "libfake.so.1 not found"},
    {"init_garbage", REFUSED, "initialisation failed"},
    {"table_short", REFUSED, "plugin table is"},
    {"table_null", REFUSED, "lacks a required entry"},
    {"name_null", REFUSED, "lacks a required entry"},
    {"nodevice", REFUSED, "no device"},
    {"device_negative", REFUSED, "-5"},
    {"device_huge", REFUSED, "2147483647"},
    {"device_name_null", PLACED, NULL},
    {"supports_garbage", FALLBACK, NULL},
    {"compile", SESSION_FAILS, "compile refused on purpose"},
    {"compile_garbage", SESSION_FAILS, "failed to compile"},
    {"compile_null", PLACED, NULL},
    {"execute", RUN_FAILS, "device lost on purpose"},
    {"execute_once", RUN_FAILS_ONCE, "device lost on purpose"},
    {"execute_garbage", RUN_FAILS, "failed running"},
    {"buffers", PLACED, NULL},
};

/* mnist-8 on a fixed pattern: creates a session with `backends`, runs it `runs` times;
 * returns the status of the first failing step (session create or run), copies the last
 * output and counts the nodes the plugin runs. */
static ember_status run_mnist(ember_runtime *rt, const char *backends, int runs, float *out,
                              size_t *placed, char *err, size_t err_size) {
    char path[1100];
    snprintf(path, sizeof path, "%s/models/mnist-8.ember", EMBER_BUILD_DIR);
    ember_model *m = NULL;
    if (ember_model_load_file(rt, path, NULL, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    ember_session_options so = {sizeof so};
    so.backends = backends;
    ember_session *s = NULL;
    ember_status st = ember_session_create(m, &so, &s);
    *placed = 0;
    if (st != EMBER_OK) {
        snprintf(err, err_size, "%s", ember_last_error());
        /* the model is still usable: the CPU runs it */
        static float cpu[10];
        size_t p;
        char e[8];
        assert_int_equal(run_mnist(rt, "cpu", 1, cpu, &p, e, sizeof e), EMBER_OK);
        assert_int_equal(ember_model_release(m), EMBER_OK);
        return st;
    }
    int64_t dims[4] = {1, 1, 28, 28};
    ember_tensor *in = NULL;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 4, &in), EMBER_OK);
    float *x = ember_tensor_data(in);
    for (int i = 0; i < 28 * 28; i++) x[i] = (float)((i * 37) % 256 - 128);
    const ember_tensor *ins[1] = {in};
    for (int r = 0; r < runs && st == EMBER_OK; r++) {
        st = ember_session_run(s, ins, 1);
        if (st != EMBER_OK) snprintf(err, err_size, "%s", ember_last_error());
    }
    if (st == EMBER_OK) {
        const ember_tensor *o = NULL;
        assert_int_equal(ember_session_output(s, 0, &o), EMBER_OK);
        memcpy(out, ember_tensor_data_const(o), 10 * sizeof(float));
    }
    size_t nn = 0;
    assert_int_equal(ember_session_node_count(s, &nn), EMBER_OK);
    for (size_t i = 0; i < nn; i++) {
        const char *name, *op, *backend;
        assert_int_equal(ember_session_node_info(s, i, &name, &op, &backend), EMBER_OK);
        if (!strcmp(backend, "faulty")) (*placed)++;
    }
    ember_tensor_release(in);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    return st;
}

static void test_fault_at_each_entry_point(void **state) {
    (void)state;
    char path[1100], err[2048];
    plugin_path(path, sizeof path, "faulty-any");
    float ref[10], out[10];
    size_t placed = 0;
    ember_runtime *rt = new_runtime(0);
    assert_int_equal(run_mnist(rt, "cpu", 1, ref, &placed, err, sizeof err), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
    for (size_t k = 0; k < sizeof fault_cases / sizeof fault_cases[0]; k++) {
        const char *mode = fault_cases[k].mode, *want = fault_cases[k].message;
        const Expect e = fault_cases[k].expect;
        rt = new_runtime(0);
        setenv("EMBER_FAULTY_PLUGIN", mode, 1);
        ember_status ls = ember_runtime_load_plugin(rt, path);
        unsetenv("EMBER_FAULTY_PLUGIN");
        if (e == REFUSED) {
            if (ls != EMBER_ERR_BACKEND) fail_msg("%s: load gave %s", mode, ember_status_string(ls));
            if (!strstr(ember_last_error(), want))
                fail_msg("%s: '%s' does not mention '%s'", mode, ember_last_error(), want);
            ember_plugin_info info = {sizeof info};
            assert_int_equal(ember_runtime_plugin_info(rt, 0, &info), EMBER_OK);
            assert_int_equal(info.loaded, 0);
            /* the runtime goes on with the CPU */
            assert_int_equal(run_mnist(rt, "auto", 1, out, &placed, err, sizeof err), EMBER_OK);
            assert_memory_equal(out, ref, sizeof ref);
            print_message("faulty plugin, %-17s refused: %s\n", mode, info.reason);
            assert_int_equal(ember_runtime_release(rt), EMBER_OK);
            continue;
        }
        if (ls != EMBER_OK) fail_msg("%s: load: %s", mode, ember_last_error());
        void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
        assert_non_null(h);
        const long *(*counters)(void) = (const long *(*)(void))dlsym(h, "faulty_plugin_counters");
        assert_non_null(counters);
        const char *dev = NULL;
        assert_int_equal(ember_runtime_plugin_device(rt, 0, 0, &dev), EMBER_OK);
        assert_non_null(dev);
        err[0] = '\0';
        ember_status st = run_mnist(rt, "faulty,cpu", e == RUN_FAILS_ONCE ? 1 : 2, out, &placed, err, sizeof err);
        switch (e) {
            case PLACED:
            case FALLBACK:
                if (st != EMBER_OK) fail_msg("%s: %s", mode, err);
                if (e == PLACED && placed == 0) fail_msg("%s: no node on the plugin", mode);
                if (e == FALLBACK && placed != 0) fail_msg("%s: %zu nodes on the plugin", mode, placed);
                assert_memory_equal(out, ref, sizeof ref);
                break;
            case SESSION_FAILS:
            case RUN_FAILS:
                if (st != EMBER_ERR_BACKEND || !strstr(err, want))
                    fail_msg("%s: got %s, '%s' (want '%s')", mode, ember_status_string(st), err, want);
                break;
            case RUN_FAILS_ONCE: {
                if (st != EMBER_ERR_BACKEND || !strstr(err, want))
                    fail_msg("%s: got %s, '%s'", mode, ember_status_string(st), err);
                /* the next session's runs work and match the CPU */
                st = run_mnist(rt, "faulty,cpu", 2, out, &placed, err, sizeof err);
                if (st != EMBER_OK) fail_msg("%s: after the failure: %s", mode, err);
                assert_true(placed > 0);
                assert_memory_equal(out, ref, sizeof ref);
                break;
            }
            default: break;
        }
        assert_int_equal(ember_runtime_release(rt), EMBER_OK);
        const long *c = counters();
        /* every compiled handle released, destroy once, device buffers never touched */
        if (c[0] != c[1]) fail_msg("%s: %ld compiled, %ld released", mode, c[0], c[1]);
        if (c[3] != 1) fail_msg("%s: destroy ran %ld times", mode, c[3]);
        if (c[4] != 0) fail_msg("%s: the host called a buffer entry", mode);
        dlclose(h);
        print_message("faulty plugin, %-17s %s\n", mode,
                      e == PLACED ? "runs, outputs equal the CPU's" :
                      e == FALLBACK ? "nothing claimed, the CPU runs everything" : err);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_discovery_from_env),
        cmocka_unit_test(test_placement_and_equal_results),
        cmocka_unit_test(test_failures_inside_plugins),
        cmocka_unit_test(test_fault_at_each_entry_point),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
