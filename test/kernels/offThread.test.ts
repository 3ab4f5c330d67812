import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createWasmKernels, kernelBuildAvailable, type Kernels } from '../../src/kernels/index.js';
import { quantizeRows } from '../../src/kernels/quantize.js';
import { randomMatrix, tempDir } from '../helpers.js';

// Kernels made with offThread score on their workers alone in the *Async calls, so that a
// server's event loop turns meanwhile: the same numbers as the synchronous calls, one call at a
// time, and the process kept alive while it waits.

const builds = (['fma', 'simd128'] as const).filter((build) => kernelBuildAvailable(build));
const made: Kernels[] = [];
async function kernelsOf(threads: number, build: (typeof builds)[number], offThread: boolean): Promise<Kernels> {
  const kernels = await createWasmKernels(threads, { build, offThread });
  made.push(kernels);
  return kernels;
}
after(() => made.forEach((k) => k.dispose()));

const ROWS = 9001;
const F = 64;
const QUERIES = 16;
const K = 10;
const Y = randomMatrix(ROWS, F, 41);
const Q = randomMatrix(QUERIES, F, 42);
// each query leaves out a few rows of its own
const lists = Array.from({ length: QUERIES }, (_, q) => [q, (q * 37) % ROWS, (q * 1009) % ROWS]);

function selection(kernels: Kernels, rows = ROWS) {
  const excludeStart = new Int32Array(QUERIES + 1);
  for (let q = 0; q < QUERIES; q++) excludeStart[q + 1] = excludeStart[q] + lists[q].length;
  const norms = kernels.float32(rows);
  kernels.rowNorms(Y, rows, F, norms);
  const queryNorms = kernels.float32(QUERIES);
  kernels.rowNorms(Q, QUERIES, F, queryNorms);
  return {
    scores: kernels.float32(QUERIES * rows),
    rows,
    queries: QUERIES,
    k: K,
    excludeStart,
    exclude: Int32Array.from(lists.flat()),
    norms,
    queryNorms,
    best: new Int32Array(QUERIES * K),
    found: new Int32Array(QUERIES),
    range: new Float32Array(2 * QUERIES),
  };
}

/** What a caller reads of a selection: the best rows, their scores and each query's range. */
function answer(s: ReturnType<typeof selection>) {
  return Array.from({ length: s.queries }, (_, q) => {
    const best = Array.from(s.best.subarray(q * s.k, q * s.k + s.found[q]));
    return { best, raw: best.map((j) => s.scores[q * s.rows + j]), range: [s.range[2 * q], s.range[2 * q + 1]] };
  });
}

/** scoresBlock then selectBlock (cosine), synchronously or through the Async forms. */
async function scoredThenSelected(kernels: Kernels, offThread: boolean) {
  const s = selection(kernels);
  if (offThread) {
    await kernels.scoresBlockAsync(Y, ROWS, F, Q, 0, QUERIES, s.scores);
    await kernels.selectBlockAsync(s);
  } else {
    kernels.scoresBlock(Y, ROWS, F, Q, 0, QUERIES, s.scores);
    kernels.selectBlock(s);
  }
  return answer(s);
}

/** cosineBlock (the int8 pass, then the float rows where it leaves the answer open). */
async function cosine(kernels: Kernels, offThread: boolean) {
  const s = selection(kernels);
  const inKernel = kernels.float32(ROWS * F);
  inKernel.set(Y);
  const quantized = quantizeRows(kernels, inKernel, ROWS, F, s.norms);
  const call = { ...s, Y: inKernel, factors: F, quantized, queryRows: Q };
  if (offThread) await kernels.cosineBlockAsync(call);
  else kernels.cosineBlock(call);
  return answer(s);
}

describe('kernels made with offThread', () => {
  for (const build of builds) {
    it(`${build}: the Async calls give the synchronous calls' answers, number for number, on 1 and 2 workers`, async () => {
      const reference = await kernelsOf(1, build, false);
      const wantSelected = await scoredThenSelected(reference, false);
      const wantCosine = await cosine(reference, false);
      assert.equal(wantSelected.length, QUERIES);
      assert.ok(wantSelected.every((a) => a.best.length === K));
      for (const threads of [1, 2]) {
        const kernels = await kernelsOf(threads, build, true);
        const label = `${build}, ${threads} worker${threads > 1 ? 's' : ''}`;
        assert.deepEqual(await scoredThenSelected(kernels, true), wantSelected, `${label}: scoresBlock, selectBlock`);
        assert.deepEqual(await cosine(kernels, true), wantCosine, `${label}: cosineBlock`);
        // synchronous calls on the same kernels take chunks on this thread too
        assert.deepEqual(await scoredThenSelected(kernels, false), wantSelected, `${label}: synchronous`);
        assert.deepEqual(await cosine(kernels, false), wantCosine, `${label}: synchronous cosineBlock`);
      }
    });
  }

  it('refuses any other call while an Async call runs, and takes calls again once it settles', async () => {
    const kernels = await kernelsOf(2, builds[0], true);
    const s = selection(kernels);
    const running = kernels.scoresBlockAsync(Y, ROWS, F, Q, 0, QUERIES, s.scores);
    const refused = { message: /called while an off-thread call runs/ };
    assert.throws(() => kernels.rowNorms(Y, ROWS, F, kernels.float32(ROWS)), refused);
    assert.throws(() => kernels.selectBlock(s), refused);
    await assert.rejects(kernels.selectBlockAsync(s), refused);
    await running;
    await kernels.selectBlockAsync(s);
    assert.deepEqual(answer(s), await scoredThenSelected(await kernelsOf(1, builds[0], false), false));
  });

  it("lets the event loop turn while the workers score (a block's work is not done on the calling thread)", async () => {
    const kernels = await kernelsOf(1, builds[0], true);
    const s = selection(kernels);
    let settled = false;
    const running = kernels
      .scoresBlockAsync(Y, ROWS, F, Q, 0, QUERIES, s.scores)
      .then(() => kernels.selectBlockAsync(s))
      .then(() => (settled = true));
    // 9,001 rows × 16 queries take milliseconds on the worker; this turn's check phase comes first
    const turned = await new Promise<boolean>((resolve) => setImmediate(() => resolve(!settled)));
    assert.equal(turned, true);
    await running;
    assert.equal(settled, true);
  });

  it('keeps the process alive while it waits for the workers (they are unreferenced otherwise)', () => {
    const index = fileURLToPath(new URL('../../src/kernels/index.js', import.meta.url));
    const script = `
      const { createWasmKernels } = await import(${JSON.stringify(index)});
      const kernels = await createWasmKernels(2, { offThread: true });
      const rows = 50000, f = 64, Y = kernels.float32(rows * f).fill(0.5), out = kernels.float32(rows);
      await kernels.scoresBlockAsync(Y, rows, f, Y, 0, 1, out);
      console.log(out[rows - 1]);
      kernels.dispose();`;
    // a file, not --eval: the workers would inherit --input-type, which a file entry refuses
    const file = join(tempDir('als-offthread-'), 'wait.mjs');
    writeFileSync(file, script);
    const output = execFileSync(process.execPath, [file], { encoding: 'utf8' });
    assert.equal(output.trim(), String(Math.fround(64 * 0.25)));
  });

  it('refuses an offThread that is not true or false', async () => {
    await assert.rejects(createWasmKernels(1, { offThread: 'yes' as unknown as boolean }), {
      code: 'usage',
      message: 'options.offThread must be true or false',
    });
  });
});
