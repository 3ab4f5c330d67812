export type { HalfStep, Kernels } from './types.js';
export { jsKernels, choleskySolve } from './js.js';
