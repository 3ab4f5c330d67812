import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { AlsError } from '../../src/errors.js';
import {
  augmentForInnerProduct,
  augmentQuery,
  buildHnsw,
  DEFAULT_EF,
  searchHnsw,
  type HnswIndex,
} from '../../src/query/hnsw.js';
import {
  HNSW_CHECKSUM_OFFSET,
  HNSW_HEADER_BYTES,
  HNSW_SOURCE_OFFSET,
  hnswChecksum,
  hnswSource,
  readHnsw,
  writeHnsw,
} from '../../src/query/hnswFormat.js';
import { GraphMemory, graphDot, quantizeGraphRow } from '../../src/kernels/graphSearch.js';
import { isAlsError } from '../helpers.js';

/** a standard normal number (Box–Muller) */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** rows unit vectors around `clusters` random centres (noise σ per coordinate), seeded */
function clustered(rows: number, dim: number, clusters: number, seed: number, sigma = 0.5): Float32Array {
  const random = seededRandom(seed);
  const centres = Float64Array.from({ length: clusters * dim }, () => gaussian(random));
  const out = new Float32Array(rows * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(random() * clusters);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      row[j] = centres[c * dim + j] + sigma * gaussian(random);
      norm += row[j] * row[j];
    }
    norm = Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] = row[j] / norm;
  }
  return out;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/** the exact order of every row not in `excluded` by inner product with the query (ties: lower row first) */
function exactOrder(vectors: Float32Array, dim: number, query: Float32Array, excluded = new Set<number>()): number[] {
  const rows = vectors.length / dim;
  const scores = Float64Array.from({ length: rows }, (_, i) => dot(query, 0, vectors, i * dim, dim));
  return Array.from({ length: rows }, (_, i) => i)
    .filter((i) => !excluded.has(i))
    .sort((a, b) => scores[b] - scores[a] || a - b);
}

function rowOf(vectors: Float32Array, dim: number, row: number): Float32Array {
  return vectors.subarray(row * dim, row * dim + dim);
}

/** the share of `exact` found in `ids` */
function overlap(ids: ArrayLike<number>, exact: number[]): number {
  const want = new Set(exact);
  let hits = 0;
  for (let n = 0; n < ids.length; n++) if (want.has(ids[n])) hits++;
  return hits / exact.length;
}

/** the buffer with its checksum made right again, as a crafted file would have it */
function seal(bytes: Uint8Array): Uint8Array {
  bytes.set(hnswChecksum(bytes), HNSW_CHECKSUM_OFFSET);
  return bytes;
}

const ROWS = 20_000;
const DIM = 32;

describe('buildHnsw and searchHnsw', () => {
  let vectors: Float32Array;
  let index: HnswIndex;
  before(() => {
    vectors = clustered(ROWS, DIM, 100, 7);
    index = buildHnsw(vectors, ROWS, DIM);
  });

  it('finds at least 99% of the exact top 10 of a clustered set at the default ef', () => {
    const random = seededRandom(11);
    let recall = 0;
    const queries = 200;
    for (let n = 0; n < queries; n++) {
      const row = Math.floor(random() * ROWS);
      const query = rowOf(vectors, DIM, row);
      const { ids, scores } = searchHnsw(index, vectors, query, 10, { exclude: [row] });
      assert.equal(ids.length, 10);
      assert.ok(!ids.includes(row), 'the excluded query row is never returned');
      for (let j = 0; j < 10; j++) {
        assert.ok(Math.abs(scores[j] - dot(query, 0, vectors, ids[j] * DIM, DIM)) < 1e-6);
        if (j > 0) assert.ok(scores[j] <= scores[j - 1], 'best first');
      }
      recall += overlap(ids, exactOrder(vectors, DIM, query, new Set([row])).slice(0, 10)) / queries;
    }
    assert.ok(recall >= 0.99, `recall@10 ${recall}`);
    // a query that is not a row: recall too, with a larger k
    const query = clustered(1, DIM, 1, 99, 2);
    const { ids } = searchHnsw(index, vectors, query, 50);
    assert.ok(overlap(ids, exactOrder(vectors, DIM, query).slice(0, 50)) >= 0.96);
  });

  it('keeps layer 0 within 2m links and the upper layers within m, every link to another row on its layer', () => {
    const { m, rows, levels, counts0, links0, upperStart, countsUpper, linksUpper } = index;
    assert.equal(m, 16);
    assert.equal(levels[index.entryPoint], index.maxLevel);
    assert.ok(index.maxLevel >= 2 && index.maxLevel <= 6, `max level ${index.maxLevel}`);
    let links = 0;
    for (let i = 0; i < rows; i++) {
      assert.ok(counts0[i] >= 1 && counts0[i] <= 2 * m);
      links += counts0[i];
      for (let n = 0; n < counts0[i]; n++) assert.notEqual(links0[i * 2 * m + n], i);
      for (let layer = 1; layer <= levels[i]; layer++) {
        const list = upperStart[i] + layer - 1;
        assert.ok(countsUpper[list] <= m);
        for (let n = 0; n < countsUpper[list]; n++) assert.ok(levels[linksUpper[list * m + n]] >= layer);
      }
    }
    // about 1/m of the rows reach layer 1 (levels ⌊−ln U / ln m⌋)
    const upper = levels.filter((l) => l >= 1).length / rows;
    assert.ok(Math.abs(upper - 1 / m) < 0.01, `share above layer 0: ${upper}`);
    assert.ok(links / rows > 4, `mean links on layer 0: ${links / rows}`);
  });

  it('gives the same bytes for the same vectors and seed, and other bytes for another seed', () => {
    const small = clustered(3000, 16, 20, 3);
    const a = writeHnsw(buildHnsw(small, 3000, 16, { m: 8, efConstruction: 50, seed: 5 }));
    const b = writeHnsw(buildHnsw(small, 3000, 16, { m: 8, efConstruction: 50, seed: 5 }));
    assert.deepEqual(a, b);
    const c = writeHnsw(buildHnsw(small, 3000, 16, { m: 8, efConstruction: 50, seed: 6 }));
    assert.equal(c.length === a.length && c.every((x, n) => x === a[n]), false);
  });

  it('returns k results when hundreds of the nearest rows are excluded, and none of them', () => {
    const random = seededRandom(12);
    let recall = 0;
    const queries = 20;
    for (let n = 0; n < queries; n++) {
      const query = rowOf(vectors, DIM, Math.floor(random() * ROWS));
      // the 600 nearest rows: the whole neighbourhood the search would start from
      const excluded = exactOrder(vectors, DIM, query).slice(0, 600);
      const { ids } = searchHnsw(index, vectors, query, 10, { exclude: Int32Array.from(excluded) });
      assert.equal(ids.length, 10);
      const left = new Set(excluded);
      for (const id of ids) assert.ok(!left.has(id));
      assert.equal(new Set(ids).size, 10, 'no row twice');
      recall += overlap(ids, exactOrder(vectors, DIM, query, left).slice(0, 10)) / queries;
    }
    assert.ok(recall >= 0.95, `recall@10 with 600 excluded: ${recall}`);
    // the exclusions of one search do not carry over to the next
    const query = rowOf(vectors, DIM, 0);
    assert.equal(searchHnsw(index, vectors, query, 1).ids[0], 0);
  });

  it('returns the rows left when all but a few are excluded, and nothing when all are', () => {
    const query = rowOf(vectors, DIM, 123);
    const keep = [5, 17_000, 9_999, 123, 42];
    const kept = new Set(keep);
    const exclude = Array.from({ length: ROWS }, (_, i) => i).filter((i) => !kept.has(i));
    const { ids, scores } = searchHnsw(index, vectors, query, 10, { exclude });
    assert.deepEqual(Array.from(ids), exactOrder(vectors, DIM, query, new Set(exclude)));
    assert.equal(ids[0], 123);
    assert.equal(scores.length, 5);
    const all = searchHnsw(index, vectors, query, 10, { exclude: [...exclude, ...keep, 5] });
    assert.equal(all.ids.length, 0);
  });

  it('gives every row, best first, when k is larger than the rows', () => {
    const small = clustered(50, 8, 3, 4);
    const smallIndex = buildHnsw(small, 50, 8, { m: 4 });
    const query = rowOf(small, 8, 7);
    const { ids } = searchHnsw(smallIndex, small, query, 1000);
    assert.deepEqual(Array.from(ids), exactOrder(small, 8, query));
    assert.equal(searchHnsw(smallIndex, small, query, 1000, { exclude: [7, 7, 8] }).ids.length, 48);
    assert.equal(searchHnsw(smallIndex, small, query, 0).ids.length, 0);
  });

  it('builds and searches an index of 0 rows and of 1 row', () => {
    const empty = buildHnsw(new Float32Array(0), 0, 4);
    assert.equal(empty.entryPoint, -1);
    const none = searchHnsw(empty, new Float32Array(0), new Float32Array(4), 10);
    assert.deepEqual([none.ids.length, none.scores.length], [0, 0]);
    assert.equal(readHnsw(writeHnsw(empty)).rows, 0);

    const one = Float32Array.from([0.6, 0.8]);
    const single = buildHnsw(one, 1, 2);
    assert.equal(single.entryPoint, 0);
    const found = searchHnsw(single, one, Float32Array.from([1, 0]), 10);
    assert.deepEqual(Array.from(found.ids), [0]);
    assert.equal(found.scores[0], Math.fround(0.6));
    assert.equal(searchHnsw(single, one, Float32Array.from([1, 0]), 10, { exclude: [0] }).ids.length, 0);
    const again = readHnsw(writeHnsw(single));
    assert.deepEqual(Array.from(searchHnsw(again, one, Float32Array.from([0, 1]), 3).ids), [0]);
  });

  it('orders by inner product through augmentForInnerProduct as the exact inner product does', () => {
    const rows = 2000;
    const dim = 12;
    const random = seededRandom(21);
    // norms from 0.01 to 10, as ALS item factors of rare and popular items differ
    const factors = new Float32Array(rows * dim);
    for (let i = 0; i < rows; i++) {
      const scale = 10 ** (random() * 3 - 2);
      for (let j = 0; j < dim; j++) factors[i * dim + j] = gaussian(random) * scale;
    }
    const { vectors: augmented, maxNorm } = augmentForInnerProduct(factors, rows, dim);
    assert.equal(augmented.length, rows * (dim + 1));
    let longest = 0;
    for (let i = 0; i < rows; i++) {
      longest = Math.max(longest, Math.sqrt(dot(factors, i * dim, factors, i * dim, dim)));
      assert.ok(Math.abs(dot(augmented, i * (dim + 1), augmented, i * (dim + 1), dim + 1) - 1) < 1e-5, 'unit rows');
    }
    assert.ok(Math.abs(maxNorm - longest) < 1e-9 * longest);
    const index = buildHnsw(augmented, rows, dim + 1);
    let recall = 0;
    const queries = 30;
    for (let q = 0; q < queries; q++) {
      const user = Float32Array.from({ length: dim }, () => gaussian(random));
      const byInnerProduct = exactOrder(factors, dim, user);
      const query = augmentQuery(user);
      assert.equal(query[dim], 0);
      const byAugmented = exactOrder(augmented, dim + 1, query);
      // the same order where the scores are not within float32 rounding of each other
      const score = (i: number) => dot(user, 0, factors, i * dim, dim);
      let same = 0;
      for (let n = 0; n < rows; n++) {
        if (byAugmented[n] === byInnerProduct[n]) same++;
        else assert.ok(Math.abs(score(byAugmented[n]) - score(byInnerProduct[n])) < 1e-5 * maxNorm * 10);
      }
      assert.ok(same >= rows - 10, `${same} of ${rows} in the same place`);
      const { ids, scores } = searchHnsw(index, augmented, query, 10);
      recall += overlap(ids, byInnerProduct.slice(0, 10)) / queries;
      // scores are the inner products divided by M
      assert.ok(Math.abs(scores[0] * maxNorm - score(ids[0])) < 1e-4 * Math.abs(score(ids[0])) + 1e-4);
    }
    // lower than by cosine: the augmented rows crowd round [0, …, 0, 1], where every query [x, 0]
    // scores about 0 (0.98 at the default ef)
    assert.ok(recall >= 0.95, `recall@10 by inner product: ${recall}`);
    // all-zero factors: every row [0, …, 0, 1]
    const zero = augmentForInnerProduct(new Float32Array(6), 2, 3);
    assert.deepEqual(Array.from(zero.vectors), [0, 0, 0, 1, 0, 0, 0, 1]);
    assert.equal(zero.maxNorm, 0);
  });

  it('names the field of a bad argument', () => {
    const v = new Float32Array(8);
    const usage = (field: string, pattern: RegExp) => (error: unknown) => {
      isAlsError('usage', pattern)(error);
      assert.equal((error as AlsError).field, field);
      return true;
    };
    assert.throws(() => buildHnsw(v, -1, 2), usage('rows', /rows must be a whole number from 0/));
    assert.throws(() => buildHnsw(v, 4, 0), usage('dim', /dim must be a whole number from 1/));
    assert.throws(() => buildHnsw(v, 3, 2), usage('vectors', /vectors must hold rows × dim = 6 numbers, not 8/));
    assert.throws(() => buildHnsw([1, 2] as any, 1, 2), usage('vectors', /vectors must be a Float32Array/));
    assert.throws(() => buildHnsw(Float32Array.from([1, NaN]), 1, 2), /vectors holds NaN at entry 1/);
    assert.throws(() => buildHnsw(v, 4, 2, { m: 1 }), usage('m', /m must be a whole number from 2 to 256, not 1/));
    assert.throws(() => buildHnsw(v, 4, 2, { efConstruction: 0 }), usage('efConstruction', /efConstruction/));
    assert.throws(() => buildHnsw(v, 4, 2, { seed: -1 }), usage('seed', /seed must be a whole number from 0/));
    assert.throws(() => buildHnsw(v, 4, 2, 'fast' as any), usage('options', /options must be an object/));
    assert.throws(
      () => buildHnsw(v, 4, 2, { backend: 'gpu' as any }),
      usage('backend', /backend must be 'wasm' or 'js', not/),
    );

    const index = buildHnsw(v, 4, 2);
    const query = new Float32Array(2);
    assert.throws(() => searchHnsw({ ...index }, v, query, 1), usage('index', /index must be an HnswIndex/));
    assert.throws(() => searchHnsw(index, new Float32Array(6), query, 1), usage('vectors', /rows × dim = 8/));
    assert.throws(() => searchHnsw(index, v, new Float32Array(3), 1), usage('query', /query must have 2 entries/));
    assert.throws(() => searchHnsw(index, v, query, -1), usage('k', /k must be a whole number ≥ 0, not -1/));
    assert.throws(() => searchHnsw(index, v, query, 1.5), usage('k', /not 1.5/));
    assert.throws(() => searchHnsw(index, v, query, 1, { ef: 0 }), usage('ef', /ef must be a whole number ≥ 1/));
    assert.throws(() => searchHnsw(index, v, query, 1, { exclude: 3 as any }), usage('exclude', /array of rows/));
    assert.throws(() => searchHnsw(index, v, query, 1, { backend: 'c' as any }), usage('backend', /backend must be/));
    assert.throws(
      () => searchHnsw(index, v, query, 1, { exclude: [0, 4] }),
      usage('exclude', /exclude\[1\] must be a row from 0 to 3, not 4/),
    );
    // a refused exclusion leaves no row excluded for the next search
    assert.equal(searchHnsw(index, v, query, 4).ids.length, 4);
    assert.throws(() => augmentForInnerProduct(v, 3, 2), usage('factors', /factors must hold rows × dim = 6/));
    assert.throws(() => readHnsw('index' as any), usage('bytes', /bytes must be a Uint8Array/));
  });

  it(`has a default ef of ${DEFAULT_EF}, raised to k`, () => {
    const query = rowOf(vectors, DIM, 1);
    const big = searchHnsw(index, vectors, query, 500);
    assert.equal(big.ids.length, 500);
    assert.ok(overlap(big.ids, exactOrder(vectors, DIM, query).slice(0, 500)) >= 0.95);
  });
});

describe('the WebAssembly and TypeScript backends', () => {
  // 23 numbers a row: a block of 16, a four and three single floats (every path of the dot)
  const rows = 1500;
  const dim = 23;
  let vectors: Float32Array;
  before(() => {
    vectors = clustered(rows, dim, 40, 3);
  });

  it('compute the same similarity of two rows, bit for bit', () => {
    const random = seededRandom(5);
    const memory = new GraphMemory(1 << 20);
    for (const width of [1, 3, 4, 15, 16, 17, 23, 32, 64, 65]) {
      const Y = memory.copy(
        Float32Array.from({ length: 40 * width }, () => gaussian(random) * 10 ** (random() * 6 - 3)),
      );
      const ids = memory.copy(Int32Array.from({ length: 40 }, (_, i) => i));
      const out = memory.array(Float64Array, 40);
      memory.dots(Y, width, Y, 7 * width, ids, 40, out);
      for (let i = 0; i < 40; i++) {
        const js = graphDot(Y, 7 * width, Y, i * width, width);
        assert.equal(out[i], js, `dim ${width}, row ${i}`);
        assert.equal(js, Math.fround(js), 'a float32');
        // and close to the float64 dot it stands for
        const exact = dot(Y, 7 * width, Y, i * width, width);
        let scale = 0;
        for (let j = 0; j < width; j++) scale += Math.abs(Y[7 * width + j] * Y[i * width + j]);
        assert.ok(Math.abs(js - exact) <= 1e-6 * scale, `dim ${width}: ${js} against ${exact}`);
      }
    }
  });

  it('walk with int8 codes within half a step of every number, the largest at ±127', () => {
    const random = seededRandom(6);
    for (const width of [1, 5, 16, 23, 64]) {
      const row = Float32Array.from({ length: width }, () => gaussian(random) * 10 ** (random() * 4 - 2));
      const codes = new Int8Array(width + 3).fill(99);
      const scale = quantizeGraphRow(row, 0, width, codes, 2);
      assert.equal(scale, Math.fround(Math.max(...row.map(Math.abs)) / 127));
      assert.equal(Math.max(...codes.subarray(2, 2 + width).map(Math.abs)), 127);
      for (let k = 0; k < width; k++) assert.ok(Math.abs(row[k] - scale * codes[2 + k]) <= scale / 2 + 1e-12 * scale);
      assert.deepEqual([codes[0], codes[1], codes[2 + width]], [99, 99, 99], 'nothing outside the row written');
    }
    const zeros = new Int8Array(4).fill(5);
    assert.equal(quantizeGraphRow(new Float32Array(4), 0, 4, zeros, 0), 0);
    assert.deepEqual([...zeros], [0, 0, 0, 0]);
  });

  it('build the same index, byte for byte, on one layer and on several (m 2, 3, 8)', () => {
    for (const m of [2, 3, 8]) {
      const options = { m, efConstruction: 40, seed: 9 };
      const wasm = buildHnsw(vectors, rows, dim, { ...options, backend: 'wasm' });
      const js = buildHnsw(vectors, rows, dim, { ...options, backend: 'js' });
      assert.ok(wasm.maxLevel >= 2, `m ${m}: upper layers to walk (${wasm.maxLevel})`);
      assert.deepEqual(writeHnsw(wasm), writeHnsw(js), `m ${m}`);
    }
  });

  it('give the same answers, number for number, with and without exclusions, at any ef, on an index read back', () => {
    const built = buildHnsw(vectors, rows, dim, { m: 6, efConstruction: 60 });
    const index = readHnsw(writeHnsw(built));
    const random = seededRandom(8);
    for (let n = 0; n < 120; n++) {
      const row = Math.floor(random() * rows);
      const query = n % 3 === 0 ? clustered(1, dim, 1, 100 + n, 1) : rowOf(vectors, dim, row);
      const exclude = n % 2 === 0 ? [row] : Array.from({ length: 200 }, () => Math.floor(random() * rows));
      const ef = [1, 10, 40, 700][n % 4];
      const k = [1, 10, 25][n % 3];
      for (const graph of [built, index]) {
        const wasm = searchHnsw(graph, vectors, query, k, { ef, exclude, backend: 'wasm' });
        const js = searchHnsw(graph, vectors, query, k, { ef, exclude, backend: 'js' });
        assert.deepEqual(wasm, js, `query ${n}`);
        assert.equal(wasm.ids.length, k);
      }
    }
  });

  it('search other vectors of the same size when given them (copied in again)', () => {
    const index = buildHnsw(vectors, rows, dim, { m: 6, efConstruction: 60 });
    const query = rowOf(vectors, dim, 3);
    const before = searchHnsw(index, vectors, query, 5);
    const shifted = vectors.map((x) => 2 * x);
    const after = searchHnsw(index, shifted, query, 5);
    assert.deepEqual(after, searchHnsw(index, shifted, query, 5, { backend: 'js' }));
    assert.deepEqual(after.ids, before.ids);
    assert.ok(
      after.scores.every((s, j) => s === 2 * before.scores[j]),
      'the doubled rows, scored against the query',
    );
    assert.deepEqual(searchHnsw(index, vectors, query, 5), before);
  });
});

describe('writeHnsw and readHnsw', () => {
  // 2001 rows: levels and counts0 end between multiples of 4, so that the padding is there
  const vectors = clustered(2001, 8, 10, 8);
  const index = buildHnsw(vectors, 2001, 8, { m: 6, efConstruction: 40, seed: 3 });
  const bytes = writeHnsw(index);
  const linksAt = (() => {
    const view = new DataView(bytes.buffer);
    const rows = view.getUint32(12, true);
    return HNSW_HEADER_BYTES + ((rows + 3) & ~3) + ((2 * rows + 3) & ~3);
  })();

  it('reads back the index it wrote, from any buffer', () => {
    // a Buffer at an odd offset inside a larger one, as a pooled read may give
    const host = Buffer.alloc(bytes.length + 3);
    host.set(bytes, 1);
    const again = readHnsw(host.subarray(1, 1 + bytes.length), 'index.hnsw');
    host.fill(0);
    for (const key of ['rows', 'dim', 'm', 'efConstruction', 'seed', 'maxLevel', 'entryPoint'] as const)
      assert.equal(again[key], index[key], key);
    for (const key of ['levels', 'counts0', 'links0', 'upperStart', 'countsUpper', 'linksUpper'] as const)
      assert.deepEqual(again[key], index[key], key);
    assert.deepEqual(writeHnsw(again), bytes);
    const query = rowOf(vectors, 8, 10);
    assert.deepEqual(searchHnsw(again, vectors, query, 10), searchHnsw(index, vectors, query, 10));
  });

  it('keeps the source it was written with, under its checksum', () => {
    assert.deepEqual(hnswSource(bytes), new Uint8Array(32));
    const source = Uint8Array.from({ length: 32 }, (_, n) => n + 1);
    const bound = writeHnsw(index, source);
    assert.deepEqual(hnswSource(bound), source);
    assert.deepEqual(bound.subarray(HNSW_SOURCE_OFFSET + 32), bytes.subarray(HNSW_SOURCE_OFFSET + 32));
    assert.equal(readHnsw(bound).rows, index.rows);
    const other = bound.slice();
    other[HNSW_SOURCE_OFFSET + 5] ^= 1;
    assert.throws(() => readHnsw(other), isAlsError('model', /fails its checksum/));
    assert.throws(() => writeHnsw(index, new Uint8Array(31)), isAlsError('usage', /source must have 32 entries/));
  });

  it('refuses every truncation and a byte too many', () => {
    for (const length of [0, 7, 40, HNSW_HEADER_BYTES - 1, HNSW_HEADER_BYTES, linksAt, bytes.length - 1]) {
      assert.throws(
        () => readHnsw(bytes.subarray(0, length), 'index.hnsw'),
        isAlsError('model', /^index\.hnsw: .*bytes/),
      );
    }
    assert.throws(
      () => readHnsw(bytes.subarray(0, bytes.length - 1)),
      isAlsError(
        'model',
        new RegExp(`${bytes.length - 1} bytes, but its header .* makes ${bytes.length} \\(truncated\\)`),
      ),
    );
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    assert.throws(() => readHnsw(longer), isAlsError('model', /bytes, but its header/));
  });

  it('refuses a flipped bit anywhere in the header', () => {
    for (let at = 0; at < HNSW_HEADER_BYTES; at++) {
      for (const bit of [0, 7]) {
        const copy = bytes.slice();
        copy[at] ^= 1 << bit;
        assert.throws(() => readHnsw(copy), isAlsError('model', /HNSW index: /), `byte ${at}, bit ${bit}`);
      }
    }
  });

  it('refuses flipped bytes in the neighbour lists', () => {
    const random = seededRandom(31);
    for (let n = 0; n < 50; n++) {
      const copy = bytes.slice();
      const at = linksAt + Math.floor(random() * (bytes.length - linksAt));
      copy[at] ^= 1 + Math.floor(random() * 255);
      assert.throws(() => readHnsw(copy), isAlsError('model', /fails its checksum/), `byte ${at}`);
    }
  });

  it('names what is wrong in a file crafted with a right checksum', () => {
    const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const crafted = (change: (b: Uint8Array, v: DataView) => void): Uint8Array => {
      const copy = bytes.slice();
      change(copy, view(copy));
      return seal(copy);
    };
    const rows = index.rows;
    const m2 = 2 * index.m;
    const row = 77;
    const slot = (r: number, n: number) => linksAt + 4 * (r * m2 + n);
    const count0 = index.counts0[row];
    const cases: [string, (b: Uint8Array, v: DataView) => void, RegExp][] = [
      ['magic', (b) => (b[0] = 0x41), /not an als HNSW index/],
      ['version', (_, v) => v.setUint32(8, 3, true), /format version 3, but this als reads version 2/],
      [
        'version 1',
        (_, v) => v.setUint32(8, 1, true),
        /format version 1, but this als reads version 2; build it again/,
      ],
      ['dim', (_, v) => v.setUint32(16, 0, true), /dim 0/],
      ['m', (_, v) => v.setUint32(20, 1, true), /m 1 \(2 to 256\)/],
      ['max level', (_, v) => v.setUint32(32, 33, true), /max level 33/],
      ['entry point', (_, v) => v.setInt32(36, rows, true), new RegExp(`entry point ${rows} for ${rows} rows`)],
      ['reserved', (_, v) => v.setUint32(44, 1, true), /reserved/],
      [
        'out-of-range link',
        (_, v) => v.setInt32(slot(row, 0), rows, true),
        /row 77 links to row 2001 on layer 0, outside/,
      ],
      ['negative link', (_, v) => v.setInt32(slot(row, 0), -5, true), /links to row -5/],
      ['self link', (_, v) => v.setInt32(slot(row, 0), row, true), /row 77 links to itself/],
      ['unused slot', (_, v) => v.setInt32(slot(row, m2 - 1), 3, true), /unused link slot/],
      [
        'count',
        (b) => new DataView(b.buffer).setUint16(HNSW_HEADER_BYTES + ((rows + 3) & ~3) + 2 * row, m2 + 1, true),
        /row 77 has 13 links on layer 0, more than 12/,
      ],
      ['level', (b) => (b[HNSW_HEADER_BYTES + row] = 40), /row 77 has level 40, above the max level/],
      ['padding', (b) => (b[linksAt - 1] = 1), /padding after counts0/],
    ];
    assert.ok(count0 < m2, 'row 77 has a free slot');
    for (const [what, change, pattern] of cases)
      assert.throws(() => readHnsw(crafted(change)), isAlsError('model', pattern), what);
    // a link on layer 1 to a row that has no layer 1
    const upperRow = index.levels.findIndex((l) => l >= 1);
    const flat = index.levels.findIndex((l) => l === 0);
    const list = index.upperStart[upperRow];
    const upperLinksAt = bytes.length - 4 * index.countsUpper.length * index.m;
    assert.throws(
      () => readHnsw(crafted((_, v) => v.setInt32(upperLinksAt + 4 * list * index.m, flat, true))),
      isAlsError('model', new RegExp(`links to row ${flat} on layer 1, above that row's level 0`)),
    );
  });

  it('never gives a search that fails, runs on or leaves the rows, whatever byte a crafted file changes', () => {
    const random = seededRandom(41);
    const query = rowOf(vectors, 8, 3);
    let refused = 0;
    for (let n = 0; n < 300; n++) {
      const copy = bytes.slice();
      const at = Math.floor(random() * bytes.length);
      copy[at] = Math.floor(random() * 256);
      if (at < HNSW_CHECKSUM_OFFSET || at >= HNSW_HEADER_BYTES) seal(copy);
      let read: HnswIndex;
      try {
        read = readHnsw(copy);
      } catch (error) {
        assert.ok(error instanceof AlsError && error.code === 'model', String(error));
        refused++;
        continue;
      }
      const { ids } = searchHnsw(read, vectors, query, 20, { ef: 30 });
      assert.equal(ids.length, 20);
      for (const id of ids) assert.ok(id >= 0 && id < read.rows);
    }
    assert.ok(refused > 0);
  });
});
