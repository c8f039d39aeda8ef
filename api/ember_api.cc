// ember_api.cc — the C ABI: argument checks, the exception boundary and the
// thread-local error message around the C++ core.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "api/ember.h"
#include "core/runtime.h"
#include "core/session.h"
#include "core/tensor_handle.h"
#include "formats/ember_format.h"

#include "api/handles.h"

namespace ember_api {
thread_local std::string t_last_error;
}  // namespace ember_api

using ember_api::fail;
using ember_api::t_last_error;

namespace {

// Copies the caller's options struct over the defaults, reading only struct_size bytes.
template <typename T>
bool read_options(const T *in, T *out) {
    if (!in) return true;
    if (in->struct_size < sizeof(size_t) || in->struct_size > (1u << 16)) return false;
    size_t n = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
    std::memcpy(static_cast<void *>(out), in, n);
    out->struct_size = sizeof(T);
    return true;
}

}  // namespace


extern "C" {

uint32_t ember_api_version(void) { return EMBER_API_VERSION; }

const char *ember_version(void) { return "0.1.0"; }

const char *ember_status_string(ember_status status) {
    switch (status) {
        case EMBER_OK: return "EMBER_OK";
        case EMBER_ERR_INVALID_ARGUMENT: return "EMBER_ERR_INVALID_ARGUMENT";
        case EMBER_ERR_IO: return "EMBER_ERR_IO";
        case EMBER_ERR_FORMAT: return "EMBER_ERR_FORMAT";
        case EMBER_ERR_UNSUPPORTED: return "EMBER_ERR_UNSUPPORTED";
        case EMBER_ERR_OUT_OF_MEMORY: return "EMBER_ERR_OUT_OF_MEMORY";
        case EMBER_ERR_BACKEND: return "EMBER_ERR_BACKEND";
        case EMBER_ERR_SHAPE: return "EMBER_ERR_SHAPE";
        case EMBER_ERR_INTERNAL: return "EMBER_ERR_INTERNAL";
        case EMBER_ERR_ABI: return "EMBER_ERR_ABI";
        case EMBER_ERR_NOT_FOUND: return "EMBER_ERR_NOT_FOUND";
        case EMBER_ERR_BUFFER_TOO_SMALL: return "EMBER_ERR_BUFFER_TOO_SMALL";
    }
    return "EMBER_ERR_UNKNOWN";
}

const char *ember_last_error(void) { return t_last_error.c_str(); }

size_t ember_dtype_size(ember_dtype dtype) {
    return ember::dtype_size(static_cast<ember::DType>(dtype));
}

const char *ember_dtype_name(ember_dtype dtype) {
    return ember::dtype_name(static_cast<ember::DType>(dtype));
}

/* ---- runtime ---- */

ember_status ember_runtime_create(const ember_runtime_options *opts, ember_runtime **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(out, "out is NULL");
    ember_runtime_options o{};
    o.struct_size = sizeof o;
    o.log_level = EMBER_LOG_WARNING;
    EMBER_REQUIRE(read_options(opts, &o), "ember_runtime_options.struct_size is invalid");
    EMBER_REQUIRE(o.num_threads >= 0 && o.num_threads <= 1024,
                  "ember_runtime_options.num_threads must be in [0, 1024]");
    EMBER_REQUIRE(o.spin_us >= 0 && o.spin_us <= 1000000,
                  "ember_runtime_options.spin_us must be in [0, 1000000]");
    *out = new ember_runtime(o);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_release(ember_runtime *runtime) {
    EMBER_API_BEGIN
    if (!runtime) return EMBER_OK;
    int64_t n = runtime->rt.live_models.load();
    if (n != 0)
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "the runtime still has %lld model(s): release them first",
                                  static_cast<long long>(n)));
    delete runtime;
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_num_threads(const ember_runtime *runtime, int32_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && out, "runtime or out is NULL");
    *out = const_cast<ember_runtime *>(runtime)->rt.pool().num_threads();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_load_plugin(ember_runtime *runtime, const char *path) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && path, "runtime or path is NULL");
    ember::Status st = runtime->rt.plugins().load(path, nullptr);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_plugin_count(const ember_runtime *runtime, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && out, "runtime or out is NULL");
    *out = const_cast<ember_runtime *>(runtime)->rt.plugins().size();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_plugin_info(const ember_runtime *runtime, size_t index,
                                       ember_plugin_info *info) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && info, "runtime or info is NULL");
    EMBER_REQUIRE(info->struct_size >= sizeof(ember_plugin_info), "ember_plugin_info.struct_size is too small");
    const ember::Plugin *p = const_cast<ember_runtime *>(runtime)->rt.plugins().at(index);
    if (!p) return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "plugin index %zu out of range", index));
    info->name = p->name.c_str();
    info->path = p->path.c_str();
    info->version = p->version.c_str();
    info->loaded = p->loaded ? 1 : 0;
    info->reason = p->reason.c_str();
    info->device_count = static_cast<int32_t>(p->devices.size());
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_runtime_plugin_device(const ember_runtime *runtime, size_t index, int32_t device,
                                         const char **name) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && name, "runtime or name is NULL");
    const ember::Plugin *p = const_cast<ember_runtime *>(runtime)->rt.plugins().at(index);
    if (!p) return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "plugin index %zu out of range", index));
    if (device < 0 || static_cast<size_t>(device) >= p->devices.size())
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "plugin '%s' has %zu device(s), not %d",
                                  p->name.c_str(), p->devices.size(), device));
    *name = p->devices[device].c_str();
    return EMBER_OK;
    EMBER_API_END
}

/* ---- model ---- */

static ember_status finish_model_load(ember_runtime *runtime, std::unique_ptr<ember::ModelBytes> bytes,
                                      const ember_model_options &o, ember_model **out) {
    std::unique_ptr<ember_model> m(new ember_model());
    ember::ReadOptions ro;
    ro.verify_checksums = o.verify_checksums != 0;
    ember::Status st = ember::read_ember(bytes->data(), bytes->size(), ro, &m->m.graph);
    if (!st.ok()) return fail(st);
    m->m.bytes = std::move(bytes);
    m->m.runtime = &runtime->rt;
    m->m.describe_io();
    runtime->rt.live_models++;
    *out = m.release();
    return EMBER_OK;
}

ember_status ember_model_load_file(ember_runtime *runtime, const char *path,
                                   const ember_model_options *opts, ember_model **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && path && out, "runtime, path or out is NULL");
    ember_model_options o{};
    o.struct_size = sizeof o;
    o.verify_checksums = 1;
    EMBER_REQUIRE(read_options(opts, &o), "ember_model_options.struct_size is invalid");
    std::unique_ptr<ember::ModelBytes> bytes;
    ember::Status st = ember::ModelBytes::map_file(path, o.copy_on_load != 0, &bytes);
    if (!st.ok()) return fail(st);
    ember_status r = finish_model_load(runtime, std::move(bytes), o, out);
    if (r != EMBER_OK) t_last_error = std::string(path) + ": " + t_last_error;
    return r;
    EMBER_API_END
}

ember_status ember_model_load_memory(ember_runtime *runtime, const void *data, size_t size,
                                     const ember_model_options *opts, ember_model **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(runtime && out, "runtime or out is NULL");
    EMBER_REQUIRE(data || size == 0, "data is NULL");
    ember_model_options o{};
    o.struct_size = sizeof o;
    o.verify_checksums = 1;
    EMBER_REQUIRE(read_options(opts, &o), "ember_model_options.struct_size is invalid");
    std::unique_ptr<ember::ModelBytes> bytes;
    ember::Status st = ember::ModelBytes::copy_memory(data, size, &bytes);
    if (!st.ok()) return fail(st);
    return finish_model_load(runtime, std::move(bytes), o, out);
    EMBER_API_END
}

ember_status ember_model_release(ember_model *model) {
    EMBER_API_BEGIN
    if (!model) return EMBER_OK;
    int64_t n = model->m.live_sessions.load();
    if (n != 0)
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "the model still has %lld session(s): release them first",
                                  static_cast<long long>(n)));
    model->m.runtime->live_models--;
    delete model;
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_model_input_count(const ember_model *model, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    *out = model->m.inputs.size();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_model_output_count(const ember_model *model, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    *out = model->m.outputs.size();
    return EMBER_OK;
    EMBER_API_END
}

static ember_status fill_info(const std::vector<ember::ModelIO> &ios, size_t index,
                              ember_value_info *info, const char *what) {
    if (index >= ios.size())
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "%s index %zu out of range (%zu)",
                                  what, index, ios.size()));
    EMBER_REQUIRE(info->struct_size >= sizeof(ember_value_info),
                  "ember_value_info.struct_size is too small");
    const ember::ModelIO &io = ios[index];
    info->name = io.name.c_str();
    info->dtype = static_cast<ember_dtype>(io.dtype);
    info->rank = io.dims.size();
    info->dims = io.dims.data();
    info->dim_names = io.dim_name_ptrs.data();
    return EMBER_OK;
}

ember_status ember_model_input_info(const ember_model *model, size_t index, ember_value_info *info) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && info, "model or info is NULL");
    return fill_info(model->m.inputs, index, info, "input");
    EMBER_API_END
}

ember_status ember_model_output_info(const ember_model *model, size_t index, ember_value_info *info) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && info, "model or info is NULL");
    return fill_info(model->m.outputs, index, info, "output");
    EMBER_API_END
}

ember_status ember_model_metadata(const ember_model *model, const char *key, const char **value,
                                  size_t *size) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && key && value, "model, key or value is NULL");
    const std::string *v = model->m.graph.metadata_get(key);
    if (!v) return fail(ember::errorf(EMBER_ERR_NOT_FOUND, "metadata key '%s' is not in the model", key));
    *value = v->c_str();
    if (size) *size = v->size();
    return EMBER_OK;
    EMBER_API_END
}

/* ---- tensor ---- */

static ember_status check_dims(ember_dtype dtype, const int64_t *dims, size_t rank, size_t *bytes) {
    EMBER_REQUIRE(ember::dtype_valid(static_cast<uint32_t>(dtype)), "unknown dtype");
    EMBER_REQUIRE(rank <= 8, "rank above 8");
    EMBER_REQUIRE(dims || rank == 0, "dims is NULL");
    ember::Shape s(dims, dims + rank);
    int64_t n;
    if (!ember::shape_numel_checked(s, &n))
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "shape %s has a negative dimension or too many elements",
                                  ember::shape_str(s).c_str()));
    *bytes = static_cast<size_t>(n) * ember::dtype_size(static_cast<ember::DType>(dtype));
    return EMBER_OK;
}

ember_status ember_tensor_create(ember_dtype dtype, const int64_t *dims, size_t rank, ember_tensor **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(out, "out is NULL");
    size_t bytes;
    ember_status r = check_dims(dtype, dims, rank, &bytes);
    if (r != EMBER_OK) return r;
    std::unique_ptr<ember_tensor> t(new ember_tensor());
    size_t alloc = (bytes + 63) / 64 * 64;
    t->owned = std::aligned_alloc(64, alloc ? alloc : 64);
    if (!t->owned)
        return fail(ember::errorf(EMBER_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for a tensor", bytes));
    std::memset(t->owned, 0, alloc ? alloc : 64);
    t->t.dtype = static_cast<ember::DType>(dtype);
    t->t.shape.assign(dims, dims + rank);
    t->t.data = t->owned;
    t->capacity = bytes;
    *out = t.release();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_tensor_wrap(ember_dtype dtype, const int64_t *dims, size_t rank, void *data,
                               size_t size_bytes, ember_tensor **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(out, "out is NULL");
    size_t bytes;
    ember_status r = check_dims(dtype, dims, rank, &bytes);
    if (r != EMBER_OK) return r;
    EMBER_REQUIRE(data || bytes == 0, "data is NULL");
    if (size_bytes < bytes)
        return fail(ember::errorf(EMBER_ERR_BUFFER_TOO_SMALL,
                                  "the buffer has %zu bytes, the tensor needs %zu", size_bytes, bytes));
    std::unique_ptr<ember_tensor> t(new ember_tensor());
    t->t.dtype = static_cast<ember::DType>(dtype);
    t->t.shape.assign(dims, dims + rank);
    t->t.data = data;
    t->capacity = size_bytes;
    *out = t.release();
    return EMBER_OK;
    EMBER_API_END
}

void ember_tensor_release(ember_tensor *tensor) { delete tensor; }

ember_dtype ember_tensor_dtype(const ember_tensor *t) {
    return t ? static_cast<ember_dtype>(t->t.dtype) : EMBER_DTYPE_UNDEFINED;
}
size_t ember_tensor_rank(const ember_tensor *t) { return t ? t->t.shape.size() : 0; }
const int64_t *ember_tensor_dims(const ember_tensor *t) { return t ? t->t.shape.data() : nullptr; }
size_t ember_tensor_size_bytes(const ember_tensor *t) { return t ? t->t.nbytes() : 0; }
int64_t ember_tensor_element_count(const ember_tensor *t) { return t ? t->t.numel() : 0; }
void *ember_tensor_data(ember_tensor *t) { return t ? t->t.data : nullptr; }
const void *ember_tensor_data_const(const ember_tensor *t) { return t ? t->t.data : nullptr; }

/* ---- session ---- */

ember_status ember_session_create(ember_model *model, const ember_session_options *opts,
                                  ember_session **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    ember_session_options o{};
    o.struct_size = sizeof o;
    EMBER_REQUIRE(read_options(opts, &o), "ember_session_options.struct_size is invalid");
    EMBER_REQUIRE(o.num_threads >= 0, "ember_session_options.num_threads is negative");
    EMBER_REQUIRE(o.max_arena_bytes >= 0, "ember_session_options.max_arena_bytes is negative");
    ember::SessionOptions so;
    if (o.backends) so.backends = o.backends;
    so.num_threads = o.num_threads;
    so.max_arena_bytes = o.max_arena_bytes;
    so.profile = o.enable_profiling != 0;
    std::unique_ptr<ember_session> s(new ember_session(&model->m, so));
    ember::Status st = s->s.init();
    if (!st.ok()) return fail(st);
    model->m.live_sessions++;
    *out = s.release();
    return EMBER_OK;
    EMBER_API_END
}

void ember_session_release(ember_session *session) {
    if (!session) return;
    session->s.model()->live_sessions--;
    delete session;
}

ember_status ember_session_run(ember_session *session, const ember_tensor *const *inputs, size_t n_inputs) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session, "session is NULL");
    ember::Status st = session->s.run(inputs, n_inputs);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_output(ember_session *session, size_t index, const ember_tensor **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && out, "session or out is NULL");
    ember::Status st = session->s.output(index, out);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

static ember_status find_io(const std::vector<ember::ModelIO> &ios, const char *name, size_t *out,
                            const char *what) {
    for (size_t i = 0; i < ios.size(); i++) {
        if (ios[i].name == name) {
            *out = i;
            return EMBER_OK;
        }
    }
    return fail(ember::errorf(EMBER_ERR_NOT_FOUND, "the model has no %s named '%s'", what, name));
}

ember_status ember_session_input_index(const ember_session *session, const char *name, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && name && out, "session, name or out is NULL");
    return find_io(session->s.model()->inputs, name, out, "input");
    EMBER_API_END
}

ember_status ember_session_output_index(const ember_session *session, const char *name, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && name && out, "session, name or out is NULL");
    return find_io(session->s.model()->outputs, name, out, "output");
    EMBER_API_END
}

ember_status ember_session_node_count(const ember_session *session, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && out, "session or out is NULL");
    *out = session->s.node_count();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_node_info(const ember_session *session, size_t index, const char **name,
                                     const char **op_type, const char **backend) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session, "session is NULL");
    ember::Status st = session->s.node_info(index, name, op_type, backend);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_arena_bytes(const ember_session *session, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && out, "session or out is NULL");
    *out = session->s.arena_bytes();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_profile_count(const ember_session *session, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && out, "session or out is NULL");
    *out = session->s.profile_count();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_profile(const ember_session *session, size_t index, const char **name,
                                   const char **op_type, const char **backend, int64_t *n_nodes,
                                   double *total_ms, int64_t *calls) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session, "session is NULL");
    ember::StepProfile p;
    ember::Status st = session->s.profile(index, &p);
    if (!st.ok()) return fail(st);
    if (name) *name = p.name;
    if (op_type) *op_type = p.op;
    if (backend) *backend = p.backend;
    if (n_nodes) *n_nodes = p.nodes;
    if (total_ms) *total_ms = p.total_ms;
    if (calls) *calls = p.calls;
    return EMBER_OK;
    EMBER_API_END
}

}  // extern "C"
