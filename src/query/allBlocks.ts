import { availableParallelism } from 'node:os';
import type { Kernels } from '../kernels/index.js';
import { startWasmKernels } from '../kernels/wasm.js';

// What the --all writers (recommendAll.ts, similarAll.ts) share: their kernels, the arrays of a
// block of queries, and the loop that writes one block's lines while the next is scored.

/**
 * Queries scored together: each item row is read from memory once per block instead of once
 * per query (at 292K items × 64 factors: 1.4 ms per query instead of 2.5 on one thread; 8 gave
 * nearly the same, 4 a little less). The block's scores take QUERY_BLOCK × items floats.
 */
export const QUERY_BLOCK = 16;

/**
 * Scores a block of the --all writers may take (32 MB; two blocks are held), and the most
 * queries in a block: 128 queries a block instead of 16 took similar --all on 20,000 items from
 * 0.98 to 0.82 s (fewer hand-overs between this thread and the workers); more gave nothing.
 */
const ALL_BLOCK_FLOATS = 8 * 1024 * 1024;
const ALL_BLOCK_MOST = 128;

/** Queries in a block of the --all writers for `rows` rows: a multiple of 8, QUERY_BLOCK to ALL_BLOCK_MOST. */
export function allBlockQueries(rows: number): number {
  return Math.max(QUERY_BLOCK, Math.min(ALL_BLOCK_MOST, Math.floor(ALL_BLOCK_FLOATS / Math.max(1, rows)) & ~7));
}

/** The arrays of one block of queries (kernel memory is never freed: kept per kernels). */
export interface BlockScratch {
  queries: number;
  items: number;
  k: number;
  scores: Float32Array;
  excludeStart: Int32Array;
  best: Int32Array;
  found: Int32Array;
  range: Float32Array;
}

const blocks = new WeakMap<Kernels, BlockScratch[]>();

/**
 * The arrays of one block of `queries` queries for `items` rows and `k` best, made once per
 * kernels and kept (grown when a call needs more); `slot` 1 is a second set, for a block whose
 * lines are written while the next one is scored.
 */
export function blockScratch(kernels: Kernels, queries: number, items: number, k: number, slot: 0 | 1): BlockScratch {
  let slots = blocks.get(kernels);
  if (slots === undefined) blocks.set(kernels, (slots = []));
  let scratch = slots[slot];
  if (scratch === undefined || scratch.queries < queries || scratch.items < items || scratch.k < k) {
    const block = Math.max(queries, scratch?.queries ?? 0);
    const size = Math.max(items, scratch?.items ?? 0);
    const most = Math.max(k, scratch?.k ?? 0, 1);
    scratch = {
      queries: block,
      items: size,
      k: most,
      scores: kernels.float32(block * size),
      excludeStart: kernels.int32(block + 1),
      best: kernels.int32(block * most),
      found: kernels.int32(block),
      range: kernels.float32(2 * block),
    };
    slots[slot] = scratch;
  }
  return scratch;
}

/**
 * `kernels` when given, else WebAssembly kernels on every CPU for this one run (the caller
 * disposes of them through `owned`), every CPU a worker, so that the *Async calls score while
 * the calling thread writes the previous block's lines. Their workers start meanwhile: the
 * caller prepares its rows on its own thread, then awaits `ready` before the first *Async call.
 */
export function allQueryKernels(kernels: Kernels | undefined): {
  kernels: Kernels;
  owned: Kernels | null;
  ready: Promise<unknown>;
} {
  if (kernels !== undefined) return { kernels, owned: null, ready: Promise.resolve() };
  const started = startWasmKernels(availableParallelism(), { offThread: true });
  return { kernels: started.kernels, owned: started.kernels, ready: started.ready };
}

/**
 * Scores `total` queries `block` at a time (`score`: the block from `first` on into `slot`'s
 * arrays) and emits each block's lines (`text`), block b's made and written while block b + 1 is
 * scored in the other slot. Both slots' arrays must exist before the first call.
 */
export async function emitBlocks(
  total: number,
  block: number,
  score: (first: number, slot: 0 | 1) => Promise<void>,
  text: (first: number, slot: 0 | 1) => string | Uint8Array,
  emit: (text: string | Uint8Array) => Promise<void>,
): Promise<void> {
  let running = total > 0 ? score(0, 0) : null;
  for (let first = 0, slot: 0 | 1 = 0; running !== null; first += block, slot = slot === 0 ? 1 : 0) {
    await running;
    const next = first + block;
    running = next < total ? score(next, slot === 0 ? 1 : 0) : null;
    try {
      await emit(text(first, slot));
    } catch (error) {
      // the call in flight is done before the kernels are disposed of
      await running?.catch(() => undefined);
      throw error;
    }
  }
}
