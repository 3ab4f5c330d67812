import { checkKernels, valueForMessage } from '../validate.js';
import { AlsError } from '../errors.js';
import { jsKernels } from './js.js';
import type { Kernels } from './types.js';
import { createWasmKernels, createWasmKernelsSync } from './wasm.js';

export type {
  BlockSelection,
  CosinePairs,
  CosineSelection,
  DotSelection,
  HalfStep,
  Kernels,
  PairedCosineSelection,
} from './types.js';
export { jsKernels, choleskySolve } from './js.js';
export {
  createWasmKernels,
  createWasmKernelsSync,
  kernelBuild,
  kernelBuildAvailable,
  type KernelBuild,
  type WasmKernelOptions,
} from './wasm.js';

export const KERNEL_BACKENDS = ['wasm', 'js'] as const;
/** wasm: WebAssembly SIMD on worker threads (the default); js: the plain TypeScript reference */
export type KernelBackend = (typeof KERNEL_BACKENDS)[number];

export async function createKernels(backend: KernelBackend = 'wasm', threads = 1): Promise<Kernels> {
  return backend === 'js' ? jsKernels : createWasmKernels(threads);
}

/**
 * A copy of `array` in kernels' own memory (kernels.float32/int32), where the WebAssembly kernels
 * work on it in place instead of copying it in on every call.
 */
export function kernelCopy<T extends Int32Array | Float32Array>(kernels: Kernels, array: T): T {
  checkKernels(kernels, true);
  if (!(array instanceof Int32Array || array instanceof Float32Array))
    throw new AlsError('usage', `array must be an Int32Array or a Float32Array, not ${valueForMessage(array)}`);
  const copy = (array instanceof Int32Array ? kernels.int32(array.length) : kernels.float32(array.length)) as T;
  copy.set(array);
  return copy;
}

let queryKernels: Kernels | null = null;

/** The kernels queries use unless told otherwise: WebAssembly, one thread, made on first use. */
export function defaultQueryKernels(): Kernels {
  queryKernels ??= createWasmKernelsSync();
  return queryKernels;
}
