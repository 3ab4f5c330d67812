import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Matrix, solve } from 'ml-matrix';
import { alsLoss } from '../../src/als/loss.js';
import { resolveTrainOptions } from '../../src/als/options.js';
import { train, trainFactors } from '../../src/als/train.js';
import type { Interactions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { confidences } from '../../src/als/weighting.js';
import type { CsrMatrix } from '../../src/data/sparse.js';
import { choleskySolve, jsKernels, type HalfStep } from '../../src/kernels/index.js';
import { ALS_BIN, randomMatrix, randomPlays, relativeError, tempDir } from '../helpers.js';

/** Dense confidence and preference rows of user u: c = 1, p = 0 where nothing was played. */
function denseRow(m: CsrMatrix, confidence: Float32Array, u: number): { c: number[]; p: number[] } {
  const c = new Array(m.cols).fill(1);
  const p = new Array(m.cols).fill(0);
  for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) {
    c[m.indices[n]] = confidence[n];
    p[m.indices[n]] = 1;
  }
  return { c, p };
}

/** The paper's closed form, x = (YᵀCᵤY + λI)⁻¹ YᵀCᵤp(u), by ml-matrix on dense matrices. */
function closedForm(m: CsrMatrix, confidence: Float32Array, Y: Float32Array, f: number, lambda: number): Float64Array {
  const out = new Float64Array(m.rows * f);
  const Ydense = new Matrix(m.cols, f);
  for (let i = 0; i < m.cols; i++) for (let a = 0; a < f; a++) Ydense.set(i, a, Y[i * f + a]);
  for (let u = 0; u < m.rows; u++) {
    const { c, p } = denseRow(m, confidence, u);
    const YtC = Ydense.transpose().mulRowVector(c);
    const A = YtC.mmul(Ydense).add(Matrix.eye(f, f).mul(lambda));
    const b = YtC.mmul(Matrix.columnVector(p));
    const x = solve(A, b);
    for (let a = 0; a < f; a++) out[u * f + a] = x.get(a, 0);
  }
  return out;
}

function userStep(
  m: CsrMatrix,
  confidence: Float32Array,
  X: Float32Array,
  Y: Float32Array,
  f: number,
  lambda: number,
): HalfStep {
  const YtY = new Float64Array(f * f);
  jsKernels.gramian(Y, m.cols, f, lambda, YtY);
  return { X, Y, factors: f, indptr: m.indptr, indices: m.indices, confidence, YtY };
}

const problems = [
  { users: 40, items: 25, f: 6, density: 0.2, lambda: 0.1, seed: 1 },
  { users: 30, items: 60, f: 10, density: 0.1, lambda: 1, seed: 2 },
  { users: 25, items: 12, f: 16, density: 0.5, lambda: 0.01, seed: 3 },
];

describe('exact (naive) solver', () => {
  for (const { users, items, f, density, lambda, seed } of problems) {
    it(`equals the dense closed form (${users}×${items}, f=${f}, λ=${lambda})`, () => {
      const plays = randomPlays(users, items, density, seed);
      const confidence = confidences(plays, { weighting: 'linear', alpha: 2, bm25K1: 100, bm25B: 0.8 });
      const Y = randomMatrix(items, f, seed + 100);
      const X = new Float32Array(users * f);
      jsKernels.exactUpdate(userStep(plays, confidence, X, Y, f, lambda), 0, users);
      const expected = closedForm(plays, confidence, Y, f, lambda);
      assert.ok(relativeError(X, expected) < 1e-5, `relative error ${relativeError(X, expected)}`);
    });
  }

  it('solves a user with no plays to zero', () => {
    const plays = randomPlays(3, 5, 0, 1);
    const Y = randomMatrix(5, 4, 9);
    const X = new Float32Array(3 * 4).fill(7);
    jsKernels.exactUpdate(userStep(plays, new Float32Array(0), X, Y, 4, 0.1), 0, 3);
    assert.deepEqual(Array.from(X), new Array(12).fill(0));
  });

  it('falls back to a least-squares solve when λ = 0 leaves the system singular', () => {
    // 2 items but 4 factors: YᵀCY has rank 2, Cholesky fails
    const plays = randomPlays(2, 2, 1, 1);
    const confidence = confidences(plays, { weighting: 'linear', alpha: 1, bm25K1: 100, bm25B: 0.8 });
    const Y = randomMatrix(2, 4, 5);
    const X = new Float32Array(2 * 4);
    jsKernels.exactUpdate(userStep(plays, confidence, X, Y, 4, 0), 0, 2);
    assert.ok(X.every(Number.isFinite));
    // the minimum-norm solution still fits the observed preferences: xᵀyᵢ = 1 for both items
    for (let u = 0; u < 2; u++) {
      for (let i = 0; i < 2; i++) {
        let s = 0;
        for (let a = 0; a < 4; a++) s += X[u * 4 + a] * Y[i * 4 + a];
        assert.ok(Math.abs(s - 1) < 1e-4, `score ${s}`);
      }
    }
  });
});

describe('Cholesky solve', () => {
  it('agrees with ml-matrix on a random SPD system', () => {
    const f = 12;
    const B = randomMatrix(f, f, 4);
    const A = new Float64Array(f * f);
    for (let i = 0; i < f; i++)
      for (let j = 0; j < f; j++) {
        let s = i === j ? 0.5 : 0;
        for (let k = 0; k < f; k++) s += B[i * f + k] * B[j * f + k];
        A[i * f + j] = s;
      }
    const b = Float64Array.from(randomMatrix(f, 1, 8));
    const rows = Array.from({ length: f }, (_, i) => Array.from(A.subarray(i * f, i * f + f)));
    const expected = solve(new Matrix(rows), Matrix.columnVector(Array.from(b))).getColumn(0);
    const x = b.slice();
    assert.equal(choleskySolve(A.slice(), x, f), true);
    assert.ok(relativeError(x, expected) < 1e-10);
  });

  it('reports a matrix that is not positive definite', () => {
    assert.equal(choleskySolve(Float64Array.from([1, 2, 2, 1]), Float64Array.from([1, 1]), 2), false);
  });
});

describe('conjugate-gradient solver', () => {
  for (const { users, items, f, density, lambda, seed } of problems) {
    it(`with as many steps as factors reaches the exact solution (f=${f})`, () => {
      const plays = randomPlays(users, items, density, seed);
      const confidence = confidences(plays, { weighting: 'log', alpha: 3, bm25K1: 100, bm25B: 0.8 });
      const Y = randomMatrix(items, f, seed + 100);
      const exact = new Float32Array(users * f);
      jsKernels.exactUpdate(userStep(plays, confidence, exact, Y, f, lambda), 0, users);
      const X = randomMatrix(users, f, seed + 200, 0.02);
      jsKernels.cgUpdate(userStep(plays, confidence, X, Y, f, lambda), f, 0, users);
      assert.ok(relativeError(X, exact) < 1e-4, `relative error ${relativeError(X, exact)}`);
    });
  }

  it('gets closer to the exact solution with every step', () => {
    const { users, items, f, density, lambda, seed } = problems[1];
    const plays = randomPlays(users, items, density, seed);
    const confidence = confidences(plays, { weighting: 'linear', alpha: 5, bm25K1: 100, bm25B: 0.8 });
    const Y = randomMatrix(items, f, seed + 100);
    const exact = new Float32Array(users * f);
    jsKernels.exactUpdate(userStep(plays, confidence, exact, Y, f, lambda), 0, users);
    const start = randomMatrix(users, f, 7, 0.02);
    let previous = relativeError(start, exact);
    for (const steps of [1, 2, 4, 8]) {
      const X = start.slice();
      jsKernels.cgUpdate(userStep(plays, confidence, X, Y, f, lambda), steps, 0, users);
      const error = relativeError(X, exact);
      assert.ok(error < previous, `${steps} steps: ${error} ≥ ${previous}`);
      previous = error;
    }
  });
});

describe('loss', () => {
  it('equals the objective summed over every user–item pair', () => {
    const users = 15;
    const items = 10;
    const f = 4;
    const lambda = 0.3;
    const plays = randomPlays(users, items, 0.3, 5);
    const confidence = confidences(plays, { weighting: 'linear', alpha: 1.5, bm25K1: 100, bm25B: 0.8 });
    const X = randomMatrix(users, f, 11);
    const Y = randomMatrix(items, f, 12);
    let total = 0;
    let weight = 0;
    for (let u = 0; u < users; u++) {
      const { c, p } = denseRow(plays, confidence, u);
      for (let i = 0; i < items; i++) {
        let s = 0;
        for (let a = 0; a < f; a++) s += X[u * f + a] * Y[i * f + a];
        total += c[i] * (p[i] - s) ** 2;
        weight += c[i];
      }
    }
    for (const v of X) total += lambda * v * v;
    for (const v of Y) total += lambda * v * v;
    const loss = alsLoss(userStep(plays, confidence, X, Y, f, lambda), items, lambda, jsKernels);
    assert.ok(Math.abs(loss - total / weight) / (total / weight) < 1e-9, `${loss} vs ${total / weight}`);
  });

  for (const weighting of ['linear', 'log', 'bm25'] as const) {
    it(`never increases from one iteration to the next with the exact solver (${weighting})`, async () => {
      const plays = randomPlays(120, 80, 0.08, 21);
      const options = resolveTrainOptions({
        factors: 8,
        iterations: 12,
        solver: 'naive',
        weighting,
        computeLoss: true,
        threads: 1,
      });
      const { losses } = await trainFactors(plays, options);
      assert.ok(losses !== null && losses.length === 12);
      for (let k = 1; k < losses.length; k++) {
        assert.ok(losses[k] <= losses[k - 1], `iteration ${k + 1}: ${losses[k]} > ${losses[k - 1]}`);
      }
      assert.ok(losses[11] < losses[0]);
    });
  }

  it('goes down with CG too', async () => {
    const plays = randomPlays(120, 80, 0.08, 22);
    const options = resolveTrainOptions({ factors: 8, iterations: 10, solver: 'cg', computeLoss: true, threads: 1 });
    const { losses } = await trainFactors(plays, options);
    assert.ok(losses !== null && losses[9] < losses[0] * 0.9, `${losses?.[0]} → ${losses?.[9]}`);
  });
});

describe('training', () => {
  it('gives the same factors, bit for bit, for the same seed, and others for another seed', async () => {
    const plays = randomPlays(60, 40, 0.1, 31);
    const options = resolveTrainOptions({ factors: 6, iterations: 3, threads: 1, seed: 5 });
    const a = await trainFactors(plays, options);
    const b = await trainFactors(plays, options);
    const c = await trainFactors(plays, { ...options, seed: 6 });
    assert.deepEqual(Buffer.from(a.userFactors.buffer), Buffer.from(b.userFactors.buffer));
    assert.deepEqual(Buffer.from(a.itemFactors.buffer), Buffer.from(b.itemFactors.buffer));
    assert.notDeepEqual(Buffer.from(a.itemFactors.buffer), Buffer.from(c.itemFactors.buffer));
  });

  it('with CG ends close to the exact solver', async () => {
    const plays = randomPlays(80, 50, 0.1, 41);
    const base = { factors: 5, iterations: 8, threads: 1, computeLoss: true };
    const exact = await trainFactors(plays, resolveTrainOptions({ ...base, solver: 'naive' }));
    const cg = await trainFactors(plays, resolveTrainOptions({ ...base, solver: 'cg', cgSteps: 5 }));
    const last = (l: number[] | null) => (l as number[])[7];
    assert.ok(
      Math.abs(last(cg.losses) - last(exact.losses)) / last(exact.losses) < 0.01,
      `${last(cg.losses)} vs ${last(exact.losses)}`,
    );
  });
});

describe('gramian', () => {
  it('is YᵀY + λI', () => {
    const Y = randomMatrix(9, 3, 2);
    const out = new Float64Array(9);
    jsKernels.gramian(Y, 9, 3, 0.5, out);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 3; b++) {
        let s = a === b ? 0.5 : 0;
        for (let r = 0; r < 9; r++) s += Y[r * 3 + a] * Y[r * 3 + b];
        assert.ok(Math.abs(out[a * 3 + b] - s) < 1e-12);
      }
  });
});

describe('G1: λ = 0 with an exact solver and more factors than min(users, items) is refused before training', () => {
  const work = tempDir('als-singular-');
  const tiny = join(work, 'tiny.tsv');
  writeFileSync(tiny, 'u1\ta\t3\nu2\tb\t4\nu3\tc\t1\nu3\ta\t2\n');

  function als(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const env = { ...process.env };
    delete env.FORCE_COLOR;
    const result = spawnSync(process.execPath, [ALS_BIN, ...args], {
      cwd: work,
      encoding: 'utf8',
      env,
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('als train exits 2 at once naming --factors, --lambda and the users and items; nothing is written (before: 2 min 52 s per iteration)', () => {
    const started = performance.now();
    const result = als([
      'train',
      tiny,
      '--format',
      'triples',
      '-m',
      'x',
      '--iterations',
      '1',
      '--lambda',
      '0',
      '--solver',
      'naive',
      '--factors',
      '1024',
    ]);
    assert.equal(result.status, 2, result.stderr);
    assert.equal(
      result.stderr,
      "als: --factors 1024 with --lambda 0 and --solver naive: the data have 3 users and 3 items, so every item's least-squares system is singular " +
        '(rank at most 3) and would be solved the slow way; give --factors 3 or fewer, a --lambda above 0, or --solver cg\n',
    );
    assert.equal(existsSync(join(work, 'x', 'model.json')), false);
    assert.ok(performance.now() - started < 30_000);
    // the rank itself, a λ above 0 and CG (which never inverts) train
    for (const args of [
      ['--factors', '3', '--lambda', '0'],
      ['--factors', '8', '--lambda', '0.01'],
      ['--factors', '8', '--lambda', '0', '--solver', 'cg'],
    ]) {
      const ok = als([
        'train',
        tiny,
        '--format',
        'triples',
        '-m',
        `ok-${args.join('')}`,
        '--iterations',
        '1',
        '--solver',
        'naive',
        ...args,
      ]);
      assert.equal(ok.status, 0, `${args.join(' ')}: ${ok.stderr}`);
    }
  });

  it("train and trainFactors refuse it with AlsError(usage) in the library's words", async () => {
    const plays = randomPlays(5, 40, 0.5, 4);
    const refused = (e: unknown) =>
      e instanceof AlsError &&
      e.code === 'usage' &&
      e.message ===
        "factors 6 with lambda 0 and solver naive: the data have 5 users and 40 items, so every item's least-squares system is singular " +
          '(rank at most 5) and would be solved the slow way; give factors 5 or fewer, a lambda above 0, or solver cg';
    await assert.rejects(
      trainFactors(
        plays,
        resolveTrainOptions({ factors: 6, regularization: 0, solver: 'naive', iterations: 1, threads: 1 }),
      ),
      refused,
    );
    const data: Interactions = {
      userItems: plays,
      userIds: ['a', 'b', 'c', 'd', 'e'],
      itemNames: Array.from({ length: 40 }, (_, i) => `i${i}`),
      stats: {} as Interactions['stats'],
    };
    await assert.rejects(
      train(data, { factors: 6, regularization: 0, solver: 'naive', iterations: 1, threads: 1 }),
      refused,
    );
    const wide = randomPlays(40, 5, 0.5, 4);
    await assert.rejects(
      trainFactors(
        wide,
        resolveTrainOptions({ factors: 6, regularization: 0, solver: 'naive', iterations: 1, threads: 1 }),
      ),
      (e: unknown) =>
        e instanceof AlsError &&
        e.code === 'usage' &&
        /the data have 40 users and 5 items, so every user's least-squares system is singular \(rank at most 5\)/.test(
          e.message,
        ),
    );
    // at the rank the systems are regular: training runs
    const factors = await trainFactors(
      plays,
      resolveTrainOptions({ factors: 5, regularization: 0, solver: 'naive', iterations: 1, threads: 1 }),
    );
    assert.equal(factors.userFactors.length, 25);
  });
});
