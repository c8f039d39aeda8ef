# make_models.py OUTDIR: the generated models of tools/bench.sh, as ONNX files with
# random weights (they do not change timings), each with a dynamic batch axis:
#   resnet50.onnx      torchvision ResNet-50, input [N,3,224,224]
#   mobilenetv2.onnx   torchvision MobileNetV2, input [N,3,224,224]
#   transformer.onnx   one nn.TransformerEncoderLayer (d_model 256, 4 heads, FFN 1024,
#                      batch first), input [N,128,256]
#   mlp.onnx           the MNIST MLP 784-128-10 (Linear-ReLU-Linear), input [N,784]
#   sgemm.onnx         one MatMul [1024,1024] x [1024,1024] (constant), the peak probe
# Run with Debian's /usr/bin/python3 (python3-torch, python3-torchvision). A file that
# exists is kept, so a second run costs nothing.
import os
import sys

import torch
import torchvision


class Sgemm(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.b = torch.nn.Parameter(torch.randn(n, n) / n ** 0.5)

    def forward(self, a):
        return torch.matmul(a, self.b)


def models():
    yield 'resnet50', lambda: torchvision.models.resnet50(weights=None), (3, 224, 224), True
    yield 'mobilenetv2', lambda: torchvision.models.mobilenet_v2(weights=None), (3, 224, 224), True
    yield 'transformer', lambda: torch.nn.TransformerEncoderLayer(
        d_model=256, nhead=4, dim_feedforward=1024, dropout=0.0, batch_first=True), (128, 256), True
    yield 'mlp', lambda: torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)), (784,), True
    yield 'sgemm', lambda: Sgemm(1024), (1024,), False


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    for name, make, shape, dynamic in models():
        path = os.path.join(out, name + '.onnx')
        if os.path.exists(path):
            continue
        model = make().eval()
        x = torch.randn((1024 if name == 'sgemm' else 1,) + shape)
        axes = {'input': {0: 'N'}, 'output': {0: 'N'}} if dynamic else None
        tmp = path + '.tmp'
        # Gradients on: TransformerEncoderLayer's inference fast path (a fused op ONNX
        # cannot express) is taken only without them.
        with torch.enable_grad():
            torch.onnx.export(model, x, tmp, input_names=['input'], output_names=['output'],
                              dynamic_axes=axes, opset_version=17, do_constant_folding=True)
        os.replace(tmp, path)
        print(f'make_models: {path}', file=sys.stderr)


if __name__ == '__main__':
    main()
