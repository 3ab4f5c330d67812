import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { train } from '../../src/als/train.js';
import { readInteractions } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { loadModel } from '../../src/model/load.js';
import { processStartTime, type LockHolder } from '../../src/model/lock.js';
import type { AlsModel } from '../../src/model/model.js';
import { saveModel } from '../../src/model/save.js';
import { locateModel } from '../../src/model/store.js';
import { ALS_BIN, ROOT, tempDir } from '../helpers.js';

/** Regression tests of issue 9, class 5: one writer at a time, readers always see one whole model. */

const work = tempDir('als-concurrency-');
const trainFile = join(work, 'train.tsv');
const rows: string[] = [];
for (let u = 0; u < 12; u++)
  for (let i = 0; i < 8; i++) if ((u + i) % 3 !== 0) rows.push(`u${u}\ti${i}\t${1 + ((u * 7 + i) % 9)}`);
writeFileSync(trainFile, rows.join('\n') + '\n');
const data = await readInteractions(trainFile, { format: 'triples' });
const model = await train(data, { factors: 2, iterations: 2, threads: 1 });
const input = {
  file: trainFile,
  format: 'triples' as const,
  rows: rows.length,
  used: rows.length,
  skipped: 0,
  zeroCounts: 0,
  duplicates: 0,
  header: false,
};

let made = 0;
async function freshModel(): Promise<string> {
  const dir = join(work, `model-${++made}`);
  await saveModel({ ...model, input }, dir);
  return dir;
}

const MAIN = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'main.js')).href;
const LOCK = pathToFileURL(join(ROOT, 'dist', 'src', 'model', 'lock.js')).href;

/** Runs the CLI in a loop inside one process (a process per query would cost ~0.3 s each). */
const READER = `
import { existsSync, writeFileSync } from 'node:fs';
import { main } from '${MAIN}';
const [kind, model, stop, out] = process.argv.slice(2);
const args = {
  recommend: ['recommend', '--user', 'u1', '--json', '--model', model],
  similar: ['similar', 'i1', '--min-listeners', '1', '--json', '--model', model],
  info: ['info', '--json', '--model', model],
}[kind];
process.stdout.setMaxListeners(0);
let stderr = '';
// stubs that complete every write, as the streams would (main waits for stdout to flush)
const done = (rest) => (rest.find((r) => typeof r === 'function')?.(), true);
process.stdout.write = (chunk, ...rest) => done(rest);
process.stderr.write = (chunk, ...rest) => ((stderr += chunk), done(rest));
let ok = 0;
const failures = [];
do {
  stderr = '';
  const code = await main(args);
  if (code === 0) ok++;
  else failures.push(code + ' ' + stderr);
} while (!existsSync(stop));
writeFileSync(out, JSON.stringify({ ok, failures }));
process.exit(0);
`;

/** 50 rewrites: a train now and then, updates adding one new user each in between. */
const WRITER = `
import { writeFileSync } from 'node:fs';
import { main } from '${MAIN}';
const [model, trainFile, dir, out] = process.argv.slice(2);
process.stdout.setMaxListeners(0);
let stderr = '';
const done = (rest) => (rest.find((r) => typeof r === 'function')?.(), true);
process.stderr.write = (chunk, ...rest) => ((stderr += chunk), done(rest));
const failures = [];
for (let i = 0; i < 50; i++) {
  stderr = '';
  let args;
  if (i % 5 === 2) {
    args = ['train', trainFile, '--format', 'triples', '--factors', '2', '--iterations', '2', '--threads', '1', '--seed', String(i), '-q', '--model', model];
  } else {
    const file = dir + '/w' + i + '.tsv';
    writeFileSync(file, 'w' + i + '\\ti1\\t' + (i + 1) + '\\nw' + i + '\\ti2\\t2\\n');
    args = ['update', file, '-q', '--model', model];
  }
  const code = await main(args);
  if (code !== 0) failures.push(i + ': ' + code + ' ' + stderr);
}
writeFileSync(out, JSON.stringify({ failures }));
process.exit(0);
`;

/** Takes the lock of a model, holds it `hold` ms and records when it held it. */
const LOCKER = `
import { lockModel } from '${LOCK}';
const [model, hold] = process.argv.slice(2);
const lock = await lockModel(model, { lockTimeoutMs: 30000 });
const start = Date.now();
await new Promise((done) => setTimeout(done, Number(hold)));
const end = Date.now();
lock.release();
process.stdout.write(JSON.stringify({ start, end }));
process.exit(0);
`;

function script(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((done) => child.on('exit', (code) => done(code)));
}

function plantLock(dir: string, holder: Partial<LockHolder>): string {
  const file = join(dir, '.als', 'lock');
  writeFileSync(
    file,
    JSON.stringify({
      hostname: hostname(),
      startTime: null,
      command: 'als update',
      since: new Date().toISOString(),
      ...holder,
    }),
  );
  return file;
}

/** A pid that is not running: a process that has exited. */
function deadPid(): number {
  const child = spawnSync('true');
  return child.pid as number;
}

function alsSpawn(args: string[]): ChildProcess {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  return spawn(process.execPath, [ALS_BIN, ...args], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function collect(child: ChildProcess): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  child.stdout?.on('data', (chunk) => (out.stdout += chunk));
  child.stderr?.on('data', (chunk) => (out.stderr += chunk));
  return out;
}

/** Runs similar, recommend and info 100 times each in one process; prints the open descriptors before and after. */
const FD_COUNTER = `
import { readdirSync } from 'node:fs';
import { main } from '${MAIN}';
const [model] = process.argv.slice(2);
const done = (rest) => (rest.find((r) => typeof r === 'function')?.(), true);
process.stdout.write = (chunk, ...rest) => done(rest);
const fds = () => readdirSync('/proc/self/fd').length;
await main(['info', '--model', model]);
const before = fds();
const codes = new Set();
for (let k = 0; k < 100; k++) {
  for (const args of [['similar', 'i1', '--min-listeners', '1'], ['recommend', '--user', 'u1'], ['info']]) codes.add(await main([...args, '--model', model]));
}
process.stderr.write(JSON.stringify({ before, after: fds(), codes: [...codes] }));
process.exit(0);
`;

/** Switches M/.als/current as a save does (new version, rename, old version removed) until `stop` exists. */
const SWITCHER = `
import { existsSync, mkdirSync, rmSync, symlinkSync, renameSync } from 'node:fs';
const [store, stop] = process.argv.slice(2);
let n = 1;
mkdirSync(store + '/v1-000000000000');
symlinkSync('v1-000000000000', store + '/current');
while (!existsSync(stop)) {
  const next = 'v' + (n + 1) + '-000000000000';
  mkdirSync(store + '/' + next);
  symlinkSync(next, store + '/.current-000000000000');
  renameSync(store + '/.current-000000000000', store + '/current');
  rmSync(store + '/v' + n + '-000000000000', { recursive: true });
  n++;
}
process.exit(0);
`;

describe('issue 9, class 5: concurrent writers and readers', () => {
  it('commands run in one process close the model files they did not read (a reader looping under load ran out of descriptors)', async () => {
    const dir = await freshModel();
    const child = spawn(process.execPath, [script('fds.mjs', FD_COUNTER), dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const out = collect(child);
    assert.equal(await exited(child), 0, out.stderr);
    const { before, after, codes } = JSON.parse(out.stderr);
    assert.deepEqual(codes, [0]);
    // 300 loads of 9 files each: any leak shows as hundreds
    assert.ok(after - before <= 5, `${before} descriptors open before, ${after} after`);
  });

  it('resolving the live version while another process switches it many times never reports a missing version', async () => {
    const dir = join(work, 'switching');
    const stop = join(work, 'switching-stop');
    mkdirSync(join(dir, '.als'), { recursive: true });
    const child = spawn(process.execPath, [script('switcher.mjs', SWITCHER), join(dir, '.als'), stop], {
      stdio: 'inherit',
    });
    const done = exited(child);
    while (!existsSync(join(dir, '.als', 'current'))) await new Promise((resolve) => setTimeout(resolve, 5));
    const seen = new Set<string>();
    try {
      // before the fix, a version removed between reading the link and resolving it failed here
      // within a few thousand calls
      for (let k = 0; k < 20_000; k++) seen.add(locateModel(dir).version as string);
    } finally {
      writeFileSync(stop, '');
    }
    assert.equal(await done, 0);
    assert.ok(seen.size > 1, `saw ${seen.size} versions`);
  });

  it('readers (recommend, similar, info) never fail while update and train rewrite the model 50 times; no update is lost', async () => {
    const dir = await freshModel();
    const stop = join(work, 'stop');
    const readers = ['recommend', 'similar', 'info'].map((kind) => {
      const out = join(work, `reader-${kind}.json`);
      const child = spawn(process.execPath, [script(`reader-${kind}.mjs`, READER), kind, dir, stop, out], {
        stdio: 'inherit',
      });
      return { kind, out, done: exited(child) };
    });
    const writerOut = join(work, 'writer.json');
    const writer = spawn(process.execPath, [script('writer.mjs', WRITER), dir, trainFile, work, writerOut], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    assert.equal(await exited(writer), 0);
    writeFileSync(stop, '');
    for (const reader of readers) assert.equal(await reader.done, 0, reader.kind);

    assert.deepEqual(JSON.parse(readFileSync(writerOut, 'utf8')).failures, []);
    for (const reader of readers) {
      const { ok, failures } = JSON.parse(readFileSync(reader.out, 'utf8'));
      // a false "fails its checksum" or ENOENT would show here
      assert.deepEqual(failures, [], reader.kind);
      assert.ok(ok >= 1, `${reader.kind} answered ${ok} queries`);
      console.log(`# ${reader.kind}: ${ok} queries answered`);
    }
    // the last train was rewrite 47; updates 48 and 49 came after it, and both are there
    const final = loadModel(dir);
    assert.deepEqual(final.userIds.slice(-2), ['w48', 'w49']);
    assert.equal(final.users, 14);
    assert.equal(final.updates?.length, 2);
    // the live version and the previous one, no lock, no leftovers
    const store = readdirSync(join(dir, '.als')).sort();
    assert.equal(store.length, 3, store.join(' '));
    assert.equal(store[0], 'current');
  });

  it('two concurrent updates of different new users are both applied, and counts of one user summed', async () => {
    const dir = await freshModel();
    const u1 = model.userIds.indexOf('u1');
    const i3 = model.itemNames.indexOf('i3');
    const playsOf = (m: AlsModel, user: number, item: number) => {
      for (let n = m.userItems.indptr[user]; n < m.userItems.indptr[user + 1]; n++)
        if (m.userItems.indices[n] === item) return m.userItems.data[n];
      return 0;
    };
    const before = playsOf(model, u1, i3);
    writeFileSync(join(work, 'a.tsv'), 'x1\ti1\t2\nu1\ti3\t5\n');
    writeFileSync(join(work, 'b.tsv'), 'x2\ti2\t3\nu1\ti3\t7\n');
    const runs = ['a.tsv', 'b.tsv'].map((file) => {
      const child = alsSpawn(['update', join(work, file), '--model', dir, '-q']);
      return { out: collect(child), done: exited(child) };
    });
    for (const run of runs) assert.equal(await run.done, 0, run.out.stderr);
    const after = loadModel(dir);
    assert.deepEqual([...after.userIds.slice(-2)].sort(), ['x1', 'x2']);
    assert.equal(playsOf(after, u1, i3), before + 12);
    assert.equal(after.updates?.length, 2);
  });

  it('breaks the lock of a dead process, and of a reused pid (another start time)', async () => {
    const dir = await freshModel();
    const file = plantLock(dir, { pid: deadPid() });
    await saveModel(
      model,
      dir,
      {},
      { lockTimeoutMs: 5_000, onLockWait: () => assert.fail('a dead holder is not waited for') },
    );
    assert.equal(existsSync(file), false, 'released after the save');
    plantLock(dir, { pid: process.pid, startTime: '1' });
    await saveModel(
      model,
      dir,
      {},
      { lockTimeoutMs: 5_000, onLockWait: () => assert.fail('a reused pid is not waited for') },
    );
    assert.equal(existsSync(file), false);
    assert.equal(loadModel(dir).users, 12);
  });

  it('waits for a live holder and times out with a message naming it and the lock file', async () => {
    const dir = await freshModel();
    const before = readFileSync(join(dir, '.als', 'current', 'model.json'));
    const holder = spawn('sleep', ['30']);
    try {
      const pid = holder.pid as number;
      const since = new Date(2026, 0, 31, 10, 2, 11).toISOString();
      const file = plantLock(dir, { pid, startTime: processStartTime(pid), command: 'als update new.tsv', since });
      const waits: (LockHolder | null)[] = [];
      await assert.rejects(
        saveModel(model, dir, {}, { lockTimeoutMs: 300, onLockWait: (h) => waits.push(h) }),
        (e: unknown) =>
          e instanceof AlsError &&
          e.code === 'model' &&
          e.message ===
            `${dir}: another writer holds the lock ${file}: process ${pid} (als update, since 10:02:11); gave up waiting after 300 ms`,
      );
      assert.equal(waits.length, 1, 'told once');
      assert.equal(waits[0]?.pid, pid);
      assert.deepEqual(readFileSync(join(dir, '.als', 'current', 'model.json')), before, 'nothing written');

      // the CLI says once that it waits, and goes on when the holder is gone
      writeFileSync(join(work, 'c.tsv'), 'x3\ti1\t2\n');
      const update = alsSpawn(['update', join(work, 'c.tsv'), '--model', dir, '-q']);
      const out = collect(update);
      const done = exited(update);
      while (!out.stderr.includes('\n')) await new Promise((resolve) => setTimeout(resolve, 20));
      holder.kill('SIGKILL');
      assert.equal(await done, 0, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(
          `^warning: waiting for process ${pid} \\(als update, since 10:02:11\\) to finish writing ${dir}\\n$`,
        ),
      );
      assert.equal(loadModel(dir).userIds.at(-1), 'x3');
      assert.equal(existsSync(file), false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("never breaks another host's lock: the message says which file to remove", async () => {
    const dir = await freshModel();
    const file = plantLock(dir, { pid: deadPid(), hostname: 'elsewhere.example' });
    await assert.rejects(
      saveModel(model, dir, {}, { lockTimeoutMs: 100 }),
      (e: unknown) =>
        e instanceof AlsError &&
        new RegExp(
          `process \\d+ on host elsewhere\\.example \\(als update, since .*\\); gave up waiting after 100 ms; if that process is no longer running, remove ${file}$`,
        ).test(e.message),
    );
    assert.equal(existsSync(file), true);
  });

  it('processes racing to break one stale lock hold it one at a time', async () => {
    const dir = await freshModel();
    plantLock(dir, { pid: deadPid() });
    const locker = script('locker.mjs', LOCKER);
    const runs = [0, 1, 2, 3].map(() => {
      const child = spawn(process.execPath, [locker, dir, '60'], { stdio: ['ignore', 'pipe', 'inherit'] });
      return { out: collect(child), done: exited(child) };
    });
    const held: { start: number; end: number }[] = [];
    for (const run of runs) {
      assert.equal(await run.done, 0);
      held.push(JSON.parse(run.out.stdout));
    }
    held.sort((a, b) => a.start - b.start);
    for (let k = 1; k < held.length; k++) assert.ok(held[k].start >= held[k - 1].end, JSON.stringify(held));
    assert.equal(existsSync(join(dir, '.als', 'lock')), false);
  });
});
