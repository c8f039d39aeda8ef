// image.h — 8-bit images for preprocessing: decoded from JPEG/PNG/BMP/GIF/TGA/PNM bytes
// with stb_image, or wrapped around pixels the caller already has.
//
// An Image is a read-only view: `pixels` points at row 0, rows are `stride_bytes` apart,
// each pixel is pixel_format_channels(format) bytes. Decoded images own their pixels
// (freed with the Image); wrapped ones borrow the caller's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/ember.h"
#include "core/status.h"

namespace ember {

// Images with a side above this are refused before any pixel is decoded (a hostile
// header could otherwise ask for gigabytes): 16384 x 16384 x 4 bytes is 1 GiB.
constexpr int32_t kMaxImageSide = 16384;

enum class PixelFormat : int32_t {
    Gray = EMBER_PIXEL_GRAY,
    RGB = EMBER_PIXEL_RGB,
    BGR = EMBER_PIXEL_BGR,
    RGBA = EMBER_PIXEL_RGBA,
    BGRA = EMBER_PIXEL_BGRA,
};

// Bytes per pixel of `f`; 0 for a value that is not a PixelFormat.
int pixel_format_channels(PixelFormat f);

struct Image {
    Image() = default;
    Image(const Image &) = delete;
    Image &operator=(const Image &) = delete;
    ~Image();

    int32_t width = 0;
    int32_t height = 0;
    size_t stride_bytes = 0;  // distance between rows
    PixelFormat format = PixelFormat::RGB;
    const uint8_t *pixels = nullptr;  // row 0, pixel 0
    void *owned = nullptr;            // stb_image allocation, freed by the destructor
};

// Decodes `size` bytes (JPEG, PNG, BMP, GIF first frame, TGA, PNM). Gray and gray+alpha
// images give Gray; everything else RGB (alpha dropped, palettes expanded). Errors:
// EMBER_ERR_FORMAT (not an image, truncated or corrupt: the message gives the format and
// stb_image's reason), EMBER_ERR_UNSUPPORTED (a side above kMaxImageSide; HDR, PSD and
// PIC files, which stb_image reads but Ember does not accept).
Status image_decode(const void *data, size_t size, std::unique_ptr<Image> *out);

// Reads the file at `path` and decodes it. EMBER_ERR_IO if it cannot be read; decoding
// errors as image_decode, prefixed with the path.
Status image_load_file(const char *path, std::unique_ptr<Image> *out);

// Wraps the caller's pixels (borrowed). EMBER_ERR_INVALID_ARGUMENT for a NULL pointer,
// a side outside [1, kMaxImageSide], an unknown format or a stride shorter than a row.
Status image_wrap(const void *pixels, int32_t width, int32_t height, size_t stride_bytes,
                  PixelFormat format, std::unique_ptr<Image> *out);

}  // namespace ember

// The struct behind the public ember_image handle.
struct ember_image {
    std::unique_ptr<ember::Image> img;
};
