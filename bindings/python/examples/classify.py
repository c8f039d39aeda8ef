#!/usr/bin/env python3
"""Labels images with an Ember model converted with its labels and preprocessing:

    ember convert squeezenet1.1.onnx -o squeezenet.ember --preset caffe --labels synset.txt
    PYTHONPATH=bindings/python python3 bindings/python/examples/classify.py squeezenet.ember cat.jpg
"""
import sys

import ember


def main(argv):
    if len(argv) < 3:
        print("usage: classify.py MODEL.ember IMAGE...", file=sys.stderr)
        return 2
    try:
        with ember.Model.open(argv[1]) as model, model.session() as session:
            for path in argv[2:]:
                print(path)
                for c in session.classify(path, k=5):
                    print(f"  {c.score:5.3f}  {c.index:4d}  {c.label}")
    except ember.EmberError as e:
        print(f"classify: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
