import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { cooToCsr, type CsrMatrix } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import { popularityScores } from '../../src/eval/baseline.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { MetricsAccumulator, catalogueCoverage, rankingMetrics, userAuc } from '../../src/eval/metrics.js';
import { splitByUser } from '../../src/eval/split.js';
import { ALS_BIN, SAMPLE, plantedGroups, randomPlays } from '../helpers.js';

const close = (actual: number, expected: number, message?: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, message ?? `${actual} ≠ ${expected}`);

describe('ranking metrics', () => {
  it('precision, recall, AP and NDCG of a hand-computed list', () => {
    // hits at 0-based ranks 1 and 3; 3 test items, k = 4
    const m = rankingMetrics([1, 2, 3, 4], new Set([2, 4, 9]), 4);
    assert.equal(m.hits, 2);
    close(m.precision, 0.5);
    close(m.recall, 2 / 3);
    close(m.averagePrecision, (1 / 2 + 2 / 4) / 3);
    close(m.ndcg, (1 / Math.log2(3) + 1 / Math.log2(5)) / (1 + 1 / Math.log2(3) + 1 / Math.log2(4)));
  });

  it('a user with fewer test items than k is judged against min(k, |test|)', () => {
    const m = rankingMetrics([5, 6, 7, 8, 9], new Set([7]), 5);
    assert.equal(m.hits, 1);
    close(m.precision, 0.2);
    close(m.recall, 1);
    close(m.averagePrecision, 1 / 3);
    close(m.ndcg, 0.5);
    const perfect = rankingMetrics([7, 3, 1], new Set([7, 3]), 3);
    close(perfect.recall, 1);
    close(perfect.averagePrecision, 1);
    close(perfect.ndcg, 1);
    close(perfect.precision, 2 / 3);
  });

  it('no hits give zeros; no test items give NaN', () => {
    assert.deepEqual(rankingMetrics([1, 2], new Set([3]), 2), {
      hits: 0,
      precision: 0,
      recall: 0,
      averagePrecision: 0,
      ndcg: 0,
    });
    assert.ok(Number.isNaN(rankingMetrics([1, 2], new Set(), 2).precision));
  });

  it('AUC by hand, ties counting ½, train items left out', () => {
    const scores = [0.9, 0.5, 0.5, 0.1, 0.7];
    const skip = Uint8Array.from([0, 0, 0, 0, 1]);
    close(userAuc(scores, new Set([1]), skip), 1.5 / 3);
    close(userAuc(scores, new Set([0, 1]), skip), 3.5 / 4);
    close(userAuc(scores, new Set([0, 1])), 4.5 / 6);
    close(userAuc([1, 1, 1, 1], new Set([0, 2])), 0.5);
    assert.ok(Number.isNaN(userAuc(scores, new Set(), skip)));
    assert.ok(Number.isNaN(userAuc([1, 2], new Set([0, 1]))));
  });

  it('AUC agrees with counting every pair', () => {
    const random = seededRandom(3);
    const scores = Array.from({ length: 300 }, () => Math.floor(random() * 20) / 20); // many ties
    const skip = Uint8Array.from(scores, () => (random() < 0.2 ? 1 : 0));
    const test = new Set<number>();
    for (let i = 0; i < 300; i++) if (!skip[i] && random() < 0.1) test.add(i);
    let correct = 0;
    let pairs = 0;
    for (const p of test) {
      for (let n = 0; n < 300; n++) {
        if (skip[n] || test.has(n)) continue;
        pairs++;
        correct += scores[p] > scores[n] ? 1 : scores[p] === scores[n] ? 0.5 : 0;
      }
    }
    close(userAuc(scores, test, skip), correct / pairs);
  });

  it('means over users and catalogue coverage', () => {
    const acc = new MetricsAccumulator(2, 10);
    acc.add(rankingMetrics([0, 1], new Set([0]), 2), [0, 1], 1);
    acc.add(rankingMetrics([0, 2], new Set([5]), 2), [0, 2], 0.5);
    acc.add(rankingMetrics([3, 4], new Set(), 2), [3, 4]); // no test items: counts for coverage only
    const m = acc.result();
    assert.equal(m.users, 2);
    close(m.precision, 0.25);
    close(m.recall, 0.5);
    close(m.map, 0.5);
    close(m.auc, 0.75);
    close(m.coverage, 5 / 10);
    close(catalogueCoverage([1, 0, 0, 1]), 0.5);
  });

  it('popularity counts the users of each item', () => {
    const plays = cooToCsr(
      3,
      3,
      Int32Array.from([0, 0, 1, 2]),
      Int32Array.from([0, 2, 2, 2]),
      Float32Array.from([5, 1, 7, 2]),
      4,
    ).matrix;
    assert.deepEqual(Array.from(popularityScores(plays)), [1, 0, 3]);
  });
});

function rowOf(m: CsrMatrix, u: number): [number, number][] {
  const out: [number, number][] = [];
  for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) out.push([m.indices[n], m.data[n]]);
  return out;
}

describe('splitByUser', () => {
  const plays = randomPlays(80, 40, 0.2, 11);

  it('is deterministic, disjoint, covers the input, and holds out 20% of eligible users', () => {
    const a = splitByUser(plays);
    const b = splitByUser(plays, { seed: 1, testFraction: 0.2 });
    assert.deepEqual(a, b);
    const c = splitByUser(plays, { seed: 2 });
    assert.notDeepEqual(a.test.indices, c.test.indices);
    let tested = 0;
    for (let u = 0; u < plays.rows; u++) {
      const all = rowOf(plays, u);
      const train = rowOf(a.train, u);
      const test = rowOf(a.test, u);
      const merged = [...train, ...test].sort((x, y) => x[0] - y[0]);
      assert.deepEqual(merged, all, `user ${u}: union is the input`);
      assert.equal(new Set(merged.map((e) => e[0])).size, merged.length, 'disjoint');
      for (const row of [train, test])
        for (let i = 1; i < row.length; i++) assert.ok(row[i - 1][0] < row[i][0], 'sorted rows');
      const expected = all.length < 5 ? 0 : Math.max(1, Math.round(all.length * 0.2));
      assert.equal(test.length, expected, `user ${u} with ${all.length}`);
      if (expected > 0) tested++;
    }
    assert.equal(a.testUsers.length, tested);
    assert.ok(tested > 50);
    assert.equal(a.train.rows, plays.rows);
    assert.equal(a.test.cols, plays.cols);
  });

  it('refuses a test fraction outside (0, 1)', () => {
    for (const testFraction of [0, 1, -0.5, Number.NaN]) {
      assert.throws(
        () => splitByUser(plays, { testFraction }),
        (e: unknown) => e instanceof AlsError && e.code === 'usage',
      );
    }
  });
});

describe('evaluate', () => {
  it('ALS finds planted taste groups that popularity cannot', async () => {
    const data = plantedGroups(200, 5);
    const result = await evaluate(data, {
      trainOptions: { factors: 8, iterations: 10, threads: 1 },
      k: 3,
      testFraction: 0.3,
      seed: 1,
    });
    assert.ok(result.users > 150, `${result.users} test users`);
    const { model, popularity } = result;
    assert.equal(model.users, result.users);
    assert.ok(model.precision > 0.3, `als precision ${model.precision}`);
    assert.ok(model.auc > 0.9, `als AUC ${model.auc}`);
    assert.ok(popularity.precision < 0.1, `popularity precision ${popularity.precision}`);
    // measured: als precision 0.37, NDCG 0.48, AUC 0.94; popularity 0.03, 0.04, 0.46 (the ceiling
    // of precision@3 is about 0.5: ~2 held-out among ~4 unplayed items of the user's group)
    assert.ok(model.precision > 5 * popularity.precision);
    assert.ok(model.ndcg > 5 * popularity.ndcg);
    assert.ok(model.map > 5 * popularity.map);
    assert.ok(model.auc > popularity.auc + 0.3, `${model.auc} vs ${popularity.auc}`);
    assert.equal(model.coverage, 1);
    assert.ok(popularity.coverage < 0.2);
    for (const m of [model, popularity])
      for (const v of [m.precision, m.recall, m.map, m.ndcg, m.auc, m.coverage]) assert.ok(v >= 0 && v <= 1);
  });

  it('checks k', async () => {
    await assert.rejects(
      evaluate(plantedGroups(20, 1), { k: 0 }),
      (e: unknown) => e instanceof AlsError && e.code === 'usage',
    );
  });
});

describe('als evaluate', () => {
  const als = (...args: string[]) => spawnSync(process.execPath, [ALS_BIN, 'evaluate', ...args], { encoding: 'utf8' });

  it('--json on the sample: both rows, precision in 0..1', () => {
    const result = als(SAMPLE, '--json', '--iterations', '5');
    assert.equal(result.status, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.k, 10);
    for (const row of [parsed.model, parsed.popularity]) {
      assert.ok(row.precision > 0 && row.precision <= 1, JSON.stringify(row));
      assert.ok(row.auc > 0.5 && row.auc <= 1);
    }
    assert.ok(parsed.model.precision > parsed.popularity.precision);
    assert.equal(parsed.options.iterations, 5);
  });

  it('prints a table', () => {
    const result = als(SAMPLE, '--iterations', '2', '--factors', '8', '-k', '5');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /precision@5 +recall@5 +MAP@5 +NDCG@5 +AUC +coverage +train/);
    assert.match(result.stdout, /^als +0\.\d{4}/m);
    assert.match(result.stdout, /^popularity +0\.\d{4}/m);
  });

  it('refuses a bad --test-fraction or -k with exit 2', () => {
    for (const args of [
      ['--test-fraction', '1'],
      ['--test-fraction', '0'],
      ['-k', '0'],
    ]) {
      const result = als(SAMPLE, ...args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^als: /);
    }
  });
});
