import { jsKernels } from './js.js';
import type { Kernels } from './types.js';
import { createWasmKernels, createWasmKernelsSync } from './wasm.js';

export type { BlockSelection, HalfStep, Kernels } from './types.js';
export { jsKernels, choleskySolve } from './js.js';
export { createWasmKernels, createWasmKernelsSync } from './wasm.js';

export const KERNEL_ENGINES = ['wasm', 'js'] as const;
/** wasm: WebAssembly SIMD on worker threads (the default); js: the plain TypeScript reference */
export type KernelEngine = (typeof KERNEL_ENGINES)[number];

export async function createKernels(engine: KernelEngine = 'wasm', threads = 1): Promise<Kernels> {
  return engine === 'js' ? jsKernels : createWasmKernels(threads);
}

let queryKernels: Kernels | null = null;

/** The kernels queries use unless told otherwise: WebAssembly, one thread, made on first use. */
export function defaultQueryKernels(): Kernels {
  queryKernels ??= createWasmKernelsSync();
  return queryKernels;
}
