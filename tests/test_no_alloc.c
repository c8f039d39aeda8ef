/* test_no_alloc.c — a run whose plan is unchanged allocates nothing: every model in
 * shared/models is run once (planning), then again while this program counts calls to
 * malloc/calloc/realloc/aligned_alloc/posix_memalign made by any thread of the process.
 * The count must be zero. (Not built under sanitizers, which own malloc.) */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember.h"

#include "alloc_counter.h"

static void check_model(const char *id, int threads) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s.ember", EMBER_BUILD_DIR, id);
    ember_runtime_options ro = {sizeof ro};
    ro.num_threads = threads;
    ember_runtime *rt = NULL;
    ember_model *m = NULL;
    ember_session *s = NULL;
    assert_int_equal(ember_runtime_create(&ro, &rt), EMBER_OK);
    if (ember_model_load_file(rt, path, NULL, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    ember_value_info info = {sizeof info};
    assert_int_equal(ember_model_input_info(m, 0, &info), EMBER_OK);
    int64_t dims[8];
    for (size_t d = 0; d < info.rank; d++) dims[d] = info.dims[d] < 0 ? 2 : info.dims[d];
    ember_tensor *in = NULL;
    assert_int_equal(ember_tensor_create(info.dtype, dims, info.rank, &in), EMBER_OK);
    const ember_tensor *ins[1] = {in};
    assert_int_equal(ember_session_run(s, ins, 1), EMBER_OK); /* plans */
    g_allocs = 0;
    g_counting = 1;
    for (int r = 0; r < 3; r++)
        if (ember_session_run(s, ins, 1) != EMBER_OK) { g_counting = 0; fail_msg("%s", ember_last_error()); }
    g_counting = 0;
    if (g_allocs != 0) fail_msg("%s, %d threads: %ld allocations in 3 planned runs", id, threads, g_allocs);
    ember_tensor_release(in);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

/* The counter itself works: creating a tensor allocates through it. */
static void test_counter_sees_library_allocations(void **state) {
    (void)state;
    int64_t dims[1] = {16};
    ember_tensor *t = NULL;
    g_allocs = 0;
    g_counting = 1;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 1, &t), EMBER_OK);
    g_counting = 0;
    assert_true(g_allocs > 0);
    ember_tensor_release(t);
}

static void test_models_allocate_nothing_per_run(void **state) {
    (void)state;
    static const char *ids[] = {"squeezenet1.1-caffe2-fp32", "squeezenet1.1-caffe2-fp16", "mnist-8",
                                "winml-cifar10-tutorial", "super-resolution-10"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        check_model(ids[i], 1);
        check_model(ids[i], 2);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_counter_sees_library_allocations),
                                       cmocka_unit_test(test_models_allocate_nothing_per_run)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
