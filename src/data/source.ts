import { createReadStream, promises as fs } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AlsError, describeErrno } from '../errors.js';

export interface InputSource {
  /** size of the file on disk; null for a pipe or another stream, whose size is not known */
  totalBytes: number | null;
  compressed: boolean;
  /** bytes of the file (not of the decompressed data) read so far, for progress */
  bytesRead(): number;
  /**
   * The file's bytes, decompressed when the file is gzip, chunk by chunk, a UTF-8 byte order
   * mark at the start dropped; throws AlsError('input') when the start looks like UTF-16. The
   * memory of a chunk may be reused for a later one: be done with a chunk before asking for the
   * next. Call once.
   */
  chunks(): AsyncIterable<Buffer>;
  /** Lets go of the file (after an error, or after reading it by `parts`). */
  close(): void;
  /**
   * A regular uncompressed file, not read yet, can also be read in parts (parts.ts): its
   * descriptor, for readers on other threads, and its bytes [start, end) read here (the start of
   * the file checked as chunks() checks it). The file stays open until close().
   */
  parts?: { descriptor: number; size: number; range(start: number, end: number): AsyncIterable<Buffer> };
}

/** The path that means standard input. */
export const STDIN_PATH = '-';

/** How many bytes at the start of the (decompressed) data are looked at to tell UTF-16. */
const HEAD_BYTES = 1024;

/** Turns a file-system error into a one-line message about `path`. */
export function describeFileError(path: string, error: unknown): string {
  return `${path}: ${describeErrno(error, READ_WORDS)}`;
}

/** What an error code means when opening an input file (the rest as describeErrno says). */
const READ_WORDS = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory, not a file',
  ENXIO: 'cannot be opened for reading (a socket or a device without a reader)',
};

/**
 * Why the first bytes of the data say it is UTF-16, or null: a UTF-16 byte order mark, or NUL
 * bytes in at least an eighth of the first HEAD_BYTES (UTF-16 text of ASCII characters has one
 * in every other byte; UTF-8 text has none).
 */
function utf16Problem(head: Uint8Array): string | null {
  if (head.length >= 2 && ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))) {
    return 'looks like UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8';
  }
  const end = Math.min(head.length, HEAD_BYTES);
  let nuls = 0;
  for (let n = 0; n < end; n++) if (head[n] === 0) nuls++;
  if (nuls > 0 && 8 * nuls >= end) return 'looks like UTF-16 (NUL bytes in its first kilobyte); save it as UTF-8';
  return null;
}

/**
 * Opens `path` for reading: a regular file is read in place; anything else that can be read (a
 * pipe, `/dev/stdin`, a process substitution, or `-` for standard input) is streamed, its size
 * unknown. gzip is recognised by its magic bytes, whatever the name. `chunkBytes` is the size
 * of the chunks read (tests use tiny ones); `label` names the file in messages about its content.
 */
export async function openInput(path: string, chunkBytes = 1 << 20, label = path): Promise<InputSource> {
  const name = path === STDIN_PATH ? 'standard input' : path;
  if (path === STDIN_PATH) return startStream(name, process.stdin, chunkBytes);
  let handle: fs.FileHandle | undefined;
  try {
    const stat = await fs.stat(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    handle = await fs.open(path, 'r');
    if (!stat.isFile()) {
      // a pipe is read through the handle already open: opening it again would be another reader
      const stream = handle.createReadStream({ highWaterMark: chunkBytes });
      handle = undefined;
      return await startStream(label, stream, chunkBytes);
    }
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    const compressed = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    return new FileInput(path, label, handle, stat.size, compressed, chunkBytes);
  } catch (error) {
    await handle?.close().catch(() => {});
    if (error instanceof AlsError) throw error;
    // /dev/stdin of a process whose standard input is a socket (as Node gives its children) cannot
    // be opened, but the descriptor can be read
    if ((error as NodeJS.ErrnoException).code === 'ENXIO' && inheritedDescriptor(path) === 0) {
      return startStream(name, process.stdin, chunkBytes);
    }
    throw new AlsError('input', describeFileError(name, error), { cause: error });
  }
}

/** The descriptor a path such as /dev/stdin or /dev/fd/3 names, or null. */
function inheritedDescriptor(path: string): number | null {
  if (path === '/dev/stdin') return 0;
  const match = /^\/(?:dev\/fd|proc\/self\/fd)\/(\d+)$/.exec(path);
  return match ? Number(match[1]) : null;
}

/** Decompresses `chunks` (fresh buffers each) with gunzip, in chunks of about `chunkBytes`. */
function gunzip(chunks: AsyncIterable<Buffer>, chunkBytes: number): Readable {
  const unzip = createGunzip({ chunkSize: Math.max(64, Math.min(chunkBytes, 1 << 18)) });
  // pipeline forwards an error of either stream to the one we iterate
  return pipeline(Readable.from(chunks, { objectMode: false }), unzip, () => {});
}

/**
 * Drops a UTF-8 byte order mark at the start of `chunks` and refuses UTF-16: the first
 * HEAD_BYTES are gathered (copied, since chunk memory may be reused) and looked at first.
 */
async function* checkStart(name: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const iterator = chunks[Symbol.asyncIterator]();
  try {
    const head: Buffer[] = [];
    let length = 0;
    while (length < HEAD_BYTES) {
      const next = await iterator.next();
      if (next.done) break;
      head.push(Buffer.from(next.value));
      length += next.value.length;
    }
    let first = Buffer.concat(head);
    const problem = utf16Problem(first);
    if (problem !== null) throw new AlsError('input', `${name}: ${problem}`);
    if (first[0] === 0xef && first[1] === 0xbb && first[2] === 0xbf) first = first.subarray(3);
    if (first.length > 0) yield first;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/** A pipe or another stream: gzip is told from its first two bytes, read before anything else. */
async function startStream(name: string, stream: Readable, chunkBytes: number): Promise<InputSource> {
  let bytes = 0;
  const iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  try {
    while (bytes < 2) {
      const next = await iterator.next();
      if (next.done) break;
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      first.push(chunk);
      bytes += chunk.length;
    }
  } catch (error) {
    stream.destroy();
    throw new AlsError('input', describeFileError(name, error), { cause: error });
  }
  const start = Buffer.concat(first);
  const compressed = start.length >= 2 && start[0] === 0x1f && start[1] === 0x8b;
  async function* raw(): AsyncGenerator<Buffer> {
    if (start.length > 0) yield start;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      bytes += next.value.length;
      yield next.value;
    }
  }
  let unzipped: Readable | null = null;
  return {
    totalBytes: null,
    compressed,
    bytesRead: () => bytes,
    chunks: () => {
      if (!compressed) return checkStart(name, raw());
      unzipped = gunzip(raw(), chunkBytes);
      return checkStart(name, unzipped);
    },
    close: () => {
      unzipped?.destroy();
      stream.destroy();
    },
  };
}

class FileInput implements InputSource {
  private position = 0;
  private opened: Readable | null = null;
  readonly parts?: InputSource['parts'];

  constructor(
    private readonly path: string,
    private readonly name: string,
    private handle: fs.FileHandle | null,
    readonly totalBytes: number,
    readonly compressed: boolean,
    private readonly chunkBytes: number,
  ) {
    if (!compressed && handle !== null) {
      this.parts = {
        descriptor: handle.fd,
        size: totalBytes,
        range: (start, end) => {
          const chunks = this.readChunks(handle, start, end, false);
          return start === 0 ? checkStart(this.name, chunks) : chunks;
        },
      };
    }
  }

  bytesRead(): number {
    return this.opened === null ? this.position : (this.opened as unknown as { bytesRead: number }).bytesRead;
  }

  chunks(): AsyncIterable<Buffer> {
    if (!this.compressed) return checkStart(this.name, this.readChunks(this.takeHandle(), 0, Infinity, true));
    this.takeHandle().close().catch(() => {});
    const file = createReadStream(this.path, { highWaterMark: this.chunkBytes });
    this.opened = file;
    const stream = gunzip(file, this.chunkBytes);
    this.close = () => {
      stream.destroy();
      file.destroy();
    };
    return checkStart(this.name, stream);
  }

  /**
   * Reads the bytes [start, end) of the file (to its end when end is Infinity) into two buffers
   * in turn: the next chunk is read while the last is used.
   */
  private async *readChunks(handle: fs.FileHandle, start: number, end: number, closeAtEnd: boolean): AsyncGenerator<Buffer> {
    const size = this.chunkBytes;
    const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    const read = (buffer: Buffer, at: number) => (at < end ? handle.read(buffer, 0, Math.min(size, end - at), at) : null);
    let next = 0;
    let position = start;
    let reading: Promise<{ bytesRead: number }> | null = read(buffers[0], position);
    try {
      while (reading !== null) {
        const { bytesRead } = await reading;
        reading = null;
        if (bytesRead === 0) return;
        const chunk = buffers[next].subarray(0, bytesRead);
        position += bytesRead;
        this.position += bytesRead;
        next ^= 1;
        reading = read(buffers[next], position);
        yield chunk;
      }
    } finally {
      await reading?.catch(() => {});
      if (closeAtEnd) await handle.close();
    }
  }

  close(): void {
    if (this.handle !== null) this.takeHandle().close().catch(() => {});
  }

  private takeHandle(): fs.FileHandle {
    const handle = this.handle;
    if (handle === null) throw new Error('the input was already read');
    this.handle = null;
    return handle;
  }
}
