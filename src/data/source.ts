import { createReadStream, promises as fs } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AlsError } from '../errors.js';

export interface InputSource {
  /** size of the file on disk */
  totalBytes: number;
  compressed: boolean;
  /** bytes of the file (not of the decompressed data) read so far, for progress */
  bytesRead(): number;
  /**
   * The file's bytes, decompressed when the file is gzip, chunk by chunk. The memory of a chunk
   * may be reused for a later one: be done with a chunk before asking for the next. Use either
   * this or `stream`, once.
   */
  chunks(): AsyncIterable<Buffer>;
  /** The same bytes as a stream, e.g. to pipe into a parser. */
  stream(): Readable;
  /** Lets go of the file (after an error). */
  close(): void;
}

/** Turns a file-system error into a one-line message about `path`. */
export function describeFileError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return `${path}: no such file`;
  if (code === 'EISDIR') return `${path}: is a directory, not a file`;
  if (code === 'EACCES' || code === 'EPERM') return `${path}: permission denied`;
  return `${path}: ${(error as Error)?.message ?? String(error)}`;
}

/**
 * Opens `path` for reading; gzip is recognised by its magic bytes, whatever the name.
 * `chunkBytes` is the size of the chunks read from the file (tests use tiny ones).
 */
export async function openInput(path: string, chunkBytes = 1 << 20): Promise<InputSource> {
  let handle: fs.FileHandle | undefined;
  try {
    const stat = await fs.stat(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    handle = await fs.open(path, 'r');
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    const compressed = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    return new FileInput(path, handle, stat.size, compressed, chunkBytes);
  } catch (error) {
    await handle?.close().catch(() => {});
    throw new AlsError('input', describeFileError(path, error), { cause: error });
  }
}

class FileInput implements InputSource {
  private position = 0;
  private opened: Readable | null = null;

  constructor(
    private readonly path: string,
    private handle: fs.FileHandle | null,
    readonly totalBytes: number,
    readonly compressed: boolean,
    private readonly chunkBytes: number,
  ) {}

  bytesRead(): number {
    return this.opened === null ? this.position : (this.opened as unknown as { bytesRead: number }).bytesRead;
  }

  chunks(): AsyncIterable<Buffer> {
    if (this.compressed) return this.stream() as AsyncIterable<Buffer>;
    return this.readChunks();
  }

  /** Reads the file into two buffers in turn: the next chunk is read while the last is used. */
  private async *readChunks(): AsyncGenerator<Buffer> {
    const handle = this.takeHandle();
    const size = this.chunkBytes;
    const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
    let next = 0;
    let reading: Promise<{ bytesRead: number }> | null = handle.read(buffers[0], 0, size, 0);
    try {
      for (;;) {
        const { bytesRead } = await reading;
        reading = null;
        if (bytesRead === 0) return;
        const chunk = buffers[next].subarray(0, bytesRead);
        this.position += bytesRead;
        next ^= 1;
        reading = handle.read(buffers[next], 0, size, this.position);
        yield chunk;
      }
    } finally {
      await reading?.catch(() => {});
      await handle.close();
    }
  }

  stream(): Readable {
    this.takeHandle().close().catch(() => {});
    const file = createReadStream(this.path, { highWaterMark: this.chunkBytes });
    this.opened = file;
    // pipeline forwards an error of either stream to the one we iterate
    const gunzip = () => createGunzip({ chunkSize: Math.max(64, Math.min(this.chunkBytes, 1 << 18)) });
    const stream = this.compressed ? pipeline(file, gunzip(), () => {}) : file;
    this.close = () => stream.destroy();
    return stream;
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
