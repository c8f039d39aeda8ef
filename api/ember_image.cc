// ember_image.cc — the C ABI of images, preprocessing, labels and top-k (api/ember.h,
// "Images and preprocessing"): argument checks and the exception boundary around
// core/image.h and core/preprocess.h.
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "api/ember.h"
#include "api/handles.h"
#include "core/dtype.h"
#include "core/image.h"
#include "core/preprocess.h"

using ember_api::fail;

namespace {

// A session's preprocessing state (ember_session::preprocess): the last spec parsed and
// the resampling scratch buffers, reused from call to call.
struct PreprocessState : ember_session::SessionExtra {
    ember::Preprocessor pre;
    bool have_spec = false;
    std::string spec_text;  // the text `spec` was parsed from
    ember::PreprocessSpec spec;
};

PreprocessState *preprocess_state(ember_session *s) {
    if (!s->preprocess) s->preprocess.reset(new PreprocessState());
    return static_cast<PreprocessState *>(s->preprocess.get());
}

// The model's labels, split from metadata "labels" once (models are shared by threads).
const std::vector<std::string> &model_labels(const ember_model *model) {
    ember_model *m = const_cast<ember_model *>(model);
    std::call_once(m->labels_once, [m] {
        std::vector<std::string> labels;
        const std::string *text = m->m.graph.metadata_get("labels");
        if (text && !text->empty()) {
            size_t start = 0;
            for (;;) {
                size_t nl = text->find('\n', start);
                if (nl == std::string::npos) {
                    labels.push_back(text->substr(start));
                    break;
                }
                labels.push_back(text->substr(start, nl - start));
                start = nl + 1;
            }
        }
        m->labels.swap(labels);
    });
    return m->labels;
}

// The ember_model handle a session was created from: sessions are only made by
// ember_session_create(), from &model->m, so the container is an ember_model (GCC and
// Clang support offsetof on this non-standard-layout struct).
const ember_model *model_handle(const ember_session *s) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
    const size_t off = offsetof(ember_model, m);
#pragma GCC diagnostic pop
    return reinterpret_cast<const ember_model *>(reinterpret_cast<const char *>(s->s.model()) -
                                                 off);
}

ember_status check_input_tensor(const ember::ModelIO &io, const ember::Tensor &t) {
    if (t.dtype != io.dtype)
        return fail(ember::errorf(EMBER_ERR_SHAPE, "the tensor is %s but input '%s' is %s",
                                  ember::dtype_name(t.dtype), io.name.c_str(),
                                  ember::dtype_name(io.dtype)));
    bool fits = t.shape.size() == io.dims.size();
    for (size_t d = 1; fits && d < io.dims.size(); d++)
        fits = io.dims[d] < 0 || io.dims[d] == t.shape[d];
    if (!fits)
        return fail(ember::errorf(
            EMBER_ERR_SHAPE, "the tensor's shape %s does not fit input '%s' %s",
            ember::shape_str(t.shape).c_str(), io.name.c_str(), ember::shape_str(io.dims).c_str()));
    return EMBER_OK;
}

float output_value(const ember::Tensor &t, const void *row, int64_t i) {
    if (t.dtype == ember::DType::F16)
        return ember::half_to_float(static_cast<const uint16_t *>(row)[i]);
    return static_cast<const float *>(row)[i];
}

// True when the row already holds probabilities: metadata "output_kind" for output 0,
// otherwise values in [0, 1] summing to 1.
bool row_is_probabilities(const ember_session *session, size_t output_index, const ember::Tensor &t,
                          const void *row, int64_t n) {
    if (output_index == 0) {
        const std::string *kind = session->s.model()->graph.metadata_get("output_kind");
        if (kind && *kind == "probabilities") return true;
        if (kind && *kind == "logits") return false;
    }
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        float v = output_value(t, row, i);
        if (!(v >= 0.0f && v <= 1.0f)) return false;
        sum += v;
    }
    return std::fabs(sum - 1.0) <= 1e-3;
}

}  // namespace

extern "C" {

ember_status ember_image_load_file(const char *path, ember_image **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(path && out, "path or out is NULL");
    std::unique_ptr<ember_image> im(new ember_image());
    ember::Status st = ember::image_load_file(path, &im->img);
    if (!st.ok()) return fail(st);
    *out = im.release();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_image_load_memory(const void *data, size_t size, ember_image **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(out, "out is NULL");
    EMBER_REQUIRE(data || size == 0, "data is NULL");
    std::unique_ptr<ember_image> im(new ember_image());
    ember::Status st = ember::image_decode(data, size, &im->img);
    if (!st.ok()) return fail(st);
    *out = im.release();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_image_wrap(const void *pixels, int32_t width, int32_t height,
                              size_t stride_bytes, ember_pixel_format format, ember_image **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(out, "out is NULL");
    std::unique_ptr<ember_image> im(new ember_image());
    ember::Status st = ember::image_wrap(pixels, width, height, stride_bytes,
                                         static_cast<ember::PixelFormat>(format), &im->img);
    if (!st.ok()) return fail(st);
    *out = im.release();
    return EMBER_OK;
    EMBER_API_END
}

void ember_image_release(ember_image *image) { delete image; }

ember_status ember_image_info(const ember_image *image, int32_t *width, int32_t *height,
                              ember_pixel_format *format) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(image && image->img, "image is NULL");
    if (width) *width = image->img->width;
    if (height) *height = image->img->height;
    if (format) *format = static_cast<ember_pixel_format>(image->img->format);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_preprocess(ember_session *session, size_t input_index,
                                      const ember_image *image, const char *spec,
                                      ember_tensor *tensor, int64_t batch_index) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && image && image->img && tensor, "session, image or tensor is NULL");
    ember::Model *model = session->s.model();
    if (input_index >= model->inputs.size())
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "input index %zu out of range (%zu)",
                                  input_index, model->inputs.size()));
    const char *text = spec;
    bool from_model = false;
    if (!text) {
        const std::string *meta = model->graph.metadata_get("preprocess");
        if (!meta)
            return fail(EMBER_ERR_NOT_FOUND,
                        "the model has no 'preprocess' metadata (ember convert --preset or "
                        "--preprocess) and no spec was given");
        text = meta->c_str();
        from_model = true;
    }
    PreprocessState *state = preprocess_state(session);
    if (!state->have_spec || state->spec_text != text) {
        ember::PreprocessSpec parsed;
        ember::Status st = ember::parse_preprocess_spec(text, &parsed);
        if (!st.ok()) {
            if (from_model) return fail(st.code(), ("the model's " + st.message()).c_str());
            return fail(st);
        }
        state->spec = parsed;
        state->spec_text = text;
        state->have_spec = true;
    }
    if (check_input_tensor(model->inputs[input_index], tensor->t) != EMBER_OK)
        return EMBER_ERR_SHAPE;
    ember::Status st = state->pre.run(state->spec, *image->img, tensor->t, batch_index,
                                      &model->runtime->pool(), 0);
    if (!st.ok()) return fail(st);
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_model_label_count(const ember_model *model, size_t *out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    const std::vector<std::string> &labels = model_labels(model);
    if (labels.empty())
        return fail(EMBER_ERR_NOT_FOUND, "the model has no labels (ember convert --labels FILE)");
    *out = labels.size();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_model_label(const ember_model *model, size_t index, const char **out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(model && out, "model or out is NULL");
    const std::vector<std::string> &labels = model_labels(model);
    if (labels.empty())
        return fail(EMBER_ERR_NOT_FOUND, "the model has no labels (ember convert --labels FILE)");
    if (index >= labels.size())
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "label index %zu out of range (%zu)",
                                  index, labels.size()));
    *out = labels[index].c_str();
    return EMBER_OK;
    EMBER_API_END
}

ember_status ember_session_top_k(ember_session *session, size_t output_index, int64_t batch_index,
                                 size_t k, ember_class_score *out, size_t *n_out) {
    EMBER_API_BEGIN
    EMBER_REQUIRE(session && n_out, "session or n_out is NULL");
    EMBER_REQUIRE(out || k == 0, "out is NULL");
    const ember_tensor *ot = nullptr;
    ember::Status st = session->s.output(output_index, &ot);
    if (!st.ok()) return fail(st);
    const ember::Tensor &t = ot->t;
    const std::string &name = session->s.model()->outputs[output_index].name;
    if (t.dtype != ember::DType::F32 && t.dtype != ember::DType::F16)
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT,
                                  "output '%s' is %s: top-k needs float32 or float16 scores",
                                  name.c_str(), ember::dtype_name(t.dtype)));
    int64_t rows = t.rank() >= 2 ? t.shape[0] : 1;
    int64_t numel = t.numel();
    if (rows <= 0 || numel == 0)
        return fail(ember::errorf(EMBER_ERR_INVALID_ARGUMENT, "output '%s' %s is empty",
                                  name.c_str(), ember::shape_str(t.shape).c_str()));
    if (batch_index < 0 || batch_index >= rows)
        return fail(ember::errorf(
            EMBER_ERR_INVALID_ARGUMENT, "batch row %lld is out of range (output '%s' has %lld)",
            static_cast<long long>(batch_index), name.c_str(), static_cast<long long>(rows)));
    int64_t classes = numel / rows;
    const void *row = static_cast<const char *>(t.data) +
                      static_cast<size_t>(batch_index * classes) * ember::dtype_size(t.dtype);

    // Selection on the raw values (softmax is monotonic): out[0..m) stays sorted, best
    // first, ties to the lower index; NaN never enters.
    size_t m = 0;
    for (int64_t i = 0; i < classes && k > 0; i++) {
        float v = output_value(t, row, i);
        if (std::isnan(v) || (m == k && !(v > out[m - 1].score))) continue;
        size_t pos = m < k ? m++ : k - 1;
        while (pos > 0 && out[pos - 1].score < v) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos].index = i;
        out[pos].score = v;
        out[pos].label = "";
    }
    if (!row_is_probabilities(session, output_index, t, row, classes)) {
        float mx = -INFINITY;
        for (int64_t i = 0; i < classes; i++) mx = std::fmax(mx, output_value(t, row, i));
        double sum = 0;
        for (int64_t i = 0; i < classes; i++) {
            float v = output_value(t, row, i);
            if (!std::isnan(v)) sum += std::exp(static_cast<double>(v) - mx);
        }
        for (size_t j = 0; j < m; j++)
            out[j].score =
                static_cast<float>(std::exp(static_cast<double>(out[j].score) - mx) / sum);
    }
    const std::vector<std::string> &labels = model_labels(model_handle(session));
    if (static_cast<int64_t>(labels.size()) == classes)
        for (size_t j = 0; j < m; j++)
            out[j].label = labels[static_cast<size_t>(out[j].index)].c_str();
    *n_out = m;
    return EMBER_OK;
    EMBER_API_END
}

}  // extern "C"
