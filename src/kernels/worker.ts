/** A worker thread of the WebAssembly kernels: waits for a task, takes chunks, repeats. */
import { parentPort, workerData } from 'node:worker_threads';
import { ARGUMENTS, CONTROL_INTS, joinTask, SLOT, type KernelExports } from './pool.js';

const {
  module,
  memory,
  control: shared,
  thread,
} = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  thread: number;
};
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
const control = new Int32Array(shared, 0, CONTROL_INTS);
const args = new Float64Array(shared, CONTROL_INTS * 4, ARGUMENTS);

let seen = Atomics.load(control, SLOT.generation);
Atomics.add(control, SLOT.ready, 1);
parentPort?.postMessage('ready');
for (;;) {
  Atomics.wait(control, SLOT.generation, seen);
  seen = Atomics.load(control, SLOT.generation);
  if (Atomics.load(control, SLOT.quit) !== 0) break;
  joinTask(exports, control, args, thread);
}
