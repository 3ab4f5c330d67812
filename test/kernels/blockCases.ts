import assert from 'node:assert/strict';
import { after } from 'node:test';
import { createWasmKernels, kernelBuildAvailable, type Kernels } from '../../src/kernels/index.js';

/*
 * What the tests of cosineBlock and dotBlock share: WebAssembly kernels of every build on 1 and 2
 * threads, a case (rows, queries, exclusions), an answer as plain numbers, and the check that the
 * quantized kernel gives the answer of scoresBlock then selectBlock, number for number.
 */

export const builds = (['fma', 'simd128'] as const).filter((build) => kernelBuildAvailable(build));
export const blockKernels = new Map<string, Kernels>();
for (const build of builds) {
  blockKernels.set(`${build}/1`, await createWasmKernels(1, { build }));
  blockKernels.set(`${build}/2`, await createWasmKernels(2, { build }));
}
after(() => {
  for (const k of blockKernels.values()) k.dispose();
});

export interface Case {
  Y: Float32Array;
  rows: number;
  f: number;
  Q: Float32Array;
  queries: number;
  k: number;
  lists: number[][];
}

export interface Answer {
  best: number[][];
  raw: number[][];
  range: number[][];
}

/** Each query's best rows, their scores and its range, read from a selection after the call. */
export function answer(s: {
  queries: number;
  k: number;
  rows: number;
  best: Int32Array;
  found: Int32Array;
  scores: Float32Array;
  range: Float32Array;
}): Answer {
  const out: Answer = { best: [], raw: [], range: [] };
  for (let q = 0; q < s.queries; q++) {
    const best = Array.from(s.best.subarray(q * s.k, q * s.k + s.found[q]));
    out.best.push(best);
    out.raw.push(best.map((j) => s.scores[q * s.rows + j]));
    out.range.push([s.range[2 * q], s.range[2 * q + 1]]);
  }
  return out;
}

/** `quantized` gives `exact`'s answer (one thread of the same build) in every build, on 1 and 2 threads. */
export function checkBlock(
  name: string,
  c: Case,
  exact: (kernels: Kernels, c: Case) => Answer,
  quantized: (kernels: Kernels, c: Case) => Answer,
): void {
  for (const build of builds) {
    const want = exact(blockKernels.get(`${build}/1`)!, c);
    for (const threads of [1, 2]) {
      const got = quantized(blockKernels.get(`${build}/${threads}`)!, c);
      assert.deepEqual(got, want, `${name}: ${build}, ${threads} thread${threads > 1 ? 's' : ''}`);
    }
  }
}

/** The arrays of a case's selection: room for its scores, its exclusions, and the outputs. */
export function blockSelection(kernels: Kernels, c: Case) {
  const { rows, queries, k, lists } = c;
  const excludeStart = new Int32Array(queries + 1);
  for (let q = 0; q < queries; q++) excludeStart[q + 1] = excludeStart[q] + lists[q].length;
  return {
    scores: kernels.float32(Math.max(1, queries * rows)),
    rows,
    queries,
    k,
    excludeStart,
    exclude: Int32Array.from(lists.flat()),
    best: new Int32Array(Math.max(1, queries * k)),
    found: new Int32Array(queries),
    range: new Float32Array(2 * queries),
  };
}

/** scoresBlock then selectBlock of the case into `s` (a blockSelection, with norms for the cosine step): the answer to match. */
export function scoredAnswer(kernels: Kernels, c: Case, s: ReturnType<typeof blockSelection>): Answer {
  kernels.scoresBlock(c.Y, c.rows, c.f, c.Q, 0, c.queries, s.scores);
  kernels.selectBlock(s);
  return answer(s);
}

/** The case's rows copied into the kernels' memory, as the quantized kernels take them. */
export function residentRows(kernels: Kernels, c: Case): Float32Array {
  const Y = kernels.float32(Math.max(1, c.rows * c.f));
  Y.set(c.Y);
  return Y;
}
