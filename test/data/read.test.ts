import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readInteractions, type Interactions, type ReadOptions } from '../../src/data/read.js';
import { cooToCsr, transpose, type CsrMatrix } from '../../src/data/sparse.js';
import { AlsError } from '../../src/errors.js';
import { createWasmKernelsSync } from '../../src/kernels/index.js';
import { SAMPLE, tempDir } from '../helpers.js';

const dir = tempDir();
let files = 0;
function file(content: string | Buffer, name = `input-${files++}.tsv`): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function read(content: string | Buffer, options?: ReadOptions): Promise<Interactions> {
  return readInteractions(file(content), options);
}

/** Play count of (user id, item name) in the matrix, 0 when absent. */
function plays(data: Interactions, user: string, item: string): number {
  const u = data.userIds.indexOf(user);
  const i = data.itemNames.indexOf(item);
  const m = data.userItems;
  for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) if (m.indices[n] === i) return m.data[n];
  return 0;
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AlsError, `not an AlsError: ${error}`);
    assert.match(error.message, pattern);
    assert.ok(!error.message.includes('\n'), 'one line');
    return true;
  });
}

describe('reading the lastfm layout', () => {
  it('treats quotes as data and loses no row', async () => {
    const text =
      'u1\t\t"weird al" yankovic\t10\n' +
      'u1\tmbid-2\tRoyce da 5\'9"\t3\n' +
      'u2\t\t"Unclosed quote\t7\n' +
      'u2\t\tnormal band\t4\n' +
      'u3\t\t"weird al" yankovic\t1\n';
    const data = await read(text);
    assert.equal(data.stats.rows, 5);
    assert.equal(data.stats.used, 5);
    assert.equal(data.stats.skipped, 0);
    assert.deepEqual(data.itemNames, ['"weird al" yankovic', 'Royce da 5\'9"', '"Unclosed quote', 'normal band']);
    assert.equal(plays(data, 'u2', 'normal band'), 4);
    assert.equal(plays(data, 'u3', '"weird al" yankovic'), 1);
  });

  it('keeps a stray carriage return inside a line and drops one before the newline', async () => {
    const data = await read('u1\t\tband\ra\t5\r\nu1\t\tother\t2\r\nu2\t\tother\t1');
    assert.equal(data.stats.used, 3);
    assert.deepEqual(data.itemNames, ['band\ra', 'other']);
    assert.equal(plays(data, 'u2', 'other'), 1, 'a last line without a newline counts');
  });

  it('merges spellings that differ in case, shown with the most frequent one', async () => {
    const data = await read('a\t\tJay-Z\t1\nb\t\tjay-z\t2\nc\t\tJay-Z\t3\nd\t\tJAY-Z\t4\n');
    assert.deepEqual(data.itemNames, ['Jay-Z']);
    assert.equal(data.userItems.cols, 1);
    assert.equal(plays(data, 'd', 'Jay-Z'), 4);
  });

  it('sums duplicate rows, ignores zero counts, and counts both', async () => {
    const data = await read('a\t\tx\t1\na\t\tX\t2\na\t\ty\t0\nb\t\ty\t5\nc\t\tz\t0\n');
    assert.equal(plays(data, 'a', 'x'), 3);
    assert.equal(data.stats.duplicates, 1);
    assert.equal(data.stats.zeroCounts, 2);
    assert.deepEqual(data.userIds, ['a', 'b'], 'a user with only zero counts is not a user');
    assert.equal(data.userItems.indptr[2], 2);
  });

  it('counts malformed rows and reports the first five with line numbers', async () => {
    const text = [
      'u1\t\tgood\t1', // 1
      'u1\t\ttoo few', // 2
      'u1\t\tbad\t-3', // 3
      'u2\t\tbad\tabc', // 4
      '\t\tno user\t1', // 5
      'u2\t\t\t4', // 6
      'u2\t\tx\t1\textra', // 7
      'u3\t\tgood\t2', // 8
    ].join('\n');
    const data = await read(text);
    assert.equal(data.stats.skipped, 6);
    assert.equal(data.stats.used, 2);
    assert.deepEqual(
      data.stats.skippedExamples.map((s) => s.line),
      [2, 3, 4, 5, 6],
    );
    assert.match(data.stats.skippedExamples[1].reason, /field 4 \(count\) is "-3", not a non-negative number/);
    assert.match(data.stats.skippedExamples[0].reason, /expected 4 fields, found 3/);
  });

  it('stops at the first bad row under strict, naming file, line and field', async () => {
    await rejects(
      read('u1\t\tgood\t1\nu1\t\tbad\t1.5.2\n', { strict: true }),
      /input-\d+\.tsv, line 2: field 4 \(count\) is "1\.5\.2"/,
    );
  });

  it('skips a header line', async () => {
    const data = await read('user\tmbid\tartist\tplays\nu1\t\tx\t1\n');
    assert.equal(data.stats.header, true);
    assert.equal(data.stats.rows, 1);
    assert.equal(data.stats.skipped, 0);
  });

  it('accepts decimal counts', async () => {
    const data = await read('u1\t\tx\t2.5\nu1\t\ty\t1e2\n');
    assert.equal(plays(data, 'u1', 'x'), 2.5);
    assert.equal(plays(data, 'u1', 'y'), 100);
  });

  it('reads gzip transparently', async () => {
    const text = 'u1\t\tx\t1\nu2\t\ty\t2\n';
    const data = await readInteractions(file(gzipSync(text), 'plays.tsv.gz'));
    assert.equal(data.stats.compressed, true);
    assert.equal(plays(data, 'u2', 'y'), 2);
  });

  it('reports a broken gzip file as one line', async () => {
    const broken = gzipSync('u1\t\tx\t1\n'.repeat(1000)).subarray(0, 40);
    await rejects(readInteractions(file(broken)), /not a valid gzip file/);
  });

  it('reads the whole sample across chunk boundaries: every line becomes a row', async () => {
    const data = await readInteractions(SAMPLE);
    const lines = readFileSync(SAMPLE, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0);
    assert.equal(data.stats.rows, lines.length);
    assert.equal(data.stats.rows, 92834);
    assert.equal(data.stats.skipped, 0);
    assert.equal(data.userItems.rows, 1892);
    let total = 0;
    for (const line of lines) total += Number(line.split('\t')[3]);
    let summed = 0;
    for (const v of data.userItems.data) summed += v;
    assert.equal(summed, total, 'no play is lost');
    assert.equal(data.userIds[0], 'user2');
    assert.ok(data.itemNames.includes('Jay-Z'));
  });

  it('skips (and counts) a line too long to buffer', async () => {
    const data = await read(`u1\t\tx\t1\n${'z'.repeat((1 << 20) + 10)}\nu2\t\ty\t1\n`);
    assert.equal(data.stats.skipped, 1);
    assert.equal(data.stats.skippedExamples[0].line, 2);
    assert.equal(data.stats.used, 2);
  });
});

describe('reading other formats', () => {
  it('triples: user, item, count; item names keep their case', async () => {
    const data = await read('u1\tItem\t2\nu1\titem\t3\nu2\tItem\t1\n', { format: 'triples' });
    assert.deepEqual(data.itemNames, ['Item', 'item']);
    assert.equal(data.stats.used, 3);
  });

  it('csv: quoted fields with commas and quotes, and a header; a line break in a field is a malformed row (issue 9, class 8)', async () => {
    const text = 'user,item,count\nu1,"Crosby, Stills & Nash",3\nu2,"The ""Band""",2\nu3,"two\nlines",1\n';
    const data = await read(text, { format: 'csv' });
    assert.equal(data.stats.header, true);
    assert.deepEqual(data.itemNames, ['Crosby, Stills & Nash', 'The "Band"']);
    assert.equal(data.stats.skipped, 2, 'the record spans lines 4 and 5: two rows skipped');
    assert.deepEqual(data.stats.skippedExamples, [{ line: 4, reason: 'field 2 holds a line break (lines 4–5)' }]);
  });

  it('csv: the 4-column layout folds case like lastfm', async () => {
    const data = await read('u1,,Muse,3\nu2,,MUSE,2\nu3,,Muse,1\n', { format: 'csv' });
    assert.deepEqual(data.itemNames, ['Muse']);
  });

  it('csv: bad records are counted with their lines', async () => {
    const data = await read('u1,x,1\nu2,y\nu3,z,abc\nu4,w,2\n', { format: 'csv' });
    assert.equal(data.stats.used, 2);
    assert.deepEqual(
      data.stats.skippedExamples.map((s) => s.line),
      [2, 3],
    );
  });

  it('csv: an unclosed quote is an error under strict', async () => {
    await rejects(read('u1,x,1\nu2,"y,2\n', { format: 'csv', strict: true }), /line \d+/);
  });
});

describe('files that cannot be used', () => {
  it('a missing file', async () => {
    await rejects(readInteractions(join(dir, 'nope.tsv')), /nope\.tsv: no such file/);
  });

  it('a directory', async () => {
    await rejects(readInteractions(dir), /is a directory/);
  });

  it('an empty file', async () => {
    await rejects(read(''), /the file is empty/);
  });

  it('a file of random bytes', async () => {
    const bytes = Buffer.alloc(50_000);
    let state = 12345;
    for (let n = 0; n < bytes.length; n++) {
      state = (state * 1103515245 + 12345) >>> 0;
      bytes[n] = state >>> 24;
    }
    bytes[0] = 0x00; // not gzip magic
    await rejects(read(bytes), /no usable row \(\d+ rows, \d+ malformed at lines/);
  });

  it('a file whose rows are all malformed', async () => {
    await rejects(
      read('a\tb\nc\td\te\tf\tg\n'),
      /no usable row \(2 rows, 2 malformed at lines 1, 2, 0 with count 0; line 1: expected 4 fields, found 2\)/,
    );
  });

  it('an unknown format', async () => {
    await rejects(read('x', { format: 'xml' as never }), /unknown input format "xml"/);
  });
});

function dense(m: CsrMatrix): number[][] {
  const out = Array.from({ length: m.rows }, () => new Array(m.cols).fill(0));
  for (let r = 0; r < m.rows; r++)
    for (let n = m.indptr[r]; n < m.indptr[r + 1]; n++) out[r][m.indices[n]] += m.data[n];
  return out;
}

describe('sparse matrices', () => {
  const rows = Int32Array.from([2, 0, 2, 1, 0, 2, 2]);
  const cols = Int32Array.from([3, 1, 0, 2, 1, 3, 1]);
  const values = Float32Array.from([1, 2, 3, 4, 5, 6, -4]);

  it('builds CSR from coordinates, summing duplicates, columns ascending', () => {
    const { matrix, duplicates } = cooToCsr(4, 4, rows, cols, values, 7);
    assert.equal(duplicates, 2);
    assert.deepEqual(Array.from(matrix.indptr), [0, 1, 2, 5, 5]);
    assert.deepEqual(Array.from(matrix.indices), [1, 2, 0, 1, 3]);
    assert.deepEqual(Array.from(matrix.data), [7, 4, 3, -4, 7]);
    assert.deepEqual(dense(matrix), [
      [0, 7, 0, 0],
      [0, 0, 4, 0],
      [3, -4, 0, 7],
      [0, 0, 0, 0],
    ]);
  });

  it('drops entries that sum to zero', () => {
    const { matrix } = cooToCsr(
      2,
      2,
      Int32Array.from([0, 0, 1]),
      Int32Array.from([1, 1, 0]),
      Float32Array.from([2, -2, 1]),
      3,
    );
    assert.deepEqual(Array.from(matrix.indptr), [0, 0, 1]);
    assert.deepEqual(Array.from(matrix.indices), [0]);
  });

  it('transposes', () => {
    const { matrix } = cooToCsr(4, 4, rows, cols, values, 7);
    const t = transpose(matrix);
    const d = dense(matrix);
    assert.deepEqual(
      dense(t),
      d[0].map((_, c) => d.map((row) => row[c])),
    );
    for (let r = 0; r < t.rows; r++) {
      for (let n = t.indptr[r] + 1; n < t.indptr[r + 1]; n++) assert.ok(t.indices[n] > t.indices[n - 1]);
    }
  });

  it('transposes into kernel memory (as training does) to the same arrays, over memory that held other values', () => {
    const { matrix } = cooToCsr(4, 4, rows, cols, values, 7);
    const kernels = createWasmKernelsSync();
    const dirty = {
      int32: (n: number) => kernels.int32(n).fill(-7),
      float32: (n: number) => kernels.float32(n).fill(NaN),
    };
    const t = transpose(matrix, undefined, dirty);
    const plain = transpose(matrix);
    assert.ok(t.indices.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(
      [Array.from(t.indptr), Array.from(t.indices), Array.from(t.data)],
      [Array.from(plain.indptr), Array.from(plain.indices), Array.from(plain.data)],
    );
  });
});
