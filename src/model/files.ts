import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { AlsError } from '../errors.js';
import { FILES, MANIFEST, TIMINGS } from './format.js';
import { modelLocation } from './load.js';
import type { AlsModel } from './model.js';
import { checkModelPath, describeFsError, locateModel, MAX_TIMINGS_BYTES, readSmallFile } from './store.js';

export interface ModelFile {
  name: string;
  bytes: number;
}

export interface ModelDirectory {
  /** model.json, the data files in format order, then timings.json if it is a regular file */
  files: ModelFile[];
  totalBytes: number;
  /** seconds per phase from timings.json ({read, train} from `als train`); null when absent or unreadable */
  timings: Record<string, number> | null;
  /** when model.json was last written (the format records no creation time) */
  modified: Date;
}

/**
 * The files of a model directory with their sizes, its timings and when it was saved: those of
 * the version `model` was loaded from when it is given (so that they match what was checked),
 * else of the live version. timings.json is not checksummed and optional, so a missing,
 * malformed or irregular one (a FIFO, a symlink, a huge file) gives null rather than an error.
 *
 * @throws {AlsError} 'model' when a file of the model cannot be examined
 */
export function describeModelDirectory(dir: string, model?: AlsModel): ModelDirectory {
  const given = checkModelPath(dir);
  const root = (model && modelLocation(model)?.root) ?? locateModel(given).root;
  const size = (name: string) => {
    try {
      return lstatSync(join(root, name)).size;
    } catch (error) {
      throw new AlsError('model', `${given}: cannot examine ${name}: ${describeFsError(error)}`, { cause: error });
    }
  };
  const files: ModelFile[] = [MANIFEST, ...Object.values(FILES)].map((name) => ({ name, bytes: size(name) }));
  const timings = readTimingsAt(root);
  try {
    const stat = lstatSync(join(root, TIMINGS));
    if (stat.isFile()) files.push({ name: TIMINGS, bytes: stat.size });
  } catch {
    // no timings.json
  }
  return {
    files,
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
    timings,
    modified: lstatSync(join(root, MANIFEST)).mtime,
  };
}

/**
 * The numbers in a model's timings.json (seconds per phase), or null when it is absent, not JSON,
 * holds none, or is not a regular file of at most 64 KiB: it is not checksummed, so it is read
 * leniently (and never followed to a device or FIFO).
 */
export function readTimings(dir: string, model?: AlsModel): Record<string, number> | null {
  try {
    return readTimingsAt((model && modelLocation(model)?.root) ?? locateModel(checkModelPath(dir)).root);
  } catch {
    return null;
  }
}

function readTimingsAt(root: string): Record<string, number> | null {
  try {
    const parsed: unknown = JSON.parse(readSmallFile(join(root, TIMINGS), MAX_TIMINGS_BYTES).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const numbers = Object.entries(parsed).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
    return numbers.length > 0 ? Object.fromEntries(numbers) : null;
  } catch {
    return null;
  }
}
