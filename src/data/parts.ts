import { read } from 'node:fs';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { FastTsvReader, PartRead } from './fastTsv.js';
import { MAX_LINE_BYTES } from './lines.js';
import type { InputSource } from './source.js';
import type { Skip, SkippedRow } from './read.js';

/**
 * The least bytes a part is given: a worker's start (some 50 ms) costs more than reading a
 * smaller part on another thread saves.
 * @default 64 MiB
 */
export const DEFAULT_PART_BYTES = 64 << 20;

/** The most triples a later part logs (8 bytes each) before it leaves the part to the main thread. */
const PART_TRIPLES_LIMIT = 1 << 25;

/**
 * The first part's share, against 1 for each other part: a worker starts late (some 100 ms), and
 * then finishes its part after the calling thread, which merges it, finishes its own (the later
 * half of the 360K file took 4–13% longer than the first). With 2 parts, the first is 52.4%.
 */
const FIRST_PART_WEIGHT = 1.1;

/** How far past a part's planned start a newline is looked for. */
const SPLIT_WINDOW = 1 << 16;

const readAt = promisify(read);

/** What a worker of readPart.ts is given. */
export interface PartJob {
  descriptor: number;
  /** the part's bytes: [start, end); end is Infinity for the last part (read to the end of the file) */
  start: number;
  end: number;
  format: 'lastfm' | 'triples';
  strict: boolean;
  chunkBytes: number;
  /** a SharedArrayBuffer of Float64 pairs (bytes read, rows seen), one pair per later part */
  counters: SharedArrayBuffer;
  slot: number;
  maxTriples: number;
  /** how many skipped rows to keep, with line (of the part) and reason */
  examples: number;
}

/**
 * A worker's one message: its part read, or stopped at its first bad row (strict), or left unread
 * (its log full, or a read error, which the calling thread meets and reports when it reads the part).
 */
export type PartMessage =
  | { kind: 'read'; part: PartRead; skipped: number; skippedExamples: SkippedRow[] }
  | { kind: 'stopped'; skipped: number; skippedExamples: SkippedRow[] }
  | { kind: 'unread' };

type File = NonNullable<InputSource['parts']>;

/**
 * Where each part of the file starts when it is read in `parts` parts: just after the first
 * newline at or past the end of each part's share (the first part's FIRST_PART_WEIGHT, the others' 1). A stretch without a newline (a line longer than
 * MAX_LINE_BYTES, or no more lines) leaves its part to the one before.
 */
export async function partStarts(file: File, parts: number): Promise<number[]> {
  const starts = [0];
  const window = Buffer.allocUnsafe(SPLIT_WINDOW);
  for (let k = 1; k < parts; k++) {
    const share = (FIRST_PART_WEIGHT + k - 1) / (FIRST_PART_WEIGHT + parts - 1);
    let at = Math.max(Math.floor(file.size * share), starts[starts.length - 1] + 1) - 1;
    const last = Math.min(file.size, at + MAX_LINE_BYTES + 2);
    let start = -1;
    while (start < 0 && at < last) {
      const { bytesRead } = await readAt(file.descriptor, window, 0, Math.min(SPLIT_WINDOW, last - at), at);
      if (bytesRead === 0) break;
      const newline = window.subarray(0, bytesRead).indexOf(0x0a);
      if (newline >= 0) start = at + newline + 1;
      at += bytesRead;
    }
    if (start > 0 && start < file.size) starts.push(start);
  }
  return starts;
}

/**
 * The parts of a file after the first, each read by a worker thread (readPart.ts) while the
 * calling thread reads the first: then each is taken into the first part's reader in file order
 * (FastTsvReader.merge), so that the result is the one reader's, bit for bit, skipped rows and
 * line numbers included. A part a worker could not read (its log full, a read error) is read
 * here, after the parts before it, and so meets any error where one reader would.
 */
export class LaterParts {
  private readonly counters: Float64Array;
  private readonly workers: Worker[] = [];
  /** when each worker has told its outcome */
  private readonly told: Promise<void>[] = [];
  /** each worker's message (null for none, and once taken in: the part's arrays are let go at once) */
  private readonly messages: (PartMessage | null)[] = [];
  /** the parts taken in or being read here, whose rows the reader counts */
  private done = 0;
  /** the parts read here (the workers' bytes of them do not count) */
  private readonly readHere: boolean[] = [];

  constructor(
    private readonly file: File,
    private readonly starts: number[],
    settings: Pick<PartJob, 'format' | 'strict' | 'chunkBytes' | 'examples'> & { maxTriples?: number },
  ) {
    const shared = new SharedArrayBuffer(16 * starts.length);
    this.counters = new Float64Array(shared);
    for (let k = 1; k < starts.length; k++) {
      const job: PartJob = {
        ...settings,
        descriptor: file.descriptor,
        start: starts[k],
        end: k + 1 < starts.length ? starts[k + 1] : Infinity,
        counters: shared,
        slot: k,
        maxTriples: settings.maxTriples ?? PART_TRIPLES_LIMIT,
      };
      const worker = new Worker(new URL('./readPart.js', import.meta.url), { workerData: job });
      worker.unref();
      this.workers.push(worker);
      this.messages.push(null);
      this.told.push(
        new Promise((resolve) => {
          worker.once('message', (message: PartMessage) => {
            this.messages[k - 1] = message;
            resolve();
          });
          // a worker that fails leaves its part to this thread
          worker.on('error', () => resolve());
          worker.once('exit', () => resolve());
        }),
      );
    }
  }

  /** Bytes the workers have read (of the parts that are not read here instead). */
  bytesRead(): number {
    let bytes = 0;
    for (let k = 1; k < this.starts.length; k++) if (!this.readHere[k]) bytes += this.counters[2 * k];
    return bytes;
  }

  /** Rows the workers have seen in the parts not yet taken in. */
  rows(): number {
    let rows = 0;
    for (let k = this.done + 1; k < this.starts.length; k++) rows += this.counters[2 * k + 1];
    return rows;
  }

  /**
   * Reads the first part with `reader`, then takes in the others in order; `skip` hears of
   * their malformed rows as one reader would tell of them. Returns the file's lines.
   */
  async readWith(reader: FastTsvReader, skip: Skip, onChunk: () => void): Promise<number> {
    try {
      await this.read(reader, 0, this.starts[1], onChunk);
      for (let k = 1; k < this.starts.length; k++) {
        let outcome = await this.waitFor(k, onChunk);
        this.done = k;
        if (outcome === null || outcome.kind === 'unread') {
          this.readHere[k] = true;
          await this.read(reader, this.starts[k], k + 1 < this.starts.length ? this.starts[k + 1] : Infinity, onChunk);
          continue;
        }
        const offset = reader.lines;
        const { skipped, skippedExamples } = outcome;
        for (const { line, reason } of skippedExamples) skip(offset + line, reason);
        const last = skippedExamples.at(-1);
        if (last !== undefined && skipped > skippedExamples.length) skip(offset + last.line, last.reason, skipped - skippedExamples.length);
        if (outcome.kind === 'read') reader.merge(outcome.part);
        outcome = null;
        onChunk();
      }
      reader.end();
      return reader.lines;
    } finally {
      await this.stop();
    }
  }

  /**
   * Ends the workers and waits until they are gone, so that their memory is freed before the
   * caller goes on (the file stays open: the caller closes it).
   */
  private async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
    this.messages.fill(null);
  }

  private async read(reader: FastTsvReader, start: number, end: number, onChunk: () => void): Promise<void> {
    for await (const chunk of this.file.range(start, end)) {
      reader.chunk(chunk);
      onChunk();
    }
  }

  /** Part k's message, with progress told every so often while it is awaited. */
  private async waitFor(k: number, onChunk: () => void): Promise<PartMessage | null> {
    const ticks = setInterval(onChunk, 100);
    // a worker awaited keeps the process alive (they are unreferenced otherwise)
    const worker = this.workers[k - 1];
    worker.ref();
    try {
      await this.told[k - 1];
      return this.messages[k - 1];
    } finally {
      worker.unref();
      clearInterval(ticks);
      this.messages[k - 1] = null;
    }
  }
}
