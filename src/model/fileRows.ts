import { createHash } from 'node:crypto';
import { close, read } from 'node:fs';
import { promisify } from 'node:util';
import { AlsError } from '../errors.js';
import { badFactorWords, firstBadFactor, valueForMessage } from '../validate.js';
import { checkFactors, corruptModel, detachFile } from './load.js';
import type { AlsModel } from './model.js';

/**
 * The rows of a model's float32 matrix read from its file when asked, instead of held in memory:
 * a server needs one user's factors per request, and the page cache keeps the read ones close
 * without counting them in the process's memory (92 MB at the 360K shape).
 */

const readAt = promisify(read);
const closeFd = promisify(close);

/** Bytes read at once while the whole file is checked at open. */
const CHECK_CHUNK = 4 << 20;

function checkRow(r: number, rows: number): void {
  if (!Number.isInteger(r) || r < 0 || r >= rows)
    throw new AlsError('usage', `row must be a whole number from 0 to ${rows - 1}, not ${valueForMessage(r)}`);
}

/** Reads `length` bytes at `position` into the start of `into`; a file that ends first throws short(). */
async function readFully(
  fd: number,
  into: Uint8Array,
  length: number,
  position: number,
  short: () => Error,
): Promise<void> {
  for (let got = 0; got < length;) {
    const { bytesRead } = await readAt(fd, into, got, length - got, position + got);
    if (bytesRead === 0) throw short();
    got += bytesRead;
  }
}

/** Rows of `factors` float32 numbers, read one at a time. */
export interface FactorRows {
  readonly rows: number;
  readonly factors: number;
  /** the whole matrix when it is held in memory, null when the rows are read from a file */
  readonly inMemory: Float32Array | null;
  /** row `r` (0 ≤ r < rows) in a new array; rejects with AlsError('model') when it cannot be read */
  row(r: number): Promise<Float32Array>;
  /** frees what the rows hold (the open file); row() then rejects */
  close(): Promise<void>;
}

/** The rows of a matrix held in memory (a model built in process, or a part already read). */
export function rowsInMemory(matrix: Float32Array, factors: number): FactorRows {
  let closed = false;
  return {
    rows: matrix.length / factors,
    factors,
    inMemory: matrix,
    row: async (r) => {
      if (closed) throw new AlsError('model', 'the rows were closed');
      checkRow(r, matrix.length / factors);
      return matrix.slice(r * factors, (r + 1) * factors);
    },
    close: async () => {
      closed = true;
    },
  };
}

/**
 * The user factors of `model` as rows read from its file on demand, when the model came from
 * loadModel and they were not read yet (then the model can no longer read them whole: the rows
 * own the file); otherwise the model's array. The file is checked whole first, as loadModel
 * checks a part (size, checksum, every number finite), in chunks that let other work run between
 * them. The file stays open: a writer that replaces the model makes new files, so the rows keep
 * reading the version that was checked; each row read is checked again (finite, whole).
 *
 * @throws {AlsError} 'model' naming the file when it fails a check
 */
export async function userFactorRows(model: AlsModel): Promise<FactorRows> {
  const file = detachFile(model, 'userFactors');
  if (file === null) return rowsInMemory(model.userFactors, model.factors);
  const { fd, dir, name, bytes, sha256 } = file;
  // numbers only below: the rows outlive the model, which must not be kept (its parts are read arrays)
  const { users, factors: f } = model;
  const corrupt = (what: string) => corruptModel(dir, `${name} ${what}`);
  try {
    if (bytes !== users * f * 4) throw corrupt(`has ${bytes} bytes, expected ${users * f * 4}`);
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafeSlow(Math.min(CHECK_CHUNK, bytes));
    for (let at = 0; at < bytes;) {
      const length = Math.min(chunk.length, bytes - at);
      await readFully(fd, chunk, length, at, () => corrupt(`ends before its ${bytes} bytes`));
      hash.update(chunk.subarray(0, length));
      checkFactors(dir, name, new Float32Array(chunk.buffer, chunk.byteOffset, length / 4), at / 4);
      at += length;
    }
    if (hash.digest('hex') !== sha256) throw corrupt('fails its checksum');
  } catch (error) {
    await closeFd(fd).catch(() => undefined);
    if (error instanceof AlsError) throw error;
    throw corrupt(`cannot be read (${(error as Error).message})`);
  }
  let open = true;
  return {
    rows: users,
    factors: f,
    inMemory: null,
    async row(r) {
      if (!open) throw new AlsError('model', `${dir}: ${name} was closed`);
      checkRow(r, users);
      const out = new Float32Array(f);
      await readFully(fd, new Uint8Array(out.buffer), f * 4, r * f * 4, () => corrupt(`ends before row ${r}`));
      const n = firstBadFactor(out);
      if (n !== -1) throw corrupt(`changed since it was loaded: row ${r} holds ${badFactorWords(out[n])}`);
      return out;
    },
    async close() {
      if (!open) return;
      open = false;
      await closeFd(fd).catch(() => undefined);
    },
  };
}
