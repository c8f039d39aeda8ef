// fuzz_image.cc — libFuzzer target: image decoding and preprocessing on untrusted bytes.
//
// ember_image_load_memory decodes the bytes (JPEG, PNG, BMP, GIF, TGA, PNM through
// stb_image); a decoded image is described and preprocessed with several specs (resize,
// crop, letterbox, gray, float and uint8, NCHW and NHWC) into the inputs of a small
// in-memory model, so every pixel path of ember_session_preprocess reads the decoded
// buffer. In the fuzz build stb_image is compiled into core/image.cc (instrumented),
// not taken from Debian's libstb.
//
// Built as fuzz_image in the fuzz build; replay_image in the normal build replays
// tests/fuzz_regressions/image/.
#include <cstdint>
#include <cstring>
#include <vector>

#include "api/ember.h"
#include "formats/ember_format.h"
#include "fuzz/fuzz_util.h"

namespace {

struct Fixture {
    ember_runtime *rt = nullptr;
    ember_model *model = nullptr;
    ember_session *session = nullptr;
    ember_tensor *rgb = nullptr;   // input 0: float32 [2,3,16,16]
    ember_tensor *gray = nullptr;  // input 1: uint8 [1,12,12,1]
};

// Two inputs, each passed through Identity: what matters is their shapes and dtypes.
Fixture *fixture() {
    static Fixture *f = [] {
        Fixture *x = new Fixture();
        ember::Graph g;
        auto value = [&](const char *name, ember::DType t, const ember::Shape &s) {
            int32_t v = g.add_value(name, t);
            g.values[v].has_shape = true;
            g.values[v].shape = s;
            g.values[v].dim_names.assign(s.size(), "");
            return v;
        };
        int32_t a = value("rgb", ember::DType::F32, {-1, 3, 16, 16});
        int32_t b = value("gray", ember::DType::U8, {1, 12, 12, 1});
        int32_t ya = value("rgb_out", ember::DType::F32, {-1, 3, 16, 16});
        int32_t yb = value("gray_out", ember::DType::U8, {1, 12, 12, 1});
        ember::Node n1, n2;
        n1.name = "id_rgb", n1.op_type = "Identity", n1.inputs = {a}, n1.outputs = {ya};
        n2.name = "id_gray", n2.op_type = "Identity", n2.inputs = {b}, n2.outputs = {yb};
        g.nodes = {n1, n2};
        g.inputs = {a, b};
        g.outputs = {ya, yb};
        g.metadata_set("preprocess", "imagenet;resize=18;crop=16");
        std::vector<uint8_t> bytes;
        ember::Status st = ember::write_ember(g, &bytes);
        if (!st.ok()) fuzz_fail("fixture: %s", st.message().c_str());
        ember_runtime_options o;
        std::memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.num_threads = 1;
        int64_t d0[4] = {2, 3, 16, 16}, d1[4] = {1, 12, 12, 1};
        if (ember_runtime_create(&o, &x->rt) != EMBER_OK ||
            ember_model_load_memory(x->rt, bytes.data(), bytes.size(), nullptr, &x->model) !=
                EMBER_OK ||
            ember_session_create(x->model, nullptr, &x->session) != EMBER_OK ||
            ember_tensor_create(EMBER_DTYPE_FLOAT32, d0, 4, &x->rgb) != EMBER_OK ||
            ember_tensor_create(EMBER_DTYPE_UINT8, d1, 4, &x->gray) != EMBER_OK)
            fuzz_fail("fixture: %s", ember_last_error());
        return x;
    }();
    return f;
}

void preprocess(ember_session *s, size_t input, const ember_image *img, const char *spec,
                ember_tensor *t, int64_t slot) {
    ember_status st = ember_session_preprocess(s, input, img, spec, t, slot);
    if (st != EMBER_OK && ember_last_error()[0] == '\0')
        fuzz_fail("preprocess '%s' failed with no message", spec ? spec : "(model's)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Fixture *f = fixture();
    ember_image *img = nullptr;
    if (ember_image_load_memory(data, size, &img) != EMBER_OK) {
        if (ember_last_error()[0] == '\0') fuzz_fail("decode failed with no message");
        return 0;
    }
    int32_t w = 0, h = 0;
    ember_pixel_format fmt;
    if (ember_image_info(img, &w, &h, &fmt) != EMBER_OK || w <= 0 || h <= 0)
        fuzz_fail("a decoded image has no valid size (%d x %d): %s", w, h, ember_last_error());
    // A few hundred bytes of RLE or deflate can decode to 16384x16384 (the API's limit, a
    // legitimate image): decoding it is checked above; preprocessing six times a
    // quarter-gigapixel image is only slow, so such images stop here.
    if (static_cast<int64_t>(w) * h > (int64_t(1) << 20)) {
        ember_image_release(img);
        return 0;
    }
    preprocess(f->session, 0, img, nullptr, f->rgb, 0);  // the model's spec
    preprocess(f->session, 0, img, "caffe;resize=16x16", f->rgb, 1);
    preprocess(f->session, 0, img, "letterbox=16x16;pad=114;scale=0.0039;order=bgr", f->rgb, 1);
    preprocess(f->session, 0, img, "resize=16x16;interp=nearest;mean=1,2,3;std=2,2,2", f->rgb, 0);
    preprocess(f->session, 1, img, "resize=12x12;order=gray;dtype=uint8;layout=nhwc", f->gray, 0);
    preprocess(f->session, 1, img, "resize=13;crop=12;order=gray;dtype=uint8;layout=nhwc",
               f->gray, 0);
    ember_image_release(img);
    return 0;
}
