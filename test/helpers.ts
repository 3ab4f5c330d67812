import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/als/random.js';
import type { Interactions } from '../src/data/read.js';
import { cooToCsr, type CsrMatrix } from '../src/data/sparse.js';
import { AlsError } from '../src/errors.js';

/** The repository root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SAMPLE = join(ROOT, 'data', 'lastfm-2k.tsv');
export const ALS_BIN = join(ROOT, 'bin', 'als.js');

/** Every folder tempDir made in this process, removed when it ends. */
const tempDirs: string[] = [];

/**
 * A new empty folder in the OS's temporary folder, removed with everything in it when the test
 * file's process ends (node --test runs each file in a process of its own), whether its tests
 * passed or not: a run leaves no `als-*` folder behind (issue 15).
 */
export function tempDir(prefix = 'als-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.length === 0) process.on('exit', removeTempDirs);
  tempDirs.push(dir);
  return dir;
}

function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a test took away the owner's permissions (a folder of mode 0): give them back, then remove
      spawnSync('chmod', ['-R', 'u+rwx', dir]);
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (error) {
        process.stderr.write(`tempDir: cannot remove ${dir}: ${(error as Error).message}\n`);
      }
    }
  }
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
  return cooToCsr(users, items, Int32Array.from(rows), Int32Array.from(cols), Float32Array.from(values), values.length)
    .matrix;
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
  const userItems = cooToCsr(
    users,
    40,
    Int32Array.from(rows),
    Int32Array.from(cols),
    Float32Array.from(values),
    values.length,
  ).matrix;
  return {
    userItems,
    userIds: Array.from({ length: users }, (_, u) => `u${u}`),
    itemNames: Array.from({ length: 40 }, (_, i) => `i${i}`),
    stats: {} as Interactions['stats'],
  };
}

/** The uid and gid of `nobody`, whom the permission tests run the CLI as. */
export const NOBODY = 65534;

let nobodyCache: { argv: string[] } | { skip: string } | undefined;

/**
 * How to run the CLI as nobody: the command line before the CLI's own arguments
 * (`setpriv --reuid … node …/bin/als.js`), or why it cannot be done (not root, no setpriv). When
 * nobody cannot reach this checkout (a clone in a private folder), the CLI's runtime (bin,
 * dist/src, package.json and the runtime packages) is copied once into a folder everyone may
 * read, so that the permission tests still run rather than skip.
 */
export function nobodyCommand(): { argv: string[] } | { skip: string } {
  if (nobodyCache) return nobodyCache;
  if (process.geteuid?.() !== 0) return (nobodyCache = { skip: 'needs root to run als as nobody' });
  if (spawnSync('setpriv', ['--version']).status !== 0)
    return (nobodyCache = { skip: 'needs setpriv (util-linux) to run als as nobody' });
  const prefix = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath];
  const runs = (bin: string) => spawnSync(prefix[0], [...prefix.slice(1), bin, '--version'], { cwd: '/' }).status === 0;
  if (runs(ALS_BIN)) return (nobodyCache = { argv: [...prefix, ALS_BIN] });
  const copy = tempDir('als-nobody-');
  chmodSync(copy, 0o755);
  for (const part of ['bin', 'package.json', join('dist', 'src')])
    cpSync(join(ROOT, part), join(copy, part), { recursive: true });
  copyRuntimePackages(copy);
  const bin = join(copy, 'bin', 'als.js');
  if (!runs(bin))
    return (nobodyCache = { skip: `nobody cannot run node (${process.execPath}) or a copy of als in ${copy}` });
  return (nobodyCache = { argv: [...prefix, bin] });
}

/** Copies the packages the CLI needs at run time (dependencies, transitively) into `dir`/node_modules. */
function copyRuntimePackages(dir: string): void {
  const pending = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies ?? {});
  const copied = new Set<string>();
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (copied.has(name)) continue;
    copied.add(name);
    const from = join(ROOT, 'node_modules', name);
    // a package npm did not hoist was copied with the one that holds it
    if (!existsSync(from)) continue;
    cpSync(from, join(dir, 'node_modules', name), { recursive: true });
    pending.push(...Object.keys(JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')).dependencies ?? {}));
  }
}

/** For assert.throws / rejects: an AlsError with this code whose message matches `pattern`. */
export function isAlsError(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AlsError, `expected an AlsError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  };
}

/** isAlsError('usage', pattern) */
export const isUsage = (pattern: RegExp) => isAlsError('usage', pattern);
