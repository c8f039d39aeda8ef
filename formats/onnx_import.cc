#include "formats/onnx_import.h"

namespace ember {

Status import_onnx_file(const std::string &path, const ConvertOptions &opts, Graph *out) {
    return errorf(EMBER_ERR_UNSUPPORTED, "converter not built yet");
}

Status import_onnx_bytes(const void *data, size_t size, const ConvertOptions &opts, Graph *out) {
    return errorf(EMBER_ERR_UNSUPPORTED, "converter not built yet");
}

}  // namespace ember
