import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { seededRandom } from '../../src/als/random.js';
import { ByteTable, hashBytes, viewOf } from '../../src/data/byteTable.js';
import { MAX_LINE_BYTES } from '../../src/data/lines.js';
import { readInteractions, type InputFormat, type ReadOptions, type ReadProgress } from '../../src/data/read.js';
import { AlsError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

/*
 * The byte reader of the TSV formats (the default) against the string reader (parser 'simple'),
 * the reference: the same bytes, read in chunks of many sizes, must give the same ids, the same
 * matrix, the same stats and the same errors.
 */

const dir = tempDir('als-reader-');
let files = 0;
function file(content: string | Buffer): string {
  const path = join(dir, `rows-${files++}.tsv`);
  writeFileSync(path, content);
  return path;
}

type Outcome =
  | { error: string }
  | {
      userIds: string[];
      itemNames: string[];
      indptr: number[];
      indices: number[];
      data: number[];
      stats: object;
      progress: number[];
    };

async function outcome(path: string, options: ReadOptions): Promise<Outcome> {
  const progress: number[] = [];
  try {
    const read = await readInteractions(path, { ...options, onProgress: (p: ReadProgress) => progress.push(p.rows) });
    const { seconds, ...stats } = read.stats;
    assert.ok(seconds >= 0);
    return {
      userIds: read.userIds,
      itemNames: read.itemNames,
      indptr: Array.from(read.userItems.indptr),
      indices: Array.from(read.userItems.indices),
      data: Array.from(read.userItems.data),
      stats,
      progress,
    };
  } catch (error) {
    assert.ok(error instanceof AlsError, String(error));
    return { error: `${error.code}: ${error.message}` };
  }
}

/** Reads `content` with both readers, in chunks of each size, and checks that they agree. */
async function sameBothWays(
  content: string | Buffer,
  options: ReadOptions = {},
  chunkSizes: number[] = [1, 7, 64, 1 << 20],
): Promise<Outcome> {
  const path = file(content);
  let reference: Outcome | undefined;
  for (const chunkBytes of chunkSizes) {
    const simple = await outcome(path, { ...options, chunkBytes, parser: 'simple' });
    const fast = await outcome(path, { ...options, chunkBytes, parser: 'fast' });
    assert.deepEqual(fast, simple, `chunks of ${chunkBytes} bytes`);
    // the results do not depend on the chunks, except for how often progress is reported
    const { progress, ...rest } = simple as { progress?: number[] };
    if (reference === undefined) reference = rest as Outcome;
    else assert.deepEqual(rest, reference);
    if (progress) assert.equal(progress.at(-1), (simple as { stats: { rows: number } }).stats.rows);
  }
  assert.deepEqual(
    await outcome(path, options),
    await outcome(path, { ...options, parser: 'fast' }),
    'fast by default',
  );
  // in parts, each on a thread of its own: the same as one reader (progress apart)
  const { progress, ...parted } = (await outcome(path, { ...options, chunkBytes: chunkSizes[0], threads: 3, partBytes: 1 })) as {
    progress?: number[];
  };
  assert.deepEqual(parted, reference, 'read in three parts');
  if (progress) assert.equal(progress.at(-1), (reference as { stats: { rows: number } }).stats.rows);
  return reference as Outcome;
}

const invalidUtf8 = (text: string) => Buffer.from(text.replace(/\uFFFD/g, ''), 'latin1');

/** A row of every kind the readers must agree on, in the lastfm layout. */
function quirkRowsLastfm(): Buffer {
  const parts: (string | Buffer)[] = [
    'user\tmbid\tartist\tplays\r\n', // 1: a header, CRLF
    'u1\t\t"weird al" yankovic\t10\n',
    'u1\tmbid-2\tRoyce da 5\'9"\t3\n',
    'u2\t\t"Unclosed quote\t7\n',
    'u2\t\tband\ra\t5\r\n', // a stray \r is data, the one before \n is not
    'u2\t\tband\ra\t5\r\r\n', // the count "5\r" is malformed
    '\n', // empty line
    '\r\n', // empty once the \r is dropped
    '\r\r\n', // "\r": one field
    'u3\t\tBjörk\t4\n',
    'u3\t\tBJÖRK\t1\n',
    'u4\t\tbjörk\t2\n',
    'u4\t\tBJÖRK\t2\n',
    'u5\t\tSigur Rós\t8\n',
    'u5\t\tSIGUR RÓS\t1\n',
    'u5\t\tsigur rós\t1\n',
    'u6\t\tİstanbul\t3\n', // lower-cases to two code units
    'u6\t\tSTRASSE\t1\n',
    'u6\t\tStraße\t1\n',
    'u6\t\tẞ\t1\n',
    'u1\t\tJay-Z\t1\n', // u1 again, out of its group
    'u1\t\tjay-z\t2\n',
    'u1\t\tJAY-Z\t0\n', // zero count
    'u7\t\tonly zero\t0\n', // a user with only a zero count is no user
    'u7\t\tzero again\t0.0\n',
    'u8\t\ttoo few\n',
    'u8\tx\ty\tz\t1\n', // too many
    'u8\t\ttoo many\t1\t\n',
    '\t\tno user\t1\n',
    'u8\t\t\t4\n', // no artist
    '\t\t\t\n',
    '\t\t\t\t\n',
    'u8\t\tbad\t-3\n',
    'u8\t\tbad\tabc\n',
    'u8\t\tbad\t1.5.2\n',
    'u8\t\tbad\t\n', // empty count
    'u8\t\tbad\t1\t\r\n',
    'u8\t\tbad\t1 2\n',
    'u8\t\tbad\t١٢\n', // Arabic-Indic digits are not digits here
    `u8\t\tbad\t${'9'.repeat(400)}\n`, // not finite
    `u8\t\tbad\t${'x'.repeat(100)}\n`, // a long reason is cut
    `u8\t\tbad\t"${'é'.repeat(39)}\n`,
    'u9\t\tfine\t 12 \n', // trimmed
    'u9\t\tfine\t\u00a013\n', // a no-break space is trimmed too
    'u9\t\tdecimal\t2.5\n',
    'u9\t\texponent\t1e2\n',
    'u9\t\tplus\t+7\n',
    'u9\t\tleading zeros\t007\n',
    'u9\t\tpoint\t.5\n',
    'u9\t\ttrailing point\t5.\n',
    'u9\t\tbig\t123456789012345\n', // 15 digits, read from the bytes
    'u9\t\tbigger\t1234567890123456789\n', // more: parsed as text
    'u9\t\tfloat32\t16777217\n',
    'u9\t\tzeros\t000\n',
    'u9\t\tdecimal\t0.25\n', // duplicate of "decimal", summed
    'u9\t\tDECIMAL\t0.125\n',
    invalidUtf8('u\xff\t\tbad \xfe bytes\t1\n'), // decodes to U+FFFD
    Buffer.from('u\uFFFD\t\tbad \uFFFD bytes\t2\n'), // the same text from other bytes
    invalidUtf8('u\xfe\t\tBAD \xff BYTES\t4\n'),
    Buffer.concat([Buffer.from('u10\t\t'), Buffer.from([0xe2, 0x82]), Buffer.from('\t1\n')]), // a cut sequence
    Buffer.concat([Buffer.from('u10\t\t'), Buffer.from([0xe2, 0x09]), Buffer.from('x\t1\n')]), // a tab inside a sequence
    'u10\t\t\u{1F3B8} emoji\t1\n',
    'u10\t\t\u{1F3B8} EMOJI\t2\n',
    '\uFEFFu11\t\tbom user\t1\n',
    'u11\t\tquote"in\t"3"\n', // a quoted count is malformed
    // long names: kept in part in the table's slots, in part outside
    ...[44, 45, 100].map((n) => `u13\t\t${'L'.repeat(n)}\t1\n`),
    ...['a', 'b', 'A', 'a', 'b'].map((end) => `u13\t\t${'L'.repeat(60)}${end}\t1\n`),
    `u13\t\t${'l'.repeat(60)}a\t1\n`,
    ...[44, 45, 100].map((n) => `u14\t\t${'L'.repeat(n)}\t1\n`),
    // issue 9, class 8: names trimmed and NFC-normalized, NUL bytes, counts above 1e15 (class 4)
    'u15\t\tRadiohead \t1\n',
    'u15 \t\tRadiohead\t2\n',
    '\u00a0u15\t\t\u3000radiohead\r\t4\n',
    'u15\t\tSigur Ro\u0301s\t1\n', // NFD: the spelling "Sigur Rós" twice
    'Bjo\u0308rk\t\tx\t1\n', // a user in NFD first, then in NFC
    'Björk\t\tx\t2\n',
    '\u00c5sa\t\tx\t1\n', // a user in NFC first, then in NFD
    'A\u030asa\t\tx\t2\n',
    'A\u030asa \t\ty\t2\n',
    'u16\t\ta\0b\t1\n',
    'u16\0\t\tx\t1\n',
    'u16\t\t\0\t1\n',
    'u16\t\tx\t\0\n',
    'u16\t\t\u00a0\u3000\t1\n',
    '\u00a0\t\tx\t1\n',
    ' \t\tx\t1\n',
    'u16\t\tbig\t1e39\n',
    'u16\t\tbig\t3.5e38\n',
    'u16\t\tbig\t1e16\n',
    'u16\t\tbig\t1000000000000001\n',
    'u16\t\tok\t1e15\n',
    'u16\t\ttiny\t1e-46\n', // zero in float32: a zero count
    'u17\t\tx\t12abc\n',
    'u17\t\tx\t0x10\n',
    'u12\t\tlast line\t6', // no newline at the end
  ];
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

/** The same rows without the mbid column. */
function toTriples(lastfm: Buffer): Buffer {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < lastfm.length) {
    let end = lastfm.indexOf(0x0a, start);
    if (end === -1) end = lastfm.length;
    const line = lastfm.subarray(start, end);
    const first = line.indexOf(0x09);
    const second = first === -1 ? -1 : line.indexOf(0x09, first + 1);
    lines.push(second === -1 ? line : Buffer.concat([line.subarray(0, first), line.subarray(second)]));
    start = end + 1;
  }
  return Buffer.concat(lines.flatMap((line, n) => (n === 0 ? [line] : [Buffer.from('\n'), line])));
}

/** Many users and spellings (more than the tables' first sizes), partly grouped by user. */
function randomRows(seed: number, rows: number, withMbid: boolean): string {
  const random = seededRandom(seed);
  const names = ['Björk', 'Sigur Rós', 'The Band', 'Motörhead', 'Æ', 'ÿ', 'Ω', 'jay-z'];
  const spell = (n: number) => {
    const base = `${names[n % names.length]} ${n}`;
    const r = random();
    return r < 0.1 ? base.toUpperCase() : r < 0.2 ? base.toLowerCase() : base;
  };
  let text = '';
  let user = 0;
  for (let n = 0; n < rows; n++) {
    if (random() < 0.05) user = Math.floor(random() * 3000); // mostly runs of one user
    const item = Math.floor(random() ** 2 * 4000);
    const count = random() < 0.02 ? '0' : random() < 0.02 ? '1.5' : String(1 + Math.floor(random() * 500));
    text += `${user.toString(16).padStart(8, '0')}\t${withMbid ? `mbid-${item}\t` : ''}${spell(item)}\t${count}\n`;
  }
  return text;
}

describe('the byte reader agrees with the string reader', () => {
  it('lastfm: every quirk, in chunks of 1, 7, 64 bytes and 1 MiB', async () => {
    const result = await sameBothWays(quirkRowsLastfm());
    assert.ok('stats' in result);
    // a few facts, so that agreeing on nonsense would not pass
    assert.equal((result.stats as { header: boolean }).header, true);
    assert.ok(result.itemNames.includes('BJÖRK') && result.itemNames.includes('band\ra'), 'the spelling of most rows');
    // issue 9 class 8: U+FEFF inside the file is whitespace at the start of the user id, trimmed
    assert.ok(result.userIds.includes('u11') && !result.userIds.some((id) => id.includes('\uFEFF')));
    // issue 9 class 8 (the attacker trial): bytes that are not UTF-8 (and U+FFFD itself) make a
    // malformed row, rather than merging every misread name into one
    assert.ok(!result.userIds.some((id) => id.includes('\uFFFD')), 'no user from bytes that are not UTF-8');
    assert.ok(!result.itemNames.some((name) => name.includes('\uFFFD')));
    assert.ok((result.stats as { skipped: number }).skipped > 0);
    assert.ok(!result.userIds.includes('u7'));
    assert.equal(result.itemNames.filter((name) => name.toLowerCase() === 'radiohead').length, 1, 'trimmed');
    assert.ok(
      result.itemNames.includes('Sigur R\u00f3s') && result.itemNames.every((name) => name === name.normalize('NFC')),
    );
    assert.equal(result.userIds.filter((id) => id.normalize('NFD') === 'Bjo\u0308rk').length, 1, 'one user Björk');
    assert.deepEqual(
      result.userIds.filter((id) => id.normalize('NFD') === 'A\u030asa'),
      ['\u00c5sa'],
    );
    assert.ok(result.userIds.every((id) => id === id.trim().normalize('NFC') && !id.includes('\0')));
  });

  it('triples: every quirk', async () => {
    const result = await sameBothWays(toTriples(quirkRowsLastfm()), { format: 'triples' });
    assert.ok('stats' in result);
    assert.ok(result.itemNames.includes('BJÖRK') && result.itemNames.includes('Björk'), 'no case folding');
  });

  it('a file without a header, ending in a newline; CRLF throughout', async () => {
    await sameBothWays('u1\t\tx\t1\r\nu2\t\tX\t2\r\n\r\n');
    await sameBothWays('u1\tx\t1\r\nu2\tX\t2\r\n', { format: 'triples' });
  });

  it('header lookalikes on line 1', async () => {
    for (const first of [
      '\t\t\tplays',
      'u\t\tx\t',
      'u\t\tx\t0',
      'u\t\tx\t1',
      'user\tartist\tplays',
      '',
      '\r',
      'a\tb\tc\td\te',
    ]) {
      await sameBothWays(`${first}\nu1\t\tx\t3\n`, {}, [3, 1 << 20]);
      await sameBothWays(`${first}\nu1\tx\t3\n`, { format: 'triples' }, [3, 1 << 20]);
    }
  });

  it('thousands of users and spellings, partly grouped', async () => {
    await sameBothWays(randomRows(1, 8000, true), {}, [61, 4096, 1 << 20]);
    await sameBothWays(randomRows(2, 8000, false), { format: 'triples' }, [61, 1 << 20]);
  });

  it('strict: the same first error', async () => {
    const lines = quirkRowsLastfm().toString('latin1').split('\n');
    // every bad line of the quirk file, after a good line (so that none is taken as a header)
    for (const line of lines) {
      const content = Buffer.concat([
        Buffer.from('u0\t\tok\t1\n'),
        Buffer.from(line, 'latin1'),
        Buffer.from('\nu0\t\tok\t2\n'),
      ]);
      await sameBothWays(content, { strict: true }, [5, 1 << 20]);
    }
    const result = await sameBothWays(quirkRowsLastfm(), { strict: true });
    // "5\r" on line 6 is a count (trimmed), "\r" on line 9 is one field
    assert.ok('error' in result && /line 9: expected 4 fields, found 1/.test(result.error), JSON.stringify(result));
  });

  it('files with no usable row', async () => {
    for (const content of [
      '',
      '\n\n',
      'a\tb\n',
      'user\tmbid\tartist\tplays\n',
      'u\t\tx\t0\nv\t\ty\t0.0\n',
      '\t\tx\t1\n',
    ]) {
      const result = await sameBothWays(content, {}, [2, 1 << 20]);
      assert.ok('error' in result);
    }
  });

  it('lines too long to buffer, and lines just short enough', async () => {
    const long = (bytes: number) => `u\t\t${'z'.repeat(bytes - 5)}\t1`; // a row of `bytes` bytes
    const content = [
      'u1\t\tx\t1',
      long(MAX_LINE_BYTES),
      long(MAX_LINE_BYTES + 1),
      `${long(MAX_LINE_BYTES)}\r`, // the \r counts
      `${long(MAX_LINE_BYTES - 1)}\r`,
      'z'.repeat(3 * MAX_LINE_BYTES),
      'u2\t\ty\t1',
      long(MAX_LINE_BYTES + 5), // the last line, without a newline
    ].join('\n');
    const result = await sameBothWays(content, {}, [4096, 100_000, 1 << 20]);
    assert.ok('stats' in result);
    assert.deepEqual(
      (result.stats as { skippedExamples: { line: number }[] }).skippedExamples.map((s) => s.line),
      [3, 4, 6, 8],
    );
  });

  it('gzip', async () => {
    await sameBothWays(gzipSync(quirkRowsLastfm()), {}, [7, 1 << 20]);
  });
});

describe('the byte table', () => {
  it('finds what was added, long strings and strings alike at the start too, across growth', () => {
    const table = new ByteTable(11);
    const strings: Buffer[] = [];
    for (let n = 0; n < 5000; n++) {
      strings.push(
        Buffer.from(n % 3 === 0 ? `${'x'.repeat(50)}${n}` : n % 3 === 1 ? `s${n}` : `${'é'.repeat(22)}${n}`),
      );
    }
    const hay = viewOf(Buffer.concat([Buffer.from('..'), ...strings]));
    let at = 2;
    const spans = strings.map((s) => [at, (at += s.length)]);
    for (let n = 0; n < strings.length; n++) {
      const [start, end] = spans[n];
      const hash = hashBytes(hay, start, end);
      assert.equal(table.find(hay, start, end, hash), -1);
      const slot = table.add(hay, start, end, hash, 1000 + n);
      assert.equal(table.entryAt(slot), n);
    }
    for (let n = 0; n < strings.length; n++) {
      const [start, end] = spans[n];
      const slot = table.find(hay, start, end, hashBytes(hay, start, end));
      assert.equal(table.valueAt(slot), 1000 + n);
      table.tally(slot);
      if (n % 2 === 0) table.tally(slot);
      assert.ok(table.equals(n, hay, start, end - start));
      assert.ok(!table.equals(n, hay, start, end - start - 1));
      const copy = Buffer.from(strings[n]);
      copy[copy.length - 1] ^= 1;
      assert.equal(
        table.find(viewOf(copy), 0, copy.length, hashBytes(hay, start, end)),
        -1,
        'the same hash, other bytes',
      );
      copy[copy.length - 1] ^= 1;
      assert.equal(
        table.find(viewOf(copy), 0, copy.length, hashBytes(hay, start, end)),
        slot,
        'the same bytes elsewhere',
      );
    }
    assert.deepEqual(
      Array.from(table.values()),
      strings.map((_, n) => 1000 + n),
    );
    assert.deepEqual(
      Array.from(table.counts()),
      strings.map((_, n) => (n % 2 === 0 ? 2 : 1)),
    );
  });
});

describe('the byte reader', () => {
  it('reads formats other than the TSV ones as strings', async () => {
    const path = file('u1,x,1\nu2,"y, z",2\n');
    const fast = await readInteractions(path, { format: 'csv' as InputFormat, parser: 'fast' });
    assert.deepEqual(fast.itemNames, ['x', 'y, z']);
  });
});
