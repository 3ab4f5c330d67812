#!/usr/bin/env node
// Recall and speed of the HNSW index (src/query/hnsw.ts) on the item factors of a model, against
// the exact cosine top 10 of the same run. Loads the model's item factors, scales every row to
// unit length (cosine), builds the index (seconds, bytes of writeHnsw), then for `--queries`
// seeded random query items (each excluded from its own answer, as `als similar` does) measures
// recall@10 against the exact top 10 and queries per second at several ef, next to the rate of an
// exact single-query scan in plain JavaScript (which also gives the exact top 10) and of the
// library's similarToRow (WebAssembly kernels, one thread, one item at a time, no listener filter).
//
//   node scripts/annbench.js [--model DIR] [--queries 2000] [--seed 1] [--m 16]
//                            [--ef-construction 200] [--ef 10,16,…] [--index FILE]
//                            [--backends wasm,js]
//
// --backends: the searches' (and a build's) backends, each ef measured with each in turn.
// --index FILE: read the index from FILE when it exists, else build it and write it there.
// Needs `npm run build`. Prints a Markdown table on stdout, progress on stderr.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModel } from '../dist/src/index.js';
import { similarToRow, itemNorms } from '../dist/src/advanced.js';
import { defaultQueryKernels } from '../dist/src/kernels/index.js';
import { seededRandom } from '../dist/src/als/random.js';
import { buildHnsw, searchHnsw } from '../dist/src/query/hnsw.js';
import { readHnsw, writeHnsw } from '../dist/src/query/hnswFormat.js';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: '/work/main/bench/data/model-full' },
    queries: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '1' },
    m: { type: 'string', default: '16' },
    'ef-construction': { type: 'string', default: '200' },
    ef: { type: 'string', default: '16,32,64,128,192,256,320,384,512,1024' },
    index: { type: 'string' },
    'similar-queries': { type: 'string', default: '500' },
    backends: { type: 'string', default: 'wasm' },
  },
});
const K = 10;
const backends = args.backends.split(',');
const log = (text) => process.stderr.write(`${text}\n`);
const seconds = (start) => (performance.now() - start) / 1000;

// the factors straight into the query kernels' memory, as the CLI loads for one query (src/cli/withModel.ts)
const model = loadModel(args.model, { factorMemory: defaultQueryKernels() });
const { items: rows, factors: dim } = model;
const raw = model.itemFactors;
const vectors = new Float32Array(raw.length);
let zeroRows = 0;
for (let i = 0; i < rows; i++) {
  let s = 0;
  for (let j = 0; j < dim; j++) s += raw[i * dim + j] * raw[i * dim + j];
  const norm = Math.sqrt(s);
  if (norm === 0) zeroRows++;
  // a zero row stays zero: cosine 0 with everything, as similarToRow scores it
  for (let j = 0; j < dim; j++) vectors[i * dim + j] = norm > 0 ? raw[i * dim + j] / norm : 0;
}
log(`${args.model}: ${rows} items × ${dim} factors (${zeroRows} zero rows)`);

const m = Number(args.m);
const efConstruction = Number(args['ef-construction']);
let index;
let buildSeconds = null;
if (args.index && existsSync(args.index)) {
  index = readHnsw(readFileSync(args.index), args.index);
  log(`read the index from ${args.index}`);
} else {
  const start = performance.now();
  index = buildHnsw(vectors, rows, dim, {
    backend: backends[0],
    m,
    efConstruction,
    seed: 1,
    onProgress: (done) => {
      if (done % (16 * 4096) === 0 || done === rows) log(`  built ${done} rows, ${seconds(start).toFixed(1)} s`);
    },
  });
  buildSeconds = seconds(start);
  if (args.index) writeFileSync(args.index, writeHnsw(index));
}
const indexBytes = writeHnsw(index).length;
log(`index: m ${index.m}, efConstruction ${index.efConstruction}, max level ${index.maxLevel}, ${indexBytes} bytes`);

// the query items: distinct seeded random rows
const random = seededRandom(Number(args.seed));
const queryCount = Math.min(Number(args.queries), rows);
const chosen = new Set();
while (chosen.size < queryCount) chosen.add(Math.floor(random() * rows));
const queryRows = Int32Array.from(chosen);

/** exact cosine top K of row q, q itself left out: a plain scan and a K-slot insertion list */
function exactTop(q, outIds, outOffset) {
  const qo = q * dim;
  const bestIds = new Int32Array(K).fill(-1);
  const bestSims = new Float64Array(K).fill(-Infinity);
  for (let i = 0; i < rows; i++) {
    if (i === q) continue;
    const io = i * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[qo + j] * vectors[io + j];
    if (s <= bestSims[K - 1]) continue;
    let n = K - 1;
    while (n > 0 && bestSims[n - 1] < s) {
      bestSims[n] = bestSims[n - 1];
      bestIds[n] = bestIds[n - 1];
      n--;
    }
    bestSims[n] = s;
    bestIds[n] = i;
  }
  outIds.set(bestIds, outOffset);
}

const truth = new Int32Array(queryCount * K);
let start = performance.now();
for (let n = 0; n < queryCount; n++) exactTop(queryRows[n], truth, n * K);
const exactRate = queryCount / seconds(start);
log(`exact scan: ${exactRate.toFixed(1)} queries/s`);

// the library's own similar, one item at a time (its default WebAssembly kernels, one thread)
const norms = itemNorms(model);
const similarCount = Math.min(queryCount, Number(args['similar-queries']));
similarToRow(model, queryRows[0], { count: K, minItemUsers: 1, norms });
let similarHits = 0;
start = performance.now();
for (let n = 0; n < similarCount; n++) {
  const found = similarToRow(model, queryRows[n], { count: K, minItemUsers: 1, norms });
  const exact = new Set(truth.subarray(n * K, n * K + K));
  for (const item of found) if (exact.has(item.index)) similarHits++;
}
const similarRate = similarCount / seconds(start);
log(`similarToRow: ${similarRate.toFixed(1)} queries/s`);

const results = [];
for (const ef of args.ef.split(',').map(Number)) {
  for (const backend of backends) {
    // one untimed pass warms the code and the searcher's arrays
    for (let n = 0; n < Math.min(50, queryCount); n++) {
      const q = queryRows[n];
      searchHnsw(index, vectors, vectors.subarray(q * dim, q * dim + dim), K, { ef, exclude: [q], backend });
    }
    let hits = 0;
    const found = new Int32Array(queryCount * K);
    start = performance.now();
    for (let n = 0; n < queryCount; n++) {
      const q = queryRows[n];
      const { ids } = searchHnsw(index, vectors, vectors.subarray(q * dim, q * dim + dim), K, {
        ef,
        exclude: [q],
        backend,
      });
      found.set(ids, n * K);
    }
    const rate = queryCount / seconds(start);
    for (let n = 0; n < queryCount; n++) {
      const exact = new Set(truth.subarray(n * K, n * K + K));
      for (let j = 0; j < K; j++) if (exact.has(found[n * K + j])) hits++;
    }
    const recall = hits / (queryCount * K);
    results.push({ ef, backend, recall, rate });
    log(`ef ${ef} ${backend}: recall@10 ${recall.toFixed(4)}, ${rate.toFixed(0)} queries/s`);
  }
}

const lines = [
  `HNSW on ${args.model}: ${rows} items × ${dim} factors, unit rows (cosine); ${queryCount} seeded query items (seed ${args.seed}), each left out of its own answer; k = ${K}.`,
  `Index: m ${index.m}, efConstruction ${index.efConstruction}, seed 1, max level ${index.maxLevel}; ` +
    (buildSeconds === null ? 'read from a file' : `built in ${buildSeconds.toFixed(1)} s`) +
    `; ${indexBytes} bytes (${(indexBytes / 2 ** 20).toFixed(1)} MiB; the unit vectors ${((rows * dim * 4) / 2 ** 20).toFixed(1)} MiB).`,
  '',
  '| method | recall@10 | queries/s | × exact scan | × similarToRow |',
  '|---|---:|---:|---:|---:|',
  `| exact scan (plain JS, one query at a time) | 1 | ${exactRate.toFixed(1)} | 1 | ${(exactRate / similarRate).toFixed(2)} |`,
  `| similarToRow (wasm kernels, 1 thread; ${similarCount} queries) | ${(similarHits / (similarCount * K)).toFixed(4)} | ${similarRate.toFixed(1)} | ${(similarRate / exactRate).toFixed(2)} | 1 |`,
  ...results.map(
    ({ ef, backend, recall, rate }) =>
      `| HNSW ef ${ef} (${backend}) | ${recall.toFixed(4)} | ${rate.toFixed(0)} | ${(rate / exactRate).toFixed(0)} | ${(rate / similarRate).toFixed(1)} |`,
  ),
];
console.log(lines.join('\n'));
