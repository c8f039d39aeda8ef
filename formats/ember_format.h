// ember_format.h — reading and writing .ember files (spec: formats/FORMAT.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/status.h"

namespace ember {

struct ReadOptions {
    bool verify_checksums = true;
};

// One section of a file, for `ember info`.
struct SectionInfo {
    uint32_t kind = 0;
    std::string name;     // "metadata", "graph", "tensors", "data", or "unknown(N)"
    uint64_t offset = 0;
    uint64_t size = 0;
    uint32_t checksum = 0;
};

struct FileLayout {
    uint32_t version_major = 0;
    uint32_t version_minor = 0;
    uint64_t file_size = 0;
    std::vector<SectionInfo> sections;
};

// Serialises `graph` (constants included) into the bytes of a .ember file.
Status write_ember(const Graph &graph, std::vector<uint8_t> *out);
Status write_ember_file(const Graph &graph, const std::string &path);

// Validates `size` bytes at `data` completely, then builds `*out`. The graph's
// constants point into `data` (no copy), which must stay valid and unchanged while the
// graph is used; `data` must be 64-byte aligned. On failure returns EMBER_ERR_FORMAT
// (or EMBER_ERR_UNSUPPORTED for a newer major version) and leaves `*out` untouched.
Status read_ember(const uint8_t *data, size_t size, const ReadOptions &opts, Graph *out,
                  FileLayout *layout = nullptr);

}  // namespace ember
