import { randomBytes } from 'node:crypto';
import { constants, fstat, promises as fs, unlinkSync, write as writeFd, type Stats } from 'node:fs';
import { basename, dirname, isAbsolute } from 'node:path';
import { AlsError, describeErrno } from '../errors.js';
import { descriptorOfPath, isProcDescriptorLink } from './outputDescriptor.js';
import { followsLinkOf, isSharedSticky, otherUsersDirectory, runningUid } from './trustedLinks.js';

/**
 * The one writer of every file a user names (`--output`, `--write-config`, the split files).
 *
 * - A regular file (or a new one) is written to a temporary beside it, created exclusively and
 *   without following links (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) under a random name, given
 *   the target's mode (and owner and group when running as root; a new file gets 0666 less the
 *   umask, as a shell's `>` gives it), fsynced and renamed over the target: a reader sees the old
 *   file or the new one, never half of one. A file with several hard links is replaced too: its
 *   other names keep the old text (writing through them could change a file the user never named).
 * - A path naming a descriptor this process has open (`/dev/stdout`, `/dev/stderr`, `/dev/fd/N`,
 *   `/proc/self/fd/N`, … as outputDescriptor.ts recognises them, given or reached through links)
 *   is written through that descriptor: at its offset, in its append mode, never reopened,
 *   truncated, renamed over or closed; 1 and 2 through process.stdout and process.stderr, in order
 *   with all else written there. A descriptor that is not open, is open for reading only or is
 *   one of the event loop's own (epoll, eventfd) is refused.
 * - Anything else that can be written — a FIFO, a character or block device, another process's
 *   `/proc/PID/fd/N` — is opened as it is (`O_WRONLY`, no create, no truncate) and written
 *   straight; opening a FIFO waits for its reader, as a shell redirection does.
 * - A symbolic link is followed to its target, which is then written as above (the link stays a
 *   link); a link to nothing creates its target, as `>` does. Only links of the running user and
 *   of root are followed (trustedLinks.ts): stricter than Linux's `fs.protected_symlinks`, which
 *   follows a link in a folder its owner owns (another user's folder in /tmp). Like
 *   `fs.protected_regular` and `fs.protected_fifos`, a file or FIFO in a sticky directory that
 *   everyone may write to, that belongs to another user, is not written.
 * - A directory, a socket, a missing directory, a read-only file or a directory the running user
 *   cannot write are refused before anything is created.
 *
 * Failures are AlsError('output') naming the path as the user gave it, never a temporary.
 */

/** What an output goes to: a path, or an open stream (for `-`, the CLI passes process.stdout). */
export type OutputTarget = string | NodeJS.WritableStream;

/** What an error code means when writing a file (the rest as describeErrno says). */
const WRITE_WORDS = { ENOENT: 'no such directory', ENOTDIR: 'a file is in the way of the directory', EEXIST: 'a file is in the way of the directory' };

/** The reason of a failed write in words: "no space left on the device". */
export function describeWriteErrno(error: unknown): string {
  return describeErrno(error, WRITE_WORDS);
}

/** "cannot write PATH: reason", naming the file or directory the user asked for, not a temporary one. */
function describeWriteError(path: string, error: unknown): string {
  return `cannot write ${path}: ${describeWriteErrno(error)}`;
}

function refuseSwapped(path: string): AlsError {
  return new AlsError('output', `cannot write ${path}: it was replaced by a regular file while als opened it; run again`);
}

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

/** How a resolved output path is written. */
type Resolved =
  /** nothing there yet: created through a temporary */
  | { kind: 'new'; path: string }
  /** a regular file: replaced through a temporary, keeping its mode (and owner as root) */
  | { kind: 'file'; path: string; stats: Stats }
  /** a FIFO, a device or another process's `/proc/PID/fd/N` link: opened and written as it is */
  | { kind: 'in-place'; path: string }
  /** a descriptor of this process (descriptorOfPath): written through it, never reopened */
  | { kind: 'descriptor'; fd: number };

/** Links followed at most, as Linux's MAXSYMLINKS. */
const MAX_LINKS = 40;

/**
 * Follows `userPath` one name at a time as the kernel does (links expanded where they stand, `..`
 * taken after them), checking each link it follows, to the path that will be written and what
 * is there (null: nothing yet). With `makeDirectories`, missing directories on the way and at
 * the end are made (0777 less the umask), each only after the links before it were checked.
 */
async function walk(userPath: string, makeDirectories: boolean): Promise<{ path: string; stats: Stats | null }> {
  const refuse = (reason: string) => new AlsError('output', `cannot write ${userPath}: ${reason}`);
  const fail = (error: unknown) => new AlsError('output', describeWriteError(userPath, error), { cause: error });
  if (userPath === '') throw new AlsError('output', 'cannot write "": an empty file name');
  if (userPath.includes('\0')) throw refuse('the name holds a NUL character');
  let start: string;
  try {
    start = isAbsolute(userPath) ? userPath : `${process.cwd()}/${userPath}`;
  } catch (error) {
    // the working directory was removed
    throw fail(error);
  }
  const pending = start.split('/');
  let current = '/';
  let currentStats: Stats | null = null;
  let steps = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      current = dirname(current);
      currentStats = null;
      continue;
    }
    const candidate = current === '/' ? `/${name}` : `${current}/${name}`;
    if (pending.length === 0 && isProcDescriptorLink(candidate)) {
      // its link text is no path ("pipe:[123]"), and a descriptor is no directory to write files into
      if (makeDirectories) throw refuse('names an open descriptor, not a directory');
      return { path: candidate, stats: null };
    }
    let stats: Stats;
    try {
      stats = await fs.lstat(candidate);
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      if (missing && !makeDirectories && pending.length === 0) return { path: candidate, stats: null };
      if (!missing || !makeDirectories) throw fail(error);
      try {
        await fs.mkdir(candidate, 0o777);
      } catch (made) {
        if ((made as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(made);
      }
      pending.unshift(name);
      continue;
    }
    if (stats.isSymbolicLink()) {
      if (++steps > MAX_LINKS) throw fail(errno('ELOOP'));
      if (!followsLinkOf(stats.uid)) {
        throw refuse(`${candidate} is a symbolic link of another user (uid ${stats.uid}); als follows only its own user's and root's links when it writes`);
      }
      const target = await fs.readlink(candidate);
      pending.unshift(...target.split('/'));
      if (target.startsWith('/')) current = '/';
      currentStats = null;
      continue;
    }
    if ((makeDirectories || pending.some((rest) => rest !== '' && rest !== '.')) && !stats.isDirectory()) throw fail(errno('ENOTDIR'));
    if (stats.isDirectory() && !followsLinkOf(stats.uid)) throw refuse(otherUsersDirectory(candidate, stats.uid));
    current = candidate;
    currentStats = stats;
  }
  return { path: current, stats: currentStats ?? (await fs.stat(current)) };
}

/** What is at `userPath` and how it will be written; refuses what cannot or must not be. */
async function resolveOutput(userPath: string): Promise<Resolved> {
  const refuse = (reason: string) => new AlsError('output', `cannot write ${userPath}: ${reason}`);
  const given = descriptorOfPath(userPath);
  if (given !== null) return { kind: 'descriptor', fd: given };
  if (userPath.endsWith('/')) throw refuse('a file name cannot end with "/" (that names a directory)');
  const { path, stats } = await walk(userPath, false);
  if (stats === null && isProcDescriptorLink(path)) {
    // reached through a link (`out` → /dev/stderr → /proc/self/fd/2)
    const fd = descriptorOfPath(path);
    return fd !== null ? { kind: 'descriptor', fd } : { kind: 'in-place', path };
  }
  if (stats === null) return { kind: 'new', path };
  if (stats.isDirectory()) throw refuse('is a directory');
  if (stats.isSocket()) throw refuse('is a socket (als writes files, FIFOs and devices)');
  if ((stats.isFile() || stats.isFIFO()) && stats.uid !== runningUid()) {
    const dir = await fs.stat(dirname(path));
    if (isSharedSticky(dir.mode) && dir.uid !== stats.uid) {
      throw refuse(
        `${path} belongs to another user (uid ${stats.uid}) in a directory that everyone may write to (sticky); ` +
          'als does not write into it (as Linux\'s fs.protected_regular)',
      );
    }
  }
  if (stats.isFile()) return { kind: 'file', path, stats };
  return { kind: 'in-place', path };
}

/**
 * Makes the directory `path` and any missing parent (as `mkdir -p`, 0777 less the umask) for
 * output files, following links on the way as writeOutput does: a link planted in a sticky
 * directory by another user is refused before any directory is made beyond it.
 *
 * @throws {AlsError} 'output' naming `path`: "a file is in the way of the directory", …
 */
export async function makeOutputDirectory(path: string): Promise<void> {
  if (descriptorOfPath(path) !== null) throw new AlsError('output', `cannot write ${path}: names an open descriptor, not a directory`);
  await walk(path, true);
}

/** Throws the failure of `access(path, mode)` as AlsError('output') naming `userPath`, with `why` added. */
async function checkAccess(userPath: string, path: string, mode: number, why = ''): Promise<void> {
  try {
    await fs.access(path, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const suffix = why !== '' && (code === 'EACCES' || code === 'EPERM') ? ` ${why}` : '';
    throw new AlsError('output', `${describeWriteError(userPath, error)}${suffix}`, { cause: error });
  }
}

/** What the writer can check without writing: the path can be taken, its directory written. */
async function checkResolved(userPath: string, resolved: Resolved): Promise<void> {
  const { W_OK, X_OK } = constants;
  if (resolved.kind === 'descriptor') return checkDescriptor(userPath, resolved.fd);
  const dir = dirname(resolved.path);
  switch (resolved.kind) {
    case 'new':
      return checkAccess(userPath, dir, W_OK | X_OK, `(in ${dir})`);
    case 'file':
      await checkAccess(userPath, resolved.path, W_OK);
      return checkAccess(userPath, dir, W_OK | X_OK, `on its directory ${dir} (als writes a new file beside it and renames it over the old one)`);
    case 'in-place':
      if (!isProcDescriptorLink(resolved.path)) await checkAccess(userPath, resolved.path, W_OK);
  }
}

/** The largest descriptor number the system calls take. */
const MAX_FD = 0x7fffffff;

/**
 * Refuses a descriptor that cannot be an output: not open, open for reading only, or one of the
 * event loop's own (an epoll or eventfd descriptor: `anon_inode:[…]`), which a write would break
 * rather than reach a file. Node marks every descriptor close-on-exec at start-up
 * (uv_disable_stdio_inheritance), so that flag cannot tell the shell's descriptors from Node's.
 */
async function checkDescriptor(userPath: string, fd: number): Promise<void> {
  const refuse = (reason: string) => new AlsError('output', `cannot write ${userPath}: ${reason}`);
  if (!(fd <= MAX_FD)) throw refuse(`descriptor ${fd} is not open`);
  try {
    await new Promise<Stats>((resolve, reject) => fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats))));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EBADF') throw refuse(`descriptor ${fd} is not open`);
    throw new AlsError('output', describeWriteError(userPath, error), { cause: error });
  }
  // without /proc the write itself finds a descriptor open for reading only
  const info = await fs.readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
  const flags = /^flags:\s*([0-7]+)$/m.exec(info);
  // the access mode is the low two bits (O_ACCMODE): 0 is O_RDONLY
  if (flags && (parseInt(flags[1], 8) & 3) === 0) throw refuse(`descriptor ${fd} is open for reading only`);
  const link = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
  if (link.startsWith('anon_inode:')) throw refuse(`descriptor ${fd} is not open for output (it is the event loop's ${link})`);
}

/**
 * Checks, without opening it for writing or creating anything, that `path` can be written as
 * writeOutput would: its directory exists and may be written, it is no directory or socket, a
 * link to it may be followed, an existing file may be written. For a check before long work
 * (tune's search); the write itself checks again.
 *
 * @throws {AlsError} 'output' naming `path` and the reason
 */
export async function checkOutputPath(path: OutputTarget): Promise<void> {
  // a stream is checked by writing to it
  if (typeof path === 'string') await checkResolved(path, await resolveOutput(path));
}

/** An output being written: text goes in with `write`, then `commit` makes it the file (or `abort` leaves all as it was). */
export interface OpenOutput {
  /** the name the user gave ("standard output" for a stream) */
  readonly name: string;
  /** Writes `text` (the whole of it; bytes as they are, a string as UTF-8) or throws AlsError('output'). */
  write(text: string | Uint8Array): Promise<void>;
  /** Finishes: fsync and rename for a file, close for a FIFO or device; throws AlsError('output'). */
  commit(): Promise<void>;
  /** Closes and removes the temporary; never throws. */
  abort(): Promise<void>;
}

/** Temporaries being written: removed if the process exits (process.exit) before their commit or abort. */
const liveTemporaries = new Set<string>();

function track(temporary: string): void {
  if (liveTemporaries.size === 0 && !process.listeners('exit').includes(removeLiveTemporaries)) process.on('exit', removeLiveTemporaries);
  liveTemporaries.add(temporary);
}

function removeLiveTemporaries(): void {
  for (const temporary of liveTemporaries) {
    try {
      unlinkSync(temporary);
    } catch {
      // already gone
    }
  }
}

/** The temporary's name beside `path`: hidden, random, short enough for any file system. */
function temporaryName(path: string): string {
  const base = Buffer.from(basename(path)).subarray(0, 64).toString().replace(/\uFFFD+$/, '');
  return `${dirname(path)}/.${base}.${randomBytes(9).toString('hex')}.tmp`;
}

async function writeAll(handle: fs.FileHandle, text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, null);
    offset += bytesWritten;
  }
}

/** How errors name a stream: process.stderr (or a wrapper of it) is standard error. */
function streamName(stream: NodeJS.WritableStream): string {
  return (stream as { fd?: unknown }).fd === 2 ? 'standard error' : 'standard output';
}

/** A descriptor opened non-blocking by someone else says EAGAIN when full: waits this long, then tries again. */
const AGAIN_MS = 5;

/** Writes all of `text` at the descriptor's own offset (position null: as `write(2)`, append mode kept). */
async function writeAllToDescriptor(fd: number, text: string | Uint8Array): Promise<void> {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += await new Promise<number>((resolve, reject) =>
        writeFd(fd, bytes, offset, bytes.length - offset, null, (error, written) => (error ? reject(error) : resolve(written))),
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      await new Promise((resolve) => setTimeout(resolve, AGAIN_MS));
    }
  }
}

function streamOutput(stream: NodeJS.WritableStream, name: string): OpenOutput {
  const fail = (error: unknown) => {
    // a stream destroyed by an earlier failure reports that failure
    const cause = (stream as { errored?: unknown }).errored ?? error;
    return new AlsError('output', describeWriteError(name, cause), { cause });
  };
  const write = (text: string | Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      try {
        stream.write(text, (error?: Error | null) => (error ? reject(fail(error)) : resolve()));
      } catch (error) {
        reject(fail(error));
      }
    });
  return { name, write, commit: () => write(''), abort: async () => {} };
}

/**
 * Opens `target` for writing as the module comment says; nothing is created or changed at
 * `target` until `commit`.
 *
 * @param name how errors name a stream target (default "standard output", or "standard error"
 *   for process.stderr)
 * @throws {AlsError} 'output' naming the path, before anything is created
 */
export async function openOutput(target: OutputTarget, name?: string): Promise<OpenOutput> {
  if (typeof target !== 'string') return streamOutput(target, name ?? streamName(target));
  const userPath = target;
  const fail = (error: unknown) => (error instanceof AlsError ? error : new AlsError('output', describeWriteError(userPath, error), { cause: error }));
  const resolved = await resolveOutput(userPath);
  await checkResolved(userPath, resolved);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NOCTTY } = constants;

  if (resolved.kind === 'descriptor') {
    const { fd } = resolved;
    if (fd === 1 || fd === 2) return streamOutput(fd === 1 ? process.stdout : process.stderr, userPath);
    const write = (text: string | Uint8Array) => writeAllToDescriptor(fd, text).catch((error) => Promise.reject(fail(error)));
    // the descriptor is the caller's: left open, at the offset the text brought it to
    return { name: userPath, write, commit: async () => {}, abort: async () => {} };
  }

  if (resolved.kind === 'in-place') {
    // no O_NOFOLLOW for the kernel's /proc/self/fd links, which must be followed to the open file
    const flags = O_WRONLY | O_NOCTTY | (isProcDescriptorLink(resolved.path) ? 0 : O_NOFOLLOW);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(resolved.path, flags);
      // a FIFO or device swapped for a regular file between the look and the open would be
      // written from its start without being truncated: that file goes through the temporary
      if ((await handle.stat()).isFile() && !isProcDescriptorLink(resolved.path)) {
        await handle.close();
        throw refuseSwapped(userPath);
      }
    } catch (error) {
      throw fail(error);
    }
    return {
      name: userPath,
      write: (text) => writeAll(handle, text).catch((error) => Promise.reject(fail(error))),
      commit: () => handle.close().catch((error) => Promise.reject(fail(error))),
      abort: () => handle.close().catch(() => {}),
    };
  }

  const temporary = temporaryName(resolved.path);
  let handle: fs.FileHandle;
  try {
    // a new file gets 0666 less the umask from the kernel, as `>` gives it; a replaced one first
    // 0600, then its own mode before any byte is written
    handle = await fs.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY, resolved.kind === 'new' ? 0o666 : 0o600);
  } catch (error) {
    throw fail(error);
  }
  track(temporary);
  let renamed = false;
  const abort = async () => {
    if (renamed) return;
    await handle.close().catch(() => {});
    await fs.rm(temporary, { force: true }).catch(() => {});
    liveTemporaries.delete(temporary);
  };
  try {
    if (resolved.kind === 'file') {
      const { uid, gid, mode } = resolved.stats;
      // chown clears set-id bits, so it comes before chmod; a user may keep a group of theirs
      if (runningUid() === 0) await handle.chown(uid, gid);
      else if (gid !== process.getegid?.()) await handle.chown(-1, gid).catch(() => {});
      await handle.chmod(mode & 0o7777);
    }
  } catch (error) {
    await abort();
    throw fail(error);
  }
  return {
    name: userPath,
    write: (text) => writeAll(handle, text).catch((error) => Promise.reject(fail(error))),
    commit: async () => {
      try {
        await handle.sync();
        await handle.close();
        await fs.rename(temporary, resolved.path);
        renamed = true;
        liveTemporaries.delete(temporary);
      } catch (error) {
        await abort();
        throw fail(error);
      }
      await syncDirectory(dirname(resolved.path));
    },
    abort,
  };
}

/** Makes a rename in `dir` durable; best effort (some file systems refuse fsync on a directory). */
/**
 * Creates `path` (never an existing file or a planted symlink: O_EXCL), writes and fsyncs it: a
 * file of a new model version or export, in a directory that the writer has just made.
 */
export async function writeNew(path: string, data: Buffer): Promise<void> {
  const handle = await fs.open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Makes the entries of `dir` (a rename, a new file) durable across a power cut. Best effort: some
 * file systems cannot sync a directory, and the rename is atomic all the same.
 */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await fs.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync().finally(() => handle.close());
  } catch {
    // the data is written and renamed; only its durability across a power cut is left to the system
  }
}

/** Text is handed to the file in pieces of about this many characters or bytes: fewer, larger writes. */
const WRITE_CHUNK = 1 << 16;

/**
 * Writes the text `produce` hands to `emit` (in pieces of any size, strings or UTF-8 bytes that
 * the call may keep until written; awaiting each lets a slow
 * disk or reader hold the producer back) to `target` as openOutput does: a file is replaced
 * whole when complete, a FIFO, device, descriptor or stream is written as the text comes. On
 * any failure the temporary file is removed and the target left as it was; AlsErrors from
 * `produce` pass through.
 *
 * @param name how errors name a stream target
 * @throws {AlsError} 'output' naming the path (with the system error as `cause`; EPIPE when the
 *   reader of a FIFO or pipe went away)
 */
export async function writeOutput(
  target: OutputTarget,
  produce: (emit: (text: string | Uint8Array) => Promise<void>) => Promise<void>,
  name?: string,
): Promise<void> {
  const output = await openOutput(target, name);
  // strings joined as strings, bytes as bytes (encoded once, by their producer), in order
  let pending: (string | Uint8Array)[] = [];
  let size = 0;
  const flush = async () => {
    const pieces = pending;
    pending = [];
    size = 0;
    await output.write(pieces.every((piece) => typeof piece === 'string') ? pieces.join('') : Buffer.concat(pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece) : piece))));
  };
  const emit = async (text: string | Uint8Array) => {
    pending.push(text);
    size += text.length;
    if (size >= WRITE_CHUNK) await flush();
  };
  try {
    await produce(emit);
    if (size > 0) await flush();
    await output.commit();
  } catch (error) {
    await output.abort();
    throw error;
  }
}
