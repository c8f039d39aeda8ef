// preprocess.h — image preprocessing for model inputs: the spec (parsed from the text
// stored in a model's "preprocess" metadata) and the kernels that turn an 8-bit image
// into one batch slot of a float32/float16/uint8/int8 tensor.
//
// The pipeline, for one image (docs/preprocessing.md has the full description):
//   1. crop=square: the centred square of the source image (before resizing)
//   2. resize: shorter side to N, or exactly WxH, or (letterbox) fit inside WxH;
//      bilinear = PIL's Image.resize(BILINEAR) arithmetic (triangle filter whose support
//      grows with the downscale factor, 22-bit fixed-point weights, horizontal pass then
//      vertical, both rounded to 8 bits), or nearest
//   3. crop=N / WxH: centre crop of the resized image; letterbox: centre it in WxH
//      (canvas pixels outside the image get the pad value)
//   4. channels: rgb, bgr, or gray (PIL convert('L') weights, before resizing)
//   5. value = (pixel * scale - mean[c]) / std[c], converted to the output dtype, written
//      NCHW or NHWC.
// Only the output pixels that survive the crop are computed. Scratch buffers live in a
// Preprocessor and are reused, so a second image of the same size allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image.h"
#include "core/status.h"
#include "core/tensor.h"
#include "core/thread_pool.h"

namespace ember {

enum class ResizeMode : uint8_t { None, Shorter, Exact };
enum class CropMode : uint8_t { None, Center, Square };
enum class Interp : uint8_t { Bilinear, Nearest };
enum class ChannelOrder : uint8_t { RGB, BGR, Gray };
enum class Layout : uint8_t { NCHW, NHWC };

struct PreprocessSpec {
    ResizeMode resize = ResizeMode::None;
    int32_t resize_w = 0;  // Exact: width; Shorter: the shorter side's new length
    int32_t resize_h = 0;  // Exact: height
    Interp interp = Interp::Bilinear;
    CropMode crop = CropMode::None;
    int32_t crop_w = 0, crop_h = 0;            // Center only
    int32_t letterbox_w = 0, letterbox_h = 0;  // 0: no letterbox
    double pad = 0;                            // canvas value, in pixel units (0..255)
    ChannelOrder order = ChannelOrder::RGB;
    double scale = 1;
    double mean[3] = {0, 0, 0};
    double stddev[3] = {1, 1, 1};
    Layout layout = Layout::NCHW;
    DType dtype = DType::F32;
    bool dtype_set = false;  // false: take the tensor's dtype

    int channels() const { return order == ChannelOrder::Gray ? 1 : 3; }
};

// The spec keys and the preset names, for messages and usage text.
const char *preprocess_spec_keys();     // "resize, interp, crop, ..."
const char *preprocess_preset_names();  // "imagenet, caffe, mnist, cifar"
// The key=value text a preset stands for, or nullptr if `name` is not a preset.
const char *preprocess_preset(const std::string &name);

// Parses "preset", "preset;key=value;..." or "key=value;...". Later keys override
// earlier ones (and a preset's); letterbox replaces resize and crop, and resize or crop
// replaces letterbox. Errors: EMBER_ERR_INVALID_ARGUMENT naming the key and the value
// expected. `*out` is written only on success.
Status parse_preprocess_spec(const std::string &text, PreprocessSpec *out);

// The output width and height for a source image of src_w x src_h.
void preprocess_output_size(const PreprocessSpec &spec, int32_t src_w, int32_t src_h,
                            int32_t *out_w, int32_t *out_h);
// True (and the size) when the output size does not depend on the image.
bool preprocess_fixed_output_size(const PreprocessSpec &spec, int32_t *out_w, int32_t *out_h);

// Checks that a tensor with `dims` (rank 4, N first; -1 = any) and `dtype` can hold the
// spec's output of out_w x out_h (out_w < 0: size unknown, not checked). `what` names
// the tensor in messages. EMBER_ERR_SHAPE says what the spec gives and what the tensor is.
Status preprocess_check_tensor(const PreprocessSpec &spec, const Shape &dims, DType dtype,
                               int32_t out_w, int32_t out_h, const std::string &what);

// Runs the pipeline. Holds the scratch buffers; one thread at a time.
class Preprocessor {
   public:
    // Writes `img` into batch slot `batch` of `dst` (rank 4; checked with
    // preprocess_check_tensor). Large images are split over `pool` (max_threads <= 0:
    // all of its threads).
    Status run(const PreprocessSpec &spec, const Image &img, const Tensor &dst, int64_t batch,
               ThreadPool *pool, int max_threads);

    // One axis of the resampling: output index r in [r_begin, r_end) reads source
    // pixels [first[r], first[r] + count[r]) with weights[r * ksize + j] (sum 1 << 22).
    struct Axis {
        int32_t canvas = 0;              // output size along this axis
        int32_t offset = 0;              // canvas position of resized pixel 0 (< 0: cropped)
        int32_t resized = 0;             // resized length
        int32_t src0 = 0;                // source window start
        int32_t src_len = 0;             // source window length
        int32_t r_begin = 0, r_end = 0;  // resized pixels that land on the canvas
        bool identity = false;           // resized == src_len: no resampling on this axis
        int32_t ksize = 0;
        std::vector<int32_t> first, count, weights;
    };

   private:
    std::vector<double> wtmp_;   // one output pixel's weights before fixed-point
    std::vector<uint8_t> gray_;  // source window converted to gray (order=gray, colour image)
    std::vector<uint8_t> hbuf_;  // horizontal pass output: rows x (r_end - r_begin) x C
    Axis ax_, ay_;
};

}  // namespace ember
