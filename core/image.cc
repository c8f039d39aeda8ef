// image.cc — decoding with stb_image, wrapping caller pixels.
//
// stb_image comes from Debian's libstb (pkg-config stb), linked, not compiled here. That
// build defines STBI_THREAD_LOCAL (its libstb.so has a TLS segment), so
// stbi_failure_reason() is per thread; we read it right after the failing call on the
// same thread and copy it into the Status, so concurrent decodes on other threads cannot
// change the message we return (tests/test_preprocess.c checks this with threads). The
// flip-on-load and iPhone-PNG flags are global in stb_image; we set their thread-local
// overrides before each decode so a host application that changes the globals cannot
// change our pixels. Without pkg-config stb (or with -DEMBER_BUNDLED_STB=ON), CMake
// defines EMBER_STB_IMPLEMENTATION and the decoder is compiled into this file: private
// (STB_IMAGE_STATIC), thread-local (C++11 thread_local), asserts compiled out.
#include "core/image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#if defined(EMBER_STB_IMPLEMENTATION)
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_NO_HDR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_ASSERT(x) ((void)0)  // the library never aborts (tests/check_symbols.sh)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb_image.h>
#pragma GCC diagnostic pop
#else
#include <stb_image.h>
#endif

namespace ember {

namespace {

// Files larger than this are refused before reading (stb_image takes an int length).
constexpr size_t kMaxEncodedBytes = size_t(1) << 30;

// What the first bytes say the data is; used for messages and to refuse the formats
// stb_image knows but Ember does not accept.
struct Sniff {
    const char *name;
    bool accepted;
};

Sniff sniff_format(const uint8_t *p, size_t n) {
    auto starts = [&](const char *magic, size_t len) {
        return n >= len && std::memcmp(p, magic, len) == 0;
    };
    if (starts("\xFF\xD8\xFF", 3)) return {"JPEG", true};
    if (starts("\x89PNG\r\n\x1A\n", 8)) return {"PNG", true};
    if (starts("GIF87a", 6) || starts("GIF89a", 6)) return {"GIF", true};
    if (starts("BM", 2)) return {"BMP", true};
    if (n >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) return {"PNM", true};
    if (starts("#?RADIANCE", 10) || starts("#?RGBE", 6)) return {"HDR", false};
    if (starts("8BPS", 4)) return {"PSD", false};
    if (starts("\x53\x80\xF6\x34", 4)) return {"PIC", false};
    return {nullptr, true};  // TGA has no magic number; stb_image decides
}

// stb_image's reason for the last failure on this thread (a static string).
const char *stb_reason() {
    const char *r = stbi_failure_reason();
    return r ? r : "unknown error";
}

Status decode_error(const Sniff &s, size_t size) {
    if (s.name)
        return errorf(EMBER_ERR_FORMAT,
                      "%s data (%zu bytes) is corrupt or truncated (stb_image: %s)", s.name, size,
                      stb_reason());
    return errorf(EMBER_ERR_FORMAT,
                  "not a JPEG, PNG, BMP, GIF, TGA or PNM image (%zu bytes; stb_image: %s)", size,
                  stb_reason());
}

// stb_image 2.27 (Debian 12's libstb) builds a JPEG Huffman table from 16 code counts
// without checking that they add up to at most 256 (the table's size): a DHT segment
// with larger counts writes past the table (found by fuzz/fuzz_image.cc). Such data is
// refused here, before stb_image sees it, walking the markers the way stb_image does:
// whatever starts with 0xFF is tried as JPEG (fill bytes before SOI too), every DHT
// segment counts (also between the scans of a progressive JPEG), and bytes past the end
// read as zero.
bool jpeg_huffman_tables_ok(const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n && p[i] == 0xFF) i++;
    if (i == 0 || i >= n || p[i] != 0xD8) return true;  // not JPEG to stb_image
    i++;
    while (i + 1 < n) {
        if (p[i] != 0xFF) {  // entropy-coded data: on to the next marker
            i++;
            continue;
        }
        uint8_t m = p[i + 1];
        if (m == 0xFF || m == 0x00 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) {
            i += m == 0xFF ? 1 : 2;  // fill byte, stuffed zero, RSTn, TEM: no length
            continue;
        }
        if (m == 0xD9) break;  // EOI
        size_t len = i + 3 < n ? (static_cast<size_t>(p[i + 2]) << 8 | p[i + 3]) : 0;
        size_t end = std::min(n, i + 2 + len);
        if (m == 0xC4) {
            for (size_t q = i + 4; q < end;) {  // each table: class/id, 16 counts, values
                size_t codes = 0;
                for (size_t k = 1; k <= 16; k++) codes += q + k < n ? p[q + k] : 0;
                if (codes > 256) return false;
                q += 17 + codes;
            }
        }
        i += 2 + std::max<size_t>(len, 2);
    }
    return true;
}

// stb_image 2.27 reads the numbers of a binary PNM header (P5, P6) into an int with no
// overflow check (UBSan: signed overflow; found by fuzz/fuzz_image.cc). Headers whose
// width, height or maximum value do not fit an int are refused here, read the way
// stb_image reads them (whitespace and # comments between the numbers).
bool pnm_header_ok(const uint8_t *p, size_t n) {
    if (n < 2 || p[0] != 'P' || (p[1] != '5' && p[1] != '6')) return true;
    auto space = [](uint8_t c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
    };
    size_t i = 2;
    for (int field = 0; field < 3; field++) {
        for (;;) {
            while (i < n && space(p[i])) i++;
            if (i >= n || p[i] != '#') break;
            while (i < n && p[i] != '\n' && p[i] != '\r') i++;
        }
        int64_t v = 0;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            v = v * 10 + (p[i] - '0');
            if (v > INT_MAX) return false;
        }
    }
    return true;
}

}  // namespace

int pixel_format_channels(PixelFormat f) {
    switch (f) {
        case PixelFormat::Gray:
            return 1;
        case PixelFormat::RGB:
        case PixelFormat::BGR:
            return 3;
        case PixelFormat::RGBA:
        case PixelFormat::BGRA:
            return 4;
    }
    return 0;
}

Image::~Image() {
    if (owned) stbi_image_free(owned);
}

Status image_decode(const void *data, size_t size, std::unique_ptr<Image> *out) {
    const uint8_t *bytes = static_cast<const uint8_t *>(data);
    if (!bytes || size == 0) return errorf(EMBER_ERR_FORMAT, "image data is empty");
    if (size > kMaxEncodedBytes)
        return errorf(EMBER_ERR_UNSUPPORTED, "image data of %zu bytes is above the 1 GiB limit",
                      size);
    Sniff s = sniff_format(bytes, size);
    if (!s.accepted)
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "%s images are not supported (JPEG, PNG, BMP, GIF, TGA and PNM are)", s.name);
    if (!jpeg_huffman_tables_ok(bytes, size))
        return errorf(EMBER_ERR_FORMAT,
                      "JPEG data (%zu bytes) is corrupt: a Huffman table has more than 256 codes",
                      size);
    if (!pnm_header_ok(bytes, size))
        return errorf(EMBER_ERR_FORMAT, "PNM header has a number that does not fit an int");
    int len = static_cast<int>(size);
    int w = 0, h = 0, comp = 0;
    // The header first: refuse huge images before stb_image allocates for them.
    if (!stbi_info_from_memory(bytes, len, &w, &h, &comp)) return decode_error(s, size);
    if (w <= 0 || h <= 0 || w > kMaxImageSide || h > kMaxImageSide)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s image is %dx%d; sides above %d are refused",
                      s.name ? s.name : "the", w, h, kMaxImageSide);
    int want = comp <= 2 ? 1 : 3;  // gray(+alpha) -> gray; RGB(A), palette -> RGB
    stbi_set_flip_vertically_on_load_thread(0);
    stbi_convert_iphone_png_to_rgb_thread(0);
    int dw = 0, dh = 0, dcomp = 0;
    stbi_uc *px = stbi_load_from_memory(bytes, len, &dw, &dh, &dcomp, want);
    if (!px) return decode_error(s, size);
    std::unique_ptr<Image> img(new (std::nothrow) Image());
    if (!img) {
        stbi_image_free(px);
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "out of memory");
    }
    img->owned = px;
    if (dw != w || dh != h)
        return errorf(EMBER_ERR_FORMAT, "%s image header says %dx%d but decodes to %dx%d",
                      s.name ? s.name : "the", w, h, dw, dh);
    img->width = dw;
    img->height = dh;
    img->format = want == 1 ? PixelFormat::Gray : PixelFormat::RGB;
    img->stride_bytes = static_cast<size_t>(dw) * want;
    img->pixels = px;
    *out = std::move(img);
    return Status::OK();
}

Status image_load_file(const char *path, std::unique_ptr<Image> *out) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errorf(EMBER_ERR_IO, "%s: cannot open: %s", path, std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        ::close(fd);
        return errorf(EMBER_ERR_IO, "%s: not a regular file%s%s", path, e ? ": " : "",
                      e ? std::strerror(e) : "");
    }
    size_t size = static_cast<size_t>(st.st_size);
    if (size > kMaxEncodedBytes) {
        ::close(fd);
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: %zu bytes is above the 1 GiB image file limit",
                      path, size);
    }
    std::vector<uint8_t> buf(size);
    size_t got = 0;
    while (got < size) {
        ssize_t r = ::read(fd, buf.data() + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            ::close(fd);
            return errorf(EMBER_ERR_IO, "%s: read failed after %zu of %zu bytes%s%s", path, got,
                          size, r < 0 ? ": " : "", r < 0 ? std::strerror(e) : "");
        }
        got += static_cast<size_t>(r);
    }
    ::close(fd);
    Status s = image_decode(buf.data(), buf.size(), out);
    if (!s.ok()) return Status(s.code(), std::string(path) + ": " + s.message());
    return s;
}

Status image_wrap(const void *pixels, int32_t width, int32_t height, size_t stride_bytes,
                  PixelFormat format, std::unique_ptr<Image> *out) {
    int ch = pixel_format_channels(format);
    if (ch == 0)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "unknown pixel format %d",
                      static_cast<int>(format));
    if (!pixels) return errorf(EMBER_ERR_INVALID_ARGUMENT, "pixels is NULL");
    if (width < 1 || height < 1 || width > kMaxImageSide || height > kMaxImageSide)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "image size %dx%d is outside [1, %d]", width,
                      height, kMaxImageSide);
    size_t row = static_cast<size_t>(width) * ch;
    if (stride_bytes < row)
        return errorf(EMBER_ERR_INVALID_ARGUMENT,
                      "stride_bytes %zu is smaller than a row (%d pixels x %d bytes = %zu)",
                      stride_bytes, width, ch, row);
    std::unique_ptr<Image> img(new Image());
    img->width = width;
    img->height = height;
    img->stride_bytes = stride_bytes;
    img->format = format;
    img->pixels = static_cast<const uint8_t *>(pixels);
    *out = std::move(img);
    return Status::OK();
}

}  // namespace ember
