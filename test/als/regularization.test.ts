import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Matrix, solve } from 'ml-matrix';
import { foldIn, playsOfRow } from '../../src/als/foldIn.js';
import { alsLoss } from '../../src/als/loss.js';
import { resolveTrainOptions, type TrainOptions } from '../../src/als/options.js';
import { rowRegularization, rowRegularizations } from '../../src/als/regularization.js';
import { train, trainFactors } from '../../src/als/train.js';
import { confidences } from '../../src/als/weighting.js';
import { parseTrainConfig } from '../../src/als/config.js';
import type { CsrMatrix } from '../../src/data/sparse.js';
import { createWasmKernels, jsKernels, kernelCopy, type HalfStep, type Kernels } from '../../src/kernels/index.js';
import { ALS_BIN, isUsage, plantedGroups, randomMatrix, randomPlays, relativeError, tempDir } from '../helpers.js';

// Frequency-scaled regularization (issue 12; Rendle, Krichene, Zhang & Koren, RecSys 2022):
// λᵤ = λ·(|Iᵤ| + α₀·|I|)^ν per user, λᵢ = λ·(|Uᵢ| + α₀·|U|)^ν per item.

const wasm = await createWasmKernels(2);
after(() => wasm.dispose());

const WEIGHTS = { weighting: 'log', alpha: 3, bm25K1: 100, bm25B: 0.8 } as const;

/** x = (Σᵢ cᵤᵢ yᵢyᵢᵀ + λᵤI)⁻¹ Σᵢ cᵤᵢ pᵤᵢ yᵢ over every item (c = 1, p = 0 unobserved), dense, in float64. */
function closedForm(
  m: CsrMatrix,
  confidence: Float32Array,
  Y: Float32Array,
  f: number,
  lambdas: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(m.rows * f);
  for (let u = 0; u < m.rows; u++) {
    const c = new Array<number>(m.cols).fill(1);
    const p = new Array<number>(m.cols).fill(0);
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) {
      c[m.indices[n]] = confidence[n];
      p[m.indices[n]] = 1;
    }
    const A = Matrix.eye(f, f).mul(lambdas[u]);
    const b = Matrix.zeros(f, 1);
    for (let i = 0; i < m.cols; i++) {
      for (let a = 0; a < f; a++) {
        b.set(a, 0, b.get(a, 0) + c[i] * p[i] * Y[i * f + a]);
        for (let k = 0; k < f; k++) A.set(a, k, A.get(a, k) + c[i] * Y[i * f + a] * Y[i * f + k]);
      }
    }
    const x = solve(A, b);
    for (let a = 0; a < f; a++) out[u * f + a] = x.get(a, 0);
  }
  return out;
}

/** A user half-step in `kernels`' memory with per-row λ (YtY without λ) and the λ used. */
function scaledStep(
  kernels: Kernels,
  plays: CsrMatrix,
  f: number,
  options: Pick<TrainOptions, 'regularization' | 'regularizationExponent' | 'regularizationAlpha0'>,
  seed: number,
) {
  const copy = <T extends Float32Array | Int32Array>(array: T): T => kernelCopy(kernels, array);
  const Y = copy(randomMatrix(plays.cols, f, seed + 1));
  const YtY = new Float64Array(f * f);
  jsKernels.gramian(Y, plays.cols, f, 0, YtY);
  const indptr = copy(plays.indptr);
  const step: HalfStep = {
    X: copy(randomMatrix(plays.rows, f, seed + 2, 0.05)),
    Y,
    factors: f,
    indptr,
    indices: copy(plays.indices),
    confidence: copy(confidences(plays, WEIGHTS)),
    YtY,
    rowRegularization: rowRegularizations(options, indptr, plays.cols, kernels.float32(plays.rows)),
  };
  return step;
}

/** plays with rows 0 and 5 emptied (a user with no observations) */
function withEmptyRows(plays: CsrMatrix): CsrMatrix {
  const keep = (u: number) => u !== 0 && u !== 5;
  const indptr = new Int32Array(plays.rows + 1);
  const indices: number[] = [];
  const data: number[] = [];
  for (let u = 0; u < plays.rows; u++) {
    if (keep(u)) {
      for (let n = plays.indptr[u]; n < plays.indptr[u + 1]; n++) {
        indices.push(plays.indices[n]);
        data.push(plays.data[n]);
      }
    }
    indptr[u + 1] = indices.length;
  }
  return {
    rows: plays.rows,
    cols: plays.cols,
    indptr,
    indices: Int32Array.from(indices),
    data: Float32Array.from(data),
  };
}

const SETTINGS = [
  { regularization: 0.05, regularizationExponent: 1, regularizationAlpha0: 0 },
  { regularization: 0.3, regularizationExponent: 0.5, regularizationAlpha0: 0.1 },
  { regularization: 0.01, regularizationExponent: 2, regularizationAlpha0: 0 },
];

describe("each row's λ", () => {
  it('is λ·(n + α₀·others)^ν, rounded to float32', () => {
    assert.equal(
      rowRegularization({ regularization: 10, regularizationExponent: 0, regularizationAlpha0: 5 }, 7, 100),
      10,
    );
    assert.equal(
      rowRegularization({ regularization: 0.5, regularizationExponent: 1, regularizationAlpha0: 0 }, 7, 100),
      3.5,
    );
    assert.equal(
      rowRegularization({ regularization: 2, regularizationExponent: 0.5, regularizationAlpha0: 0.5 }, 14, 100),
      Math.fround(2 * 8),
    );
    assert.equal(
      rowRegularization({ regularization: 0.1, regularizationExponent: 2, regularizationAlpha0: 0.01 }, 3, 700),
      Math.fround(0.1 * 100),
    );
    assert.equal(
      rowRegularization({ regularization: 1, regularizationExponent: 1, regularizationAlpha0: 0 }, 0, 100),
      0,
    );
  });

  it('stays finite in float32 at the largest settings and counts', () => {
    const largest = rowRegularization(
      { regularization: 1e6, regularizationExponent: 2, regularizationAlpha0: 1000 },
      2 ** 31 - 1,
      2 ** 31 - 1,
    );
    assert.ok(Number.isFinite(largest) && largest > 1e30, String(largest));
  });

  it('refuses ν and α₀ that are not numbers in range, naming the option', () => {
    for (const bad of [NaN, -1, 2.5, Infinity, 1e39, '1' as unknown as number]) {
      assert.throws(
        () => resolveTrainOptions({ regularizationExponent: bad }),
        isUsage(/^regularizationExponent \(ν\) must be a number from 0 to 2/),
      );
    }
    for (const bad of [NaN, -0.1, 1001, Infinity, 1e39]) {
      assert.throws(
        () => resolveTrainOptions({ regularizationAlpha0: bad }),
        isUsage(/^regularizationAlpha0 \(α₀\) must be a number from 0 to 1000/),
      );
    }
    assert.deepEqual(
      [resolveTrainOptions().regularizationExponent, resolveTrainOptions().regularizationAlpha0],
      [0, 0],
    );
  });

  it('is read from a settings file as lambdaExponent and lambdaAlpha0', () => {
    assert.deepEqual(parseTrainConfig('{"lambda": 0.1, "lambdaExponent": 1, "lambdaAlpha0": 0.5}', 'x.json'), {
      regularization: 0.1,
      regularizationExponent: 1,
      regularizationAlpha0: 0.5,
    });
    assert.throws(
      () => parseTrainConfig('{"lambdaExponent": -1}', 'x.json'),
      (e: Error) => /^x\.json: regularizationExponent \(ν\) must be/.test(e.message),
    );
  });
});

for (const [name, kernels] of [
  ['js', jsKernels],
  ['wasm', wasm],
] as const) {
  describe(`per-row λ in the ${name} kernels`, () => {
    SETTINGS.forEach((setting, s) => {
      // odd f: the vector loops' scalar tails
      const f = [5, 8, 7][s];
      it(`exact solver equals the dense closed form (ν=${setting.regularizationExponent}, α₀=${setting.regularizationAlpha0}, f=${f})`, () => {
        const plays = withEmptyRows(randomPlays(40, 30, 0.15, 11 + s));
        const step = scaledStep(kernels, plays, f, setting, 20 + s);
        const lambdas = Array.from(step.rowRegularization as Float32Array);
        kernels.exactUpdate(step, 0, plays.rows);
        const expected = closedForm(plays, step.confidence, step.Y, f, lambdas);
        assert.ok(relativeError(step.X, expected) < 1e-5, `relative error ${relativeError(step.X, expected)}`);
        // the rows differ in λ: a constant λ gives other factors
        const constant = closedForm(
          plays,
          step.confidence,
          step.Y,
          f,
          lambdas.map(() => setting.regularization),
        );
        assert.ok(relativeError(step.X, constant) > 1e-3);
      });

      it(`CG with f steps reaches the exact solution (ν=${setting.regularizationExponent}, f=${f})`, () => {
        const plays = randomPlays(40, 30, 0.15, 31 + s);
        const exact = scaledStep(kernels, plays, f, setting, 40 + s);
        const cg = scaledStep(kernels, plays, f, setting, 40 + s);
        kernels.exactUpdate(exact, 0, plays.rows);
        kernels.cgUpdate(cg, f + 2, 0, plays.rows);
        assert.ok(relativeError(cg.X, exact.X) < 1e-3, `relative error ${relativeError(cg.X, exact.X)}`);
      });
    });

    it('solves a row with no observations and λᵤ = 0 to exactly 0, with either solver', () => {
      const plays = withEmptyRows(randomPlays(12, 30, 0.2, 3));
      // 40 factors, 30 items: YᵀY alone is singular, so a solve of an empty row would fail
      for (const update of [
        (s: HalfStep) => kernels.exactUpdate(s, 0, 12),
        (s: HalfStep) => kernels.cgUpdate(s, 3, 0, 12),
      ]) {
        const step = scaledStep(kernels, plays, 40, SETTINGS[0], 5);
        assert.equal((step.rowRegularization as Float32Array)[0], 0);
        update(step);
        assert.ok(step.X.every(Number.isFinite));
        assert.deepEqual(Array.from(step.X.subarray(0, 40)), new Array(40).fill(0));
        assert.deepEqual(Array.from(step.X.subarray(5 * 40, 6 * 40)), new Array(40).fill(0));
        assert.ok(step.X.subarray(40, 80).some((v) => v !== 0));
      }
    });
  });
}

describe('the JS and WebAssembly kernels with per-row λ', () => {
  it('give the same factors (relative 1e-4) with both solvers', () => {
    const plays = withEmptyRows(randomPlays(200, 70, 0.1, 8));
    for (const update of [
      (k: Kernels, s: HalfStep) => k.exactUpdate(s, 0, 200),
      (k: Kernels, s: HalfStep) => k.cgUpdate(s, 3, 0, 200),
    ]) {
      const reference = scaledStep(jsKernels, plays, 13, SETTINGS[1], 9);
      const fast = scaledStep(wasm, plays, 13, SETTINGS[1], 9);
      update(jsKernels, reference);
      update(wasm, fast);
      assert.ok(relativeError(fast.X, reference.X) < 1e-4, String(relativeError(fast.X, reference.X)));
    }
  });
});

function digest(...arrays: Float32Array[]): string {
  const hash = createHash('sha256');
  for (const a of arrays) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return hash.digest('hex').slice(0, 32);
}

describe('training with frequency-scaled λ', () => {
  const plays = randomPlays(120, 80, 0.08, 21);

  it('gives ν = 0 the bytes of the constant λ as before (factors pinned from the commit before issue 12)', async () => {
    // sha256 of the factors that main at 1ebc6c8 trained from these plays and options (then the
    // one build; now its plain SIMD128 build, kernels.wasm)
    const pinned: Record<string, string> = {
      'wasm cg': '8ba97b9b0e1ca286c710761b5208d4c4',
      'wasm naive': '210dcb8d9d8231de248c52a999b61b21',
      'js cg': 'bfbaed38e455156118fc0a0463ca6427',
      'js naive': '4b32888f0ddc71f108b05cb9d7709b88',
    };
    const pinnedPlays = randomPlays(60, 40, 0.1, 3);
    for (const engine of ['wasm', 'js'] as const) {
      for (const solver of ['cg', 'naive'] as const) {
        for (const alpha0 of [0, 0.5]) {
          const options = resolveTrainOptions({
            factors: 7,
            iterations: 3,
            solver,
            threads: 2,
            regularizationExponent: 0,
            regularizationAlpha0: alpha0,
          });
          // the plain build: the fma build's last bits depend on whether the CPU fuses
          const kernels = engine === 'wasm' ? await createWasmKernels(2, { build: 'simd128' }) : jsKernels;
          const r = await trainFactors(pinnedPlays, options, {}, kernels).finally(() => {
            if (kernels !== jsKernels) kernels.dispose();
          });
          assert.equal(
            digest(r.userFactors, r.itemFactors),
            pinned[`${engine} ${solver}`],
            `${engine} ${solver} α₀=${alpha0}`,
          );
        }
      }
    }
  });

  for (const setting of SETTINGS) {
    it(`never increases the loss with the exact solver, the loss using each row's λ (ν=${setting.regularizationExponent}, α₀=${setting.regularizationAlpha0})`, async () => {
      const options = resolveTrainOptions({
        ...setting,
        factors: 8,
        iterations: 10,
        solver: 'naive',
        computeLoss: true,
        threads: 1,
      });
      const { losses } = await trainFactors(plays, options);
      assert.ok(losses !== null && losses.length === 10);
      for (let k = 1; k < losses.length; k++)
        assert.ok(losses[k] <= losses[k - 1], `iteration ${k + 1}: ${losses[k]} > ${losses[k - 1]}`);
      assert.ok(losses[9] < losses[0]);
    });
  }

  it("computes the loss with each row's λ: Σ c(p − xᵀy)² + Σᵤ λᵤ‖xᵤ‖² + Σᵢ λᵢ‖yᵢ‖², over the total confidence", () => {
    const small = randomPlays(15, 10, 0.3, 5);
    const f = 4;
    const confidence = confidences(small, WEIGHTS);
    const X = randomMatrix(15, f, 11);
    const Y = randomMatrix(10, f, 12);
    const users = Float32Array.from({ length: 15 }, (_, u) => 0.1 * (u + 1));
    const items = Float32Array.from({ length: 10 }, (_, i) => 0.2 * (i + 1));
    let total = 0;
    let weight = 0;
    for (let u = 0; u < 15; u++) {
      for (let i = 0; i < 10; i++) {
        let s = 0;
        for (let a = 0; a < f; a++) s += X[u * f + a] * Y[i * f + a];
        let c = 1;
        let p = 0;
        for (let n = small.indptr[u]; n < small.indptr[u + 1]; n++)
          if (small.indices[n] === i) [c, p] = [confidence[n], 1];
        total += c * (p - s) ** 2;
        weight += c;
      }
      for (let a = 0; a < f; a++) total += users[u] * X[u * f + a] ** 2;
    }
    for (let i = 0; i < 10; i++) for (let a = 0; a < f; a++) total += items[i] * Y[i * f + a] ** 2;
    const step: HalfStep = {
      X,
      Y,
      factors: f,
      indptr: small.indptr,
      indices: small.indices,
      confidence,
      YtY: new Float64Array(f * f),
    };
    const loss = alsLoss(step, 10, { users, items }, jsKernels);
    assert.ok(Math.abs(loss - total / weight) / (total / weight) < 1e-9, `${loss} vs ${total / weight}`);
    assert.throws(
      () => alsLoss(step, 10, { users: items, items }, jsKernels),
      isUsage(/regularization\.users must have 15 entries/),
    );
  });

  it('gives the same bytes on 1 and 2 threads, with both solvers', async () => {
    for (const solver of ['cg', 'naive'] as const) {
      const base = { ...SETTINGS[1], factors: 9, iterations: 4, solver, computeLoss: true };
      const one = await trainFactors(plays, resolveTrainOptions({ ...base, threads: 1 }));
      const two = await trainFactors(plays, resolveTrainOptions({ ...base, threads: 2 }));
      assert.equal(digest(one.userFactors, one.itemFactors), digest(two.userFactors, two.itemFactors), solver);
      assert.deepEqual(one.losses, two.losses);
    }
  });

  it('gives the JS and WebAssembly engines the same model (relative 1e-3)', async () => {
    const options = resolveTrainOptions({ ...SETTINGS[0], factors: 6, iterations: 5, solver: 'naive', threads: 1 });
    const js = await trainFactors(plays, options, {}, 'js');
    const fast = await trainFactors(plays, options, {}, 'wasm');
    assert.ok(
      relativeError(fast.userFactors, js.userFactors) < 1e-3,
      String(relativeError(fast.userFactors, js.userFactors)),
    );
  });

  it('folds in a user with the λ training gave it: the fold-in equals an exact user half-step', async () => {
    const model = await train(plantedGroups(60, 4), {
      ...SETTINGS[0],
      factors: 6,
      iterations: 4,
      solver: 'naive',
      threads: 1,
    });
    const f = model.factors;
    const step: HalfStep = {
      X: new Float32Array(model.users * f),
      Y: model.itemFactors,
      factors: f,
      indptr: model.userItems.indptr,
      indices: model.userItems.indices,
      confidence: confidences(model.userItems, model.options),
      YtY: new Float64Array(f * f),
      rowRegularization: rowRegularizations(
        model.options,
        model.userItems.indptr,
        model.items,
        new Float32Array(model.users),
      ),
    };
    jsKernels.gramian(model.itemFactors, model.items, f, 0, step.YtY);
    jsKernels.exactUpdate(step, 0, model.users);
    for (const u of [0, 17, 59]) {
      const folded = foldIn(model, playsOfRow(model, u)).x;
      assert.ok(relativeError(folded, step.X.subarray(u * f, (u + 1) * f)) < 1e-6, `user ${u}`);
    }
    // a constant λ would give another vector
    const constant = foldIn(
      { ...model, options: { ...model.options, regularizationExponent: 0 } },
      playsOfRow(model, 17),
    ).x;
    assert.ok(relativeError(constant, step.X.subarray(17 * f, 18 * f)) > 1e-3);
    // no plays: the zero vector, as training gives such a row
    assert.deepEqual(
      Array.from(foldIn(model, { items: new Int32Array(0), plays: new Float32Array(0) }).x),
      new Array(f).fill(0),
    );
  });
});

describe('als train --lambda-exponent, --lambda-alpha0', () => {
  const work = tempDir('als-freqreg-');
  const file = join(work, 'plays.tsv');
  const data = plantedGroups(40, 2);
  const lines: string[] = [];
  for (let u = 0; u < data.userItems.rows; u++) {
    for (let n = data.userItems.indptr[u]; n < data.userItems.indptr[u + 1]; n++)
      lines.push(`u${u}\ti${data.userItems.indices[n]}\t${data.userItems.data[n]}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  const als = (...args: string[]) => spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8' });

  it('trains with them, says so, records them in model.json and shows them in info', () => {
    const model = join(work, 'model');
    const trained = als(
      'train',
      file,
      '--format',
      'triples',
      '--model',
      model,
      '--factors',
      '4',
      '--iterations',
      '2',
      '--threads',
      '1',
      '--lambda',
      '0.1',
      '--lambda-exponent',
      '1',
      '--lambda-alpha0',
      '0.5',
    );
    assert.equal(trained.status, 0, trained.stderr);
    assert.match(trained.stdout, /λ=0\.1·\(n \+ 0\.5·others\)/);
    const options = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')).options;
    assert.deepEqual(
      [options.regularization, options.regularizationExponent, options.regularizationAlpha0],
      [0.1, 1, 0.5],
    );
    const info = als('info', '--model', model, '--json');
    assert.equal(info.status, 0, info.stderr);
    assert.equal(JSON.parse(info.stdout).options.regularizationExponent, 1);
    assert.match(als('info', '--model', model).stdout, /λ=0\.1·\(n \+ 0\.5·others\)/);
  });

  it('takes them from --config, the command line winning', () => {
    const config = join(work, 'settings.json');
    writeFileSync(config, '{"lambda": 0.2, "lambdaExponent": 0.5, "lambdaAlpha0": 2}');
    const model = join(work, 'from-config');
    const trained = als(
      'train',
      file,
      '--format',
      'triples',
      '--model',
      model,
      '--factors',
      '3',
      '--iterations',
      '1',
      '--threads',
      '1',
      '--config',
      config,
      '--lambda-alpha0',
      '0',
    );
    assert.equal(trained.status, 0, trained.stderr);
    const options = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')).options;
    assert.deepEqual(
      [options.regularization, options.regularizationExponent, options.regularizationAlpha0],
      [0.2, 0.5, 0],
    );
  });

  it('refuses values out of range in one line naming the option, exit code 2', () => {
    for (const [flag, value] of [
      ['--lambda-exponent', '-1'],
      ['--lambda-exponent', '3'],
      ['--lambda-exponent', '1e39'],
      ['--lambda-exponent', 'NaN'],
      ['--lambda-alpha0', '-0.5'],
      ['--lambda-alpha0', '1e39'],
    ]) {
      const run = als('train', file, '--format', 'triples', '--model', join(work, 'never'), flag, value);
      assert.equal(run.status, 2, `${flag} ${value}: ${run.stderr}`);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, new RegExp(flag));
    }
  });
});
