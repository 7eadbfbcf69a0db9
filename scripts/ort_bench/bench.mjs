// tierbench vs ONNX Runtime (CPU), side by side on the same graphs, weights, input and threads.
// Not part of the product build: run it through scripts/ort_bench.sh.
//
// Per workload:
//   1. tierbench export-model --io-dir: the ONNX model tierbench ran, the seeded input it feeds
//      (and KV caches), and its output for that input on --backend (oneDNN).
//   2. ONNX Runtime (intraOpNumThreads = N, interOpNumThreads = 1, all graph optimisations,
//      sequential execution) runs the model on that input: its output is compared with
//      tierbench's, then it is timed (warm-up, then samples until --min-iters and --min-time).
//   3. tierbench run --workload W --backend onednn --threads N --json (a scratch results store),
//      whose samples are the same whole-graph inference latency.
// Prints per workload both medians, p10 and p90, and the ratio tierbench / ONNX Runtime.
// With --imported, the tier and the file imported back run in one tierbench run, 3 repetitions
// in a seeded random order (--repetitions 3 --interleave), so that drift on a shared machine
// falls on both; each side's figures are the medians over its repetitions.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';

const DEFAULT_WORKLOADS = [
  'person-detect:b1:f32', 'mobilenetv2:b1:f32', 'mobilenetv2:b8:f32',
  'resnet50:b1:f32', 'resnet50:b8:f32', 'bert-base:seq128:f32',
];

function parseArgs(argv) {
  const a = {
    tierbench: 'build/release/tierbench', threads: 2, workloads: [], outDir: '',
    backend: 'onednn', warmup: 5, minIters: 20, maxIters: 500, minTime: 5, seed: 42,
    tbArgs: [], skipTierbench: false, imported: false, tbBackends: [], hfModel: '', past: 127,
  };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i], v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--tierbench') a.tierbench = v();
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--workload' || k === '-w') a.workloads.push(v());
    else if (k === '--out-dir') a.outDir = v();
    else if (k === '--backend') a.backend = v();
    else if (k === '--warmup') a.warmup = Number(v());
    else if (k === '--min-iters') a.minIters = Number(v());
    else if (k === '--max-iters') a.maxIters = Number(v());
    else if (k === '--min-time') a.minTime = Number(v());
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--tierbench-arg') a.tbArgs.push(v());
    else if (k === '--skip-tierbench-run') a.skipTierbench = true;
    else if (k === '--imported') a.imported = true;
    else if (k === '--tb-backend') a.tbBackends.push(v());
    else if (k === '--hf-model') a.hfModel = v();
    else if (k === '--past') a.past = Number(v());
    else if (k === '--kv-shape') a.kvShape = v();
    else if (k === '-h' || k === '--help') {
      console.log(`usage: node bench.mjs [--workload W]... [--threads N] [--tierbench PATH]
  [--out-dir DIR] [--backend onednn] [--warmup 5] [--min-iters 20] [--max-iters 500]
  [--min-time 5] [--seed 42] [--tierbench-arg ARG]... [--skip-tierbench-run]
  [--imported [--tb-backend B]...]
--imported: tierbench also runs the exported file itself (tierbench run --model FILE) in the
  same run as the built-in tier, on --backend or each --tb-backend (the tier / imported ratio)
--hf-model FILE [--past 127] [--kv-shape KVxD]: only ONNX Runtime on a Hugging Face
  decoder-with-past file (scripts/hf_decoder.py): one decode step after --past tokens (ids 1x1,
  attention_mask of ones, position_ids = past, past caches seeded); prints its median
default workloads: ${DEFAULT_WORKLOADS.join(' ')}`);
      process.exit(0);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.workloads.length) a.workloads = DEFAULT_WORKLOADS;
  if (!a.tbBackends.length) a.tbBackends = [a.backend];
  if (!a.outDir) a.outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tb-ort-bench-'));
  return a;
}

function quantile(sorted, q) {  // linear interpolation, as numpy's default
  const x = q * (sorted.length - 1), lo = Math.floor(x), hi = Math.ceil(x);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (x - lo);
}
function summary(samples) {
  const s = [...samples].sort((p, q) => p - q);
  return { n: s.length, median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

const ORT_TYPES = { f32: 'float32', s32: 'int32', u8: 'uint8', s8: 'int8' };
function readTensor(dir, t) {
  const buf = fs.readFileSync(path.join(dir, t.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const arrays = { f32: Float32Array, s32: Int32Array, u8: Uint8Array, s8: Int8Array };
  if (!arrays[t.dtype]) throw new Error(`${t.name}: dtype ${t.dtype} not handled by this script`);
  return new ort.Tensor(ORT_TYPES[t.dtype], new arrays[t.dtype](ab), t.shape);
}

// Output agreement: max |a - b|, that over max |b|, and ||a - b|| / ||b||.
function compare(got, want) {
  if (got.length !== want.length) return { ok: false, msg: `${got.length} vs ${want.length} elements` };
  let maxAbs = 0, maxRef = 0, num = 0, den = 0;
  for (let i = 0; i < want.length; ++i) {
    const d = got[i] - want[i];
    if (!(Math.abs(d) <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.abs(d);
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    num += d * d, den += want[i] * want[i];
  }
  const relL2 = Math.sqrt(num / (den || 1));
  return { maxAbs, maxRel: maxAbs / (maxRef || 1), relL2 };
}

function tierbench(a, args) {
  return execFileSync(a.tierbench, args, { encoding: 'utf8', maxBuffer: 1 << 28,
                                           stdio: ['ignore', 'pipe', 'inherit'] });
}

async function benchOrt(a, model, feeds) {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const first = await session.run(feeds);
  const out = first[session.outputNames[0]];
  for (let i = 0; i < a.warmup; ++i) await session.run(feeds);
  const samples = [];
  const t0 = performance.now();
  while (samples.length < a.maxIters &&
         (samples.length < a.minIters || performance.now() - t0 < a.minTime * 1e3)) {
    const s = performance.now();
    await session.run(feeds);
    samples.push((performance.now() - s) / 1e3);
  }
  await session.release();
  return { out, ...summary(samples) };
}

// The built-in tier (and with --imported the exported file imported back, in the same run) on
// each tierbench backend: { backend: { tier, imported } }.
function benchTierbench(a, w, model) {
  const db = path.join(a.outDir, 'tierbench-bench.db');
  const backends = a.imported ? a.tbBackends : [a.backend];
  const args = ['run', ...backends.flatMap((b) => ['--backend', b]), '--workload', w,
                ...(a.imported ? ['--model', model] : []),
                // an int8 file (static QDQ) imports at int8, as the tier runs
                ...(a.imported && w.endsWith(':int8') ? ['--dtype', 'int8'] : []),
                '--threads', String(a.threads),
                '--seed', String(a.seed), '--min-reps', String(a.minIters),
                '--max-time', String(Math.max(a.minTime, 1)), '--warmup', String(a.warmup),
                ...(a.imported ? ['--repetitions', '3', '--interleave'] : []),
                '--json', '--db', db, ...a.tbArgs];
  const j = JSON.parse(tierbench(a, args));
  const out = {};
  for (const b of backends) {
    const pick = (f, what) => {
      const rs = j.results.filter((x) => f(x.name) && x.backend === b);
      if (!rs.length) throw new Error(`tierbench run printed no result for ${what} on ${b}`);
      for (const r of rs)
        if (r.status !== 'passed' && r.status !== 'mistrusted')
          throw new Error(`tierbench run ${what} on ${b}: ${r.status}: ${r.message}`);
      const med = (k) => {
        const v = rs.map((r) => r[k]).sort((x, y) => x - y);
        return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
      };
      return { n: rs.reduce((t, r) => t + r.n, 0), median: med('median_s'), p10: med('p10_s'),
               p90: med('p90_s') };
    };
    out[b] = { tier: pick((n) => n === w, w) };
    if (a.imported) out[b].imported = pick((n) => n.startsWith('onnx-'), `--model ${model}`);
  }
  return out;
}

const ms = (s) => (s * 1e3).toFixed(s < 0.01 ? 3 : 2);
const spread = (x) => `${ms(x.p10)}..${ms(x.p90)}`;

// ONNX Runtime on one decode step of a Hugging Face decoder-with-past file: the step's ids,
// mask and positions, each past cache [1][kv][past][d] seeded in [-1, 1) (kv and d from the
// model's own input metadata where fixed, else --kv-shape).
async function benchHf(a) {
  const session = await ort.InferenceSession.create(a.hfModel);
  const big = (n, v) => new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => v), [1, n]);
  const feeds = {};
  let s = a.seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const [kv, d] = (a.kvShape || '3x64').split('x').map(Number);
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = big(1, 1n);
    else if (name === 'position_ids') feeds[name] = big(1, BigInt(a.past));
    else if (name === 'attention_mask') feeds[name] = big(a.past + 1, 1n);
    else feeds[name] = new ort.Tensor('float32', Float32Array.from({ length: kv * a.past * d }, rnd),
                                      [1, kv, a.past, d]);
  }
  await session.release();
  const r = await benchOrt(a, a.hfModel, feeds);
  console.log(`ONNX Runtime ${ort.env.versions.node} (CPU EP), threads ${a.threads}: ` +
              `${ms(r.median)} ms (p10..p90 ${spread(r)}, ${r.n} steps)`);
  process.exit(0);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.hfModel) return benchHf(a);
  fs.mkdirSync(a.outDir, { recursive: true });
  const version = tierbench(a, ['--version']).trim();
  console.log(`${version}\nONNX Runtime ${ort.env.versions.node} (onnxruntime-node, CPU EP), ` +
              `threads ${a.threads}, backend ${a.backend}, files in ${a.outDir}\n`);
  const rows = [];
  let failures = 0;
  for (const w of a.workloads) {
    const row = { w };
    try {
      const base = path.join(a.outDir, w.replaceAll(':', '_'));
      const ex = JSON.parse(tierbench(a, ['export-model', '--workload', w, '-o', `${base}.onnx`,
                                          '--io-dir', `${base}.io`, '--backend', a.backend,
                                          '--threads', String(a.threads), '--seed', String(a.seed),
                                          // int8: static QDQ, the form ONNX Runtime's quantiser
                                          // writes and runs as integer kernels
                                          ...(w.endsWith(':int8') ? ['--static-scales'] : []),
                                          '--json']));
      const io = JSON.parse(fs.readFileSync(path.join(`${base}.io`, 'io.json'), 'utf8'));
      const feeds = {};
      for (const t of io.inputs) feeds[t.name] = readTensor(`${base}.io`, t);
      const ort_ = await benchOrt(a, `${base}.onnx`, feeds);
      const want = readTensor(`${base}.io`, io.output).data;
      row.check = compare(ort_.out.data, want);
      // f32 graphs: the same arithmetic up to summation order and fused-op rounding.
      row.check.ok = row.check.relL2 < (w.endsWith(':f32') ? 1e-3 : 5e-2);
      row.nodes = ex.nodes;
      row.ort = ort_;
      if (!a.skipTierbench) {
        row.tbAll = benchTierbench(a, w, `${base}.onnx`);
        row.tb = row.tbAll[a.tbBackends[0]].tier;
      }
      if (!row.check.ok) ++failures;
    } catch (e) {
      row.error = String(e.message || e).split('\n')[0];
      ++failures;
    }
    rows.push(row);
    const r = row;
    console.log(r.error ? `${r.w}: ERROR ${r.error}`
                        : `${r.w}: ORT ${ms(r.ort.median)} ms` +
                          (r.tb ? `, tierbench ${ms(r.tb.median)} ms` : '') +
                          `, output rel L2 ${r.check.relL2.toExponential(2)}`);
  }
  const line = (c) => console.log(
      c.map((x, i) => (i === 0 ? String(x).padEnd(24) : String(x).padStart(i === 7 ? 12 : 16)))
          .join(' '));
  console.log('');
  line(['workload', 'ORT median ms', 'ORT p10..p90', 'tb median ms', 'tb p10..p90',
        'tb/ORT', 'output', 'rel L2']);
  for (const r of rows) {
    if (r.error) {
      line([r.w, 'error', '', '', '', '', '', '']);
      continue;
    }
    line([r.w, ms(r.ort.median), spread(r.ort), r.tb ? ms(r.tb.median) : '-',
          r.tb ? spread(r.tb) : '-', r.tb ? (r.tb.median / r.ort.median).toFixed(2) : '-',
          r.check.ok ? 'match' : 'MISMATCH', r.check.relL2.toExponential(2)]);
  }
  if (a.imported) {
    console.log('\nimported (tierbench run --model FILE) vs the built-in tier, same run:');
    line(['workload', 'backend', 'tier median ms', 'imported ms', 'imported p10..p90',
          'imported/tier', 'imported/ORT', '']);
    for (const r of rows) {
      if (r.error || !r.tbAll) continue;
      for (const [b, x] of Object.entries(r.tbAll))
        line([r.w, b, ms(x.tier.median), ms(x.imported.median), spread(x.imported),
              (x.imported.median / x.tier.median).toFixed(3),
              (x.imported.median / r.ort.median).toFixed(2), '']);
    }
  }
  fs.writeFileSync(path.join(a.outDir, 'results.json'), JSON.stringify({ version, threads: a.threads, rows }, null, 2));
  console.log(`\nresults.json in ${a.outDir}`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message || e}`);
  process.exit(2);
});
