import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { summarizeMetrics, type Metrics } from '../../src/eval/metrics.js';
import { ALS_BIN, isUsage, plantedGroups, tempDir } from '../helpers.js';

const metrics = (precision: number, auc: number): Metrics => ({
  k: 10,
  users: 4,
  precision,
  recall: 0.5,
  map: 0.2,
  ndcg: precision / 2,
  auc,
  coverage: 0.1,
});

describe('summarizeMetrics', () => {
  it('gives the mean, the sample standard deviation and the range of each metric', () => {
    const { mean, std, min, max } = summarizeMetrics([metrics(0.1, 0.8), metrics(0.2, 0.9), metrics(0.3, 0.7)]);
    assert.ok(Math.abs(mean.precision - 0.2) < 1e-12);
    assert.ok(Math.abs(std.precision - 0.1) < 1e-12); // √((0.01 + 0 + 0.01) / 2)
    assert.ok(Math.abs(std.ndcg - 0.05) < 1e-12);
    assert.equal(std.recall, 0);
    assert.deepEqual([min.auc, max.auc], [0.7, 0.9]);
    assert.equal(summarizeMetrics([metrics(0.4, 0.5)]).std.precision, 0);
    assert.ok(Number.isNaN(summarizeMetrics([metrics(0.4, NaN), metrics(0.5, 0.5)]).mean.auc));
  });

  it('refuses no runs and runs of different k', () => {
    assert.throws(() => summarizeMetrics([]), isUsage(/non-empty/));
    assert.throws(
      () => summarizeMetrics([metrics(0.1, 0.5), { ...metrics(0.1, 0.5), k: 5 }]),
      isUsage(/same k, not 10, 5/),
    );
  });
});

describe('als evaluate --seeds', () => {
  const work = tempDir('als-seeds-');
  const file = join(work, 'plays.tsv');
  const data = plantedGroups(60, 3);
  const lines: string[] = [];
  for (let u = 0; u < data.userItems.rows; u++) {
    for (let n = data.userItems.indptr[u]; n < data.userItems.indptr[u + 1]; n++)
      lines.push(`u${u}\ti${data.userItems.indices[n]}\t${data.userItems.data[n]}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  const als = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        ALS_BIN,
        'evaluate',
        file,
        '--format',
        'triples',
        '--factors',
        '4',
        '--iterations',
        '3',
        '--threads',
        '1',
        '-k',
        '3',
        ...args,
      ],
      { encoding: 'utf8' },
    );

  it('evaluates one split per seed and gives the mean ± sample standard deviation, the same as --seed one at a time', () => {
    const run = als('--seeds', '4,9', '--json');
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.deepEqual(result.seeds, [4, 9]);
    assert.deepEqual(
      result.runs.map((r: { seed: number }) => r.seed),
      [4, 9],
    );
    const single = [4, 9].map((seed) => JSON.parse(als('--seed', String(seed), '--json').stdout).model.precision);
    assert.deepEqual(
      result.runs.map((r: { model: Metrics }) => r.model.precision),
      single,
    );
    assert.ok(Math.abs(result.model.mean.precision - (single[0] + single[1]) / 2) < 1e-12);
    assert.ok(Math.abs(result.model.std.precision - Math.abs(single[0] - single[1]) / Math.SQRT2) < 1e-12);
    assert.match(result.spread, /sample standard deviation/);

    const text = als('--seeds', '4,9');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /als, seed 4 /);
    assert.match(text.stdout, /\d\.\d{4} ± \d\.\d{4}/);
    assert.match(text.stdout, /mean ± sample standard deviation over the 2 splits/);
  });

  it('refuses a bad list, a repeated seed, and --seeds with --seed or --write-split, in one line with exit code 2', () => {
    for (const args of [
      ['--seeds', '1,x'],
      ['--seeds', '1,,2'],
      ['--seeds', '3,3'],
      ['--seeds', '1,4294967296'],
      ['--seeds', '1,2', '--seed', '3'],
      ['--seeds', '1,2', '--write-split', join(work, 's')],
    ]) {
      const run = als(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, /--seeds/);
    }
  });
});
