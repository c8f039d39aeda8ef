// fuzz_onnx_import.cc — libFuzzer target: the ONNX converter on untrusted bytes.
//
// import_onnx_bytes must turn any input into a graph or a clean error. When it
// converts, the graph must survive the .ember round trip: write_ember succeeds, the
// reader accepts what the writer wrote (checksums on), and writing what was read gives
// the same bytes again.
//
// Built as fuzz_onnx_import in the fuzz build; replay_onnx_import in the normal build
// replays tests/fuzz_regressions/onnx_import/ through the same function.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "formats/ember_format.h"
#include "formats/onnx_import.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ember::Graph g;
    ember::ConvertOptions opts;
    ember::Status st = ember::import_onnx_bytes(data, size, opts, &g);
    if (!st.ok()) {
        if (st.message().empty()) fuzz_fail("import failed (%d) with no message", st.code());
        return 0;
    }
    std::vector<uint8_t> bytes;
    st = ember::write_ember(g, &bytes);
    if (!st.ok()) {
        // A converted graph that the writer refuses is a converter bug, unless the
        // refusal is a limit of the format, which says so (not an internal error).
        if (st.code() == EMBER_ERR_INTERNAL || st.message().empty())
            fuzz_fail("write_ember refused a converted graph: %s", st.message().c_str());
        return 0;
    }
    // The reader uses tensors in place and wants 64-byte alignment; exactly-sized so that
    // AddressSanitizer sees any read past the end.
    void *buf = nullptr;
    if (posix_memalign(&buf, 64, bytes.empty() ? 1 : bytes.size()) != 0) return 0;
    std::memcpy(buf, bytes.data(), bytes.size());
    ember::Graph back;
    ember::ReadOptions ro;
    st = ember::read_ember(static_cast<const uint8_t *>(buf), bytes.size(), ro, &back);
    if (!st.ok())  // the reader must accept what the writer wrote
        fuzz_fail("read_ember refused what write_ember wrote: %s", st.message().c_str());
    std::vector<uint8_t> again;
    st = ember::write_ember(back, &again);
    if (!st.ok())
        fuzz_fail("write_ember refused a graph read back: %s", st.message().c_str());
    if (again != bytes)
        fuzz_fail("write(read(write(g))) differs from write(g): %zu vs %zu bytes", again.size(),
                  bytes.size());
    std::free(buf);
    return 0;
}
