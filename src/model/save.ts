import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, promises as fs, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { badFactorWords, checkModel, checkNames, checkUniqueNames, firstBadFactor } from '../validate.js';
import { syncDirectory, writeNew } from '../data/writeFile.js';
import { readSmallFile } from '../data/regularFile.js';
import { AlsError } from '../errors.js';
import {
  FILES,
  FORMAT_NAME,
  FORMAT_VERSION,
  ITEM_INDEX,
  MANIFEST,
  TIMINGS,
  type FileEntry,
  type FileKey,
  type ItemIndexEntry,
  type Manifest,
} from './format.js';
import { killPoint } from './killPoint.js';
import { lockModel, type LockOptions, type ModelLock } from './lock.js';
import type { AlsModel } from './model.js';
import {
  checkModelPath,
  CURRENT,
  describeFsError,
  inspectTarget,
  MAX_MANIFEST_BYTES,
  STORE_DIR,
  TEMP_LINK,
  TOP_LEVEL_NAMES,
  topLevelLink,
  versionGeneration,
} from './store.js';

/** Options of saveModel: how to wait for another writer of the same directory. */
export interface SaveModelOptions extends LockOptions {
  /**
   * The lock of `dir`, already held by the caller (a read–modify–write such as an update holds
   * it from loading to saving); saveModel then neither takes nor releases it.
   */
  lock?: ModelLock;
  /**
   * An item index to save with the model (src/query/itemIndex.ts): its file's bytes and its
   * model.json entry, built from the very item factors saved (entry.itemFactorsSha256).
   */
  itemIndex?: { data: Uint8Array; entry: ItemIndexEntry };
}

/** What saveModel wrote. */
export interface SavedModel {
  /** the model directory written (a symlinked path resolved to its target) */
  dir: string;
  /** bytes of the version written, every file included */
  bytes: number;
  /**
   * the item index: 'saved' with this version, 'dropped' when the version replaced had one and
   * this one has none (it was built for other item factors or items), else null
   */
  itemIndex: 'saved' | 'dropped' | null;
}

function bytesOf(array: Float32Array | Int32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

/** A random name part: versions and temporary links are not predictable. */
const hex = () => randomBytes(6).toString('hex');

/** Refuses factors or play counts that would poison every query (issue 9, class 4). */
function checkNumbers(model: AlsModel): void {
  const finite = (values: Float32Array, what: string) => {
    const n = firstBadFactor(values);
    if (n !== -1) {
      throw new AlsError(
        'model',
        `refusing to save a model whose ${what} hold ${badFactorWords(values[n])} at position ${n}: a count or option too large for float32 arithmetic?`,
      );
    }
  };
  finite(model.userFactors, 'user factors');
  finite(model.itemFactors, 'item factors');
  const plays = model.userItems.data;
  for (let n = 0; n < plays.length; n++) {
    if (!(plays[n] > 0 && plays[n] < Infinity))
      throw new AlsError('model', `refusing to save a model with a play count of ${plays[n]}`);
  }
}

interface StoreState {
  /** the version `current` names, or null */
  current: string | null;
  versions: { name: string; generation: number; complete: boolean }[];
  /** temporary symlinks left by a writer that crashed */
  tempLinks: string[];
}

function readStore(store: string): StoreState {
  let current: string | null = null;
  try {
    current = readlinkSync(join(store, CURRENT));
  } catch {
    // no live version yet
  }
  const versions: StoreState['versions'] = [];
  const tempLinks: string[] = [];
  for (const name of readdirSync(store)) {
    const generation = versionGeneration(name);
    if (generation !== null) {
      let complete = false;
      try {
        complete = lstatSync(join(store, name, MANIFEST)).isFile();
      } catch {
        // never finished
      }
      versions.push({ name, generation, complete });
    } else if (TEMP_LINK.test(name)) {
      tempLinks.push(name);
    }
  }
  if (current !== null && !versions.some((v) => v.name === current)) current = null;
  return { current, versions, tempLinks };
}

/**
 * Removes what the lock holder may remove: versions other than `keep` and temporary links. Called
 * only with the lock held, so no other writer is using them; a reader that resolved an older
 * version keeps its open files, or resolves `current` again (load.ts).
 */
async function removeOthers(store: string, state: StoreState, keep: Set<string>): Promise<void> {
  let removed = 0;
  for (const name of state.tempLinks) await fs.rm(join(store, name), { force: true }).catch(() => {});
  for (const version of state.versions) {
    if (keep.has(version.name)) continue;
    await fs.rm(join(store, version.name), { recursive: true, force: true }).catch(() => {});
    if (removed++ === 0) killPoint('cleaning');
  }
}

/** The versions a crash-free store keeps besides the one `current` names: the one before it. */
function previousOf(state: StoreState, current: string | null): string | null {
  const generation = state.versions.find((v) => v.name === current)?.generation ?? Infinity;
  const older = state.versions.filter((v) => v.complete && v.name !== current && v.generation < generation);
  older.sort((a, b) => b.generation - a.generation);
  return older[0]?.name ?? null;
}

/**
 * Makes M/<name> the relative symlink `.als/current/<name>` (an atomic rename of a fresh link
 * over whatever als had there: its own link, or a file of a format-2 directory).
 */
async function linkTopLevel(dir: string, store: string, name: string): Promise<void> {
  const path = join(dir, name);
  const want = topLevelLink(name);
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink() && readlinkSync(path) === want) return;
    // a directory (or anything but a file or link) of this name is not als's: leave it
    if (!stat.isFile() && !stat.isSymbolicLink()) return;
  } catch {
    // missing: create it
  }
  const temp = join(store, `.link-${hex()}`);
  await fs.symlink(want, temp);
  await fs.rename(temp, path);
}

/**
 * Writes `model` to the model directory `dir` so that a reader sees the old or the new model,
 * never a mix, and a crash at any point leaves one of them (issue 9, classes 1 and 5).
 *
 * The files go into a new version directory M/.als/v<gen>-<random> (each created exclusively and
 * fsynced, model.json last); then M/.als/current is switched to it by one rename, M's top-level
 * names become links to .als/current, and versions older than the previous one are removed. Only
 * als's own names are ever replaced or removed: other files in M stay. A directory that is not
 * empty and not an als model is refused untouched; a symlinked `dir` is written through to its
 * target. One writer at a time: the save takes the model's lock (lock.ts), waiting for another
 * writer up to `options.lockTimeoutMs`.
 *
 * @param timings seconds per phase, written to timings.json (not checksummed)
 * @throws {AlsError} 'usage' for an empty path, or user ids or item names that are not one string
 *   per row, given once and free of tab, line break and NUL; 'model' when the directory cannot hold a model,
 *   cannot be written, another writer holds it too long, or the factors or play counts are not finite
 */
export async function saveModel(
  model: AlsModel,
  dir: string,
  timings: Record<string, number> = {},
  options: SaveModelOptions = {},
): Promise<SavedModel> {
  checkModel('model', model);
  checkModelPath(dir);
  checkNumbers(model);
  // what loadModel would refuse as corrupt is never written: one string per row, each given once
  checkNames('model.userIds', model.userIds, model.users);
  checkNames('model.itemNames', model.itemNames, model.items);
  checkUniqueNames('model.userIds', model.userIds, 'user id');
  checkUniqueNames('model.itemNames', model.itemNames, 'item name');
  const { users, items, factors } = model;
  const nnz = model.userItems.indptr[users];
  const parts: Record<FileKey, { data: Buffer; shape: number[]; dtype: FileEntry['dtype'] }> = {
    userFactors: { data: bytesOf(model.userFactors), shape: [users, factors], dtype: 'float32' },
    itemFactors: { data: bytesOf(model.itemFactors), shape: [items, factors], dtype: 'float32' },
    indptr: { data: bytesOf(model.userItems.indptr), shape: [users + 1], dtype: 'int32' },
    indices: { data: bytesOf(model.userItems.indices), shape: [nnz], dtype: 'int32' },
    plays: { data: bytesOf(model.userItems.data), shape: [nnz], dtype: 'float32' },
    userIds: { data: Buffer.from(JSON.stringify(model.userIds)), shape: [users], dtype: 'json' },
    itemNames: { data: Buffer.from(JSON.stringify(model.itemNames)), shape: [items], dtype: 'json' },
    itemUserCounts: { data: bytesOf(model.itemUserCounts), shape: [items], dtype: 'int32' },
  };

  const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
  const index = options.itemIndex;
  const indexData =
    index === undefined ? undefined : Buffer.from(index.data.buffer, index.data.byteOffset, index.data.byteLength);
  // the item factors' checksum first: an index of other factors would be found stale on every
  // query, so it is refused before anything is written
  const itemFactorsSha256 = sha256(parts.itemFactors.data);
  if (index !== undefined && index.entry?.itemFactorsSha256 !== itemFactorsSha256)
    throw new AlsError('usage', 'options.itemIndex was built from other item factors than the model saved');
  const contents: [string, Buffer][] = [
    ...Object.entries(parts).map(([key, part]): [string, Buffer] => [FILES[key as FileKey], part.data]),
    ...(indexData === undefined ? [] : [[ITEM_INDEX, indexData] as [string, Buffer]]),
  ];

  /** The other checksums (taken while the files above are written) and the files written after them. */
  const last = (): [string, Buffer][] => {
    const files: Record<string, FileEntry> = {};
    for (const [key, part] of Object.entries(parts)) {
      files[FILES[key as FileKey]] = {
        shape: part.shape,
        dtype: part.dtype,
        bytes: part.data.length,
        sha256: key === 'itemFactors' ? itemFactorsSha256 : sha256(part.data),
      };
    }
    const manifest: Manifest = {
      format: FORMAT_NAME,
      version: FORMAT_VERSION,
      byteOrder: 'little-endian',
      users,
      items,
      factors,
      interactions: nnz,
      // threads are how this machine trained, not what the model is (any count gives the same
      // bytes); leaving them out keeps model.json the same on every machine
      options: withoutThreads(model.options),
      input: model.input ? { ...model.input } : null,
      training: {
        losses: model.losses,
        ...(model.defaults ? { defaults: { ...model.defaults, options: { ...model.defaults.options } } } : {}),
        ...(model.trainedBy ? { engine: { ...model.trainedBy } } : {}),
      },
      // only when there are any, so that a freshly trained model's manifest stays as it was
      ...(model.updates && model.updates.length > 0 ? { updates: model.updates.map((u) => ({ ...u })) } : {}),
      ...(model.imported ? { imported: { ...model.imported } } : {}),
      files,
    };
    if (index !== undefined && indexData !== undefined) {
      files[ITEM_INDEX] = {
        shape: [index.entry.rows],
        dtype: 'hnsw',
        bytes: indexData.length,
        sha256: sha256(indexData),
      };
      manifest.itemIndex = { ...index.entry };
    }
    return [
      [TIMINGS, Buffer.from(JSON.stringify(timings, null, 2) + '\n')],
      // the manifest last: a version without it is never taken for a model
      [MANIFEST, Buffer.from(JSON.stringify(manifest, null, 2) + '\n')],
    ];
  };

  const given = options.lock;
  if (given !== undefined && (typeof given !== 'object' || given === null || given.dir !== inspectTarget(dir).real)) {
    throw new AlsError('usage', `options.lock must be the held lock of ${dir}`);
  }
  const lock = given ?? (await lockModel(dir, { ...options, create: true }));
  let hadIndex: boolean;
  let bytes: number;
  try {
    const written = await writeVersion(lock.dir, checkModelPath(dir), contents, last);
    hadIndex = written.hadIndex;
    bytes = written.bytes;
  } finally {
    if (given === undefined) lock.release();
  }
  return {
    dir: lock.dir,
    bytes,
    itemIndex: index !== undefined ? 'saved' : hadIndex ? 'dropped' : null,
  };
}

/** Whether the version `current` names lists an item index in its model.json (false when unreadable). */
function listsItemIndex(store: string, current: string | null): boolean {
  if (current === null) return false;
  try {
    const manifest = JSON.parse(readSmallFile(join(store, current, MANIFEST), MAX_MANIFEST_BYTES).toString('utf8'));
    return manifest !== null && typeof manifest === 'object' && manifest.itemIndex !== undefined;
  } catch {
    return false;
  }
}

/**
 * The save proper, with the lock held: new version, switch, top-level links, clean-up. Returns
 * whether the version replaced had an item index.
 */
async function writeVersion(
  dir: string,
  given: string,
  contents: [string, Buffer][],
  last: () => [string, Buffer][],
): Promise<{ hadIndex: boolean; bytes: number }> {
  const store = join(dir, STORE_DIR);
  const fail = (error: unknown) =>
    error instanceof AlsError
      ? error
      : new AlsError('model', `cannot write the model to ${given}: ${describeFsError(error)}`, { cause: error });

  let before: StoreState;
  let version: string;
  let hadIndex: boolean;
  try {
    before = readStore(store);
    hadIndex = listsItemIndex(store, before.current);
    // what crashed writers left, and versions before the previous one, go before the new one
    // takes room; the live version and the one before it stay (without a live version: the
    // newest complete one), so the only intact copy is never removed
    await removeOthers(
      store,
      before,
      new Set([before.current, previousOf(before, before.current)].filter((n): n is string => n !== null)),
    );
    const generation = Math.max(0, ...before.versions.map((v) => v.generation)) + 1;
    // mkdir, not mkdtemp: exclusive and unpredictable alike, but with the umask's permissions
    // (mkdtemp's 0700 would hide a model trained by one user from the server run by another)
    for (;;) {
      version = `v${generation}-${hex()}`;
      try {
        await fs.mkdir(join(store, version));
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
  } catch (error) {
    throw fail(error);
  }
  killPoint('staging');

  const versionDir = join(store, version);
  let bytes = 0;
  try {
    // the files at once (their writes and syncs overlap), while `last` takes the checksums here
    const writes = contents.map(([name, data]) =>
      writeNew(join(versionDir, name), data).then(() => killPoint(`wrote-${name}`)),
    );
    let after: [string, Buffer][] | null = null;
    let failure: unknown = null;
    try {
      after = last();
    } catch (error) {
      failure = error;
    }
    // every write has ended before anything else happens to the folder
    const failed = (await Promise.allSettled(writes)).find((w) => w.status === 'rejected');
    if (failure !== null || after === null) throw failure;
    if (failed !== undefined) throw failed.reason;
    for (const [name, data] of after) {
      await writeNew(join(versionDir, name), data);
      killPoint(`wrote-${name}`);
    }
    for (const [, data] of [...contents, ...after]) bytes += data.length;
    await syncDirectory(versionDir);
    killPoint('synced');
    const temp = join(store, `.current-${hex()}`);
    await fs.symlink(version, temp);
    await fs.rename(temp, join(store, CURRENT));
  } catch (error) {
    await fs.rm(versionDir, { recursive: true, force: true }).catch(() => {});
    throw fail(error);
  }
  await syncDirectory(store);
  killPoint('switched');

  // the model is saved; what follows makes the documented layout visible and frees old versions
  try {
    let first = true;
    for (const name of TOP_LEVEL_NAMES) {
      await linkTopLevel(dir, store, name);
      if (first) killPoint(`linked-${name}`);
      first = false;
    }
    await syncDirectory(dir);
  } catch (error) {
    throw new AlsError(
      'model',
      `saved the model in ${given}/${STORE_DIR}, but cannot link its files at the top level: ${describeFsError(error)}`,
      {
        cause: error,
      },
    );
  }
  killPoint('linked');
  const after = readStore(store);
  await removeOthers(store, after, new Set([version, ...(before.current ? [before.current] : [])]));
  return { hadIndex, bytes };
}

function withoutThreads(options: AlsModel['options']): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...options };
  delete rest.threads;
  return rest;
}
