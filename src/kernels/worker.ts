/** A worker thread of the WebAssembly kernels: waits for a task, takes chunks, repeats. */
import { parentPort, workerData } from 'node:worker_threads';
import { ARGUMENTS, CONTROL_INTS, joinTask, SLOT, type KernelExports } from './pool.js';

const {
  memory,
  control: shared,
  thread,
} = workerData as {
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  thread: number;
};
const control = new Int32Array(shared, 0, CONTROL_INTS);
const args = new Float64Array(shared, CONTROL_INTS * 4, ARGUMENTS);

// the module comes once this thread has started (WasmKernels.start); then tasks, until quit
parentPort?.once('message', (module: WebAssembly.Module) => {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as KernelExports;
  let seen = Atomics.load(control, SLOT.generation);
  Atomics.add(control, SLOT.ready, 1);
  parentPort?.postMessage('ready');
  for (;;) {
    Atomics.wait(control, SLOT.generation, seen);
    seen = Atomics.load(control, SLOT.generation);
    if (Atomics.load(control, SLOT.quit) !== 0) break;
    joinTask(exports, control, args, thread);
  }
});
parentPort?.postMessage('started');
