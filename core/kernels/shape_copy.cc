// shape_copy.cc — data-movement ops that are strided copies: Transpose, Concat,
// Split, Slice, Expand, Tile, DepthToSpace, SpaceToDepth, and Pad.
//
// Every op here works on any dtype by element size (float16 included). Each
// create() turns the concrete shapes into CopyPlans (shape_internal.h); run() only
// executes them.
#include <algorithm>
#include <cstring>

#include "core/kernels/shape_internal.h"
#include "core/thread_pool.h"

namespace ember {

using shape_detail::CopyPlan;
using shape_detail::check_known_dtype;
using shape_detail::contiguous_strides;
using shape_detail::ints_str;
using shape_detail::read_int_input;
using shape_detail::require_input;

namespace {

size_t elem_of(const TensorInfo &t) { return dtype_size(t.dtype); }

// A kernel running one plan from input 0 to output 0.
std::unique_ptr<Kernel> single_plan_kernel(const CopyPlan &plan) {
    return make_fn_kernel([plan](const KernelIO &io) -> Status {
        shape_detail::run_copy(plan, io.inputs[0].data, io.outputs[0].data, io);
        return Status::OK();
    });
}

// ---- Transpose ----

Status transpose_perm(const InferContext &ctx, std::vector<int> *perm) {
    const TensorInfo &x = *ctx.input(0);
    int r = x.rank();
    std::vector<int64_t> p = ctx.node->attr_ints("perm");
    if (p.empty() && r > 0) {
        perm->resize(r);
        for (int i = 0; i < r; i++) (*perm)[i] = r - 1 - i;
        return Status::OK();
    }
    if (static_cast<int>(p.size()) != r)
        return errorf(EMBER_ERR_SHAPE, "Transpose: perm %s does not match input rank %d",
                      ints_str(p).c_str(), r);
    std::vector<char> seen(r, 0);
    perm->resize(r);
    for (int i = 0; i < r; i++) {
        int64_t a;
        if (!normalize_axis(p[i], r, &a) || seen[a])
            return errorf(EMBER_ERR_SHAPE, "Transpose: perm %s is not a permutation of 0..%d",
                          ints_str(p).c_str(), r - 1);
        seen[a] = 1;
        (*perm)[i] = static_cast<int>(a);
    }
    return Status::OK();
}

Status infer_transpose(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Transpose", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Transpose", x.dtype));
    std::vector<int> perm;
    EMBER_RETURN_IF_ERROR(transpose_perm(ctx, &perm));
    Shape out(perm.size());
    for (size_t i = 0; i < perm.size(); i++) out[i] = x.shape[perm[i]];
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status create_transpose(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    std::vector<int> perm;
    EMBER_RETURN_IF_ERROR(transpose_perm(ctx, &perm));
    const TensorInfo &x = *ctx.input(0);
    *out = single_plan_kernel(shape_detail::plan_transpose(x.shape, perm, elem_of(x)));
    return Status::OK();
}

// ---- Concat ----

Status infer_concat(InferContext &ctx) {
    if (ctx.num_inputs() == 0 || !ctx.input(0))
        return errorf(EMBER_ERR_SHAPE, "Concat: no inputs");
    const TensorInfo &x0 = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Concat", x0.dtype));
    const Attribute *a = ctx.node->attr("axis");
    if (!a) return errorf(EMBER_ERR_SHAPE, "Concat: attribute 'axis' is missing");
    int64_t axis;
    if (!normalize_axis(a->i, x0.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "Concat: axis %lld out of range for input %s",
                      static_cast<long long>(a->i), shape_str(x0.shape).c_str());
    Shape out = x0.shape;
    out[axis] = 0;
    for (size_t i = 0; i < ctx.num_inputs(); i++) {
        const TensorInfo *xi = ctx.input(i);
        if (!xi) return errorf(EMBER_ERR_SHAPE, "Concat: input %zu is missing", i);
        if (xi->dtype != x0.dtype)
            return errorf(EMBER_ERR_SHAPE, "Concat: input %zu is %s, input 0 is %s", i,
                          dtype_name(xi->dtype), dtype_name(x0.dtype));
        bool ok = xi->rank() == x0.rank();
        for (int d = 0; ok && d < x0.rank(); d++)
            ok = d == axis || xi->shape[d] == x0.shape[d];
        if (!ok)
            return errorf(EMBER_ERR_SHAPE, "Concat: input %zu has shape %s, input 0 has %s (axis %lld)",
                          i, shape_str(xi->shape).c_str(), shape_str(x0.shape).c_str(),
                          static_cast<long long>(axis));
        out[axis] += xi->shape[axis];
    }
    ctx.output(0).dtype = x0.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

// Concat and Split move [outer, len_i * inner] blocks between one big tensor and
// several small ones; this builds the plan for part i.
CopyPlan block_plan(int64_t outer, int64_t part_bytes, int64_t whole_row_bytes,
                    int64_t offset_bytes, bool into_whole) {
    CopyPlan p;
    p.elem = 1;
    if (into_whole) {  // Concat: part -> whole
        p.add_dim(outer, part_bytes, whole_row_bytes);
        p.add_dim(part_bytes, 1, 1);
        p.dst_offset = offset_bytes;
    } else {  // Split: whole -> part
        p.add_dim(outer, whole_row_bytes, part_bytes);
        p.add_dim(part_bytes, 1, 1);
        p.src_offset = offset_bytes;
    }
    p.finalize();
    return p;
}

Status create_concat(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &y = ctx.output(0);
    int64_t axis;
    normalize_axis(ctx.node->attr_int("axis", 0), y.rank(), &axis);
    int64_t elem = static_cast<int64_t>(dtype_size(y.dtype));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= y.shape[d];
    for (int d = static_cast<int>(axis) + 1; d < y.rank(); d++) inner *= y.shape[d];
    int64_t row = y.shape[axis] * inner * elem;
    std::vector<CopyPlan> plans;
    int64_t off = 0;
    for (size_t i = 0; i < ctx.num_inputs(); i++) {
        int64_t part = ctx.input(i)->shape[axis] * inner * elem;
        plans.push_back(block_plan(outer, part, row, off, true));
        off += part;
    }
    *out = make_fn_kernel([plans](const KernelIO &io) -> Status {
        for (size_t i = 0; i < plans.size(); i++)
            shape_detail::run_copy(plans[i], io.inputs[i].data, io.outputs[0].data, io);
        return Status::OK();
    });
    return Status::OK();
}

// ---- Split ----

Status split_sizes(const InferContext &ctx, int64_t *axis_out, std::vector<int64_t> *sizes) {
    const TensorInfo &x = *ctx.input(0);
    int64_t axis;
    int64_t a = ctx.node->attr_int("axis", 0);
    if (!normalize_axis(a, x.rank(), &axis))
        return errorf(EMBER_ERR_SHAPE, "Split: axis %lld out of range for input %s",
                      static_cast<long long>(a), shape_str(x.shape).c_str());
    int64_t dim = x.shape[axis];
    size_t n_out = ctx.num_outputs();
    if (ctx.input(1) && ctx.input(1)->numel() > 0) {
        EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Split", 1, "split", sizes));
    } else if (const Attribute *s = ctx.node->attr("split")) {
        *sizes = s->ints;
    } else {
        const Attribute *no = ctx.node->attr("num_outputs");
        int64_t n = no ? no->i : static_cast<int64_t>(n_out);
        if (n <= 0 || static_cast<size_t>(n) != n_out)
            return errorf(EMBER_ERR_SHAPE, "Split: num_outputs %lld but the node has %zu outputs",
                          static_cast<long long>(n), n_out);
        if (!no && dim % n != 0)
            return errorf(EMBER_ERR_SHAPE, "Split: dimension %lld of %s does not split into %lld "
                          "equal parts", static_cast<long long>(axis), shape_str(x.shape).c_str(),
                          static_cast<long long>(n));
        int64_t chunk = (dim + n - 1) / n;  // opset 18: the last chunk may be smaller
        sizes->clear();
        for (int64_t i = 0, left = dim; i < n; i++) {
            int64_t c = std::min(chunk, left);
            sizes->push_back(c);
            left -= c;
        }
    }
    if (sizes->size() != n_out)
        return errorf(EMBER_ERR_SHAPE, "Split: split %s has %zu entries, the node has %zu outputs",
                      ints_str(*sizes).c_str(), sizes->size(), n_out);
    int64_t sum = 0;
    for (int64_t s : *sizes) {
        if (s < 0)
            return errorf(EMBER_ERR_SHAPE, "Split: split %s has a negative entry",
                          ints_str(*sizes).c_str());
        sum += s;
    }
    if (sum != dim)
        return errorf(EMBER_ERR_SHAPE, "Split: split %s sums to %lld, dimension %lld is %lld",
                      ints_str(*sizes).c_str(), static_cast<long long>(sum),
                      static_cast<long long>(axis), static_cast<long long>(dim));
    *axis_out = axis;
    return Status::OK();
}

Status infer_split(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Split", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Split", x.dtype));
    int64_t axis;
    std::vector<int64_t> sizes;
    EMBER_RETURN_IF_ERROR(split_sizes(ctx, &axis, &sizes));
    for (size_t i = 0; i < sizes.size(); i++) {
        ctx.output(i).dtype = x.dtype;
        ctx.output(i).shape = x.shape;
        ctx.output(i).shape[axis] = sizes[i];
    }
    return Status::OK();
}

Status create_split(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    int64_t axis;
    std::vector<int64_t> sizes;
    EMBER_RETURN_IF_ERROR(split_sizes(ctx, &axis, &sizes));
    int64_t elem = static_cast<int64_t>(elem_of(x));
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x.shape[d];
    for (int d = static_cast<int>(axis) + 1; d < x.rank(); d++) inner *= x.shape[d];
    int64_t row = x.shape[axis] * inner * elem;
    std::vector<CopyPlan> plans;
    int64_t off = 0;
    for (int64_t s : sizes) {
        int64_t part = s * inner * elem;
        plans.push_back(block_plan(outer, part, row, off, false));
        off += part;
    }
    *out = make_fn_kernel([plans](const KernelIO &io) -> Status {
        for (size_t i = 0; i < plans.size() && i < io.num_outputs; i++)
            if (io.outputs[i].data)
                shape_detail::run_copy(plans[i], io.inputs[0].data, io.outputs[i].data, io);
        return Status::OK();
    });
    return Status::OK();
}

// ---- Slice ----

// Per input dimension: first index read, step, and count.
struct SliceDims {
    std::vector<int64_t> start, step, count;
};

Status slice_dims(const InferContext &ctx, SliceDims *sd) {
    const TensorInfo &x = *ctx.input(0);
    int64_t r = x.rank();
    std::vector<int64_t> starts, ends, axes, steps;
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Slice", 1, "starts", &starts));
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Slice", 2, "ends", &ends));
    if (starts.size() != ends.size())
        return errorf(EMBER_ERR_SHAPE, "Slice: starts %s and ends %s differ in length",
                      ints_str(starts).c_str(), ints_str(ends).c_str());
    if (ctx.input(3)) {
        EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Slice", 3, "axes", &axes));
    } else {
        for (size_t i = 0; i < starts.size(); i++) axes.push_back(static_cast<int64_t>(i));
    }
    if (ctx.input(4)) {
        EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Slice", 4, "steps", &steps));
    } else {
        steps.assign(starts.size(), 1);
    }
    if (axes.size() != starts.size() || steps.size() != starts.size())
        return errorf(EMBER_ERR_SHAPE, "Slice: starts %s, axes %s and steps %s differ in length",
                      ints_str(starts).c_str(), ints_str(axes).c_str(), ints_str(steps).c_str());
    sd->start.assign(r, 0);
    sd->step.assign(r, 1);
    sd->count.assign(x.shape.begin(), x.shape.end());
    std::vector<char> seen(r, 0);
    for (size_t i = 0; i < starts.size(); i++) {
        int64_t ax;
        if (!normalize_axis(axes[i], r, &ax) || seen[ax])
            return errorf(EMBER_ERR_SHAPE, "Slice: axes %s invalid for input %s",
                          ints_str(axes).c_str(), shape_str(x.shape).c_str());
        seen[ax] = 1;
        int64_t dim = x.shape[ax], step = steps[i];
        if (step == 0) return errorf(EMBER_ERR_SHAPE, "Slice: step 0 on axis %lld",
                                     static_cast<long long>(ax));
        step = std::max(step, -INT64_MAX);  // keeps -step representable
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s = s < -dim ? -1 : s + dim;  // avoid overflow on INT64_MIN
        if (e < 0) e = e < -dim ? -1 : e + dim;
        int64_t cnt;
        if (step > 0) {
            s = std::min(std::max<int64_t>(s, 0), dim);
            e = std::min(std::max<int64_t>(e, 0), dim);
            cnt = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = std::min(std::max<int64_t>(s, -1), dim - 1);
            e = std::min(std::max<int64_t>(e, -1), dim - 1);
            cnt = s > e ? (s - e - 1) / (-step) + 1 : 0;
        }
        sd->start[ax] = cnt > 0 ? s : 0;
        sd->step[ax] = cnt > 1 ? step : 1;  // a huge step reading one element: no overflow
        sd->count[ax] = cnt;
    }
    return Status::OK();
}

Status infer_slice(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Slice", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Slice", x.dtype));
    SliceDims sd;
    EMBER_RETURN_IF_ERROR(slice_dims(ctx, &sd));
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = sd.count;
    return Status::OK();
}

Status create_slice(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    SliceDims sd;
    EMBER_RETURN_IF_ERROR(slice_dims(ctx, &sd));
    std::vector<int64_t> in_strides = contiguous_strides(x.shape), src(x.shape.size());
    int64_t offset = 0;
    for (size_t d = 0; d < x.shape.size(); d++) {
        src[d] = in_strides[d] * sd.step[d];
        offset += sd.start[d] * in_strides[d];
    }
    *out = single_plan_kernel(shape_detail::plan_gather_strided(sd.count, src, offset, elem_of(x)));
    return Status::OK();
}

// ---- Expand ----

Status infer_expand(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Expand", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Expand", x.dtype));
    std::vector<int64_t> shape;
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Expand", 1, "shape", &shape));
    for (int64_t d : shape)
        if (d < 0)
            return errorf(EMBER_ERR_SHAPE, "Expand: shape %s has a negative dimension",
                          ints_str(shape).c_str());
    Shape out;
    if (!broadcast_shapes(x.shape, shape, &out))
        return errorf(EMBER_ERR_SHAPE, "Expand: input %s does not broadcast to %s",
                      shape_str(x.shape).c_str(), ints_str(shape).c_str());
    if (out.size() > kMaxRank)
        return errorf(EMBER_ERR_UNSUPPORTED, "Expand: output rank %zu exceeds %zu", out.size(),
                      kMaxRank);
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status create_expand(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    const Shape &y = ctx.output(0).shape;
    std::vector<int64_t> in_strides = contiguous_strides(x.shape), src(y.size(), 0);
    size_t lead = y.size() - x.shape.size();
    for (size_t d = 0; d < x.shape.size(); d++)
        src[lead + d] = x.shape[d] == 1 ? 0 : in_strides[d];
    *out = single_plan_kernel(shape_detail::plan_gather_strided(y, src, 0, elem_of(x)));
    return Status::OK();
}

// ---- Tile ----

Status infer_tile(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Tile", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Tile", x.dtype));
    std::vector<int64_t> reps;
    EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Tile", 1, "repeats", &reps));
    if (reps.size() != x.shape.size())
        return errorf(EMBER_ERR_SHAPE, "Tile: repeats %s do not match input %s",
                      ints_str(reps).c_str(), shape_str(x.shape).c_str());
    Shape out(x.shape.size());
    for (size_t d = 0; d < reps.size(); d++) {
        if (reps[d] < 0)
            return errorf(EMBER_ERR_SHAPE, "Tile: repeats %s has a negative entry",
                          ints_str(reps).c_str());
        if (reps[d] > 0 && x.shape[d] > kMaxElements / reps[d])
            return errorf(EMBER_ERR_SHAPE, "Tile: repeats %s make input %s too large",
                          ints_str(reps).c_str(), shape_str(x.shape).c_str());
        out[d] = x.shape[d] * reps[d];
    }
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

Status create_tile(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    const Shape &y = ctx.output(0).shape;
    std::vector<int64_t> in_strides = contiguous_strides(x.shape);
    std::vector<int64_t> out_strides = contiguous_strides(y);
    CopyPlan p;
    p.elem = elem_of(x);
    // Output dim d of size reps*n is (repeat r, index i): index r*n + i.
    for (size_t d = 0; d < x.shape.size(); d++) {
        int64_t n = x.shape[d], reps = n ? y[d] / n : 0;
        if (n == 0) reps = 0;
        p.add_dim(reps, 0, n * out_strides[d]);
        p.add_dim(n, in_strides[d], out_strides[d]);
    }
    p.finalize();
    *out = single_plan_kernel(p);
    return Status::OK();
}

// ---- DepthToSpace, SpaceToDepth: a reshape, a transpose and a reshape ----

Status d2s_check(const InferContext &ctx, const char *op, int64_t *b) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, op, 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype(op, x.dtype));
    if (x.rank() != 4)
        return errorf(EMBER_ERR_SHAPE, "%s: input must be 4-D (NCHW), got %s", op,
                      shape_str(x.shape).c_str());
    *b = ctx.node->attr_int("blocksize", 0);
    if (*b <= 0)
        return errorf(EMBER_ERR_SHAPE, "%s: blocksize %lld must be positive", op,
                      static_cast<long long>(*b));
    return Status::OK();
}

Status d2s_mode(const InferContext &ctx, bool *crd) {
    std::string mode = ctx.node->attr_string("mode", "DCR");
    if (mode != "DCR" && mode != "CRD")
        return errorf(EMBER_ERR_UNSUPPORTED, "DepthToSpace: mode '%s' is not supported",
                      mode.c_str());
    *crd = mode == "CRD";
    return Status::OK();
}

Status infer_depth_to_space(InferContext &ctx) {
    int64_t b;
    EMBER_RETURN_IF_ERROR(d2s_check(ctx, "DepthToSpace", &b));
    bool crd;
    EMBER_RETURN_IF_ERROR(d2s_mode(ctx, &crd));
    const Shape &s = ctx.input(0)->shape;
    if (s[1] % (b * b) != 0)
        return errorf(EMBER_ERR_SHAPE, "DepthToSpace: channels %lld not divisible by blocksize^2 %lld",
                      static_cast<long long>(s[1]), static_cast<long long>(b * b));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = {s[0], s[1] / (b * b), s[2] * b, s[3] * b};
    return Status::OK();
}

Status create_depth_to_space(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    int64_t b = ctx.node->attr_int("blocksize", 1);
    bool crd;
    EMBER_RETURN_IF_ERROR(d2s_mode(ctx, &crd));
    const TensorInfo &x = *ctx.input(0);
    const Shape &s = x.shape;
    int64_t c = s[1] / (b * b);
    Shape view;
    std::vector<int> perm;
    if (crd) {
        view = {s[0], c, b, b, s[2], s[3]};
        perm = {0, 1, 4, 2, 5, 3};
    } else {
        view = {s[0], b, b, c, s[2], s[3]};
        perm = {0, 3, 4, 1, 5, 2};
    }
    *out = single_plan_kernel(shape_detail::plan_transpose(view, perm, elem_of(x)));
    return Status::OK();
}

Status infer_space_to_depth(InferContext &ctx) {
    int64_t b;
    EMBER_RETURN_IF_ERROR(d2s_check(ctx, "SpaceToDepth", &b));
    const Shape &s = ctx.input(0)->shape;
    if (s[2] % b != 0 || s[3] % b != 0)
        return errorf(EMBER_ERR_SHAPE, "SpaceToDepth: spatial size %lldx%lld not divisible by "
                      "blocksize %lld", static_cast<long long>(s[2]),
                      static_cast<long long>(s[3]), static_cast<long long>(b));
    ctx.output(0).dtype = ctx.input(0)->dtype;
    ctx.output(0).shape = {s[0], s[1] * b * b, s[2] / b, s[3] / b};
    return Status::OK();
}

Status create_space_to_depth(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    int64_t b = ctx.node->attr_int("blocksize", 1);
    const TensorInfo &x = *ctx.input(0);
    const Shape &s = x.shape;
    Shape view = {s[0], s[1], s[2] / b, b, s[3] / b, b};
    std::vector<int> perm = {0, 3, 5, 1, 2, 4};
    *out = single_plan_kernel(shape_detail::plan_transpose(view, perm, elem_of(x)));
    return Status::OK();
}

// ---- Pad ----

enum class PadMode { kConstant, kReflect, kEdge };

struct PadSpec {
    PadMode mode = PadMode::kConstant;
    std::vector<int64_t> begin, end;  // per dimension; negative = crop
};

Status pad_spec(const InferContext &ctx, PadSpec *ps) {
    const TensorInfo &x = *ctx.input(0);
    int64_t r = x.rank();
    std::string mode = ctx.node->attr_string("mode", "constant");
    if (mode == "constant") {
        ps->mode = PadMode::kConstant;
    } else if (mode == "reflect") {
        ps->mode = PadMode::kReflect;
    } else if (mode == "edge") {
        ps->mode = PadMode::kEdge;
    } else {
        return errorf(EMBER_ERR_UNSUPPORTED, "Pad: mode '%s' is not supported", mode.c_str());
    }
    std::vector<int64_t> pads, axes;
    if (ctx.input(1)) {
        EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Pad", 1, "pads", &pads));
    } else {
        pads = ctx.node->attr_ints("pads");
    }
    if (ctx.input(3)) {
        EMBER_RETURN_IF_ERROR(read_int_input(ctx, "Pad", 3, "axes", &axes));
    } else {
        for (int64_t i = 0; i < r; i++) axes.push_back(i);
    }
    if (pads.size() != 2 * axes.size())
        return errorf(EMBER_ERR_SHAPE, "Pad: pads %s must have %zu entries for input %s",
                      ints_str(pads).c_str(), 2 * axes.size(), shape_str(x.shape).c_str());
    ps->begin.assign(r, 0);
    ps->end.assign(r, 0);
    size_t na = axes.size();
    for (size_t i = 0; i < na; i++) {
        int64_t ax;
        if (!normalize_axis(axes[i], r, &ax))
            return errorf(EMBER_ERR_SHAPE, "Pad: axis %lld out of range for input %s",
                          static_cast<long long>(axes[i]), shape_str(x.shape).c_str());
        ps->begin[ax] = pads[i];
        ps->end[ax] = pads[na + i];
    }
    for (int64_t d = 0; d < r; d++) {
        int64_t n = x.shape[d] + ps->begin[d] + ps->end[d];
        if (n < 0)
            return errorf(EMBER_ERR_SHAPE, "Pad: pads %s crop dimension %lld (%lld) below zero",
                          ints_str(pads).c_str(), static_cast<long long>(d),
                          static_cast<long long>(x.shape[d]));
        if (ps->mode != PadMode::kConstant && x.shape[d] == 0 && n > 0)
            return errorf(EMBER_ERR_SHAPE, "Pad: mode '%s' cannot pad empty dimension %lld",
                          mode.c_str(), static_cast<long long>(d));
    }
    return Status::OK();
}

Status infer_pad(InferContext &ctx) {
    EMBER_RETURN_IF_ERROR(require_input(ctx, "Pad", 0));
    const TensorInfo &x = *ctx.input(0);
    EMBER_RETURN_IF_ERROR(check_known_dtype("Pad", x.dtype));
    PadSpec ps;
    EMBER_RETURN_IF_ERROR(pad_spec(ctx, &ps));
    const TensorInfo *cv = ctx.input(2);
    if (cv && cv->dtype != x.dtype)
        return errorf(EMBER_ERR_SHAPE, "Pad: constant_value is %s, data is %s",
                      dtype_name(cv->dtype), dtype_name(x.dtype));
    Shape out(x.shape.size());
    for (size_t d = 0; d < out.size(); d++) out[d] = x.shape[d] + ps.begin[d] + ps.end[d];
    ctx.output(0).dtype = x.dtype;
    ctx.output(0).shape = out;
    return Status::OK();
}

// Source index of output index `o` along a dimension of `n`, or -1 for the constant.
int64_t pad_source(PadMode mode, int64_t o, int64_t before, int64_t n) {
    int64_t i = o - before;
    if (i >= 0 && i < n) return i;
    switch (mode) {
        case PadMode::kConstant:
            return -1;
        case PadMode::kEdge:
            return i < 0 ? 0 : n - 1;
        case PadMode::kReflect: {
            if (n == 1) return 0;
            int64_t period = 2 * (n - 1);
            i %= period;
            if (i < 0) i += period;
            return i < n ? i : period - i;
        }
    }
    return -1;
}

struct PadPlan {
    size_t elem = 0;
    int rank = 0;                            // >= 1
    Shape out_shape;
    std::vector<int64_t> in_strides;         // elements
    std::vector<std::vector<int64_t>> map;   // per dim: output index -> input index or -1
    int64_t mid_begin = 0, mid_end = 0;      // innermost: output range copied as one run
    int64_t rows = 0, row_elems = 0;
};

// One output row (all dims but the innermost fixed by `idx`).
void pad_row(const PadPlan &p, const int64_t *idx, const uint8_t *src, uint8_t *dst,
             const uint8_t *value) {
    int last = p.rank - 1;
    int64_t base = 0;
    bool constant_row = false;
    for (int d = 0; d < last; d++) {
        int64_t s = p.map[d][idx[d]];
        if (s < 0) {
            constant_row = true;
            break;
        }
        base += s * p.in_strides[d];
    }
    size_t e = p.elem;
    if (constant_row) {
        shape_detail::fill_elems(dst, value, e, p.row_elems);
        return;
    }
    const std::vector<int64_t> &m = p.map[last];
    const uint8_t *row = src + base * static_cast<int64_t>(e);
    for (int64_t o = 0; o < p.mid_begin; o++) {
        if (m[o] < 0) std::memcpy(dst + o * e, value, e);
        else std::memcpy(dst + o * e, row + m[o] * e, e);
    }
    if (p.mid_end > p.mid_begin)
        std::memcpy(dst + p.mid_begin * e, row + m[p.mid_begin] * e,
                    static_cast<size_t>(p.mid_end - p.mid_begin) * e);
    for (int64_t o = std::max(p.mid_end, p.mid_begin); o < p.row_elems; o++) {
        if (m[o] < 0) std::memcpy(dst + o * e, value, e);
        else std::memcpy(dst + o * e, row + m[o] * e, e);
    }
}

struct PadJob {
    const PadPlan *p;
    const uint8_t *src;
    uint8_t *dst;
    const uint8_t *value;
};

void pad_rows(const PadJob &j, int64_t begin, int64_t end) {
    const PadPlan &p = *j.p;
    int last = p.rank - 1;
    int64_t idx[kMaxRank] = {0};
    int64_t r = begin;
    for (int d = last - 1; d >= 0; d--) {
        idx[d] = r % p.out_shape[d];
        r /= p.out_shape[d];
    }
    int64_t row_bytes = p.row_elems * static_cast<int64_t>(p.elem);
    for (int64_t row = begin; row < end; row++) {
        pad_row(p, idx, j.src, j.dst + row * row_bytes, j.value);
        for (int d = last - 1; d >= 0; d--) {
            if (++idx[d] < p.out_shape[d]) break;
            idx[d] = 0;
        }
    }
}

Status create_pad(const InferContext &ctx, std::unique_ptr<Kernel> *out) {
    const TensorInfo &x = *ctx.input(0);
    PadSpec ps;
    EMBER_RETURN_IF_ERROR(pad_spec(ctx, &ps));
    PadPlan p;
    p.elem = elem_of(x);
    p.out_shape = ctx.output(0).shape;
    Shape in_shape = x.shape;
    if (in_shape.empty()) {  // a scalar has nothing to pad: treat it as [1]
        in_shape = {1};
        p.out_shape = {1};
        ps.begin = {0};
        ps.end = {0};
    }
    p.rank = static_cast<int>(in_shape.size());
    p.in_strides = contiguous_strides(in_shape);
    p.map.resize(p.rank);
    // An empty output has nothing to fill: no source maps, whose length is a dim's, which
    // may be enormous beside a zero one ([1, 3, 0, 2^34] came from fuzz_ember_file).
    // Otherwise each map is at most the output's element count, which the session already
    // held against max_arena_bytes.
    if (shape_numel(p.out_shape) == 0) {
        *out = make_fn_kernel([](const KernelIO &) -> Status { return Status::OK(); });
        return Status::OK();
    }
    for (int d = 0; d < p.rank; d++) {
        p.map[d].resize(static_cast<size_t>(p.out_shape[d]));
        for (int64_t o = 0; o < p.out_shape[d]; o++)
            p.map[d][o] = pad_source(ps.mode, o, ps.begin[d], in_shape[d]);
    }
    int last = p.rank - 1;
    p.row_elems = p.out_shape[last];
    p.mid_begin = std::min(std::max<int64_t>(ps.begin[last], 0), p.row_elems);
    p.mid_end = std::min(std::max<int64_t>(ps.begin[last] + in_shape[last], 0), p.row_elems);
    p.rows = 1;
    for (int d = 0; d < last; d++) p.rows *= p.out_shape[d];
    bool has_value_input = ctx.input(2) != nullptr;
    *out = make_fn_kernel([p, has_value_input](const KernelIO &io) -> Status {
        uint8_t zero[16] = {0};
        PadJob j;
        j.p = &p;
        j.src = static_cast<const uint8_t *>(io.inputs[0].data);
        j.dst = static_cast<uint8_t *>(io.outputs[0].data);
        j.value = zero;
        if (has_value_input && io.num_inputs > 2 && io.inputs[2].data && io.inputs[2].numel() > 0)
            j.value = static_cast<const uint8_t *>(io.inputs[2].data);
        if (p.rows == 0 || p.row_elems == 0) return Status::OK();
        int64_t row_bytes = p.row_elems * static_cast<int64_t>(p.elem);
        if (io.max_threads <= 1 || p.rows * row_bytes < shape_detail::kParallelBytes) {
            pad_rows(j, 0, p.rows);
            return Status::OK();
        }
        const PadJob *jp = &j;
        int64_t grain = std::max<int64_t>(1, (int64_t(1) << 15) / row_bytes);
        io.pool->parallel_for(p.rows, grain, io.max_threads,
                              [jp](int64_t b, int64_t e) { pad_rows(*jp, b, e); });
        return Status::OK();
    });
    return Status::OK();
}

OpSchema movement_op(const char *name, uint64_t value_inputs, Status (*infer)(InferContext &),
                     Status (*create)(const InferContext &, std::unique_ptr<Kernel> *)) {
    OpSchema s;
    s.op_type = name;
    s.value_inputs = value_inputs;
    s.f16_native = true;
    s.infer = infer;
    s.create = create;
    return s;
}

}  // namespace

void register_shape_copy_ops(OpRegistry &r) {
    r.add(movement_op("Transpose", 0, infer_transpose, create_transpose));
    r.add(movement_op("Concat", 0, infer_concat, create_concat));
    r.add(movement_op("Split", 1u << 1, infer_split, create_split));
    r.add(movement_op("Slice", 0x1e, infer_slice, create_slice));
    r.add(movement_op("Expand", 1u << 1, infer_expand, create_expand));
    r.add(movement_op("Tile", 1u << 1, infer_tile, create_tile));
    r.add(movement_op("DepthToSpace", 0, infer_depth_to_space, create_depth_to_space));
    r.add(movement_op("SpaceToDepth", 0, infer_space_to_depth, create_space_to_depth));
    r.add(movement_op("Pad", (1u << 1) | (1u << 3), infer_pad, create_pad));
}

}  // namespace ember
