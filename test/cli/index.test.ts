import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ALS_BIN, SAMPLE, tempDir } from '../helpers.js';

// issue 13: the item index of `als index`, searched by `similar --all`
const work = tempDir('als-index-');
const plain = join(work, 'plain');
const indexed = join(work, 'indexed');

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(...args: string[]): { stdout: string; stderr: string } {
  const result = als(...args);
  assert.equal(result.status, 0, `als ${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** the live version's folder */
const live = (dir: string) => realpathSync(join(dir, '.als', 'current'));
const manifestOf = (dir: string) => JSON.parse(readFileSync(join(live(dir), 'model.json'), 'utf8'));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** a copy of a model as cp -a makes it (links kept) */
function copyModel(from: string, name: string): string {
  const to = join(work, name);
  cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  return to;
}

/** `item -> [neighbours]` of a similar --all file */
function neighbours(path: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line === '') continue;
    const [item, other] = line.split('\t');
    map.set(item, [...(map.get(item) ?? []), other]);
  }
  return map;
}

describe('als index and similar --all through it', () => {
  let exactLines: string;
  before(() => {
    ok('train', SAMPLE, '--model', plain, '--quiet');
    copyModel(plain, 'indexed');
    ok('similar', '--all', '--output', join(work, 'exact.tsv'), '--model', plain, '--quiet');
    exactLines = readFileSync(join(work, 'exact.tsv'), 'utf8');
  });

  it('als index writes a new version with item_index.hnsw, listed with its sha256 and bound to the item factors', () => {
    const before = live(indexed);
    const { stdout } = ok('index', '--model', indexed, '--json');
    const summary = JSON.parse(stdout);
    assert.equal(summary.file, 'item_index.hnsw');
    assert.equal(summary.items, 17620);
    assert.equal(summary.minListeners, 3);
    const now = live(indexed);
    assert.notEqual(now, before, 'a new version');
    assert.ok(!existsSync(join(before, 'item_index.hnsw')), 'the version read is never changed');
    const manifest = manifestOf(indexed);
    const file = join(now, 'item_index.hnsw');
    assert.deepEqual(manifest.files['item_index.hnsw'], {
      shape: [summary.rows],
      dtype: 'hnsw',
      bytes: readFileSync(file).length,
      sha256: sha256(file),
    });
    assert.equal(summary.bytes, readFileSync(file).length);
    assert.equal(manifest.itemIndex.rows, summary.rows);
    assert.equal(manifest.itemIndex.minItemUsers, 3);
    assert.equal(manifest.itemIndex.itemFactorsSha256, manifest.files['item_factors.f32'].sha256);
    // the file's own header names the factors too (bytes 80–111, hnswFormat.ts)
    assert.equal(readFileSync(file).subarray(80, 112).toString('hex'), manifest.itemIndex.itemFactorsSha256);
    // every other file is the same model
    for (const name of Object.keys(manifestOf(plain).files))
      assert.equal(manifest.files[name].sha256, manifestOf(plain).files[name].sha256, name);
    const info = JSON.parse(ok('info', '--model', indexed, '--json').stdout);
    assert.deepEqual(info.itemIndex, { file: 'item_index.hnsw', fresh: true, rows: summary.rows, minListeners: 3 });
    assert.ok(info.files.some((f: { name: string }) => f.name === 'item_index.hnsw'));
  });

  it('similar --all searches the index: recall@10 of 0.99 or more against --exact, same lines otherwise', () => {
    const approx = join(work, 'approx.tsv');
    const summary = JSON.parse(
      ok('similar', '--all', '--output', approx, '--model', indexed, '--json', '--min-listeners', '3').stdout,
    );
    assert.equal(summary.search, 'approximate');
    const exact = neighbours(join(work, 'exact.tsv'));
    const found = neighbours(approx);
    assert.equal(found.size, exact.size);
    let hits = 0;
    let total = 0;
    for (const [item, list] of exact) {
      const got = new Set(found.get(item));
      assert.equal(got.size, list.length, item);
      total += list.length;
      hits += list.filter((other) => got.has(other)).length;
    }
    const recall = hits / total;
    // 176,200 neighbours of the sample: all found at commit time (recall 1)
    assert.equal(total, 176200);
    assert.ok(recall >= 0.99, `recall@10 ${recall} (${hits} of ${total})`);
    const lines = readFileSync(approx, 'utf8').split('\n');
    for (const line of lines.slice(0, -1)) assert.match(line, /^[^\t]+\t[^\t]+\t[01]\.\d{6}$/);
    // scores: the cosine scaled from −1 to the best found, (cos + 1) / (best + 1) (similarAllIndexed.ts)
    const one = JSON.parse(ok('similar', 'Radiohead', '--json', '--model', indexed).stdout);
    const raw = one.similar.map((s: { raw: number }) => s.raw);
    const written = lines.filter((line) => line.startsWith('Radiohead\t')).map((line) => line.split('\t'));
    assert.deepEqual(
      written.map(([, other]) => other),
      one.similar.map((s: { item: string }) => s.item),
    );
    // the one-shot cosines are float32 quotients, the index's float32 products of unit rows
    written.forEach(([, , score], n) => assert.ok(Math.abs(Number(score) - (raw[n] + 1) / (raw[0] + 1)) < 2e-6, score));
  });

  it('--exact scores every artist: byte for byte the output of a model without an index', () => {
    const out = join(work, 'forced.tsv');
    const summary = JSON.parse(ok('similar', '--all', '--exact', '--output', out, '--model', indexed, '--json').stdout);
    assert.equal(summary.search, 'exact');
    assert.equal(readFileSync(out, 'utf8'), exactLines);
    // another --min-listeners than the index covers: exact, without a warning
    const other = als(
      'similar',
      '--all',
      '--output',
      join(work, 'min1.tsv'),
      '--model',
      indexed,
      '--min-listeners',
      '1',
      '--json',
    );
    assert.equal(other.status, 0, other.stderr);
    assert.equal(JSON.parse(other.stdout).search, 'exact');
    assert.equal(other.stderr, '');
    assert.equal(als('similar', 'jay-z', '--exact', '--model', indexed).status, 2);
  });

  it("a stale index (another model's, checksums intact) is never searched: exact, with a warning", () => {
    const stale = copyModel(plain, 'stale');
    ok('train', SAMPLE, '--model', stale, '--seed', '7', '--quiet');
    const manifest = manifestOf(stale);
    const theirs = manifestOf(indexed);
    manifest.itemIndex = theirs.itemIndex;
    manifest.files['item_index.hnsw'] = theirs.files['item_index.hnsw'];
    writeFileSync(join(live(stale), 'model.json'), JSON.stringify(manifest));
    cpSync(join(live(indexed), 'item_index.hnsw'), join(live(stale), 'item_index.hnsw'));
    const out = join(work, 'stale.tsv');
    const result = als('similar', '--all', '--output', out, '--model', stale, '--json');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(JSON.parse(result.stdout).search, 'exact');
    assert.match(result.stderr, /warning: the item index of .* is stale \(it was built from other item factors/);
    assert.equal(result.stderr.split('\n').filter((l) => l.includes('stale')).length, 1, 'warned once');
    const exact = join(work, 'stale-exact.tsv');
    ok('similar', '--all', '--exact', '--output', exact, '--model', stale, '--quiet');
    assert.equal(readFileSync(out, 'utf8'), readFileSync(exact, 'utf8'));
    assert.match(ok('info', '--model', stale).stdout, /Index {4}item_index\.hnsw is stale/);
  });

  it('a damaged index file is exit 4 naming it, before any line is written; --exact does not read it', () => {
    const cases: [string, (file: string, dir: string) => void, RegExp][] = [
      ['flipped byte', (file) => flip(file, 5000), /item_index\.hnsw fails its checksum/],
      [
        'flipped byte, model.json rewritten to match',
        (file, dir) => {
          flip(file, 5000);
          const manifest = manifestOf(dir);
          manifest.files['item_index.hnsw'].sha256 = sha256(file);
          writeFileSync(join(live(dir), 'model.json'), JSON.stringify(manifest));
        },
        /item_index\.hnsw: it fails its checksum \(the index is corrupt/,
      ],
      ['truncated', (file) => truncateSync(file, 1000), /item_index\.hnsw has 1000 bytes, expected \d+/],
      ['missing', (file) => rmSync(file), /item_index\.hnsw is missing/],
      [
        'symlink',
        (file) => {
          const target = join(work, 'outside.hnsw');
          writeFileSync(target, readFileSync(file));
          rmSync(file);
          symlinkSync(target, file);
        },
        /item_index\.hnsw is a symbolic link, not a regular file/,
      ],
      [
        'FIFO',
        (file) => {
          rmSync(file);
          execFileSync('mkfifo', [file]);
        },
        /item_index\.hnsw is a FIFO/,
      ],
    ];
    cases.forEach(([what, damage, pattern], n) => {
      const dir = copyModel(indexed, `damaged-${n}`);
      damage(join(live(dir), 'item_index.hnsw'), dir);
      const out = join(work, `damaged-${n}.tsv`);
      const result = als('similar', '--all', '--output', out, '--model', dir);
      assert.equal(result.status, 4, `${what}: ${result.stderr}`);
      assert.match(result.stderr, pattern, what);
      assert.ok(!existsSync(out), `${what}: no output file`);
      assert.equal(als('info', '--model', dir).status, 4, `${what}: info checks it`);
      if (n > 0) return;
      ok('similar', '--all', '--exact', '--output', out, '--model', dir, '--quiet');
      assert.equal(readFileSync(out, 'utf8'), exactLines, what);
    });
  });

  it('als index again leaves a fresh index as it is, and replaces a damaged one', () => {
    const dir = copyModel(indexed, 'again');
    const version = live(dir);
    const again = ok('index', '--model', dir);
    assert.match(again.stdout, /^Nothing to do: .* already has a fresh item_index\.hnsw of [\d,]+ artists/);
    assert.equal(live(dir), version);
    flip(join(version, 'item_index.hnsw'), 5000);
    const rebuilt = JSON.parse(ok('index', '--model', dir, '--json').stdout);
    assert.equal(rebuilt.changed, true);
    assert.notEqual(live(dir), version);
    assert.equal(sha256(join(live(dir), 'item_index.hnsw')), sha256(join(live(indexed), 'item_index.hnsw')));
  });

  it('update keeps the index while the indexed artists stay, and drops it, saying so, when they change', () => {
    const dir = copyModel(indexed, 'updated');
    // more plays of artists user2 has: the listener counts stay
    const same = join(work, 'same.tsv');
    writeFileSync(same, 'user2\t51\tDuran Duran\t10\n');
    const kept = JSON.parse(ok('update', same, '--model', dir, '--json').stdout);
    assert.equal(kept.itemIndex, 'kept');
    assert.equal(manifestOf(dir).itemIndex.rows, manifestOf(indexed).itemIndex.rows);
    // three new listeners lift artists over --min-listeners 3
    const names = JSON.parse(readFileSync(join(live(dir), 'item_names.json'), 'utf8')) as string[];
    const counts = new Int32Array(readFileSync(join(live(dir), 'item_listeners.i32')).buffer.slice(0));
    const rare = names.filter((_, i) => counts[i] === 1).slice(0, 3);
    const more = join(work, 'more.tsv');
    writeFileSync(
      more,
      ['new1', 'new2', 'new3'].flatMap((user) => rare.map((artist) => `${user}\t0\t${artist}\t5`)).join('\n') + '\n',
    );
    const dropped = als('update', more, '--model', dir, '--json');
    assert.equal(dropped.status, 0, dropped.stderr);
    assert.equal(JSON.parse(dropped.stdout).itemIndex, 'dropped');
    assert.match(dropped.stderr, /warning: the item index of .* was dropped/);
    const manifest = manifestOf(dir);
    assert.equal(manifest.itemIndex, undefined);
    assert.equal(manifest.files['item_index.hnsw'], undefined);
    // dropped, not stale: exact, and nothing to warn about
    const after = als('similar', '--all', '--output', join(work, 'u.tsv'), '--model', dir, '--json');
    assert.equal(after.status, 0, after.stderr);
    assert.equal(JSON.parse(after.stdout).search, 'exact');
    assert.equal(after.stderr, '');
  });

  it('train into an indexed model drops the index, saying so', () => {
    const dir = copyModel(indexed, 'retrained');
    const result = als('train', SAMPLE, '--model', dir, '--seed', '3', '--quiet');
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /the item index of .* was dropped/);
    assert.equal(manifestOf(dir).itemIndex, undefined);
    assert.equal(readlinkSync(join(dir, 'model.json')), '.als/current/model.json');
    const summary = JSON.parse(
      ok('similar', '--all', '--output', join(work, 'r.tsv'), '--model', dir, '--json').stdout,
    );
    assert.equal(summary.search, 'exact');
  });

  it('als index --help lists its options', () => {
    const { stdout } = ok('index', '--help');
    for (const flag of ['--min-listeners <n>', '--json', '-m, --model <dir>', '-q, --quiet'])
      assert.ok(stdout.includes(flag), flag);
    assert.match(ok('similar', '--help').stdout, /--exact/);
    assert.equal(als('index', '--min-listeners', '0', '--model', indexed).status, 2);
    assert.equal(als('index', '--model', join(work, 'nothing')).status, 4);
  });
});

function flip(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] ^= 0xff;
  writeFileSync(file, bytes);
}
