/* test_preprocess_no_alloc.c — after a warm-up call, ember_session_preprocess allocates
 * nothing for an image of the same size (scratch buffers live in the session), and
 * neither do ember_session_run and ember_session_top_k. This program counts calls to
 * malloc/calloc/realloc/aligned_alloc/posix_memalign made by any thread of the process
 * (so the runtime's workers, used for large images, are counted too). Not built under
 * sanitizers, which own malloc. */
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

/* Wraps a w x h RGB picture (a gradient whose values depend on `seed`). */
static ember_image *picture(int w, int h, int seed, uint8_t **buf) {
    *buf = malloc((size_t)w * h * 3);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) (*buf)[i] = (uint8_t)(i * 7 + seed);
    ember_image *img = NULL;
    assert_int_equal(ember_image_wrap(*buf, w, h, (size_t)w * 3, EMBER_PIXEL_RGB, &img), EMBER_OK);
    return img;
}

static void check(const char *model_file, const char *spec, int w, int h) {
    char path[1024];
    snprintf(path, sizeof path, "%s/models/%s", EMBER_BUILD_DIR, model_file);
    ember_runtime_options ro = {.struct_size = sizeof ro};
    ro.num_threads = 2;
    ember_runtime *rt = NULL;
    ember_model *m = NULL;
    ember_session *s = NULL;
    assert_int_equal(ember_runtime_create(&ro, &rt), EMBER_OK);
    if (ember_model_load_file(rt, path, NULL, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    ember_value_info info = {.struct_size = sizeof info};
    assert_int_equal(ember_model_input_info(m, 0, &info), EMBER_OK);
    ember_tensor *t = NULL;
    assert_int_equal(ember_tensor_create(info.dtype, info.dims, info.rank, &t), EMBER_OK);
    uint8_t *b1, *b2;
    ember_image *warm = picture(w, h, 1, &b1), *next = picture(w, h, 2, &b2);
    const ember_tensor *in[1] = {t};
    ember_class_score top[5];
    size_t n;
    /* warm-up: parses the spec, sizes the scratch buffers, plans the run */
    assert_int_equal(ember_session_preprocess(s, 0, warm, spec, t, 0), EMBER_OK);
    assert_int_equal(ember_session_run(s, in, 1), EMBER_OK);
    assert_int_equal(ember_session_top_k(s, 0, 0, 5, top, &n), EMBER_OK);

    g_allocs = 0;
    g_counting = 1;
    ember_status s1 = ember_session_preprocess(s, 0, next, spec, t, 0);
    ember_status s2 = ember_session_run(s, in, 1);
    ember_status s3 = ember_session_top_k(s, 0, 0, 5, top, &n);
    g_counting = 0;
    assert_int_equal(s1, EMBER_OK);
    assert_int_equal(s2, EMBER_OK);
    assert_int_equal(s3, EMBER_OK);
    if (g_allocs != 0)
        fail_msg("%s, %dx%d, spec '%s': %ld allocations after warm-up", model_file, w, h,
                 spec ? spec : "(model's)", g_allocs);

    ember_image_release(warm);
    ember_image_release(next);
    free(b1);
    free(b2);
    ember_tensor_release(t);
    ember_session_release(s);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_caffe_photo_size(void **state) {
    (void)state;
    check("squeezenet-caffe.ember", NULL, 500, 375);
}

static void test_large_image_uses_threads(void **state) {
    (void)state;
    check("squeezenet-caffe.ember", NULL, 3000, 2000);
}

static void test_gray_and_letterbox(void **state) {
    (void)state;
    check("mnist-preset.ember", NULL, 90, 60);
    check("squeezenet-caffe.ember", "caffe;letterbox=224x224", 640, 480);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caffe_photo_size),
        cmocka_unit_test(test_large_image_uses_threads),
        cmocka_unit_test(test_gray_and_letterbox),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
