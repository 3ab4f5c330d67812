import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/**
 * Reading a file that must be a regular file: a model's parts, its lock, a settings file. No
 * FIFO can block the read (O_NONBLOCK) and no device can feed it without end (the size is checked
 * before anything is read).
 */

/** Why a file cannot be used (a link, FIFO, device or directory, or too large), as opposed to an error of the file system. */
export class NotRegularFile extends Error {}

export interface OpenRegularOptions {
  /**
   * Follow a symbolic link at the end of the path (a settings file may be one); a model's files
   * are never links.
   * @default false
   */
  followLink?: boolean;
}

/**
 * Opens `path` for reading without blocking on a FIFO, and checks that it is a regular file:
 * (fd, size). A symlink (unless followed), FIFO, device or directory throws NotRegularFile;
 * errors of the file system (ENOENT, EACCES, …) are thrown as they are.
 */
export function openRegular(path: string, options: OpenRegularOptions = {}): { fd: number; size: number } {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.followLink ? 0 : constants.O_NOFOLLOW);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP' && !options.followLink) throw new NotRegularFile('is a symbolic link, not a regular file');
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new NotRegularFile(`is ${stat.isDirectory() ? 'a directory' : stat.isFIFO() ? 'a FIFO' : 'not a regular file'}`);
    return { fd, size: stat.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** Reads exactly `bytes` bytes from `fd` at offset 0 into a buffer aligned for typed arrays. */
export function readExactly(fd: number, bytes: number): Buffer {
  // allocUnsafeSlow: never a slice of the shared pool, so the offset is 0 and Float32Array fits
  const data = Buffer.allocUnsafeSlow(bytes);
  const at = readInto(fd, data);
  return at === bytes ? data : data.subarray(0, at);
}

/** Fills `target` from the start of the file (fewer bytes at its end): the number of bytes read. */
export function readInto(fd: number, target: Uint8Array): number {
  let at = 0;
  while (at < target.length) {
    const n = readSync(fd, target, at, target.length - at, at);
    if (n === 0) break;
    at += n;
  }
  return at;
}

/** A regular file of at most `limit` bytes, read whole; throws NotRegularFile when it is not one or is larger. */
export function readSmallFile(path: string, limit: number, options: OpenRegularOptions = {}): Buffer {
  const { fd, size } = openRegular(path, options);
  try {
    if (size > limit) throw new NotRegularFile(`has ${size} bytes, more than the ${limit} allowed`);
    return readExactly(fd, size);
  } finally {
    closeSync(fd);
  }
}
