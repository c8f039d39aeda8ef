#include "formats/ember_format.h"

namespace ember {

Status write_ember(const Graph &graph, std::vector<uint8_t> *out) {
    return errorf(EMBER_ERR_UNSUPPORTED, "writer not built yet");
}

Status write_ember_file(const Graph &graph, const std::string &path) {
    return errorf(EMBER_ERR_UNSUPPORTED, "writer not built yet");
}

}  // namespace ember
