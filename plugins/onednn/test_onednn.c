/* test_onednn.c — the oneDNN plugin through the public C API, beyond the conformance kit
 * (plugin_check_onednn) and the reference outputs (test_models_onednn):
 *   - placement: every node of SqueezeNet runs on "onednn";
 *   - other batch sizes: models with a symbolic batch re-plan and recompile, and each
 *     batch matches the built-in kernels (|d| <= 1e-4 * max|ref| + 1e-5);
 *   - thread counts 1 and 2 give the same results;
 *   - loading the plugin leaves the process environment as it was (OMP_WAIT_POLICY);
 *   - runtimes holding the plugin are created, used on 2 threads and released in turn.
 * Needs EMBER_PLUGIN_PATH pointing at the folder holding libember-onednn.so (set by CTest)
 * and the converted models (the `models` fixture of tests/CMakeLists.txt). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember.h"

typedef struct {
    ember_runtime *rt;
    ember_model *model;
    ember_session *session;
} fixture;

static void open_model(fixture *f, const char *id, const char *backends, int threads) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.ember", EMBER_BUILD_DIR, id);
    ember_runtime_options ro;
    memset(&ro, 0, sizeof ro);
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ro.log_level = EMBER_LOG_ERROR;
    if (ember_runtime_create(&ro, &f->rt) != EMBER_OK) fail_msg("runtime: %s", ember_last_error());
    if (ember_model_load_file(f->rt, path, NULL, &f->model) != EMBER_OK) fail_msg("%s: %s", id, ember_last_error());
    ember_session_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.backends = backends;
    so.num_threads = threads;
    if (ember_session_create(f->model, &so, &f->session) != EMBER_OK)
        fail_msg("%s on %s: %s", id, backends, ember_last_error());
}

static void close_model(fixture *f) {
    ember_session_release(f->session);
    assert_int_equal(ember_model_release(f->model), EMBER_OK);
    assert_int_equal(ember_runtime_release(f->rt), EMBER_OK);
}

/* Runs input 0 = a fixed pattern with batch `batch`; returns output 0 (malloc'd). */
static float *run_once(fixture *f, int64_t batch, size_t *n_out) {
    ember_value_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_int_equal(ember_model_input_info(f->model, 0, &info), EMBER_OK);
    int64_t dims[8];
    size_t n = 1;
    for (size_t i = 0; i < info.rank; i++) {
        dims[i] = info.dims[i] < 0 ? batch : info.dims[i];
        n *= (size_t)dims[i];
    }
    float *in = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) in[i] = (float)((int)((i * 37) % 256) - 128) / 128.0f;
    ember_tensor *t = NULL;
    assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_FLOAT32, dims, info.rank, in, n * sizeof(float), &t), EMBER_OK);
    const ember_tensor *ins[1] = {t};
    if (ember_session_run(f->session, ins, 1) != EMBER_OK) fail_msg("run: %s", ember_last_error());
    const ember_tensor *out = NULL;
    assert_int_equal(ember_session_output(f->session, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_dtype(out), EMBER_DTYPE_FLOAT32);
    *n_out = (size_t)ember_tensor_element_count(out);
    float *copy = malloc(*n_out * sizeof(float));
    memcpy(copy, ember_tensor_data_const(out), *n_out * sizeof(float));
    ember_tensor_release(t);
    free(in);
    return copy;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n) {
    double rmax = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) rmax = fmax(rmax, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= worst) || isnan(got[i])) { worst = isnan(got[i]) ? INFINITY : d; at = i; }
    }
    if (!(worst <= 1e-4 * rmax + 1e-5))
        fail_msg("%s: max |diff| %.3g at %zu (got %.8g, built-in %.8g)", what, worst, at, got[at], want[at]);
}

static void test_squeezenet_all_on_onednn(void **state) {
    (void)state;
    fixture f;
    open_model(&f, "squeezenet1.1-caffe2-fp32", "onednn,cpu", 1);
    size_t n;
    free(run_once(&f, 1, &n));
    size_t count = 0, placed = 0;
    assert_int_equal(ember_session_node_count(f.session, &count), EMBER_OK);
    for (size_t i = 0; i < count; i++) {
        const char *name, *op, *backend;
        assert_int_equal(ember_session_node_info(f.session, i, &name, &op, &backend), EMBER_OK);
        if (strcmp(backend, "constant") == 0) continue;
        if (strcmp(backend, "onednn") != 0) fail_msg("node '%s' (%s) ran on %s", name, op, backend);
        placed++;
    }
    assert_true(placed == count);
    close_model(&f);
}

/* Models with a symbolic batch: batches 1, 3, 2 in turn (each a re-plan and recompile). */
static void check_batches(const char *id) {
    fixture dnn, cpu;
    open_model(&dnn, id, "onednn,cpu", 2);
    open_model(&cpu, id, "cpu", 2);
    const int64_t batches[] = {1, 3, 2};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        size_t n1, n2;
        float *got = run_once(&dnn, batches[b], &n1);
        float *want = run_once(&cpu, batches[b], &n2);
        assert_int_equal(n1, n2);
        char what[256];
        snprintf(what, sizeof what, "%s batch %lld", id, (long long)batches[b]);
        expect_close(what, got, want, n1);
        free(got);
        free(want);
    }
    close_model(&dnn);
    close_model(&cpu);
}

static void test_batches_super_resolution(void **state) { (void)state; check_batches("super-resolution-10"); }
static void test_batches_cifar(void **state) { (void)state; check_batches("winml-cifar10-tutorial"); }

static void test_threads_agree(void **state) {
    (void)state;
    const char *ids[] = {"squeezenet1.1-caffe2-fp32", "mnist-8", "super-resolution-10"};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) {
        fixture one, two;
        open_model(&one, ids[k], "onednn,cpu", 1);
        open_model(&two, ids[k], "onednn,cpu", 2);
        size_t n1, n2;
        float *a = run_once(&one, 1, &n1);
        float *b = run_once(&two, 1, &n2);
        assert_int_equal(n1, n2);
        expect_close(ids[k], b, a, n1);
        free(a);
        free(b);
        close_model(&one);
        close_model(&two);
    }
}

static void test_environment_unchanged(void **state) {
    (void)state;
    const char *before = getenv("OMP_WAIT_POLICY");
    fixture f;
    open_model(&f, "mnist-8", "onednn,cpu", 2);
    const char *after = getenv("OMP_WAIT_POLICY");
    if ((before == NULL) != (after == NULL) || (before && strcmp(before, after) != 0))
        fail_msg("OMP_WAIT_POLICY was '%s', is '%s' after loading the plugin", before ? before : "(unset)",
                 after ? after : "(unset)");
    close_model(&f);
}

static void test_runtimes_come_and_go(void **state) {
    (void)state;
    for (int i = 0; i < 4; i++) {
        fixture f;
        open_model(&f, "super-resolution-10", "onednn,cpu", 2);
        size_t n;
        free(run_once(&f, 1, &n));
        close_model(&f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_squeezenet_all_on_onednn), cmocka_unit_test(test_batches_super_resolution),
        cmocka_unit_test(test_batches_cifar),            cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_environment_unchanged),    cmocka_unit_test(test_runtimes_come_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
