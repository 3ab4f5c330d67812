import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { AlsError } from '../errors.js';

/** "cannot write PATH: reason", naming the file or directory the user asked for, not a temporary one. */
export function describeWriteError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const reason =
    code === 'ENOENT' ? 'no such directory' :
    code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way of the directory' :
    code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
    code === 'EROFS' ? 'read-only file system' :
    code === 'EISDIR' ? 'is a directory' :
    code === 'ENOSPC' ? 'no space left on the device' :
    ((error as Error)?.message ?? String(error));
  return `cannot write ${path}: ${reason}`;
}

/** Text is handed to the file in pieces of about this many characters: fewer, larger writes. */
const WRITE_CHUNK = 1 << 16;

/**
 * Writes a text file atomically: `produce` hands its text to `emit` (in pieces of any size;
 * awaiting each lets a slow disk hold the producer back), the text goes to a temporary file
 * beside `path`, and that is renamed to `path` when complete. On any failure the temporary file
 * is removed, `path` is left as it was, and a write failure becomes AlsError('output') naming
 * `path`; AlsErrors from `produce` pass through.
 */
export async function writeTextAtomically(path: string, produce: (emit: (text: string) => Promise<void>) => Promise<void>): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(temporary);
  const opened = once(out, 'open');
  // a write error (a full disk) can come while no one awaits the stream; kept to be thrown below
  let failure: unknown;
  out.on('error', (error) => (failure ??= error));
  let pending = '';
  const emit = async (text: string) => {
    pending += text;
    if (pending.length < WRITE_CHUNK) return;
    const chunk = pending;
    pending = '';
    if (!out.write(chunk)) await once(out, 'drain');
    if (failure !== undefined) throw failure;
  };
  try {
    await opened;
    await produce(emit);
    out.end(pending);
    await finished(out);
    await fs.rename(temporary, path);
  } catch (error) {
    out.destroy();
    await fs.rm(temporary, { force: true });
    if (error instanceof AlsError) throw error;
    throw new AlsError('output', describeWriteError(path, error), { cause: error });
  }
}
