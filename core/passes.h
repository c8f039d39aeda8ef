// passes.h — graph passes shared by the converter and the runtime.
#pragma once

#include "core/graph.h"
#include "core/status.h"

namespace ember {

// Replaces every node whose inputs are all constants (and whose outputs are small
// enough, or shape-like) by constants computed with the built-in kernels. Nodes
// without a built-in kernel are left alone.
Status fold_constants(Graph *graph);

// Records each value's dtype and shape where they can be derived from the graph
// inputs' shapes. A symbolic input dimension stays symbolic (-1) in every value that
// depends on it. Fails with the node's name if a node rejects its inputs.
Status infer_shapes(Graph *graph);

// Removes nodes whose outputs reach no graph output, and unreferenced constants.
void remove_dead_nodes(Graph *graph);

}  // namespace ember
