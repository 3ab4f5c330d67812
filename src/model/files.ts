import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FILES, MANIFEST, TIMINGS } from './format.js';

export interface ModelFile {
  name: string;
  bytes: number;
}

export interface ModelDirectory {
  /** model.json, the data files in format order, then timings.json if present */
  files: ModelFile[];
  totalBytes: number;
  /** seconds per phase from timings.json ({read, train} from `als train`); null when absent or unreadable */
  timings: Record<string, number> | null;
  /** when model.json was last written (the format records no creation time) */
  modified: Date;
}

/**
 * The files of a model directory with their sizes, its timings and when it was saved. Meant
 * for a model that loadModel has opened (so the listed files exist); timings.json is not
 * checksummed and optional, so a missing or malformed one gives null rather than an error.
 */
export function describeModelDirectory(dir: string): ModelDirectory {
  dir = resolve(dir);
  const files: ModelFile[] = [MANIFEST, ...Object.values(FILES)].map((name) => ({ name, bytes: statSync(join(dir, name)).size }));
  const timings = readTimings(dir);
  if (existsSync(join(dir, TIMINGS))) files.push({ name: TIMINGS, bytes: statSync(join(dir, TIMINGS)).size });
  return {
    files,
    totalBytes: files.reduce((sum, file) => sum + file.bytes, 0),
    timings,
    modified: statSync(join(dir, MANIFEST)).mtime,
  };
}

/**
 * The numbers in a model's timings.json (seconds per phase), or null when it is absent, not JSON
 * or holds none: it is not checksummed, so it is read leniently.
 */
export function readTimings(dir: string): Record<string, number> | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(dir, TIMINGS), 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const numbers = Object.entries(parsed).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
    return numbers.length > 0 ? Object.fromEntries(numbers) : null;
  } catch {
    return null;
  }
}
