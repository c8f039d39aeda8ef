// onnx_import.h — the ONNX -> Ember converter (ONNX opsets 7 to 17).
#pragma once

#include <string>

#include "core/graph.h"
#include "core/status.h"

namespace ember {

struct ConvertOptions {
    std::string labels_path;   // text file, one label per line -> metadata "labels"
    std::string preprocess;    // preprocessing spec or preset -> metadata "preprocess"
    bool fold_constants = true;
};

// Reads an ONNX model and builds an Ember graph: initializers and Constant nodes
// become constants, legacy attribute forms become the opset-17 input forms, shapes
// are inferred and constant subgraphs folded. Unsupported operators, attributes or
// data types give EMBER_ERR_UNSUPPORTED naming the node and what is missing.
Status import_onnx_file(const std::string &path, const ConvertOptions &opts, Graph *out);
Status import_onnx_bytes(const void *data, size_t size, const ConvertOptions &opts,
                         Graph *out);

}  // namespace ember
