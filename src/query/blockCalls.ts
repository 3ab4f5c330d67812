import type { BlockSelection, CosineSelection, Kernels } from '../kernels/index.js';
import type { QuantizedRows } from '../kernels/quantize.js';

/**
 * The kernel calls of a block of queries, written once as steps (generators that yield them) and
 * made either at once (callNow: the --all writers, BlockQueries.similar) or off the calling
 * thread (callOffThread: the server, through the kernels' Async forms).
 */

/** One kernel call of a block, made at once or off the thread. */
export interface KernelCall {
  now(): void;
  offThread(): Promise<void>;
}

/** Runs the steps of a block query, each kernel call at once; returns their answers. */
export function callNow<T>(steps: Generator<KernelCall, T, void>): T {
  let step = steps.next();
  while (step.done !== true) {
    step.value.now();
    step = steps.next();
  }
  return step.value;
}

/** callNow with each kernel call off the thread: the steps resume once it is done. */
export async function callOffThread<T>(steps: Generator<KernelCall, T, void>): Promise<T> {
  let step = steps.next();
  while (step.done !== true) {
    await step.value.offThread();
    step = steps.next();
  }
  return step.value;
}

/**
 * scoresBlock of the selection's queries (rows qFirst … of Q) against its rows of Y, into its
 * scores, then selectBlock.
 */
export function* scoredAndSelected(
  kernels: Kernels,
  Y: Float32Array,
  factors: number,
  Q: Float32Array,
  qFirst: number,
  selection: BlockSelection,
): Generator<KernelCall, void, void> {
  const scores = [Y, selection.rows, factors, Q, qFirst, selection.queries, selection.scores] as const;
  yield { now: () => kernels.scoresBlock(...scores), offThread: () => kernels.scoresBlockAsync(...scores) };
  yield { now: () => kernels.selectBlock(selection), offThread: () => kernels.selectBlockAsync(selection) };
}

/**
 * The cosine top k of the selection's queries (rows qFirst … of Q) against its rows of Y:
 * cosineBlock through the rows' int8 copy when there is one (the same numbers), else
 * scoredAndSelected with the cosine step.
 */
export function* cosineTopK(
  kernels: Kernels,
  Y: Float32Array,
  factors: number,
  quantized: QuantizedRows | null,
  Q: Float32Array,
  qFirst: number,
  selection: Omit<CosineSelection, 'Y' | 'factors' | 'quantized' | 'queryRows'>,
): Generator<KernelCall, void, void> {
  if (quantized === null) {
    yield* scoredAndSelected(kernels, Y, factors, Q, qFirst, selection);
    return;
  }
  const queryRows = Q.subarray(qFirst * factors, (qFirst + selection.queries) * factors);
  const cosine = { ...selection, Y, factors, quantized, queryRows };
  yield { now: () => kernels.cosineBlock(cosine), offThread: () => kernels.cosineBlockAsync(cosine) };
}
