import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { evaluate, loadModel, saveModel, train, updateModel, type AlsModel, type Interactions } from 'als';
import { recommendForRow } from 'als/advanced';
import { nameListProblem } from '../../src/data/nameList.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import { ALS_BIN, tempDir, isUsage } from '../helpers.js';

/**
 * Attacker trial V2: a model answers for a row by its id, so every list of user ids and item
 * names holds each once, and no name holds a tab, line break or NUL (the readers' rule). Before,
 * train, saveModel and loadModel took duplicates, and `recommend --row 1` answered for row 0.
 */

const work = tempDir('als-names-');

const STATS = {
  file: 'hand',
  format: 'triples',
  rows: 4,
  used: 4,
  skipped: 0,
  zeroCounts: 0,
  duplicates: 0,
  header: false,
} as unknown as Interactions['stats'];

/** The attacker's data: alice twice, Y twice. */
function handData(userIds: string[], itemNames: string[]): Interactions {
  return {
    userItems: cooToCsr(2, 3, Int32Array.of(0, 0, 1, 1), Int32Array.of(0, 1, 1, 2), Float32Array.of(5, 1, 1, 9), 4)
      .matrix,
    userIds,
    itemNames,
    stats: STATS,
  };
}

function als(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Replaces a JSON file of the live version and records its checksum, as a hand edit that fixed the sha256. */
function rewriteJson(dir: string, name: string, value: unknown): void {
  const live = join(dir, '.als', 'current');
  const data = Buffer.from(JSON.stringify(value));
  writeFileSync(join(live, name), data);
  const manifest = JSON.parse(readFileSync(join(live, 'model.json'), 'utf8'));
  manifest.files[name].bytes = data.length;
  manifest.files[name].sha256 = createHash('sha256').update(data).digest('hex');
  writeFileSync(join(live, 'model.json'), JSON.stringify(manifest));
}

describe('V2: ids and names are each given once and hold no tab, line break or NUL', () => {
  let good: AlsModel & { seconds: number };
  let saved: string;
  before(async () => {
    good = await train(handData(['alice', 'bob'], ['X', 'Y', 'Z']), { factors: 2, iterations: 2, threads: 1 });
    saved = join(work, 'good');
    await saveModel(good, saved);
  });

  it('train refuses a repeated user id or item name, naming the field, the value and both rows', async () => {
    await assert.rejects(
      train(handData(['alice', 'alice'], ['X', 'Y', 'Z']), { factors: 2, iterations: 1, threads: 1 }),
      isUsage(/^data\.userIds has "alice" at rows 0 and 1; every user id must be unique$/),
    );
    await assert.rejects(
      train(handData(['alice', 'bob'], ['X', 'Y', 'Y']), { factors: 2, iterations: 1, threads: 1 }),
      isUsage(/^data\.itemNames has "Y" at rows 1 and 2; every item name must be unique$/),
    );
  });

  it("train refuses ids and names holding a tab, a line break or NUL (the readers' rule); a carriage return and U+FFFD pass", async () => {
    const cases: [string[], string[], RegExp][] = [
      [
        ['alice', 'bob'],
        ['X', 'Y\tZ', 'W'],
        /^data\.itemNames has "Y\\tZ" at row 1 holds a tab; no user id or item name may hold a tab, a line break or a NUL byte$/,
      ],
      [['al\nice', 'bob'], ['X', 'Y', 'Z'], /^data\.userIds has "al\\nice" at row 0 holds a line break; no user id/],
      [['alice', 'b\0b'], ['X', 'Y', 'Z'], /^data\.userIds has "b\\u0000b" at row 1 holds a NUL byte; no user id/],
    ];
    for (const [userIds, itemNames, pattern] of cases) {
      await assert.rejects(
        train(handData(userIds, itemNames), { factors: 2, iterations: 1, threads: 1 }),
        isUsage(pattern),
      );
    }
    const fine = await train(handData(['alice', 'bob'], ['X\rY', 'Y\uFFFD', 'Z']), {
      factors: 2,
      iterations: 1,
      threads: 1,
    });
    assert.deepEqual(fine.itemNames, ['X\rY', 'Y\uFFFD', 'Z']);
  });

  it('updateModel and evaluate hold the same line (every Interactions check)', async () => {
    assert.throws(
      () => updateModel(good, handData(['carol', 'carol'], ['X', 'Y', 'Z'])),
      isUsage(/^data\.userIds has "carol" at rows 0 and 1/),
    );
    await assert.rejects(
      evaluate(handData(['a', 'b'], ['X', 'X', 'Z']), { k: 1 }),
      isUsage(/^data\.itemNames has "X" at rows 0 and 1/),
    );
  });

  it('saveModel refuses a repeated id or name, a name with a tab, and a list of the wrong length; nothing is written', async () => {
    const cases: [Partial<AlsModel>, RegExp][] = [
      [{ userIds: ['alice', 'alice'] }, /^model\.userIds has "alice" at rows 0 and 1; every user id must be unique$/],
      [{ itemNames: ['X', 'Y', 'X'] }, /^model\.itemNames has "X" at rows 0 and 2; every item name must be unique$/],
      [{ itemNames: ['X', 'Y', 'a\tb'] }, /^model\.itemNames has "a\\tb" at row 2 holds a tab/],
      [{ userIds: ['alice'] }, /^model\.userIds has 1 entries, but the matrix has 2$/],
    ];
    for (const [change, pattern] of cases) {
      const target = join(work, `refused-${Object.keys(change)[0]}-${String(pattern).length}`);
      await assert.rejects(saveModel({ ...good, ...change }, target), isUsage(pattern));
      assert.equal(existsSync(join(target, 'model.json')), false);
    }
  });

  it('loadModel takes a hand-edited duplicate (checksum fixed) for a corrupt model naming the file and rows; als info and recommend --row say so with exit 4', async () => {
    const dupIds = join(work, 'dup-ids');
    await saveModel(good, dupIds);
    rewriteJson(dupIds, 'user_ids.json', ['alice', 'alice']);
    const dupNames = join(work, 'dup-names');
    await saveModel(good, dupNames);
    rewriteJson(dupNames, 'item_names.json', ['X', 'Y', 'Y']);
    const tabName = join(work, 'tab-name');
    await saveModel(good, tabName);
    rewriteJson(tabName, 'item_names.json', ['X', 'Y', 'a\tb']);
    const cases: [string, RegExp][] = [
      [
        dupIds,
        /user_ids\.json has "alice" at rows 0 and 1; every user id must be unique \(the model is corrupt or incomplete; train it again\)$/,
      ],
      [dupNames, /item_names\.json has "Y" at rows 1 and 2; every item name must be unique \(the model is corrupt/],
      [tabName, /item_names\.json has "a\\tb" at row 2 holds a tab; no user id or item name may hold/],
    ];
    for (const [dir, pattern] of cases) {
      const model = loadModel(dir);
      assert.throws(
        () => [model.userIds, model.itemNames],
        (e: unknown) =>
          e instanceof AlsError && e.code === 'model' && e.message.startsWith(dir) && pattern.test(e.message),
      );
      for (const args of [['info'], ['recommend', '--row', '1', '--include-played']]) {
        const result = als([...args, '--model', dir]);
        assert.equal(result.status, 4, `${args.join(' ')}: ${result.stderr}`);
        assert.equal(result.stdout, '');
        assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
        assert.match(result.stderr.trimEnd(), pattern);
      }
    }
  });

  it('recommend --row N answers for row N itself: its plays and its recommendations, as recommendForRow(model, N)', async () => {
    const model = loadModel(saved);
    for (const row of [0, 1]) {
      const json = als(['recommend', '--row', String(row), '--include-played', '--json', '--model', saved]);
      assert.equal(json.status, 0, json.stderr);
      const parsed = JSON.parse(json.stdout);
      assert.equal(parsed.user, model.userIds[row]);
      assert.deepEqual(
        parsed.recommendations.map((r: { item: string }) => r.item),
        recommendForRow(model, row, { includePlayed: true }).map((r) => r.name),
      );
      const human = als(['recommend', '--row', String(row), '--include-played', '--explain', '--model', saved]);
      assert.equal(human.status, 0, human.stderr);
      assert.match(
        human.stdout,
        row === 0 ? /Most played by alice\n\s+X \(5\), Y \(1\)/ : /Most played by bob\n\s+Z \(9\), Y \(1\)/,
      );
    }
    const past = als(['recommend', '--row', '2', '--model', saved]);
    assert.equal(past.status, 5, past.stderr);
    assert.match(past.stderr, /no user row 2: the model has 2 users \(rows 0 to 1\)/);
  });
});

describe('nameListProblem: duplicates found however the names collide', () => {
  it('finds the first repeat by row, with the row of its first appearance', () => {
    assert.equal(nameListProblem(['a', 'b', 'c']), null);
    assert.deepEqual(nameListProblem(['a', 'b', 'c', 'b', 'a']), { kind: 'duplicate', first: 1, row: 3, name: 'b' });
    assert.deepEqual(nameListProblem(['', 'x', '']), { kind: 'duplicate', first: 0, row: 2, name: '' });
    // a character problem comes first, and a list found sound is remembered (never re-checked)
    assert.deepEqual(nameListProblem(['a', 'a', 'b\tc']), {
      kind: 'character',
      row: 2,
      name: 'b\tc',
      character: 'a tab',
    });
    assert.equal(nameListProblem(['a', 'b\tc'], false), null);
  });

  it('names alike in every sampled character (same length, same 8 first and last) fall back to a Set and stay exact', () => {
    // 50,000 ids that differ only in the middle: every one hashes alike, so probing would be quadratic
    const names = Array.from({ length: 50_000 }, (_, k) => `prefix-0${String(k).padStart(6, '0')}-suffix-0`);
    const started = performance.now();
    assert.equal(nameListProblem(names.slice()), null);
    const withRepeat = [...names, names[12_345]];
    assert.deepEqual(nameListProblem(withRepeat), {
      kind: 'duplicate',
      first: 12_345,
      row: 50_000,
      name: names[12_345],
    });
    assert.ok(performance.now() - started < 5_000, 'bounded time');
  });

  it('a large list of distinct ids passes, and a repeat at its end is found', () => {
    const ids = Array.from({ length: 200_000 }, (_, k) => createHash('sha1').update(String(k)).digest('hex'));
    assert.equal(nameListProblem(ids.slice()), null);
    assert.deepEqual(nameListProblem([...ids, ids[0]]), { kind: 'duplicate', first: 0, row: 200_000, name: ids[0] });
  });
});
