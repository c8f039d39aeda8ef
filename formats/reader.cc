#include "formats/ember_format.h"

namespace ember {

Status read_ember(const uint8_t *data, size_t size, const ReadOptions &opts, Graph *out,
                  FileLayout *layout) {
    return errorf(EMBER_ERR_UNSUPPORTED, "reader not built yet");
}

}  // namespace ember
