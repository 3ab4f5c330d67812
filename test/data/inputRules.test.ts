import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, createReadStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CooList } from '../../src/data/coo.js';
import { readInteractions, type InputFormat, type Interactions, type ReadOptions } from '../../src/data/read.js';
import { countProblem, countValueProblem, MAX_COUNT, parseCount } from '../../src/data/rows.js';
import { AlsError } from '../../src/errors.js';
import { ALS_BIN, tempDir } from '../helpers.js';

/*
 * The rules of issue 9 for what is read (classes 4, 6, 7, 8), each decided once in src/data/rows.ts
 * and src/data/source.ts, and held by both readers alike.
 */

const dir = tempDir('als-rules-');
chmodSync(dir, 0o777);
let files = 0;
function file(content: string | Buffer, ext = 'tsv'): string {
  const path = join(dir, `in-${files++}.${ext}`);
  writeFileSync(path, content);
  return path;
}

interface Seen {
  userIds: string[];
  itemNames: string[];
  rows: number[][];
  stats: Interactions['stats'];
}

function seen(data: Interactions): Seen {
  const m = data.userItems;
  const rows: number[][] = [];
  for (let u = 0; u < m.rows; u++) {
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++) rows.push([u, m.indices[n], m.data[n]]);
  }
  return { userIds: data.userIds, itemNames: data.itemNames, rows, stats: { ...data.stats, seconds: 0 } };
}

/** Reads `content` with both readers (csv: the one reader) in two chunk sizes; they must agree. */
async function read(content: string | Buffer, options: ReadOptions = {}, chunkSizes = [3, 1 << 16]): Promise<Seen> {
  const path = file(content, options.format === 'csv' ? 'csv' : 'tsv');
  const parsers = options.format === 'csv' ? (['simple'] as const) : (['fast', 'simple'] as const);
  let first: Seen | undefined;
  for (const parser of parsers) {
    for (const chunkBytes of chunkSizes) {
      const result = seen(await readInteractions(path, { ...options, parser, chunkBytes }));
      if (first === undefined) first = result;
      else assert.deepEqual(result, first, `${parser}, chunks of ${chunkBytes}`);
    }
  }
  return first as Seen;
}

/** The AlsError both readers throw for `content`. */
async function refused(
  content: string | Buffer,
  options: ReadOptions,
  pattern: RegExp,
  chunkBytes = 5,
): Promise<AlsError> {
  const path = file(content, options.format === 'csv' ? 'csv' : 'tsv');
  const errors: string[] = [];
  let last: AlsError | undefined;
  for (const parser of ['fast', 'simple'] as const) {
    await assert.rejects(readInteractions(path, { ...options, parser, chunkBytes }), (error: unknown) => {
      assert.ok(error instanceof AlsError, String(error));
      assert.equal(error.code, 'input');
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes('\n'));
      errors.push(error.message);
      last = error;
      return true;
    });
  }
  assert.equal(errors[0], errors[1]);
  return last as AlsError;
}

const LAYOUTS: [InputFormat, (user: string, item: string, count: string) => string][] = [
  ['lastfm', (u, i, c) => `${u}\t\t${i}\t${c}`],
  ['triples', (u, i, c) => `${u}\t${i}\t${c}`],
  ['csv', (u, i, c) => `${u},${i},${c}`],
];

describe('counts (issue 9, class 4)', () => {
  it('a count above 1e15 is a malformed row with its own reason and line, in every format; 1e15 itself is taken', async () => {
    for (const [format, row] of LAYOUTS) {
      const lines = [row('u1', 'a', '2'), row('u1', 'b', '1e39'), row('u2', 'a', '3.5e38'), row('u2', 'c', '1e16')];
      lines.push(
        row('u3', 'd', '9'.repeat(400)),
        row('u3', 'e', '1e400'),
        row('u4', 'a', '1e15'),
        row('u4', 'f', '1000000000000001'),
      );
      const data = await read(lines.join('\n') + '\n', { format });
      const where = format === 'lastfm' ? 'field 4' : 'field 3';
      assert.equal(data.stats.skipped, 6, format);
      assert.deepEqual(
        data.stats.skippedExamples.map((s) => s.line),
        [2, 3, 4, 5, 6],
      );
      assert.equal(
        data.stats.skippedExamples[0].reason,
        `${where} (count) is 1e39, above the largest count als takes (1e15)`,
      );
      assert.equal(
        data.stats.skippedExamples[2].reason,
        `${where} (count) is 1e16, above the largest count als takes (1e15)`,
      );
      assert.match(data.stats.skippedExamples[3].reason, /is 9{40}…, above the largest count/);
      assert.deepEqual(data.itemNames, ['a']);
      assert.deepEqual(
        data.rows.map((r) => r[2]),
        [2, Math.fround(1e15)],
      );
    }
  });

  it('--strict stops at a count above 1e15, naming the line', async () => {
    await refused(
      'u\t\ta\t1\nu\t\tb\t3.5e38\n',
      { strict: true },
      /line 2: field 4 \(count\) is 3\.5e38, above the largest count als takes/,
    );
  });

  it('hex, signs other than +, NaN and Infinity stay refused; whitespace around a count is not', async () => {
    const counts = ['1', '0x10', '-1', 'NaN', 'Infinity', '-0', '1_000', ' +7 ', '\u00a02.5'];
    const data = await read(counts.map((c, n) => `u\t\ti${n}\t${c}`).join('\n'));
    assert.equal(data.stats.skipped, 6);
    assert.deepEqual(
      data.stats.skippedExamples.map((s) => s.line),
      [2, 3, 4, 5, 6],
    );
    assert.deepEqual(
      data.rows.map((r) => r[2]),
      [1, 7, 2.5],
    );
  });

  it('countProblem, parseCount and countValueProblem apply the one rule for --items and update', () => {
    assert.equal(countProblem('12'), null);
    assert.equal(countProblem(' 1e15 '), null);
    assert.equal(countProblem('0'), null);
    assert.equal(countProblem('1e39'), '1e39 is above the largest count als takes (1e15)');
    assert.equal(countProblem('0x10'), '"0x10" is not a non-negative number');
    for (const bad of ['-1', 'NaN', 'Infinity', '', '1e', '٣'])
      assert.match(countProblem(bad) ?? '', /not a non-negative number/);
    assert.equal(parseCount('1e16'), NaN);
    assert.equal(parseCount('0x10'), NaN);
    assert.equal(parseCount('+7'), 7);
    assert.equal(parseCount(String(MAX_COUNT)), MAX_COUNT);
    assert.equal(countValueProblem(5), null);
    assert.equal(countValueProblem(1e39), '1e+39 is above the largest count als takes (1e15)');
    for (const bad of [-1, NaN, Infinity, -Infinity]) assert.notEqual(countValueProblem(bad), null);
  });

  it('summed duplicates are held to the largest count too: a sum above it is an input error naming the user and item', async () => {
    // the sum was finite before, but training and the model's float32 plays take at most MAX_COUNT
    const rows = Array.from({ length: 3000 }, (_, n) => (n % 2 === 0 ? 'u\t\ta\t1e15' : 'u\t\tA\t1e15'));
    await assert.rejects(
      read(rows.join('\n')),
      (e: unknown) =>
        e instanceof AlsError &&
        e.code === 'input' &&
        /the counts of user "u" and item "a" add up to 3\.00e\+18, above the largest count als takes \(1e15\)/.test(
          e.message,
        ),
    );
    const fits = await read('u\t\ta\t5e14\nu\t\tA\t5e14');
    assert.equal(fits.rows[0][2], Math.fround(1e15));
    assert.equal(fits.stats.duplicates, 1);
  });
});

describe('input that looks the same is the same (issue 9, class 8)', () => {
  it('a UTF-8 BOM at the start is dropped whether or not a header follows, in every format and in gzip', async () => {
    for (const [format, row] of LAYOUTS) {
      const header =
        format === 'csv' ? 'user,item,count' : format === 'lastfm' ? 'user\tmbid\tartist\tplays' : 'user\titem\tplays';
      const plain = await read(`\ufeff${row('u1', 'x', '1')}\n${row('u1', 'y', '2')}\n`, { format });
      assert.deepEqual(plain.userIds, ['u1'], format);
      assert.equal(plain.rows.length, 2);
      const headed = await read(`\ufeff${header}\n${row('u1', 'x', '1')}\n`, { format });
      assert.equal(headed.stats.header, true, format);
      assert.deepEqual(headed.userIds, ['u1']);
    }
    const zipped = await read(gzipSync(Buffer.from('\ufeffu1\t\tx\t1\nu1\t\tx\t2\n')));
    assert.deepEqual(zipped.userIds, ['u1']);
    assert.deepEqual(zipped.rows, [[0, 0, 3]]);
  });

  it('spaces at either end of user and item are dropped: "Radiohead " is "Radiohead"', async () => {
    const rows = [
      'u1\t\tRadiohead \t1',
      ' u1\t\tRadiohead\t2',
      'u1\u00a0\t\t\u00a0Radiohead\r\t4',
      'u2\t\t  Muse\t1',
      'u2\t\tMuse\t1',
    ];
    const data = await read(rows.join('\n'));
    assert.deepEqual(data.userIds, ['u1', 'u2']);
    assert.deepEqual(data.itemNames, ['Radiohead', 'Muse']);
    assert.deepEqual(data.rows, [
      [0, 0, 7],
      [1, 1, 2],
    ]);
    const csv = await read('u1,"Radiohead ",1\n"u1 ", Radiohead,2\n', { format: 'csv' });
    assert.deepEqual(csv.itemNames, ['Radiohead']);
    assert.deepEqual(csv.rows, [[0, 0, 3]]);
  });

  it('a user or item of nothing but whitespace is empty', async () => {
    const data = await read('u\t\t \u00a0 \t1\n\u3000\t\tx\t1\nu\t\tx\t1\n');
    assert.deepEqual(
      data.stats.skippedExamples.map((s) => s.reason),
      ['field 3 (artist name) is empty', 'field 1 (user) is empty'],
    );
  });

  it('NFC and NFD spellings are one item and one user, shown in NFC', async () => {
    const nfc = 'Bj\u00f6rk';
    const nfd = 'Bjo\u0308rk';
    for (const [format, row] of LAYOUTS) {
      const data = await read(
        [row(nfd, nfd, '1'), row(nfc, nfc, '2'), row(nfd, nfc.toUpperCase(), '4')].join('\n') + '\n',
        { format },
      );
      assert.deepEqual(data.userIds, [nfc], format);
      if (format !== 'lastfm') {
        assert.deepEqual(data.itemNames, [nfc, 'BJÖRK'], 'no case folding');
      } else {
        assert.deepEqual(data.itemNames, [nfc], format);
        assert.deepEqual(data.rows, [[0, 0, 7]]);
      }
    }
  });
});

describe('input that is wrong is said (issue 9, class 8)', () => {
  it('line 1 is a header only when its count field holds no digit: "12abc" is a bad row, an error under strict', async () => {
    const data = await read('u1\t\tx\t12abc\nu1\t\ty\t1\n');
    assert.equal(data.stats.header, false);
    assert.equal(data.stats.skipped, 1);
    assert.deepEqual(data.stats.skippedExamples, [
      { line: 1, reason: 'field 4 (count) is "12abc", not a non-negative number' },
    ]);
    await refused('u1\t\tx\t12abc\nu1\t\ty\t1\n', { strict: true }, /line 1: field 4 \(count\) is "12abc"/);
    const csv = await read('u1,x,1e39\nu1,y,1\n', { format: 'csv' });
    assert.equal(csv.stats.skipped, 1, '1e39 on line 1 is a row, too large');
    for (const header of ['plays', 'count', '', 'NaN']) {
      assert.equal((await read(`user\t\tartist\t${header}\nu1\t\ty\t1\n`)).stats.header, true, header);
    }
  });

  it('an unclosed csv quote is reported where it opened, and every row it swallowed is skipped', async () => {
    const data = await read('u1,x,1\nu2,y,2\nu3,"z,3\nu4,w,4\nu5,v,5\n', { format: 'csv' });
    assert.equal(data.stats.skipped, 3);
    assert.equal(data.stats.rows, 5);
    assert.deepEqual(data.stats.skippedExamples, [{ line: 3, reason: 'quote never closed (lines 3–5)' }]);
    assert.deepEqual(data.userIds, ['u1', 'u2']);
    await refused(
      'u1,x,1\nu2,y,2\nu3,"z,3\nu4,w,4\nu5,v,5',
      { format: 'csv', strict: true },
      /line 3: quote never closed \(lines 3–5\)/,
    );
  });

  it('a csv field holding a tab or a line break is a malformed row, so that no name holds one', async () => {
    const data = await read('u,"a\tb",1\nu,c\td,1\nu,"e\r\nf",1\nu,"g\nh\ni",2\nu,ok,1\n"v\tw",ok,1\n', {
      format: 'csv',
    });
    assert.deepEqual(
      data.stats.skippedExamples.map((s) => [s.line, s.reason]),
      [
        [1, 'field 2 holds a tab'],
        [2, 'field 2 holds a tab'],
        [3, 'field 2 holds a line break (lines 3–4)'],
        [5, 'field 2 holds a line break (lines 5–7)'],
        [9, 'field 1 holds a tab'],
      ],
    );
    assert.equal(data.stats.skipped, 8, 'a record over n lines is n rows');
    assert.deepEqual(data.itemNames, ['ok']);
  });

  it('a NUL byte in a field is a malformed row, in every format', async () => {
    const good = 'u0\t\tgood\t1\n'.repeat(200); // NUL bytes beyond the first kilobyte too
    for (const content of [`u\t\ta\0b\t1\nu\t\tx\t1\n`, `${good}u\0\t\tx\t1\n`, `${good}u\t\tx\t1\0\n`]) {
      const data = await read(content);
      assert.equal(data.stats.skipped, 1);
      assert.match(data.stats.skippedExamples[0].reason, /^field \d holds a NUL byte$/);
    }
    const csv = await read('u,"a\0",1\nu,b,1\n', { format: 'csv' });
    assert.deepEqual(csv.stats.skippedExamples, [{ line: 1, reason: 'field 2 holds a NUL byte' }]);
    const triples = await read('u\ta\0\t1\nu\tb\t1\n', { format: 'triples' });
    assert.equal(triples.stats.skipped, 1);
  });

  it('a UTF-16 file is refused at once: "looks like UTF-16; save it as UTF-8"', async () => {
    const text = 'user\tmbid\tartist\tplays\nu1\t\tx\t1\n';
    const le = Buffer.from(`\ufeff${text}`, 'utf16le');
    const be = Buffer.from(le).swap16();
    const noBom = Buffer.from(text, 'utf16le');
    for (const content of [le, be, noBom, gzipSync(le)]) {
      await refused(content, {}, /looks like UTF-16 \(.*\); save it as UTF-8$/);
      await refused(content, { format: 'csv' }, /looks like UTF-16/);
    }
  });

  it('a UTF-16 file through the CLI is one line and exit code 3', () => {
    const path = file(Buffer.from('\ufeffu1\t\tx\t1\n', 'utf16le'));
    const result = spawnSync(process.execPath, [ALS_BIN, 'train', path, '-m', join(dir, 'never'), '-q'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 3, result.stderr);
    assert.match(
      result.stderr,
      /^als: in-\d+\.tsv: looks like UTF-16 \(it starts with a UTF-16 byte order mark\); save it as UTF-8\n$/,
    );
  });
});

describe('pipes and streams (issue 9, class 7)', () => {
  const rows =
    Array.from({ length: 500 }, (_, n) => `u${n % 37}\t\tartist ${n % 53}\t${1 + (n % 5)}`).join('\n') + '\n';

  /** Reads `content` through a FIFO that a child process writes. */
  async function throughFifo(content: Buffer, options: ReadOptions = {}): Promise<Seen> {
    const source = file(content);
    const fifo = join(dir, `fifo-${files++}`);
    const made = spawnSync('mkfifo', [fifo]);
    assert.equal(made.status, 0, 'mkfifo');
    const writer = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', source, fifo], { stdio: 'ignore' });
    try {
      return seen(await readInteractions(fifo, options));
    } finally {
      await new Promise((resolve) => (writer.exitCode !== null ? resolve(null) : writer.on('exit', resolve)));
    }
  }

  it('a FIFO is streamed, plain or gzip, with progress but no size, and reads like the file', async () => {
    const expected = await read(rows);
    for (const content of [Buffer.from(rows), gzipSync(rows)]) {
      for (const parser of ['fast', 'simple'] as const) {
        const progress: boolean[] = [];
        const data = await throughFifo(content, {
          parser,
          chunkBytes: 100,
          onProgress: (p) => progress.push(p.sizeKnown),
        });
        assert.deepEqual(data.rows, expected.rows);
        assert.deepEqual(data.userIds, expected.userIds);
        assert.equal(data.stats.bytes, content.length, 'the bytes read');
        assert.equal(data.stats.compressed, content[0] === 0x1f);
        assert.ok(progress.length > 0 && progress.every((known) => !known));
      }
    }
  });

  it('a UTF-16 stream and a broken gzip stream are refused as for a file', async () => {
    await assert.rejects(throughFifo(Buffer.from('\ufeffu\t\tx\t1\n', 'utf16le')), /looks like UTF-16/);
    await assert.rejects(
      throughFifo(gzipSync(rows).subarray(0, 200)),
      (e: unknown) => e instanceof AlsError && /not a valid gzip file/.test(e.message),
    );
  });

  it('als train - reads standard input, and cat FILE | als train /dev/stdin works', async () => {
    const input = file(gzipSync(rows));
    const train = ['train', '--json', '--iterations', '2', '--factors', '4', '-m'];
    const runs = [
      // Node gives a child a socket for its standard input; a shell pipe is a pipe
      { command: process.execPath, args: [ALS_BIN, ...train, join(dir, 'from-stdin'), '-'], feed: true },
      {
        command: 'sh',
        args: [
          '-c',
          'f="$1"; n="$2"; shift 2; cat "$f" | "$n" "$@"',
          'sh',
          input,
          process.execPath,
          ALS_BIN,
          ...train,
          join(dir, 'from-pipe'),
          '/dev/stdin',
        ],
        feed: false,
      },
    ];
    for (const run of runs) {
      const child = spawn(run.command, run.args, { stdio: ['pipe', 'pipe', 'pipe'] });
      if (run.feed) createReadStream(input).pipe(child.stdin);
      else child.stdin.end();
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const status = await new Promise((resolve) => child.on('close', resolve));
      assert.equal(status, 0, stderr);
      const summary = JSON.parse(stdout) as {
        users: number;
        items: number;
        read: { rows: number; compressed: boolean };
      };
      assert.deepEqual([summary.users, summary.items, summary.read.rows, summary.read.compressed], [37, 53, 500, true]);
    }
  });

  it('a directory is one clear line', async () => {
    await assert.rejects(readInteractions(dir), /is a directory, not a file/);
  });
});

describe('memory proportional to distinct pairs (issue 9, class 6)', () => {
  it('a run of one (user, item) pair is kept as one triple and counted as duplicates', async () => {
    const list = new CooList();
    const before = process.memoryUsage().arrayBuffers;
    for (let n = 0; n < 6_000_000; n++) list.push(0, 3, 1);
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 8e6, `${grown} bytes for a run of one pair (48 MB when every triple was kept)`);
    assert.equal(list.length, 6_000_000);
    const { matrix, duplicates } = list.toCsr(1, 4);
    assert.deepEqual([Array.from(matrix.indices), Array.from(matrix.data), duplicates], [[3], [6_000_000], 5_999_999]);
  });

  it('a file of one row repeated reads to one entry with every repeat counted as a duplicate', async () => {
    const data = await read(gzipSync('u\tm\tThe Artist\t1\n'.repeat(20_000)));
    assert.deepEqual(data.rows, [[0, 0, 20_000]]);
    assert.equal(data.stats.duplicates, 19_999);
    assert.equal(data.stats.used, 20_000);
  });

  it('a file of only separators is bounded and said', async () => {
    // (tiny chunks cost a read each: megabytes are read in chunks of 4 KiB and more)
    await refused(
      '\t'.repeat(3 << 20),
      {},
      /no usable row \(1 rows, 1 malformed at lines 1, 0 with count 0; line 1: line is longer than/,
      4096,
    );
    await refused(
      ','.repeat(3 << 20),
      { format: 'csv' },
      /no usable row \(1 rows, 1 malformed at lines 1, 0 with count 0; line 1: line is longer/,
      4096,
    );
    const commas = await read(`u,a,1\n${','.repeat(1 << 19)}\n`, { format: 'csv' }, [4096, 1 << 20]);
    assert.deepEqual(commas.stats.skippedExamples, [
      { line: 2, reason: `expected 3 or 4 fields, found ${(1 << 19) + 1}` },
    ]);
  });

  it('a quote never closed over more than a line can hold is bounded and said', async () => {
    const data = await read(`u,a,1\nu,"${'x'.repeat((1 << 20) + 10)}\nu,b,1\n`, { format: 'csv' }, [4096, 1 << 20]);
    assert.deepEqual(data.stats.skippedExamples, [{ line: 2, reason: 'quote never closed (lines 2–3)' }]);
    assert.equal(data.stats.skipped, 2);
  });
});
