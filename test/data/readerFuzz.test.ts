import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { readInteractions, type InputFormat, type Interactions, type ReadOptions } from '../../src/data/read.js';
import { canonicalName, MAX_COUNT } from '../../src/data/rows.js';
import { AlsError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/*
 * Property-based test of the readers (issue 9, acceptance): random bytes and structured random
 * rows, in every format, plain and gzip (truncated too), both parsers, small chunks. Every read
 * gives well-formed interactions or an AlsError, never another exception; the byte reader and
 * the string reader agree on the TSV formats.
 */

const dir = tempDir('als-fuzz-');
const path = join(dir, 'input');

type Outcome =
  | { error: string }
  | { userIds: string[]; itemNames: string[]; indptr: number[]; indices: number[]; data: number[]; stats: object };

/** Checks every promise a successful read makes. */
function checkWellFormed(read: Interactions, format: InputFormat): void {
  const { userItems: m, userIds, itemNames, stats } = read;
  assert.equal(m.rows, userIds.length);
  assert.equal(m.cols, itemNames.length);
  assert.equal(m.indptr.length, m.rows + 1);
  assert.equal(m.indptr[0], 0);
  assert.equal(m.indptr[m.rows], m.indices.length);
  assert.equal(m.indices.length, m.data.length);
  assert.ok(m.indices.length > 0);
  for (let r = 0; r < m.rows; r++) {
    assert.ok(m.indptr[r + 1] >= m.indptr[r]);
    for (let n = m.indptr[r]; n < m.indptr[r + 1]; n++) {
      assert.ok(m.indices[n] >= 0 && m.indices[n] < m.cols, 'index in range');
      if (n > m.indptr[r]) assert.ok(m.indices[n] > m.indices[n - 1], 'ascending, no duplicate');
    }
  }
  for (const value of m.data)
    assert.ok(Number.isFinite(value) && value > 0 && value <= MAX_COUNT * stats.used, String(value));
  for (const names of [userIds, itemNames]) {
    for (const name of names) {
      assert.ok(name.length > 0 && !/[\t\n\0]/.test(name), JSON.stringify(name));
      assert.equal(name, canonicalName(name), 'trimmed and NFC');
    }
  }
  assert.equal(new Set(userIds).size, userIds.length, 'one index per user');
  if (format === 'triples') assert.equal(new Set(itemNames).size, itemNames.length, 'one index per item');
  if (format === 'lastfm') assert.equal(new Set(itemNames.map((n) => n.toLowerCase())).size, itemNames.length);
  assert.equal(stats.rows, stats.used + stats.skipped + stats.zeroCounts);
  assert.ok(stats.skippedExamples.length <= Math.min(5, stats.skipped));
}

/** reads that gave interactions, so that a property that only ever sees errors would show */
let successes = 0;

async function outcome(format: InputFormat, options: ReadOptions): Promise<Outcome> {
  try {
    const read = await readInteractions(path, { ...options, format });
    checkWellFormed(read, format);
    successes++;
    const { seconds, ...stats } = read.stats;
    assert.ok(seconds >= 0);
    const m = read.userItems;
    return {
      userIds: read.userIds,
      itemNames: read.itemNames,
      indptr: Array.from(m.indptr),
      indices: Array.from(m.indices),
      data: Array.from(m.data),
      stats,
    };
  } catch (error) {
    if (!(error instanceof AlsError)) throw error;
    assert.ok(!error.message.includes('\n'), 'one line');
    return { error: `${error.code}: ${error.message}` };
  }
}

/** Reads the bytes as `format`, plain or gzip (cut short when `cut`), with every parser; they must agree. */
async function readAllWays(
  bytes: Uint8Array,
  format: InputFormat,
  zip: boolean,
  cut: number,
  chunkBytes: number,
): Promise<void> {
  let content = Buffer.from(bytes);
  if (zip) {
    content = gzipSync(content);
    if (cut > 0) content = content.subarray(0, Math.max(0, content.length - cut));
  }
  writeFileSync(path, content);
  const simple = await outcome(format, { parser: 'simple', chunkBytes });
  if (format !== 'csv') {
    const fast = await outcome(format, { parser: 'fast', chunkBytes });
    assert.deepEqual(fast, simple, 'the byte reader agrees with the string reader');
    // one read in four also in parts, on threads of their own (a worker's start costs some 50 ms)
    if (reads++ % 4 === 0) {
      const parted = await outcome(format, { parser: 'fast', chunkBytes, threads: 3, partBytes: 1 });
      assert.deepEqual(parted, simple, 'read in three parts, as in one');
    }
  }
}

let reads = 0;

const pieces = [
  'u1',
  'u2',
  'user',
  'Björk',
  'Bjo\u0308rk',
  'BJÖRK',
  'Radiohead',
  'Radiohead ',
  ' radiohead',
  '\u00a0x',
  'x\u3000',
  '"quoted"',
  '"',
  '""',
  'a"b',
  '"a,b"',
  'a,b',
  '\r',
  'a\rb',
  '\ufeff',
  '\ufeffu1',
  '\0',
  'a\0',
  '\t',
  ' ',
  '',
  'İstanbul',
  'ẞ',
  'ß',
  '\u202e',
  '\u001b[31m',
  '\u{1F3B8}',
  '\uFFFD',
  'mbid-1',
  'plays',
  'count',
];
const counts = [
  '1',
  '2',
  '0',
  '0.0',
  '2.5',
  '.5',
  '5.',
  '+7',
  ' 3 ',
  '007',
  '1e3',
  '1e15',
  '1000000000000000',
  '1000000000000001',
  '1e16',
  '3.5e38',
  '1e39',
  '1e400',
  '9'.repeat(30),
  '1e-46',
  '1e-400',
  '0x10',
  '-1',
  '-0',
  'NaN',
  'Infinity',
  '',
  'abc',
  '12abc',
  '1\0',
  '٣',
  '1 2',
  '16777217',
];

const field = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...pieces) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
);
const count = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...counts) },
  { weight: 1, arbitrary: fc.nat().map(String) },
  { weight: 1, arbitrary: fc.double().map(String) },
);
/** A line of 2 to 5 fields, the last usually a count, joined by the format's separator (csv fields quoted at random). */
const line = (separator: string) =>
  fc
    .tuple(
      fc.array(field, { minLength: 1, maxLength: 4 }),
      count,
      fc.array(fc.boolean(), { maxLength: 5 }),
      fc.constantFrom('\n', '\r\n', '\n\n', '\r\r\n'),
    )
    .map(([fields, last, quoted, end]) => {
      const all = [...fields, last].map((text, n) =>
        separator === ',' && quoted[n] ? `"${text.replace(/"/g, '""')}"` : text,
      );
      return all.join(separator) + end;
    });

const structured = fc.constantFrom<InputFormat>('lastfm', 'triples', 'csv').chain((format) =>
  fc.record({
    format: fc.constant(format),
    bom: fc.boolean(),
    lines: fc.array(line(format === 'csv' ? ',' : '\t'), { minLength: 1, maxLength: 12 }),
    unterminated: fc.boolean(),
  }),
);
const how = fc.record({
  zip: fc.boolean(),
  cut: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 30 })),
  chunkBytes: fc.constantFrom(1, 2, 3, 7, 64, 1 << 16),
});

describe('the readers under random input (issue 9, acceptance)', () => {
  it('structured random rows: well-formed interactions or an AlsError, and both parsers agree', async () => {
    successes = 0;
    await fc.assert(
      fc.asyncProperty(structured, how, async ({ format, bom, lines, unterminated }, { zip, cut, chunkBytes }) => {
        let text = (bom ? '\ufeff' : '') + lines.join('');
        if (unterminated) text = text.replace(/\r?\n$/, '');
        await readAllWays(Buffer.from(text), format, zip, cut, chunkBytes);
      }),
      { seed: 9, numRuns: 250 },
    );
    assert.ok(successes >= 50, `${successes} reads gave interactions`);
  });

  it('random bytes: well-formed interactions or an AlsError, and both parsers agree', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      // bytes drawn mostly from separators, digits and quotes, so that some rows form
      fc
        .array(
          fc.constantFrom(0x09, 0x0a, 0x0d, 0x2c, 0x22, 0x31, 0x32, 0x61, 0x00, 0xff, 0xfe, 0xef, 0xbb, 0xbf, 0x20),
          { maxLength: 300 },
        )
        .map((a) => Uint8Array.from(a)),
    );
    await fc.assert(
      fc.asyncProperty(
        bytes,
        fc.constantFrom<InputFormat>('lastfm', 'triples', 'csv'),
        how,
        async (input, format, { zip, cut, chunkBytes }) => {
          await readAllWays(input, format, zip, cut, chunkBytes);
        },
      ),
      { seed: 9, numRuns: 250 },
    );
  });
});
