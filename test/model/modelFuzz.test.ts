import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { FILES, MANIFEST } from '../../src/model/format.js';
import { loadModel } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { tempDir } from '../helpers.js';

/**
 * Property-based fuzz test of model loading (issue 9, acceptance): random byte flips, truncations
 * and crafted model.json values, with or without checksums made to match, give either a model
 * whose every number is sound or an AlsError('model') of one line, never another exception.
 */

const work = tempDir('als-model-fuzz-');
const input = join(work, 'plays.tsv');
writeFileSync(
  input,
  ['u1\ti1\t3', 'u1\ti2\t1', 'u2\ti2\t5', 'u2\ti3\t2', 'u3\ti1\t1', 'u3\ti3\t9', 'u4\ti4\t2'].join('\n') + '\n',
);
const trained = await train(await readInteractions(input, { format: 'triples' }), {
  factors: 3,
  iterations: 2,
  threads: 1,
  computeLoss: true,
});
const base = join(work, 'base');
await saveModel(trained, base, { read: 0.1, train: 0.2 });
const originals = new Map(
  readdirSync(join(base, '.als', 'current')).map((name) => [name, readFileSync(join(base, '.als', 'current', name))]),
);
const DATA = Object.values(FILES);
const ALL = [MANIFEST, ...DATA];

let runs = 0;
/** A fresh model directory in the versioned layout, holding `files`. */
function materialise(files: Map<string, Buffer>): string {
  const dir = join(work, `run-${++runs}`);
  mkdirSync(join(dir, '.als', 'v1-000000000000'), { recursive: true });
  for (const [name, data] of files) writeFileSync(join(dir, '.als', 'v1-000000000000', name), data);
  symlinkSync('v1-000000000000', join(dir, '.als', 'current'));
  return dir;
}

/** The manifest as an object, or null once a change has made it something else. */
function manifestOf(files: Map<string, Buffer>): any {
  try {
    return JSON.parse(files.get(MANIFEST)!.toString('utf8'));
  } catch {
    return null;
  }
}

function withChecksum(files: Map<string, Buffer>, name: string): void {
  const manifest = manifestOf(files);
  if (manifest?.files?.[name] === null || typeof manifest?.files?.[name] !== 'object') return;
  manifest.files[name].sha256 = createHash('sha256').update(files.get(name)!).digest('hex');
  manifest.files[name].bytes = files.get(name)!.length;
  files.set(MANIFEST, Buffer.from(JSON.stringify(manifest)));
}

type Change =
  | { kind: 'flip'; file: string; at: number; mask: number; fix: boolean }
  | { kind: 'truncate'; file: string; at: number; fix: boolean }
  | { kind: 'float'; file: string; at: number; value: number }
  | { kind: 'manifest'; path: string[]; value: unknown };

const MANIFEST_PATHS = [
  ['format'],
  ['version'],
  ['byteOrder'],
  ['users'],
  ['items'],
  ['factors'],
  ['interactions'],
  ['options'],
  ['options', 'factors'],
  ['options', 'alpha'],
  ['input'],
  ['input', 'rows'],
  ['input', 'format'],
  ['training'],
  ['training', 'losses'],
  ['updates'],
  ['files'],
  ...DATA.flatMap((name) => [
    ['files', name],
    ['files', name, 'shape'],
    ['files', name, 'bytes'],
    ['files', name, 'dtype'],
  ]),
];

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    file: fc.constantFrom(...ALL),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
    fix: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('truncate' as const), file: fc.constantFrom(...ALL), at: fc.nat(), fix: fc.boolean() }),
  fc.record({
    kind: fc.constant('float' as const),
    file: fc.constantFrom(...DATA.filter((n) => !n.endsWith('.json'))),
    at: fc.nat(),
    value: fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 2 ** 31, 1e39)),
  }),
  fc.record({
    kind: fc.constant('manifest' as const),
    path: fc.constantFrom(...MANIFEST_PATHS),
    value: fc.jsonValue({ maxDepth: 2 }),
  }),
);

function apply(files: Map<string, Buffer>, c: Change): void {
  if (c.kind === 'manifest') {
    const manifest = manifestOf(files);
    let node = manifest;
    for (const key of c.path.slice(0, -1)) {
      if (node === null || typeof node !== 'object') return;
      node = node[key];
    }
    if (node !== null && typeof node === 'object') node[c.path.at(-1)!] = c.value;
    files.set(MANIFEST, Buffer.from(JSON.stringify(manifest)));
    return;
  }
  const data = Buffer.from(files.get(c.file)!);
  if (data.length === 0) return;
  if (c.kind === 'flip') data[c.at % data.length] ^= c.mask;
  if (c.kind === 'float') {
    if (data.length < 4) return;
    const at = (c.at % (data.length >> 2)) * 4;
    if (c.file.endsWith('.f32')) data.writeFloatLE(c.value, at);
    else data.writeInt32LE(Number.isFinite(c.value) ? Math.trunc(c.value) | 0 : -1, at);
  }
  files.set(c.file, c.kind === 'truncate' ? data.subarray(0, c.at % data.length) : data);
  if ((c.kind === 'float' || c.fix) && c.file !== MANIFEST) withChecksum(files, c.file);
}

/** Loads and reads every part; a model that loads must hold only sound numbers. */
function loadAll(dir: string): void {
  const model = loadModel(dir);
  for (const values of [model.userFactors, model.itemFactors])
    assert.ok(values.every(Number.isFinite), 'finite factors');
  const m = model.userItems;
  assert.ok(
    m.indices.every((i) => i >= 0 && i < model.items),
    'indices in range',
  );
  assert.ok(
    m.data.every((v) => v > 0 && Number.isFinite(v)),
    'play counts finite and positive',
  );
  assert.equal(model.userIds.length, model.users);
  assert.equal(model.itemNames.length, model.items);
  assert.ok(model.itemUserCounts.every((n) => n >= 0 && n <= model.users));
  assert.ok(model.losses === null || model.losses.every(Number.isFinite));
}

describe('issue 9: model loading under random damage (fast-check, seeded)', () => {
  it('gives a sound model or one model error, never another exception', () => {
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 3 }), (changes) => {
        const files = new Map([...originals].map(([name, data]) => [name, Buffer.from(data)]));
        for (const c of changes) apply(files, c);
        const dir = materialise(files);
        try {
          loadAll(dir);
        } catch (error) {
          if (!(error instanceof AlsError)) throw error;
          assert.equal(error.code, 'model');
          assert.ok(!error.message.includes('\n'), error.message);
        }
      }),
      { seed: 9, numRuns: 1500 },
    );
  });
});
