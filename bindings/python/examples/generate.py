"""Streams text from a language model converted by `ember convert`:

    ember convert stories260K.bin --tokenizer tok512.bin -o stories260K.ember
    python3 generate.py stories260K.ember "Once upon a time" [-n 60] [--temperature 0.8 --seed 1]
"""
import argparse
import codecs
import sys

import ember


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("prompt", nargs="?", default="Once upon a time")
    ap.add_argument("-n", type=int, default=60, help="tokens to generate (0: until EOS)")
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    ap.add_argument("--top-p", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    utf8 = codecs.getincrementaldecoder("utf-8")("replace")  # byte tokens may split a character
    with ember.Model.open(args.model) as model, model.session() as session, \
            session.generator() as gen:
        ids = gen.tokenizer.encode(args.prompt)
        print(gen.tokenizer.decode(ids), end="", flush=True)
        gen.feed(ids)
        gen.set_sampler(temperature=args.temperature, top_p=args.top_p, seed=args.seed)
        result = gen.generate(max_tokens=args.n,
                              callback=lambda _id, piece: print(utf8.decode(piece), end="", flush=True))
        print(utf8.decode(b"", final=True))
        print(f"{len(result.ids)} tokens (stop: {result.stop.name.lower()})", file=sys.stderr)


if __name__ == "__main__":
    main()
