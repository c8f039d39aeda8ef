"""Ember for Python: load a converted .ember model and run it on NumPy arrays.

    import ember
    model = ember.Model.open("squeezenet.ember")        # runtime + model
    session = model.session()
    for c in session.classify(ember.Image.load("cat.jpg"), k=5):
        print(f"{c.score:.3f} {c.label}")

    outputs = session.run([np.zeros((1, 3, 224, 224), np.float32)])   # NumPy in, NumPy out

    with ember.Model.open("stories260K.ember") as lm, lm.session() as s, s.generator() as gen:
        gen.feed(gen.tokenizer.encode("Once upon a time"))             # BOS + prompt
        result = gen.generate(max_tokens=60, callback=lambda id, piece: print(piece.decode()))

A ctypes binding of libember.so (api/ember.h); no compiled extension. The library is
found through EMBER_LIBRARY (its full path), EMBER_LIB_DIR (its folder), or the system
search path (libember.so.0). See docs/bindings.md.

Threads: ctypes releases the GIL during each call, so sessions of one model run in
parallel on Python threads. A Runtime and a Model may be shared by threads; a Session
runs one call at a time (the C rule) and guards itself with a lock, so concurrent
calls on one Session are serialised. Objects are released by close() (or a `with`
block); the garbage collector releases forgotten ones in a valid order (a Session
keeps its Model alive, a Model its Runtime).
"""
from ._lib import EmberError, Status, version, api_version, has_image_api
from ._core import (DType, Runtime, Model, Session, ValueInfo, NodeInfo, Image, ClassScore,
                    PixelFormat, PluginInfo, ProfileEntry)
from ._lm import Tokenizer, TokenizerInfo, Generator, GenerateResult, StopReason

__all__ = ["EmberError", "Status", "DType", "Runtime", "Model", "Session", "ValueInfo",
           "NodeInfo", "Image", "ClassScore", "PixelFormat", "PluginInfo", "ProfileEntry", "version", "api_version",
           "has_image_api", "Tokenizer", "TokenizerInfo", "Generator", "GenerateResult", "StopReason"]
__version__ = "0.1.0"
