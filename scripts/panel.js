// The panel of data sets that the defaults were chosen on (issue 12): the Last.fm sample, versions
// of it, and synthetic sets of other shapes made by scripts/synth.js. Shared by scripts/freqgrid.js
// (the settings study) and scripts/tunecurve.js (tune's best-so-far curves), so that both measure
// the same sets. Needs `npm run build`.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readInteractions } from '../dist/src/index.js';
import { cooToCsr } from '../dist/src/advanced.js';
import { seededRandom } from '../dist/src/als/random.js';
import { generate } from './synth.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every entry of `m` through `keep(user, item, count)` → a count (0: dropped). */
function mapEntries(m, keep) {
  const rows = [];
  const cols = [];
  const values = [];
  for (let u = 0; u < m.rows; u++) {
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) {
      const value = keep(u, m.indices[n], m.data[n]);
      if (value > 0) {
        rows.push(u);
        cols.push(m.indices[n]);
        values.push(value);
      }
    }
  }
  return cooToCsr(
    m.rows,
    m.cols,
    Int32Array.from(rows),
    Int32Array.from(cols),
    Float32Array.from(values),
    values.length,
  ).matrix;
}

const withMatrix = (data, userItems) => ({ ...data, userItems });
const binary = (data) =>
  withMatrix(
    data,
    mapEntries(data.userItems, () => 1),
  );
const sample = () => readInteractions(join(root, 'data', 'lastfm-2k.tsv'));

/** A synthetic file of scripts/synth.js, made once into bench/data/ (a few seconds each). */
async function synthetic(users, items, rows, seed) {
  const dir = join(root, 'bench', 'data');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `synth-${users}x${items}x${rows}-s${seed}.tsv`);
  if (!existsSync(out)) await generate({ users, items, rows, seed, out });
  return readInteractions(out);
}

/** The panel: name, what it is (for the docs), and how to make it. */
export const PANEL = [
  {
    name: 'lastfm',
    shape: 'the Last.fm sample (data/): play counts',
    make: sample,
  },
  {
    name: 'lastfm-01',
    shape: 'the sample with every count set to 1',
    make: async () => binary(await sample()),
  },
  {
    name: 'lastfm-sparse',
    shape: 'the sample with each pair kept with probability 0.3 (sparser users: about 15 artists each)',
    make: async () => {
      const data = await sample();
      const random = seededRandom(11);
      return withMatrix(
        data,
        mapEntries(data.userItems, (_u, _i, count) => (random() < 0.3 ? count : 0)),
      );
    },
  },
  {
    name: 'clicks-01',
    shape: 'synth.js 4,000 users × 3,000 items × 60,000 rows, every count set to 1 (clicks)',
    make: async () => binary(await synthetic(4000, 3000, 60000, 1)),
  },
  {
    name: 'purchases',
    shape:
      'synth.js 4,000 × 3,000 × 60,000 (seed 2), counts made purchase-like: max(1, round(plays^⅓) − 3), mostly 1–3',
    make: async () => {
      const data = await synthetic(4000, 3000, 60000, 2);
      return withMatrix(
        data,
        mapEntries(data.userItems, (_u, _i, count) => Math.max(1, Math.round(Math.cbrt(count)) - 3)),
      );
    },
  },
  {
    name: 'long-catalogue',
    shape: 'synth.js 2,000 users × 20,000 items × 40,000 rows (a long flat catalogue, 20 per user)',
    make: () => synthetic(2000, 20000, 40000, 3),
  },
  {
    name: 'few-items',
    shape: 'synth.js 15,000 users × 200 items × 120,000 rows (few items, many users)',
    make: () => synthetic(15000, 200, 120000, 4),
  },
  {
    name: 'short',
    shape: 'synth.js 8,000 users × 4,000 items × 48,000 rows (short histories: 6 per user)',
    make: () => synthetic(8000, 4000, 48000, 5),
  },
  {
    name: 'bookmarks-01',
    shape:
      "synth.js 5,500 users × 17,000 items × 205,000 rows, every count set to 1 (the shape of issue 12's bookmark data, which the project does not have)",
    make: async () => binary(await synthetic(5500, 17000, 205000, 6)),
  },
];

/** The data set of the panel named `name` (an unknown name is an error naming the known ones). */
export function panelSet(name) {
  const entry = PANEL.find((p) => p.name === name);
  if (!entry) throw new Error(`no panel set "${name}" (known: ${PANEL.map((p) => p.name).join(', ')})`);
  return entry.make();
}
