# table.py: the timing loop and table of tools/bench.sh (standard library only).
#   table.py --build DIR --ort NODE_MODULES [--secs S] [--reps R] [--threads 1,2] [--batches 1,8]
#            [--peak SGEMM.onnx=SGEMM.ember] [--flops NAME:BATCH:FLOPS ...] [--json FILE]
#            NAME=MODEL.onnx=MODEL.ember ...
# Per point (model x batch x threads), R rounds of: Ember with the oneDNN plugin
# (`--backend onednn,cpu`), ONNX Runtime, Ember's built-in kernels (`--backend cpu`),
# each timed for S seconds, so the three see the same machine load; a cell is the median
# over the rounds of each round's median. Beside wall time, each tool reports the CPU
# time of its process per run (every thread, user + system), which other jobs on a
# shared machine disturb far less; GFLOP/s and % of peak are computed from it. The peak
# is a 1024x1024x1024 sgemm (SGEMM.ember, one MatMul) through the oneDNN plugin on one
# thread, timed the same way.
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json(cmd, env=None):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    except subprocess.TimeoutExpired:
        return None, 'timeout'
    if p.returncode != 0:
        return None, (p.stderr.strip().splitlines() or ['exit %d' % p.returncode])[-1]
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith('{'):
            return json.loads(line), None
    return None, 'no JSON output'


class Runner:
    def __init__(self, a):
        self.a = a
        self.ember = os.path.join(a.build, 'ember')
        self.env_dnn = dict(os.environ, EMBER_PLUGIN_PATH=os.path.join(a.build, 'plugins'))
        self.env_ort = dict(os.environ, NODE_PATH=a.ort)

    def one(self, engine, onnx, ember, t, b):
        secs = str(self.a.secs)
        if engine == 'onednn':
            return run_json([self.ember, 'bench', ember, '--backend', 'onednn,cpu', '--threads', str(t),
                             '--batch', str(b), '--seconds', secs, '--json'], self.env_dnn)
        if engine == 'cpu':
            return run_json([self.ember, 'bench', ember, '--backend', 'cpu', '--threads', str(t),
                             '--batch', str(b), '--seconds', secs, '--json'])
        return run_json(['node', os.path.join(HERE, 'ort_bench.js'), onnx, str(t), str(b), secs], self.env_ort)

    def point(self, engines, onnx, ember, t, b):
        got = {e: [] for e in engines}
        cpu = {e: [] for e in engines}
        err = {}
        for _ in range(self.a.reps):
            for e in engines:
                if e in err:
                    continue
                r, why = self.one(e, onnx, ember, t, b)
                if r is None:
                    err[e] = why
                else:
                    got[e].append(r['median_ms'])
                    cpu[e].append(r.get('cpu_ms'))
        med = {e: statistics.median(v) if v else None for e, v in got.items()}
        cmed = {e: statistics.median(v) if v and None not in v else None for e, v in cpu.items()}
        return med, cmed, err


def fmt(x, spec='.3f'):
    return format(x, spec) if x is not None else 'n/a'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--ort', required=True)
    ap.add_argument('--secs', type=float, default=1.0)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--peak', help='sgemm.onnx=sgemm.ember')
    ap.add_argument('--flops', action='append', default=[], help='NAME:BATCH:FLOPS')
    ap.add_argument('--json', help='also write every cell here, one JSON object per line')
    ap.add_argument('models', nargs='+', help='NAME=MODEL.onnx=MODEL.ember')
    a = ap.parse_args()
    r = Runner(a)
    threads = [int(x) for x in a.threads.split(',')]
    batches = [int(x) for x in a.batches.split(',')]
    flops = {}
    for f in a.flops:
        name, b, n = f.split(':')
        flops[(name, int(b))] = float(n)
    out = open(a.json, 'w') if a.json else None

    peak = None
    if a.peak:
        onnx, ember = a.peak.split('=')
        med, cmed, err = r.point(['onednn', 'cpu'], onnx, ember, 1, 1)
        g = {e: 2 * 1024 ** 3 / (ms * 1e6) for e, ms in med.items() if ms}
        gc = {e: 2 * 1024 ** 3 / (ms * 1e6) for e, ms in cmed.items() if ms}
        peak = gc.get('onednn') or gc.get('cpu')
        print(f'sgemm 1024x1024x1024, 1 thread: oneDNN {fmt(gc.get("onednn"), ".1f")} GFLOP/s per CPU-second '
              f'({fmt(g.get("onednn"), ".1f")} by wall time), built-in {fmt(gc.get("cpu"), ".1f")} '
              f'({fmt(g.get("cpu"), ".1f")})', flush=True)
        print('(GFLOP/s below: of the oneDNN plugin, FLOPs of Conv/Gemm/MatMul per CPU-second, every thread; '
              '% of peak: of the oneDNN sgemm figure per CPU-second)\n')
        if out:
            out.write(json.dumps({'model': 'sgemm', 'gflops_cpu_time': gc, 'gflops_wall': g}) + '\n')

    print('| model | batch | threads | Ember oneDNN ms | ORT ms | Ember built-in ms | oneDNN/ORT | built-in/ORT '
          '| CPU ms oneDNN / ORT / built-in | oneDNN/ORT by CPU | GFLOP/s | % of peak |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|', flush=True)
    for spec in a.models:
        name, onnx, ember = spec.split('=')
        for b in batches:
            for t in threads:
                med, cmed, err = r.point(['onednn', 'ort', 'cpu'], onnx, ember, t, b)
                d, o, c = med['onednn'], med['ort'], med['cpu']
                dc, oc, cc = cmed['onednn'], cmed['ort'], cmed['cpu']
                fl = flops.get((name, b))
                gf = fl / (dc * 1e6) if fl and dc else None
                pk = 100 * gf / peak if gf and peak else None
                note = '; '.join(f'{e}: {w}' for e, w in err.items())
                print(f'| {name} | {b} | {t} | {fmt(d)} | {fmt(o)} | {fmt(c)} | '
                      f'{fmt(d / o if d and o else None, ".2f")} | {fmt(c / o if c and o else None, ".2f")} | '
                      f'{fmt(dc, ".2f")} / {fmt(oc, ".2f")} / {fmt(cc, ".2f")} | '
                      f'{fmt(dc / oc if dc and oc else None, ".2f")} | '
                      f'{fmt(gf, ".1f")} | {fmt(pk, ".0f")} |' + (f' {note}' if note else ''), flush=True)
                if out:
                    out.write(json.dumps({'model': name, 'batch': b, 'threads': t, 'onednn_ms': d, 'ort_ms': o,
                                          'cpu_ms': c, 'cpu_time': cmed, 'gflops': gf, 'pct_peak': pk,
                                          'errors': err}) + '\n')
                    out.flush()


if __name__ == '__main__':
    sys.exit(main())
