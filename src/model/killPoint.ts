/**
 * A test hook for the crash tests of issue 9 (class 5): when the environment variable
 * ALS_TEST_KILL_AT names `step`, the process kills itself with SIGKILL there, as a power cut or
 * `kill -9` would. Steps of a save, in order: locked, staging, wrote-<file> (each data file and
 * timings.json), wrote-model.json, synced, switched, linked-model.json (the first top-level link),
 * linked, cleaning (after the first removal of an old version). `als update` adds
 * update-loaded (lock held, model loaded, nothing written yet).
 */
export function killPoint(step: string): void {
  if (process.env.ALS_TEST_KILL_AT !== step) return;
  process.kill(process.pid, 'SIGKILL');
  // the signal is delivered at once; never go on past the step meanwhile
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}
