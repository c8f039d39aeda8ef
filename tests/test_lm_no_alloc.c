/* test_lm_no_alloc.c — decoding allocates nothing: after a warm-up (which plans the
 * prefill and the one-token shapes), feeding single tokens and generating with greedy and
 * with temperature / top-k / top-p sampling make no call to malloc/calloc/realloc/
 * aligned_alloc/posix_memalign on any thread, with 1 and 2 threads. (Not built under
 * sanitizers, which own malloc.) */
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

static void check_model(const char *path, int threads) {
    ember_runtime_options ro;
    memset(&ro, 0, sizeof ro);
    ro.struct_size = sizeof ro;
    ro.num_threads = threads;
    ember_runtime *rt = NULL;
    ember_model *m = NULL;
    ember_session *s = NULL;
    ember_generator *g = NULL;
    assert_int_equal(ember_runtime_create(&ro, &rt), EMBER_OK);
    if (ember_model_load_file(rt, path, NULL, &m) != EMBER_OK)
        fail_msg("%s: %s", path, ember_last_error());
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    assert_int_equal(ember_generator_create(s, NULL, &g), EMBER_OK);
    const int32_t prompt[5] = {1, 403, 407, 261, 378};
    int32_t ids[64];
    size_t n;
    ember_stop_reason why;
    ember_generate_options go = {sizeof go, 16, 1, NULL, NULL};
    ember_sampler_options so = {sizeof so, 0.8f, 40, 0.9f, 1};
    /* Warm-up: both plans. */
    assert_int_equal(ember_generator_feed(g, prompt, 5), EMBER_OK);
    assert_int_equal(ember_generator_generate(g, &go, ids, 64, &n, &why), EMBER_OK);
    assert_int_equal(ember_generator_truncate(g, 5), EMBER_OK);
    assert_int_equal(ember_generator_feed(g, &prompt[4], 1), EMBER_OK);

    g_allocs = 0;
    g_counting = 1;
    for (int i = 0; i < 16; i++) assert_int_equal(ember_generator_feed(g, &ids[i], 1), EMBER_OK);
    assert_int_equal(ember_generator_generate(g, &go, ids, 64, &n, &why), EMBER_OK);
    assert_int_equal(ember_generator_set_sampler(g, &so), EMBER_OK);
    assert_int_equal(ember_generator_generate(g, &go, ids, 64, &n, &why), EMBER_OK);
    assert_int_equal(ember_generator_truncate(g, 10), EMBER_OK);
    assert_int_equal(ember_generator_feed(g, &ids[0], 1), EMBER_OK);
    assert_int_equal(ember_generator_generate(g, &go, ids, 64, &n, &why), EMBER_OK);
    g_counting = 0;
    if (g_allocs) fail_msg("%s, %d thread(s): %ld allocation(s) while decoding", path, threads, (long)g_allocs);

    ember_generator_release(g);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void check(int threads) { check_model(EMBER_BUILD_DIR "/models/stories260K.ember", threads); }

/* Q8_0 / Q4_0 weights (ember quantize, the quantize_lm_models fixture): the activation
 * quantisation works in planned scratch, so decoding still allocates nothing. */
static void test_decode_quantised(void **state) {
    (void)state;
    check_model(EMBER_BUILD_DIR "/models/stories260K-q8_0.ember", 1);
    check_model(EMBER_BUILD_DIR "/models/stories260K-q8_0.ember", 2);
    check_model(EMBER_BUILD_DIR "/models/stories260K-q4_0.ember", 2);
}

static void test_decode_one_thread(void **state) {
    (void)state;
    check(1);
}

static void test_decode_two_threads(void **state) {
    (void)state;
    check(2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_one_thread),
        cmocka_unit_test(test_decode_two_threads),
        cmocka_unit_test(test_decode_quantised),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
