import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/als/random.js';
import type { Interactions } from '../src/data/read.js';
import { cooToCsr, type CsrMatrix } from '../src/data/sparse.js';

/** The repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLE = join(ROOT, 'data', 'lastfm-2k.tsv');
export const ALS_BIN = join(ROOT, 'bin', 'als.js');

export function tempDir(prefix = 'als-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A random sparse users × items matrix of play counts with about `density` of entries filled. */
export function randomPlays(users: number, items: number, density: number, seed: number): CsrMatrix {
  const random = seededRandom(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < users; u++) {
    for (let i = 0; i < items; i++) {
      if (random() < density) {
        rows.push(u);
        cols.push(i);
        values.push(1 + Math.floor(random() * 50));
      }
    }
  }
  return cooToCsr(users, items, Int32Array.from(rows), Int32Array.from(cols), Float32Array.from(values), values.length).matrix;
}

export function randomMatrix(rows: number, cols: number, seed: number, scale = 1): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(rows * cols);
  for (let n = 0; n < out.length; n++) out[n] = (random() - 0.5) * scale;
  return out;
}

/** max |a − b| / max |b| */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let size = 0;
  for (let n = 0; n < b.length; n++) {
    diff = Math.max(diff, Math.abs(a[n] - b[n]));
    size = Math.max(size, Math.abs(b[n]));
  }
  return diff / size;
}

/** users in 4 taste groups of 10 items each: a user plays each item of its own group with p = 0.6 */
export function plantedGroups(users: number, seed: number): Interactions {
  const random = seededRandom(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < users; u++) {
    const group = u % 4;
    for (let i = group * 10; i < group * 10 + 10; i++) {
      if (random() < 0.6) {
        rows.push(u);
        cols.push(i);
        values.push(1 + Math.floor(random() * 30));
      }
    }
  }
  const userItems = cooToCsr(users, 40, Int32Array.from(rows), Int32Array.from(cols), Float32Array.from(values), values.length).matrix;
  return {
    userItems,
    userIds: Array.from({ length: users }, (_, u) => `u${u}`),
    itemNames: Array.from({ length: 40 }, (_, i) => `i${i}`),
    stats: {} as Interactions['stats'],
  };
}
