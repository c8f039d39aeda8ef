// make_npy_seeds.cc — writes the seed corpus of fuzz_npy into the folder given as the
// only argument: .npy files of every dtype and a range of shapes written by
// tools::write_npy, hand-made headers the writer never produces (format versions 2 and
// 3, fortran order, big-endian and unknown descrs, odd spacing), and raw tensors in the
// target's "sidecar JSON, NUL, bytes" layout. Run at build time (fuzz/CMakeLists.txt).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tools/tensor_io.h"

namespace {

bool write_bytes(const std::string &path, const std::string &bytes) {
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return false;
    bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && ok;
}

// A .npy file with header text `h` (padded to 64 bytes) in format version `major`.
std::string npy(int major, std::string h, const std::string &data) {
    size_t pre = major == 1 ? 10 : 12;
    size_t pad = (64 - (pre + h.size() + 1) % 64) % 64;
    h += std::string(pad, ' ') + "\n";
    std::string b = "\x93NUMPY";
    b += static_cast<char>(major);
    b += '\0';
    size_t n = h.size();
    b += static_cast<char>(n & 0xff);
    b += static_cast<char>((n >> 8) & 0xff);
    if (major != 1) {
        b += static_cast<char>((n >> 16) & 0xff);
        b += static_cast<char>((n >> 24) & 0xff);
    }
    return b + h + data;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    int written = 0;
    auto put = [&](const std::string &name, const std::string &bytes) {
        if (!write_bytes(dir + "/" + name, bytes)) {
            std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), name.c_str());
            std::exit(1);
        }
        written++;
    };

    const ember_dtype dtypes[] = {
        EMBER_DTYPE_FLOAT32, EMBER_DTYPE_FLOAT16, EMBER_DTYPE_FLOAT64, EMBER_DTYPE_INT8,
        EMBER_DTYPE_UINT8,   EMBER_DTYPE_INT16,   EMBER_DTYPE_UINT16,  EMBER_DTYPE_INT32,
        EMBER_DTYPE_UINT32,  EMBER_DTYPE_INT64,   EMBER_DTYPE_UINT64,  EMBER_DTYPE_BOOL};
    const std::vector<std::vector<int64_t>> shapes = {
        {}, {0}, {1}, {5}, {2, 3}, {3, 0, 2}, {1, 1, 4, 4}, {1, 3, 2, 2}};
    for (ember_dtype t : dtypes) {
        for (size_t s = 0; s < shapes.size(); s++) {
            const auto &dims = shapes[s];
            size_t n = 1;
            for (int64_t d : dims) n *= static_cast<size_t>(d);
            std::vector<uint8_t> data(n * ember_dtype_size(t));
            for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<uint8_t>(i * 37 + 1);
            if (t == EMBER_DTYPE_BOOL)
                for (auto &b : data) b &= 1;
            std::string name = std::string(ember_dtype_name(t)) + "_" + std::to_string(s) + ".npy";
            std::string err;
            if (!tools::write_npy(dir + "/" + name, t, dims.data(), dims.size(), data.data(),
                                  data.size(), &err)) {
                std::fprintf(stderr, "%s\n", err.c_str());
                return 1;
            }
            written++;
        }
    }

    const std::string f4x4(16, '\x01');
    put("v2.npy", npy(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", f4x4));
    put("v3.npy", npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f4x4));
    put("fortran.npy", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", f4x4));
    put("big_endian.npy", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", f4x4));
    put("native_order.npy", npy(1, "{'descr': '=i4', 'fortran_order': False, 'shape': (4,), }", f4x4));
    put("object.npy", npy(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", f4x4));
    put("spacing.npy", npy(1, "{ 'shape':(1,4) ,'fortran_order':False,'descr':'<i4'}", f4x4));
    put("short_data.npy", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", f4x4));
    put("big_shape.npy",
        npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", f4x4));
    put("trailing.npy", npy(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }", f4x4));

    // Raw tensors: sidecar JSON, a NUL byte, then the .bin bytes.
    auto raw = [&](const std::string &name, const std::string &json, const std::string &bin) {
        put(name, json + std::string(1, '\0') + bin);
    };
    raw("raw_f32.bin", "{\"name\": \"x\", \"dtype\": \"float32\", \"shape\": [2, 2]}", f4x4);
    raw("raw_scalar.bin", "{\"name\": \"s\", \"dtype\": \"int64\", \"shape\": []}", std::string(8, '\0'));
    raw("raw_bool.bin", "{\"dtype\": \"bool\", \"shape\": [3], \"name\": \"b\"}", std::string(3, '\1'));
    raw("raw_bf16.bin", "{\"name\": \"h\", \"dtype\": \"bfloat16\", \"shape\": [1, 4]}", std::string(8, '\x3f'));
    raw("raw_escape.bin", "{\"name\": \"a\\\"b\", \"dtype\": \"uint8\", \"shape\": [0]}", "");
    std::printf("wrote %d npy seeds to %s\n", written, dir.c_str());
    return 0;
}
