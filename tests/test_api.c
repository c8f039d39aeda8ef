/* test_api.c — the public C ABI's contract: every error path returns its status and a
 * message, NULL arguments are rejected, release order is enforced, outputs are
 * untouched on failure. Links only libember.so and includes only ember.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ember.h"

#define EXPECT_ERR(call, status)                                                         \
    do {                                                                                 \
        ember_status _s = (call);                                                        \
        if (_s != (status))                                                              \
            fail_msg("%s: got %s (%s), want %s", #call, ember_status_string(_s),         \
                     ember_last_error(), ember_status_string(status));                   \
        if (ember_last_error()[0] == '\0') fail_msg("%s: empty error message", #call);   \
    } while (0)

static char g_mnist[1024];

static int setup(void **state) {
    (void)state;
    snprintf(g_mnist, sizeof g_mnist, "%s/models/mnist-8.ember", EMBER_BUILD_DIR);
    return 0;
}

static void test_version_and_strings(void **state) {
    (void)state;
    assert_int_equal(ember_api_version(), EMBER_API_VERSION);
    assert_non_null(ember_version());
    assert_string_equal(ember_status_string(EMBER_ERR_FORMAT), "EMBER_ERR_FORMAT");
    assert_string_equal(ember_status_string((ember_status)999), "EMBER_ERR_UNKNOWN");
    assert_int_equal(ember_dtype_size(EMBER_DTYPE_FLOAT16), 2);
    assert_int_equal(ember_dtype_size((ember_dtype)77), 0);
    assert_string_equal(ember_dtype_name(EMBER_DTYPE_INT64), "int64");
}

static void test_null_arguments(void **state) {
    (void)state;
    ember_runtime *rt = NULL;
    EXPECT_ERR(ember_runtime_create(NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_runtime_create(NULL, &rt), EMBER_OK);
    assert_string_equal(ember_last_error(), "");
    ember_model *m = (ember_model *)0x1;
    EXPECT_ERR(ember_model_load_file(NULL, g_mnist, NULL, &m), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_model_load_file(rt, NULL, NULL, &m), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_model_load_file(rt, g_mnist, NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    assert_ptr_equal(m, (ember_model *)0x1); /* untouched on failure */
    EXPECT_ERR(ember_model_load_memory(rt, NULL, 10, NULL, &m), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_session_create(NULL, NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_session_run(NULL, NULL, 0), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_session_output(NULL, 0, NULL), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_model_input_count(NULL, NULL), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_tensor_create(EMBER_DTYPE_FLOAT32, NULL, 0, NULL), EMBER_ERR_INVALID_ARGUMENT);
    /* release(NULL) is a no-op */
    ember_session_release(NULL);
    ember_tensor_release(NULL);
    assert_int_equal(ember_model_release(NULL), EMBER_OK);
    assert_int_equal(ember_runtime_release(NULL), EMBER_OK);
    /* accessors on NULL */
    assert_int_equal(ember_tensor_rank(NULL), 0);
    assert_null(ember_tensor_data(NULL));
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_options_struct_size(void **state) {
    (void)state;
    ember_runtime *rt = NULL;
    ember_runtime_options o;
    memset(&o, 0, sizeof o);
    o.struct_size = 3; /* nonsense */
    EXPECT_ERR(ember_runtime_create(&o, &rt), EMBER_ERR_INVALID_ARGUMENT);
    o.struct_size = sizeof o;
    o.num_threads = -2;
    EXPECT_ERR(ember_runtime_create(&o, &rt), EMBER_ERR_INVALID_ARGUMENT);
    /* an older caller that only knows the first field gets defaults for the rest */
    o.struct_size = sizeof(size_t);
    assert_int_equal(ember_runtime_create(&o, &rt), EMBER_OK);
    int32_t n = 0;
    assert_int_equal(ember_runtime_num_threads(rt, &n), EMBER_OK);
    assert_true(n >= 1);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_load_errors(void **state) {
    (void)state;
    ember_runtime *rt = NULL;
    ember_model *m = NULL;
    assert_int_equal(ember_runtime_create(NULL, &rt), EMBER_OK);
    EXPECT_ERR(ember_model_load_file(rt, "/nonexistent/model.ember", NULL, &m), EMBER_ERR_IO);
    assert_non_null(strstr(ember_last_error(), "/nonexistent/model.ember"));
    EXPECT_ERR(ember_model_load_file(rt, "/tmp", NULL, &m), EMBER_ERR_IO);
    const char junk[] = "this is not a model file, just some bytes that go on for a while....";
    EXPECT_ERR(ember_model_load_memory(rt, junk, sizeof junk, NULL, &m), EMBER_ERR_FORMAT);
    EXPECT_ERR(ember_model_load_memory(rt, junk, 0, NULL, &m), EMBER_ERR_FORMAT);
    assert_null(m);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_tensors(void **state) {
    (void)state;
    ember_tensor *t = NULL;
    int64_t dims[3] = {2, 3, 4};
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, dims, 3, &t), EMBER_OK);
    assert_int_equal(ember_tensor_size_bytes(t), 96);
    assert_int_equal(ember_tensor_element_count(t), 24);
    assert_int_equal(((uintptr_t)ember_tensor_data(t)) % 64, 0);
    const float *z = ember_tensor_data_const(t);
    for (int i = 0; i < 24; i++) assert_true(z[i] == 0.0f);
    ember_tensor_release(t);
    int64_t neg[2] = {2, -1};
    EXPECT_ERR(ember_tensor_create(EMBER_DTYPE_FLOAT32, neg, 2, &t), EMBER_ERR_INVALID_ARGUMENT);
    int64_t huge[4] = {1 << 20, 1 << 20, 1 << 20, 1 << 20};
    EXPECT_ERR(ember_tensor_create(EMBER_DTYPE_FLOAT32, huge, 4, &t), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_tensor_create((ember_dtype)99, dims, 3, &t), EMBER_ERR_INVALID_ARGUMENT);
    float buf[10];
    EXPECT_ERR(ember_tensor_wrap(EMBER_DTYPE_FLOAT32, dims, 3, buf, sizeof buf, &t),
               EMBER_ERR_BUFFER_TOO_SMALL);
    int64_t small[1] = {10};
    assert_int_equal(ember_tensor_wrap(EMBER_DTYPE_FLOAT32, small, 1, buf, sizeof buf, &t), EMBER_OK);
    assert_ptr_equal(ember_tensor_data(t), buf);
    ember_tensor_release(t);
}

static void test_session_errors_and_release_order(void **state) {
    (void)state;
    ember_runtime *rt = NULL;
    ember_model *m = NULL;
    ember_session *s = NULL;
    assert_int_equal(ember_runtime_create(NULL, &rt), EMBER_OK);
    if (ember_model_load_file(rt, g_mnist, NULL, &m) != EMBER_OK) fail_msg("%s", ember_last_error());
    size_t n_in = 0, idx = 9;
    assert_int_equal(ember_model_input_count(m, &n_in), EMBER_OK);
    assert_int_equal(n_in, 1);
    ember_value_info info = {sizeof info};
    assert_int_equal(ember_model_input_info(m, 0, &info), EMBER_OK);
    assert_int_equal(info.dtype, EMBER_DTYPE_FLOAT32);
    assert_int_equal(info.rank, 4);
    EXPECT_ERR(ember_model_input_info(m, 5, &info), EMBER_ERR_INVALID_ARGUMENT);
    ember_value_info tiny = {4};
    EXPECT_ERR(ember_model_input_info(m, 0, &tiny), EMBER_ERR_INVALID_ARGUMENT);
    const char *v = NULL;
    EXPECT_ERR(ember_model_metadata(m, "no-such-key", &v, NULL), EMBER_ERR_NOT_FOUND);
    assert_int_equal(ember_model_metadata(m, "producer", &v, NULL), EMBER_OK);

    ember_session_options so = {sizeof so};
    so.backends = "tpu";
    EXPECT_ERR(ember_session_create(m, &so, &s), EMBER_ERR_UNSUPPORTED);
    assert_int_equal(ember_session_create(m, NULL, &s), EMBER_OK);
    EXPECT_ERR(ember_session_input_index(s, "nope", &idx), EMBER_ERR_NOT_FOUND);
    assert_int_equal(ember_session_input_index(s, info.name, &idx), EMBER_OK);
    assert_int_equal(idx, 0);

    const ember_tensor *out = NULL;
    EXPECT_ERR(ember_session_output(s, 0, &out), EMBER_ERR_INVALID_ARGUMENT); /* no run yet */
    EXPECT_ERR(ember_session_run(s, NULL, 0), EMBER_ERR_INVALID_ARGUMENT);     /* wrong count */

    int64_t bad_dims[4] = {1, 1, 27, 28};
    ember_tensor *bad = NULL, *good = NULL, *wrong_type = NULL;
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, bad_dims, 4, &bad), EMBER_OK);
    const ember_tensor *ins[1] = {bad};
    EXPECT_ERR(ember_session_run(s, ins, 1), EMBER_ERR_SHAPE);
    assert_non_null(strstr(ember_last_error(), "[1,1,27,28]"));
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_INT64, info.dims, 4, &wrong_type), EMBER_OK);
    ins[0] = wrong_type;
    EXPECT_ERR(ember_session_run(s, ins, 1), EMBER_ERR_SHAPE);
    ins[0] = NULL;
    EXPECT_ERR(ember_session_run(s, ins, 1), EMBER_ERR_INVALID_ARGUMENT);

    /* the session stays usable after failures */
    assert_int_equal(ember_tensor_create(EMBER_DTYPE_FLOAT32, info.dims, 4, &good), EMBER_OK);
    ins[0] = good;
    if (ember_session_run(s, ins, 1) != EMBER_OK) fail_msg("%s", ember_last_error());
    assert_int_equal(ember_session_output(s, 0, &out), EMBER_OK);
    assert_int_equal(ember_tensor_element_count(out), 10);
    EXPECT_ERR(ember_session_output(s, 1, &out), EMBER_ERR_INVALID_ARGUMENT);
    size_t arena = 0, nodes = 0;
    assert_int_equal(ember_session_arena_bytes(s, &arena), EMBER_OK);
    assert_true(arena > 0);
    assert_int_equal(ember_session_node_count(s, &nodes), EMBER_OK);
    const char *name, *op, *backend;
    assert_int_equal(ember_session_node_info(s, 0, &name, &op, &backend), EMBER_OK);
    assert_string_equal(backend, "cpu");
    EXPECT_ERR(ember_session_node_info(s, nodes, &name, &op, &backend), EMBER_ERR_INVALID_ARGUMENT);

    /* release order: runtime before model, model before session are refused */
    EXPECT_ERR(ember_runtime_release(rt), EMBER_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(ember_model_release(m), EMBER_ERR_INVALID_ARGUMENT);
    ember_session_release(s);
    EXPECT_ERR(ember_runtime_release(rt), EMBER_ERR_INVALID_ARGUMENT);
    assert_int_equal(ember_model_release(m), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
    ember_tensor_release(bad);
    ember_tensor_release(good);
    ember_tensor_release(wrong_type);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_strings),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_options_struct_size),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_tensors),
        cmocka_unit_test(test_session_errors_and_release_order),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
