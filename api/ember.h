/* ember.h — the public C ABI of Ember, an embeddable inference runtime.
 *
 * This header is the manual: what is not declared here is not API.
 *
 * Objects, from the outside in:
 *   ember_runtime  plugin registry, thread pool, logging. Create one per process
 *                  (or several: runtimes share no state with each other).
 *   ember_model    an immutable, mmap'd .ember file. Shareable by any number of
 *                  sessions on any number of threads.
 *   ember_session  a compiled plan of one model: memory arena, packed weights.
 *                  Used by one thread at a time; many sessions may run at once.
 *   ember_tensor   a typed n-dimensional array that owns or borrows its memory.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *   - Every fallible call returns ember_status. EMBER_OK is 0; errors are positive.
 *     On failure, ember_last_error() gives a message for the calling thread, valid
 *     until that thread's next ember_* call, and output parameters are untouched.
 *   - A NULL handle or a NULL output pointer gives EMBER_ERR_INVALID_ARGUMENT.
 *   - *_release(NULL) is a harmless no-op.
 *   - Options structs start with `size_t struct_size`; set it to sizeof(struct).
 *     The library reads only the bytes the caller declares and defaults the rest,
 *     so programs built against an older header keep working. A NULL options
 *     pointer means all defaults. Fields are only ever appended.
 *   - The library never prints to stdout, never calls abort() or exit(), and no
 *     C++ exception crosses this boundary.
 *   - Integers are fixed-width; sizes are size_t; dimensions are int64_t.
 */
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EMBER_BUILDING_LIBRARY)
#define EMBER_API __attribute__((visibility("default")))
#else
#define EMBER_API
#endif

/* ---------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------ */

/* The version of this header's ABI. ember_api_version() returns the library's;
 * an application checks that the library is at least as new as its header. */
#define EMBER_API_VERSION 1
#define EMBER_VERSION_MAJOR 0
#define EMBER_VERSION_MINOR 1
#define EMBER_VERSION_PATCH 0

/* Returns the ABI version of the loaded library (EMBER_API_VERSION it was built with).
 * Threads: any.  Errors: none.  Since: 1 */
EMBER_API uint32_t ember_api_version(void);

/* Returns the library version as "MAJOR.MINOR.PATCH", a static string.
 * Ownership: static storage, never free it.  Threads: any.  Since: 1 */
EMBER_API const char *ember_version(void);

/* ---------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------ */

typedef enum ember_status {
    EMBER_OK = 0,
    EMBER_ERR_INVALID_ARGUMENT = 1, /* NULL handle, bad option value, index out of range */
    EMBER_ERR_IO = 2,               /* a file could not be opened, read or mapped */
    EMBER_ERR_FORMAT = 3,           /* malformed model file, image or tensor bytes */
    EMBER_ERR_UNSUPPORTED = 4,      /* an operator, attribute or dtype Ember does not run */
    EMBER_ERR_OUT_OF_MEMORY = 5,    /* an allocation failed or a memory cap was exceeded */
    EMBER_ERR_BACKEND = 6,          /* a backend (plugin, device) failed */
    EMBER_ERR_SHAPE = 7,            /* tensor shapes or dtypes do not fit the model */
    EMBER_ERR_INTERNAL = 8,         /* a broken invariant inside Ember: please report it */
    EMBER_ERR_ABI = 9,              /* a plugin or caller speaks an incompatible ABI */
    EMBER_ERR_NOT_FOUND = 10,       /* a name (input, output, metadata key) does not exist */
    EMBER_ERR_BUFFER_TOO_SMALL = 11 /* a caller's buffer cannot hold the result */
    /* New codes are appended; existing values never change. */
} ember_status;

/* Returns a static English name for `status` ("EMBER_ERR_FORMAT"); unknown values
 * give "EMBER_ERR_UNKNOWN". Never fails.  Threads: any.  Since: 1 */
EMBER_API const char *ember_status_string(ember_status status);

/* Returns the message of the calling thread's last failed ember_* call, or "" if
 * its last call succeeded.
 * Ownership: thread-local storage owned by the library; do not free.
 * Lifetime:  valid until this thread's next ember_* call.
 * Threads:   each thread has its own message.  Since: 1 */
EMBER_API const char *ember_last_error(void);

/* ---------------------------------------------------------------------------
 * Data types
 * ------------------------------------------------------------------------ */

typedef enum ember_dtype {
    EMBER_DTYPE_UNDEFINED = 0,
    EMBER_DTYPE_FLOAT32 = 1,
    EMBER_DTYPE_FLOAT16 = 2,
    EMBER_DTYPE_BFLOAT16 = 3,
    EMBER_DTYPE_FLOAT64 = 4,
    EMBER_DTYPE_INT8 = 5,
    EMBER_DTYPE_UINT8 = 6,
    EMBER_DTYPE_INT16 = 7,
    EMBER_DTYPE_UINT16 = 8,
    EMBER_DTYPE_INT32 = 9,
    EMBER_DTYPE_UINT32 = 10,
    EMBER_DTYPE_INT64 = 11,
    EMBER_DTYPE_UINT64 = 12,
    EMBER_DTYPE_BOOL = 13 /* one byte, 0 or 1 */
    /* Values 32 and up are reserved for block-quantised weight types (weights only). */
} ember_dtype;

/* Size in bytes of one element of `dtype`, 0 for EMBER_DTYPE_UNDEFINED or unknown.
 * Threads: any.  Since: 1 */
EMBER_API size_t ember_dtype_size(ember_dtype dtype);

/* Static lower-case name of `dtype` ("float32"), "undefined" if unknown.  Since: 1 */
EMBER_API const char *ember_dtype_name(ember_dtype dtype);

/* ---------------------------------------------------------------------------
 * Runtime
 * ------------------------------------------------------------------------ */

typedef struct ember_runtime ember_runtime;

typedef enum ember_log_level {
    EMBER_LOG_ERROR = 0,
    EMBER_LOG_WARNING = 1,
    EMBER_LOG_INFO = 2,
    EMBER_LOG_DEBUG = 3
} ember_log_level;

/* A log sink. `function` names the library function that logged; `message` has no
 * trailing newline. Called on whichever thread logged; must not call back into Ember. */
typedef void (*ember_log_fn)(void *user_data, ember_log_level level, const char *function,
                             const char *message);

typedef struct ember_runtime_options {
    size_t struct_size;  /* sizeof(ember_runtime_options) */
    int32_t num_threads; /* worker threads of the runtime's pool, including the caller;
                            0 = one per online CPU. Idle workers sleep (no spinning,
                            unless spin_us says so). */
    ember_log_fn log_fn; /* NULL: warnings and errors go to stderr */
    void *log_user_data; /* passed to log_fn */
    int32_t log_level;   /* most verbose level delivered; default EMBER_LOG_WARNING */
    int32_t disable_plugin_discovery; /* 1: do not scan EMBER_PLUGIN_PATH and the plugin
                                         folder beside libember.so (explicit
                                         ember_runtime_load_plugin still works) */
    int32_t spin_us;     /* 0 (default): nothing spins. N > 0 (at most 1000000): a worker
                            that finished a piece of work polls for the next one for up
                            to N microseconds before it sleeps, and a caller polls as long
                            for its workers' last pieces: hand-offs between operators
                            cost well under a microsecond instead of a sleeping thread's
                            wake-up (15-35 us on a VM), which speeds up token-by-token
                            decoding on 2+ threads, at the cost of up to N us of CPU per
                            worker after each piece of work. For machines that are yours
                            alone (docs/threading.md).  Since: 1 (0.1, added field) */
} ember_runtime_options;

/* Creates a runtime.
 * Ownership: `opts` borrowed (may be freed on return); `*out` owned by the caller,
 *            freed with ember_runtime_release().
 * Threads:   any. A runtime may be used by many threads at once.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (NULL out, bad struct_size or num_threads),
 *            EMBER_ERR_OUT_OF_MEMORY.  Since: 1 */
EMBER_API ember_status ember_runtime_create(const ember_runtime_options *opts,
                                            ember_runtime **out);

/* Releases a runtime and joins its threads.
 * Lifetime:  every model loaded with this runtime must be released first; releasing a
 *            runtime that still has models fails with EMBER_ERR_INVALID_ARGUMENT and
 *            releases nothing (so no session is left pointing at a dead pool).
 * Threads:   no other thread may be using the runtime.  Since: 1 */
EMBER_API ember_status ember_runtime_release(ember_runtime *runtime);

/* Number of threads the runtime's pool uses (including the calling thread).  Since: 1 */
EMBER_API ember_status ember_runtime_num_threads(const ember_runtime *runtime, int32_t *out);

/* Backend plugins. At creation the runtime scans EMBER_PLUGIN_PATH (colon-separated
 * folders), then the ember/plugins folder beside libember.so, for libember-<name>.so.
 * A plugin that cannot be used (missing shared library such as libcudart, no
 * ember_plugin_init, ABI mismatch, init error, no device) is recorded with its reason
 * and skipped. Sessions choose among loaded plugins by name ("onednn", "cuda"); the
 * built-in CPU kernels ("cpu") are always there and always last. */

/* Loads one more plugin file.
 * Ownership: `path` borrowed.  Threads: any.
 * Errors: EMBER_ERR_BACKEND with the reason (the plugin stays listed as refused).
 * Since: 1 */
EMBER_API ember_status ember_runtime_load_plugin(ember_runtime *runtime, const char *path);

typedef struct ember_plugin_info {
    size_t struct_size;    /* set by the caller: sizeof(ember_plugin_info) */
    const char *name;      /* "onednn", or the name taken from the file */
    const char *path;
    const char *version;   /* "" when not loaded */
    int32_t loaded;        /* 1: usable; 0: refused, see reason */
    const char *reason;    /* why it was refused, "" when loaded */
    int32_t device_count;
} ember_plugin_info;

/* Plugins found so far (loaded and refused), and plugin `index`'s description.
 * Ownership: strings owned by the runtime, valid while it lives.  Since: 1 */
EMBER_API ember_status ember_runtime_plugin_count(const ember_runtime *runtime, size_t *out);
EMBER_API ember_status ember_runtime_plugin_info(const ember_runtime *runtime, size_t index,
                                                 ember_plugin_info *info);
/* Name of device `device` of loaded plugin `index`.  Since: 1 */
EMBER_API ember_status ember_runtime_plugin_device(const ember_runtime *runtime, size_t index,
                                                   int32_t device, const char **name);

/* ---------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------ */

typedef struct ember_model ember_model;

typedef struct ember_model_options {
    size_t struct_size;      /* sizeof(ember_model_options) */
    int32_t copy_on_load;    /* 0 (default): mmap the file and use weights in place.
                                1: read the whole file into memory, so later changes to
                                the file on disk cannot affect the model. A file of 4 MiB
                                or more is read into memory advised to use transparent
                                huge pages, which streams weights faster (language-model
                                decoding, docs/language-models.md). */
    int32_t verify_checksums; /* 1 (default): check every section's checksum on load.
                                 0: skip (faster load of trusted files). */
} ember_model_options;

/* Loads a .ember file. The file is validated completely (offsets, sizes, dtypes,
 * shapes, graph references, checksums) before anything uses it.
 * Ownership: `path`, `opts` borrowed; `*out` owned by the caller, freed with
 *            ember_model_release().
 * Lifetime:  `runtime` must outlive the model. With mmap (the default) the file must
 *            not be truncated or rewritten while the model lives: the OS may then
 *            deliver SIGBUS. Use copy_on_load for files that may change.
 * Threads:   any; the returned model is immutable and may be shared by threads.
 * Errors:    EMBER_ERR_IO (cannot open/map), EMBER_ERR_FORMAT (the message says what
 *            and where), EMBER_ERR_UNSUPPORTED (newer major format version).  Since: 1 */
EMBER_API ember_status ember_model_load_file(ember_runtime *runtime, const char *path,
                                             const ember_model_options *opts,
                                             ember_model **out);

/* Loads a model from `size` bytes at `data`. The bytes are copied, so the caller may
 * free them on return.  Errors: as ember_model_load_file.  Since: 1 */
EMBER_API ember_status ember_model_load_memory(ember_runtime *runtime, const void *data,
                                               size_t size, const ember_model_options *opts,
                                               ember_model **out);

/* Releases a model.
 * Lifetime:  every session created from the model must be released first; otherwise
 *            EMBER_ERR_INVALID_ARGUMENT and nothing is released.  Since: 1 */
EMBER_API ember_status ember_model_release(ember_model *model);

/* Describes one graph input or output of a model. Pointers inside are owned by the
 * model and valid while it lives. A dimension of -1 is symbolic (e.g. the batch);
 * dim_names[i] then gives its name ("batch_size"), otherwise "". */
typedef struct ember_value_info {
    size_t struct_size;      /* set by the caller: sizeof(ember_value_info) */
    const char *name;
    ember_dtype dtype;
    size_t rank;
    const int64_t *dims;     /* rank entries */
    const char *const *dim_names; /* rank entries */
} ember_value_info;

/* Counts of graph inputs (initializers excluded) and outputs.  Since: 1 */
EMBER_API ember_status ember_model_input_count(const ember_model *model, size_t *out);
EMBER_API ember_status ember_model_output_count(const ember_model *model, size_t *out);

/* Fills `*info` for input/output `index`.
 * Ownership: strings and arrays in `*info` are owned by the model.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT if index is out of range or info->struct_size is
 *            too small.  Since: 1 */
EMBER_API ember_status ember_model_input_info(const ember_model *model, size_t index,
                                              ember_value_info *info);
EMBER_API ember_status ember_model_output_info(const ember_model *model, size_t index,
                                               ember_value_info *info);

/* Looks up a metadata value ("labels", "preprocess", "producer", ...) by key.
 * Ownership: `*value` is owned by the model (NUL-terminated; `*size` excludes the NUL).
 * Errors:    EMBER_ERR_NOT_FOUND if the key is absent.  Since: 1 */
EMBER_API ember_status ember_model_metadata(const ember_model *model, const char *key,
                                            const char **value, size_t *size);

/* ---------------------------------------------------------------------------
 * Tensor
 * ------------------------------------------------------------------------ */

typedef struct ember_tensor ember_tensor;

/* Creates a tensor that owns zero-filled, 64-byte-aligned memory.
 * Ownership: `dims` copied; `*out` owned by the caller (ember_tensor_release()).
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (bad dtype, negative dim, rank > 8, size
 *            overflow), EMBER_ERR_OUT_OF_MEMORY.  Since: 1 */
EMBER_API ember_status ember_tensor_create(ember_dtype dtype, const int64_t *dims, size_t rank,
                                           ember_tensor **out);

/* Creates a tensor that borrows the caller's memory (zero copy).
 * Ownership: `data` borrowed: it must hold `size_bytes` >= the tensor's byte size and
 *            outlive the tensor; `*out` owned by the caller.
 * Errors:    EMBER_ERR_BUFFER_TOO_SMALL if size_bytes is smaller than needed.  Since: 1 */
EMBER_API ember_status ember_tensor_wrap(ember_dtype dtype, const int64_t *dims, size_t rank,
                                         void *data, size_t size_bytes, ember_tensor **out);

EMBER_API void ember_tensor_release(ember_tensor *tensor);

/* Accessors. They never fail on a valid tensor and return 0/NULL on NULL.
 * Ownership: returned pointers are owned by the tensor.  Threads: any, while no thread
 * modifies the tensor.  Since: 1 */
EMBER_API ember_dtype ember_tensor_dtype(const ember_tensor *tensor);
EMBER_API size_t ember_tensor_rank(const ember_tensor *tensor);
EMBER_API const int64_t *ember_tensor_dims(const ember_tensor *tensor);
EMBER_API size_t ember_tensor_size_bytes(const ember_tensor *tensor);
EMBER_API int64_t ember_tensor_element_count(const ember_tensor *tensor);
EMBER_API void *ember_tensor_data(ember_tensor *tensor);
EMBER_API const void *ember_tensor_data_const(const ember_tensor *tensor);

/* ---------------------------------------------------------------------------
 * Session
 * ------------------------------------------------------------------------ */

typedef struct ember_session ember_session;

typedef struct ember_session_options {
    size_t struct_size;      /* sizeof(ember_session_options) */
    const char *backends;    /* priority list of backend names, comma-separated, e.g.
                                "onednn,cpu"; "auto" (or NULL) = every loaded plugin, best
                                first (cuda, onednn, others), then cpu. "cpu" is always
                                appended: every model runs. */
    int32_t num_threads;     /* threads this session may use, 0 = all of the runtime's */
    int64_t max_arena_bytes; /* 0 = no cap; otherwise a plan needing more is refused */
    int32_t enable_profiling; /* 1: time every step of every run (ember_session_profile) */
} ember_session_options;

/* Compiles `model` into a session: checks that every node is supported, packs weights
 * and, when all input shapes are fixed, plans the memory arena.
 * Ownership: `model`, `opts` borrowed; `*out` owned by the caller, freed with
 *            ember_session_release().
 * Lifetime:  `model` must outlive the session; `opts` may be freed on return.
 * Threads:   sessions run in parallel; one session is used by one thread at a time.
 * Errors:    EMBER_ERR_UNSUPPORTED if no backend runs some node (the message names it),
 *            EMBER_ERR_SHAPE for inconsistent shapes, EMBER_ERR_OUT_OF_MEMORY.  Since: 1 */
EMBER_API ember_status ember_session_create(ember_model *model,
                                            const ember_session_options *opts,
                                            ember_session **out);

EMBER_API void ember_session_release(ember_session *session);

/* Runs the model on `n_inputs` tensors, in graph-input order (ember_model_input_info).
 * The first run with a given set of input shapes plans the arena; later runs with the
 * same shapes allocate nothing.
 * Ownership: inputs borrowed for the duration of the call.
 * Threads:   one thread at a time per session.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (wrong count), EMBER_ERR_SHAPE (a dtype or shape
 *            that does not fit the model; the message names the input and both shapes).
 *            After a failed run the session stays usable.  Since: 1 */
EMBER_API ember_status ember_session_run(ember_session *session,
                                         const ember_tensor *const *inputs, size_t n_inputs);

/* Borrows output `index` of the last successful run.
 * Ownership: `*out` is owned by the session.
 * Lifetime:  valid until the next ember_session_run() or ember_session_release().
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (index out of range or no successful run yet).
 * Since: 1 */
EMBER_API ember_status ember_session_output(ember_session *session, size_t index,
                                            const ember_tensor **out);

/* Finds the index of the graph input/output called `name`.
 * Errors: EMBER_ERR_NOT_FOUND.  Since: 1 */
EMBER_API ember_status ember_session_input_index(const ember_session *session,
                                                 const char *name, size_t *out);
EMBER_API ember_status ember_session_output_index(const ember_session *session,
                                                  const char *name, size_t *out);

/* Number of nodes the session executes and, for node `index`, its name, operator
 * and the backend that runs it ("cpu").
 * Ownership: strings owned by the session, valid while it lives.  Since: 1 */
EMBER_API ember_status ember_session_node_count(const ember_session *session, size_t *out);
EMBER_API ember_status ember_session_node_info(const ember_session *session, size_t index,
                                               const char **name, const char **op_type,
                                               const char **backend);

/* Bytes of the session's intermediate-tensor arena for the current plan (0 before the
 * first plan).  Since: 1 */
EMBER_API ember_status ember_session_arena_bytes(const ember_session *session, size_t *out);

/* Per-step timings of the current plan, when the session was created with
 * enable_profiling. A step is one kernel, or one plugin subgraph (`op` is then the first
 * node's operator and `n_nodes` the subgraph's size). Times accumulate over the runs of
 * this plan.
 * Ownership: strings owned by the session, valid until the next run.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (profiling off, no plan, index out of range).
 * Since: 1 */
EMBER_API ember_status ember_session_profile_count(const ember_session *session, size_t *out);
EMBER_API ember_status ember_session_profile(const ember_session *session, size_t index,
                                             const char **name, const char **op_type,
                                             const char **backend, int64_t *n_nodes,
                                             double *total_ms, int64_t *calls);

/* ---------------------------------------------------------------------------
 * Images and preprocessing
 *
 * A model converted with a preprocessing spec (ember convert --preset/--preprocess)
 * carries it in its metadata ("preprocess"); ember_session_preprocess() applies it to an
 * image and writes the result into one batch slot of an input tensor, so the same call
 * turns a JPEG into the model's input whatever the model expects.
 *
 * Spec syntax: a preset name, or a preset followed by overrides, or key=value pairs,
 * separated by ';' (keys and names are case-insensitive, spaces around them ignored) —
 * for example "caffe", "imagenet;resize=320", or
 * "resize=256;crop=224;order=bgr;scale=1;mean=104,117,123;std=1,1,1;layout=nchw;dtype=float32".
 * Later keys override earlier ones and the preset's. The steps, in order:
 *   crop=square      centre square of the source (side = the shorter side), before resizing
 *   resize=N         shorter side to N, the other to round(N * long / short); or
 *   resize=WxH       exactly W x H
 *   interp=bilinear  (default) Pillow's Image.resize(BILINEAR): a triangle filter whose
 *                    support grows with the downscale factor (antialiasing), 8-bit
 *                    fixed-point arithmetic; identical to PIL on identical pixels
 *                    (docs/preprocessing.md). interp=nearest: pixel floor((x+0.5)*in/out)
 *   crop=N, crop=WxH centre crop of the resized image, left/top edge
 *                    round((size - crop) / 2) with halves to even
 *   letterbox=WxH    fit inside W x H keeping the aspect ratio, centred; the rest is
 *                    pad=V (a pixel value, default 0). Replaces resize and crop (and is
 *                    replaced by a later resize or crop)
 *   order=rgb|bgr|gray  gray = Pillow's convert('L'): (R*19595 + G*38470 + B*7471 +
 *                    32768) >> 16, i.e. 0.299 R + 0.587 G + 0.114 B rounded, applied
 *                    before resizing; a gray image into rgb/bgr repeats the gray value
 *   scale=S, mean=a[,b,c], std=a[,b,c]  value = (pixel * S - mean[c]) / std[c]; one
 *                    value applies to every channel; S may be a fraction ("1/255")
 *   layout=nchw|nhwc (default nchw)
 *   dtype=float32|float16|uint8|int8  default: the tensor's dtype; uint8/int8 values
 *                    are rounded half up and saturated
 * Presets: imagenet (resize=256;crop=224;order=rgb;scale=1/255;mean=0.485,0.456,0.406;
 * std=0.229,0.224,0.225), caffe (resize=256;crop=224;order=bgr;scale=1;mean=104,117,123),
 * mnist (resize=28x28;order=gray;scale=1: values 0..255), cifar (crop=square;
 * resize=32x32;order=rgb;scale=1/255;mean=0.5;std=0.5: values -1..1).
 * ------------------------------------------------------------------------ */

typedef struct ember_image ember_image;

typedef enum ember_pixel_format {
    EMBER_PIXEL_GRAY = 1, /* 1 byte per pixel */
    EMBER_PIXEL_RGB = 3,  /* 3 bytes per pixel, R first */
    EMBER_PIXEL_BGR = 4,  /* 3 bytes per pixel, B first */
    EMBER_PIXEL_RGBA = 5, /* 4 bytes per pixel, alpha ignored */
    EMBER_PIXEL_BGRA = 6  /* 4 bytes per pixel, alpha ignored */
} ember_pixel_format;

/* Decodes an image file (JPEG, PNG, BMP, GIF (first frame), TGA, PNM) with stb_image.
 * Gray and gray+alpha images give EMBER_PIXEL_GRAY, all others EMBER_PIXEL_RGB (alpha
 * dropped, palettes expanded, 16-bit samples reduced to 8). EXIF orientation is not
 * applied (as PIL's Image.open). The header is read first: a side above 16384 is
 * refused before any pixel is decoded.
 * Ownership: `path` borrowed; `*out` owned by the caller (ember_image_release()).
 * Threads:   any; decodes on different threads run in parallel.
 * Errors:    EMBER_ERR_IO (cannot open or read), EMBER_ERR_FORMAT (bad or truncated
 *            bytes; the message names the format and gives stb_image's reason, e.g.
 *            "JPEG data (50291 bytes) is corrupt or truncated (stb_image: expected
 *            marker)"), EMBER_ERR_UNSUPPORTED (a side above 16384; HDR, PSD, PIC).
 *            Since: 1 */
EMBER_API ember_status ember_image_load_file(const char *path, ember_image **out);

/* Decodes `size` encoded bytes at `data` (decoded at once: the caller may free them on
 * return).  Errors: as ember_image_load_file.  Since: 1 */
EMBER_API ember_status ember_image_load_memory(const void *data, size_t size, ember_image **out);

/* Wraps pixels the caller already has (8 bits per channel, rows `stride_bytes` apart;
 * bytes between rows are never read). Zero copy.
 * Ownership: `pixels` borrowed: it must outlive the image and not change while used.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (NULL pixels, a side outside [1, 16384], an
 *            unknown format, stride smaller than a row).  Since: 1 */
EMBER_API ember_status ember_image_wrap(const void *pixels, int32_t width, int32_t height,
                                        size_t stride_bytes, ember_pixel_format format,
                                        ember_image **out);

/* Releases an image (decoded pixels are freed; wrapped ones stay the caller's).
 * An image is read-only once made: any number of threads and sessions may use it at once.
 * Since: 1 */
EMBER_API void ember_image_release(ember_image *image);

/* Width, height and pixel format of an image (any output pointer may be NULL).  Since: 1 */
EMBER_API ember_status ember_image_info(const ember_image *image, int32_t *width,
                                        int32_t *height, ember_pixel_format *format);

/* Preprocesses `image` into batch slot `batch_index` of `tensor`, which must have the
 * model input `input_index`'s dtype, rank and non-batch dimensions; its first
 * dimension is the batch (any size: batch_index < it). Slots not written keep their
 * bytes. The spec is the model's "preprocess" metadata unless `spec` overrides it (NULL:
 * the model's).
 * Ownership: all borrowed. The session keeps scratch buffers, so after the first call
 *            with a given image size, preprocessing allocates nothing.
 * Threads:   one thread at a time per session (like ember_session_run); large images
 *            use the runtime's threads.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (bad spec, index or slot; the message names the
 *            key), EMBER_ERR_SHAPE (the tensor does not fit the model input, or the
 *            spec's output — channels, size for this image, layout, dtype — does not fit
 *            the tensor; the message gives both), EMBER_ERR_NOT_FOUND (no spec in the
 *            model and none given).  Since: 1 */
EMBER_API ember_status ember_session_preprocess(ember_session *session, size_t input_index,
                                                const ember_image *image, const char *spec,
                                                ember_tensor *tensor, int64_t batch_index);

/* Class labels stored in the model (ember convert --labels; one per line of metadata
 * "labels", split on first use): count and label `index`.
 * Ownership: strings owned by the model, valid while it lives.
 * Threads:   any; the model may be shared.  Errors: EMBER_ERR_NOT_FOUND if the model
 * has no labels, EMBER_ERR_INVALID_ARGUMENT if index is out of range.  Since: 1 */
EMBER_API ember_status ember_model_label_count(const ember_model *model, size_t *out);
EMBER_API ember_status ember_model_label(const ember_model *model, size_t index,
                                         const char **out);

typedef struct ember_class_score {
    int64_t index;     /* class index */
    const char *label; /* the model's label for it, or "" (owned by the model) */
    float score;       /* probability in [0, 1] */
} ember_class_score;

/* The `k` best classes of batch row `batch_index` of output `output_index` of the last
 * run, best first (ties: lower index first; NaN scores are skipped). A row is the
 * output's elements after the first dimension (all of them for rank 1). Scores are
 * probabilities: softmax is applied only when the output is logits (metadata
 * "output_kind" = "logits" for output 0, written by ember convert; otherwise by
 * inspection: values outside [0, 1] or not summing to 1 within 1e-3). Labels are the
 * model's when it has one per class, else "".
 * Ownership: `out` is the caller's array of at least k entries; *n_out gets the count
 *            written (min(k, classes)). Allocates nothing.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (no run yet, bad index, non-float output).
 * Since: 1 */
EMBER_API ember_status ember_session_top_k(ember_session *session, size_t output_index,
                                           int64_t batch_index, size_t k,
                                           ember_class_score *out, size_t *n_out);

/* ---------------------------------------------------------------------------
 * Language models
 *
 * Decoder-only transformers of the Llama family (RMSNorm, rotary position embedding,
 * grouped-query attention, SiLU-gated feed-forward), converted from llama2.c or GGUF
 * checkpoints by `ember convert` (docs/language-models.md). Such a model has inputs
 * tokens int64[T], pos int64[1], k_cache and v_cache float32[layers, context, kv_dim],
 * output logits float32[T, vocab], "lm.*" metadata (formats/FORMAT.md) and usually a
 * tokenizer. Any session runs it; a generator owns the key/value caches of one sequence
 * and drives the session:
 *
 *   ember_tokenizer_encode(tok, "Once upon a time", 16, EMBER_TOKENIZE_ADD_BOS,
 *                          ids, 64, &n);
 *   ember_generator_create(session, NULL, &gen);
 *   ember_generator_feed(gen, ids, n);                  prefill: one batched run
 *   ember_generator_generate(gen, &gopts, out, 256, &n_out, &why);  streams, stops on EOS
 *   ember_generator_truncate(gen, n);                   roll back to the prompt
 *
 * Token ids are int32_t. Text is UTF-8 bytes with an explicit length (NUL not needed).
 * ------------------------------------------------------------------------ */

typedef struct ember_tokenizer ember_tokenizer;
typedef struct ember_generator ember_generator;

/* ember_tokenizer_encode() flags. */
#define EMBER_TOKENIZE_ADD_BOS 1u        /* start with the BOS token (when the vocabulary has one) */
#define EMBER_TOKENIZE_PARSE_SPECIAL 2u  /* control-token texts in the input ("<s>", "</s>")
                                            become those tokens instead of plain text */

/* Creates a tokenizer from the vocabulary stored in `model` (SentencePiece BPE as
 * llama2.c and llama.cpp run it: a leading space, score-ordered merges, byte fallback
 * <0xNN>). A vocabulary-only model (a converted vocab GGUF) has a tokenizer but no graph.
 * Ownership: `model` borrowed; `*out` owned by the caller, freed with
 *            ember_tokenizer_release().
 * Lifetime:  the tokenizer copies what it needs: it may outlive the model.
 * Threads:   a tokenizer is immutable: any number of threads may use it at once.
 * Errors:    EMBER_ERR_NOT_FOUND (the model has no tokenizer), EMBER_ERR_FORMAT (the
 *            stored vocabulary is damaged), EMBER_ERR_UNSUPPORTED (another tokenizer
 *            kind).  Since: 1 */
EMBER_API ember_status ember_tokenizer_create(const ember_model *model, ember_tokenizer **out);

EMBER_API void ember_tokenizer_release(ember_tokenizer *tokenizer);

typedef struct ember_tokenizer_info {
    size_t struct_size;  /* set by the caller: sizeof(ember_tokenizer_info) */
    int32_t vocab_size;
    int32_t bos;         /* -1 when the vocabulary has none */
    int32_t eos;
    int32_t unk;
    int32_t add_bos;     /* 1: the model expects sequences to start with BOS */
} ember_tokenizer_info;

/* Vocabulary size and special ids.  Errors: EMBER_ERR_INVALID_ARGUMENT (struct_size too
 * small).  Since: 1 */
EMBER_API ember_status ember_tokenizer_get_info(const ember_tokenizer *tokenizer,
                                                ember_tokenizer_info *info);

/* Encodes `text_len` bytes of `text` into token ids.
 * Ownership: all borrowed; ids[0, capacity) is the caller's.
 * Threads:   any.
 * Errors:    EMBER_ERR_BUFFER_TOO_SMALL when more than `capacity` ids result: then (an
 *            exception to the convention) *n_ids is set to the count needed and `ids`
 *            holds the first `capacity` of them, so a caller can size its buffer and call
 *            again. `ids` may be NULL when capacity is 0.  Since: 1 */
EMBER_API ember_status ember_tokenizer_encode(const ember_tokenizer *tokenizer, const char *text,
                                              size_t text_len, uint32_t flags, int32_t *ids,
                                              size_t capacity, size_t *n_ids);

/* Decodes ids into UTF-8 text: "▁" becomes a space, byte tokens their byte, control
 * tokens (BOS, EOS) nothing, and a piece right after BOS loses its leading space
 * (llama2.c's rule). The text is NUL-terminated when there is room; *n_bytes excludes
 * the NUL.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (an id outside the vocabulary; the message gives
 *            its index), EMBER_ERR_BUFFER_TOO_SMALL (*n_bytes then gives the size needed,
 *            without the NUL).  Since: 1 */
EMBER_API ember_status ember_tokenizer_decode(const ember_tokenizer *tokenizer, const int32_t *ids,
                                              size_t n_ids, char *text, size_t capacity,
                                              size_t *n_bytes);

typedef struct ember_generator_options {
    size_t struct_size; /* sizeof(ember_generator_options) */
    int64_t context;    /* positions the caches hold; 0 = the model's "lm.context". A
                           value above it is allowed (rotary positions extrapolate; the
                           model was not trained there). Cache memory is
                           2 * layers * context * kv_dim * 4 bytes. */
    int32_t all_logits; /* 0 (default): a feed computes the final norm and the classifier
                           for the last position only (ember_generator_logits); 1: for
                           every position fed, in the session's output 0 ([n_ids, vocab]).
                           Since: 1 (0.1.0) */
} ember_generator_options;

/* Creates a generator on a session of a language model: allocates its key/value caches
 * and copies the model's tokenizer (if any). Greedy sampling until
 * ember_generator_set_sampler().
 * Ownership: `session`, `opts` borrowed; `*out` owned by the caller, freed with
 *            ember_generator_release().
 * Lifetime:  `session` must outlive the generator. Several generators may share one
 *            session (one at a time: each run passes its own caches).
 * Threads:   a generator and its session are used by one thread at a time.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (NULL arguments; "not a language model" when the
 *            model lacks the lm.* metadata or the tokens/pos/k_cache/v_cache -> logits
 *            interface; context outside [1, 2^24]), EMBER_ERR_FORMAT (damaged lm.*
 *            metadata or tokenizer), EMBER_ERR_OUT_OF_MEMORY.  Since: 1 */
EMBER_API ember_status ember_generator_create(ember_session *session,
                                              const ember_generator_options *opts,
                                              ember_generator **out);

EMBER_API void ember_generator_release(ember_generator *generator);

/* Borrows the generator's tokenizer.
 * Ownership: `*out` is owned by the generator (never release it); valid while it lives.
 * Errors:    EMBER_ERR_NOT_FOUND when the model has no tokenizer.  Since: 1 */
EMBER_API ember_status ember_generator_tokenizer(const ember_generator *generator,
                                                 const ember_tokenizer **out);

/* Runs `n_ids` tokens at the next positions in one batched session run (a prompt's
 * prefill, or one token) and keeps the logits of the last one (ember_generator_logits).
 * The session's output 0 then holds the logits of all n_ids positions, [n_ids, vocab],
 * when the generator was created with all_logits = 1; by default only the last
 * position's, [1, vocab]: the classifier then runs once per feed, not n_ids times
 * (ember_session_output, valid until the session runs again). ember_session_run on
 * the session always computes [T, vocab].
 * Ownership: `ids` borrowed.
 * Threads:   one thread at a time per generator and session.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT for n_ids 0, an id outside the vocabulary (the
 *            message gives the id and its index), or "context overflow" when the tokens
 *            do not fit behind the current position. Nothing is fed then: the generator
 *            stays as it was.  Since: 1 */
EMBER_API ember_status ember_generator_feed(ember_generator *generator, const int32_t *ids,
                                            size_t n_ids);

/* Borrows the logits (vocab floats) of the last token fed.
 * Lifetime:  until the next feed, generate, truncate or release.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT when nothing was fed since creation or the last
 *            truncate.  Since: 1 */
EMBER_API ember_status ember_generator_logits(const ember_generator *generator,
                                              const float **logits, size_t *n_vocab);

/* Tokens held (the next position) and the context size; either pointer may be NULL.
 * Since: 1 */
EMBER_API ember_status ember_generator_position(const ember_generator *generator, int64_t *position,
                                                int64_t *context);

/* Rolls back to `position` (0 <= position <= current): later cache rows are forgotten,
 * so feeding continues from there exactly as if they had never been fed.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (position out of range).  Since: 1 */
EMBER_API ember_status ember_generator_truncate(ember_generator *generator, int64_t position);

typedef struct ember_sampler_options {
    size_t struct_size; /* sizeof(ember_sampler_options) */
    float temperature;  /* <= 0: greedy (the first most likely token); default 0 */
    int32_t top_k;      /* > 0: sample among the k most likely tokens; default 0 (all) */
    float top_p;        /* in (0, 1): among the smallest set of most likely tokens whose
                           probability reaches top_p (nucleus); default 1 (off) */
    uint64_t seed;      /* the random stream: the same seed on the same logits gives the
                           same tokens; default 0 */
} ember_sampler_options;

/* Sets the sampling parameters and restarts the random stream from `seed`. NULL: greedy.
 * Errors:    EMBER_ERR_INVALID_ARGUMENT (temperature or top_p not finite, top_p above 1,
 *            negative top_k).  Since: 1 */
EMBER_API ember_status ember_generator_set_sampler(ember_generator *generator,
                                                   const ember_sampler_options *opts);

/* Draws one token from the current logits with the sampler (does not feed it).
 * Errors:    as ember_generator_logits.  Since: 1 */
EMBER_API ember_status ember_generator_sample(ember_generator *generator, int32_t *token);

/* Called once per generated token, on the calling thread, with the text the token prints
 * (`piece`, `piece_len` bytes, not NUL-terminated; may be a partial UTF-8 sequence for
 * byte tokens; "" without a tokenizer). Return 0 to continue, non-zero to stop. It must
 * not call back into the generator. */
typedef int32_t (*ember_token_callback)(void *user_data, int32_t token, const char *piece,
                                        size_t piece_len);

typedef enum ember_stop_reason {
    EMBER_STOP_NONE = 0,
    EMBER_STOP_LENGTH = 1,   /* max_tokens (or the ids capacity) reached */
    EMBER_STOP_EOS = 2,      /* the sampler drew EOS or BOS (not emitted) */
    EMBER_STOP_CONTEXT = 3,  /* the caches are full: the last token was emitted, not fed */
    EMBER_STOP_CALLBACK = 4  /* the callback asked to stop */
} ember_stop_reason;

typedef struct ember_generate_options {
    size_t struct_size;            /* sizeof(ember_generate_options) */
    int64_t max_tokens;            /* tokens to generate at most; 0 = until EOS or the end
                                      of the context */
    int32_t ignore_eos;            /* 1: EOS/BOS are emitted like other tokens */
    ember_token_callback callback; /* NULL: none */
    void *user_data;               /* passed to callback */
} ember_generate_options;

/* Generates tokens: samples from the current logits, emits the token (ids[], callback)
 * and feeds it, until a stop condition. Every emitted token is fed except when the
 * context is full, so the generator can continue or be truncated afterwards. llama2.c
 * greedy runs are reproduced exactly (stop on BOS/EOS, the golden files in
 * shared/models/lm).
 * Ownership: `opts` borrowed; `ids` (capacity entries, may be NULL with capacity 0: ids
 *            not stored, the callback sees them) is the caller's.
 * Errors:    as ember_generator_feed; EMBER_ERR_INVALID_ARGUMENT when nothing was fed
 *            yet. On error, *n_ids still counts the tokens emitted.  Since: 1 */
EMBER_API ember_status ember_generator_generate(ember_generator *generator,
                                                const ember_generate_options *opts, int32_t *ids,
                                                size_t capacity, size_t *n_ids,
                                                ember_stop_reason *reason);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_H */
