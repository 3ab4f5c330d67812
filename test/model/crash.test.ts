import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FILES } from '../../src/model/format.js';
import { describeModelDirectory } from '../../src/model/files.js';
import { loadModel } from '../../src/model/load.js';
import { saveModel } from '../../src/model/save.js';
import { ALS_BIN, tempDir } from '../helpers.js';

/**
 * Regression tests of issue 9, class 5: a writer killed (SIGKILL, through the ALS_TEST_KILL_AT
 * hook of src/model/killPoint.ts) at any step of a save leaves the old or the new model loadable,
 * and the next save never removes the only intact copy.
 */

const SAVE_STEPS = [
  'locked',
  'staging',
  ...Object.values(FILES).map((name) => `wrote-${name}`),
  'wrote-timings.json',
  'wrote-model.json',
  'synced',
  'switched',
  'linked-model.json',
  'linked',
  'cleaning',
];
/** the steps after which the new model is the live one */
const NEW_FROM = SAVE_STEPS.indexOf('switched');
/** update runs the same save: its own step, and those around the switch */
const UPDATE_STEPS = [
  'locked',
  'update-loaded',
  'staging',
  'wrote-model.json',
  'synced',
  'switched',
  'linked-model.json',
  'cleaning',
];

const work = tempDir('als-crash-');
const plays = join(work, 'plays.tsv');
const rows: string[] = [];
for (let u = 0; u < 10; u++)
  for (let i = 0; i < 6; i++) if ((u * 5 + i) % 4 !== 0) rows.push(`u${u}\ti${i}\t${1 + ((u + 3 * i) % 7)}`);
writeFileSync(plays, rows.join('\n') + '\n');
const newPlays = join(work, 'new.tsv');
writeFileSync(newPlays, 'newcomer\ti1\t4\nnewcomer\ti2\t1\nu3\ti4\t2\n');

interface Run {
  code: number | null;
  signal: string | null;
  stderr: string;
}

function als(args: string[], killAt?: string): Promise<Run> {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  if (killAt) env.ALS_TEST_KILL_AT = killAt;
  else delete env.ALS_TEST_KILL_AT;
  return new Promise((done) => {
    const child = spawn(process.execPath, [ALS_BIN, ...args], { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code, signal) => done({ code, signal, stderr }));
  });
}

/** Runs `jobs` two at a time (the machine has two cores). */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const k = next++;
      results[k] = await jobs[k]();
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

const trainArgs = (model: string, seed: string) => [
  'train',
  plays,
  '--format',
  'triples',
  '--factors',
  '2',
  '--iterations',
  '2',
  '--seed',
  seed,
  '-q',
  '--model',
  model,
];
const updateArgs = (model: string) => ['update', newPlays, '-q', '--model', model];

const manifestAt = (dir: string) => readFileSync(join(dir, '.als', 'current', 'model.json'), 'utf8');

/** Checks the model at `dir` as `als info` does: every file opened, read and checksummed. */
function checkWhole(dir: string): string {
  const model = loadModel(dir);
  void [model.userFactors, model.itemFactors, model.userIds, model.itemNames, model.itemUserCounts, model.userItems];
  assert.equal(describeModelDirectory(model).files.length, 10);
  return existsSync(join(dir, '.als', 'current')) ? manifestAt(dir) : readFileSync(join(dir, 'model.json'), 'utf8');
}

/** The base: an old model with a previous version behind it, so that a save has one to clean up. */
const base = join(work, 'base');
async function setUp(): Promise<{ oldManifest: string; newTrain: string; newUpdate: string }> {
  assert.equal((await als(trainArgs(base, '5'))).code, 0);
  assert.equal((await als(trainArgs(base, '1'))).code, 0);
  const oldManifest = manifestAt(base);
  const trained = join(work, 'reference-train');
  const updated = join(work, 'reference-update');
  for (const dir of [trained, updated]) cpSync(base, dir, { recursive: true, verbatimSymlinks: true });
  const [a, b] = await Promise.all([als(trainArgs(trained, '2')), als(updateArgs(updated))]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  return { oldManifest, newTrain: manifestAt(trained), newUpdate: manifestAt(updated) };
}

/** After a crash, the next save keeps the live version and the one before it, nothing else. */
async function nextSaveKeepsTheIntactCopy(dir: string): Promise<void> {
  // null: a format-2 directory whose migration was killed before the switch (its flat files are the model)
  const live = existsSync(join(dir, '.als', 'current')) ? readlinkSync(join(dir, '.als', 'current')) : null;
  const model = loadModel(dir);
  await saveModel({ ...model, updates: model.updates }, dir, {}, { lockTimeoutMs: 5_000 });
  const store = readdirSync(join(dir, '.als')).sort();
  const versions = store.filter((n) => n.startsWith('v'));
  assert.equal(versions.length, live === null ? 1 : 2, store.join(' '));
  if (live !== null)
    assert.ok(versions.includes(live), 'the version that was live after the crash is kept as the previous one');
  assert.deepEqual(
    store.filter((n) => !n.startsWith('v')),
    ['current'],
    'no lock, no temporary link left',
  );
  checkWhole(dir);
}

describe('issue 9, class 5: a writer killed at any step of a save', () => {
  it('train killed at every step (update at the steps around the switch) leaves the old or the new model, whole; the next save cleans up safely', async () => {
    const { oldManifest, newTrain, newUpdate } = await setUp();
    const cases = [
      ...SAVE_STEPS.map((step, k) => ({ command: 'train', step, expected: k >= NEW_FROM ? newTrain : oldManifest })),
      ...UPDATE_STEPS.map((step) => ({
        command: 'update',
        step,
        expected: SAVE_STEPS.indexOf(step) >= NEW_FROM ? newUpdate : oldManifest,
      })),
    ];
    const results = await inPairs(
      cases.map((c) => async () => {
        const dir = join(work, `${c.command}-${c.step}`);
        cpSync(base, dir, { recursive: true, verbatimSymlinks: true });
        return { ...c, dir, run: await als(c.command === 'train' ? trainArgs(dir, '2') : updateArgs(dir), c.step) };
      }),
    );
    for (const { command, step, dir, run, expected } of results) {
      const what = `${command} killed at ${step}`;
      assert.equal(run.signal, 'SIGKILL', `${what}: the hook was reached (${run.code} ${run.stderr})`);
      assert.equal(checkWhole(dir), expected, `${what}: ${expected === oldManifest ? 'the old' : 'the new'} model`);
      await nextSaveKeepsTheIntactCopy(dir);
    }
    // and `als info` itself passes on what a crash left (the steps around the switch)
    const info = await inPairs(
      ['train-wrote-model.json', 'train-switched', 'update-linked-model.json', 'update-cleaning'].map(
        (name) => () => als(['info', '-q', '--model', join(work, name)]),
      ),
    );
    for (const run of info) assert.equal(run.code, 0, run.stderr);
  });

  it('a format-2 directory (flat files) killed while it is migrated reads as the old or the new model', async () => {
    // a flat directory as als wrote it before versions: the files themselves at the top level
    const flat = join(work, 'flat');
    mkdirSync(flat);
    const source = join(base, '.als', 'current');
    for (const name of readdirSync(source)) writeFileSync(join(flat, name), readFileSync(join(source, name)));
    writeFileSync(join(flat, 'notes.txt'), 'mine');
    const oldManifest = readFileSync(join(flat, 'model.json'), 'utf8');
    const steps = ['wrote-model.json', 'switched', 'linked-model.json', 'linked'];
    const results = await inPairs(
      steps.map((step) => async () => {
        const dir = join(work, `flat-${step}`);
        cpSync(flat, dir, { recursive: true });
        return { step, dir, run: await als(updateArgs(dir), step) };
      }),
    );
    for (const { step, dir, run } of results) {
      assert.equal(run.signal, 'SIGKILL', step);
      const manifest = checkWhole(dir);
      if (step === 'wrote-model.json') assert.equal(manifest, oldManifest, step);
      else assert.equal(JSON.parse(manifest).updates.length, 1, step);
      assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
      await nextSaveKeepsTheIntactCopy(dir);
      for (const name of ['model.json', ...Object.values(FILES)])
        assert.equal(readlinkSync(join(dir, name)), `.als/current/${name}`, name);
    }
  });
});
