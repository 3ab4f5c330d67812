import { FILES, MANIFEST, TIMINGS } from './format.js';
import { loadedVersion, loadModel } from './load.js';
import type { AlsModel } from './model.js';

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
 * The files of a model directory with their sizes, its timings and when it was saved, as seen
 * when `model` was loaded from `dir` (so that they describe the version that was checked, even
 * if a writer has replaced it since); without `model`, the model in `dir` is loaded for it.
 * timings.json is not checksummed and optional: a missing, malformed or irregular one (a FIFO,
 * a symlink, over 64 KiB) gives null timings rather than an error.
 *
 * @throws {AlsError} 'model' as loadModel does
 */
export function describeModelDirectory(dir: string, model?: AlsModel): ModelDirectory {
  const version = (model && loadedVersion(model)) ?? loadedVersion(loadModel(dir));
  if (version === null) throw new Error('loadModel records the version it opened');
  const files: ModelFile[] = [MANIFEST, ...Object.values(FILES)].map((name) => ({ name, bytes: version.sizes[name] }));
  if (version.timingsBytes !== null) files.push({ name: TIMINGS, bytes: version.timingsBytes });
  return {
    files,
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
    timings: version.timings,
    modified: version.modified,
  };
}

/**
 * The numbers in a model's timings.json (seconds per phase), or null when it is absent, not JSON,
 * holds none, or is not a regular file of at most 64 KiB: those of the version `model` was loaded
 * from, or of the live one in `dir`.
 */
export function readTimings(dir: string, model?: AlsModel): Record<string, number> | null {
  try {
    return ((model && loadedVersion(model)) ?? loadedVersion(loadModel(dir)))?.timings ?? null;
  } catch {
    return null;
  }
}
