"""Language models: Tokenizer and Generator (api/ember.h, "Language models";
docs/language-models.md)."""
import ctypes
import enum
from collections import namedtuple

import numpy as np

from ._lib import (TOKEN_CALLBACK, CGenerateOptions, CGeneratorOptions, CSamplerOptions,
                   CTokenizerInfo, EmberError, Status, check, lib)


def _require_lm():
    if not hasattr(lib, "ember_generator_create"):
        raise EmberError(Status.UNSUPPORTED, "this libember.so has no language-model functions")


class StopReason(enum.IntEnum):
    """Why Generator.generate stopped (ember_stop_reason)."""
    NONE = 0
    LENGTH = 1    #: max_tokens reached
    EOS = 2       #: the sampler drew EOS or BOS (not emitted)
    CONTEXT = 3   #: the caches are full: the last token was emitted, not fed
    CALLBACK = 4  #: the callback asked to stop (or raised)


TokenizerInfo = namedtuple("TokenizerInfo", "vocab_size bos eos unk add_bos")
TokenizerInfo.__doc__ = "Vocabulary size and special ids (-1 when absent); add_bos: a bool."
GenerateResult = namedtuple("GenerateResult", "ids stop")
GenerateResult.__doc__ = "The generated ids (a list of int) and the StopReason."

# ember_tokenizer_encode() flags.
TOKENIZE_ADD_BOS = 1
TOKENIZE_PARSE_SPECIAL = 2


def _ids_array(ids):
    """A C int32 array of `ids` (any sequence of ints or integer array), range-checked."""
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise EmberError(Status.INVALID_ARGUMENT, "token ids must be a 1-D sequence of integers")
    if arr.size and (arr.min() < -2**31 or arr.max() >= 2**31):
        raise EmberError(Status.INVALID_ARGUMENT, "a token id does not fit in int32")
    return np.ascontiguousarray(arr, dtype=np.int32)


def _ptr32(arr):
    return arr.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)) if arr.size else None


class Tokenizer:
    """Turns text into token ids and back (SentencePiece BPE, as llama2.c and llama.cpp
    run it). Immutable: any number of threads may use it at once.

    From Model.tokenizer(): owned, released by close(), a `with` block or the garbage
    collector; it may outlive the model. From Generator.tokenizer: borrowed from the
    generator; close() does nothing and it raises EmberError once the generator is
    closed."""

    def __init__(self, ptr, owner=None):
        self._ptr = ptr
        self._owner = owner  # the Generator it is borrowed from, or None when owned

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Releases an owned tokenizer; a no-op for a borrowed one."""
        if self._owner is None and self._ptr:
            lib.ember_tokenizer_release(self._ptr)
        self._ptr = None

    def _live(self):
        if self._owner is not None and not self._owner._ptr:
            raise EmberError(Status.INVALID_ARGUMENT, "the generator owning this tokenizer is closed")
        if not self._ptr:
            raise EmberError(Status.INVALID_ARGUMENT, "tokenizer is closed")
        return self._ptr

    @property
    def info(self):
        """TokenizerInfo: vocab_size, bos, eos, unk, add_bos."""
        c = CTokenizerInfo()
        c.struct_size = ctypes.sizeof(CTokenizerInfo)
        check(lib.ember_tokenizer_get_info(self._live(), ctypes.byref(c)))
        return TokenizerInfo(c.vocab_size, c.bos, c.eos, c.unk, bool(c.add_bos))

    @property
    def vocab_size(self):
        return self.info.vocab_size

    def encode(self, text, add_bos=True, parse_special=False):
        """Token ids (a list of int) of `text` (str, encoded as UTF-8, or bytes).
        add_bos: start with BOS; parse_special: "<s>"-like control texts become tokens."""
        ptr = self._live()
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        flags = (TOKENIZE_ADD_BOS if add_bos else 0) | (TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        cap = len(data) + 2  # a token covers at least one byte, plus BOS
        n = ctypes.c_size_t()
        while True:
            buf = (ctypes.c_int32 * cap)()
            status = lib.ember_tokenizer_encode(ptr, data, len(data), flags, buf, cap, ctypes.byref(n))
            if status == Status.BUFFER_TOO_SMALL and n.value > cap:
                cap = n.value
                continue
            check(status)
            return list(buf[:n.value])

    def decode_bytes(self, ids):
        """The UTF-8 bytes `ids` print (control tokens print nothing; a piece right after
        BOS loses its leading space). EmberError(INVALID_ARGUMENT) for an unknown id."""
        ptr = self._live()
        arr = _ids_array(ids)
        cap = 16 * arr.size + 1
        n = ctypes.c_size_t()
        while True:
            buf = ctypes.create_string_buffer(cap)
            status = lib.ember_tokenizer_decode(ptr, _ptr32(arr), arr.size, buf, cap, ctypes.byref(n))
            if status == Status.BUFFER_TOO_SMALL and n.value >= cap:
                cap = n.value + 1
                continue
            check(status)
            return buf.raw[:n.value]

    def decode(self, ids, errors="strict"):
        """The text `ids` print, as str (`errors` as for bytes.decode)."""
        return self.decode_bytes(ids).decode("utf-8", errors)


class Generator:
    """Generates text with a language model: owns the key/value caches of one sequence
    and runs a Session (Session.generator()). It keeps its session alive, and the
    session refuses to close while it is open. Calls of the generator and of its
    session are serialised by the session's lock (several generators may share one
    session). Released by close(), a `with` block or the garbage collector."""

    def __init__(self, ptr, session):
        self._ptr = ptr
        self.session = session
        t = ctypes.c_void_p()
        self._tokenizer = Tokenizer(t.value, owner=self) \
            if lib.ember_generator_tokenizer(ptr, ctypes.byref(t)) == 0 else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Releases the caches; the borrowed tokenizer stops working. Idempotent."""
        session = self.session
        with session._guard():
            if self._ptr:
                lib.ember_generator_release(self._ptr)
                self._ptr = None
                session._generators -= 1

    def _live(self):
        if not self._ptr:
            raise EmberError(Status.INVALID_ARGUMENT, "generator is closed")
        return self._ptr

    @property
    def tokenizer(self):
        """The model's Tokenizer, borrowed from the generator;
        EmberError(NOT_FOUND) when the model has none."""
        if self._tokenizer is None:
            raise EmberError(Status.NOT_FOUND, "the model has no tokenizer (metadata 'lm.tokenizer')")
        return self._tokenizer

    def feed(self, ids):
        """Runs `ids` at the next positions in one batched run (a prompt's prefill, or
        one token) and keeps the logits of the last. EmberError(INVALID_ARGUMENT) for an
        id outside the vocabulary or a context overflow; nothing is fed then."""
        arr = _ids_array(ids)
        with self.session._guard():
            check(lib.ember_generator_feed(self._live(), _ptr32(arr), arr.size))

    def logits(self):
        """A copy (float32 array, vocabulary size) of the logits of the last token fed."""
        with self.session._guard():
            p, n = ctypes.POINTER(ctypes.c_float)(), ctypes.c_size_t()
            check(lib.ember_generator_logits(self._live(), ctypes.byref(p), ctypes.byref(n)))
            return np.ctypeslib.as_array(p, shape=(n.value,)).copy()

    @property
    def position(self):
        """Tokens held (the next position)."""
        return self._position()[0]

    @property
    def context(self):
        """Positions the caches hold."""
        return self._position()[1]

    def _position(self):
        with self.session._guard():
            p, c = ctypes.c_int64(), ctypes.c_int64()
            check(lib.ember_generator_position(self._live(), ctypes.byref(p), ctypes.byref(c)))
            return p.value, c.value

    def truncate(self, position):
        """Rolls back to `position` (0 <= position <= self.position); feeding continues
        as if the later tokens had never been fed. The logits are forgotten."""
        with self.session._guard():
            check(lib.ember_generator_truncate(self._live(), position))

    def set_sampler(self, temperature=0.0, top_k=0, top_p=1.0, seed=0):
        """Sampling parameters (defaults: greedy); restarts the random stream from
        `seed`, so the same seed on the same logits gives the same tokens."""
        opts = CSamplerOptions(ctypes.sizeof(CSamplerOptions), temperature, top_k, top_p, seed)
        with self.session._guard():
            check(lib.ember_generator_set_sampler(self._live(), ctypes.byref(opts)))

    def sample(self):
        """Draws one token from the current logits (does not feed it)."""
        with self.session._guard():
            t = ctypes.c_int32()
            check(lib.ember_generator_sample(self._live(), ctypes.byref(t)))
            return t.value

    def generate(self, max_tokens=0, callback=None, ignore_eos=False):
        """Samples, emits and feeds tokens until `max_tokens` (0: no limit), EOS/BOS
        (unless ignore_eos), the callback's request or a full context; returns
        GenerateResult(ids, stop). Every emitted token is fed except when the context is
        full, so the generator can continue or be truncated afterwards.

        callback(token_id, piece) is called on this thread as each token is produced;
        `piece` is the bytes it prints (a byte token may be part of a UTF-8 sequence:
        use codecs.getincrementaldecoder("utf-8") to print). A true return value stops
        generation (after that token, which is fed). If it raises, generation stops the
        same way and the exception propagates from generate(). It must not use this
        generator or its session (EmberError)."""
        if max_tokens < 0:
            raise EmberError(Status.INVALID_ARGUMENT, f"max_tokens is negative ({max_tokens})")
        raised = []

        def trampoline(_user, token, piece, piece_len):
            try:
                text = ctypes.string_at(piece, piece_len) if piece_len else b""
                return 1 if callback(token, text) else 0
            except BaseException as e:  # noqa: B902 -- KeyboardInterrupt too: stop, re-raise below
                raised.append(e)
                return 1

        c_callback = TOKEN_CALLBACK(trampoline) if callback is not None else TOKEN_CALLBACK()
        with self.session._guard():
            ptr = self._live()
            pos, ctx = ctypes.c_int64(), ctypes.c_int64()
            check(lib.ember_generator_position(ptr, ctypes.byref(pos), ctypes.byref(ctx)))
            cap = ctx.value - pos.value + 1  # each token is fed; one more when the context fills
            if max_tokens:
                cap = min(cap, max_tokens)
            ids = (ctypes.c_int32 * cap)()
            opts = CGenerateOptions(ctypes.sizeof(CGenerateOptions), max_tokens, int(bool(ignore_eos)),
                                    c_callback, None)
            n, why = ctypes.c_size_t(), ctypes.c_uint32()
            status = lib.ember_generator_generate(ptr, ctypes.byref(opts), ids, cap, ctypes.byref(n),
                                                  ctypes.byref(why))
        if raised:
            raise raised[0]
        check(status)
        return GenerateResult(list(ids[:n.value]), StopReason(why.value))
