/* test_models.c — every model in shared/models, converted by `ember convert` (the
 * convert_models fixture), runs through the public C API and matches the ONNX Runtime
 * reference outputs stored beside it.
 *
 * Tolerances (per output tensor, with R = max |reference|):
 *   float32 models: |got - ref| <= 1e-4 * R + 1e-5 for every element (the MANIFEST's
 *                   suggestion for a float32 runtime);
 *   float16 model:  |got - ref| <= 2e-3 * R + 1e-4 (half precision has an 11-bit
 *                   mantissa: one ulp at 1.0 is 9.8e-4; Ember computes in float32
 *                   and rounds once, ONNX Runtime may round differently);
 * and for classifiers the top-1 index equals the reference's and the top-5 sets agree. */
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

static const char *shared_dir(void) {
    const char *e = getenv("EMBER_SHARED_DIR");
    return e && *e ? e : EMBER_SHARED_DIR;
}

static int read_all(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(n > 0 ? (size_t)n : 1);
    *size = fread(*data, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    fclose(f);
    return *size == (size_t)n;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
    float v;
    if (exp == 0) v = ldexpf((float)mant, -24);
    else if (exp == 31) v = mant ? NAN : INFINITY;
    else v = ldexpf((float)(mant | 0x400u), (int)exp - 25);
    return sign ? -v : v;
}

static void topk(const float *v, size_t n, int k, int *out) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < j; q++) taken |= out[q] == (int)i;
            if (!taken && (best < 0 || v[i] > v[best])) best = (int)i;
        }
        out[j] = best;
    }
}

typedef struct {
    const char *id;        /* file stem in onnx/ and ref/ */
    double rel_tol, abs_tol;
    int classifier;
} model_case;

static const model_case kModels[] = {
    {"squeezenet1.1-caffe2-fp32", 1e-4, 1e-5, 1},
    {"squeezenet1.1-caffe2-fp16", 2e-3, 1e-4, 1},
    {"mnist-8", 1e-4, 1e-5, 1},
    {"winml-cifar10-tutorial", 1e-4, 1e-5, 1},
    {"super-resolution-10", 1e-4, 1e-5, 0},
};

static ember_dtype dtype_of(const char *s) {
    if (!strcmp(s, "float32")) return EMBER_DTYPE_FLOAT32;
    if (!strcmp(s, "float16")) return EMBER_DTYPE_FLOAT16;
    return EMBER_DTYPE_UNDEFINED;
}

static void run_model(const model_case *mc) {
    char path[1024], line[4096];
    ember_runtime *rt = NULL;
    ember_model *model = NULL;
    ember_session *session = NULL;
    assert_int_equal(ember_runtime_create(NULL, &rt), EMBER_OK);
    snprintf(path, sizeof path, "%s/models/%s.ember", EMBER_BUILD_DIR, mc->id);
    if (ember_model_load_file(rt, path, NULL, &model) != EMBER_OK)
        fail_msg("%s: %s", mc->id, ember_last_error());
    /* EMBER_TEST_BACKENDS (e.g. "onednn,cpu") runs the same checks on a plugin; unset: "auto". */
    ember_session_options so;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.backends = getenv("EMBER_TEST_BACKENDS");
    if (ember_session_create(model, &so, &session) != EMBER_OK)
        fail_msg("%s: %s", mc->id, ember_last_error());
    ember_value_info out_info = {sizeof(ember_value_info)};
    assert_int_equal(ember_model_output_info(model, 0, &out_info), EMBER_OK);

    snprintf(path, sizeof path, "%s/models/ref/%s.tsv", shared_dir(), mc->id);
    FILE *tsv = fopen(path, "r");
    if (!tsv) fail_msg("cannot open %s", path);
    int cases = 0;
    while (fgets(line, sizeof line, tsv)) {
        if (!strncmp(line, "case\t", 5)) continue;
        char *cols[9] = {0};
        int nc = 0;
        for (char *tok = strtok(line, "\t\n"); tok && nc < 9; tok = strtok(NULL, "\t\n")) cols[nc++] = tok;
        if (nc < 9) continue;
        if (strcmp(cols[4], out_info.name) != 0) continue; /* an intermediate (e.g. logits) */
        int64_t dims[8];
        size_t rank = 0;
        for (char *p = cols[3]; *p && rank < 8;) {
            dims[rank++] = strtoll(p, &p, 10);
            if (*p == 'x') p++;
        }
        uint8_t *in_data = NULL, *ref_data = NULL;
        size_t in_size = 0, ref_size = 0;
        snprintf(path, sizeof path, "%s/models/%s", shared_dir(), cols[1]);
        if (!read_all(path, &in_data, &in_size)) fail_msg("cannot read %s", path);
        snprintf(path, sizeof path, "%s/models/%s", shared_dir(), cols[5]);
        if (!read_all(path, &ref_data, &ref_size)) fail_msg("cannot read %s", path);
        ember_tensor *input = NULL;
        assert_int_equal(ember_tensor_wrap(dtype_of(cols[2]), dims, rank, in_data, in_size, &input), EMBER_OK);
        const ember_tensor *const ins[1] = {input};
        if (ember_session_run(session, ins, 1) != EMBER_OK)
            fail_msg("%s/%s: run: %s", mc->id, cols[0], ember_last_error());
        const ember_tensor *out = NULL;
        assert_int_equal(ember_session_output(session, 0, &out), EMBER_OK);
        size_t n = ref_size / 4;
        if ((size_t)ember_tensor_element_count(out) != n)
            fail_msg("%s/%s: %lld elements, reference has %zu", mc->id, cols[0],
                     (long long)ember_tensor_element_count(out), n);
        float *got = malloc(n * sizeof(float));
        const float *ref = (const float *)ref_data;
        if (ember_tensor_dtype(out) == EMBER_DTYPE_FLOAT16) {
            const uint16_t *h = ember_tensor_data_const(out);
            for (size_t i = 0; i < n; i++) got[i] = half_to_float(h[i]);
        } else {
            assert_int_equal(ember_tensor_dtype(out), EMBER_DTYPE_FLOAT32);
            memcpy(got, ember_tensor_data_const(out), n * 4);
        }
        double rmax = 0, worst = 0;
        size_t worst_i = 0;
        for (size_t i = 0; i < n; i++) rmax = fmax(rmax, fabs(ref[i]));
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - ref[i]);
            if (!(d <= worst) || isnan(got[i])) { worst = isnan(got[i]) ? INFINITY : d; worst_i = i; }
        }
        double tol = mc->rel_tol * rmax + mc->abs_tol;
        if (!(worst <= tol))
            fail_msg("%s/%s: max |diff| %.3g at %zu (got %.8g, want %.8g) exceeds %.3g", mc->id, cols[0],
                     worst, worst_i, got[worst_i], ref[worst_i], tol);
        if (mc->classifier) {
            int want5[5], got5[5];
            for (size_t b = 0; b < (size_t)dims[0]; b++) {
                size_t per = n / (size_t)dims[0];
                topk(ref + b * per, per, 5, want5);
                topk(got + b * per, per, 5, got5);
                if (want5[0] != got5[0])
                    fail_msg("%s/%s: top-1 %d, reference %d", mc->id, cols[0], got5[0], want5[0]);
                for (int j = 0; j < 5; j++) {
                    int found = 0;
                    for (int q = 0; q < 5; q++) found |= got5[q] == want5[j];
                    /* a top-5 member may only be missing when it ties with the 5th */
                    if (!found && fabs(ref[b * per + want5[j]] - ref[b * per + want5[4]]) > tol)
                        fail_msg("%s/%s: reference top-5 member %d is not in Ember's top-5", mc->id,
                                 cols[0], want5[j]);
                }
            }
        }
        cases++;
        free(got);
        ember_tensor_release(input);
        free(in_data);
        free(ref_data);
    }
    fclose(tsv);
    print_message("%s: %d reference cases match\n", mc->id, cases);
    assert_true(cases > 0);
    ember_session_release(session);
    assert_int_equal(ember_model_release(model), EMBER_OK);
    assert_int_equal(ember_runtime_release(rt), EMBER_OK);
}

static void test_squeezenet_fp32(void **state) { (void)state; run_model(&kModels[0]); }
static void test_squeezenet_fp16(void **state) { (void)state; run_model(&kModels[1]); }
static void test_mnist(void **state) { (void)state; run_model(&kModels[2]); }
static void test_cifar(void **state) { (void)state; run_model(&kModels[3]); }
static void test_super_resolution(void **state) { (void)state; run_model(&kModels[4]); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_squeezenet_fp32), cmocka_unit_test(test_squeezenet_fp16),
        cmocka_unit_test(test_mnist),           cmocka_unit_test(test_cifar),
        cmocka_unit_test(test_super_resolution),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
