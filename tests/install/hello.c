/* hello.c — a program built against an installed Ember (tests/install/run.sh builds it
 * with pkg-config and with find_package(ember)): checks the versions, loads the model
 * given on the command line, runs it on zeros and prints the best output index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.ember\n", argv[0]);
        return 2;
    }
    if (ember_api_version() < EMBER_API_VERSION) {
        fprintf(stderr, "libember.so API %u is older than ember.h's %d\n", ember_api_version(),
                EMBER_API_VERSION);
        return 1;
    }
    ember_runtime *rt = NULL;
    ember_model *model = NULL;
    ember_session *session = NULL;
    ember_tensor *input = NULL;
    int rc = 1;
    if (ember_runtime_create(NULL, &rt) != EMBER_OK ||
        ember_model_load_file(rt, argv[1], NULL, &model) != EMBER_OK ||
        ember_session_create(model, NULL, &session) != EMBER_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], ember_last_error());
        goto done;
    }
    ember_value_info info = {sizeof info};
    if (ember_model_input_info(model, 0, &info) != EMBER_OK) goto fail;
    int64_t dims[8];
    for (size_t d = 0; d < info.rank && d < 8; d++) dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
    if (ember_tensor_create(info.dtype, dims, info.rank, &input) != EMBER_OK) goto fail;
    const ember_tensor *const inputs[1] = {input};
    if (ember_session_run(session, inputs, 1) != EMBER_OK) goto fail;
    const ember_tensor *out = NULL;
    if (ember_session_output(session, 0, &out) != EMBER_OK) goto fail;
    if (ember_tensor_dtype(out) != EMBER_DTYPE_FLOAT32) {
        fprintf(stderr, "expected a float32 output\n");
        goto done;
    }
    const float *v = ember_tensor_data_const(out);
    int64_t n = ember_tensor_element_count(out), best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    printf("ember %s (API %u): %s ran, %lld outputs, best %lld\n", ember_version(),
           ember_api_version(), info.name, (long long)n, (long long)best);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "%s\n", ember_last_error());
done:
    ember_tensor_release(input);
    ember_session_release(session);
    ember_model_release(model);
    ember_runtime_release(rt);
    return rc;
}
