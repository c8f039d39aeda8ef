// fuzz_npy.cc — libFuzzer target: the CLI's tensor readers (tools/tensor_io.cc) on
// untrusted bytes.
//
// Input starting with the .npy magic goes to parse_npy_bytes; anything else is split at
// its first NUL byte into a .json sidecar's text and the raw tensor bytes, for
// parse_raw_tensor_bytes (the conformance layout). Either must return a tensor whose
// bytes match its dtype and shape, or false with a message.
//
// Built as fuzz_npy in the fuzz build; replay_npy in the normal build replays
// tests/fuzz_regressions/npy/.
#include <cstdint>
#include <cstring>
#include <string>

#include "fuzz/fuzz_util.h"
#include "tools/tensor_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tools::HostTensor t;
    std::string err;
    bool ok;
    if (size >= 6 && std::memcmp(data, "\x93NUMPY", 6) == 0) {
        ok = tools::parse_npy_bytes(data, size, &t, &err);
    } else {
        const void *nul = std::memchr(data, 0, size);
        size_t jlen = nul ? static_cast<size_t>(static_cast<const uint8_t *>(nul) - data) : size;
        std::string json(reinterpret_cast<const char *>(data), jlen);
        size_t rest = nul ? size - jlen - 1 : 0;
        ok = tools::parse_raw_tensor_bytes(json, data + size - rest, rest, &t, &err);
    }
    if (!ok) {
        if (err.empty()) fuzz_fail("a tensor parser failed with no message");
        return 0;
    }
    size_t esize = ember_dtype_size(t.dtype);
    if (esize == 0) fuzz_fail("parsed a tensor of dtype %d", static_cast<int>(t.dtype));
    // The element count must be exact (no wrapped product) and match the bytes.
    unsigned __int128 n = 1;
    for (int64_t d : t.dims) {
        if (d < 0) fuzz_fail("parsed a negative dim %lld", static_cast<long long>(d));
        n *= static_cast<uint64_t>(d);
        if (n > (static_cast<unsigned __int128>(1) << 64)) fuzz_fail("element count overflows");
    }
    if (n * esize != t.data.size())
        fuzz_fail("tensor has %zu bytes, its shape and dtype need %llu", t.data.size(),
                  static_cast<unsigned long long>(n * esize));
    return 0;
}
