import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { valueForMessage } from '../validate.js';
import { readSmallFile } from '../data/regularFile.js';
import { isSharedSticky, otherUsersDirectory, runningUid, untrustedOnPath } from '../data/trustedLinks.js';
import { AlsError, describeErrno, quoteForMessage } from '../errors.js';
import { FILES, FORMAT_NAME, MANIFEST, TIMINGS } from './format.js';

/**
 * Where a model directory M keeps its versions (issue 9, classes 1 and 5):
 *
 *   M/.als/lock             held by the one writer (src/model/lock.ts)
 *   M/.als/v<gen>-<random>  one complete model each, written once and never changed
 *   M/.als/current          relative symlink to the live version, replaced by rename
 *   M/model.json, M/user_factors.f32, …   relative symlinks to .als/current/<name>, so that the
 *                           documented layout can still be read (numpy.fromfile('M/user_factors.f32'))
 *
 * A reader resolves `current` once and opens every file of that version; a writer builds a new
 * version beside it and switches `current` by one rename, so a reader sees the old or the new
 * model, never a mix. Everything else in M belongs to the user and is never touched.
 */
export const STORE_DIR = '.als';
export const CURRENT = 'current';
export const LOCK_FILE = 'lock';

/** model.json lists shapes, options and checksums: a few KB (plus ~300 bytes per update). */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;
/** timings.json holds a few numbers. */
export const MAX_TIMINGS_BYTES = 64 * 1024;

/** The names als writes at M's top level: they are als's own, everything else is the user's. */
export const TOP_LEVEL_NAMES: readonly string[] = [MANIFEST, ...Object.values(FILES), TIMINGS];

const VERSION_NAME = /^v(\d{1,15})-[0-9a-f]{12}$/;
/** temporary symlinks a writer creates in M/.als before renaming them into place */
export const TEMP_LINK = /^\.(?:current|link)-[0-9a-f]{12}$/;
/** a lock being created (lock.ts): lock.<pid>.<random>.new */
export const LOCK_TEMP = /^lock\.(\d+)\.[0-9a-f]{12}\.new$/;
export const LOCK_BREAK = 'lock.break';

export function versionGeneration(name: string): number | null {
  const match = VERSION_NAME.exec(name);
  return match ? Number(match[1]) : null;
}

/** Whether `name` in M/.als is something als writes there. */
export function isStoreEntry(name: string): boolean {
  return (
    name === LOCK_FILE ||
    name === LOCK_BREAK ||
    name === CURRENT ||
    VERSION_NAME.test(name) ||
    TEMP_LINK.test(name) ||
    LOCK_TEMP.test(name)
  );
}

/** The contents of a top-level link to a file of the live version. */
export function topLevelLink(name: string): string {
  return `${STORE_DIR}/${CURRENT}/${name}`;
}

/** Throws AlsError('usage') unless `dir` names a directory (an empty string names none). */
export function checkModelPath(dir: unknown): string {
  if (typeof dir !== 'string' || dir.trim() === '') {
    throw new AlsError('usage', `the model directory must be a non-empty path, not ${valueForMessage(dir)}`);
  }
  if (dir.includes('\0')) throw new AlsError('usage', 'the model directory path holds a NUL character');
  return resolve(dir);
}

/** A file-system error in words, on one line. */
export function describeFsError(error: unknown): string {
  // O_NOFOLLOW opening a model's file: a link where als wrote a regular file
  return describeErrno(error, { ELOOP: 'a symbolic link where a regular file belongs' });
}

/** Where the files of the model at `dir` are read from, resolved once. */
export interface ModelLocation {
  /** the model directory as given, made absolute (used in messages) */
  dir: string;
  /** the directory that holds model.json and the data files: a version in .als, or `dir` itself */
  root: string;
  /** the version's directory name, or null for a flat (format 2, never rewritten) directory */
  version: string | null;
}

/**
 * Resolves `dir/.als/current` once: the version to read, or `dir` itself for a flat directory
 * written before versions (format 2). Throws AlsError('model') when `current` names a missing
 * version.
 */
export function locateModel(dir: string): ModelLocation {
  // a writer switches `current` before it removes the version it replaced: a version gone under
  // us while `current` names another one is a switch, and is resolved again
  for (let attempt = 1; ; attempt++) {
    const before = safeReadlink(join(dir, STORE_DIR, CURRENT));
    try {
      return resolveCurrent(dir);
    } catch (error) {
      const switched = before !== null && safeReadlink(join(dir, STORE_DIR, CURRENT)) !== before;
      if (error instanceof AlsError && switched && attempt < MAX_LOCATE_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** Switches seen in a row before giving up: each needs a whole save by another process. */
const MAX_LOCATE_ATTEMPTS = 100;

function resolveCurrent(dir: string): ModelLocation {
  const current = join(dir, STORE_DIR, CURRENT);
  try {
    // one resolution by the kernel, so that a switch under us gives the old or the new version;
    // the link als wrote names a version folder beside it, anything else was not written by als
    if (!lstatSync(current).isSymbolicLink())
      throw new AlsError(
        'model',
        `${dir}: ${STORE_DIR}/${CURRENT} is not a link (a copy that followed the links, such as cp -rL, makes it a folder: copy a model with cp -a or rsync -a); train the model again`,
      );
    const root = realpathSync(current);
    const version = basename(root);
    if (!VERSION_NAME.test(version) || dirname(root) !== realpathSync(join(dir, STORE_DIR))) {
      throw new AlsError(
        'model',
        `${dir}: ${STORE_DIR}/${CURRENT} points outside the model's versions (${quoteForMessage(root)}); train the model again`,
      );
    }
    return { dir, root, version };
  } catch (error) {
    if (error instanceof AlsError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (isLink(current)) {
        throw new AlsError(
          'model',
          `${dir}: ${STORE_DIR}/${CURRENT} names a version that does not exist (the model is corrupt or incomplete; train it again)`,
        );
      }
      return { dir, root: dir, version: null };
    }
    throw new AlsError('model', `${dir}: cannot read ${STORE_DIR}/${CURRENT}: ${describeFsError(error)}`, {
      cause: error,
    });
  }
}

/** Whether `path`, its links resolved as far as they exist, lies inside a model's STORE_DIR. */
function insideStore(path: string): boolean {
  let real = path;
  const rest: string[] = [];
  for (;;) {
    try {
      real = join(realpathSync(real), ...rest);
      break;
    } catch {
      const parent = dirname(real);
      if (parent === real) break;
      rest.unshift(basename(real));
      real = parent;
    }
  }
  return real.split('/').includes(STORE_DIR);
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Whether `path` is a regular model.json (of bounded size) whose format is als's. */
function isAlsManifest(path: string): boolean {
  try {
    const parsed = JSON.parse(readSmallFile(path, MAX_MANIFEST_BYTES).toString('utf8'));
    return parsed !== null && typeof parsed === 'object' && parsed.format === FORMAT_NAME;
  } catch {
    return false;
  }
}

/** What a model directory holds before a write. */
export type TargetKind =
  /** nothing at the path (its parent exists) */
  | 'missing'
  /** an empty directory, or one holding only what als itself left (.als without a live version) */
  | 'empty'
  /** an als model with versions (.als/current) */
  | 'versioned'
  /** an als model of format 2 written before versions: regular files at the top level */
  | 'flat';

export interface WriteTarget {
  /** the path as given, made absolute */
  given: string;
  /** the directory written: `given`, or what it links to */
  real: string;
  kind: TargetKind;
}

/**
 * Judges the path a model is to be written to, touching nothing. A symlink is followed to the
 * directory it names (the link stays). Refuses (AlsError('model')) a path that is not a directory,
 * a dangling symlink, a missing parent, and a directory that is not empty and not an als model.
 */
export function inspectTarget(dir: string): WriteTarget {
  const given = checkModelPath(dir);
  const refuse = (why: string) => new AlsError('model', `${given}: ${why}`);
  // the rule of every writer of als (trustedLinks.ts): another user's link could lead the model anywhere
  const untrusted = untrustedOnPath(given);
  if (untrusted !== null) {
    throw refuse(
      untrusted.link
        ? `${untrusted.path} is a symbolic link of another user (uid ${untrusted.uid}); als writes only through its own user's and root's links`
        : otherUsersDirectory(untrusted.path, untrusted.uid),
    );
  }
  // a version folder of another model (M/.als/current, M/.als/v3-…) is that model's: writing a
  // model into it would break the other one for every reader
  if (insideStore(given))
    throw refuse(`is inside the ${STORE_DIR} folder of another model; give the model directory itself`);
  let stat;
  try {
    stat = lstatSync(given);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw refuse(`cannot use it as a model directory: ${describeFsError(error)}`);
    let parent;
    try {
      // followed: a link on the way is one untrustedOnPath has already judged
      parent = statSync(dirname(given));
    } catch {
      parent = null;
    }
    if (!parent?.isDirectory()) throw refuse('its parent directory does not exist; create it first');
    return { given, real: given, kind: 'missing' };
  }
  let real = given;
  if (stat.isSymbolicLink()) {
    try {
      real = realpathSync(given);
    } catch (error) {
      throw refuse(
        `is a symbolic link to ${JSON.stringify(safeReadlink(given))}, which cannot be used (${describeFsError(error)})`,
      );
    }
    stat = lstatSync(real);
  }
  if (!stat.isDirectory()) throw refuse('exists and is not a directory; refusing to write a model there');
  // in a shared sticky directory (/tmp), a directory another user made at the path is theirs to
  // swap under us (planting links where als writes): refused, as the safe writer refuses links there
  if (stat.uid !== runningUid() && isSharedStickyDirectory(dirname(real))) {
    throw refuse(
      'belongs to another user in a shared directory (sticky and writable by all); refusing to write a model there',
    );
  }
  let entries: string[];
  try {
    entries = readdirSync(real);
  } catch (error) {
    throw refuse(`cannot read the directory: ${describeFsError(error)}`);
  }
  if (entries.includes(STORE_DIR) && isAlsManifest(join(real, STORE_DIR, CURRENT, MANIFEST)))
    return { given, real, kind: 'versioned' };
  if (entries.includes(MANIFEST) && isAlsManifest(join(real, MANIFEST))) return { given, real, kind: 'flat' };
  const own = entries.every((name) => {
    if (name === STORE_DIR) return storeHoldsOnlyOwnEntries(join(real, STORE_DIR));
    // a top-level link als made whose version is gone
    return TOP_LEVEL_NAMES.includes(name) && safeReadlink(join(real, name)) === topLevelLink(name);
  });
  if (!own)
    throw refuse('not empty and not an als model; refusing to write a model there (choose a new or empty directory)');
  return { given, real, kind: 'empty' };
}

function isSharedStickyDirectory(dir: string): boolean {
  try {
    return isSharedSticky(lstatSync(dir).mode);
  } catch {
    return false;
  }
}

function storeHoldsOnlyOwnEntries(store: string): boolean {
  try {
    return lstatSync(store).isDirectory() && readdirSync(store).every(isStoreEntry);
  } catch {
    return false;
  }
}

function safeReadlink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}
