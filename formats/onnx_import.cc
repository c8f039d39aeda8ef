// onnx_import.cc — the ONNX -> Ember converter.
//
// Reads a ModelProto (Debian's libonnx-dev generated classes, onnx-ml.proto) and
// builds an ember::Graph in the one operator form of docs/ops.md:
//   1. opset imports: the default-domain version is Graph::opset (1..17 accepted);
//   2. initializers become constants (every numeric TensorProto type, raw_data or the
//      typed fields, sizes checked against the shape before anything is allocated);
//   3. graph inputs that are not initializers become Graph::inputs, in order;
//   4. nodes: Constant nodes become constants, every other node is checked against
//      the built-in registry, its attributes converted (tensor attributes become
//      constants), then legacy attribute forms are rewritten into opset-17 inputs;
//   5. graph outputs, metadata, then validate_and_sort, fold_constants, infer_shapes
//      and remove_dead_nodes.
// The result is written to *out only when everything succeeded.
//
// Choices worth knowing:
// - A graph input that also has an initializer is a constant, whatever the IR version
//   (IR >= 4 calls it an overridable default; Ember does not override constants).
// - value_info only gives dtype hints, for the rewrites that create a constant of an
//   input's dtype (Clip < 11 min/max, Pad < 11 value). Hints also flow through ops that
//   keep their input's dtype; where nothing is known, float32 is assumed (Clip-6 and
//   Pad-2 take float types only, and float32 is what exporters of that era produced).
// - Subgraph (GRAPH) attributes, sparse tensors, strings and external data are refused
//   with EMBER_ERR_UNSUPPORTED; nothing is silently dropped except `consumed_inputs`
//   (an opset-1 memory hint) and Gemm < 7's `broadcast` (implied since opset 7).
//
// Byte order: tensor raw_data is little-endian; so is every host Ember builds for.
#include "formats/onnx_import.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/op.h"
#include "core/passes.h"
#include "onnx/onnx_pb.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the ONNX importer copies little-endian raw_data as is");

namespace ember {
namespace {

constexpr int64_t kMinOpset = 1;
constexpr int64_t kMaxOpset = 17;

// ---------------------------------------------------------------------------------
// Data types

// ONNX TensorProto.DataType codes (onnx.proto, ONNX 1.12).
enum OnnxType : int32_t {
    kOnnxUndefined = 0, kOnnxFloat = 1, kOnnxUint8 = 2, kOnnxInt8 = 3, kOnnxUint16 = 4,
    kOnnxInt16 = 5, kOnnxInt32 = 6, kOnnxInt64 = 7, kOnnxString = 8, kOnnxBool = 9,
    kOnnxFloat16 = 10, kOnnxDouble = 11, kOnnxUint32 = 12, kOnnxUint64 = 13,
    kOnnxComplex64 = 14, kOnnxComplex128 = 15, kOnnxBfloat16 = 16,
};

bool dtype_from_onnx(int32_t t, DType *out) {
    switch (t) {
    case kOnnxFloat: *out = DType::F32; return true;
    case kOnnxUint8: *out = DType::U8; return true;
    case kOnnxInt8: *out = DType::I8; return true;
    case kOnnxUint16: *out = DType::U16; return true;
    case kOnnxInt16: *out = DType::I16; return true;
    case kOnnxInt32: *out = DType::I32; return true;
    case kOnnxInt64: *out = DType::I64; return true;
    case kOnnxBool: *out = DType::Bool; return true;
    case kOnnxFloat16: *out = DType::F16; return true;
    case kOnnxDouble: *out = DType::F64; return true;
    case kOnnxUint32: *out = DType::U32; return true;
    case kOnnxUint64: *out = DType::U64; return true;
    case kOnnxBfloat16: *out = DType::BF16; return true;
    default: return false;
    }
}

// Name of an ONNX type code for messages ("string", "complex64", "type 21").
std::string onnx_type_name(int32_t t) {
    switch (t) {
    case kOnnxUndefined: return "undefined";
    case kOnnxString: return "string";
    case kOnnxComplex64: return "complex64";
    case kOnnxComplex128: return "complex128";
    default: break;
    }
    DType d;
    if (dtype_from_onnx(t, &d)) return dtype_name(d);
    return "code " + std::to_string(t);
}

// Maps a TensorProto data type to a DType; `what` names the tensor in messages.
Status onnx_dtype(int32_t t, const std::string &what, DType *out) {
    if (dtype_from_onnx(t, out)) return Status::OK();
    if (t == kOnnxUndefined)
        return errorf(EMBER_ERR_FORMAT, "%s: no data type", what.c_str());
    return errorf(EMBER_ERR_UNSUPPORTED, "%s: data type %s is not supported", what.c_str(),
                  onnx_type_name(t).c_str());
}

// Cast-1..5 names its target type with a string ("FLOAT"); later versions use the code.
bool onnx_type_from_string(const std::string &s, int32_t *out) {
    static const std::pair<const char *, int32_t> kNames[] = {
        {"FLOAT", kOnnxFloat},   {"UINT8", kOnnxUint8},     {"INT8", kOnnxInt8},
        {"UINT16", kOnnxUint16}, {"INT16", kOnnxInt16},     {"INT32", kOnnxInt32},
        {"INT64", kOnnxInt64},   {"BOOL", kOnnxBool},       {"FLOAT16", kOnnxFloat16},
        {"DOUBLE", kOnnxDouble}, {"UINT32", kOnnxUint32},   {"UINT64", kOnnxUint64},
        {"BFLOAT16", kOnnxBfloat16}, {"STRING", kOnnxString},
    };
    for (const auto &kv : kNames) {
        if (s == kv.first) {
            *out = kv.second;
            return true;
        }
    }
    return false;
}

// ---------------------------------------------------------------------------------
// Tensors

// A decoded tensor: dtype, shape and little-endian element bytes.
struct TensorData {
    DType dtype = DType::Undefined;
    Shape shape;
    std::vector<uint8_t> bytes;
};

Status check_dims(const onnx::TensorProto &t, const std::string &what, Shape *shape,
                  int64_t *numel) {
    if (static_cast<size_t>(t.dims_size()) > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: rank %d exceeds the limit of %zu", what.c_str(),
                      t.dims_size(), kMaxRank);
    shape->assign(t.dims().begin(), t.dims().end());
    for (int64_t d : *shape)
        if (d < 0)
            return errorf(EMBER_ERR_FORMAT, "%s: negative dimension in shape %s", what.c_str(),
                          shape_str(*shape).c_str());
    if (!shape_numel_checked(*shape, numel))
        return errorf(EMBER_ERR_FORMAT, "%s: shape %s has too many elements", what.c_str(),
                      shape_str(*shape).c_str());
    return Status::OK();
}

Status count_mismatch(const std::string &what, const char *field, int64_t have,
                      const TensorData &t, int64_t need) {
    return errorf(EMBER_ERR_FORMAT, "%s: %s has %lld values, but a %s tensor of shape %s needs %lld",
                  what.c_str(), field, static_cast<long long>(have), dtype_name(t.dtype),
                  shape_str(t.shape).c_str(), static_cast<long long>(need));
}

// Copies a repeated field into `t->bytes`, converting each element to the storage type.
template <typename Stored, typename Field>
Status copy_typed(const Field &field, const char *field_name, const std::string &what,
                  int64_t numel, TensorData *t) {
    if (static_cast<int64_t>(field.size()) != numel)
        return count_mismatch(what, field_name, field.size(), *t, numel);
    t->bytes.resize(static_cast<size_t>(numel) * sizeof(Stored));
    Stored *dst = reinterpret_cast<Stored *>(t->bytes.data());
    for (int64_t i = 0; i < numel; i++) dst[i] = static_cast<Stored>(field.Get(static_cast<int>(i)));
    return Status::OK();
}

// Reads the typed fields: which one holds the data depends on the data type (onnx.proto).
Status decode_typed_fields(const onnx::TensorProto &p, const std::string &what, int64_t numel,
                           TensorData *t) {
    switch (t->dtype) {
    case DType::F32: return copy_typed<float>(p.float_data(), "float_data", what, numel, t);
    case DType::F64: return copy_typed<double>(p.double_data(), "double_data", what, numel, t);
    case DType::I64: return copy_typed<int64_t>(p.int64_data(), "int64_data", what, numel, t);
    case DType::U32: return copy_typed<uint32_t>(p.uint64_data(), "uint64_data", what, numel, t);
    case DType::U64: return copy_typed<uint64_t>(p.uint64_data(), "uint64_data", what, numel, t);
    case DType::I32: return copy_typed<int32_t>(p.int32_data(), "int32_data", what, numel, t);
    case DType::I16: return copy_typed<int16_t>(p.int32_data(), "int32_data", what, numel, t);
    case DType::U16: return copy_typed<uint16_t>(p.int32_data(), "int32_data", what, numel, t);
    case DType::I8: return copy_typed<int8_t>(p.int32_data(), "int32_data", what, numel, t);
    case DType::U8: return copy_typed<uint8_t>(p.int32_data(), "int32_data", what, numel, t);
    case DType::Bool: return copy_typed<uint8_t>(p.int32_data(), "int32_data", what, numel, t);
    // float16 / bfloat16: the 16-bit pattern in the low half of each int32.
    case DType::F16:
    case DType::BF16: return copy_typed<uint16_t>(p.int32_data(), "int32_data", what, numel, t);
    default: break;
    }
    return errorf(EMBER_ERR_INTERNAL, "%s: no typed field for %s", what.c_str(),
                  dtype_name(t->dtype));
}

Status external_data_error(const onnx::TensorProto &p, const std::string &what) {
    std::string location;
    for (const auto &kv : p.external_data())
        if (kv.key() == "location") location = kv.value();
    return errorf(EMBER_ERR_UNSUPPORTED,
                  "%s: external data (file '%s') is not supported; save the model with its "
                  "tensors inside the .onnx file",
                  what.c_str(), location.c_str());
}

// Decodes a TensorProto; `what` ("initializer 'w'") prefixes every message.
Status decode_tensor(const onnx::TensorProto &p, const std::string &what, TensorData *t) {
    if (p.data_location() == onnx::TensorProto_DataLocation_EXTERNAL || p.external_data_size() > 0)
        return external_data_error(p, what);
    if (p.has_segment())
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: segmented tensors are not supported",
                      what.c_str());
    EMBER_RETURN_IF_ERROR(onnx_dtype(p.data_type(), what, &t->dtype));
    int64_t numel = 0;
    EMBER_RETURN_IF_ERROR(check_dims(p, what, &t->shape, &numel));
    if (!p.has_raw_data()) EMBER_RETURN_IF_ERROR(decode_typed_fields(p, what, numel, t));
    else {
        const size_t need = static_cast<size_t>(numel) * dtype_size(t->dtype);
        if (p.raw_data().size() != need)
            return errorf(EMBER_ERR_FORMAT,
                          "%s: raw_data has %zu bytes, but a %s tensor of shape %s needs %zu",
                          what.c_str(), p.raw_data().size(), dtype_name(t->dtype),
                          shape_str(t->shape).c_str(), need);
        t->bytes.assign(p.raw_data().begin(), p.raw_data().end());
    }
    if (t->dtype == DType::Bool)  // kernels may rely on 0 / 1
        for (uint8_t &b : t->bytes) b = b ? 1 : 0;
    return Status::OK();
}

// Bytes of a scalar `v` stored as `dt` (a float type; anything else gets float32).
std::vector<uint8_t> float_scalar_bytes(double v, DType *dt) {
    std::vector<uint8_t> b;
    auto put = [&b](const void *p, size_t n) {
        const uint8_t *s = static_cast<const uint8_t *>(p);
        b.assign(s, s + n);
    };
    if (*dt == DType::F16) {
        uint16_t h = float_to_half(static_cast<float>(v));
        put(&h, 2);
    } else if (*dt == DType::BF16) {
        uint16_t h = float_to_bf16(static_cast<float>(v));
        put(&h, 2);
    } else if (*dt == DType::F64) {
        put(&v, 8);
    } else {
        *dt = DType::F32;
        float f = static_cast<float>(v);
        put(&f, 4);
    }
    return b;
}

// ---------------------------------------------------------------------------------
// Files

Status read_file(const std::string &path, const char *what, std::vector<uint8_t> *out) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
        return errorf(EMBER_ERR_IO, "cannot open %s '%s': %s", what, path.c_str(),
                      std::strerror(errno));
    out->clear();
    uint8_t buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + n);
    int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err)
        return errorf(EMBER_ERR_IO, "cannot read %s '%s': %s", what, path.c_str(),
                      std::strerror(err));
    return Status::OK();
}

// One label per line: CRLF and CR become LF, a UTF-8 byte order mark and trailing
// empty lines are dropped.
std::string normalize_labels(const std::vector<uint8_t> &raw) {
    std::string s;
    s.reserve(raw.size());
    size_t i = 0;
    if (raw.size() >= 3 && raw[0] == 0xEF && raw[1] == 0xBB && raw[2] == 0xBF) i = 3;
    for (; i < raw.size(); i++) {
        char c = static_cast<char>(raw[i]);
        if (c == '\r') {
            s.push_back('\n');
            if (i + 1 < raw.size() && raw[i + 1] == '\n') i++;
        } else {
            s.push_back(c);
        }
    }
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

// ---------------------------------------------------------------------------------
// The importer

// Ops whose output 0 has the dtype of input 0: used to guess the dtype of a value that
// a legacy rewrite needs (Clip < 11 min/max, Pad < 11 value) when the model has no
// value_info for it.
bool keeps_input_dtype(const std::string &op) {
    static const std::unordered_set<std::string> kOps = {
        "Abs", "Add", "AveragePool", "BatchNormalization", "Ceil", "Clip", "Concat", "Conv",
        "ConvTranspose", "DepthToSpace", "Div", "Dropout", "Elu", "Erf", "Exp", "Expand",
        "Flatten", "Floor", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
        "HardSigmoid", "HardSwish", "Identity", "InstanceNormalization", "LRN",
        "LayerNormalization", "LeakyRelu", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool",
        "Mean", "Min", "Mul", "Neg", "PRelu", "Pad", "Pow", "Reciprocal", "ReduceL2",
        "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "Relu", "Reshape",
        "Resize", "Selu", "Sigmoid", "Slice", "Softmax", "Softplus", "SpaceToDepth", "Split",
        "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose", "Unsqueeze", "Upsample",
    };
    return kOps.count(op) != 0;
}

class Importer {
public:
    Importer(const onnx::ModelProto &model, const ConvertOptions &opts)
        : model_(model), opts_(opts) {}
    Status run(Graph *out);

private:
    // setup
    Status read_opsets();
    Status add_initializers();
    Status add_inputs();
    void reserve_names();
    Status add_value_info_hints();
    Status add_nodes();
    Status add_outputs();
    Status add_metadata();
    Status run_passes();

    // values
    int32_t value_of(const std::string &name);
    std::string unique_name(const std::string &base) const;
    Status attach_constant(int32_t vid, TensorData &&t, const std::string &what);
    int32_t add_constant(const std::string &base, TensorData &&t);
    int32_t add_int64s(const std::string &base, const std::vector<int64_t> &v, bool scalar);
    int32_t add_float_scalar(const std::string &base, double v, DType dt);
    Status type_to_value(const onnx::TypeProto &type, const std::string &what, Value *v);
    DType known_dtype(int32_t vid) const;
    DType output_dtype_hint(const Node &n) const;

    // nodes
    Status convert_node(const onnx::NodeProto &np, size_t index);
    Status convert_constant_node(const onnx::NodeProto &np, const std::string &name);
    Status convert_attr(const onnx::AttributeProto &a, const std::string &node_name,
                        Attribute *out);
    Status rewrite_legacy(Node *n, int64_t version);
    Status rewrite_clip(Node *n);
    Status rewrite_pad(Node *n, int64_t version);
    Status rewrite_slice(Node *n);
    Status rewrite_to_resize(Node *n, int64_t version);
    void attr_to_int64_input(Node *n, const char *attr, size_t index, bool scalar);
    int64_t opset_of(const std::string &domain) const;

    const onnx::ModelProto &model_;
    const ConvertOptions &opts_;
    Graph g_;
    std::unordered_map<std::string, int32_t> ids_;          // value name -> id
    std::unordered_map<std::string, int64_t> opsets_;       // domain -> version
    std::unordered_set<std::string> initializer_names_;
    std::vector<DType> hints_;                              // value id -> dtype guess
};

int64_t Importer::opset_of(const std::string &domain) const {
    auto it = opsets_.find(domain);
    return it == opsets_.end() ? 1 : it->second;
}

int32_t Importer::value_of(const std::string &name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    int32_t id = g_.add_value(name, DType::Undefined);
    ids_.emplace(name, id);
    return id;
}

std::string Importer::unique_name(const std::string &base) const {
    if (!ids_.count(base)) return base;
    for (int k = 1;; k++) {
        std::string name = base + "_" + std::to_string(k);
        if (!ids_.count(name)) return name;
    }
}

// Makes value `vid` a constant holding `t` (the data is moved, not copied).
Status Importer::attach_constant(int32_t vid, TensorData &&t, const std::string &what) {
    Value &v = g_.values[vid];
    if (v.constant >= 0)
        return errorf(EMBER_ERR_FORMAT, "%s: value '%s' is defined twice", what.c_str(),
                      v.name.c_str());
    v.dtype = t.dtype;
    v.has_shape = true;
    v.shape = std::move(t.shape);
    v.dim_names.assign(v.shape.size(), "");
    ConstData c;
    c.owned = std::make_shared<std::vector<uint8_t>>(std::move(t.bytes));
    c.data = c.owned->data();
    c.nbytes = c.owned->size();
    g_.constants.push_back(std::move(c));
    v.constant = static_cast<int32_t>(g_.constants.size() - 1);
    return Status::OK();
}

int32_t Importer::add_constant(const std::string &base, TensorData &&t) {
    int32_t id = value_of(unique_name(base));
    attach_constant(id, std::move(t), base);  // a fresh value: cannot fail
    return id;
}

int32_t Importer::add_int64s(const std::string &base, const std::vector<int64_t> &v, bool scalar) {
    TensorData t;
    t.dtype = DType::I64;
    if (!scalar) t.shape = {static_cast<int64_t>(v.size())};
    const uint8_t *p = reinterpret_cast<const uint8_t *>(v.data());
    t.bytes.assign(p, p + v.size() * sizeof(int64_t));
    return add_constant(base, std::move(t));
}

int32_t Importer::add_float_scalar(const std::string &base, double v, DType dt) {
    TensorData t;
    t.bytes = float_scalar_bytes(v, &dt);
    t.dtype = dt;
    return add_constant(base, std::move(t));
}

DType Importer::known_dtype(int32_t vid) const {
    if (vid < 0) return DType::Undefined;
    if (g_.values[vid].dtype != DType::Undefined) return g_.values[vid].dtype;
    return static_cast<size_t>(vid) < hints_.size() ? hints_[vid] : DType::Undefined;
}

// The dtype of n's output 0 where it follows from what is known of its inputs.
DType Importer::output_dtype_hint(const Node &n) const {
    if (n.op_type == "Cast") {
        DType dt;
        return dtype_from_onnx(static_cast<int32_t>(n.attr_int("to", 0)), &dt) ? dt
                                                                               : DType::Undefined;
    }
    if (keeps_input_dtype(n.op_type) && !n.inputs.empty()) return known_dtype(n.inputs[0]);
    return DType::Undefined;
}

Status Importer::read_opsets() {
    for (const auto &op : model_.opset_import()) {
        std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
        opsets_[domain] = op.version();
    }
    // IR version 2 and older had no opset_import: opset 1 is implied.
    if (!opsets_.count("")) opsets_[""] = 1;
    g_.opset = opsets_[""];
    if (g_.opset < kMinOpset)
        return errorf(EMBER_ERR_FORMAT, "model imports ONNX opset %lld",
                      static_cast<long long>(g_.opset));
    if (g_.opset > kMaxOpset)
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "model uses ONNX opset %lld; Ember imports opsets %lld to %lld",
                      static_cast<long long>(g_.opset), static_cast<long long>(kMinOpset),
                      static_cast<long long>(kMaxOpset));
    return Status::OK();
}

Status Importer::add_initializers() {
    const onnx::GraphProto &gp = model_.graph();
    if (gp.sparse_initializer_size() > 0) {
        const auto &s = gp.sparse_initializer(0);
        return errorf(EMBER_ERR_UNSUPPORTED, "sparse initializer '%s' is not supported",
                      s.values().name().c_str());
    }
    for (const auto &init : gp.initializer()) {
        std::string what = "initializer '" + init.name() + "'";
        if (init.name().empty())
            return errorf(EMBER_ERR_FORMAT, "an initializer has no name");
        if (!initializer_names_.insert(init.name()).second)
            return errorf(EMBER_ERR_FORMAT, "%s is defined twice", what.c_str());
        TensorData t;
        EMBER_RETURN_IF_ERROR(decode_tensor(init, what, &t));
        EMBER_RETURN_IF_ERROR(attach_constant(value_of(init.name()), std::move(t), what));
    }
    return Status::OK();
}

// Fills v's dtype and shape from a tensor TypeProto.
Status Importer::type_to_value(const onnx::TypeProto &type, const std::string &what, Value *v) {
    if (type.value_case() == onnx::TypeProto::VALUE_NOT_SET) return Status::OK();
    if (type.value_case() != onnx::TypeProto::kTensorType) {
        const char *kind = type.has_sequence_type() ? "sequence"
                           : type.has_map_type()     ? "map"
                           : type.has_optional_type() ? "optional"
                           : type.has_sparse_tensor_type() ? "sparse tensor"
                                                           : "non-tensor";
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: %s values are not supported", what.c_str(), kind);
    }
    const onnx::TypeProto_Tensor &tt = type.tensor_type();
    v->dtype = DType::Undefined;
    if (tt.elem_type() != kOnnxUndefined) EMBER_RETURN_IF_ERROR(onnx_dtype(tt.elem_type(), what, &v->dtype));
    v->has_shape = tt.has_shape();
    v->shape.clear();
    v->dim_names.clear();
    if (!tt.has_shape()) return Status::OK();
    if (static_cast<size_t>(tt.shape().dim_size()) > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "%s: rank %d exceeds the limit of %zu", what.c_str(),
                      tt.shape().dim_size(), kMaxRank);
    for (const auto &d : tt.shape().dim()) {
        if (d.has_dim_value()) {
            if (d.dim_value() < 0)
                return errorf(EMBER_ERR_FORMAT, "%s: negative dimension %lld", what.c_str(),
                              static_cast<long long>(d.dim_value()));
            v->shape.push_back(d.dim_value());
            v->dim_names.emplace_back();
        } else {
            v->shape.push_back(-1);
            v->dim_names.push_back(d.has_dim_param() ? d.dim_param() : std::string());
        }
    }
    return Status::OK();
}

// Graph inputs that are not initializers (IR < 4 lists initializers as inputs too).
Status Importer::add_inputs() {
    std::unordered_set<std::string> seen;
    for (const auto &in : model_.graph().input()) {
        if (initializer_names_.count(in.name())) continue;
        std::string what = "input '" + in.name() + "'";
        if (in.name().empty()) return errorf(EMBER_ERR_FORMAT, "a graph input has no name");
        if (!seen.insert(in.name()).second)
            return errorf(EMBER_ERR_FORMAT, "%s is listed twice", what.c_str());
        int32_t id = value_of(in.name());
        EMBER_RETURN_IF_ERROR(type_to_value(in.type(), what, &g_.values[id]));
        g_.inputs.push_back(id);
    }
    return Status::OK();
}

// Creates the values of every name the graph uses, so that names made up for new
// constants ("<node>.min") never take one of them.
void Importer::reserve_names() {
    for (const auto &np : model_.graph().node()) {
        for (const auto &in : np.input())
            if (!in.empty()) value_of(in);
        for (const auto &o : np.output())
            if (!o.empty()) value_of(o);
    }
    for (const auto &o : model_.graph().output())
        if (!o.name().empty()) value_of(o.name());
}

// value_info gives intermediate dtypes; kept as hints only (infer_shapes is the
// authority), used by the rewrites that must create constants of an input's dtype.
Status Importer::add_value_info_hints() {
    for (const auto &vi : model_.graph().value_info()) {
        if (!vi.type().has_tensor_type()) continue;
        DType dt;
        auto it = ids_.find(vi.name());
        if (it == ids_.end() || !dtype_from_onnx(vi.type().tensor_type().elem_type(), &dt))
            continue;
        int32_t id = it->second;
        if (hints_.size() <= static_cast<size_t>(id)) hints_.resize(id + 1, DType::Undefined);
        hints_[id] = dt;
    }
    return Status::OK();
}

Status Importer::add_nodes() {
    const auto &nodes = model_.graph().node();
    for (int i = 0; i < nodes.size(); i++)
        EMBER_RETURN_IF_ERROR(convert_node(nodes.Get(i), static_cast<size_t>(i)));
    return Status::OK();
}

Status Importer::add_outputs() {
    for (const auto &o : model_.graph().output()) {
        if (o.name().empty()) return errorf(EMBER_ERR_FORMAT, "a graph output has no name");
        std::string what = "output '" + o.name() + "'";
        int32_t id = value_of(o.name());
        Value &v = g_.values[id];
        bool is_input = false;
        for (int32_t in : g_.inputs) is_input |= in == id;
        if (v.constant < 0 && !is_input) {
            EMBER_RETURN_IF_ERROR(type_to_value(o.type(), what, &v));
        }
        g_.outputs.push_back(id);
    }
    return Status::OK();
}

Status Importer::add_metadata() {
    std::string producer = model_.producer_name();
    if (!model_.producer_version().empty())
        producer += (producer.empty() ? "" : " ") + model_.producer_version();
    if (!producer.empty()) g_.metadata_set("producer", producer);
    g_.metadata_set("source_format", "onnx");
    g_.metadata_set("onnx_opset", std::to_string(g_.opset));
    const std::string &doc =
        model_.doc_string().empty() ? model_.graph().doc_string() : model_.doc_string();
    if (!doc.empty()) g_.metadata_set("doc", doc);
    for (const auto &kv : model_.metadata_props()) g_.metadata_set("onnx." + kv.key(), kv.value());
    if (!opts_.labels_path.empty()) {
        std::vector<uint8_t> raw;
        EMBER_RETURN_IF_ERROR(read_file(opts_.labels_path, "labels file", &raw));
        g_.metadata_set("labels", normalize_labels(raw));
    }
    if (!opts_.preprocess.empty()) g_.metadata_set("preprocess", opts_.preprocess);
    return Status::OK();
}

Status Importer::run_passes() {
    EMBER_RETURN_IF_ERROR(g_.validate_and_sort());
    if (opts_.fold_constants) EMBER_RETURN_IF_ERROR(fold_constants(&g_));
    EMBER_RETURN_IF_ERROR(infer_shapes(&g_));
    remove_dead_nodes(&g_);
    return Status::OK();
}

// Names the .ember format cannot store are refused here, with what they name, rather
// than written into a file the reader then rejects: value names, op types, attribute
// names and metadata keys must be non-empty, no name may contain a NUL byte, and a node
// may not repeat an attribute (FORMAT.md "Graph section").
Status check_names(const Graph &g) {
    auto has_nul = [](const std::string &s) { return s.find('\0') != std::string::npos; };
    for (const Value &v : g.values) {
        if (v.name.empty() || has_nul(v.name))
            return errorf(EMBER_ERR_FORMAT, "a value name is empty or contains a NUL byte");
        for (const std::string &d : v.dim_names)
            if (has_nul(d))
                return errorf(EMBER_ERR_FORMAT, "value '%s': a dim name contains a NUL byte",
                              v.name.c_str());
    }
    for (const Node &n : g.nodes) {
        if (has_nul(n.name) || has_nul(n.op_type) || has_nul(n.domain))
            return errorf(EMBER_ERR_FORMAT, "node '%s': its name, op_type or domain contains a NUL byte",
                          n.name.c_str());
        for (size_t i = 0; i < n.attrs.size(); i++) {
            const std::string &a = n.attrs[i].name;
            if (a.empty() || has_nul(a))
                return errorf(EMBER_ERR_FORMAT,
                              "node '%s': an attribute name is empty or contains a NUL byte",
                              n.name.c_str());
            for (size_t j = 0; j < i; j++)
                if (n.attrs[j].name == a)
                    return errorf(EMBER_ERR_FORMAT, "node '%s': attribute '%s' appears twice",
                                  n.name.c_str(), a.c_str());
        }
    }
    for (const auto &kv : g.metadata)
        if (kv.first.empty() || has_nul(kv.first))
            return errorf(EMBER_ERR_FORMAT, "a metadata key is empty or contains a NUL byte");
    return Status::OK();
}

Status Importer::run(Graph *out) {
    if (!model_.has_graph())
        return errorf(EMBER_ERR_FORMAT, "not an ONNX model: the ModelProto has no graph");
    EMBER_RETURN_IF_ERROR(read_opsets());
    EMBER_RETURN_IF_ERROR(add_initializers());
    EMBER_RETURN_IF_ERROR(add_inputs());
    reserve_names();
    EMBER_RETURN_IF_ERROR(add_value_info_hints());
    EMBER_RETURN_IF_ERROR(add_nodes());
    EMBER_RETURN_IF_ERROR(add_outputs());
    EMBER_RETURN_IF_ERROR(add_metadata());
    EMBER_RETURN_IF_ERROR(check_names(g_));
    EMBER_RETURN_IF_ERROR(run_passes());
    *out = std::move(g_);
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Nodes

const char *attr_type_name(int t) {
    switch (t) {
    case onnx::AttributeProto::GRAPH: return "graph";
    case onnx::AttributeProto::GRAPHS: return "graphs";
    case onnx::AttributeProto::SPARSE_TENSOR: return "sparse tensor";
    case onnx::AttributeProto::SPARSE_TENSORS: return "sparse tensors";
    case onnx::AttributeProto::TENSORS: return "tensors";
    case onnx::AttributeProto::TYPE_PROTO: return "type proto";
    case onnx::AttributeProto::TYPE_PROTOS: return "type protos";
    default: return "unknown";
    }
}

// IR version 1 attributes may lack `type`: derive it from the field that is set.
int attr_kind(const onnx::AttributeProto &a) {
    if (a.type() != onnx::AttributeProto::UNDEFINED) return a.type();
    if (a.has_f()) return onnx::AttributeProto::FLOAT;
    if (a.has_i()) return onnx::AttributeProto::INT;
    if (a.has_s()) return onnx::AttributeProto::STRING;
    if (a.has_t()) return onnx::AttributeProto::TENSOR;
    if (a.has_g()) return onnx::AttributeProto::GRAPH;
    if (a.floats_size()) return onnx::AttributeProto::FLOATS;
    if (a.strings_size()) return onnx::AttributeProto::STRINGS;
    if (a.graphs_size()) return onnx::AttributeProto::GRAPHS;
    if (a.tensors_size()) return onnx::AttributeProto::TENSORS;
    return onnx::AttributeProto::INTS;  // also an empty list of any type
}

Status Importer::convert_attr(const onnx::AttributeProto &a, const std::string &node_name,
                              Attribute *out) {
    out->name = a.name();
    switch (attr_kind(a)) {
    case onnx::AttributeProto::INT: out->type = AttrType::Int; out->i = a.i(); break;
    case onnx::AttributeProto::FLOAT: out->type = AttrType::Float; out->f = a.f(); break;
    case onnx::AttributeProto::STRING: out->type = AttrType::String; out->s = a.s(); break;
    case onnx::AttributeProto::INTS:
        out->type = AttrType::Ints;
        out->ints.assign(a.ints().begin(), a.ints().end());
        break;
    case onnx::AttributeProto::FLOATS:
        out->type = AttrType::Floats;
        out->floats.assign(a.floats().begin(), a.floats().end());
        break;
    case onnx::AttributeProto::STRINGS:
        out->type = AttrType::Strings;
        out->strings.assign(a.strings().begin(), a.strings().end());
        break;
    case onnx::AttributeProto::TENSOR: {
        std::string what = "node '" + node_name + "': attribute '" + a.name() + "'";
        TensorData t;
        EMBER_RETURN_IF_ERROR(decode_tensor(a.t(), what, &t));
        out->type = AttrType::Tensor;
        out->i = add_constant(node_name + "." + a.name(), std::move(t));
        break;
    }
    default:
        return errorf(EMBER_ERR_UNSUPPORTED, "node '%s': attribute '%s' of type %s is not supported",
                      node_name.c_str(), a.name().c_str(), attr_type_name(attr_kind(a)));
    }
    return Status::OK();
}

Status Importer::convert_constant_node(const onnx::NodeProto &np, const std::string &name) {
    if (np.output_size() != 1 || np.output(0).empty())
        return errorf(EMBER_ERR_FORMAT, "node '%s' (Constant) must have one output, has %d",
                      name.c_str(), np.output_size());
    if (np.attribute_size() != 1)
        return errorf(EMBER_ERR_FORMAT, "node '%s' (Constant) must have one value attribute, has %d",
                      name.c_str(), np.attribute_size());
    const onnx::AttributeProto &a = np.attribute(0);
    std::string what = "node '" + name + "': attribute '" + a.name() + "'";
    TensorData t;
    if (a.name() == "value") {
        EMBER_RETURN_IF_ERROR(decode_tensor(a.t(), what, &t));
    } else if (a.name() == "value_float" || a.name() == "value_floats") {
        std::vector<float> v(a.floats().begin(), a.floats().end());
        if (a.name() == "value_float") v.assign(1, a.f());
        else t.shape = {static_cast<int64_t>(v.size())};
        t.dtype = DType::F32;
        t.bytes.assign(reinterpret_cast<const uint8_t *>(v.data()),
                       reinterpret_cast<const uint8_t *>(v.data() + v.size()));
    } else if (a.name() == "value_int" || a.name() == "value_ints") {
        std::vector<int64_t> v(a.ints().begin(), a.ints().end());
        if (a.name() == "value_int") v.assign(1, a.i());
        else t.shape = {static_cast<int64_t>(v.size())};
        t.dtype = DType::I64;
        t.bytes.assign(reinterpret_cast<const uint8_t *>(v.data()),
                       reinterpret_cast<const uint8_t *>(v.data() + v.size()));
    } else {
        return errorf(EMBER_ERR_UNSUPPORTED, "node '%s' (Constant): attribute '%s' is not supported",
                      name.c_str(), a.name().c_str());
    }
    // A graph input of the same name makes validate_and_sort fail with that name.
    return attach_constant(value_of(np.output(0)), std::move(t), "node '" + name + "' (Constant)");
}

Status Importer::convert_node(const onnx::NodeProto &np, size_t index) {
    const std::string name =
        np.name().empty() ? np.op_type() + "_" + std::to_string(index) : np.name();
    const std::string domain = np.domain() == "ai.onnx" ? "" : np.domain();
    const int64_t version = opset_of(domain);
    if (np.op_type().empty()) return errorf(EMBER_ERR_FORMAT, "node '%s' has no op_type", name.c_str());
    if (domain.empty() && np.op_type() == "Constant") return convert_constant_node(np, name);

    Node n;
    n.name = name;
    n.domain = domain;
    n.op_type = domain.empty() && np.op_type() == "Upsample" ? "Resize" : np.op_type();
    if (!builtin_ops().find(n.op_type, n.domain)) {
        std::string op = domain.empty() ? np.op_type() : domain + "::" + np.op_type();
        return errorf(EMBER_ERR_UNSUPPORTED, "node '%s': operator '%s' (opset %lld) is not supported",
                      name.c_str(), op.c_str(), static_cast<long long>(version));
    }
    for (const auto &in : np.input()) n.inputs.push_back(in.empty() ? -1 : value_of(in));
    for (const auto &o : np.output()) n.outputs.push_back(o.empty() ? -1 : value_of(o));
    for (const auto &a : np.attribute()) {
        Attribute attr;
        EMBER_RETURN_IF_ERROR(convert_attr(a, name, &attr));
        n.attrs.push_back(std::move(attr));
    }
    if (domain.empty()) {
        n.op_type = np.op_type();  // the rewrite keys on the source op
        EMBER_RETURN_IF_ERROR(rewrite_legacy(&n, version));
    }
    if (!n.outputs.empty() && n.outputs[0] >= 0) {
        if (hints_.size() < g_.values.size()) hints_.resize(g_.values.size(), DType::Undefined);
        if (hints_[n.outputs[0]] == DType::Undefined) hints_[n.outputs[0]] = output_dtype_hint(n);
    }
    g_.nodes.push_back(std::move(n));
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Legacy forms -> opset-17 forms (docs/ops.md)

// Removes attribute `name` from n, returning it in *out; false if absent.
bool take_attr(Node *n, const char *name, Attribute *out) {
    for (size_t i = 0; i < n->attrs.size(); i++) {
        if (n->attrs[i].name == name) {
            *out = std::move(n->attrs[i]);
            n->attrs.erase(n->attrs.begin() + static_cast<std::ptrdiff_t>(i));
            return true;
        }
    }
    return false;
}

void set_attr_int(Node *n, const char *name, int64_t v) {
    Attribute tmp;
    take_attr(n, name, &tmp);
    Attribute a;
    a.name = name;
    a.type = AttrType::Int;
    a.i = v;
    n->attrs.push_back(std::move(a));
}

void set_attr_string(Node *n, const char *name, const std::string &v) {
    Attribute tmp;
    take_attr(n, name, &tmp);
    Attribute a;
    a.name = name;
    a.type = AttrType::String;
    a.s = v;
    n->attrs.push_back(std::move(a));
}

// Places value `id` at input `index`, padding with omitted (-1) inputs.
void set_input(Node *n, size_t index, int32_t id) {
    if (n->inputs.size() <= index) n->inputs.resize(index + 1, -1);
    n->inputs[index] = id;
}

std::vector<int64_t> attr_as_ints(const Attribute &a) {
    if (a.type == AttrType::Ints) return a.ints;
    if (a.type == AttrType::Int) return {a.i};
    return {};
}

// Moves integer attribute `attr` (if present, and if the input is not already given)
// into input `index` as an int64 constant: 1-D, or a scalar when `scalar`.
void Importer::attr_to_int64_input(Node *n, const char *attr, size_t index, bool scalar) {
    Attribute a;
    if (!take_attr(n, attr, &a)) return;
    if (n->has_input(index)) return;  // the input form wins (e.g. Split-1's second input)
    set_input(n, index, add_int64s(n->name + "." + attr, attr_as_ints(a), scalar));
}

Status Importer::rewrite_clip(Node *n) {
    Attribute lo, hi;
    bool has_lo = take_attr(n, "min", &lo), has_hi = take_attr(n, "max", &hi);
    // Clip-6 and older take float types only; a dtype we cannot see is taken as float32.
    DType dt = n->inputs.empty() ? DType::Undefined : known_dtype(n->inputs[0]);
    n->inputs.resize(std::min<size_t>(n->inputs.size(), 1));
    if (has_lo) set_input(n, 1, add_float_scalar(n->name + ".min", lo.f, dt));
    if (has_hi) set_input(n, 2, add_float_scalar(n->name + ".max", hi.f, dt));
    return Status::OK();
}

Status Importer::rewrite_pad(Node *n, int64_t version) {
    Attribute pads, value;
    bool has_pads = take_attr(n, "pads", &pads);
    if (!has_pads && version < 2) has_pads = take_attr(n, "paddings", &pads);  // Pad-1
    if (!has_pads)
        return errorf(EMBER_ERR_FORMAT, "node '%s' (Pad, opset %lld) has no 'pads' attribute",
                      n->name.c_str(), static_cast<long long>(version));
    n->inputs.resize(std::min<size_t>(n->inputs.size(), 1));
    set_input(n, 1, add_int64s(n->name + ".pads", attr_as_ints(pads), false));
    if (take_attr(n, "value", &value) && value.f != 0.0f) {
        DType dt = n->inputs.empty() ? DType::Undefined : known_dtype(n->inputs[0]);
        set_input(n, 2, add_float_scalar(n->name + ".value", value.f, dt));
    }
    return Status::OK();
}

Status Importer::rewrite_slice(Node *n) {
    Attribute starts, ends, axes;
    if (!take_attr(n, "starts", &starts) || !take_attr(n, "ends", &ends))
        return errorf(EMBER_ERR_FORMAT, "node '%s' (Slice < 10) needs attributes 'starts' and 'ends'",
                      n->name.c_str());
    n->inputs.resize(std::min<size_t>(n->inputs.size(), 1));
    set_input(n, 1, add_int64s(n->name + ".starts", attr_as_ints(starts), false));
    set_input(n, 2, add_int64s(n->name + ".ends", attr_as_ints(ends), false));
    if (take_attr(n, "axes", &axes))
        set_input(n, 3, add_int64s(n->name + ".axes", attr_as_ints(axes), false));
    return Status::OK();
}

// Upsample (any version) and Resize-10 -> Resize (X, roi omitted, scales), with the
// coordinate mapping those versions define: asymmetric, nearest rounds down.
Status Importer::rewrite_to_resize(Node *n, int64_t version) {
    Attribute mode, scales, hs, ws;
    std::string m = take_attr(n, "mode", &mode) && mode.type == AttrType::String ? mode.s : "nearest";
    if (m == "bilinear" || m == "trilinear") m = "linear";  // Upsample-1 names
    bool has_scales_attr = take_attr(n, "scales", &scales);                     // Upsample-7, 8
    bool has_h = take_attr(n, "height_scale", &hs), has_w = take_attr(n, "width_scale", &ws);
    bool has_hw = has_h || has_w;                                               // Upsample-1
    if (!has_h) hs.f = 1.0f;
    if (!has_w) ws.f = 1.0f;
    int32_t scales_id = n->inputs.size() > 1 ? n->inputs[1] : -1;               // 9+, Resize-10
    if (has_scales_attr) {
        TensorData t;
        t.dtype = DType::F32;
        t.shape = {static_cast<int64_t>(scales.floats.size())};
        t.bytes.assign(reinterpret_cast<const uint8_t *>(scales.floats.data()),
                       reinterpret_cast<const uint8_t *>(scales.floats.data() + scales.floats.size()));
        scales_id = add_constant(n->name + ".scales", std::move(t));
    } else if (has_hw) {
        const float s[4] = {1.0f, 1.0f, hs.f, ws.f};
        TensorData t;
        t.dtype = DType::F32;
        t.shape = {4};
        t.bytes.assign(reinterpret_cast<const uint8_t *>(s), reinterpret_cast<const uint8_t *>(s + 4));
        scales_id = add_constant(n->name + ".scales", std::move(t));
    }
    if (scales_id < 0)
        return errorf(EMBER_ERR_FORMAT, "node '%s' (%s, opset %lld) has no scales", n->name.c_str(),
                      n->op_type.c_str(), static_cast<long long>(version));
    n->op_type = "Resize";
    n->inputs.resize(std::min<size_t>(n->inputs.size(), 1));
    set_input(n, 2, scales_id);
    set_attr_string(n, "mode", m);
    set_attr_string(n, "coordinate_transformation_mode", "asymmetric");
    set_attr_string(n, "nearest_mode", "floor");
    return Status::OK();
}

Status Importer::rewrite_legacy(Node *n, int64_t version) {
    const std::string &op = n->op_type;
    Attribute unused;
    if (version < 6) take_attr(n, "consumed_inputs", &unused);  // an opset-1 memory hint
    if (op == "Clip" && version < 11) return rewrite_clip(n);
    if (op == "Pad" && version < 11) return rewrite_pad(n, version);
    if (op == "Slice" && version < 10) return rewrite_slice(n);
    if ((op == "Squeeze" || op == "Unsqueeze") && version < 13)
        attr_to_int64_input(n, "axes", 1, false);
    if (op == "Split" && version < 13) attr_to_int64_input(n, "split", 1, false);
    if (op == "ReduceSum" && version < 13) attr_to_int64_input(n, "axes", 1, false);
    if (op == "Reshape" && version < 5) attr_to_int64_input(n, "shape", 1, false);
    if (op == "TopK" && version < 10) attr_to_int64_input(n, "k", 1, false);
    if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && version < 13) {
        set_attr_int(n, "axis", n->attr_int("axis", 1));
        set_attr_int(n, "coerce_2d", 1);
    }
    if (op == "Concat" && version < 4 && !n->attr("axis")) set_attr_int(n, "axis", 1);
    // Gemm-7 broadcasts C whenever it can: the superset of Gemm < 7 with or without
    // `broadcast`. (Add, Mul, ... < 7 keep `broadcast`/`axis`: their kernel reads them.)
    if (op == "Gemm" && version < 7) take_attr(n, "broadcast", &unused);
    if (op == "Cast" && version < 6) {
        const Attribute *to = n->attr("to");
        int32_t code = 0;
        if (to && to->type == AttrType::String) {
            if (!onnx_type_from_string(to->s, &code))
                return errorf(EMBER_ERR_FORMAT, "node '%s' (Cast): unknown type '%s'",
                              n->name.c_str(), to->s.c_str());
            set_attr_int(n, "to", code);
        }
    }
    if (op == "Upsample" || (op == "Resize" && version < 11)) return rewrite_to_resize(n, version);
    return Status::OK();
}

// ---------------------------------------------------------------------------------
// Entry points

Status import_model(const onnx::ModelProto &model, const ConvertOptions &opts, Graph *out) {
    Graph g;
    Importer imp(model, opts);
    EMBER_RETURN_IF_ERROR(imp.run(&g));
    *out = std::move(g);
    return Status::OK();
}

Status import_bytes_impl(const void *data, size_t size, const ConvertOptions &opts, Graph *out) {
    if (!out) return errorf(EMBER_ERR_INVALID_ARGUMENT, "import_onnx_bytes: out is NULL");
    if (!data && size > 0)
        return errorf(EMBER_ERR_INVALID_ARGUMENT, "import_onnx_bytes: data is NULL");
    if (size > static_cast<size_t>(INT_MAX))
        return errorf(EMBER_ERR_UNSUPPORTED,
                      "ONNX model of %zu bytes: models over 2 GiB (protobuf's limit) are not "
                      "supported",
                      size);
    onnx::ModelProto model;
    if (!model.ParseFromArray(data, static_cast<int>(size)))
        return errorf(EMBER_ERR_FORMAT, "not an ONNX model: %zu bytes do not parse as a ModelProto",
                      size);
    return import_model(model, opts, out);
}

// Turns any exception (protobuf may throw std::bad_alloc) into a Status.
template <typename Fn>
Status guarded(const char *where, Fn &&fn) {
    try {
        return fn();
    } catch (const std::bad_alloc &) {
        return errorf(EMBER_ERR_OUT_OF_MEMORY, "%s: out of memory", where);
    } catch (const std::exception &e) {
        return errorf(EMBER_ERR_INTERNAL, "%s: unexpected exception: %s", where, e.what());
    } catch (...) {
        return errorf(EMBER_ERR_INTERNAL, "%s: unexpected exception", where);
    }
}

}  // namespace

Status import_onnx_file(const std::string &path, const ConvertOptions &opts, Graph *out) {
    return guarded("import_onnx_file", [&]() -> Status {
        std::vector<uint8_t> bytes;
        EMBER_RETURN_IF_ERROR(read_file(path, "ONNX model", &bytes));
        Status st = import_bytes_impl(bytes.data(), bytes.size(), opts, out);
        if (!st.ok() && st.code() == EMBER_ERR_FORMAT)
            return Status(st.code(), path + ": " + st.message());
        return st;
    });
}

Status import_onnx_bytes(const void *data, size_t size, const ConvertOptions &opts, Graph *out) {
    return guarded("import_onnx_bytes",
                   [&]() -> Status { return import_bytes_impl(data, size, opts, out); });
}

}  // namespace ember
