// The approximate nearest-neighbour section of `npm run bench`: the HNSW index (src/query/hnsw.ts)
// over the unit item rows of the full-scale model against the exact similar query of the same run.
// Queries are seeded random items, each left out of its own answer; the exact answer is
// similarToRow's (the WebAssembly kernels, one thread, every item a candidate), which also gives
// the exact rate. The index is built once per model (its item factors' checksum names the file in
// bench/data/) and read back after that; the build's seconds are recorded when it is built.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const K = 10;

/**
 * recall@10 and queries per second of the index at its default ef, and that rate as a multiple of
 * the exact one (target ≥ 20 at recall ≥ 0.99, issue 13).
 */
export async function benchAnn({ loaded, modelDir, dataDir, dist, record, atLeast, log, quick }) {
  const { buildHnsw, searchHnsw, DEFAULT_EF } = await import(dist('query/hnsw.js'));
  const { readHnsw, writeHnsw } = await import(dist('query/hnswFormat.js'));
  const { similarToRow, itemNorms } = await import(dist('query/similar.js'));
  const { seededRandom } = await import(dist('als/random.js'));

  const { items: rows, factors: dim } = loaded;
  const raw = loaded.itemFactors;
  const vectors = new Float32Array(raw.length);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += raw[i * dim + j] * raw[i * dim + j];
    const norm = Math.sqrt(s);
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = norm > 0 ? raw[i * dim + j] / norm : 0;
  }

  const manifest = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
  const checksum = manifest.files['item_factors.f32'].sha256.slice(0, 16);
  const file = join(dataDir, `hnsw-${checksum}.bin`);
  let index;
  if (existsSync(file)) {
    index = readHnsw(readFileSync(file), file);
    log(`ann: read the index from ${file}`);
  } else {
    log(`ann: building the index over ${rows} items (a minute or two)`);
    const started = performance.now();
    index = buildHnsw(vectors, rows, dim);
    const seconds = (performance.now() - started) / 1000;
    record('ann', `HNSW index of ${rows} items × ${dim}: build, 1 thread`, seconds, 's');
    writeFileSync(`${file}.new`, writeHnsw(index));
    renameSync(`${file}.new`, file);
  }

  const random = seededRandom(1);
  const count = Math.min(rows, quick ? 200 : 1000);
  const chosen = new Set();
  while (chosen.size < count) chosen.add(Math.floor(random() * rows));
  const queries = [...chosen];

  const norms = itemNorms(loaded);
  const exactOptions = { count: K, minItemUsers: 1, norms };
  similarToRow(loaded, queries[0], exactOptions); // stages the factors
  const truth = [];
  let started = performance.now();
  for (const q of queries) truth.push(new Set(similarToRow(loaded, q, exactOptions).map((item) => item.index)));
  const exactRate = count / ((performance.now() - started) / 1000);

  const search = (q) => searchHnsw(index, vectors, vectors.subarray(q * dim, q * dim + dim), K, { exclude: [q] });
  for (const q of queries.slice(0, 50)) search(q); // the index's memory and codes, made on its first search
  let hits = 0;
  const answers = [];
  started = performance.now();
  for (const q of queries) answers.push(search(q).ids);
  const annRate = count / ((performance.now() - started) / 1000);
  answers.forEach((ids, n) => ids.forEach((id) => (hits += truth[n].has(id) ? 1 : 0)));
  const recall = hits / (count * K);

  record('ann', `exact similar (similarToRow, 1 thread, ${count} items): queries per second`, exactRate, '/s');
  record('ann', `HNSW similar at the default ef ${DEFAULT_EF}, 1 thread: queries per second`, annRate, '/s');
  record('ann', 'HNSW recall@10 against the exact top 10', recall, '', atLeast(0.99));
  record('ann', 'HNSW queries per second / exact (ratio)', annRate / exactRate, '×', atLeast(20));

  // the server's exact similar (als serve): an int8 copy of the default candidates scored first,
  // the floats only where that leaves the answer open; one scoring thread, one query at a time
  const { loadModel } = await import(dist('model/load.js'));
  const { prepareServing } = await import(dist('serve/queries.js'));
  const { DEFAULT_MIN_ITEM_USERS } = await import(dist('query/listeners.js'));
  const served = await prepareServing(loadModel(modelDir), { threads: 1, cacheItems: 0 });
  const serverOptions = { count: K, exclude: [], minItemUsers: DEFAULT_MIN_ITEM_USERS };
  for (const q of queries.slice(0, 50)) await served.queries.similarToRow(q, serverOptions);
  started = performance.now();
  for (const q of queries) await served.queries.similarToRow(q, serverOptions);
  const serverRate = count / ((performance.now() - started) / 1000);
  served.queries.dispose();
  record(
    'ann',
    `the server's exact similar (int8 pre-scoring, items with ≥ ${DEFAULT_MIN_ITEM_USERS} users, 1 thread): queries per second`,
    serverRate,
    '/s',
  );
  record('ann', "HNSW queries per second / the server's exact (ratio)", annRate / serverRate, '×');
}
