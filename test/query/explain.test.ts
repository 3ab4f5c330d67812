import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { inverse, Matrix } from 'ml-matrix';
import { defaultsFor, profileData } from '../../src/als/dataDefaults.js';
import { columnCounts } from '../../src/data/sparse.js';
import { foldInConfidences, foldInUserRow, playsOfRow } from '../../src/als/foldIn.js';
import { resolveTrainOptions } from '../../src/als/options.js';
import { train, trainFactors } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import type { AlsModel } from '../../src/model/model.js';
import { explainUser, Explainer } from '../../src/query/explain.js';
import { ALS_BIN, randomPlays, SAMPLE, tempDir } from '../helpers.js';

describe('explanations (Hu et al. 2008, section 5)', () => {
  let model: AlsModel;
  before(async () => {
    const plays = randomPlays(40, 30, 0.2, 12);
    const options = resolveTrainOptions({
      factors: 6,
      iterations: 4,
      threads: 1,
      weighting: 'bm25',
      regularization: 0.3,
    });
    const factors = await trainFactors(plays, options);
    model = {
      users: 40,
      items: 30,
      factors: 6,
      ...factors,
      userIds: Array.from({ length: 40 }, (_, u) => `u${u}`),
      itemNames: Array.from({ length: 30 }, (_, i) => `i${i}`),
      userItems: plays,
      itemUserCounts: columnCounts(plays),
      options,
      input: null,
      losses: null,
    };
  });

  it('terms are sᵘᵢⱼcᵤⱼ with Wᵘ = (YᵀCᵤY + λI)⁻¹ from ml-matrix, and sum to yᵢᵀx', () => {
    const f = 6;
    for (const u of [0, 5, 39]) {
      const folded = foldInUserRow(model, u);
      const { items } = playsOfRow(model, u);
      const c = foldInConfidences(model, playsOfRow(model, u));
      const Y = new Matrix(30, f);
      for (let i = 0; i < 30; i++) for (let a = 0; a < f; a++) Y.set(i, a, model.itemFactors[i * f + a]);
      const A = Y.transpose().mmul(Y).add(Matrix.eye(f, f).mul(model.options.regularization));
      for (let k = 0; k < items.length; k++) {
        const y = Y.getRowVector(items[k]);
        A.add(
          y
            .transpose()
            .mmul(y)
            .mul(c[k] - 1),
        );
      }
      const W = inverse(A);
      const explainer = new Explainer(model, folded);
      for (let i = 0; i < 30; i++) {
        const terms = explainer.terms(i);
        const yi = Y.getRowVector(i);
        let sum = 0;
        for (let k = 0; k < items.length; k++) {
          const s = yi.mmul(W).mmul(Y.getRowVector(items[k]).transpose()).get(0, 0);
          assert.ok(Math.abs(terms[k] - s * c[k]) < 1e-9, `u${u} i${i} j${items[k]}: ${terms[k]} vs ${s * c[k]}`);
          sum += terms[k];
        }
        let score = 0;
        for (let a = 0; a < f; a++) score += yi.get(0, a) * folded.x[a];
        assert.ok(Math.abs(sum - score) < 1e-9, `${sum} vs ${score}`);
        const e = explainer.explain(i, 2);
        assert.equal(e.score, score);
        const explained = e.contributions.reduce((s, x) => s + x.value, 0) + e.others.value;
        assert.ok(Math.abs(explained - score) < 1e-9);
        assert.ok(Math.abs(e.contributions.reduce((s, x) => s + x.share, 0) + e.others.share - 1) < 1e-9);
        assert.equal(e.others.items, items.length - e.contributions.length);
        for (let k = 1; k < e.contributions.length; k++)
          assert.ok(e.contributions[k].value <= e.contributions[k - 1].value);
      }
    }
  });
});

describe('recommend --explain', () => {
  const work = tempDir('als-explain-');
  const dir = join(work, 'model');
  const als = (...args: string[]) => {
    const result = spawnSync(process.execPath, [ALS_BIN, ...args, '--model', dir], { encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  before(() => assert.equal(als('train', SAMPLE).status, 0));

  it('--user --json: contributions and the others sum to the explained score, which is yᵢᵀx of the re-solved vector', async () => {
    const result = als('recommend', '--user', 'user2', '--explain', '--json');
    assert.equal(result.status, 0, result.stderr);
    const parsed = JSON.parse(result.stdout);
    assert.equal(parsed.recommendations.length, 10);
    // als train applies the data's defaults rule (issue 12): the library model takes the same settings
    const data = await readInteractions(SAMPLE);
    const model = await train(data, { threads: 1, ...defaultsFor(profileData(data.userItems)).options });
    const expected = explainUser(model, 'user2', { count: 10, top: 3 }).recommendations;
    parsed.recommendations.forEach((r: any, k: number) => {
      assert.equal(r.contributions.length, 3);
      assert.equal(r.others.items, 47, 'user2 played 50 artists');
      const sum = r.contributions.reduce((s: number, c: any) => s + c.value, 0) + r.others.value;
      assert.ok(Math.abs(sum - r.explained) < 1e-9 * Math.abs(r.explained), `${r.item}: ${sum} vs ${r.explained}`);
      const shares = r.contributions.reduce((s: number, c: any) => s + c.share, 0) + r.others.share;
      assert.ok(Math.abs(shares - 1) < 1e-9);
      for (const c of r.contributions) assert.ok(Math.abs(c.share * r.explained - c.value) < 1e-12);
      // the stored vector's score is close but not the same
      assert.ok(Math.abs(r.stored - r.explained) < 0.1 * r.explained, `${r.stored} vs ${r.explained}`);
      assert.equal(r.item, expected[k].name);
      assert.ok(Math.abs(r.explained - expected[k].explanation.score) < 1e-12);
    });
    assert.ok(
      parsed.recommendations.every(
        (r: any, k: number) => k === 0 || r.explained <= parsed.recommendations[k - 1].explained + 1e-6,
      ),
      'ranked by the explained score',
    );
  });

  it('prints one explanation line per recommendation whose percentages sum to 100 (to rounding)', () => {
    const result = als('recommend', '--user', 'user2', '--explain', '-n', '4');
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(
      lines[3],
      /^ {5}\(ranked and explained by user2's vector re-solved exactly against the item factors; the stored vector's scores differ by up to \d+\.\d%\)$/,
    );
    const explanations = lines.slice(4).filter((_, k) => k % 2 === 1);
    assert.equal(explanations.length, 4);
    for (const line of explanations) {
      assert.match(line, /^ {7}\d+\.\d{4} = .+ \d+% \+ .+ \d+% \+ .+ \d+% \+ 47 others -?\d+%$/);
      const percents = [...line.matchAll(/(-?\d+)%/g)].map((m) => Number(m[1]));
      const total = percents.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(total - 100) <= 2, `${line}: ${total}%`);
    }
  });

  it('--items --explain: every listed artist is a contribution, summing to the score', () => {
    const result = als('recommend', '--items', 'radiohead,muse,portishead=120', '--explain', '--json', '-n', '5');
    assert.equal(result.status, 0, result.stderr);
    for (const r of JSON.parse(result.stdout).recommendations) {
      assert.deepEqual(r.contributions.map((c: any) => c.item).sort(), ['Muse', 'Portishead', 'Radiohead']);
      assert.equal(r.others.items, 0);
      const sum = r.contributions.reduce((s: number, c: any) => s + c.value, 0);
      assert.ok(Math.abs(sum - r.explained) < 1e-9 * Math.abs(r.explained));
    }
  });

  it('--explain with --all is a usage error', () => {
    const result = als('recommend', '--all', '--output', join(work, 'x.tsv'), '--explain');
    assert.equal(result.status, 2);
    assert.equal(result.stderr, 'als: --explain goes with --user or --items, not --all\n');
  });
});
