// graph.h — the in-memory model graph: what the reader builds from a .ember file,
// what the ONNX converter builds and the writer serialises, and what sessions plan.
//
// Operators follow ONNX semantics (default domain, the opset-17 form, see docs/ops.md):
// where older opsets had an attribute that later became an input (Clip min/max,
// Slice starts/ends, Pad pads, Squeeze/Unsqueeze axes, Split split, ReduceSum axes),
// the converter rewrites it into the input form, so kernels see one form only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace ember {

enum class AttrType : uint8_t {
    Int = 1,
    Float = 2,
    String = 3,
    Ints = 4,
    Floats = 5,
    Strings = 6,
    Tensor = 7,  // a constant tensor, stored as a value id (an initializer) in `i`
};

struct Attribute {
    std::string name;
    AttrType type = AttrType::Int;
    int64_t i = 0;
    float f = 0.0f;
    std::string s;
    std::vector<int64_t> ints;
    std::vector<float> floats;
    std::vector<std::string> strings;
};

// Quantisation parameters of a stored tensor: real = scale * (q - zero_point).
// Empty scales = not quantised. One scale = per tensor; otherwise one per slice of
// `axis` (per channel).
struct QuantParams {
    int32_t axis = 0;
    std::vector<float> scales;
    std::vector<int32_t> zero_points;
};

// Constant data: points into the mmap'd file (reader) or into `owned` (converter,
// folding). Never written through.
struct ConstData {
    const uint8_t *data = nullptr;
    size_t nbytes = 0;
    std::shared_ptr<std::vector<uint8_t>> owned;  // keeps `data` alive when set
    QuantParams quant;
};

struct Value {
    std::string name;
    DType dtype = DType::Undefined;
    bool has_shape = false;          // false: shape unknown until planning
    Shape shape;                     // -1 = symbolic dimension
    std::vector<std::string> dim_names;  // same rank as shape when has_shape; "" if none
    int32_t constant = -1;           // index into Graph::constants, or -1
};

struct Node {
    std::string name;
    std::string op_type;
    std::string domain;              // "" = ONNX default domain
    std::vector<int32_t> inputs;     // value ids; -1 = omitted optional input
    std::vector<int32_t> outputs;    // value ids; -1 = omitted optional output
    std::vector<Attribute> attrs;

    const Attribute *attr(const char *name) const;
    int64_t attr_int(const char *name, int64_t dflt) const;
    float attr_float(const char *name, float dflt) const;
    std::string attr_string(const char *name, const std::string &dflt) const;
    // Empty vector if absent.
    std::vector<int64_t> attr_ints(const char *name) const;
    std::vector<float> attr_floats(const char *name) const;
    bool has_input(size_t i) const { return i < inputs.size() && inputs[i] >= 0; }
};

struct Graph {
    std::vector<Value> values;
    std::vector<Node> nodes;       // topologically sorted
    std::vector<int32_t> inputs;   // graph inputs (no constants), in order
    std::vector<int32_t> outputs;  // graph outputs, in order
    std::vector<ConstData> constants;
    std::vector<std::pair<std::string, std::string>> metadata;
    int64_t opset = 17;            // ONNX default-domain opset the graph was imported from

    int32_t add_value(const std::string &name, DType dtype);
    // Adds a constant owning a copy of `bytes`; returns the value id.
    int32_t add_constant(const std::string &name, DType dtype, const Shape &shape,
                         const void *bytes, size_t nbytes);
    const ConstData *constant_of(int32_t value) const {
        if (value < 0 || static_cast<size_t>(value) >= values.size()) return nullptr;
        int32_t c = values[value].constant;
        return c < 0 ? nullptr : &constants[c];
    }
    const std::string *metadata_get(const std::string &key) const;
    void metadata_set(const std::string &key, const std::string &value);

    // Checks references, dtypes, a single producer per value, and topological order
    // (sorting nodes if needed; fails on a cycle).
    Status validate_and_sort();
};

}  // namespace ember
