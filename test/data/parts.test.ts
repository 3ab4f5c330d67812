import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { CooList, replayTriples, TripleLog, TripleLogFull } from '../../src/data/coo.js';
import { FastTsvReader } from '../../src/data/fastTsv.js';
import { MAX_LINE_BYTES } from '../../src/data/lines.js';
import { LaterParts, partStarts } from '../../src/data/parts.js';
import { readInteractions, type Interactions } from '../../src/data/read.js';
import { openInput } from '../../src/data/source.js';
import { AlsError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/*
 * A large file read in parts, each on a thread of its own (src/data/parts.ts): the same users,
 * items, matrix (duplicates summed to the same float32), stats, skipped rows and line numbers as
 * one reader gives.
 */

const dir = tempDir('als-parts-');
let files = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `rows-${files++}.tsv`);
  writeFileSync(path, content);
  return path;
}

/** Rows mostly grouped by user, users coming back, spellings in three cases, fractional counts, bad rows. */
function rows(seed: number, count: number): string {
  const random = seededRandom(seed);
  const lines: string[] = [];
  let user = 0;
  for (let n = 0; n < count; n++) {
    if (random() < 0.1) user = Math.floor(random() * 400);
    const item = Math.floor(random() ** 2 * 300);
    const spelling = random() < 0.2 ? `Artist ${item}`.toUpperCase() : `Artist ${item}`;
    const r = random();
    const plays = r < 0.01 ? 'n/a' : r < 0.02 ? '0' : r < 0.2 ? String(0.1 + random()) : String(1 + Math.floor(random() * 99));
    lines.push(r < 0.005 ? `u${user}\tonly three` : `u${user}\tmbid\t${spelling}\t${plays}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Everything a read gives but its time. */
function contents(read: Interactions): object {
  const { seconds, ...stats } = read.stats;
  assert.ok(seconds >= 0);
  const m = read.userItems;
  return { userIds: read.userIds, itemNames: read.itemNames, indptr: [...m.indptr], indices: [...m.indices], data: [...m.data], stats };
}

describe('reading a file in parts', () => {
  it('starts each part just after a newline, past its share of the file', async () => {
    const path = file('aaaa\nbb\ncccccc\nd\n');
    const source = await openInput(path);
    const parts = source.parts;
    assert.ok(parts !== undefined);
    // 17 bytes; the first part's share is 1.1 against 1: shares end at 6.03 and 11.5 → just after
    // the newlines at 7 and 14; with 2 parts, at 8.9 → just after 7
    assert.deepEqual(await partStarts(parts, 3), [0, 8, 15]);
    assert.deepEqual(await partStarts(parts, 2), [0, 8]);
    // a part whose share holds no newline after it goes to the part before
    assert.deepEqual(await partStarts(parts, 17), [0, 5, 8, 15]);
    source.close();

    const long = await openInput(file(`u\t\t${'z'.repeat(3 * MAX_LINE_BYTES)}\t1\nu\t\tx\t1`));
    assert.deepEqual(await partStarts(long.parts!, 2), [0], 'no newline within reach of the middle');
    long.close();
  });

  it('gives what one reader gives: users, items, the matrix, duplicates, stats and skipped rows', async () => {
    for (const [seed, count] of [
      [1, 20_000],
      [2, 3_000],
    ]) {
      const path = file(rows(seed, count));
      const one = contents(await readInteractions(path, { threads: 1 }));
      for (const threads of [2, 3, 5]) {
        for (const chunkBytes of [97, 1 << 20]) {
          assert.deepEqual(contents(await readInteractions(path, { threads, partBytes: 1, chunkBytes })), one, `${threads} threads`);
        }
      }
      const stats = (one as { stats: { skipped: number; duplicates: number } }).stats;
      assert.ok(stats.skipped > 5 && stats.duplicates > 0, 'the file has bad rows and duplicates');
    }
  });

  it('the same first error under strict, with its line number in the whole file', async () => {
    const good = rows(3, 3_000).replace(/^.*\tonly three\n/gm, '').replace(/\tn\/a\n/g, '\t1\n');
    const lines = good.split('\n').length - 1;
    for (const at of [2, Math.floor(lines / 2) + 1, lines - 1]) {
      const content = good.split('\n');
      content.splice(at - 1, 0, 'u1\tmbid\tbad\tx');
      const path = file(content.join('\n'));
      const message = (threads: number) =>
        readInteractions(path, { threads, partBytes: 1, strict: true }).then(
          () => assert.fail('no error'),
          (error: unknown) => {
            assert.ok(error instanceof AlsError);
            return error.message;
          },
        );
      const one = await message(1);
      assert.match(one, new RegExp(`line ${at}:`));
      assert.equal(await message(3), one);
    }
  });

  it('the workers read the later parts; a part a worker gives up is read on the calling thread', async () => {
    const path = file(rows(4, 20_000));
    const one = await readInteractions(path, { threads: 1 });
    for (const maxTriples of [undefined, 0]) {
      const source = await openInput(path, 4096);
      const file = source.parts!;
      const skipped: { line: number; reason: string }[] = [];
      const reader = new FastTsvReader('lastfm', (line, reason) => skipped.push({ line, reason }));
      const starts = await partStarts(file, 3);
      assert.equal(starts.length, 3);
      const parts = new LaterParts(file, starts, { format: 'lastfm', strict: false, chunkBytes: 4096, examples: 5, maxTriples });
      const lines = await parts.readWith(reader, (line, reason, rows = 1) => {
        for (let n = 0; n < rows; n++) skipped.push({ line, reason });
      }, () => {});
      source.close();
      const built = reader.build();
      assert.equal(lines, one.stats.lines);
      assert.deepEqual([...built.userItems.data], [...one.userItems.data]);
      assert.deepEqual(built.itemNames, one.itemNames);
      assert.deepEqual(skipped.slice(0, 5), one.stats.skippedExamples);
      assert.equal(skipped.length, one.stats.skipped);
      // the workers' bytes count unless their parts were read here instead
      assert.equal(parts.bytesRead(), maxTriples === undefined ? file.size - starts[1] : 0);
    }
  });

  it('threads must be a whole number from 1 to 1024', async () => {
    const path = file('u\t\tx\t1\n');
    for (const threads of [0, 1.5, -1, 2000, Number.NaN]) {
      await assert.rejects(readInteractions(path, { threads }), (error: unknown) => error instanceof AlsError && error.code === 'usage' && /threads/.test(error.message));
    }
  });
});

describe('the triple log of a later part', () => {
  it('replays its triples in order, rows and columns mapped, across chunks and runs', () => {
    const random = seededRandom(5);
    const log = new TripleLog(1 << 30);
    const pushed: [number, number, number][] = [];
    let row = 0;
    for (let n = 0; n < 40_000; n++) {
      if (random() < 0.05) row = Math.floor(random() * 50);
      const triple: [number, number, number] = [row, Math.floor(random() * 70), Math.fround(random() * 10)];
      log.push(...triple);
      pushed.push(triple);
    }
    const rowOf = Int32Array.from({ length: 50 }, (_, r) => 100 + r);
    const colOf = Int32Array.from({ length: 70 }, (_, c) => 3 * c);
    const replayed: [number, number, number][] = [];
    replayTriples(log.logged(), rowOf, colOf, (r, c, v) => replayed.push([r, c, v]));
    assert.deepEqual(
      replayed,
      pushed.map(([r, c, v]) => [100 + r, 3 * c, v]),
    );
    // the same matrix as the triples pushed straight into a list
    const direct = new CooList();
    const through = new CooList();
    for (const [r, c, v] of pushed) direct.push(r, c, v);
    replayTriples(log.logged(), Int32Array.from({ length: 50 }, (_, r) => r), Int32Array.from({ length: 70 }, (_, c) => c), (r, c, v) => through.push(r, c, v));
    assert.deepEqual(through.toCsr(50, 70), direct.toCsr(50, 70));
  });

  it('throws TripleLogFull past its limit, at a chunk boundary', () => {
    const log = new TripleLog(1);
    for (let n = 0; n < 1 << 14; n++) log.push(0, n, 1);
    assert.throws(() => log.push(0, 0, 1), TripleLogFull);
  });
});
