import { randomBytes } from 'node:crypto';
import { lstatSync, promises as fs, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isSharedSticky, otherUsersDirectory, runningUid, untrustedOnPath } from '../data/trustedLinks.js';
import { readSmallFile } from '../data/regularFile.js';
import { syncDirectory, writeNew } from '../data/writeFile.js';
import { AlsError } from '../errors.js';
import { checkModelPath, describeFsError } from './store.js';

/**
 * Writes a directory of files for another program (a Spark ALSModel) the way als writes a model:
 * whole or not at all. The files go into a fresh hidden directory beside the target (created
 * exclusively, each file with O_EXCL and fsynced), which is then renamed to the target:
 *
 * - nothing at the target: the rename creates it;
 * - an empty directory: the rename replaces it (rename(2) replaces an empty directory atomically);
 * - a directory that an earlier export of the same kind wrote (its `marker` file names `kind`,
 *   and it holds only the names such an export writes): moved aside, the new one renamed in, the
 *   old one removed. A reader may find no directory for that instant, never a mix of two;
 * - anything else — a symbolic link, a file, a FIFO, a device, a directory holding other files,
 *   another user's directory in a shared sticky folder, a path through another user's link —
 *   is refused before anything is written.
 *
 * A second writer racing for the same new target loses at the rename (its directory is then not
 * empty) and removes its temporary.
 */

/** One file of the directory: its path inside it ("userFactors/part-00000.snappy.parquet") and bytes. */
export type DirectoryFile = [path: string, data: Buffer];

export interface DirectoryKind {
  /** the file at the top of the directory that says an export wrote it */
  marker: string;
  /** what the marker's JSON "format" holds */
  format: string;
  /** the top-level names such an export writes (others make the directory foreign) */
  names: readonly string[];
}

const hex = () => randomBytes(6).toString('hex');

/** Whether `dir` was written by an export of `kind`: its marker names the format, and it holds nothing else. */
function isEarlierExport(dir: string, kind: DirectoryKind, entries: string[]): boolean {
  if (!entries.includes(kind.marker) || !entries.every((name) => kind.names.includes(name))) return false;
  try {
    const parsed = JSON.parse(readSmallFile(join(dir, kind.marker), 64 * 1024).toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && parsed.format === kind.format;
  } catch {
    return false;
  }
}

/** What is at the target: nothing, an empty directory, or an earlier export to replace. */
type Target = 'missing' | 'empty' | 'earlier';

/**
 * Judges the target path, touching nothing.
 *
 * @throws {AlsError} 'output' naming the path and why it is refused
 */
export function inspectExportTarget(dir: string, kind: DirectoryKind): Target {
  const given = checkModelPath(dir);
  const refuse = (why: string) => new AlsError('output', `cannot write ${given}: ${why}`);
  const untrusted = untrustedOnPath(given);
  if (untrusted !== null) {
    throw refuse(
      untrusted.link
        ? `${untrusted.path} is a symbolic link of another user (uid ${untrusted.uid}); als writes only through its own user's and root's links`
        : otherUsersDirectory(untrusted.path, untrusted.uid),
    );
  }
  let stat;
  try {
    stat = lstatSync(given);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw refuse(describeFsError(error));
    let parent;
    try {
      parent = statSync(dirname(given));
    } catch {
      parent = null;
    }
    if (!parent?.isDirectory()) throw refuse('its parent directory does not exist; create it first');
    return 'missing';
  }
  if (stat.isSymbolicLink())
    throw refuse(
      'is a symbolic link; give the directory itself (als replaces the directory, which would break the link)',
    );
  if (!stat.isDirectory())
    throw refuse(
      `exists and is ${stat.isFIFO() ? 'a FIFO' : stat.isFile() ? 'a file' : 'not a directory'}; refusing to replace it with a directory`,
    );
  if (stat.uid !== runningUid() && isSharedSticky(statSync(dirname(given)).mode)) {
    throw refuse('belongs to another user in a shared directory (sticky and writable by all); refusing to write there');
  }
  let entries: string[];
  try {
    entries = readdirSync(given);
  } catch (error) {
    throw refuse(`cannot read the directory: ${describeFsError(error)}`);
  }
  if (entries.length === 0) return 'empty';
  if (isEarlierExport(given, kind, entries)) return 'earlier';
  throw refuse(
    `is not empty and not an earlier export of als (no ${kind.marker}, or other files in it); choose a new or empty directory`,
  );
}

/**
 * Writes `files` as the directory `dir`, whole or not at all (see the top of this file).
 *
 * @throws {AlsError} 'output' naming `dir`: refused (inspectExportTarget) or failed; nothing is left behind then
 */
export async function writeDirectory(dir: string, kind: DirectoryKind, files: DirectoryFile[]): Promise<void> {
  inspectExportTarget(dir, kind);
  const given = checkModelPath(dir);
  const fail = (error: unknown) =>
    error instanceof AlsError
      ? error
      : new AlsError('output', `cannot write ${given}: ${describeFsError(error)}`, { cause: error });
  const parent = dirname(given);
  const temporary = join(parent, `.${basename(given).slice(0, 64)}.${hex()}.tmp`);
  try {
    await fs.mkdir(temporary);
  } catch (error) {
    throw fail(error);
  }
  let placed = false;
  try {
    const made = new Set<string>();
    for (const [path, data] of files) {
      const folder = dirname(path);
      if (folder !== '.' && !made.has(folder)) {
        await fs.mkdir(join(temporary, folder), { recursive: true });
        made.add(folder);
      }
      await writeNew(join(temporary, path), data);
    }
    for (const folder of made) await syncDirectory(join(temporary, folder));
    await syncDirectory(temporary);
    // judged again just before the switch: the target may have changed while the files were written
    const now = inspectExportTarget(dir, kind);
    if (now === 'earlier') {
      const aside = join(parent, `.${basename(given).slice(0, 64)}.${hex()}.old`);
      await fs.rename(given, aside);
      try {
        await fs.rename(temporary, given);
      } catch (error) {
        await fs.rename(aside, given).catch(() => {});
        throw error;
      }
      placed = true;
      await fs.rm(aside, { recursive: true, force: true }).catch(() => {});
    } else {
      await fs.rename(temporary, given);
      placed = true;
    }
    await syncDirectory(parent);
  } catch (error) {
    if (!placed) await fs.rm(temporary, { recursive: true, force: true }).catch(() => {});
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new AlsError(
        'output',
        `cannot write ${given}: something else was written there meanwhile; nothing was changed`,
        { cause: error },
      );
    }
    throw fail(error);
  }
}
