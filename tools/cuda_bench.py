#!/usr/bin/env python3
"""Ember's CUDA plugin against PyTorch eager on the same GPU (run by tools/cuda_check.sh).

Models: torchvision ResNet-50, MobileNetV2 and SqueezeNet 1.1 (random weights: timing does
not depend on them), exported to ONNX with a dynamic batch; and the shared ONNX models
(../shared/models/onnx), run in PyTorch by a small ONNX interpreter over
torch.nn.functional when the `onnx` package is there (their batch is made dynamic when
their graph allows it, else they run at batch 1 only).

For each model, batch (1, 8, 64) and precision (fp32, fp16):
  ember  `ember bench --backend cuda,cpu --json` with EMBER_CUDA_PRECISION: the median
         latency of ember_session_run on host tensors (upload, CUDA Graph replay,
         download) after a warm-up; `placed` says whether any node fell back to the CPU.
  torch  eager, torch.inference_mode, cudnn.benchmark on; fp16 = model.half(). Two
         figures: e2e (host tensor in, host tensor out: the same work as Ember) and dev
         (input already on the GPU, output left there).
  ratio  ember / torch e2e (< 1: Ember is faster), and ember / torch dev.
ResNet-50 fp16 batch 64: achieved TFLOPS (4.09 GMAC per image) against the GPU's dense
fp16 tensor-core peak (--peak-tflops; default from the GPU's name: H100/H200 SXM 989).
"""
import argparse
import json
import os
import subprocess
import sys
import time


def log(*a):
    print(*a, flush=True)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def time_fn(fn, seconds, sync):
    for _ in range(5):
        fn()
    sync()
    times = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(times) < 10:
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


# ---- an ONNX interpreter on torch.nn.functional (for the shared models) ----

def onnx_to_torch(path, torch, device):
    import onnx
    from onnx import numpy_helper
    F = torch.nn.functional
    m = onnx.load(path)
    def tensor(t):  # float tensors on the GPU; integer ones (shapes) stay on the host
        x = torch.from_numpy(numpy_helper.to_array(t).copy())
        return x.to(device) if x.is_floating_point() else x

    consts = {t.name: tensor(t) for t in m.graph.initializer}
    for node in m.graph.node:
        if node.op_type == 'Constant':
            consts[node.output[0]] = tensor(node.attribute[0].t)
    input_names = [i.name for i in m.graph.input if i.name not in consts]
    output_names = [o.name for o in m.graph.output]

    def attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def pads2d(a):
        auto = a.get('auto_pad', b'NOTSET')
        auto = auto.decode() if isinstance(auto, bytes) else auto
        if auto in ('SAME_UPPER', 'SAME_LOWER'):
            if any(s != 1 for s in a.get('strides', [1, 1])):
                raise NotImplementedError('auto_pad SAME with strides')
            return 'same'
        if auto == 'VALID':
            return (0, 0)
        p = list(a.get('pads', [0, 0, 0, 0]))
        if p[0] != p[2] or p[1] != p[3]:
            raise NotImplementedError('asymmetric pads')
        return (p[0], p[1])

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c = consts

        def half_consts(self):
            self.c = {k: (v.half() if v.is_floating_point() else v) for k, v in self.c.items()}
            return self

        def forward(self, *xs):
            env = dict(self.c)
            env.update(zip(input_names, xs))
            for node in m.graph.node:
                op, a = node.op_type, attrs(node)
                ins = [env[i] if i else None for i in node.input]
                if op == 'Constant':
                    continue
                if op == 'Conv':
                    y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a.get('strides', [1, 1]),
                                 pads2d(a), a.get('dilations', [1, 1]), a.get('group', 1))
                elif op == 'Relu':
                    y = F.relu(ins[0])
                elif op == 'MaxPool':
                    y = F.max_pool2d(ins[0], a['kernel_shape'], a.get('strides', [1, 1]), pads2d(a),
                                     ceil_mode=bool(a.get('ceil_mode', 0)))
                elif op == 'AveragePool':
                    y = F.avg_pool2d(ins[0], a['kernel_shape'], a.get('strides', [1, 1]), pads2d(a),
                                     ceil_mode=bool(a.get('ceil_mode', 0)))
                elif op == 'GlobalAveragePool':
                    y = ins[0].mean(dim=(2, 3), keepdim=True)
                elif op == 'Concat':
                    y = torch.cat(ins, dim=a['axis'])
                elif op in ('Dropout', 'Identity'):
                    y = ins[0]
                elif op == 'Softmax':
                    x = ins[0]
                    axis = a.get('axis', 1)
                    y = F.softmax(x.flatten(axis), dim=axis).reshape(x.shape)
                elif op == 'Add':
                    y = ins[0] + ins[1]
                elif op == 'Mul':
                    y = ins[0] * ins[1]
                elif op == 'MatMul':
                    y = torch.matmul(ins[0], ins[1])
                elif op == 'Gemm':
                    A = ins[0].t() if a.get('transA', 0) else ins[0]
                    B = ins[1].t() if a.get('transB', 0) else ins[1]
                    y = a.get('alpha', 1.0) * (A @ B)
                    if len(ins) > 2 and ins[2] is not None:
                        y = y + a.get('beta', 1.0) * ins[2]
                elif op == 'Reshape':
                    shape = [int(s) for s in ins[1].tolist()]
                    shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                    y = ins[0].reshape(shape)
                elif op == 'Flatten':
                    y = ins[0].flatten(a.get('axis', 1))
                elif op == 'Transpose':
                    y = ins[0].permute(*a['perm'])
                else:
                    raise NotImplementedError(op)
                env[node.output[0]] = y
            outs = [env[o] for o in output_names]
            return outs[0] if len(outs) == 1 else tuple(outs)

    return Net()


def dynamic_batch_copy(src, dst):
    """The ONNX model with a symbolic batch (first dim of inputs and outputs); False if
    its graph fixes the batch elsewhere (a Reshape to a constant shape)."""
    import onnx
    m = onnx.load(src)
    for node in m.graph.node:
        if node.op_type == 'Reshape':
            return False
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) and v.name not in {t.name for t in m.graph.initializer}:
            dims[0].ClearField('dim_value')
            dims[0].dim_param = 'N'
    del m.graph.value_info[:]
    onnx.save(m, dst)
    return True


# ---- Ember ----

def ember_env(args, **extra):
    env = dict(os.environ, **extra)
    if args.ember_ld_path:
        env['LD_LIBRARY_PATH'] = args.ember_ld_path
    return env


def ember_convert(args, onnx_path, out):
    r = subprocess.run([args.ember, 'convert', onnx_path, '-o', out], capture_output=True, text=True,
                       env=ember_env(args))
    if r.returncode != 0:
        raise RuntimeError('ember convert: ' + r.stderr.strip())


def ember_bench(args, model, batch, precision):
    env = ember_env(args, EMBER_PLUGIN_PATH=args.plugin_path, EMBER_CUDA_PRECISION=precision)
    cmd = [args.ember, 'bench', model, '--batch', str(batch), '--backend', 'cuda,cpu', '--json',
           '--seconds', str(args.seconds)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'ember bench failed')
    line = [l for l in r.stdout.splitlines() if l.startswith('{')][-1]
    return json.loads(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ember', required=True)
    ap.add_argument('--plugin-path', required=True)
    ap.add_argument('--ember-ld-path', default='', help='LD_LIBRARY_PATH for the ember processes only')
    ap.add_argument('--shared', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--batches', default='1,8,64')
    ap.add_argument('--precisions', default='fp32,fp16')
    ap.add_argument('--seconds', type=float, default=0.5)
    ap.add_argument('--budget', type=float, default=330, help='stop starting new models after this many seconds')
    ap.add_argument('--peak-tflops', type=float, default=0)
    args = ap.parse_args()
    t_start = time.time()
    os.makedirs(args.work, exist_ok=True)

    import torch
    import torchvision
    dev = torch.device('cuda')
    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name(0)
    peak = args.peak_tflops or (989.0 if ('H100' in gpu or 'H200' in gpu) else 0)
    log('GPU %s, torch %s, torchvision %s' % (gpu, torch.__version__, torchvision.__version__))
    batches = [int(b) for b in args.batches.split(',')]
    precisions = args.precisions.split(',')

    # (name, onnx path, torch module factory, input shape without batch, batches allowed)
    models = []
    for name, ctor, shape in (('resnet50', torchvision.models.resnet50, (3, 224, 224)),
                              ('mobilenet_v2', torchvision.models.mobilenet_v2, (3, 224, 224)),
                              ('squeezenet1_1', torchvision.models.squeezenet1_1, (3, 224, 224))):
        path = os.path.join(args.work, name + '.onnx')
        net = ctor(weights=None).eval()
        if not os.path.exists(path):
            x = torch.randn(1, *shape)
            kw = dict(input_names=['x'], output_names=['y'], dynamic_axes={'x': {0: 'N'}, 'y': {0: 'N'}},
                      opset_version=17)
            try:
                try:
                    torch.onnx.export(net, x, path, dynamo=False, **kw)
                except TypeError:  # a torch without the dynamo exporter
                    torch.onnx.export(net, x, path, **kw)
            except Exception as e:  # noqa: BLE001
                log('%s: ONNX export failed, skipped: %s' % (name, e))
                continue
        models.append((name, path, lambda net=net: net, [shape], batches))
    try:
        import onnx  # noqa: F401
        have_onnx = True
    except ImportError:
        have_onnx = False
        log('note: python package onnx missing: the shared models run in Ember only (no PyTorch figure)')
    shared_onnx = os.path.join(args.shared, 'models', 'onnx')
    for name in ('squeezenet1.1-caffe2-fp32', 'mnist-8', 'winml-cifar10-tutorial', 'super-resolution-10'):
        src = os.path.join(shared_onnx, name + '.onnx')
        if not os.path.exists(src):
            continue
        path, allowed = src, [1]
        if have_onnx:
            import onnx
            dyn = os.path.join(args.work, name + '-dynamic.onnx')
            if dynamic_batch_copy(src, dyn):
                path, allowed = dyn, batches
            m = onnx.load(src)
            init = {t.name for t in m.graph.initializer}
            shapes = [tuple(d.dim_value for d in i.type.tensor_type.shape.dim[1:])
                      for i in m.graph.input if i.name not in init]
            models.append((name, path, lambda src=src: onnx_to_torch(src, torch, dev), shapes, allowed))
        else:
            models.append((name, path, None, None, allowed))

    rows = []
    log('%-26s %5s %4s | %10s %-9s | %10s %10s | %7s %7s' % ('model', 'prec', 'N', 'ember ms', 'placed',
                                                             'torch e2e', 'torch dev', 'e/t e2e', 'e/t dev'))
    for name, path, factory, shapes, allowed in models:
        if time.time() - t_start > args.budget:
            log('budget of %.0f s spent: %s and later models skipped' % (args.budget, name))
            break
        ember_model = os.path.join(args.work, name + '.ember')
        try:
            ember_convert(args, path, ember_model)
        except Exception as e:  # noqa: BLE001
            log('%-26s convert failed: %s' % (name, e))
            continue
        net = None
        if factory:
            try:
                net = factory().to(dev).eval()
            except Exception as e:  # noqa: BLE001
                log('%-26s no PyTorch version: %s' % (name, e))
        for prec in precisions:
            tnet = None
            if net is not None:
                import copy
                tnet = copy.deepcopy(net)
                if prec == 'fp16':
                    tnet = tnet.half_consts() if hasattr(tnet, 'half_consts') else tnet.half()
            for batch in batches:
                if batch not in allowed:
                    continue
                row = dict(model=name, precision=prec, batch=batch)
                try:
                    e = ember_bench(args, ember_model, batch, prec)
                    row.update(ember_ms=e['median_ms'], placed=e['backend'], first_run_ms=e['first_run_ms'])
                except Exception as ex:  # noqa: BLE001
                    row.update(ember_error=str(ex))
                if tnet is not None:
                    dt = torch.float16 if prec == 'fp16' else torch.float32
                    host = [torch.randn(batch, *s).to(dt).pin_memory() for s in shapes]
                    devx = [h.to(dev) for h in host]
                    with torch.inference_mode():
                        def e2e():
                            out = tnet(*[h.to(dev, non_blocking=True) for h in host])
                            return out.cpu() if torch.is_tensor(out) else [o.cpu() for o in out]

                        def on_dev():
                            return tnet(*devx)
                        try:
                            row['torch_e2e_ms'] = time_fn(e2e, args.seconds, torch.cuda.synchronize)
                            row['torch_dev_ms'] = time_fn(on_dev, args.seconds, torch.cuda.synchronize)
                        except Exception as ex:  # noqa: BLE001
                            row['torch_error'] = str(ex)
                rows.append(row)
                em = row.get('ember_ms')
                te, td = row.get('torch_e2e_ms'), row.get('torch_dev_ms')
                fmt = lambda v: ('%10.3f' % v) if v is not None else '%10s' % '-'  # noqa: E731
                rat = lambda a, b: ('%7.2f' % (a / b)) if a and b else '%7s' % '-'  # noqa: E731
                log('%-26s %5s %4d | %s %-9s | %s %s | %s %s' % (name, prec, batch, fmt(em), row.get('placed', 'ERR')[:9],
                                                                 fmt(te), fmt(td), rat(em, te), rat(em, td)))
                if 'ember_error' in row:
                    log('    ember: ' + row['ember_error'][:300])
                if 'torch_error' in row:
                    log('    torch: ' + row['torch_error'][:300])
        del net
        torch.cuda.empty_cache()

    for r in rows:
        if r['model'] == 'resnet50' and r['precision'] == 'fp16' and r['batch'] == 64 and r.get('ember_ms'):
            tflops = 2 * 4.09e9 * 64 / (r['ember_ms'] / 1000) / 1e12
            msg = 'ResNet-50 fp16 batch 64: %.1f ms, %.0f images/s, %.1f TFLOPS' % (r['ember_ms'], 64000 / r['ember_ms'],
                                                                                   tflops)
            if peak:
                msg += ' = %.1f%% of the %.0f TFLOPS dense fp16 peak' % (100 * tflops / peak, peak)
            log(msg)
    with open(os.path.join(args.work, 'results.json'), 'w') as f:
        json.dump(dict(gpu=gpu, torch=torch.__version__, rows=rows), f, indent=1)
    log('results: %s (%.0f s)' % (os.path.join(args.work, 'results.json'), time.time() - t_start))
    bad = [r for r in rows if 'ember_error' in r]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
