"""The Python binding against real models: the converted .ember files of the tests'
convert_models fixture (EMBER_TEST_MODELS) and the ONNX Runtime reference outputs in
shared/models/ref (EMBER_SHARED_DIR), with the tolerances of tests/test_models.c:
|got - ref| <= 1e-4 * max|ref| + 1e-5 per element, and the same top-1 class."""
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import DType, EmberError, Status

MODELS = os.environ.get("EMBER_TEST_MODELS")
SHARED = os.environ.get("EMBER_SHARED_DIR")
needs_models = pytest.mark.skipif(not (MODELS and SHARED),
                                  reason="EMBER_TEST_MODELS / EMBER_SHARED_DIR not set "
                                         "(run through CTest: ctest -L bindings)")


def shared():
    return Path(SHARED) / "models"


def ref_cases(model_id, output):
    rows = (Path(shared(), "ref", model_id + ".tsv")).read_text().splitlines()
    for row in rows:
        c = row.split("\t")
        if len(c) < 9 or c[0] == "case" or c[4] != output or c[2] != "float32":
            continue
        shape = tuple(int(d) for d in c[3].split("x"))
        inp = np.fromfile(shared() / c[1], dtype="<f4").reshape(shape)
        want = np.fromfile(shared() / c[5], dtype="<f4")
        yield c[0], inp, want


@pytest.fixture
def mnist():
    with ember.Model.open(Path(MODELS) / "mnist-8.ember") as m:
        yield m


def test_version():
    assert ember.version()
    assert ember.api_version() >= 1
    assert DType.FLOAT32.numpy == np.float32


@needs_models
def test_load_and_describe(mnist):
    (inp,), (out,) = mnist.inputs, mnist.outputs
    assert inp.name == "Input3" and inp.dtype == DType.FLOAT32 and inp.shape == (1, 1, 28, 28)
    assert out.name == "Plus214_Output_0"
    with mnist.session() as s:
        nodes = s.nodes()
        assert nodes and nodes[0].backend
        with pytest.raises(EmberError):
            s.profile()  # profiling is off
    with mnist.session(enable_profiling=True) as s:
        for _ in range(3):
            s.run([np.zeros((1, 1, 28, 28), np.float32)])
        steps = s.profile()
        assert steps and all(p.calls == 3 and p.total_ms >= 0 for p in steps)
    rt = ember.Runtime(num_threads=2, plugin_discovery=False, spin_us=50)
    assert rt.num_threads == 2
    assert rt.plugins() == []
    m2 = rt.load_model_bytes((Path(MODELS) / "mnist-8.ember").read_bytes())
    with pytest.raises(EmberError) as e:  # a runtime with an open model refuses to close
        rt.close()
    assert e.value.status == Status.INVALID_ARGUMENT
    assert m2.inputs == mnist.inputs
    m2.close()
    rt.close()
    rt.close()  # idempotent


@needs_models
def test_plugins():
    build = Path(MODELS).parent
    rt = ember.Runtime(plugin_discovery=False)
    sample = build / "plugins" / "libember-samplerelu.so"
    if sample.exists():
        rt.load_plugin(sample)
    with pytest.raises(EmberError) as e:
        rt.load_plugin(Path(MODELS) / "mnist-8.ember")
    assert e.value.status == Status.BACKEND
    plugins = rt.plugins()
    assert any(not p.loaded and p.reason for p in plugins)
    if sample.exists():
        assert any(p.loaded and p.name == "samplerelu" for p in plugins), plugins
    rt.close()


@needs_models
@pytest.mark.parametrize("model_id", ["mnist-8", "squeezenet1.1-caffe2-fp32"])
def test_reference_outputs(model_id):
    with ember.Model.open(Path(MODELS) / (model_id + ".ember")) as m, m.session() as s:
        n = 0
        for name, inp, want in ref_cases(model_id, m.outputs[0].name):
            (got,) = s.run([inp])
            assert got.dtype == np.float32
            got = got.reshape(-1)
            tol = 1e-4 * np.abs(want).max() + 1e-5
            diff = np.abs(got - want)
            assert diff.max() <= tol, f"{name}: max |diff| {diff.max()} at {diff.argmax()} > {tol}"
            assert got.argmax() == want.argmax(), name
            n += 1
        assert n > 0


@needs_models
def test_run_by_name_and_dtypes(mnist):
    with mnist.session() as s:
        x = np.zeros((1, 1, 28, 28), np.float32)
        (a,) = s.run({"Input3": x})
        (b,) = s.run([x[:, :, :, ::-1]])  # a non-contiguous view is made contiguous
        np.testing.assert_array_equal(a, b)
        (c,) = s.run([x.astype(">f4")])   # big-endian data is converted
        np.testing.assert_array_equal(a, c)


@needs_models
def test_errors(mnist):
    rt = ember.Runtime()
    with pytest.raises(EmberError) as e:
        rt.load_model("/nonexistent/model.ember")
    assert e.value.status == Status.IO and e.value.message
    with pytest.raises(EmberError) as e:
        rt.load_model_bytes(b"not a model at all")
    assert e.value.status == Status.FORMAT
    rt.close()

    with mnist.session() as s:
        with pytest.raises(EmberError) as e:
            s.run([np.zeros((1, 1, 27, 28), np.float32)])
        assert e.value.status == Status.SHAPE and "Input3" in e.value.message
        with pytest.raises(EmberError) as e:
            s.run([np.zeros((1, 1, 28, 28), np.float64)])
        assert e.value.status == Status.SHAPE
        with pytest.raises(EmberError) as e:
            s.run([])
        assert e.value.status == Status.INVALID_ARGUMENT
        with pytest.raises(EmberError) as e:
            s.run([np.zeros(3, dtype=np.complex64)])
        assert e.value.status == Status.INVALID_ARGUMENT
        with pytest.raises(EmberError) as e:
            s.run({"nope": np.zeros(1)})
        assert e.value.status == Status.NOT_FOUND
        s.run([np.zeros((1, 1, 28, 28), np.float32)])  # still usable
        with pytest.raises(EmberError) as e:
            mnist.metadata("no such key")
        assert e.value.status == Status.NOT_FOUND
        with pytest.raises(EmberError) as e:  # a model with an open session refuses
            mnist.close()
        assert e.value.status == Status.INVALID_ARGUMENT
    with pytest.raises(EmberError):
        s.run([np.zeros((1, 1, 28, 28), np.float32)])  # closed session


@needs_models
def test_threads(mnist):
    cases = list(ref_cases("mnist-8", mnist.outputs[0].name))
    shared_session = mnist.session()
    errors = []

    def work(t):
        try:
            with mnist.session() as own:
                for i in range(20):
                    name, inp, want = cases[(t + i) % len(cases)]
                    for s in (own, shared_session):
                        (got,) = s.run([inp])
                        assert got.argmax() == want.argmax(), name
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared_session.close()
    assert not errors, errors


# ---- images ----
needs_images = pytest.mark.skipif(not ember.has_image_api,
                                  reason="libember.so has no image functions yet")


def labelled(name):
    path = Path(MODELS or "", name)
    if not path.exists():
        pytest.skip(f"{path} not found (the bindings_classifiers fixture converts it)")
    return ember.Model.open(path)


@needs_models
@needs_images
@pytest.mark.parametrize("photo,cls", [("skimage_coffee.jpg", 967), ("in525_dam.jpg", 525),
                                       ("wonnx_bald_eagle.jpg", 22), ("winml_kitten.png", 281)])
def test_classify_photo(photo, cls):
    with labelled("squeezenet-labelled.ember") as m, m.session() as s:
        labels = m.labels()
        assert len(labels) == 1000
        top = s.classify(shared() / "images" / "imagenet" / photo, k=5)
        assert [c.index for c in top][0] == cls, top
        assert top[0].label == labels[cls]
        scores = [c.score for c in top]
        assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] and scores[0] <= 1


@needs_models
@needs_images
def test_classify_digit_and_preprocess():
    with labelled("mnist-labelled.ember") as m, m.session() as s:
        data = (shared() / "images" / "mnist" / "mnist8_testset0_digit2.png").read_bytes()
        with ember.Image.decode(data) as img:
            assert img.size == (28, 28)
            top = s.classify(img, k=3)
            assert top[0].index == 2 and top[0].label.strip() == "2"
            x = s.preprocess(img)
            assert x.shape == (1, 1, 28, 28) and x.dtype == np.float32
            # The same pixels from a NumPy array classify the same.
            gray = np.clip(x[0, 0], 0, 255).astype(np.uint8)
            assert s.classify(gray, k=1)[0].index == 2


@needs_images
def test_image_errors():
    with pytest.raises(EmberError) as e:
        ember.Image.load("/nonexistent/none.jpg")
    assert e.value.status == Status.IO
    with pytest.raises(EmberError) as e:
        ember.Image.decode(b"definitely not a JPEG")
    assert e.value.status == Status.FORMAT
    with pytest.raises(EmberError):
        ember.Image.from_array(np.zeros((2, 2, 2), np.uint8))
    with ember.Image.from_array(np.zeros((4, 5, 3), np.uint8)) as img:
        assert img.size == (5, 4)
