#include "core/op.h"

namespace ember {

namespace {
class FnKernel : public Kernel {
public:
    FnKernel(std::function<Status(const KernelIO &)> fn, size_t scratch)
        : fn_(std::move(fn)), scratch_(scratch) {}
    size_t scratch_bytes() const override { return scratch_; }
    Status run(const KernelIO &io) override { return fn_(io); }

private:
    std::function<Status(const KernelIO &)> fn_;
    size_t scratch_;
};
}  // namespace

std::unique_ptr<Kernel> make_fn_kernel(std::function<Status(const KernelIO &)> fn,
                                       size_t scratch_bytes) {
    return std::unique_ptr<Kernel>(new FnKernel(std::move(fn), scratch_bytes));
}

const ConstData *InferContext::attr_tensor(const char *name, const Value **info) const {
    const Attribute *a = node->attr(name);
    if (!a || a->type != AttrType::Tensor) return nullptr;
    if (a->i < 0 || static_cast<size_t>(a->i) >= graph->values.size()) return nullptr;
    if (info) *info = &graph->values[a->i];
    return graph->constant_of(static_cast<int32_t>(a->i));
}

void OpRegistry::add(const OpSchema &schema) { schemas_.push_back(schema); }

const OpSchema *OpRegistry::find(const std::string &op_type, const std::string &domain) const {
    for (const auto &s : schemas_)
        if (op_type == s.op_type && domain == s.domain) return &s;
    return nullptr;
}

const OpRegistry &builtin_ops() {
    static const OpRegistry registry = [] {
        OpRegistry r;
        register_elementwise_ops(r);
        register_linear_ops(r);
        register_pool_norm_ops(r);
        register_shape_ops(r);
        register_llm_ops(r);
        return r;
    }();
    return registry;
}

bool broadcast_shapes(const Shape &a, const Shape &b, Shape *out) {
    size_t rank = std::max(a.size(), b.size());
    Shape r(rank);
    for (size_t i = 0; i < rank; i++) {
        int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
        int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
        if (da == db || db == 1) {
            r[i] = da;
        } else if (da == 1) {
            r[i] = db;
        } else {
            return false;
        }
    }
    *out = std::move(r);
    return true;
}

bool read_int_values(const TensorInfo &t, std::vector<int64_t> *out) {
    if (!t.value) return false;
    int64_t n = t.numel();
    out->resize(static_cast<size_t>(n));
    if (t.dtype == DType::I64) {
        const int64_t *p = t.as<int64_t>();
        for (int64_t i = 0; i < n; i++) (*out)[i] = p[i];
        return true;
    }
    if (t.dtype == DType::I32) {
        const int32_t *p = t.as<int32_t>();
        for (int64_t i = 0; i < n; i++) (*out)[i] = p[i];
        return true;
    }
    return false;
}

bool normalize_axis(int64_t axis, int64_t rank, int64_t *out) {
    if (axis < -rank || axis >= rank) return false;
    *out = axis < 0 ? axis + rank : axis;
    return true;
}

}  // namespace ember
