"""Language models through the Python binding: stories260K converted by the tests'
convert_lm_models fixture (EMBER_TEST_MODELS/stories260K.ember) against the golden greedy
run in shared/models/lm/stories260K.prompt.golden.json (read here)."""
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import EmberError, Status, StopReason

MODELS = os.environ.get("EMBER_TEST_MODELS")
SHARED = os.environ.get("EMBER_SHARED_DIR")
pytestmark = pytest.mark.skipif(not (MODELS and SHARED),
                                reason="EMBER_TEST_MODELS / EMBER_SHARED_DIR not set "
                                       "(run through CTest: ctest -L bindings)")


@pytest.fixture(scope="module")
def golden():
    path = Path(SHARED or ".") / "models" / "lm" / "stories260K.prompt.golden.json"
    g = json.loads(path.read_text())
    assert g["prompt_ids"] and g["greedy_ids"] and g["text"]
    return g


@pytest.fixture
def model():
    with ember.Model.open(Path(MODELS) / "stories260K.ember") as m:
        yield m


@pytest.fixture
def session(model):
    with model.session() as s:
        yield s


@pytest.fixture
def gen(session):
    with session.generator() as g:
        yield g


def feed_prompt(gen, golden):
    ids = gen.tokenizer.encode(golden["prompt"])
    assert ids == golden["prompt_ids"]
    gen.feed(ids)


def rewind_to_prompt(gen, golden):
    """Truncates to the prompt minus its last token and feeds that again (a truncate
    forgets the logits, which sampling needs)."""
    n = len(golden["prompt_ids"])
    gen.truncate(n - 1)
    with pytest.raises(EmberError):
        gen.logits()
    gen.feed(golden["prompt_ids"][n - 1:])


def test_greedy_golden_and_streaming(gen, golden):
    feed_prompt(gen, golden)
    logits = gen.logits()
    assert logits.dtype == np.float32 and logits.shape == (512,)
    assert int(np.argmax(logits)) == golden["greedy_ids"][0]
    streamed, pieces = [], []

    def on_token(token, piece):
        assert isinstance(piece, bytes)
        streamed.append(token)
        pieces.append(piece)

    res = gen.generate(max_tokens=len(golden["greedy_ids"]), callback=on_token)
    assert res.ids == golden["greedy_ids"] and res.stop == StopReason.LENGTH
    assert streamed == res.ids
    tok = gen.tokenizer
    assert tok.decode(golden["prompt_ids"]) + b"".join(pieces).decode() == golden["text"]
    assert tok.decode(golden["prompt_ids"] + res.ids) == golden["text"]
    assert (gen.position, gen.context) == (len(golden["prompt_ids"]) + len(res.ids), 512)
    # Roll back and regenerate, without a callback: the same ids.
    rewind_to_prompt(gen, golden)
    assert gen.generate(max_tokens=len(golden["greedy_ids"])).ids == golden["greedy_ids"]


def test_tokenizer_round_trip(model):
    with model.tokenizer() as tok:
        info = tok.info
        assert (info.vocab_size, info.bos, info.eos) == (512, 1, 2)
        for text in ["Once upon a time", "", "Lily and Ben played in the park.\nThe end.",
                     "  two  spaces", "héllo wörld, ünïcode → 日本語 😀"]:
            ids = tok.encode(text)
            assert ids[0] == info.bos
            assert tok.decode(ids) == text
            assert tok.decode_bytes(np.array(ids, dtype=np.int64)) == text.encode()
        special = tok.encode("<s>", add_bos=False, parse_special=True)
        assert special == [info.bos] or special[-1] == info.bos
        assert tok.encode("<s>", add_bos=False) != special
    with pytest.raises(EmberError) as e:
        tok.encode("x")
    assert e.value.status == Status.INVALID_ARGUMENT


def test_seeded_sampler_reproducible(gen, golden):
    feed_prompt(gen, golden)

    def sampled(seed):
        rewind_to_prompt(gen, golden)
        gen.set_sampler(temperature=1.0, top_k=40, top_p=0.9, seed=seed)
        ids = gen.generate(max_tokens=40, ignore_eos=True).ids
        assert len(ids) == 40
        return ids

    a, b, c = sampled(42), sampled(42), sampled(7)
    assert a == b
    assert a != c
    with pytest.raises(EmberError) as e:
        gen.set_sampler(temperature=1.0, top_p=float("nan"))
    assert e.value.status == Status.INVALID_ARGUMENT
    gen.set_sampler()  # greedy
    assert gen.sample() == int(np.argmax(gen.logits()))


def test_callback_stop_exception_and_context(session, gen, golden):
    feed_prompt(gen, golden)
    seen = []
    res = gen.generate(callback=lambda t, p: seen.append(t) or len(seen) >= 3)
    assert res == (golden["greedy_ids"][:3], StopReason.CALLBACK) and seen == res.ids

    class Boom(Exception):
        pass

    def boom(token, piece):
        raise Boom(token)

    with pytest.raises(Boom) as e:
        gen.generate(callback=boom)
    assert e.value.args == (golden["greedy_ids"][3],)
    # Generation stopped after that token, which was fed: the generator continues.
    assert gen.position == len(golden["prompt_ids"]) + 4
    assert gen.generate(max_tokens=4).ids == golden["greedy_ids"][4:8]

    # The callback may not use its generator (or session): an error, not a deadlock.
    with pytest.raises(EmberError) as e:
        gen.generate(callback=lambda t, p: gen.position)
    assert "busy" in e.value.message

    with session.generator(context=8) as small:
        feed_prompt(small, golden)
        res = small.generate()  # 5 prompt tokens + 3 fed; the 4th is emitted, not fed
        assert res == (golden["greedy_ids"][:4], StopReason.CONTEXT)


def test_errors(model, session, golden):
    with session.generator(context=16) as g:  # closed on failure too, before the session
        with pytest.raises(EmberError):
            g.generate()  # nothing fed
        with pytest.raises(EmberError) as e:
            g.feed([1, 403, 512])
        assert e.value.status == Status.INVALID_ARGUMENT and "512" in e.value.message
        with pytest.raises(EmberError) as e:
            g.feed([1] * 17)
        assert e.value.status == Status.INVALID_ARGUMENT and "context overflow" in e.value.message
        with pytest.raises(EmberError):
            g.feed([])
        with pytest.raises(EmberError):
            g.feed([2**40])  # does not fit int32: refused before the C call
        assert g.position == 0
        with pytest.raises(EmberError):
            g.truncate(1)
        tok = g.tokenizer
        with pytest.raises(EmberError) as e:
            tok.decode([5, 600])
        assert e.value.status == Status.INVALID_ARGUMENT
        feed_prompt(g, golden)  # still usable
        # The session refuses to close under an open generator.
        with pytest.raises(EmberError) as e:
            session.close()
        assert e.value.status == Status.INVALID_ARGUMENT
        g.close()
        g.close()
        with pytest.raises(EmberError):
            tok.encode("x")  # borrowed from the closed generator
        with pytest.raises(EmberError):
            g.feed([1])

    # Not a language model.
    with ember.Model.open(Path(MODELS) / "mnist-8.ember") as mnist, mnist.session() as s:
        with pytest.raises(EmberError) as e:
            s.generator()
        assert e.value.status == Status.INVALID_ARGUMENT and "not a language model" in e.value.message
        with pytest.raises(EmberError) as e:
            mnist.tokenizer()
        assert e.value.status == Status.NOT_FOUND


def test_threads(model, golden):
    """Generators on their own sessions run in parallel threads; two generators sharing
    one session from two threads are serialised by its lock. All give the golden ids."""
    n = len(golden["greedy_ids"])
    shared = model.session()
    results, errors = [], []

    def work(session):
        try:
            with session.generator() as g:
                for _ in range(3):
                    g.truncate(0)
                    g.feed(golden["prompt_ids"])
                    pieces = []
                    res = g.generate(max_tokens=n, callback=lambda t, p: pieces.append(p))
                    results.append((res.ids, b"".join(pieces)))
        except BaseException as e:  # reported below
            errors.append(e)

    def own():
        with model.session() as s:
            work(s)

    threads = [threading.Thread(target=own) for _ in range(3)]
    threads += [threading.Thread(target=work, args=(shared,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shared.close()
    assert not errors, errors
    assert len(results) == 15
    want_text = golden["text"][len(golden["prompt"]):].encode()
    assert all(ids == golden["greedy_ids"] and text == want_text for ids, text in results)
