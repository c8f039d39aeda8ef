// ort_bench.js MODEL.onnx THREADS BATCH [SECONDS]: the peer side of tools/bench.sh.
// Times ONNX Runtime (npm onnxruntime-node, CPU EP, all graph optimisations) on the same
// fixed-pattern inputs `ember bench` uses, and prints one JSON line in its format.
const ort = require('onnxruntime-node');

function pattern(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (((i * 37) % 256) - 128) / 128;
  return a;
}

async function main() {
  const [model, threads, batch, seconds] = process.argv.slice(2);
  const t = parseInt(threads, 10), b = parseInt(batch, 10), secs = parseFloat(seconds || '2');
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: t, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = {};
  for (const name of session.inputNames) {
    const meta = session.inputMetadata ? session.inputMetadata.find((m) => m.name === name) : null;
    let dims = meta && meta.shape ? meta.shape.map((d, i) => (typeof d === 'number' && d >= 0 ? d : (i === 0 ? b : 1))) : null;
    if (!dims) throw new Error('no input shape for ' + name);
    if (b !== 1 && dims[0] !== b) dims[0] = b;
    const n = dims.reduce((x, y) => x * y, 1);
    const type = meta.type || 'float32';
    if (type === 'float32') feeds[name] = new ort.Tensor('float32', pattern(n), dims);
    else if (type === 'float16') feeds[name] = new ort.Tensor('float16', new Uint16Array(n), dims);
    else throw new Error('unsupported input type ' + type);
  }
  for (let i = 0; i < 3; i++) await session.run(feeds);
  const times = [];
  const start = Date.now();
  const cpu0 = process.cpuUsage();  // the whole process, every thread
  while (Date.now() - start < secs * 1000 || times.length < 10) {
    const a = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - a) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  times.sort((x, y) => x - y);
  const median = times[Math.floor(times.length / 2)];
  const p90 = times[Math.min(times.length - 1, Math.floor(times.length * 0.9))];
  console.log(JSON.stringify({ model: model.split('/').pop(), backend: 'onnxruntime', threads: t, batch: b,
    median_ms: +median.toFixed(4), p90_ms: +p90.toFixed(4), runs: times.length, load_ms: +loadMs.toFixed(3),
    cpu_ms: +((cpu.user + cpu.system) / 1000 / times.length).toFixed(4) }));
}

main().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
