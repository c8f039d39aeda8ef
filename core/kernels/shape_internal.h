// shape_internal.h — helpers shared by the shape / data-movement kernel files
// (shape_*.cc, resize.cc, quantize.cc). Internal to core/kernels.
//
// Most data-movement ops (Transpose, Slice, Expand, Tile, Concat, Split,
// DepthToSpace, SpaceToDepth) are one strided copy: walk the output's index space
// and read the input through per-dimension byte strides (0 = broadcast, negative =
// reversed). CopyPlan describes that copy; it is built once in create() and run()
// only walks it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/op.h"

namespace ember {
namespace shape_detail {

// Tile turns each dimension into two, and callers may add one more.
constexpr int kMaxCopyRank = 2 * static_cast<int>(kMaxRank) + 2;

struct CopyPlan {
    enum Mode : uint8_t {
        kEmpty,  // nothing to copy (a zero dimension)
        kRun,    // innermost dimension contiguous on both sides: memcpy runs
        kTile,   // 2-D blocked transpose of the two innermost dimensions
        kElem,   // element by element along the innermost dimension
    };
    int rank = 0;
    size_t elem = 0;                      // bytes per element
    int64_t dims[kMaxCopyRank];           // iteration space, outer first
    int64_t src_stride[kMaxCopyRank];     // bytes
    int64_t dst_stride[kMaxCopyRank];     // bytes
    int64_t src_offset = 0;               // bytes, where index 0 reads from
    int64_t dst_offset = 0;               // bytes, where index 0 writes to
    // Set by finalize():
    Mode mode = kEmpty;
    int outer = 0;                        // dimensions walked as rows
    int64_t total_bytes = 0;              // bytes written

    // Appends a dimension (outermost first). Strides are in elements.
    void add_dim(int64_t n, int64_t src_elems, int64_t dst_elems);
    // Drops unit dimensions, merges contiguous ones and picks the mode.
    void finalize();
};

// A plan copying a tensor of `shape` read through `src_elem_strides` into a
// contiguous output of the same shape.
CopyPlan plan_gather_strided(const Shape &shape, const std::vector<int64_t> &src_elem_strides,
                             int64_t src_offset_elems, size_t elem);
// Output = transpose(input of `in_shape`, perm), contiguous both sides.
CopyPlan plan_transpose(const Shape &in_shape, const std::vector<int> &perm, size_t elem);
// Plain copy of `bytes` bytes (parallel for big buffers).
CopyPlan plan_memcpy(int64_t bytes);

// Runs the plan; `src`/`dst` are the base pointers the offsets are relative to.
void run_copy(const CopyPlan &plan, const void *src, void *dst, const KernelIO &io);

// Row-major strides in elements.
std::vector<int64_t> contiguous_strides(const Shape &shape);

// Writes `n` copies of the `elem`-byte value at `value` to `dst`.
void fill_elems(void *dst, const void *value, size_t elem, int64_t n);

// EMBER_ERR_UNSUPPORTED unless `t` is a dtype with a known element size.
Status check_known_dtype(const char *op, DType t);
// EMBER_ERR_SHAPE with "op: input i is missing" when input i is omitted.
Status require_input(const InferContext &ctx, const char *op, size_t i);
// Reads an integer input's plan-time value (int32 or int64). Fails with a message
// naming the op and input when the value is unknown or the dtype is not an integer.
Status read_int_input(const InferContext &ctx, const char *op, size_t i, const char *what,
                      std::vector<int64_t> *out);
// "[1,2,3]"
std::string ints_str(const std::vector<int64_t> &v);

// Bytes of the thread-parallel threshold: smaller copies run on the calling thread.
constexpr int64_t kParallelBytes = int64_t(1) << 16;

}  // namespace shape_detail

// Registration of the files of the shape family; register_shape_ops calls them all.
void register_shape_view_ops(OpRegistry &r);    // shape_ops.cc
void register_shape_copy_ops(OpRegistry &r);    // shape_copy.cc
void register_shape_gather_ops(OpRegistry &r);  // shape_gather.cc
void register_resize_ops(OpRegistry &r);        // resize.cc
void register_quantize_ops(OpRegistry &r);      // quantize.cc

}  // namespace ember
