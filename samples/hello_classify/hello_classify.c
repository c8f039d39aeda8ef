/* hello_classify.c — the shortest complete Ember program: classify one photo.
 *   hello_classify MODEL.ember PHOTO.jpg
 * The model carries its preprocessing and labels (ember convert MODEL.onnx -o MODEL.ember
 * --preset caffe --labels synset.txt), so nothing here knows about image sizes or means.
 * Build: cc hello_classify.c -lember */
#include <stdio.h>

#include <ember.h>

#define CHECK(call)                                                        \
    do {                                                                   \
        if ((call) != EMBER_OK) {                                          \
            fprintf(stderr, "%s failed: %s\n", #call, ember_last_error()); \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(int argc, char **argv) {
    ember_runtime *rt;
    ember_model *model;
    ember_session *session;
    ember_image *image;
    ember_tensor *input;
    ember_value_info info = {.struct_size = sizeof info};
    int64_t dims[8];
    ember_class_score top[5];
    size_t n;
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.ember PHOTO\n", argv[0]);
        return 2;
    }
    CHECK(ember_runtime_create(NULL, &rt));
    CHECK(ember_model_load_file(rt, argv[1], NULL, &model));
    CHECK(ember_session_create(model, NULL, &session));
    CHECK(ember_model_input_info(model, 0, &info)); /* e.g. float32 [1,3,224,224] */
    for (size_t i = 0; i < info.rank && i < 8; i++) dims[i] = info.dims[i] < 0 ? 1 : info.dims[i];
    CHECK(ember_tensor_create(info.dtype, dims, info.rank, &input));
    CHECK(ember_image_load_file(argv[2], &image));
    CHECK(ember_session_preprocess(session, 0, image, NULL, input, 0)); /* the model's spec */
    CHECK(ember_session_run(session, (const ember_tensor *const *)&input, 1));
    CHECK(ember_session_top_k(session, 0, 0, 5, top, &n));
    for (size_t i = 0; i < n; i++) printf("%6.4f  %s\n", top[i].score, top[i].label);
    ember_image_release(image);
    ember_tensor_release(input);
    ember_session_release(session);
    ember_model_release(model);
    ember_runtime_release(rt);
    return 0;
}
