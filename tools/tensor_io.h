// tensor_io.h — reading and writing tensors for the CLI: .npy files, and raw .bin
// files with a .json sidecar (the conformance layout).
#pragma once

#include <string>
#include <vector>

#include "api/ember.h"

namespace tools {

struct HostTensor {
    std::string name;  // from a sidecar, if any
    ember_dtype dtype = EMBER_DTYPE_UNDEFINED;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
};

// Reads FILE.npy, or FILE.bin with FILE.json beside it. false + message on error.
bool read_tensor_file(const std::string &path, HostTensor *out, std::string *err);
// The same from bytes in memory (what read_tensor_file uses; the fuzz targets call these):
// the bytes of a .npy file, or a .json sidecar's text and the raw .bin bytes.
bool parse_npy_bytes(const void *data, size_t size, HostTensor *out, std::string *err);
bool parse_raw_tensor_bytes(const std::string &json, const void *data, size_t size,
                            HostTensor *out, std::string *err);
bool write_npy(const std::string &path, ember_dtype dtype, const int64_t *dims, size_t rank,
               const void *data, size_t bytes, std::string *err);
bool read_file(const std::string &path, std::string *out);
bool file_exists(const std::string &path);
bool is_dir(const std::string &path);
std::vector<std::string> list_dir(const std::string &path);  // sorted names, no . and ..
ember_dtype dtype_from_numpy_name(const std::string &name);

}  // namespace tools
