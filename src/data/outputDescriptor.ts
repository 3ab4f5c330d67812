import { existsSync } from 'node:fs';

/**
 * The one recognition of paths that name a descriptor this process already has open, shared by
 * every writer (`--output`, `--write-config`, `--write-split` and the library's writeOutput).
 *
 * Linux opens `/proc/self/fd/N` (and `/dev/stdout`, `/dev/fd/N`, which lead there) as a new open
 * file description: at offset 0, without the O_APPEND of the descriptor the shell opened
 * (`2>>log`, `exec 3>>file`). Written that way, the output overwrites the start of the user's
 * file. Such a path is therefore written through descriptor N itself, never reopened.
 */

/** `/dev/stdin`, `/dev/stdout`, `/dev/stderr`: descriptors 0, 1, 2. */
const STANDARD = new Map([
  ['/dev/stdin', 0],
  ['/dev/stdout', 1],
  ['/dev/stderr', 2],
]);

/** A descriptor number as the kernel spells it under /proc (no sign, no leading zero). */
const NUMBER = '(0|[1-9][0-9]*)';
const CANONICAL = new RegExp(`^${NUMBER}$`);
const DEV_FD = new RegExp(`^/dev/fd/${NUMBER}$`);
/**
 * The shape of a descriptor link under /proc: `/proc/self/fd/N`, `/proc/thread-self/fd/N`,
 * `/proc/PID/fd/N` and `/proc/PID/task/TID/fd/N` (PID: any process's). Captures the owner, the
 * thread and the descriptor.
 */
const PROC_FD = /^\/proc\/(self|thread-self|\d+)(?:\/task\/(\d+))?\/fd\/(\d+)$/;

/**
 * Whether `path` has the shape of a descriptor link under /proc, of any process: the kernel's
 * links to a process's open files, whose text ("pipe:[123]") is no path; opening one reopens
 * the file (the writer opens them without O_NOFOLLOW).
 */
export function isProcDescriptorLink(path: string): boolean {
  return PROC_FD.test(path);
}

/**
 * The descriptor of this process that `path` names, or null when it names none:
 * `/dev/stdin|stdout|stderr`, `/dev/fd/N`, `/proc/self/fd/N`, `/proc/thread-self/fd/N`,
 * `/proc/<this pid>/fd/N` and `/proc/self|<this pid>/task/<a thread of this process>/fd/N`.
 * The path is taken as given (a link to one of these is recognised by the writer once it has
 * followed the link). Another process's `/proc/PID/fd/N` is no descriptor of this process (null).
 * A number too large to be open is returned as it is (the writer finds it not open).
 */
export function descriptorOfPath(path: string): number | null {
  const standard = STANDARD.get(path);
  if (standard !== undefined) return standard;
  const dev = DEV_FD.exec(path);
  if (dev) return Number(dev[1]);
  const proc = PROC_FD.exec(path);
  if (!proc) return null;
  const [, owner, thread, fd] = proc;
  // numbers as the kernel spells them: "03" names no descriptor, a process or thread is never 0
  if (!CANONICAL.test(fd) || owner === '0' || !/^(self|thread-self|[1-9][0-9]*)$/.test(owner) || (thread !== undefined && !/^[1-9][0-9]*$/.test(thread))) return null;
  const own = owner === 'self' || owner === 'thread-self' || Number(owner) === process.pid;
  if (!own || (thread !== undefined && owner === 'thread-self')) return null;
  // a thread of this process shares its descriptors; another number names no file here
  if (thread !== undefined && !existsSync(`/proc/self/task/${thread}`)) return null;
  return Number(fd);
}
