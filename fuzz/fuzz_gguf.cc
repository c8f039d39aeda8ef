// fuzz_gguf.cc — libFuzzer target: a GGUF file from untrusted bytes, through the converter
// entry point (formats/gguf_import.cc, as `ember convert MODEL.gguf` calls it), then, when
// it converts, the .ember round trip, a session compile and one generator step
// (fuzz/fuzz_lm_util.h). Every refusal must carry a message.
//
// Seeds (fuzz/make_seeds.sh, from ../shared/models/lm): the real stories260K GGUF, the
// vocabulary-only Llama SPM GGUF, and tiny GGUFs rewritten from the first with small
// shapes (fuzz/make_lm_seeds.py) so that mutations run fast.
#include <cstdint>
#include <memory>
#include <vector>

#include "formats/lm_import.h"
#include "fuzz/fuzz_lm_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // Exactly `size` bytes, so that AddressSanitizer catches a read past the end.
    ember::Bytes bytes = std::make_shared<std::vector<uint8_t>>(data, data + size);
    ember::LmImportOptions opts;
    opts.context = fuzz_lm::kContext;  // the trained context may be anything
    ember::Graph g;
    ember::Status st = ember::import_gguf(bytes, opts, &g);
    if (!st.ok()) {
        if (st.message().empty()) fuzz_fail("import_gguf failed with no message");
        return 0;
    }
    fuzz_lm::exercise_graph(g);
    return 0;
}
