import { createReadStream, promises as fs, type ReadStream } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { AlsError } from '../errors.js';

export interface InputSource {
  /** the file's bytes, decompressed when the file is gzip */
  stream: Readable;
  /** size of the file on disk */
  totalBytes: number;
  compressed: boolean;
  /** bytes of the file (not of the decompressed stream) read so far, for progress */
  bytesRead(): number;
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
 * Opens `path` for streaming; gzip is recognised by its magic bytes, whatever the name.
 * `chunkBytes` is the size of the chunks read from the file (tests use tiny ones).
 */
export async function openInput(path: string, chunkBytes = 1 << 20): Promise<InputSource> {
  let totalBytes: number;
  let compressed = false;
  try {
    const stat = await fs.stat(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    totalBytes = stat.size;
    const handle = await fs.open(path, 'r');
    try {
      const magic = Buffer.alloc(2);
      const { bytesRead } = await handle.read(magic, 0, 2, 0);
      compressed = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new AlsError('input', describeFileError(path, error), { cause: error });
  }

  const file: ReadStream = createReadStream(path, { highWaterMark: chunkBytes });
  const bytesRead = () => file.bytesRead;
  if (!compressed) return { stream: file, totalBytes, compressed, bytesRead };
  // pipeline forwards an error of either stream to the one we iterate
  const gunzip = pipeline(file, createGunzip(), () => {});
  return { stream: gunzip, totalBytes, compressed, bytesRead };
}
