import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { AlsError } from '../errors.js';
import { checkOptions, firstBadFactor, MAX_FACTOR_BITS } from '../validate.js';
import { uniformFill } from './uniform.js';
import { countingTranspose, type CsrArrays } from './transpose.js';
import { Worker } from 'node:worker_threads';
import { jsKernels } from './js.js';
import { ARG, ARGUMENTS, CLOSED, CONTROL_BYTES, CONTROL_INTS, SLOT, TASK, work, type KernelExports } from './pool.js';
import { codeStride, quantizeProductQueries, quantizeQueries, safeNorm } from './quantize.js';
import type {
  BlockSelection,
  CosinePairs,
  CosineSelection,
  DotSelection,
  HalfStep,
  Kernels,
  PairedCosineSelection,
} from './types.js';
import type { QuantizedRows } from './quantize.js';

const PAGE = 65536;
/**
 * How many copies of arrays from outside kernel memory (resident) a Kernels instance keeps: a
 * query uses up to two (a model's factors and norms), a server reloading holds two models' worth.
 */
const RESIDENT_COPIES = 8;
/** rows per Gramian chunk handed to a thread (its rows all cost the same) */
const GRAMIAN_CHUNK_ROWS = 2048;
/** entries from which transpose splits its rows over the threads */
const TRANSPOSE_PARALLEL_FROM = 1 << 16;
/** numbers per chunk of firstBadFactor's scan: 4 MB, about 0.6 ms */
const BAD_FACTOR_CHUNK = 1024 * 1024;
/** numbers per chunk of uniformFill: 1 MB */
const UNIFORM_CHUNK = 256 * 1024;
/**
 * Chunks per call of a row update: enough to even out rows of very different cost over the
 * threads. Fixed, not per thread, so that per-chunk sums (the loss) add up in the same order
 * whatever the thread count.
 */
const CHUNKS_PER_CALL = 256;
/** item rows per chunk of a block of query scores: 4096 × 16 queries is about 0.3 ms of work */
const SCORE_CHUNK_ROWS = 4096;
/**
 * item rows per chunk of cosineBlock's and dotBlock's int8 pass: 1024 × 16 queries is about 25 µs
 * of work; 4096 left 20,000 rows in 5 chunks, 3 for one thread and 2 for the other
 */
const PRODUCT_CHUNK_ROWS = 1024;
/**
 * Queries per chunk of a block scored in query groups (approxRefine): a multiple of 4 (the int8
 * pass takes four queries at a time); blocks of fewer than this many per thread are split by rows.
 */
const QUERY_GROUP = 8;
/**
 * Blocks of at least this many queries keep each group's approximate scores in the thread's
 * scratch (QUERY_GROUP rows of scores a thread) rather than in the block's scores: about 4%
 * off similar --all on the 2.5M-row model (blocks of 128), but memory a server's blocks of 16
 * would keep for good (15 MB more at the 360K shape: its RSS is bounded against the model's size).
 */
const GROUP_SCORES_FROM = 64;
/** rows of a block whose extremes cosineBlock's int8 pass notes (EXTREME_ROWS of the kernels; a divisor of SCORE_CHUNK_ROWS) */
const EXTREME_ROWS = 64;
/**
 * Most bytes of a CosinePairs' extremes matrix (rows × ⌈rows / 64⌉ pairs of floats): the
 * 18,978 candidates of the 2.5M-row model take 45 MB; beyond about 22,000 rows each query scores
 * every row instead (cosineBlock).
 */
const PAIRS_MOST_BYTES = 64 * 1024 * 1024;
/** tiles of 64 × 64 rows per chunk of pairTiles (about 20 µs each at 64 factors) */
const PAIR_CHUNK_TILES = 8;
/** queries per chunk of pairedRefineRows */
const PAIRED_CHUNK_QUERIES = 4;
/** the most blocks pairedRefineRows seeds its cuts from (SEEDED_BLOCKS_UP_TO of the kernels): k plus the query row itself */
const PAIRED_SEEDS_MOST = 16;
/** rows per chunk of quantizeUnitRows (a multiple of four) */
const QUANTIZE_CHUNK_ROWS = 2048;
/** rows coded as queries per chunk of cosinePairs */
const CODE_CHUNK_ROWS = 2048;
/**
 * CG copies the Y rows of a row into per-thread scratch before its steps (see cgRows) when they
 * take at least GATHER_FROM_BYTES: shorter sets stay in the core's own cache between passes
 * anyway, and copying them only costs time (about 8% of a user half-step, measured). The gain
 * is in the long rows: at Last.fm 360K scale an item half-step takes a fifth to a quarter less.
 */
export const GATHER_FROM_BYTES = 32 * 1024;
/**
 * ...and at most GATHER_BYTES per thread (64 factors: 32,768 rows); longer rows read Y in place.
 * 64 MB gathered the most popular artist of Last.fm 360K scale too (119,431 listeners, 31 MB of
 * scratch per thread) for no gain: its full-scale item half-step took 1.00 s on 2 threads with
 * 64 MB against 0.96 s with 8 MB (3 alternating rounds, 4 December), and the peak RSS of a
 * full-scale train fell from 0.96 to 0.92 GiB.
 */
export const GATHER_BYTES = 8 * 1024 * 1024;

export interface WasmKernelOptions {
  /**
   * The rows whose Y rows CG gathers, by observed columns: from gatherFrom up to gatherUpTo
   * (defaults from GATHER_FROM_BYTES and GATHER_BYTES). gatherUpTo 0: none, all read Y in place.
   * Either way the factors are the same, bit for bit.
   */
  gatherFrom?: number;
  gatherUpTo?: number;
  /** the build to run (default: kernelBuild(), the best this engine compiles) */
  build?: KernelBuild;
  /**
   * Every one of `threads` threads a worker (default false: the calling thread is one of them), so
   * that the *Async methods score while the calling thread's event loop turns (a server reads
   * and answers requests meanwhile). Synchronous calls still take chunks on the calling thread too.
   */
  offThread?: boolean;
}

/**
 * The two builds of src/kernels/assembly (`npm run build`): 'fma' has relaxed SIMD, so that
 * training and scoring fuse each multiply and add (f32x4.relaxed_madd: one rounding, faster
 * where the CPU has FMA); 'simd128' is plain SIMD128, the same bytes on every CPU. The two
 * differ in last bits; within a build, threads never change a result.
 */
export type KernelBuild = 'fma' | 'simd128';

const FILE_OF: Record<KernelBuild, string> = { fma: './kernels-fma.wasm', simd128: './kernels.wasm' };
const compiled = new Map<KernelBuild, WebAssembly.Module>();
let chosen: KernelBuild | null = null;

function buildBytes(build: KernelBuild): Buffer {
  return readFileSync(new URL(FILE_OF[build], import.meta.url));
}

/**
 * The build this process uses: 'fma' when the engine compiles relaxed SIMD, else 'simd128';
 * ALS_KERNELS=simd128 in the environment asks for the plain one. Node 20 compiles relaxed SIMD
 * behind V8's flag, which is set here, before the first compile (flags are the process's, so
 * worker threads have it too); later Node versions need none.
 */
export function kernelBuild(): KernelBuild {
  if (chosen !== null) return chosen;
  chosen = process.env.ALS_KERNELS !== 'simd128' && compileFma() ? 'fma' : 'simd128';
  return chosen;
}

/** Compiles the fma build (the engine's flag set when needed) into `compiled`; false when the engine cannot. */
function compileFma(): boolean {
  if (compiled.has('fma')) return true;
  const bytes = buildBytes('fma');
  for (const flag of [null, '--experimental-wasm-relaxed-simd']) {
    if (flag !== null) setFlagsFromString(flag);
    try {
      compiled.set('fma', new WebAssembly.Module(bytes));
      return true;
    } catch {
      // a CompileError: relaxed SIMD is off (or unknown) in this engine
    }
  }
  return false;
}

/** Whether `build` compiles here (the fma build needs relaxed SIMD: see kernelBuild). */
export function kernelBuildAvailable(build: KernelBuild): boolean {
  return build === 'simd128' || compileFma();
}

/** The compiled kernels of `build`. */
export function kernelModule(build: KernelBuild): WebAssembly.Module {
  if (build === 'fma' && !compileFma())
    throw new AlsError(
      'usage',
      'the fma build of the kernels needs WebAssembly relaxed SIMD, which this version of Node.js does not compile',
    );
  let module = compiled.get(build);
  if (module === undefined) {
    module = new WebAssembly.Module(buildBytes(build));
    compiled.set(build, module);
  }
  return module;
}

interface TypedArrayType<T> {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/**
 * An allocator over one shared WebAssembly memory: the arrays the kernels work on live here, so
 * neither side copies. Arrays handed out are never freed (a Kernels instance lives as long as a
 * job, and a caller may keep any view on them); only the kernels' own copies are given back
 * (release), so that a long job that queries model after model (als tune, a library loop over
 * evaluate) reuses their memory instead of growing to the 4 GiB limit.
 */
class Arena {
  readonly memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
  // page 0 stays unused so that a zero pointer is never valid data
  private top = PAGE;
  /** the highest address ever used: memory above it is still as growing made it, zero */
  private highWater = PAGE;
  /** blocks given back, sorted by address, adjacent ones merged */
  private readonly free: { at: number; bytes: number }[] = [];
  /** size of every block that may be given back, by address */
  private readonly releasable = new Map<number, number>();
  private readonly owned = new WeakSet<ArrayBufferView>();
  /** every buffer object the memory has had (growing replaces it; views on an older one stay valid) */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  /** The address of a block of `bytes` (a multiple of 16), first fit among the blocks given back. */
  private alloc(bytes: number): number {
    for (let n = 0; n < this.free.length; n++) {
      const block = this.free[n];
      if (block.bytes < bytes) continue;
      const at = block.at;
      if (block.bytes === bytes) this.free.splice(n, 1);
      else {
        block.at += bytes;
        block.bytes -= bytes;
      }
      return at;
    }
    const at = this.top;
    this.top += bytes;
    const needed = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (needed > 0) this.memory.grow(needed);
    return at;
  }

  /** A new zeroed array of `length` elements in kernel memory; `releasable`: one that release may give back. */
  private view<T extends ArrayBufferView>(Type: TypedArrayType<T>, length: number, releasable = false): T {
    const bytes = (length * Type.BYTES_PER_ELEMENT + 15) & ~15;
    const at = this.alloc(bytes); // before reading .buffer, which growing replaces
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    const array = new Type(buffer, at, length);
    // a block given back holds old numbers; memory above the high-water mark is zero from growing
    if (at < this.highWater) new Uint8Array(buffer, at, Math.min(bytes, this.highWater - at)).fill(0);
    this.highWater = Math.max(this.highWater, at + bytes);
    this.owned.add(array);
    if (releasable) this.releasable.set(at, bytes);
    return array;
  }

  float32 = (length: number) => this.view(Float32Array, length);
  int32 = (length: number) => this.view(Int32Array, length);
  uint8 = (length: number) => this.view(Uint8Array, length);
  float64 = (length: number) => this.view(Float64Array, length);

  /** A float32 array that `release` may give back: for copies no caller ever sees. */
  releasableFloat32 = (length: number) => this.view(Float32Array, length, true);

  /**
   * Gives back the block of an array made by releasableFloat32. Only when no kernel call is
   * running (a worker may be reading it) and no view on it is kept.
   */
  release(array: Float32Array): void {
    const bytes = this.releasable.get(array.byteOffset);
    if (bytes === undefined || !this.owned.has(array)) throw new Error('release: not a releasable arena array');
    this.releasable.delete(array.byteOffset);
    let at = array.byteOffset;
    let size = bytes;
    // merge with the blocks on either side, and give the end of the arena back to the bump pointer
    let n = 0;
    while (n < this.free.length && this.free[n].at < at) n++;
    if (n < this.free.length && this.free[n].at === at + size) size += this.free.splice(n, 1)[0].bytes;
    if (n > 0 && this.free[n - 1].at + this.free[n - 1].bytes === at) {
      n--;
      at = this.free[n].at;
      size += this.free.splice(n, 1)[0].bytes;
    }
    if (at + size === this.top) this.top = at;
    else this.free.splice(n, 0, { at, bytes: size });
  }

  /** Whether `array` lives in this memory: an array made here, or any view on its memory (a subarray of one) */
  owns(array: ArrayBufferView): boolean {
    return this.owned.has(array) || this.buffers.has(array.buffer);
  }

  /** Bytes below the bump pointer (in use or given back): what the memory holds at least. */
  get extent(): number {
    return this.top;
  }
}

/** A reusable arena array that grows when a call needs more. */
class Scratch<T extends Float32Array | Float64Array | Int32Array> {
  private array: T | null = null;
  constructor(private readonly make: (length: number) => T) {}
  get(length: number): T {
    if (this.array === null || this.array.length < length) this.array = this.make(Math.max(length, 16));
    return this.array;
  }
}

/** A selection's outputs in kernel memory (stageSelection). */
interface StagedSelection {
  best: Int32Array;
  found: Int32Array;
  range: Float32Array;
}

/**
 * One task of a kernel call: `kind` over rows [first, first + rows) in chunks (see
 * WasmKernels.run), and optionally a second part that needs the whole first one done
 * (SLOT.split), handed to the threads with it so that they go on without the caller.
 */
interface Task {
  kind: number;
  first: number;
  rows: number;
  chunkRows: number;
  scratchBytesPerThread: number;
  then?: { kind: number; rows: number; chunkRows: number; scratchBytesPerThread: number; free?: boolean };
  /** chunk boundaries in kernel memory (see ARG.bounds), boundsCount chunks; else chunks of chunkRows */
  bounds?: Int32Array;
  boundsCount?: number;
}

function task(kind: number, rows: number, chunkRows: number, scratchBytesPerThread: number): Task {
  return { kind, first: 0, rows, chunkRows, scratchBytesPerThread };
}

/**
 * Resolves with control[slot] once `reached` holds for it, the thread free meanwhile
 * (Atomics.waitAsync: woken by the Atomics.notify of whoever changes the slot).
 */
async function valueReached(control: Int32Array, slot: number, reached: (value: number) => boolean): Promise<number> {
  for (;;) {
    const value = Atomics.load(control, slot);
    if (reached(value)) return value;
    const waiting = Atomics.waitAsync(control, slot, value);
    if (waiting.async) await waiting.value;
  }
}

class WasmKernels implements Kernels {
  readonly name = 'wasm';
  private readonly arena = new Arena();
  private chosenBuild: KernelBuild | undefined;
  private instance: KernelExports | undefined;
  private readonly control: Int32Array;
  private readonly args: Float64Array;
  private readonly workers: Worker[] = [];
  private readonly threadScratch = new Scratch((n) => this.arena.float64(n));
  private readonly partials = new Scratch((n) => this.arena.float64(n));
  private readonly matrix32 = new Scratch((n) => this.arena.float32(n));
  private readonly matrix64 = new Scratch((n) => this.arena.float64(n));
  private readonly staging = new Scratch((n) => this.arena.float32(n));
  private readonly vector = new Scratch((n) => this.arena.float32(n));

  /** threads started as workers */
  private readonly workerCount: number;
  /** threads that may take chunks of one task (workers and the calling thread): their scratch slots */
  private readonly slots: number;
  /** an *Async call is running: every other call is refused until it is done */
  private busy = false;

  constructor(
    readonly threads: number,
    private readonly options: WasmKernelOptions = {},
  ) {
    const offThread = options.offThread ?? false;
    if (typeof offThread !== 'boolean') throw new AlsError('usage', 'options.offThread must be true or false');
    this.workerCount = offThread ? threads : threads - 1;
    this.slots = this.workerCount + 1;
    if (options.build !== undefined && !Object.hasOwn(FILE_OF, options.build))
      throw new AlsError('usage', `options.build must be fma or simd128, not ${String(options.build)}`);
    const shared = new SharedArrayBuffer(CONTROL_BYTES);
    this.control = new Int32Array(shared, 0, CONTROL_INTS);
    this.args = new Float64Array(shared, CONTROL_INTS * 4, ARGUMENTS);
    Atomics.store(this.control, SLOT.state, CLOSED);
  }

  /** The build these kernels run: options.build, else kernelBuild() (compiled when first asked). */
  get build(): KernelBuild {
    return (this.chosenBuild ??= this.options.build ?? kernelBuild());
  }

  /**
   * This thread's instance, made on first use: the module is compiled (and V8's flag for
   * relaxed SIMD set, kernelBuild) only then, so that workers started before it start faster.
   */
  private get exports(): KernelExports {
    return (this.instance ??= new WebAssembly.Instance(kernelModule(this.build), { env: { memory: this.arena.memory } })
      .exports as unknown as KernelExports);
  }

  /**
   * Starts threads − 1 workers (the calling thread is the last one), or threads with offThread,
   * and waits until they listen. The module goes to them once they have all started: a worker
   * that starts after V8's flag for relaxed SIMD is set (kernelBuild) takes about twice as long
   * (about 40 against 25 ms on the development machine: its built-in modules are compiled anew,
   * on a core the calling thread needs), so the flag is set after, unless a call on this thread
   * or other kernels set it before.
   */
  async start(): Promise<this> {
    const message = (worker: Worker): Promise<unknown> =>
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    const booted: Promise<unknown>[] = [];
    for (let thread = 1; thread <= this.workerCount; thread++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), {
        workerData: { memory: this.arena.memory, control: this.control.buffer, thread },
      });
      worker.unref();
      booted.push(message(worker));
      this.workers.push(worker);
    }
    await Promise.all(booted);
    const module = kernelModule(this.build);
    const ready = this.workers.map(message);
    for (const worker of this.workers) worker.postMessage(module);
    await Promise.all(ready);
    return this;
  }

  float32(length: number): Float32Array {
    return this.arena.float32(length);
  }

  int32(length: number): Int32Array {
    return this.arena.int32(length);
  }

  uint8(length: number): Uint8Array {
    return this.arena.uint8(length);
  }

  /** The address of `array` in kernel memory; arrays from elsewhere are refused. */
  private address(array: ArrayBufferView): number {
    if (!this.arena.owns(array))
      throw new Error('wasm kernels: array not allocated by these kernels (use kernels.float32/int32)');
    return array.byteOffset;
  }

  /** Refuses a call while an *Async call runs: they share the arguments and scratch arrays. */
  private idle(): void {
    if (this.busy) throw new Error('wasm kernels: called while an off-thread call runs (await it first)');
  }

  /** Runs `kind` over rows [first, first + rows) in chunks on every thread; returns the chunk count. */
  private run(
    kind: number,
    first: number,
    rows: number,
    chunkRows: number,
    scratchBytesPerThread: number,
    bounds?: Int32Array,
    boundsCount = 0,
  ): number {
    return this.runTask({ kind, first, rows, chunkRows, scratchBytesPerThread }, bounds, boundsCount);
  }

  /** Runs `task` on every thread, this one included; returns its chunk count. */
  private runTask(task: Task, bounds?: Int32Array, boundsCount = 0): number {
    this.idle();
    const chunks = this.open(task, bounds, boundsCount);
    if (chunks === 0) return 0;
    work(this.exports, this.control, this.args, 0);
    // every chunk is handed out: wait for the workers in the task to finish theirs, and close it
    // (a worker still asleep is not waited for: the chunks are done without it)
    const c = this.control;
    for (;;) {
      const state = Atomics.load(c, SLOT.state);
      if (state === 0 && Atomics.compareExchange(c, SLOT.state, 0, CLOSED) === 0) break;
      if (state !== 0) Atomics.wait(c, SLOT.state, state);
    }
    return chunks;
  }

  /**
   * run() done by the workers alone, the calling thread free meanwhile: resolves once every
   * chunk is done and no worker is left in the task, which is then closed.
   */
  private async runOffThread(task: Task): Promise<void> {
    const chunks = this.open(task, task.bounds, task.boundsCount);
    if (chunks === 0) return;
    const c = this.control;
    await valueReached(c, SLOT.done, (done) => done >= chunks);
    for (;;) {
      await valueReached(c, SLOT.state, (state) => state === 0);
      if (Atomics.compareExchange(c, SLOT.state, 0, CLOSED) === 0) return;
    }
  }

  /** Opens `task` and wakes the workers; returns its chunk count (both parts). */
  private open(task: Task, bounds?: Int32Array, boundsCount = 0): number {
    const { kind, first, rows, chunkRows, then } = task;
    const split = bounds ? boundsCount : Math.ceil(rows / chunkRows);
    const chunks = split + (then === undefined ? 0 : Math.ceil(then.rows / then.chunkRows));
    if (chunks === 0) return 0;
    const scratchBytes = Math.max(task.scratchBytesPerThread, then?.scratchBytesPerThread ?? 0);
    const stride = (scratchBytes + 15) & ~15;
    const scratch = this.threadScratch.get(Math.ceil((stride * this.slots) / 8));
    const a = this.args;
    a[ARG.first] = first;
    a[ARG.rows] = rows;
    a[ARG.chunkRows] = chunkRows;
    a[ARG.scratch] = scratch.byteOffset;
    a[ARG.scratchStride] = stride;
    a[ARG.bounds] = bounds ? bounds.byteOffset : 0;
    a[ARG.thenRows] = then?.rows ?? 0;
    a[ARG.thenChunkRows] = then?.chunkRows ?? 0;
    const c = this.control;
    Atomics.store(c, SLOT.kind, kind);
    Atomics.store(c, SLOT.thenKind, then?.kind ?? 0);
    Atomics.store(c, SLOT.thenFree, then?.free === true ? 1 : 0);
    Atomics.store(c, SLOT.split, split);
    Atomics.store(c, SLOT.total, chunks);
    Atomics.store(c, SLOT.next, 0);
    Atomics.store(c, SLOT.done, 0);
    // open (no worker in it yet), then wake the workers
    Atomics.store(c, SLOT.state, 0);
    Atomics.add(c, SLOT.generation, 1);
    Atomics.notify(c, SLOT.generation);
    return chunks;
  }

  /** Runs the tasks that `steps` yields one after the other, on the calling thread and the workers. */
  private drive(steps: Generator<Task, void, void>): void {
    this.idle();
    for (const next of steps) this.runTask(next, next.bounds, next.boundsCount);
  }

  /**
   * drive() on the workers alone, with offThread: the calling thread's event loop turns until
   * the promise settles, and every other call is refused meanwhile. Without, drive() at once.
   */
  private async driveOffThread(steps: Generator<Task, void, void>): Promise<void> {
    if (this.workerCount < this.threads) return this.drive(steps);
    this.idle();
    this.busy = true;
    // a pending Atomics.waitAsync does not keep the process alive; a worker does, while referenced
    this.workers[0].ref();
    try {
      // the generator resumes only once its task is done: it may then set the next one's arguments
      for (const next of steps) await this.runOffThread(next);
    } finally {
      this.busy = false;
      this.workers[0]?.unref();
    }
  }

  private readonly boundsScratch = new Scratch((n) => this.arena.float32(n));

  /**
   * Chunk boundaries over rows [start, end) of about equal work (a row costs its observed
   * entries plus a fixed part for the f × f work), so that a few very popular items do not
   * leave the other threads waiting.
   */
  private balancedChunks(
    step: HalfStep,
    start: number,
    end: number,
  ): { bounds: Int32Array; count: number; longest: number } {
    const { indptr, factors: f } = step;
    const rowCost = f / 4;
    const total = indptr[end] - indptr[start] + rowCost * (end - start);
    const target = Math.max(total / CHUNKS_PER_CALL, 1);
    const scratch = this.boundsScratch.get(end - start + 2);
    const bounds = new Int32Array(scratch.buffer, scratch.byteOffset, end - start + 2);
    let count = 0;
    bounds[0] = start;
    let cost = 0;
    let longest = 0;
    for (let u = start; u < end; u++) {
      const length = indptr[u + 1] - indptr[u];
      if (length > longest) longest = length;
      cost += length + rowCost;
      if (cost >= target) {
        bounds[++count] = u + 1;
        cost = 0;
      }
    }
    if (bounds[count] !== end) bounds[++count] = end;
    return { bounds, count, longest };
  }

  private setStep(step: HalfStep, YtY: number): void {
    const a = this.args;
    a[ARG.X] = this.address(step.X);
    a[ARG.Y] = this.address(step.Y);
    a[ARG.factors] = step.factors;
    a[ARG.indptr] = this.address(step.indptr);
    a[ARG.indices] = this.address(step.indices);
    a[ARG.confidence] = this.address(step.confidence);
    a[ARG.YtY] = YtY;
    a[ARG.rowLambda] = step.rowRegularization === undefined ? 0 : this.address(step.rowRegularization);
  }

  /** YtY as float32 in kernel memory. */
  private YtY32(YtY: Float64Array): number {
    const out = this.matrix32.get(YtY.length);
    for (let n = 0; n < YtY.length; n++) out[n] = YtY[n];
    return out.byteOffset;
  }

  gramian(Y: Float32Array, rows: number, f: number, regularization: number, out: Float64Array): void {
    this.idle();
    const chunks = Math.ceil(rows / GRAMIAN_CHUNK_ROWS);
    const partials = this.partials.get(Math.max(1, chunks) * f * f);
    this.args[ARG.Y] = this.address(Y);
    this.args[ARG.factors] = f;
    this.args[ARG.out] = partials.byteOffset;
    this.run(TASK.gramian, 0, rows, GRAMIAN_CHUNK_ROWS, f * f * 4);
    // summed in chunk order, so the result is the same for any number of threads
    out.fill(0);
    for (let chunk = 0; chunk < chunks; chunk++) {
      const base = chunk * f * f;
      for (let n = 0; n < f * f; n++) out[n] += partials[base + n];
    }
    for (let a = 0; a < f; a++) out[a * f + a] += regularization;
  }

  cgUpdate(step: HalfStep, steps: number, start: number, end: number): void {
    this.idle();
    this.setStep(step, this.YtY32(step.YtY));
    this.args[ARG.steps] = steps;
    const { bounds, count, longest } = this.balancedChunks(step, start, end);
    const rowBytes = step.factors * 4;
    const from = this.options.gatherFrom ?? Math.ceil(GATHER_FROM_BYTES / rowBytes);
    const upTo = this.options.gatherUpTo ?? Math.floor(GATHER_BYTES / rowBytes);
    // room for the two longest rows that are gathered (cgRows takes rows two at a time when
    // theirs fit together, up to upTo)
    const room = longest >= from ? Math.min(2 * longest, upTo) : 0;
    this.args[ARG.gatherFrom] = from;
    this.args[ARG.gatherUpTo] = upTo;
    this.run(TASK.cg, start, end - start, 0, this.exports.cgScratchBytes(step.factors, room), bounds, count);
  }

  exactUpdate(step: HalfStep, start: number, end: number): void {
    this.idle();
    const f = step.factors;
    const YtY = this.matrix64.get(f * f);
    YtY.set(step.YtY);
    this.setStep(step, YtY.byteOffset);
    const { bounds, count } = this.balancedChunks(step, start, end);
    this.run(TASK.exact, start, end - start, 0, this.exports.exactScratchBytes(f), bounds, count);
    // a system that was not positive definite (λ = 0, few observations) comes back as NaN:
    // the reference kernel solves those rows by least squares
    for (let u = start; u < end; u++) if (Number.isNaN(step.X[u * f])) jsKernels.exactUpdate(step, u, u + 1);
  }

  dataLoss(step: HalfStep, start: number, end: number): number {
    this.idle();
    const { bounds, count: chunks } = this.balancedChunks(step, start, end);
    const sums = this.partials.get(Math.max(1, chunks));
    this.setStep(step, this.YtY32(step.YtY));
    this.args[ARG.out] = sums.byteOffset;
    this.run(TASK.loss, start, end - start, 0, ((step.factors + 3) & ~3) * 4, bounds, chunks);
    let loss = 0;
    for (let chunk = 0; chunk < chunks; chunk++) loss += sums[chunk];
    return loss;
  }

  /** copies of arrays from outside kernel memory, least recently used first (resident) */
  private readonly staged: { source: WeakRef<Float32Array>; copy: Float32Array }[] = [];

  /**
   * `array` itself when it lives in kernel memory, else a copy made on first use and kept for
   * the next calls: query arrays (a model's factors) are read-only, and copying 100 MB per
   * query would cost more than the query. At most RESIDENT_COPIES copies are kept: the least
   * recently used, and those whose array is gone, give their memory back (called only between
   * kernel calls, after idle(), so no worker reads them).
   */
  private resident(array: Float32Array, length: number): Float32Array {
    if (this.arena.owns(array)) return array;
    const index = this.staged.findIndex((entry) => entry.source.deref() === array);
    let entry = index >= 0 ? this.staged.splice(index, 1)[0] : undefined;
    if (entry !== undefined && entry.copy.length < length) {
      this.arena.release(entry.copy);
      entry = undefined;
    }
    if (entry === undefined) {
      for (let n = this.staged.length - 1; n >= 0; n--) {
        if (this.staged[n].source.deref() !== undefined) continue;
        this.arena.release(this.staged[n].copy);
        this.staged.splice(n, 1);
      }
      while (this.staged.length >= RESIDENT_COPIES) this.arena.release(this.staged.shift()!.copy);
      const copy = this.arena.releasableFloat32(length);
      copy.set(array.subarray(0, length));
      entry = { source: new WeakRef(array), copy };
    }
    this.staged.push(entry);
    return entry.copy;
  }

  /** Bytes of kernel memory in use or given back for reuse (tests: a long job stays bounded). */
  get memoryExtent(): number {
    return this.arena.extent;
  }

  scores(Y: Float32Array, rows: number, f: number, x: Float32Array, xOffset: number, out: Float32Array): void {
    this.idle();
    const y = this.resident(Y, rows * f);
    const vector = this.vector.get(f);
    vector.set(x.subarray(xOffset, xOffset + f));
    const result = this.arena.owns(out) ? out : this.staging.get(rows);
    this.exports.scores(y.byteOffset, f, vector.byteOffset, result.byteOffset, 0, rows);
    if (result !== out) out.set(result.subarray(0, rows));
  }

  private readonly queryBlock = new Scratch((n) => this.arena.float32(n));
  private readonly blockOut = new Scratch((n) => this.arena.float32(n));

  scoresBlock(...args: Parameters<Kernels['scoresBlock']>): void {
    this.drive(this.scoresBlockSteps(...args));
  }

  scoresBlockAsync(...args: Parameters<Kernels['scoresBlock']>): Promise<void> {
    return this.driveOffThread(this.scoresBlockSteps(...args));
  }

  private *scoresBlockSteps(
    Y: Float32Array,
    rows: number,
    f: number,
    Q: Float32Array,
    qFirst: number,
    queries: number,
    out: Float32Array,
  ): Generator<Task, void, void> {
    if (rows === 0 || queries === 0) return;
    const y = this.resident(Y, rows * f);
    const q = this.queryBlock.get(queries * f);
    q.set(Q.subarray(qFirst * f, (qFirst + queries) * f));
    const result = this.arena.owns(out) ? out : this.blockOut.get(queries * rows);
    const a = this.args;
    a[ARG.Y] = y.byteOffset;
    a[ARG.factors] = f;
    a[ARG.queryRows] = q.byteOffset;
    a[ARG.queries] = queries;
    a[ARG.out] = result.byteOffset;
    a[ARG.outStride] = rows;
    // items split over the threads; each number is one thread's dot, so the split changes nothing
    yield task(TASK.scores, rows, SCORE_CHUNK_ROWS, 0);
    if (result !== out) out.set(result.subarray(0, queries * rows));
  }

  private readonly selectInts = [0, 1, 2, 3].map(() => new Scratch((n) => this.arena.int32(n)));
  private readonly selectFloats = [0, 1].map(() => new Scratch((n) => this.arena.float32(n)));

  /** `array` itself when in kernel memory, else a copy in scratch (`copy`: with its contents) */
  private inKernel<T extends Float32Array | Int32Array>(
    array: T,
    scratch: Scratch<T>,
    length: number,
    copy: boolean,
  ): T {
    if (this.arena.owns(array)) return array;
    const inside = scratch.get(length);
    if (copy) inside.set(array.subarray(0, length));
    return inside;
  }

  selectBlock(selection: BlockSelection): void {
    this.drive(this.selectBlockSteps(selection));
  }

  selectBlockAsync(selection: BlockSelection): Promise<void> {
    return this.driveOffThread(this.selectBlockSteps(selection));
  }

  private *selectBlockSteps(selection: BlockSelection): Generator<Task, void, void> {
    const { rows, queries, norms, queryNorms } = selection;
    if (queries === 0) return;
    const cosine = norms !== undefined && queryNorms !== undefined;
    const queryNormCopy = this.selectFloats[1] as Scratch<Float32Array>;
    const scores = this.inKernel(selection.scores, this.blockOut, queries * rows, true);
    const staged = this.stageSelection(selection);
    const a = this.args;
    a[ARG.out] = scores.byteOffset;
    a[ARG.outStride] = rows;
    a[ARG.norms] = cosine ? this.resident(norms, rows).byteOffset : 0;
    a[ARG.queryNorms] = cosine ? this.inKernel(queryNorms, queryNormCopy, queries, true).byteOffset : 0;
    // one query row per chunk: each row is selected whole by one thread; scratch is its skip mask
    yield task(TASK.select, queries, 1, rows);
    if (scores !== selection.scores && cosine) selection.scores.set(scores.subarray(0, queries * rows));
    this.unstageSelection(selection, staged);
  }

  /**
   * A selection's exclusions and outputs in kernel memory (copied in when the caller's arrays
   * are not there), their addresses and k in the arguments; unstageSelection copies the outputs back.
   */
  private stageSelection(selection: BlockSelection | CosineSelection | DotSelection): StagedSelection {
    const { queries, k } = selection;
    const [starts, excluded, best, found] = this.selectInts as Scratch<Int32Array>[];
    const range = this.selectFloats[0] as Scratch<Float32Array>;
    const excludeStart = this.inKernel(selection.excludeStart, starts, queries + 1, true);
    const exclude = this.inKernel(selection.exclude, excluded, Math.max(1, excludeStart[queries]), true);
    const staged = {
      best: this.inKernel(selection.best, best, Math.max(1, queries * k), false),
      found: this.inKernel(selection.found, found, queries, false),
      range: this.inKernel(selection.range, range, 2 * queries, false),
    };
    const a = this.args;
    a[ARG.k] = k;
    a[ARG.excludeStart] = excludeStart.byteOffset;
    a[ARG.exclude] = exclude.byteOffset;
    a[ARG.best] = staged.best.byteOffset;
    a[ARG.found] = staged.found.byteOffset;
    a[ARG.range] = staged.range.byteOffset;
    return staged;
  }

  /**
   * unstageSelection for the int8 top-k kernels, whose scores of the k best (the only ones
   * defined) are copied back first when the caller's scores live outside kernel memory.
   */
  private unstageTopK(selection: CosineSelection | DotSelection, scores: Float32Array, staged: StagedSelection): void {
    const { queries, rows, k } = selection;
    if (scores !== selection.scores) {
      for (let q = 0; q < queries; q++)
        for (let r = 0; r < staged.found[q]; r++) {
          const j = staged.best[q * k + r];
          selection.scores[q * rows + j] = scores[q * rows + j];
        }
    }
    this.unstageSelection(selection, staged);
  }

  private unstageSelection(selection: BlockSelection | CosineSelection | DotSelection, staged: StagedSelection): void {
    const { queries, k } = selection;
    if (staged.best !== selection.best) selection.best.set(staged.best.subarray(0, queries * k));
    if (staged.found !== selection.found) selection.found.set(staged.found.subarray(0, queries));
    if (staged.range !== selection.range) selection.range.set(staged.range.subarray(0, 2 * queries));
  }

  private readonly queryCodes = new Scratch((n) => this.arena.int32(n));
  private readonly extremes = new Scratch((n) => this.arena.float32(n));
  private readonly queryFloats = [0, 1, 2].map(() => new Scratch((n) => this.arena.float32(n)));

  cosineBlock(selection: CosineSelection): void {
    this.drive(this.cosineBlockSteps(selection));
  }

  cosineBlockAsync(selection: CosineSelection): Promise<void> {
    return this.driveOffThread(this.cosineBlockSteps(selection));
  }

  private *cosineBlockSteps(selection: CosineSelection): Generator<Task, void, void> {
    const { quantized, queries, rows, norms } = selection;
    const queryNormCopy = this.selectFloats[1] as Scratch<Float32Array>;
    yield* this.int8TopKSteps(
      selection,
      1,
      (queryRows, codes, scales, bound) =>
        quantizeQueries(quantized, queryRows, 0, queries, selection.queryNorms, codes, scales, bound),
      () => {
        this.args[ARG.norms] = this.resident(norms, rows).byteOffset;
        this.args[ARG.queryNorms] = this.inKernel(selection.queryNorms, queryNormCopy, queries, true).byteOffset;
      },
      // the refining pass's scratch: a query's skip mask, then its candidate list
      { kind: TASK.refine, extraScratch: 0, rowError: quantized.error },
    );
  }

  /** the arrays of the pairs these kernels made (cosinePairs) */
  private readonly pairsMade = new WeakMap<
    CosinePairs,
    {
      codes: Uint8Array;
      scales: Float32Array;
      bounds: Float32Array;
      errors: Float32Array;
      blockErrors: Float32Array;
      extremes: Float32Array;
    }
  >();
  private readonly slotCopy = new Scratch((n) => this.arena.int32(n));

  cosinePairs(
    quantized: QuantizedRows,
    Y: Float32Array,
    rows: number,
    factors: number,
    norms: Float32Array,
    k: number,
  ): CosinePairs | null {
    this.idle();
    const f = factors;
    const blocks = Math.ceil(rows / EXTREME_ROWS);
    // the matrix is laid out by tiles: blocks × blocks × 64 cells of two floats
    const cells = blocks * blocks * EXTREME_ROWS;
    if (!(k >= 1 && k + 1 <= PAIRED_SEEDS_MOST) || rows === 0 || cells * 8 > PAIRS_MOST_BYTES) return null;
    // a row of norm 0 scores 0 exactly both ways (codes and scale 0); any other must have a norm
    // in the safe range (a finite bound), so that every tile score is a number: checked before
    // anything is allocated, as kernel memory is never given back
    const rowNorms = this.resident(norms, rows);
    for (let r = 0; r < rows; r++) if (rowNorms[r] !== 0 && !safeNorm(rowNorms[r])) return null;
    const stride = codeStride(f);
    // pairTiles reads the codes of four queries at a time
    const padded = Math.ceil(rows / 4) * 4;
    const words = this.arena.int32((padded * stride) / 4);
    const codes = new Uint8Array(words.buffer, words.byteOffset, padded * stride);
    const scales = this.arena.float32(padded);
    const bounds = this.arena.float32(padded);
    const errors = this.arena.float32(2 * rows);
    const a = this.args;
    a[ARG.queryRows] = this.resident(Y, rows * f).byteOffset;
    a[ARG.factors] = f;
    a[ARG.queryNorms] = rowNorms.byteOffset;
    a[ARG.queryCodes] = codes.byteOffset;
    a[ARG.codeStride] = stride;
    a[ARG.queryScales] = scales.byteOffset;
    a[ARG.queryBounds] = bounds.byteOffset;
    a[ARG.rowError] = quantized.error;
    a[ARG.codes] = this.address(quantized.codes);
    a[ARG.scales] = this.address(quantized.scales);
    a[ARG.pairErrors] = errors.byteOffset;
    this.run(TASK.codeQueries, 0, rows, CODE_CHUNK_ROWS, 0);
    const blockErrors = this.arena.float32(2 * blocks);
    for (let r = 0; r < rows; r++) {
      const b = 2 * Math.floor(r / EXTREME_ROWS);
      blockErrors[b] = Math.max(blockErrors[b], errors[2 * r]);
      blockErrors[b + 1] = Math.max(blockErrors[b + 1], errors[2 * r + 1]);
    }
    const pairs: CosinePairs = { rows, factors: f, quantized, mostK: PAIRED_SEEDS_MOST - 1, tileRowsDone: 0 };
    const extremes = this.arena.float32(cells * 2);
    this.pairsMade.set(pairs, { codes, scales, bounds, errors, blockErrors, extremes });
    return pairs;
  }

  pairedCosineBlock(selection: PairedCosineSelection): void {
    this.drive(this.pairedCosineBlockSteps(selection));
  }

  pairedCosineBlockAsync(selection: PairedCosineSelection): Promise<void> {
    return this.driveOffThread(this.pairedCosineBlockSteps(selection));
  }

  pairedTiles(pairs: CosinePairs, tileRows: number): void {
    this.drive(this.pairedTilesSteps(pairs, tileRows));
  }

  pairedTilesAsync(pairs: CosinePairs, tileRows: number): Promise<void> {
    return this.driveOffThread(this.pairedTilesSteps(pairs, tileRows));
  }

  private *pairedTilesSteps(pairs: CosinePairs, tileRows: number): Generator<Task, void, void> {
    const inside = this.pairsMade.get(pairs);
    if (inside === undefined) throw new Error('wasm kernels: pairs not made by these kernels');
    const upTo = Math.min(Math.ceil(pairs.rows / EXTREME_ROWS), Math.floor(tileRows));
    const tiles = this.pairTilesTask(pairs, upTo);
    if (tiles === null) return;
    yield tiles;
    pairs.tileRowsDone = upTo;
  }

  /**
   * The task of the tiles of the pairs' tile rows from the first not scored up to `upTo`, in
   * chunks of PAIR_CHUNK_TILES tiles within a tile row, tile (I, J) numbered I · blocks + J (a
   * row's last chunk ends where the next row starts, at J = I + 1; the last at upTo · blocks),
   * its arguments set; null when there are none.
   */
  private pairTilesTask(pairs: CosinePairs, upTo: number): Task | null {
    const from = pairs.tileRowsDone;
    if (upTo <= from) return null;
    const blocks = Math.ceil(pairs.rows / EXTREME_ROWS);
    const boundaries: number[] = [];
    for (let I = from; I < upTo; I++)
      for (let J = I; J < blocks; J += PAIR_CHUNK_TILES) boundaries.push(I * blocks + J);
    boundaries.push(upTo * blocks);
    const room = this.boundsScratch.get(boundaries.length);
    const bounds = new Int32Array(room.buffer, room.byteOffset, boundaries.length);
    bounds.set(boundaries);
    this.pairArguments(pairs);
    return { ...task(TASK.pairTiles, 0, 0, this.exports.pairTileBytes()), bounds, boundsCount: boundaries.length - 1 };
  }

  /** The arguments of the pairs' tiles, which their queries' refining reads too: the codes both ways and the matrix. */
  private pairArguments(pairs: CosinePairs): void {
    const inside = this.pairsMade.get(pairs)!;
    const { rows, factors: f, quantized } = pairs;
    const a = this.args;
    a[ARG.codes] = this.address(quantized.codes);
    a[ARG.codeStride] = codeStride(f);
    a[ARG.sums] = this.address(quantized.sums);
    a[ARG.scales] = this.address(quantized.scales);
    a[ARG.queryCodes] = inside.codes.byteOffset;
    a[ARG.queryScales] = inside.scales.byteOffset;
    a[ARG.outStride] = rows;
    a[ARG.extremes] = inside.extremes.byteOffset;
  }

  /**
   * The tiles of the tile rows up to the block's last query's own that are not scored yet
   * (pairTiles), then each query refined (pairedRefineRows), in one task.
   */
  private *pairedCosineBlockSteps(selection: PairedCosineSelection): Generator<Task, void, void> {
    const { pairs, querySlots, queries, rows, k, Y, factors: f, quantized, norms } = selection;
    const inside = this.pairsMade.get(pairs);
    if (inside === undefined || pairs.quantized !== quantized || pairs.rows !== rows || pairs.factors !== f)
      throw new Error('wasm kernels: pairs not made by these kernels for these rows');
    if (queries === 0) return;
    const blocks = Math.ceil(rows / EXTREME_ROWS);
    const stride = codeStride(f);
    const slots = this.inKernel(querySlots, this.slotCopy, queries, true);
    let need = pairs.tileRowsDone;
    for (let q = 0; q < queries; q++) {
      const slot = slots[q];
      if (!(Number.isInteger(slot) && slot >= -1 && slot < rows))
        throw new Error(`wasm kernels: querySlots[${q}] is ${slot}, not a row of the pairs or -1`);
      if (slot >= 0) need = Math.max(need, Math.floor(slot / EXTREME_ROWS) + 1);
    }
    const queryCopy = this.queryFloats[2] as Scratch<Float32Array>;
    const queryNormCopy = this.selectFloats[1] as Scratch<Float32Array>;
    const queryRows = this.inKernel(selection.queryRows, queryCopy, queries * f, true);
    const scores = this.inKernel(selection.scores, this.blockOut, queries * rows, false);
    const staged = this.stageSelection(selection);
    this.pairArguments(pairs);
    const a = this.args;
    a[ARG.queryBounds] = inside.bounds.byteOffset;
    a[ARG.out] = scores.byteOffset;
    a[ARG.Y] = this.resident(Y, rows * f).byteOffset;
    a[ARG.factors] = f;
    a[ARG.queryRows] = queryRows.byteOffset;
    a[ARG.norms] = this.resident(norms, rows).byteOffset;
    a[ARG.queryNorms] = this.inKernel(selection.queryNorms, queryNormCopy, queries, true).byteOffset;
    // as cosineBlock: beyond this many rows open, the whole row by the int8 pass, then refineRow
    const cap = Math.min(rows, 2 * k + Math.ceil(rows / 8));
    a[ARG.cap] = cap;
    a[ARG.querySlots] = slots.byteOffset;
    a[ARG.pairErrors] = inside.errors.byteOffset;
    a[ARG.pairBlockErrors] = inside.blockErrors.byteOffset;
    a[ARG.rowError] = quantized.error;
    const scratch = this.exports.pairedScratchBytes(rows, cap, stride);
    // the tile rows the block needs, and as many more for the next block, which the queries'
    // chunks go on with meanwhile when they need none of them (tile rows past their own write no
    // cell of theirs: only cells of later rows' blocks)
    const lowest = slots.reduce((low, slot) => (slot >= 0 ? Math.min(low, slot) : low), rows);
    const ahead = Math.min(blocks, need + Math.max(1, need - Math.floor(lowest / EXTREME_ROWS)));
    const free = need <= pairs.tileRowsDone;
    const tiles = this.pairTilesTask(pairs, ahead);
    if (tiles !== null) {
      yield {
        ...tiles,
        then: {
          kind: TASK.pairedRefine,
          rows: queries,
          chunkRows: PAIRED_CHUNK_QUERIES,
          scratchBytesPerThread: scratch,
          free,
        },
      };
      pairs.tileRowsDone = ahead;
    } else yield task(TASK.pairedRefine, queries, PAIRED_CHUNK_QUERIES, scratch);
    this.unstageTopK(selection, scores, staged);
  }

  /**
   * The steps cosineBlock and dotBlock share: the queries' int8 codes (`quantize`, with
   * `boundsPerQuery` bound floats a query), the arguments of both (then the kind's own, set by
   * `setArguments`), the approximate scores of every row (approxProducts), then one query row per
   * chunk refined by `refine.kind` (scratch: its skip mask, its candidate list, then
   * refine.extraScratch bytes), in one task: the threads go on to the rows without this thread.
   * Scores scored exactly are copied back where the caller's array lives outside kernel memory.
   */
  private *int8TopKSteps(
    selection: CosineSelection | DotSelection,
    boundsPerQuery: number,
    quantize: (queryRows: Float32Array, codes: Uint8Array, scales: Float32Array, bound: Float32Array) => void,
    setArguments: () => void,
    refine: { kind: number; extraScratch: number; rowError?: number },
  ): Generator<Task, void, void> {
    const { Y, rows, factors: f, quantized, queries, k } = selection;
    if (queries === 0) return;
    if (rows === 0) {
      selection.found.fill(0, 0, queries);
      for (let q = 0; q < queries; q++) selection.range.set([Infinity, -Infinity], 2 * q);
      return;
    }
    const stride = codeStride(f);
    const [queryScales, bounds, queryCopy] = this.queryFloats as Scratch<Float32Array>[];
    const queryRows = this.inKernel(selection.queryRows, queryCopy, queries * f, true);
    // approxProducts reads the codes of four queries at a time
    const words = this.queryCodes.get(Math.ceil(queries / 4) * stride);
    const codes = new Uint8Array(words.buffer, words.byteOffset, queries * stride);
    const scales = queryScales.get(queries);
    const bound = bounds.get(boundsPerQuery * queries);
    // groups of queries code their own queries on their threads (cosine: quantizeQueryRows)
    const grouped = queries >= QUERY_GROUP * this.threads;
    const inTask = grouped && refine.rowError !== undefined;
    if (!inTask) quantize(queryRows, codes, scales, bound);
    const scores = this.inKernel(selection.scores, this.blockOut, queries * rows, false);
    const staged = this.stageSelection(selection);
    const a = this.args;
    a[ARG.codes] = this.address(quantized.codes);
    a[ARG.codeStride] = stride;
    a[ARG.queryCodes] = codes.byteOffset;
    a[ARG.queryScales] = scales.byteOffset;
    a[ARG.queries] = queries;
    a[ARG.sums] = this.address(quantized.sums);
    a[ARG.scales] = this.address(quantized.scales);
    a[ARG.out] = scores.byteOffset;
    a[ARG.outStride] = rows;
    // a largest and smallest approximate score per 64 rows and query: the refining pass takes its
    // first exact scores by them and passes over whole blocks
    a[ARG.extremes] = this.extremes.get(queries * Math.ceil(rows / EXTREME_ROWS) * 2).byteOffset;
    // at most this many rows of a query scored exactly: beyond, the whole row is (as scoresBlock)
    const cap = Math.min(rows, 2 * k + Math.ceil(rows / 8));
    a[ARG.Y] = this.resident(Y, rows * f).byteOffset;
    a[ARG.factors] = f;
    a[ARG.queryRows] = queryRows.byteOffset;
    setArguments();
    a[ARG.queryBounds] = bound.byteOffset;
    a[ARG.rowError] = inTask ? (refine.rowError as number) : -1;
    a[ARG.cap] = cap;
    const refineScratch = ((rows + 15) & ~15) + 4 * (cap + 4) + refine.extraScratch;
    if (grouped) {
      // enough queries for every thread: each chunk a group of queries, both passes, no wait;
      // in large blocks (GROUP_SCORES_FROM) the group's approximate scores in the thread's
      // scratch, after the refining pass's own
      const kind = refine.kind === TASK.refine ? TASK.approxRefine : TASK.approxRefineProducts;
      const inScratch = queries >= GROUP_SCORES_FROM;
      const groupScores = (refineScratch + 15) & ~15;
      a[ARG.groupScores] = inScratch ? groupScores : -1;
      yield task(kind, queries, QUERY_GROUP, inScratch ? groupScores + QUERY_GROUP * rows * 4 : refineScratch);
    } else {
      yield {
        ...task(TASK.approxProducts, rows, PRODUCT_CHUNK_ROWS, 0),
        then: { kind: refine.kind, rows: queries, chunkRows: 1, scratchBytesPerThread: refineScratch },
      };
    }
    this.unstageTopK(selection, scores, staged);
  }

  private readonly transposeCounts = new Scratch((n) => this.arena.int32(n));

  transpose(rows: number, cols: number, indptr: Int32Array, indices: Int32Array, data: Float32Array): CsrArrays {
    this.idle();
    const nnz = indptr[rows];
    const parts = 2 * this.slots;
    const a = this.arena;
    // small matrices, and arrays outside kernel memory, by the reference, into kernel memory
    if (nnz < TRANSPOSE_PARALLEL_FROM || !a.owns(indptr) || !a.owns(indices) || !a.owns(data))
      return countingTranspose(rows, cols, indptr, indices, data, a);
    const out = { indptr: a.int32(cols + 1), indices: a.int32(nnz), data: a.float32(nnz) };
    // parts of about equal entries, each counted, then scattered, on its own: the counts of the
    // parts before it say where its rows go in each column, so rows stay in order
    const scratch = this.boundsScratch.get(parts + 1);
    const bounds = new Int32Array(scratch.buffer, scratch.byteOffset, parts + 1);
    for (let p = 0, row = 0; p <= parts; p++) {
      const target = Math.floor((nnz * p) / parts);
      while (row < rows && indptr[row] < target) row++;
      bounds[p] = p === parts ? rows : row;
    }
    const counts = this.transposeCounts.get(parts * cols);
    const args = this.args;
    args[ARG.indptr] = indptr.byteOffset;
    args[ARG.indices] = indices.byteOffset;
    args[ARG.confidence] = data.byteOffset;
    args[ARG.out] = counts.byteOffset;
    args[ARG.outStride] = cols;
    args[ARG.X] = out.indices.byteOffset;
    args[ARG.Y] = out.data.byteOffset;
    this.run(TASK.columnCounts, 0, rows, 0, 0, bounds, parts);
    this.exports.columnStarts(counts.byteOffset, parts, cols, out.indptr.byteOffset);
    this.run(TASK.scatterRows, 0, rows, 0, 0, bounds, parts);
    return out;
  }

  uniformFill(out: Float32Array, seed: number, skip: number, scale: number): void {
    this.idle();
    // arrays outside kernel memory are filled where they are, by the reference
    if (!this.arena.owns(out)) return uniformFill(out, seed, skip, scale);
    const a = this.args;
    a[ARG.out] = out.byteOffset;
    a[ARG.seed] = seed;
    a[ARG.skip] = skip;
    a[ARG.scale] = scale;
    // every thread touches its own chunks' pages first (fresh kernel memory costs most here)
    this.run(TASK.uniform, 0, out.length, UNIFORM_CHUNK, 0);
  }

  firstBadFactor(values: Float32Array): number {
    this.idle();
    // arrays outside kernel memory are scanned where they are, not copied in
    if (!this.arena.owns(values)) return firstBadFactor(values);
    // on every thread, a chunk each: the first chunk that holds one answers
    const chunks = Math.ceil(values.length / BAD_FACTOR_CHUNK);
    if (chunks <= 1) return this.exports.firstBadFactor(values.byteOffset, values.length, MAX_FACTOR_BITS);
    const found = this.partials.get(chunks);
    const a = this.args;
    a[ARG.X] = values.byteOffset;
    a[ARG.scale] = MAX_FACTOR_BITS;
    a[ARG.out] = found.byteOffset;
    this.run(TASK.badFactor, 0, values.length, BAD_FACTOR_CHUNK, 0);
    for (let chunk = 0; chunk < chunks; chunk++) if (found[chunk] >= 0) return found[chunk];
    return -1;
  }

  dotBlock(selection: DotSelection): void {
    this.drive(this.dotBlockSteps(selection));
  }

  dotBlockAsync(selection: DotSelection): Promise<void> {
    return this.driveOffThread(this.dotBlockSteps(selection));
  }

  private *dotBlockSteps(selection: DotSelection): Generator<Task, void, void> {
    const { quantized, queries, k } = selection;
    yield* this.int8TopKSteps(
      selection,
      2,
      (queryRows, codes, scales, bound) =>
        quantizeProductQueries(quantized, queryRows, 0, queries, codes, scales, bound),
      () => {
        const a = this.args;
        a[ARG.weights] = this.address(quantized.weights);
        a[ARG.blockWeights] = this.address(quantized.blockWeights);
        a[ARG.errors] = this.address(quantized.errors);
        a[ARG.blockErrors] = this.address(quantized.blockErrors);
      },
      // beyond cosineBlock's scratch: k floats
      { kind: TASK.refineProducts, extraScratch: 4 * k },
    );
  }

  quantizeUnitRows(
    Y: Float32Array,
    rows: number,
    f: number,
    norms: Float32Array,
    codes: Uint8Array,
    sums: Int32Array,
    scales: Float32Array,
  ): number {
    this.idle();
    // in chunks on every thread (a multiple of four rows: each four are packed together), the
    // largest of the chunks' errors
    const chunks = Math.ceil(rows / QUANTIZE_CHUNK_ROWS);
    const errors = this.partials.get(Math.max(1, chunks));
    const a = this.args;
    a[ARG.Y] = this.resident(Y, rows * f).byteOffset;
    a[ARG.factors] = f;
    a[ARG.norms] = this.inKernel(norms, this.staging, rows, true).byteOffset;
    a[ARG.codes] = this.address(codes);
    a[ARG.codeStride] = codeStride(f);
    a[ARG.sums] = this.address(sums);
    a[ARG.scales] = this.address(scales);
    a[ARG.out] = errors.byteOffset;
    this.run(TASK.quantizeRows, 0, rows, QUANTIZE_CHUNK_ROWS, 0);
    let error = 0;
    for (let chunk = 0; chunk < chunks; chunk++) error = Math.max(error, errors[chunk]);
    return error;
  }

  rowNorms(Y: Float32Array, rows: number, f: number, out: Float32Array): void {
    this.idle();
    const y = this.resident(Y, rows * f);
    const result = this.arena.owns(out) ? out : this.staging.get(rows);
    this.exports.rowNorms(y.byteOffset, f, result.byteOffset, 0, rows);
    if (result !== out) out.set(result.subarray(0, rows));
  }

  /** a copy of a skip mask that does not live in kernel memory (bytes in a float32 array) */
  private readonly maskCopy = new Scratch((n) => this.arena.float32(n));

  topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array {
    this.idle();
    const n = scores.length;
    let values = scores;
    if (!this.arena.owns(scores)) {
      values = this.staging.get(n);
      values.set(scores);
    }
    let mask = 0;
    if (skip !== undefined) {
      if (this.arena.owns(skip)) mask = skip.byteOffset;
      else {
        const copy = this.maskCopy.get(Math.ceil(n / 4));
        new Uint8Array(copy.buffer, copy.byteOffset, n).set(skip.subarray(0, n));
        mask = copy.byteOffset;
      }
    }
    const out = this.topOut.get(Math.max(k, 1));
    const count = this.exports.topK(values.byteOffset, n, k, mask, out.byteOffset);
    return new Int32Array(out.buffer, out.byteOffset, count).slice();
  }

  private readonly topOut = new Scratch((n) => this.arena.float32(n));

  dispose(): void {
    Atomics.store(this.control, SLOT.quit, 1);
    Atomics.add(this.control, SLOT.generation, 1);
    Atomics.notify(this.control, SLOT.generation);
    for (const worker of this.workers) void worker.terminate();
    this.workers.length = 0;
  }
}

/** Single-threaded WebAssembly kernels, ready at once (for queries). */
export function createWasmKernelsSync(options?: WasmKernelOptions): Kernels {
  return new WasmKernels(1, checkOptions('options', options));
}

/**
 * createWasmKernels without waiting for the workers: `kernels` may allocate and make calls on the
 * calling thread at once (a thread pool's calls on it alone) while the workers start (tens of
 * milliseconds), but no *Async call before `ready` resolves. `ready` never rejects unhandled:
 * a worker that fails to start rejects it for whoever awaits it.
 */
export function startWasmKernels(
  threads = 1,
  options?: WasmKernelOptions,
): { kernels: Kernels; ready: Promise<Kernels> } {
  const kernels = new WasmKernels(Math.max(1, threads), checkOptions('options', options));
  const ready = kernels.start();
  ready.catch(() => undefined);
  return { kernels, ready };
}

/** WebAssembly SIMD kernels on `threads` threads (the caller's included). */
export async function createWasmKernels(threads = 1, options?: WasmKernelOptions): Promise<Kernels> {
  return new WasmKernels(Math.max(1, threads), checkOptions('options', options)).start();
}
