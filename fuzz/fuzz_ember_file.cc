// fuzz_ember_file.cc — libFuzzer target: a .ember file from untrusted bytes.
//
// The bytes go through formats::read_ember (checksums on, then off so that mutations
// get past the CRCs), then, when they load, through the public C API: load, describe,
// compile a session and run it once or twice on zero-filled inputs of the declared
// shapes. A hostile file must not make any of that crash, leak, hang or allocate
// without bound: the session is capped with max_arena_bytes, and inputs with absurd
// element counts are not created (the run is skipped).
//
// Built as fuzz_ember_file (-fsanitize=fuzzer) in the fuzz build and linked with
// fuzz/replay_main.cc into replay_ember_file in the normal build, which replays
// tests/fuzz_regressions/ember_file/.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "api/ember.h"
#include "formats/ember_format.h"
#include "fuzz/fuzz_util.h"

namespace {

// Memory is bounded; arithmetic is not (a 1 MB input through a 16386-wide MaxPool is a
// legitimate model that runs for a minute under ASan): small caps keep such models rare.
constexpr int64_t kMaxArenaBytes = int64_t(16) << 20;  // per session plan
constexpr int64_t kMaxInputBytes = int64_t(256) << 10;  // all inputs of one run together
constexpr size_t kMaxInputs = 64;

ember_runtime *fuzz_runtime() {
    static ember_runtime *rt = [] {
        ember_runtime_options o;
        std::memset(&o, 0, sizeof o);
        o.struct_size = sizeof o;
        o.num_threads = 1;  // deterministic and cheap; the concurrency tests cover threads
        ember_runtime *r = nullptr;
        if (ember_runtime_create(&o, &r) != EMBER_OK) fuzz_fail("%s", ember_last_error());
        return r;
    }();
    return rt;
}

// Reads every byte of a borrowed output so that AddressSanitizer checks its extent.
void touch(const ember_tensor *t) {
    const uint8_t *p = static_cast<const uint8_t *>(ember_tensor_data_const(t));
    size_t n = ember_tensor_size_bytes(t);
    if (!p && n) fuzz_fail("an output of %zu bytes has no data", n);
    volatile uint8_t x = 0;
    for (size_t i = 0; i < n; i++) x ^= p[i];
    (void)x;
}

// Zero-filled tensors of the model's input shapes (symbolic dims set to 1); false when
// an input has no usable dtype or the inputs would be too big.
bool make_inputs(const ember_model *m, std::vector<ember_tensor *> *ins) {
    size_t n = 0;
    if (ember_model_input_count(m, &n) != EMBER_OK || n > kMaxInputs) return false;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        ember_value_info info;
        std::memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (ember_model_input_info(m, i, &info) != EMBER_OK) fuzz_fail("%s", ember_last_error());
        size_t esize = ember_dtype_size(info.dtype);
        if (esize == 0 || info.rank > 8) return false;
        int64_t dims[8];
        int64_t count = 1;
        for (size_t d = 0; d < info.rank; d++) {
            dims[d] = info.dims[d] < 0 ? 1 : info.dims[d];
            if (dims[d] != 0 && count > kMaxInputBytes / dims[d]) return false;
            count *= dims[d];
        }
        if (count > (kMaxInputBytes - total) / static_cast<int64_t>(esize)) return false;
        total += count * static_cast<int64_t>(esize);
        ember_tensor *t = nullptr;
        if (ember_tensor_create(info.dtype, dims, info.rank, &t) != EMBER_OK) return false;
        ins->push_back(t);
    }
    return true;
}

void exercise_model(ember_model *m) {
    size_t n_out = 0;
    if (ember_model_output_count(m, &n_out) != EMBER_OK) fuzz_fail("%s", ember_last_error());
    for (size_t i = 0; i < n_out; i++) {
        ember_value_info info;
        std::memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        if (ember_model_output_info(m, i, &info) != EMBER_OK) fuzz_fail("%s", ember_last_error());
        for (size_t d = 0; d < info.rank; d++) (void)std::strlen(info.dim_names[d]);
    }
    const char *v = nullptr;
    size_t len = 0;
    if (ember_model_metadata(m, "labels", &v, &len) == EMBER_OK && std::strlen(v) > len)
        fuzz_fail("metadata value longer than its size");

    ember_session_options so;
    std::memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.num_threads = 1;
    so.max_arena_bytes = kMaxArenaBytes;
    ember_session *s = nullptr;
    if (ember_session_create(m, &so, &s) != EMBER_OK) return;
    size_t nodes = 0;
    if (ember_session_node_count(s, &nodes) != EMBER_OK) fuzz_fail("%s", ember_last_error());
    for (size_t k = 0; k < nodes; k++) {
        const char *name, *op, *backend;
        if (ember_session_node_info(s, k, &name, &op, &backend) != EMBER_OK)
            fuzz_fail("%s", ember_last_error());
    }
    std::vector<ember_tensor *> ins;
    if (make_inputs(m, &ins)) {
        // Twice: the second run takes the unchanged-plan path.
        for (int r = 0; r < 2; r++) {
            if (ember_session_run(s, ins.data(), ins.size()) != EMBER_OK) break;
            for (size_t i = 0; i < n_out; i++) {
                const ember_tensor *out = nullptr;
                if (ember_session_output(s, i, &out) != EMBER_OK) fuzz_fail("%s", ember_last_error());
                touch(out);
            }
        }
    }
    for (ember_tensor *t : ins) ember_tensor_release(t);
    ember_session_release(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // The reader needs a 64-byte aligned buffer; this one is exactly `size` bytes long so
    // that AddressSanitizer catches a read past the end.
    void *buf = nullptr;
    if (posix_memalign(&buf, 64, size ? size : 1) != 0) return 0;
    if (size) std::memcpy(buf, data, size);
    const uint8_t *p = static_cast<const uint8_t *>(buf);
    for (int verify = 1; verify >= 0; verify--) {
        ember::Graph g;
        ember::ReadOptions ro;
        ro.verify_checksums = verify != 0;
        ember::FileLayout layout;
        ember::Status st = ember::read_ember(p, size, ro, &g, &layout);
        if (!st.ok() && st.message().empty()) fuzz_fail("read_ember failed with no message");
        if (st.ok()) break;  // the checksum-free pass cannot add anything
    }
    std::free(buf);

    ember_model_options mo;
    std::memset(&mo, 0, sizeof mo);
    mo.struct_size = sizeof mo;
    mo.verify_checksums = 0;
    ember_model *m = nullptr;
    if (ember_model_load_memory(fuzz_runtime(), data, size, &mo, &m) == EMBER_OK) {
        exercise_model(m);
        if (ember_model_release(m) != EMBER_OK) fuzz_fail("%s", ember_last_error());
    } else if (ember_last_error()[0] == '\0') {
        fuzz_fail("ember_model_load_memory failed with no message");
    }
    return 0;
}
