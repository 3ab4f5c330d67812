// The approximate nearest-neighbour section of `npm run bench`: the item index of `als index`
// (src/query/itemIndex.ts: HNSW over the unit rows of the items with at least 3 users) on the
// full-scale model against the exact similar queries of the same run. Queries are seeded random
// items (rare ones too, as similar --all asks them), each left out of its own answer; the exact
// answer is similarToRow's over the same candidates (the WebAssembly kernels, one thread), which
// also gives the exact rate. The index is built once per model and build setting (its item
// factors' checksum and the setting name the file in bench/data/) and read back after that; the
// build's seconds are recorded when it is built. Recommend has no graph index (an inner-product
// HNSW found too few of the exact items, see docs/speed.md): its fast path, pruning in descending
// item norm (src/query/normOrder.ts), is measured here the same way against recommendForRow, for
// seeded users with their played items left out.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const K = 10;

/**
 * recall@10 and queries per second of the index at its default ef, and that rate as a multiple of
 * the exact one (target ≥ 20 at recall ≥ 0.99, issue 13).
 */
export async function benchAnn({ loaded, modelDir, dataDir, dist, record, atLeast, log, quick }) {
  const { buildHnsw, searchHnsw, DEFAULT_EF, DEFAULT_EF_CONSTRUCTION, DEFAULT_M } = await import(dist('query/hnsw.js'));
  const { readHnsw, writeHnsw } = await import(dist('query/hnswFormat.js'));
  const { similarToRow, itemNorms } = await import(dist('query/similar.js'));
  const { seededRandom } = await import(dist('als/random.js'));
  const { candidateRows } = await import(dist('query/candidates.js'));
  const { unitRows, unitRowInto } = await import(dist('query/itemIndex.js'));
  const { DEFAULT_MIN_ITEM_USERS } = await import(dist('query/listeners.js'));

  const { items, factors: dim } = loaded;
  const candidates = candidateRows(loaded.itemUserCounts, DEFAULT_MIN_ITEM_USERS);
  const { rows: candidateRow, slot, count: indexed } = candidates;
  const vectors = unitRows(loaded.itemFactors, dim, candidates);

  const manifest = JSON.parse(readFileSync(join(modelDir, 'model.json'), 'utf8'));
  const checksum = manifest.files['item_factors.f32'].sha256.slice(0, 16);
  const file = join(
    dataDir,
    `hnsw-${checksum}-min${DEFAULT_MIN_ITEM_USERS}-m${DEFAULT_M}-efc${DEFAULT_EF_CONSTRUCTION}.bin`,
  );
  let index;
  if (existsSync(file)) {
    index = readHnsw(readFileSync(file), file);
    log(`ann: read the index from ${file}`);
  } else {
    log(`ann: building the index over ${indexed} items (a minute or two)`);
    const started = performance.now();
    index = buildHnsw(vectors, indexed, dim);
    const seconds = (performance.now() - started) / 1000;
    record(
      'ann',
      `HNSW index of ${indexed} items (≥ ${DEFAULT_MIN_ITEM_USERS} users) × ${dim}: build, 1 thread`,
      seconds,
      's',
    );
    writeFileSync(`${file}.new`, writeHnsw(index));
    renameSync(`${file}.new`, file);
  }

  const random = seededRandom(1);
  const count = Math.min(items, quick ? 200 : 1000);
  const chosen = new Set();
  while (chosen.size < count) chosen.add(Math.floor(random() * items));
  const queries = [...chosen];

  const norms = itemNorms(loaded);
  const exactOptions = { count: K, minItemUsers: DEFAULT_MIN_ITEM_USERS, norms };
  similarToRow(loaded, queries[0], exactOptions); // stages the factors
  const truth = [];
  let started = performance.now();
  for (const q of queries) truth.push(new Set(similarToRow(loaded, q, exactOptions).map((item) => item.index)));
  const exactRate = count / ((performance.now() - started) / 1000);

  // the query: the item's unit row (similar --all's, src/query/similarAllIndexed.ts)
  const Y = loaded.itemFactors;
  const query = new Float32Array(dim);
  const search = (q) => {
    unitRowInto(Y, dim, q, query);
    const found = searchHnsw(index, vectors, query, K, slot[q] >= 0 ? { exclude: [slot[q]] } : {});
    return found.ids.map((c) => candidateRow[c]);
  };
  for (const q of queries.slice(0, 50)) search(q); // the index's memory and codes, made on its first search
  let hits = 0;
  const answers = [];
  started = performance.now();
  for (const q of queries) answers.push(search(q));
  const annRate = count / ((performance.now() - started) / 1000);
  answers.forEach((ids, n) => ids.forEach((id) => (hits += truth[n].has(id) ? 1 : 0)));
  const recall = hits / (count * K);

  record(
    'ann',
    `exact similar (similarToRow, 1 thread, ${count} items, candidates ≥ ${DEFAULT_MIN_ITEM_USERS} users): queries per second`,
    exactRate,
    '/s',
  );
  record('ann', `HNSW similar at the default ef ${DEFAULT_EF}, 1 thread: queries per second`, annRate, '/s');
  record('ann', 'HNSW recall@10 against the exact top 10', recall, '', atLeast(0.99));
  record('ann', 'HNSW queries per second / exact (ratio)', annRate / exactRate, '×', atLeast(20));

  // the server's exact similar (als serve): an int8 copy of the default candidates scored first,
  // the floats only where that leaves the answer open; one scoring thread, one query at a time
  const { loadModel } = await import(dist('model/load.js'));
  const { prepareServing } = await import(dist('serve/queries.js'));
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

  await benchPruned({ loaded, dist, record, atLeast, quick });
}

/**
 * recommend by pruning (recommend --all --pruned): recall@10 against recommendForRow (1 by
 * construction) and queries per second against it, one thread (target ≥ 20 at recall ≥ 0.99, issue 13).
 */
async function benchPruned({ loaded, dist, record, atLeast, quick }) {
  const { recommendForRow } = await import(dist('query/recommend.js'));
  const { normOrder, prunedTopK, PRUNE_CHUNK, rowLength } = await import(dist('query/normOrder.js'));
  const { defaultQueryKernels } = await import(dist('kernels/index.js'));
  const { seededRandom } = await import(dist('als/random.js'));
  const { items, users, factors: f, itemFactors: Y, userFactors: X } = loaded;
  const { indptr, indices } = loaded.userItems;
  const kernels = defaultQueryKernels();

  const random = seededRandom(2);
  const count = Math.min(users, quick ? 200 : 1000);
  const chosen = new Set();
  while (chosen.size < count) chosen.add(Math.floor(random() * users));
  const queries = [...chosen];
  recommendForRow(loaded, queries[0]); // stages the factors
  let started = performance.now();
  const truth = queries.map((u) => recommendForRow(loaded, u).map((item) => item.index));
  const exactRate = count / ((performance.now() - started) / 1000);

  started = performance.now();
  const ordered = normOrder(kernels, Y, items, f);
  const prepare = (performance.now() - started) / 1000;
  const chunk = kernels.float32(PRUNE_CHUNK);
  const skip = new Uint8Array(items);
  const rows = new Int32Array(K);
  const scores = new Float32Array(K);
  const search = (u) => {
    const played = indices.subarray(indptr[u], indptr[u + 1]);
    for (const i of played) skip[i] = 1;
    const found = prunedTopK(kernels, ordered, f, X, u * f, rowLength(X, u * f, f), K, skip, chunk, rows, scores);
    for (const i of played) skip[i] = 0;
    return Array.from(rows.subarray(0, found));
  };
  for (const u of queries.slice(0, 50)) search(u);
  started = performance.now();
  const answers = queries.map(search);
  const rate = count / ((performance.now() - started) / 1000);
  let hits = 0;
  let same = 0;
  answers.forEach((ids, n) => {
    const want = new Set(truth[n]);
    hits += ids.filter((id) => want.has(id)).length;
    same += ids.join() === truth[n].join() ? 1 : 0;
  });
  record(
    'ann',
    `exact recommend (recommendForRow, 1 thread, ${count} users, every item): queries per second`,
    exactRate,
    '/s',
  );
  record('ann', `recommend by pruning in descending norm, 1 thread: the item order (once per model)`, prepare, 's');
  record('ann', 'recommend by pruning, 1 thread: queries per second', rate, '/s');
  record('ann', 'recommend by pruning: recall@10 against the exact top 10', hits / (count * K), '', atLeast(0.99));
  record('ann', 'recommend by pruning: lists identical to the exact ones, in order', same / count, '');
  record('ann', 'recommend by pruning: queries per second / exact (ratio)', rate / exactRate, '×', atLeast(20));
}
