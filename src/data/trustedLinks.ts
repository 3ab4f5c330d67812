import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';

/**
 * Which symbolic links als follows when it writes: only those of the running user and of root.
 * A link another user made — in their folder under /tmp, in a sticky shared folder, anywhere —
 * could send a write of root's to any file (issue 9), so a write through one is refused; the
 * kernel's fs.protected_symlinks covers sticky folders only, and not a folder the link's owner
 * owns.
 */
export function followsLinkOf(uid: number): boolean {
  return uid === 0 || uid === runningUid();
}

/** The effective user id of this process (-1 where there is none, off POSIX). */
export function runningUid(): number {
  return process.geteuid?.() ?? -1;
}

/**
 * Whether a directory of mode `mode` is shared like /tmp: sticky and writable by everyone. What
 * another user put there (a file, a FIFO, a folder) is theirs to swap under us, so als writes
 * into none of it.
 */
export function isSharedSticky(mode: number): boolean {
  return (mode & 0o1002) === 0o1002;
}

/** Links followed at most, as the kernel's 40. */
const MAX_LINKS = 40;

/**
 * Why a write does not go through `dir`, a directory of another user: its owner can rename what
 * is in it between als's look and its write (a folder swapped for a link, issue 9), and Node has
 * no openat() to hold on to the directory als looked at. Only the running user's and root's
 * directories are written through.
 */
export function otherUsersDirectory(dir: string, uid: number): string {
  return `${dir} is a directory of another user (uid ${uid}), who could swap what is in it while als writes; als writes only through its own user's and root's directories (run als as that user)`;
}

/**
 * The first link or directory on the way to `path` that als does not write through (followsLinkOf:
 * one of another user), with its owner, or null. Follows the links it trusts like the kernel,
 * component by component; a component that does not exist ends the walk (what is created there
 * is the writer's own).
 */
export function untrustedOnPath(path: string): { path: string; uid: number; link: boolean } | null {
  const pending = resolve(path).split('/').filter((part) => part !== '');
  let current = '/';
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      current = dirname(current);
      continue;
    }
    const candidate = current === '/' ? `/${name}` : `${current}/${name}`;
    let stats;
    try {
      stats = lstatSync(candidate);
    } catch {
      return null;
    }
    if (!stats.isSymbolicLink()) {
      if (stats.isDirectory() && !followsLinkOf(stats.uid)) return { path: candidate, uid: stats.uid, link: false };
      current = candidate;
      continue;
    }
    if (!followsLinkOf(stats.uid)) return { path: candidate, uid: stats.uid, link: true };
    if (++links > MAX_LINKS) return null;
    const target = readlinkSync(candidate);
    pending.unshift(...target.split('/').filter((part) => part !== ''));
    if (isAbsolute(target)) current = '/';
  }
  return null;
}
