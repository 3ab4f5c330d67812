// The synthetic Last.fm-shaped files of the bench (scripts/synth.js, seed 1), generated once
// into bench/data/ and reused by every section.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const dataDir = join(root, 'bench', 'data');

/** The two shapes: "medium" (2.5M rows) and "full" (the Last.fm 360K shape); --quick: small ones. */
export function shapes(quick) {
  return quick
    ? { medium: { users: 5000, items: 2000, rows: 250000 }, full: { users: 20000, items: 15000, rows: 1000000 } }
    : { medium: { users: 50000, items: 20000, rows: 2500000 }, full: { users: 359347, items: 292385, rows: 17559530 } };
}

/** The file of `shape`, generated when missing. */
export function synthFile({ users, items, rows }, log = () => {}) {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, `synth-${users}x${items}x${rows}-s1.tsv`);
  if (!existsSync(path)) {
    log(`generating ${path}`);
    execFileSync(
      process.execPath,
      [
        join(root, 'scripts', 'synth.js'),
        '--users',
        String(users),
        '--items',
        String(items),
        '--rows',
        String(rows),
        '--seed',
        '1',
        '--out',
        path,
      ],
      { stdio: 'inherit' },
    );
  }
  return path;
}

/** "2.5M rows" */
export const rowsLabel = ({ rows }) =>
  `${rows >= 1e6 ? `${Number((rows / 1e6).toPrecision(3))}M` : `${Number((rows / 1e3).toPrecision(3))}K`} rows`;
