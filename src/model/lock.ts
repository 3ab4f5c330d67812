import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { AlsError } from '../errors.js';
import { killPoint } from './killPoint.js';
import { openRegular, readExactly } from '../data/regularFile.js';
import { followsLinkOf, otherUsersDirectory } from '../data/trustedLinks.js';
import {
  checkModelPath,
  describeFsError,
  inspectTarget,
  LOCK_BREAK,
  LOCK_FILE,
  LOCK_TEMP,
  STORE_DIR,
} from './store.js';

/** Who holds a model's lock: what M/.als/lock records. */
export interface LockHolder {
  pid: number;
  hostname: string;
  /** the process's start time in clock ticks since boot (/proc/PID/stat field 22), to tell a reused pid; null where unknown */
  startTime: string | null;
  /** the command line, shortened */
  command: string;
  /** when the lock was taken (ISO 8601) */
  since: string;
}

export interface LockOptions {
  /**
   * How long to wait for another writer of the same model, in milliseconds.
   * @default 300000 (5 minutes)
   */
  lockTimeoutMs?: number;
  /** Called once when another live process holds the lock and this one starts to wait for it. */
  onLockWait?: (holder: LockHolder | null, lockFile: string) => void;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 5 * 60 * 1000;
/** a breaker holds lock.break for microseconds; one older than this was left by a crash */
const BREAK_STALE_MS = 10_000;
const MAX_LOCK_BYTES = 64 * 1024;
const PID_MAX_LIMIT = 4_194_304;
/**
 * als writes a lock's holder before the lock takes its name (or, on a file system without hard
 * links, at once after): a regular lock file that names no holder this long after it was written
 * was not made by a running als, and is broken like a dead holder's.
 */
const NAMELESS_STALE_MS = 10_000;

/** A held lock; release() is idempotent. */
export interface ModelLock {
  /** the model directory written (a symlinked path resolved to its target) */
  readonly dir: string;
  readonly file: string;
  release(): void;
}

interface Held {
  file: string;
  ino: number;
}

/** locks this process holds, by model directory (released when the process exits) */
const held = new Map<string, Held>();
let exitHook = false;

/** The start time of process `pid` (field 22 of /proc/PID/stat, clock ticks since boot), or null off Linux or when it is gone. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces and parentheses
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[22 - 3] ?? null;
  } catch {
    return null;
  }
}

function commandLine(): string {
  const script = basename(process.argv[1] ?? 'node').replace(/\.[cm]?js$/, '');
  return [script, ...process.argv.slice(2)].join(' ').slice(0, 300);
}

function sanitize(text: string): string {
  // a lock file is written by whoever can write the directory: never echo control characters
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
}

function clock(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '?';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

/** "process 1234 (als update, since 10:02:11)", with the host when it is another one. */
export function describeHolder(holder: LockHolder | null): string {
  if (holder === null) return 'an unknown process';
  const command = sanitize(holder.command.split(' ').slice(0, 2).join(' ')).slice(0, 60);
  const host = holder.hostname === hostname() ? '' : ` on host ${sanitize(holder.hostname).slice(0, 100)}`;
  return `process ${holder.pid}${host} (${command}, since ${clock(holder.since)})`;
}

function parseHolder(text: string): LockHolder | null {
  try {
    const v = JSON.parse(text);
    if (
      v === null ||
      typeof v !== 'object' ||
      !Number.isSafeInteger(v.pid) ||
      v.pid <= 0 ||
      typeof v.hostname !== 'string'
    )
      return null;
    return {
      pid: v.pid,
      hostname: v.hostname,
      startTime: typeof v.startTime === 'string' ? v.startTime : null,
      command: typeof v.command === 'string' ? v.command : '?',
      since: typeof v.since === 'string' ? v.since : '',
    };
  } catch {
    return null;
  }
}

/** The lock file's holder and inode, or null when there is no lock file. */
function readLock(file: string): { holder: LockHolder | null; ino: number; mtimeMs: number } | null {
  let opened: { fd: number; size: number };
  try {
    opened = openRegular(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // unreadable or not a regular file: an unknown holder, never broken automatically
    return { holder: null, ino: -1, mtimeMs: Date.now() };
  }
  try {
    const stat = fstatSync(opened.fd);
    const text = opened.size <= MAX_LOCK_BYTES ? readExactly(opened.fd, opened.size).toString('utf8') : '';
    return { holder: parseHolder(text), ino: stat.ino, mtimeMs: stat.mtimeMs };
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * Whether the holder is certainly gone: it ran on this host and its pid is not running, or runs
 * a process started at another time (the pid was reused). A holder on another host is never
 * judged dead.
 */
function holderIsDead(holder: LockHolder | null): boolean {
  if (holder === null || holder.hostname !== hostname()) return false;
  // no process of Linux has a larger pid (PID_MAX_LIMIT): a hand-made lock
  if (holder.pid > PID_MAX_LIMIT) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: running, as another user
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  if (holder.startTime === null) return false;
  const now = processStartTime(holder.pid);
  return now !== null && now !== holder.startTime;
}

function myHolder(): LockHolder {
  return {
    pid: process.pid,
    hostname: hostname(),
    startTime: processStartTime(process.pid),
    command: commandLine(),
    since: new Date().toISOString(),
  };
}

/**
 * Creates `file` holding `content`, atomically and exclusively: the content goes to a private
 * temporary file first, which is then hard-linked to the lock name (link fails if the name
 * exists), so a lock file is never seen half written. Returns its inode, or null if it exists.
 */
function createExclusive(file: string, content: string): number | null {
  const temp = join(file, '..', `${LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.new`);
  const fd = openSync(temp, 'wx');
  let ino: number;
  try {
    writeSync(fd, content);
    ino = fstatSync(fd).ino;
  } catch (error) {
    // a full disk: the temporary goes, the error is told
    unlinkQuietly(temp);
    throw error;
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temp, file);
    return ino;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return null;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw error;
  } finally {
    unlinkQuietly(temp);
  }
  // a file system without hard links: exclusive create, then write (a crash in between leaves an
  // empty lock, which is reported, never broken)
  let direct: number;
  try {
    direct = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return null;
    throw error;
  }
  try {
    writeSync(direct, content);
    return fstatSync(direct).ino;
  } catch (error) {
    // an empty lock would hold every later writer off: this one was never taken
    unlinkQuietly(file);
    throw error;
  } finally {
    closeSync(direct);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Whether a lock file read by readLock is left by no running writer: its holder is dead, or it names none long after it was written. */
function isStale(lock: { holder: LockHolder | null; ino: number; mtimeMs: number }): boolean {
  if (lock.holder === null) return lock.ino !== -1 && Date.now() - lock.mtimeMs > NAMELESS_STALE_MS;
  return holderIsDead(lock.holder);
}

/**
 * Removes the lock file if it is still the stale one judged (inode `ino`, holder dead), under a
 * second, short-lived lock (lock.break), so that two processes breaking the same stale lock at
 * once never remove the fresh lock one of them has just taken.
 */
function breakStale(file: string, ino: number): void {
  const breakFile = join(file, '..', LOCK_BREAK);
  let breakIno: number | null;
  try {
    breakIno = createExclusive(breakFile, JSON.stringify(myHolder()));
  } catch {
    return;
  }
  if (breakIno === null) {
    // another breaker is at work, or one crashed while breaking (it holds lock.break for microseconds)
    const other = readLock(breakFile);
    if (
      other &&
      (holderIsDead(other.holder) || Date.now() - other.mtimeMs > BREAK_STALE_MS) &&
      sameInode(breakFile, other.ino)
    ) {
      unlinkQuietly(breakFile);
    }
    return;
  }
  try {
    const now = readLock(file);
    if (now && now.ino === ino && isStale(now)) unlinkSync(file);
  } catch {
    // someone else removed it
  } finally {
    if (sameInode(breakFile, breakIno)) unlinkQuietly(breakFile);
  }
}

function sameInode(path: string, ino: number): boolean {
  try {
    return lstatSync(path).ino === ino;
  } catch {
    return false;
  }
}

/** Removes lock temporaries of processes that are gone (a crash between create and link). */
function removeDeadTemporaries(store: string): void {
  let names: string[];
  try {
    names = readdirSync(store);
  } catch {
    return;
  }
  for (const name of names) {
    const match = LOCK_TEMP.exec(name);
    if (
      match &&
      Number(match[1]) !== process.pid &&
      holderIsDead({ pid: Number(match[1]), hostname: hostname(), startTime: null, command: '', since: '' })
    ) {
      unlinkQuietly(join(store, name));
    }
  }
}

function releaseAllOnExit(): void {
  for (const [dir, entry] of held) {
    if (sameInode(entry.file, entry.ino)) unlinkQuietly(entry.file);
    held.delete(dir);
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Takes the one-writer lock of the model directory `dir` (M/.als/lock), waiting while another
 * live process holds it. Re-entrant within a process. A lock whose holder died on this host (its
 * pid is gone or was reused) is broken; one of another host never is. Checks first that `dir` may
 * hold a model (see inspectTarget), and creates it when `create` is set and it is missing.
 *
 * @throws {AlsError} 'model' when `dir` cannot hold a model, or when the lock is still held after
 *   `lockTimeoutMs` (the message names the holder and the lock file); 'usage' for an empty path
 */
export async function lockModel(dir: string, options: LockOptions & { create?: boolean } = {}): Promise<ModelLock> {
  checkModelPath(dir);
  const timeout = options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !(timeout >= 0)) {
    throw new AlsError('usage', `lockTimeoutMs must be a number of milliseconds ≥ 0, not ${String(timeout)}`);
  }
  let target = inspectTarget(dir);
  if (target.kind === 'missing' || target.kind === 'empty') {
    if (!options.create)
      throw new AlsError('model', `no model in ${target.given} (saveModel writes one)`, {
        field: 'dir',
      });
  }
  if (target.kind === 'missing') {
    try {
      mkdirSync(target.real);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AlsError('model', `cannot create the model directory ${target.given}: ${describeFsError(error)}`, {
          cause: error,
        });
      }
    }
    // whatever is there now (another process may have made it) is judged again
    target = inspectTarget(dir);
  }
  const real = target.real;
  // no re-entry: a second writer in this process (a library user, a server) waits like one in
  // another process; a save inside an update is handed the update's lock instead
  const store = join(real, STORE_DIR);
  try {
    mkdirSync(store);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AlsError('model', `cannot write the model to ${target.given}: ${describeFsError(error)}`, {
        cause: error,
      });
    }
  }
  // a symlink planted in place of .als (a directory others can write to) must not lead the
  // lock and the versions elsewhere
  const storeStats = lstatSync(store);
  if (!storeStats.isDirectory()) {
    throw new AlsError(
      'model',
      `${target.given}: ${STORE_DIR} is not a directory als made; refusing to write a model there`,
    );
  }
  // another user's .als (made in a folder they may write to) would let them swap its versions
  if (!followsLinkOf(storeStats.uid))
    throw new AlsError('model', `${target.given}: ${otherUsersDirectory(store, storeStats.uid)}`);
  const file = join(store, LOCK_FILE);
  const deadline = Date.now() + timeout;
  let delay = 20;
  let told = false;
  removeDeadTemporaries(store);
  for (;;) {
    let ino: number | null;
    try {
      ino = createExclusive(file, JSON.stringify(myHolder()) + '\n');
    } catch (error) {
      throw new AlsError(
        'model',
        `cannot write the model to ${target.given}: cannot create ${file}: ${describeFsError(error)}`,
        { cause: error },
      );
    }
    if (ino !== null) {
      const entry: Held = { file, ino };
      held.set(real, entry);
      if (!exitHook) {
        // process.exit() (e.g. on EPIPE) runs 'exit' listeners; a SIGKILL leaves a lock the next writer breaks
        process.on('exit', releaseAllOnExit);
        exitHook = true;
      }
      killPoint('locked');
      return handle(real, entry);
    }
    const current = readLock(file);
    if (current === null) continue;
    if (isStale(current)) {
      breakStale(file, current.ino);
      continue;
    }
    if (!told) {
      options.onLockWait?.(current.holder, file);
      told = true;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const holder = current.holder;
      const remote = holder !== null && holder.hostname !== hostname();
      throw new AlsError(
        'model',
        `${target.given}: another writer holds the lock ${file}: ${describeHolder(holder)}; gave up waiting after ${formatWait(timeout)}` +
          (remote || holder === null ? `; if that process is no longer running, remove ${file}` : ''),
      );
    }
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, 500);
  }
}

function formatWait(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

function handle(dir: string, entry: Held): ModelLock {
  let released = false;
  return {
    dir,
    file: entry.file,
    release() {
      if (released) return;
      released = true;
      if (held.get(dir) === entry) held.delete(dir);
      // only our own lock: one broken by mistake and taken by another process stays theirs
      if (sameInode(entry.file, entry.ino)) unlinkQuietly(entry.file);
    },
  };
}
