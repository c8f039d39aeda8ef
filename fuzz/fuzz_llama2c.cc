// fuzz_llama2c.cc — libFuzzer target: a llama2.c checkpoint and tokenizer.bin from
// untrusted bytes, through the converter entry point (formats/llama2c_import.cc, as
// `ember convert MODEL.bin --tokenizer TOK.bin` calls it), then, when it converts, the
// .ember round trip, a session compile and one generator step (fuzz/fuzz_lm_util.h).
//
// Input layout: a little-endian uint32 L, then L bytes of checkpoint (clamped to what is
// there), then the tokenizer.bin bytes; no bytes left means no tokenizer. Seeds
// (fuzz/make_seeds.sh, from ../shared/models/lm): tiny random checkpoints written by
// `ember make-random-llama` with the real 512-token vocabularies, and stories260K.bin +
// tok512.bin as they are.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "formats/lm_import.h"
#include "fuzz/fuzz_lm_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t len = static_cast<size_t>(data[0]) | static_cast<size_t>(data[1]) << 8 |
                 static_cast<size_t>(data[2]) << 16 | static_cast<size_t>(data[3]) << 24;
    len = std::min(len, size - 4);
    ember::Bytes ckpt = std::make_shared<std::vector<uint8_t>>(data + 4, data + 4 + len);
    std::vector<uint8_t> tok(data + 4 + len, data + size);
    ember::LmImportOptions opts;
    opts.context = fuzz_lm::kContext;
    ember::Graph g;
    ember::Status st = ember::import_llama2c(ckpt, tok.empty() ? nullptr : &tok, opts, &g);
    if (!st.ok()) {
        if (st.message().empty()) fuzz_fail("import_llama2c failed with no message");
        return 0;
    }
    fuzz_lm::exercise_graph(g);
    return 0;
}
