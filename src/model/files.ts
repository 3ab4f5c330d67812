import { FILES, ITEM_INDEX, MANIFEST, TIMINGS } from './format.js';
import { AlsError } from '../errors.js';
import { loadedVersion } from './load.js';
import type { AlsModel } from './model.js';

export interface ModelFile {
  name: string;
  bytes: number;
}

export interface ModelDirectory {
  /**
   * model.json, the data files in format order, item_index.hnsw when the version has one, then
   * timings.json if it was read (a regular file of at most 64 KiB)
   */
  files: ModelFile[];
  totalBytes: number;
  /** seconds per phase from timings.json ({read, train} from `als train`); null when absent or unreadable */
  timings: Record<string, number> | null;
  /** when model.json was last written (the format records no creation time) */
  modified: Date;
}

/**
 * The files of a model loaded by loadModel, with their sizes, its timings and when it was saved,
 * as seen when it was loaded (so that they describe the version that was checked, even if a
 * writer has replaced it since). timings.json is not checksummed and optional: a missing,
 * malformed or irregular one (a FIFO, a symlink, over 64 KiB) gives null timings rather than an
 * error.
 *
 * @throws {AlsError} 'usage' for a model that loadModel did not load (one trained in memory)
 */
export function describeModelDirectory(model: AlsModel): ModelDirectory {
  const version = loadedVersion(model);
  if (version === null)
    throw new AlsError('usage', 'describeModelDirectory takes a model loaded by loadModel (this one has no directory)');
  const names = [MANIFEST, ...Object.values(FILES), ...(version.sizes[ITEM_INDEX] !== undefined ? [ITEM_INDEX] : [])];
  const files: ModelFile[] = names.map((name) => ({ name, bytes: version.sizes[name] }));
  if (version.timingsBytes !== null) files.push({ name: TIMINGS, bytes: version.timingsBytes });
  return {
    files,
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
    timings: version.timings,
    modified: version.modified,
  };
}

/**
 * The numbers in the timings.json of the version `model` was loaded from (seconds per phase), or
 * null when it is absent, not JSON, holds none, or is not a regular file of at most 64 KiB, or
 * when the model was not loaded from a directory.
 */
export function readTimings(model: AlsModel): Record<string, number> | null {
  return loadedVersion(model)?.timings ?? null;
}
