"""Runtime, Model, Session, Image: the ctypes binding's objects."""
import contextlib
import ctypes
import enum
import os
import threading
from collections import namedtuple

import numpy as np

from ._lib import (CClassScore, CGeneratorOptions, CPluginInfo, CValueInfo, EmberError, ModelOptions,
                   RuntimeOptions, SessionOptions, Status, check, lib, require_images)
from ._lm import Generator, Tokenizer, _require_lm


class DType(enum.IntEnum):
    """ember_dtype values."""
    UNDEFINED = 0
    FLOAT32 = 1
    FLOAT16 = 2
    BFLOAT16 = 3
    FLOAT64 = 4
    INT8 = 5
    UINT8 = 6
    INT16 = 7
    UINT16 = 8
    INT32 = 9
    UINT32 = 10
    INT64 = 11
    UINT64 = 12
    BOOL = 13

    @property
    def numpy(self):
        """The NumPy dtype holding this type's elements (bfloat16: uint16 bit patterns)."""
        return _TO_NUMPY[self]


_TO_NUMPY = {
    DType.FLOAT32: np.dtype(np.float32), DType.FLOAT16: np.dtype(np.float16),
    DType.BFLOAT16: np.dtype(np.uint16), DType.FLOAT64: np.dtype(np.float64),
    DType.INT8: np.dtype(np.int8), DType.UINT8: np.dtype(np.uint8),
    DType.INT16: np.dtype(np.int16), DType.UINT16: np.dtype(np.uint16),
    DType.INT32: np.dtype(np.int32), DType.UINT32: np.dtype(np.uint32),
    DType.INT64: np.dtype(np.int64), DType.UINT64: np.dtype(np.uint64),
    DType.BOOL: np.dtype(np.bool_),
}
_FROM_NUMPY = {v: k for k, v in _TO_NUMPY.items() if k != DType.BFLOAT16}


def _dtype_of(arr):
    try:
        return _FROM_NUMPY[arr.dtype.newbyteorder("=")]
    except KeyError:
        raise EmberError(Status.INVALID_ARGUMENT,
                         f"NumPy dtype {arr.dtype} has no Ember equivalent") from None


class PixelFormat(enum.IntEnum):
    """ember_pixel_format values (8 bits per channel)."""
    GRAY = 1
    RGB = 3
    BGR = 4
    RGBA = 5
    BGRA = 6


ValueInfo = namedtuple("ValueInfo", "name dtype shape dim_names")
ValueInfo.__doc__ = """A graph input or output: shape entries of -1 are symbolic (named in
dim_names)."""
NodeInfo = namedtuple("NodeInfo", "name op_type backend")
ProfileEntry = namedtuple("ProfileEntry", "name op_type backend n_nodes total_ms calls")
ProfileEntry.__doc__ = """Timing of one step of the current plan (a kernel, or a plugin
subgraph of n_nodes nodes), accumulated over its runs."""
PluginInfo = namedtuple("PluginInfo", "name path version loaded reason devices")
PluginInfo.__doc__ = "A backend plugin the runtime found: loaded, or refused with the reason."
ClassScore = namedtuple("ClassScore", "index label score")
ClassScore.__doc__ = "One class: index, the model's label ('' if none), probability."


def _str(p):
    return p.decode("utf-8", "replace") if p else ""


def _path(p):
    return os.fsencode(p)


class _Handle:
    """Common close()/context-manager/finalizer plumbing."""
    _ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown, or a still-used parent: nothing to do
            pass

    def _live(self, what):
        if not self._ptr:
            raise EmberError(Status.INVALID_ARGUMENT, f"{what} is closed")
        return self._ptr


class Runtime(_Handle):
    """Thread pool and logging for models. Safe to share between threads.

    spin_us: microseconds idle workers (and callers waiting for them) poll before they
    sleep; 0 (default): nothing spins (ember_runtime_options.spin_us)."""

    def __init__(self, num_threads=0, plugin_discovery=True, spin_us=0):
        opts = RuntimeOptions(ctypes.sizeof(RuntimeOptions), num_threads, None, None, 1,
                              0 if plugin_discovery else 1, spin_us)
        p = ctypes.c_void_p()
        check(lib.ember_runtime_create(ctypes.byref(opts), ctypes.byref(p)))
        self._ptr = p.value
        self._lock = threading.RLock()

    def close(self):
        """Releases the runtime; raises EmberError while models loaded with it are open."""
        if self._ptr:
            check(lib.ember_runtime_release(self._ptr))
            self._ptr = None

    @property
    def num_threads(self):
        n = ctypes.c_int32()
        check(lib.ember_runtime_num_threads(self._live("runtime"), ctypes.byref(n)))
        return n.value

    def load_plugin(self, path):
        """Loads one more backend plugin (libember-<name>.so); on failure it stays listed
        in plugins() with its reason."""
        check(lib.ember_runtime_load_plugin(self._live("runtime"), _path(path)))

    def plugins(self):
        """The plugins found so far, loaded and refused, as PluginInfo."""
        ptr = self._live("runtime")
        n = ctypes.c_size_t()
        check(lib.ember_runtime_plugin_count(ptr, ctypes.byref(n)))
        out = []
        for i in range(n.value):
            info = CPluginInfo()
            info.struct_size = ctypes.sizeof(CPluginInfo)
            check(lib.ember_runtime_plugin_info(ptr, i, ctypes.byref(info)))
            devices = []
            for d in range(max(info.device_count, 0)):
                name = ctypes.c_char_p()
                check(lib.ember_runtime_plugin_device(ptr, i, d, ctypes.byref(name)))
                devices.append(_str(name.value))
            out.append(PluginInfo(_str(info.name), _str(info.path), _str(info.version),
                                  bool(info.loaded), _str(info.reason), devices))
        return out

    def load_model(self, path, copy_on_load=False, verify_checksums=True):
        """Loads a .ember file (memory-mapped unless copy_on_load)."""
        opts = ModelOptions(ctypes.sizeof(ModelOptions), int(copy_on_load), int(verify_checksums))
        p = ctypes.c_void_p()
        check(lib.ember_model_load_file(self._live("runtime"), _path(path), ctypes.byref(opts),
                                        ctypes.byref(p)))
        return Model(p.value, self)

    def load_model_bytes(self, data, verify_checksums=True):
        """Loads a model from bytes (copied)."""
        data = bytes(data)
        opts = ModelOptions(ctypes.sizeof(ModelOptions), 0, int(verify_checksums))
        p = ctypes.c_void_p()
        check(lib.ember_model_load_memory(self._live("runtime"), data, len(data),
                                          ctypes.byref(opts), ctypes.byref(p)))
        return Model(p.value, self)


def _infos(ptr, count_fn, info_fn):
    n = ctypes.c_size_t()
    check(count_fn(ptr, ctypes.byref(n)))
    out = []
    for i in range(n.value):
        info = CValueInfo()
        info.struct_size = ctypes.sizeof(CValueInfo)
        check(info_fn(ptr, i, ctypes.byref(info)))
        rank = info.rank
        shape = tuple(info.dims[d] for d in range(rank))
        names = tuple(_str(info.dim_names[d]) if info.dim_names else "" for d in range(rank))
        try:
            dt = DType(info.dtype)
        except ValueError:
            dt = info.dtype
        out.append(ValueInfo(_str(info.name), dt, shape, names))
    return tuple(out)


class Model(_Handle):
    """An immutable loaded model. Safe to share between threads."""

    def __init__(self, ptr, runtime, owns_runtime=False):
        self._ptr = ptr
        self.runtime = runtime
        self._owns_runtime = owns_runtime
        self.inputs = _infos(ptr, lib.ember_model_input_count, lib.ember_model_input_info)
        self.outputs = _infos(ptr, lib.ember_model_output_count, lib.ember_model_output_info)

    @classmethod
    def open(cls, path, **kwargs):
        """Loads `path` with a new default runtime, closed with the model."""
        rt = Runtime()
        try:
            m = rt.load_model(path, **kwargs)
        except BaseException:
            rt.close()
            raise
        m._owns_runtime = True
        return m

    def close(self):
        """Releases the model; raises EmberError while its sessions are open."""
        if self._ptr:
            check(lib.ember_model_release(self._ptr))
            self._ptr = None
            if self._owns_runtime:
                self.runtime.close()

    def metadata(self, key):
        """The metadata value under `key`; EmberError(NOT_FOUND) if absent."""
        v, n = ctypes.c_void_p(), ctypes.c_size_t()
        check(lib.ember_model_metadata(self._live("model"), key.encode(), ctypes.byref(v),
                                       ctypes.byref(n)))
        return ctypes.string_at(v.value, n.value).decode("utf-8", "replace")

    def labels(self):
        """Class labels stored in the model; EmberError(NOT_FOUND) if none."""
        require_images()
        n = ctypes.c_size_t()
        ptr = self._live("model")
        check(lib.ember_model_label_count(ptr, ctypes.byref(n)))
        out = []
        for i in range(n.value):
            s = ctypes.c_char_p()
            check(lib.ember_model_label(ptr, i, ctypes.byref(s)))
            out.append(_str(s.value))
        return out

    def session(self, backends=None, num_threads=0, max_arena_bytes=0, enable_profiling=False):
        """Compiles the model into a Session."""
        opts = SessionOptions(ctypes.sizeof(SessionOptions),
                              backends.encode() if backends else None, num_threads,
                              max_arena_bytes, int(enable_profiling))
        p = ctypes.c_void_p()
        check(lib.ember_session_create(self._live("model"), ctypes.byref(opts), ctypes.byref(p)))
        return Session(p.value, self)

    def tokenizer(self):
        """A Tokenizer from the vocabulary stored in the model (owned: close() it or use
        `with`); EmberError(NOT_FOUND) when the model has none."""
        _require_lm()
        p = ctypes.c_void_p()
        check(lib.ember_tokenizer_create(self._live("model"), ctypes.byref(p)))
        return Tokenizer(p.value)


def _array_from_c(t):
    """Copies a C tensor into a new NumPy array."""
    dt = DType(lib.ember_tensor_dtype(t))
    rank = lib.ember_tensor_rank(t)
    dims = lib.ember_tensor_dims(t)
    shape = tuple(dims[d] for d in range(rank))
    size = lib.ember_tensor_size_bytes(t)
    raw = ctypes.string_at(lib.ember_tensor_data_const(t), size) if size else b""
    return np.frombuffer(raw, dtype=dt.numpy).reshape(shape).copy()


class Session(_Handle):
    """A compiled plan of one model. Its calls are serialised by a lock (one thread at a
    time, as the C API requires); use one Session per thread for parallel inference."""

    def __init__(self, ptr, model):
        self._ptr = ptr
        self.model = model
        self._lock = threading.Lock()
        self._holder = None       # thread id holding _lock (see _guard)
        self._generators = 0      # open Generators: the session must outlive them
        self._image_input = None  # C tensor that preprocessing fills

    @contextlib.contextmanager
    def _guard(self):
        """Holds the session's lock. Re-entry from the thread holding it (a generate
        callback using its generator or session) raises instead of deadlocking."""
        me = threading.get_ident()
        if self._holder == me:
            raise EmberError(Status.INVALID_ARGUMENT,
                             "the session is busy on this thread: a generate callback may not "
                             "use its generator or session")
        with self._lock:
            self._holder = me
            try:
                yield
            finally:
                self._holder = None

    def close(self):
        """Releases the session; raises EmberError while generators of it are open."""
        with self._guard():
            if self._ptr:
                if self._generators:
                    raise EmberError(Status.INVALID_ARGUMENT,
                                     f"the session has {self._generators} open generator(s): "
                                     "close them first")
                if self._image_input:
                    lib.ember_tensor_release(self._image_input)
                    self._image_input = None
                lib.ember_session_release(self._ptr)
                self._ptr = None

    def _wrap(self, x, index):
        dt = None
        if isinstance(x, tuple):  # (array, DType) for bfloat16 bit patterns
            x, dt = x
        arr = np.asarray(x)
        if arr.dtype.byteorder not in "=|":
            arr = arr.astype(arr.dtype.newbyteorder("="))
        arr = np.ascontiguousarray(arr)
        dt = DType(dt) if dt is not None else _dtype_of(arr)
        if dt.numpy.itemsize != arr.dtype.itemsize:
            raise EmberError(Status.INVALID_ARGUMENT,
                             f"input {index}: {arr.dtype} data for a {dt.name.lower()} tensor")
        dims = (ctypes.c_int64 * max(arr.ndim, 1))(*arr.shape)
        t = ctypes.c_void_p()
        check(lib.ember_tensor_wrap(dt, dims, arr.ndim, arr.ctypes.data, arr.nbytes,
                                    ctypes.byref(t)))
        return arr, t.value

    def run(self, inputs):
        """Runs the model. `inputs`: a list of arrays in model.inputs order, or a dict
        {input name: array}. Arrays are NumPy (or anything np.asarray takes), passed
        without a copy when C-contiguous; a (uint16 array, DType.BFLOAT16) pair feeds
        bfloat16. Returns a list of new NumPy arrays, one per model output."""
        if isinstance(inputs, dict):
            names = [i.name for i in self.model.inputs]
            unknown = set(inputs) - set(names)
            if unknown:
                raise EmberError(Status.NOT_FOUND, f"no model input named {sorted(unknown)}")
            inputs = [inputs[n] for n in names if n in inputs]
        with self._guard():
            ptr = self._live("session")
            keep, handles = [], []
            try:
                for i, x in enumerate(inputs):
                    arr, t = self._wrap(x, i)
                    keep.append(arr)
                    handles.append(t)
                arr_t = (ctypes.c_void_p * max(len(handles), 1))(*handles)
                check(lib.ember_session_run(ptr, arr_t, len(handles)))
                return self._outputs(ptr)
            finally:
                for t in handles:
                    lib.ember_tensor_release(t)

    def _outputs(self, ptr):
        outs = []
        for i in range(len(self.model.outputs)):
            t = ctypes.c_void_p()
            check(lib.ember_session_output(ptr, i, ctypes.byref(t)))
            outs.append(_array_from_c(t.value))
        return outs

    def nodes(self):
        """The nodes the session executes, with the backend of each."""
        with self._guard():
            ptr = self._live("session")
            n = ctypes.c_size_t()
            check(lib.ember_session_node_count(ptr, ctypes.byref(n)))
            out = []
            for i in range(n.value):
                a, b, c = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
                check(lib.ember_session_node_info(ptr, i, ctypes.byref(a), ctypes.byref(b),
                                                  ctypes.byref(c)))
                out.append(NodeInfo(_str(a.value), _str(b.value), _str(c.value)))
            return out

    def profile(self):
        """Per-step timings (ProfileEntry) of the current plan; the session must have been
        created with enable_profiling=True."""
        with self._guard():
            ptr = self._live("session")
            n = ctypes.c_size_t()
            check(lib.ember_session_profile_count(ptr, ctypes.byref(n)))
            out = []
            for i in range(n.value):
                a, b, c = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_char_p()
                nodes, ms, calls = ctypes.c_int64(), ctypes.c_double(), ctypes.c_int64()
                check(lib.ember_session_profile(ptr, i, ctypes.byref(a), ctypes.byref(b),
                                                ctypes.byref(c), ctypes.byref(nodes),
                                                ctypes.byref(ms), ctypes.byref(calls)))
                out.append(ProfileEntry(_str(a.value), _str(b.value), _str(c.value), nodes.value,
                                        ms.value, calls.value))
            return out

    @property
    def arena_bytes(self):
        with self._guard():
            n = ctypes.c_size_t()
            check(lib.ember_session_arena_bytes(self._live("session"), ctypes.byref(n)))
            return n.value

    # ---- language models ----
    def generator(self, context=0, all_logits=False):
        """A Generator on this session of a language model: key/value caches for
        `context` positions (0: the model's trained context), greedy sampling until
        set_sampler(). all_logits: each feed leaves the logits of every position fed in
        the session's output 0 (default: the last position's only). EmberError
        (INVALID_ARGUMENT) "not a language model" for other models."""
        _require_lm()
        opts = CGeneratorOptions(ctypes.sizeof(CGeneratorOptions), context, int(bool(all_logits)))
        with self._guard():
            p = ctypes.c_void_p()
            check(lib.ember_generator_create(self._live("session"), ctypes.byref(opts), ctypes.byref(p)))
            g = Generator(p.value, self)
            self._generators += 1
            return g

    # ---- images ----
    def _image_tensor(self):
        if not self._image_input:
            info = self.model.inputs[0]
            shape = [d if d >= 0 else 1 for d in info.shape]
            dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
            t = ctypes.c_void_p()
            check(lib.ember_tensor_create(info.dtype, dims, len(shape), ctypes.byref(t)))
            self._image_input = t.value
        return self._image_input

    def _preprocess(self, ptr, image, spec):
        require_images()
        image = Image._coerce(image)
        t = self._image_tensor()
        check(lib.ember_session_preprocess(ptr, 0, image._live("image"),
                                           spec.encode() if spec else None, t, 0))
        return t

    def preprocess(self, image, spec=None):
        """The model input made from `image` by the model's preprocessing (or `spec`)."""
        with self._guard():
            return _array_from_c(self._preprocess(self._live("session"), image, spec))

    def classify(self, image, k=5):
        """Preprocesses `image` (an Image, a file path, or an HxWx3 uint8 RGB array), runs
        the model and returns the k best classes of output 0 as ClassScore, best first."""
        with self._guard():
            ptr = self._live("session")
            t = self._preprocess(ptr, image, None)
            arr_t = (ctypes.c_void_p * 1)(t)
            check(lib.ember_session_run(ptr, arr_t, 1))
            return self._top_k(ptr, 0, k)

    def top_k(self, output_index=0, k=5):
        """The k best classes of an output (batch row 0) of the last run."""
        with self._guard():
            return self._top_k(self._live("session"), output_index, k)

    def _top_k(self, ptr, output_index, k):
        require_images()
        buf = (CClassScore * max(k, 1))()
        n = ctypes.c_size_t()
        check(lib.ember_session_top_k(ptr, output_index, 0, k, buf, ctypes.byref(n)))
        return [ClassScore(int(c.index), _str(c.label), float(c.score)) for c in buf[:n.value]]


class Image(_Handle):
    """A decoded image (read-only, safe to share between threads)."""

    def __init__(self, ptr, keep=None):
        self._ptr = ptr
        self._keep = keep  # pixels an array-backed image borrows

    @classmethod
    def load(cls, path):
        """Decodes an image file (JPEG, PNG, BMP, GIF, TGA, PNM)."""
        require_images()
        p = ctypes.c_void_p()
        check(lib.ember_image_load_file(_path(path), ctypes.byref(p)))
        return cls(p.value)

    @classmethod
    def decode(cls, data):
        """Decodes encoded image bytes."""
        require_images()
        data = bytes(data)
        p = ctypes.c_void_p()
        check(lib.ember_image_load_memory(data, len(data), ctypes.byref(p)))
        return cls(p.value)

    @classmethod
    def from_array(cls, pixels, format=None):
        """An image over a uint8 array: HxW (gray), HxWx3 (RGB unless format says BGR) or
        HxWx4 (RGBA/BGRA). The array is kept (not copied when C-contiguous)."""
        require_images()
        arr = np.ascontiguousarray(pixels, dtype=np.uint8)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise EmberError(Status.INVALID_ARGUMENT, f"image array of shape {arr.shape}")
        if format is None:
            format = {1: PixelFormat.GRAY, 3: PixelFormat.RGB, 4: PixelFormat.RGBA}[arr.shape[2]]
        h, w, c = arr.shape
        p = ctypes.c_void_p()
        check(lib.ember_image_wrap(arr.ctypes.data, w, h, w * c, int(format), ctypes.byref(p)))
        return cls(p.value, keep=arr)

    @classmethod
    def _coerce(cls, image):
        if isinstance(image, Image):
            return image
        if isinstance(image, (str, bytes, os.PathLike)):
            return cls.load(image)
        return cls.from_array(image)

    @property
    def size(self):
        """(width, height) in pixels."""
        w, h = ctypes.c_int32(), ctypes.c_int32()
        check(lib.ember_image_info(self._live("image"), ctypes.byref(w), ctypes.byref(h), None))
        return w.value, h.value

    def close(self):
        if self._ptr:
            lib.ember_image_release(self._ptr)
            self._ptr = None
            self._keep = None
