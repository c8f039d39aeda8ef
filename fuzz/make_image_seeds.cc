// make_image_seeds.cc — small seed images for fuzz_image, written at build time from the
// real photos given on the command line:
//   make_image_seeds OUT_DIR PHOTO...
// Each photo is decoded and shrunk (nearest neighbour) to a few small sizes, then written
// as baseline JPEG (two qualities), PNG, BMP, TGA (plain and RLE), binary PGM/PPM, gray
// and RGB; plus a tiny hand-made GIF. Small seeds keep every fuzz iteration fast (a
// 500x375 photo costs a hundred times more to decode and preprocess than a 24x16 one);
// the mutations reach the same decoder paths.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace {

std::vector<uint8_t> shrink(const uint8_t *px, int w, int h, int c, int tw, int th, int tc) {
    std::vector<uint8_t> out(static_cast<size_t>(tw) * th * tc);
    for (int y = 0; y < th; y++)
        for (int x = 0; x < tw; x++) {
            const uint8_t *s = px + (static_cast<size_t>(y * h / th) * w + x * w / tw) * c;
            uint8_t *d = &out[(static_cast<size_t>(y) * tw + x) * tc];
            if (tc == 1)
                d[0] = static_cast<uint8_t>((s[0] * 77 + s[1 % c] * 150 + s[2 % c] * 29) >> 8);
            else
                for (int k = 0; k < tc; k++) d[k] = s[k % c];
        }
    return out;
}

bool write_pnm(const std::string &path, const std::vector<uint8_t> &px, int w, int h, int c) {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    std::fprintf(f, "P%d\n%d %d\n255\n", c == 1 ? 5 : 6, w, h);
    bool ok = std::fwrite(px.data(), 1, px.size(), f) == px.size();
    return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR PHOTO...\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    int written = 0, failed = 0;
    auto check = [&](bool ok) { ok ? written++ : failed++; };
    for (int a = 2; a < argc; a++) {
        int w, h, c;
        uint8_t *px = stbi_load(argv[a], &w, &h, &c, 0);
        if (!px) {
            std::fprintf(stderr, "%s: %s\n", argv[a], stbi_failure_reason());
            return 1;
        }
        std::string base = dir + "/p" + std::to_string(a - 2);
        const struct { int w, h, c; } sizes[] = {{24, 16, 3}, {9, 13, 1}, {33, 7, 3}};
        for (const auto &s : sizes) {
            std::vector<uint8_t> small = shrink(px, w, h, c, s.w, s.h, s.c);
            std::string stem = base + "_" + std::to_string(s.w) + "x" + std::to_string(s.h) +
                               (s.c == 1 ? "g" : "c");
            const uint8_t *d = small.data();
            check(stbi_write_jpg((stem + "_q40.jpg").c_str(), s.w, s.h, s.c, d, 40) != 0);
            check(stbi_write_jpg((stem + "_q95.jpg").c_str(), s.w, s.h, s.c, d, 95) != 0);
            check(stbi_write_png((stem + ".png").c_str(), s.w, s.h, s.c, d, s.w * s.c) != 0);
            check(stbi_write_bmp((stem + ".bmp").c_str(), s.w, s.h, s.c, d) != 0);
            stbi_write_tga_with_rle = 0;
            check(stbi_write_tga((stem + ".tga").c_str(), s.w, s.h, s.c, d) != 0);
            stbi_write_tga_with_rle = 1;
            check(stbi_write_tga((stem + "_rle.tga").c_str(), s.w, s.h, s.c, d) != 0);
            check(write_pnm(stem + (s.c == 1 ? ".pgm" : ".ppm"), small, s.w, s.h, s.c));
        }
        stbi_image_free(px);
    }
    // GIF89a, 1x1, one transparent pixel (stb_image_write has no GIF writer).
    static const uint8_t gif[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
                                  0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x21, 0xF9, 0x04,
                                  0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01,
                                  0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B};
    FILE *f = std::fopen((dir + "/tiny.gif").c_str(), "wb");
    check(f && std::fwrite(gif, 1, sizeof gif, f) == sizeof gif && std::fclose(f) == 0);
    if (failed) {
        std::fprintf(stderr, "make_image_seeds: %d file(s) could not be written\n", failed);
        return 1;
    }
    std::printf("wrote %d image seeds to %s\n", written, dir.c_str());
    return 0;
}
