"""Loading libember.so and declaring the C functions of api/ember.h for ctypes."""
import ctypes
import ctypes.util
import enum
import os

c_status = ctypes.c_uint32
c_dtype = ctypes.c_uint32
c_size = ctypes.c_size_t
P = ctypes.POINTER


class Status(enum.IntEnum):
    """ember_status codes."""
    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    FORMAT = 3
    UNSUPPORTED = 4
    OUT_OF_MEMORY = 5
    BACKEND = 6
    SHAPE = 7
    INTERNAL = 8
    ABI = 9
    NOT_FOUND = 10
    BUFFER_TOO_SMALL = 11


class EmberError(Exception):
    """A failed Ember call: `status` (a Status, or an int for a newer code) and the
    library's `message`."""

    def __init__(self, status, message):
        try:
            status = Status(status)
        except ValueError:
            pass
        self.status = status
        self.message = message
        name = status.name if isinstance(status, Status) else str(int(status))
        super().__init__(f"EMBER_ERR_{name}: {message}" if message else f"EMBER_ERR_{name}")


class RuntimeOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("num_threads", ctypes.c_int32),
                ("log_fn", ctypes.c_void_p), ("log_user_data", ctypes.c_void_p),
                ("log_level", ctypes.c_int32), ("disable_plugin_discovery", ctypes.c_int32),
                ("spin_us", ctypes.c_int32)]


class CPluginInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("name", ctypes.c_char_p), ("path", ctypes.c_char_p),
                ("version", ctypes.c_char_p), ("loaded", ctypes.c_int32),
                ("reason", ctypes.c_char_p), ("device_count", ctypes.c_int32)]


class ModelOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("copy_on_load", ctypes.c_int32),
                ("verify_checksums", ctypes.c_int32)]


class CValueInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("name", ctypes.c_char_p), ("dtype", c_dtype),
                ("rank", c_size), ("dims", P(ctypes.c_int64)),
                ("dim_names", P(ctypes.c_char_p))]


class SessionOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("backends", ctypes.c_char_p),
                ("num_threads", ctypes.c_int32), ("max_arena_bytes", ctypes.c_int64),
                ("enable_profiling", ctypes.c_int32)]


class CTokenizerInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("vocab_size", ctypes.c_int32), ("bos", ctypes.c_int32),
                ("eos", ctypes.c_int32), ("unk", ctypes.c_int32), ("add_bos", ctypes.c_int32)]


class CGeneratorOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("context", ctypes.c_int64), ("all_logits", ctypes.c_int32)]


class CSamplerOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("temperature", ctypes.c_float), ("top_k", ctypes.c_int32),
                ("top_p", ctypes.c_float), ("seed", ctypes.c_uint64)]


TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
                                  ctypes.c_size_t)


class CGenerateOptions(ctypes.Structure):
    _fields_ = [("struct_size", c_size), ("max_tokens", ctypes.c_int64), ("ignore_eos", ctypes.c_int32),
                ("callback", TOKEN_CALLBACK), ("user_data", ctypes.c_void_p)]


class CClassScore(ctypes.Structure):
    _fields_ = [("index", ctypes.c_int64), ("label", ctypes.c_char_p), ("score", ctypes.c_float)]


def _find_library():
    path = os.environ.get("EMBER_LIBRARY")
    if path:
        return path
    folder = os.environ.get("EMBER_LIB_DIR")
    if folder:
        return os.path.join(folder, "libember.so")
    return ctypes.util.find_library("ember") or "libember.so.0"


lib = ctypes.CDLL(_find_library())

_H = ctypes.c_void_p  # every handle is an opaque pointer
_SIGNATURES = {
    # name: (restype, argtypes)
    "ember_api_version": (ctypes.c_uint32, []),
    "ember_version": (ctypes.c_char_p, []),
    "ember_status_string": (ctypes.c_char_p, [c_status]),
    "ember_last_error": (ctypes.c_char_p, []),
    "ember_dtype_size": (c_size, [c_dtype]),
    "ember_dtype_name": (ctypes.c_char_p, [c_dtype]),
    "ember_runtime_create": (c_status, [P(RuntimeOptions), P(_H)]),
    "ember_runtime_release": (c_status, [_H]),
    "ember_runtime_num_threads": (c_status, [_H, P(ctypes.c_int32)]),
    "ember_runtime_load_plugin": (c_status, [_H, ctypes.c_char_p]),
    "ember_runtime_plugin_count": (c_status, [_H, P(c_size)]),
    "ember_runtime_plugin_info": (c_status, [_H, c_size, P(CPluginInfo)]),
    "ember_runtime_plugin_device": (c_status, [_H, c_size, ctypes.c_int32, P(ctypes.c_char_p)]),
    "ember_model_load_file": (c_status, [_H, ctypes.c_char_p, P(ModelOptions), P(_H)]),
    "ember_model_load_memory": (c_status, [_H, ctypes.c_void_p, c_size, P(ModelOptions), P(_H)]),
    "ember_model_release": (c_status, [_H]),
    "ember_model_input_count": (c_status, [_H, P(c_size)]),
    "ember_model_output_count": (c_status, [_H, P(c_size)]),
    "ember_model_input_info": (c_status, [_H, c_size, P(CValueInfo)]),
    "ember_model_output_info": (c_status, [_H, c_size, P(CValueInfo)]),
    "ember_model_metadata": (c_status, [_H, ctypes.c_char_p, P(ctypes.c_void_p), P(c_size)]),
    "ember_tensor_create": (c_status, [c_dtype, P(ctypes.c_int64), c_size, P(_H)]),
    "ember_tensor_wrap": (c_status, [c_dtype, P(ctypes.c_int64), c_size, ctypes.c_void_p, c_size, P(_H)]),
    "ember_tensor_release": (None, [_H]),
    "ember_tensor_dtype": (c_dtype, [_H]),
    "ember_tensor_rank": (c_size, [_H]),
    "ember_tensor_dims": (P(ctypes.c_int64), [_H]),
    "ember_tensor_size_bytes": (c_size, [_H]),
    "ember_tensor_element_count": (ctypes.c_int64, [_H]),
    "ember_tensor_data": (ctypes.c_void_p, [_H]),
    "ember_tensor_data_const": (ctypes.c_void_p, [_H]),
    "ember_session_create": (c_status, [_H, P(SessionOptions), P(_H)]),
    "ember_session_release": (None, [_H]),
    "ember_session_run": (c_status, [_H, P(_H), c_size]),
    "ember_session_output": (c_status, [_H, c_size, P(_H)]),
    "ember_session_input_index": (c_status, [_H, ctypes.c_char_p, P(c_size)]),
    "ember_session_output_index": (c_status, [_H, ctypes.c_char_p, P(c_size)]),
    "ember_session_node_count": (c_status, [_H, P(c_size)]),
    "ember_session_node_info": (c_status, [_H, c_size, P(ctypes.c_char_p), P(ctypes.c_char_p),
                                           P(ctypes.c_char_p)]),
    "ember_session_arena_bytes": (c_status, [_H, P(c_size)]),
    "ember_session_profile_count": (c_status, [_H, P(c_size)]),
    "ember_session_profile": (c_status, [_H, c_size, P(ctypes.c_char_p), P(ctypes.c_char_p),
                                         P(ctypes.c_char_p), P(ctypes.c_int64), P(ctypes.c_double),
                                         P(ctypes.c_int64)]),
}
# The language-model part (tokenizer, generator; wrapped in _lm.py): bound when the
# library has it.
_LM_SIGNATURES = {
    "ember_tokenizer_create": (c_status, [_H, P(_H)]),
    "ember_tokenizer_release": (None, [_H]),
    "ember_tokenizer_get_info": (c_status, [_H, P(CTokenizerInfo)]),
    "ember_tokenizer_encode": (c_status, [_H, ctypes.c_char_p, c_size, ctypes.c_uint32,
                                          P(ctypes.c_int32), c_size, P(c_size)]),
    "ember_tokenizer_decode": (c_status, [_H, P(ctypes.c_int32), c_size, ctypes.c_char_p, c_size,
                                          P(c_size)]),
    "ember_generator_create": (c_status, [_H, P(CGeneratorOptions), P(_H)]),
    "ember_generator_release": (None, [_H]),
    "ember_generator_tokenizer": (c_status, [_H, P(_H)]),
    "ember_generator_feed": (c_status, [_H, P(ctypes.c_int32), c_size]),
    "ember_generator_logits": (c_status, [_H, P(P(ctypes.c_float)), P(c_size)]),
    "ember_generator_position": (c_status, [_H, P(ctypes.c_int64), P(ctypes.c_int64)]),
    "ember_generator_truncate": (c_status, [_H, ctypes.c_int64]),
    "ember_generator_set_sampler": (c_status, [_H, P(CSamplerOptions)]),
    "ember_generator_sample": (c_status, [_H, P(ctypes.c_int32)]),
    "ember_generator_generate": (c_status, [_H, P(CGenerateOptions), P(ctypes.c_int32), c_size,
                                            P(c_size), P(ctypes.c_uint32)]),
}
# The images-and-preprocessing part of the header: bound when the library has it.
_IMAGE_SIGNATURES = {
    "ember_image_load_file": (c_status, [ctypes.c_char_p, P(_H)]),
    "ember_image_load_memory": (c_status, [ctypes.c_void_p, c_size, P(_H)]),
    "ember_image_wrap": (c_status, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, c_size,
                                    ctypes.c_uint32, P(_H)]),
    "ember_image_release": (None, [_H]),
    "ember_image_info": (c_status, [_H, P(ctypes.c_int32), P(ctypes.c_int32), P(ctypes.c_uint32)]),
    "ember_session_preprocess": (c_status, [_H, c_size, _H, ctypes.c_char_p, _H, ctypes.c_int64]),
    "ember_model_label_count": (c_status, [_H, P(c_size)]),
    "ember_model_label": (c_status, [_H, c_size, P(ctypes.c_char_p)]),
    "ember_session_top_k": (c_status, [_H, c_size, ctypes.c_int64, c_size, P(CClassScore), P(c_size)]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = _res, _args

has_image_api = all(hasattr(lib, n) for n in _IMAGE_SIGNATURES)
for _name, (_res, _args) in list(_IMAGE_SIGNATURES.items()) + list(_LM_SIGNATURES.items()):
    if hasattr(lib, _name):  # a library older than that part of the header lacks them
        _f = getattr(lib, _name)
        _f.restype, _f.argtypes = _res, _args


def check(status):
    """Raises EmberError for a failed call. Python threads are OS threads, so the
    calling thread's ember_last_error() belongs to this call."""
    if status != 0:
        raise EmberError(status, lib.ember_last_error().decode("utf-8", "replace"))


def require_images():
    if not has_image_api:
        raise EmberError(Status.UNSUPPORTED, "this libember.so has no image functions")


def version():
    """The library version, e.g. "0.1.0"."""
    return lib.ember_version().decode()


def api_version():
    """The ABI version of the loaded library."""
    return lib.ember_api_version()
