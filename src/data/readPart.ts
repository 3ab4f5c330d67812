// A worker thread that reads one later part of a file (parts.ts): the bytes [start, end) of a
// descriptor the main thread holds open, by a FastTsvReader whose triples are logged for the
// first part's reader to take in (FastTsvReader.merge). It posts one message and ends.
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TripleLog } from './coo.js';
import { FastTsvReader } from './fastTsv.js';
import type { PartJob, PartMessage } from './parts.js';
import type { SkippedRow } from './read.js';

const job = workerData as PartJob;
/** thrown by the skip callback under strict: the part's first bad row is all the main thread needs */
const STOP = Symbol('stop');

const { message, transfer } = readPart(job);
parentPort?.postMessage(message, transfer);

/** The part's message, and the buffers it hands over rather than copies. */
function readPart({ descriptor, start, end, format, strict, chunkBytes, counters, slot, maxTriples, examples }: PartJob): {
  message: PartMessage;
  transfer: ArrayBuffer[];
} {
  const progress = new Float64Array(counters);
  const skippedExamples: SkippedRow[] = [];
  let skipped = 0;
  const log = new TripleLog(maxTriples);
  const reader = new FastTsvReader(
    format,
    (line, reason) => {
      skipped++;
      if (skippedExamples.length < examples) skippedExamples.push({ line, reason });
      if (strict) throw STOP;
    },
    { log },
  );
  try {
    const buffer = Buffer.allocUnsafe(chunkBytes);
    for (let position = start; position < end; ) {
      const bytes = readSync(descriptor, buffer, 0, Math.min(chunkBytes, end - position), position);
      if (bytes === 0) break;
      position += bytes;
      reader.chunk(bytes === buffer.length ? buffer : buffer.subarray(0, bytes));
      progress[2 * slot] = position - start;
      progress[2 * slot + 1] = reader.rows;
    }
    reader.end();
  } catch (error) {
    if (error === STOP) return { message: { kind: 'stopped', skipped, skippedExamples }, transfer: [] };
    // the main thread reads the part itself: a full log (TripleLogFull), or a read error it will meet and report
    return { message: { kind: 'unread' }, transfer: [] };
  }
  const part = reader.part();
  const { userBytes, spellings, triples } = part;
  const transfer = [
    userBytes.bytes.buffer,
    userBytes.starts.buffer,
    userBytes.entries.buffer,
    spellings.bytes.buffer,
    spellings.starts.buffer,
    spellings.items.buffer,
    spellings.counts.buffer,
    triples.runRows.buffer,
    triples.runEnds.buffer,
    ...triples.cols.map((cols) => cols.buffer),
    ...triples.values.map((values) => values.buffer),
  ] as ArrayBuffer[];
  return { message: { kind: 'read', part, skipped, skippedExamples }, transfer };
}
