# onnx_tool.py: ONNX helpers of tools/bench.sh (Debian's /usr/bin/python3, python3-onnx).
#   onnx_tool.py flops MODEL.onnx BATCH   floating-point operations of one run, printed:
#       2 x the multiply-adds of Conv, ConvTranspose, Gemm and MatMul (the rest is noise
#       next to them), from ONNX shape inference with the batch axis set to BATCH
#   onnx_tool.py dynbatch IN.onnx OUT.onnx   a copy whose inputs' and outputs' first axis
#       is the symbol N, so batch 8 runs a model exported for batch 1: Reshape targets
#       computed at export with a leading 1 (of a non-constant tensor) become 0 ("copy
#       the input's first axis"); stale intermediate shapes are dropped
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference


def set_batch(model, batch):
    inits = {i.name for i in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output):
        if vi.name in inits:  # older files list the weights as inputs too
            continue
        dims = vi.type.tensor_type.shape.dim
        if len(dims) == 0:
            continue
        if batch is None:
            dims[0].ClearField('dim_value')
            dims[0].dim_param = 'N'
        else:
            dims[0].ClearField('dim_param')
            dims[0].dim_value = batch


def flops(path, batch):
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    for vi in model.graph.input:  # graph inputs that are initializers keep their shape
        if vi.name in inits:
            continue
        dims = vi.type.tensor_type.shape.dim
        if dims and (dims[0].dim_param or dims[0].dim_value in (0, 1)):
            dims[0].ClearField('dim_param')
            dims[0].dim_value = batch
    for vi in model.graph.output:
        if vi.type.tensor_type.shape.dim:
            vi.type.tensor_type.shape.dim[0].Clear()
    del model.graph.value_info[:]
    model = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        d = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [x.dim_value if x.HasField('dim_value') else None for x in d]
    for i in model.graph.initializer:
        shapes[i.name] = list(i.dims)
    total = 0
    unknown = []
    for n in model.graph.node:
        if n.op_type not in ('Conv', 'ConvTranspose', 'Gemm', 'MatMul'):
            continue
        try:
            if n.op_type in ('Conv', 'ConvTranspose'):
                w = shapes[n.input[1]]
                if n.op_type == 'Conv':
                    y = shapes[n.output[0]]
                    macs = np.prod(y) * np.prod(w[1:])
                else:
                    x = shapes[n.input[0]]
                    macs = np.prod(x) * np.prod(w[1:])
            elif n.op_type == 'Gemm':
                a = shapes[n.input[0]]
                y = shapes[n.output[0]]
                trans_a = next((a_.i for a_ in n.attribute if a_.name == 'transA'), 0)
                k = a[0] if trans_a else a[1]
                macs = np.prod(y) * k
            else:
                a = shapes[n.input[0]]
                y = shapes[n.output[0]]
                macs = np.prod(y) * a[-1]
            total += int(macs)
        except (KeyError, TypeError, IndexError):
            unknown.append(n.name or n.op_type)
    if unknown:
        print(f'onnx_tool: no shapes for {len(unknown)} nodes ({", ".join(unknown[:3])}...)', file=sys.stderr)
    print(2 * total)


def dynbatch(src, dst):
    model = onnx.load(src)
    set_batch(model, None)
    const = {i.name: i for i in model.graph.initializer}
    const_nodes = {}
    for n in model.graph.node:
        if n.op_type == 'Constant':
            for a in n.attribute:
                if a.name == 'value':
                    const_nodes[n.output[0]] = a.t
    computed = {i.name for i in model.graph.input} - set(const)
    for n in model.graph.node:
        if n.op_type != 'Constant' and any(i in computed for i in n.input):
            computed.update(n.output)
        if n.op_type != 'Reshape' or n.input[0] not in computed:
            continue
        t = const.get(n.input[1]) or const_nodes.get(n.input[1])
        if t is None:
            continue
        shape = numpy_helper.to_array(t).copy()
        if shape.size and shape[0] == 1:
            shape[0] = 0
            t.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), t.name))
    del model.graph.value_info[:]
    onnx.save(model, dst)


def main():
    if sys.argv[1] == 'flops':
        flops(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == 'dynbatch':
        dynbatch(sys.argv[2], sys.argv[3])
    else:
        sys.exit('usage: onnx_tool.py flops MODEL BATCH | dynbatch IN OUT')


if __name__ == '__main__':
    main()
