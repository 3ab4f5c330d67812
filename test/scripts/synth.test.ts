import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ALS_BIN, ROOT, tempDir } from '../helpers.js';

// scripts/synth.js through its command line, at a small shape
const SYNTH = join(ROOT, 'scripts', 'synth.js');
const SHAPE = ['--users', '2000', '--items', '1500', '--rows', '80000'];
const work = tempDir('als-synth-');

function run(script: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [script, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function synth(out: string, ...args: string[]): string {
  const result = run(SYNTH, ...SHAPE, '--out', out, ...args);
  assert.equal(result.status, 0, result.stderr);
  return result.stderr;
}

interface Parsed {
  lines: string[];
  /** the fields of each line, one "\r" before the "\n" dropped */
  rows: string[][];
  malformed: number;
}

function parse(path: string): Parsed {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  const rows = lines.map((line) => line.replace(/\r$/, '').split('\t'));
  const malformed = rows.filter((f) => f.length !== 4 || !/^\d+$/.test(f[3])).length;
  return { lines, rows, malformed };
}

/** Listeners (rows) per artist, by lower-cased name, in the well-formed rows. */
function listeners(rows: string[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of rows) {
    if (f.length !== 4 || !/^\d+$/.test(f[3])) continue;
    const key = f[2].toLowerCase();
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe('scripts/synth.js', () => {
  const file = join(work, 'a.tsv');
  const genresFile = join(work, 'genres.tsv');
  let summary = '';
  let data: Parsed;

  before(() => {
    summary = synth(file, '--seed', '1', '--genres', genresFile);
    data = parse(file);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('is deterministic per seed', () => {
    synth(join(work, 'again.tsv'), '--seed', '1');
    synth(join(work, 'other.tsv'), '--seed', '2');
    const bytes = readFileSync(file);
    assert.ok(bytes.equals(readFileSync(join(work, 'again.tsv'))), 'same seed, same bytes');
    assert.ok(!bytes.equals(readFileSync(join(work, 'other.tsv'))), 'another seed, other bytes');
  });

  it('writes exactly --rows lines of --users users, grouped and most played first', () => {
    assert.equal(data.lines.length, 80000);
    const users = data.rows.map((f) => f[0]);
    assert.equal(new Set(users).size, 2000);
    assert.ok(users.every((u) => /^[0-9a-f]{40}$/.test(u)));
    // grouped: a user's rows are together
    let runs = 1;
    for (let i = 1; i < users.length; i++) if (users[i] !== users[i - 1]) runs++;
    assert.equal(runs, 2000);
    for (let i = 1; i < data.rows.length; i++) {
      const [a, b] = [data.rows[i - 1], data.rows[i]];
      if (a[0] !== b[0] || a.length !== 4 || b.length !== 4 || !/^\d+$/.test(a[3]) || !/^\d+$/.test(b[3])) continue;
      assert.ok(Number(a[3]) >= Number(b[3]), `line ${i + 1}: plays not in descending order`);
    }
    // mbids: uuids or empty
    const mbids = data.rows.filter((f) => f.length === 4).map((f) => f[1]);
    assert.ok(
      mbids.every((m) => m === '' || /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(m)),
    );
    assert.ok(mbids.some((m) => m === ''));
    assert.match(summary, /80,000 rows, 2,000 users, 1,500 artists/);
  });

  it('has a heavy tail of artist popularity', () => {
    const counts = [...listeners(data.rows).values()].sort((a, b) => a - b);
    const median = counts[Math.floor(counts.length / 2)];
    const top = counts[counts.length - 1];
    assert.ok(top >= 10 * median, `top artist ${top} listeners, median ${median}`);
    const plays = data.rows.filter((f) => f.length === 4 && /^\d+$/.test(f[3])).map((f) => Number(f[3]));
    assert.ok(plays.every((p) => p >= 1));
    assert.ok(Math.max(...plays) > 50 * plays.sort((a, b) => a - b)[Math.floor(plays.length / 2)]);
  });

  it("has the real file's quirks", () => {
    assert.ok(
      data.rows.some((f) => f[2]?.startsWith('"')),
      'a name starting with a double quote',
    );
    assert.ok(
      data.lines.some((line) => line.includes('\r')),
      'a stray \\r',
    );
    assert.ok(
      data.lines.some((line) => line.endsWith('\r')),
      'a \\r before the newline',
    );
    assert.ok(
      data.rows.some((f) => f.length === 4 && f[2] !== f[2].toLowerCase()),
      'a name in another letter case',
    );
    assert.ok(data.malformed >= 1);
    assert.match(summary, new RegExp(`\\b${data.malformed} malformed\\b`));
    // no (user, artist) twice except in another letter case
    const pairs = new Set(data.rows.filter((f) => f.length === 4).map((f) => `${f[0]}\t${f[2]}`));
    assert.equal(pairs.size, data.rows.filter((f) => f.length === 4).length);
  });

  it('trains, skipping exactly the malformed rows, and similar artists share a genre', () => {
    const model = join(work, 'model');
    const trained = run(ALS_BIN, 'train', file, '--factors', '8', '--iterations', '3', '--model', model, '--json');
    assert.equal(trained.status, 0, trained.stderr);
    const report = JSON.parse(trained.stdout);
    assert.equal(report.read.skipped, data.malformed);
    assert.equal(report.read.rows, 80000);
    assert.equal(report.users, 2000);
    assert.equal(report.items, listeners(data.rows).size);

    // the most listened artist of each of the five largest genres: most of its ten nearest
    // neighbours are of its genre
    const genreOf = new Map<string, string>();
    const genreSize = new Map<string, number>();
    for (const line of readFileSync(genresFile, 'utf8').split('\n')) {
      if (line === '') continue;
      const [name, genre] = line.split('\t');
      genreOf.set(name.toLowerCase(), genre);
      genreSize.set(genre, (genreSize.get(genre) ?? 0) + 1);
    }
    assert.equal(genreOf.size, 1500);
    const largest = [...genreSize]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([genre]) => genre);
    const top = new Map<string, [string, number]>();
    for (const [name, count] of listeners(data.rows)) {
      const genre = genreOf.get(name) as string;
      if (!top.has(genre) || (top.get(genre) as [string, number])[1] < count) top.set(genre, [name, count]);
    }
    let same = 0;
    for (const genre of largest) {
      const [name] = top.get(genre) as [string, number];
      const result = run(ALS_BIN, 'similar', name, '--json', '--model', model);
      assert.equal(result.status, 0, result.stderr);
      const similar: { item: string }[] = JSON.parse(result.stdout).similar;
      assert.equal(similar.length, 10);
      const inGenre = similar.filter((s) => genreOf.get(s.item.toLowerCase()) === genre).length;
      assert.ok(inGenre >= 6, `${name} (${genre}): ${inGenre} of 10 neighbours in its genre`);
      same += inGenre;
    }
    assert.ok(same >= 40, `${same} of 50 neighbours in the genre`);
  });

  it('checks its arguments: one line, exit code 2', () => {
    for (const args of [
      ['--users', 'x'],
      ['--users', '10', '--rows', '5'],
      ['--items', '0'],
      ['--users', '2', '--items', '2', '--rows', '5'],
      ['--bogus'],
    ]) {
      const result = run(SYNTH, ...args);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^synth: [^\n]+\n$/);
    }
    const help = run(SYNTH, '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--genres FILE/);
  });
});
