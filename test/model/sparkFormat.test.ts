import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { before, describe, it } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { Interactions } from '../../src/data/read.js';
import { loadModel } from '../../src/model/load.js';
import { factorTableBytes, nameTableBytes } from '../../src/model/parquet.js';
import { exportSparkModel, importSparkModel } from '../../src/model/sparkFormat.js';
import { similarItems } from '../../src/query/similar.js';
import { buildApp } from '../../src/serve/server.js';
import { ALS_BIN, plantedGroups, tempDir } from '../helpers.js';

// issue 11 part B without Spark: what als export writes, als import reads back exactly, and every
// bad directory is one line naming the file, with nothing written (test/model/sparkExchange.test.ts
// checks the same directories against a real Spark)

const work = tempDir('als-spark-format-');
const model = join(work, 'model');
const exported = join(work, 'exported');
const playsFile = join(work, 'planted.tsv');

/** The planted data as triples lines: user, item, count. */
function triples(data: Interactions): string[] {
  const lines: string[] = [];
  const m = data.userItems;
  for (let u = 0; u < m.rows; u++)
    for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++)
      lines.push(`${data.userIds[u]}\t${data.itemNames[m.indices[n]]}\t${m.data[n]}`);
  return lines;
}

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A fresh copy of the exported directory to break. */
let copies = 0;
function copyOfExport(): string {
  const dir = join(work, `broken-${copies++}`);
  cpSync(exported, dir, { recursive: true });
  return dir;
}

function onlyPart(dir: string, table: string): string {
  const parts = readdirSync(join(dir, table)).filter((n) => n.endsWith('.parquet'));
  assert.equal(parts.length, 1);
  return join(dir, table, parts[0]);
}

/** als import of `dir` fails with exit `status` and one stderr line matching `pattern`; no model is written. */
function refusedByCli(dir: string, pattern: RegExp, status = 4, ...extra: string[]): void {
  const target = join(work, `never-${copies++}`);
  const result = als('import', '--format', 'spark', dir, '--model', target, ...extra);
  assert.equal(result.status, status, result.stderr);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, pattern);
  assert.equal(existsSync(target), false, 'nothing written');
}

/** importSparkModel of `dir` throws AlsError('model') matching `pattern` (the CLI makes it one line, exit 4: refusedByCli). */
async function refusedImport(dir: string, pattern: RegExp, options: { ids?: string } = {}): Promise<void> {
  await assert.rejects(importSparkModel(dir, options), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'model', error.message);
    assert.match(error.message, pattern);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

describe('als export/import --format spark (no Spark needed)', () => {
  before(() => {
    writeFileSync(playsFile, `${triples(plantedGroups(80, 11)).join('\n')}\n`);
    const trained = als(
      'train',
      playsFile,
      '--format',
      'triples',
      '--factors',
      '6',
      '--iterations',
      '4',
      '--model',
      model,
      '--quiet',
    );
    assert.equal(trained.status, 0, trained.stderr);
    const result = als('export', '--format', 'spark', '--model', model, exported, '--json');
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.deepEqual([summary.users, summary.items, summary.rank], [80, 40, 6]);
  });

  it('writes the layout of Spark ALSModel.save, with the id tables and the metadata Spark reads', () => {
    for (const table of ['metadata', 'userFactors', 'itemFactors', 'userIds', 'itemIds'])
      assert.ok(existsSync(join(exported, table, '_SUCCESS')), table);
    const metadata = JSON.parse(readFileSync(join(exported, 'metadata', 'part-00000'), 'utf8'));
    assert.equal(metadata.class, 'org.apache.spark.ml.recommendation.ALSModel');
    assert.equal(metadata.rank, 6);
    assert.match(metadata.uid, /^ALS_[0-9a-f]{12}$/);
    assert.equal(typeof metadata.timestamp, 'number');
    for (const params of [metadata.paramMap, metadata.defaultParamMap]) {
      assert.deepEqual(params, {
        blockSize: 4096,
        coldStartStrategy: 'nan',
        itemCol: 'item',
        predictionCol: 'prediction',
        userCol: 'user',
      });
    }
  });

  it('import gives back the exported factors bit for bit, rows in the same order, names from the id tables', async () => {
    const original = loadModel(model);
    const { model: back, summary } = await importSparkModel(exported);
    assert.deepEqual(back.userIds, original.userIds);
    assert.deepEqual(back.itemNames, original.itemNames);
    assert.deepEqual(Buffer.from(back.userFactors.buffer), Buffer.from(original.userFactors.slice().buffer));
    assert.deepEqual(Buffer.from(back.itemFactors.buffer), Buffer.from(original.itemFactors.slice().buffer));
    assert.equal(summary.interactions, null);
    assert.equal(back.userItems.indptr[back.users], 0);
    // no play counts: the listener filter keeps every item instead of leaving all out
    const similar = similarItems(back, 'i0', { count: 5 });
    assert.equal(similar.similar.length, 5);
    assert.equal(similar.leftOut, 0);
    assert.deepEqual(
      similar.similar.map((s) => s.name),
      similarItems(original, 'i0', { count: 5, minItemUsers: 1 }).similar.map((s) => s.name),
    );
  });

  it("an export in many part files (the library's partRows) imports the same", async () => {
    const original = loadModel(model);
    const dir = join(work, 'in-parts');
    await exportSparkModel(original, dir, { partRows: 7 });
    assert.equal(readdirSync(join(dir, 'userFactors')).filter((n) => n.endsWith('.parquet')).length, 12);
    assert.equal(readdirSync(join(dir, 'itemIds')).filter((n) => n.endsWith('.parquet')).length, 6);
    const { model: back } = await importSparkModel(dir);
    assert.deepEqual(back.userIds, original.userIds);
    assert.deepEqual(back.itemNames, original.itemNames);
    assert.deepEqual(Array.from(back.userFactors), Array.from(original.userFactors));
    assert.deepEqual(Array.from(back.itemFactors), Array.from(original.itemFactors));
    await assert.rejects(
      exportSparkModel(original, join(work, 'never'), { partRows: 0 }),
      /options.partRows must be a whole number from 1/,
    );
  });

  it("reads factor tables compressed with gzip (Spark's other common codec) and refuses a codec it lacks, naming it", async () => {
    const original = loadModel(model);
    const features = Array.from({ length: 80 }, (_, r) => Array.from(original.userFactors.subarray(r * 6, r * 6 + 6)));
    const columnData = [
      { name: 'id', data: Int32Array.from({ length: 80 }, (_, r) => r) },
      { name: 'features', data: features },
    ];
    const schema = [
      { name: 'spark_schema', num_children: 2 },
      { name: 'id', type: 'INT32' as const, repetition_type: 'REQUIRED' as const },
      { name: 'features', repetition_type: 'OPTIONAL' as const, converted_type: 'LIST' as const, num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED' as const, num_children: 1 },
      { name: 'element', type: 'FLOAT' as const, repetition_type: 'REQUIRED' as const },
    ];
    const gzipped = copyOfExport();
    writeFileSync(
      onlyPart(gzipped, 'userFactors'),
      Buffer.from(
        parquetWriteBuffer({ columnData, schema, codec: 'GZIP', compressors: { GZIP: (input) => gzipSync(input) } }),
      ),
    );
    const { model: back } = await importSparkModel(gzipped);
    assert.deepEqual(Array.from(back.userFactors), Array.from(original.userFactors));
    const brotli = copyOfExport();
    writeFileSync(
      onlyPart(brotli, 'userFactors'),
      Buffer.from(
        parquetWriteBuffer({
          columnData,
          schema,
          codec: 'BROTLI',
          compressors: { BROTLI: (input) => brotliCompressSync(input) },
        }),
      ),
    );
    await refusedImport(brotli, /userFactors\/part-00000\.snappy\.parquet: is not a readable Parquet file \(.*BROTLI/);
  });

  it('import --plays attaches the play counts: played items left out, listeners counted, model.json says where it came from', () => {
    const data = plantedGroups(80, 11);
    const m = data.userItems;
    const lines = triples(data);
    lines.push('stranger\ti1\t5', 'u1\tunknown-item\t3');
    const plays = join(work, 'plays.tsv');
    writeFileSync(plays, `${lines.join('\n')}\n`);
    const target = join(work, 'imported-with-plays');
    const result = als(
      'import',
      '--format',
      'spark',
      exported,
      '--model',
      target,
      '--plays',
      plays,
      '--plays-format',
      'triples',
      '--json',
    );
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout);
    assert.equal(summary.interactions, m.indptr[m.rows]);
    assert.deepEqual(summary.imported.interactions, {
      kept: m.indptr[m.rows],
      unknownUserPairs: 1,
      unknownItemPairs: 1,
    });
    const back = loadModel(target);
    const attached = triples({
      userItems: back.userItems,
      userIds: back.userIds,
      itemNames: back.itemNames,
      stats: {} as Interactions['stats'],
    });
    assert.deepEqual(attached.sort(), triples(data).sort());
    assert.equal(
      back.itemUserCounts.reduce((a, b) => a + b, 0),
      m.indptr[m.rows],
    );
    const manifest = JSON.parse(readFileSync(join(target, 'model.json'), 'utf8'));
    assert.equal(manifest.imported.format, 'spark');
    assert.equal(manifest.imported.from, exported);
    assert.equal(manifest.input.file, plays);
    const recommended = als('recommend', '--user', 'u0', '--model', target, '--json', '-n', '40');
    assert.equal(recommended.status, 0, recommended.stderr);
    const played = new Set(Array.from(m.indices.subarray(m.indptr[0], m.indptr[1]), (i) => data.itemNames[i]));
    assert.ok(played.size > 0);
    const items = JSON.parse(recommended.stdout).recommendations.map((r: { item: string }) => r.item);
    assert.equal(items.length, 40 - played.size);
    assert.ok(items.every((item: string) => !played.has(item)));
  });

  it('a model imported without plays: recommend says it has none, --explain is refused in one line, similar keeps every item (CLI and server)', async () => {
    const target = join(work, 'imported-bare');
    const result = als('import', '--format', 'spark', exported, '--model', target);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /no play counts attached \(--plays FILE\)/);
    const plain = als('recommend', '--user', 'u3', '--model', target, '-n', '3');
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /\(no play counts in the model\)/);
    const explained = als('recommend', '--user', 'u3', '--explain', '--model', target);
    assert.equal(explained.status, 2);
    assert.equal(explained.stderr.trim().split('\n').length, 1, explained.stderr);
    assert.match(explained.stderr, /holds no play counts \(imported without --plays; import again with --plays FILE\)/);
    const similar = als('similar', 'i5', '--model', target, '--json', '-n', '39');
    assert.equal(similar.status, 0, similar.stderr);
    assert.equal(JSON.parse(similar.stdout).similar.length, 39);
    // the server too: its default minItemUsers (3) filters nothing when no item has a known count
    const app = await buildApp({ model: loadModel(target) });
    try {
      const served = await app.inject({ method: 'GET', url: '/api/similar/i5?n=5' });
      assert.equal(served.statusCode, 200, served.body);
      assert.deepEqual(
        served.json().similar.map((s: { name: string }) => s.name),
        JSON.parse(similar.stdout)
          .similar.slice(0, 5)
          .map((s: { item: string }) => s.item),
      );
    } finally {
      await app.close();
    }
    const info = als('info', '--model', target);
    assert.match(info.stdout, /Imported Spark 3\.0\.0 ALSModel ALS_[0-9a-f]{12} from .*exported, 6 factors/);
  });

  it('replaces an earlier export and an empty directory, and refuses a symlink, a FIFO, a file and a foreign folder untouched', async () => {
    const again = als('export', '--format', 'spark', '--model', model, exported);
    assert.equal(again.status, 0, again.stderr);
    const empty = join(work, 'empty');
    mkdirSync(empty);
    assert.equal(als('export', '--format', 'spark', '--model', model, empty).status, 0);
    assert.ok(existsSync(join(empty, 'metadata', 'part-00000')));

    const foreign = join(work, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const link = join(work, 'link');
    const linkTarget = join(work, 'link-target');
    mkdirSync(linkTarget);
    symlinkSync(linkTarget, link);
    const fifo = join(work, 'fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const file = join(work, 'file');
    writeFileSync(file, 'a file');
    for (const [path, pattern] of [
      [foreign, /is not empty and not an earlier export of als/],
      [link, /is a symbolic link/],
      [fifo, /is a FIFO/],
      [file, /is a file/],
      [join(work, 'no', 'such', 'parent'), /parent directory does not exist/],
    ] as const) {
      const result = als('export', '--format', 'spark', '--model', model, path);
      assert.equal(result.status, 6, `${path}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, pattern);
    }
    // import writes through the model store, which refuses the same (a FIFO, a foreign folder) as train does
    for (const [path, pattern] of [
      [foreign, /not empty and not an als model/],
      [fifo, /exists and is not a directory/],
    ] as const) {
      const result = als('import', '--format', 'spark', exported, '--model', path);
      assert.equal(result.status, 4, `${path}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, pattern);
    }
    assert.deepEqual(readdirSync(foreign), ['notes.txt']);
    assert.deepEqual(readdirSync(linkTarget), []);
    assert.equal(readFileSync(file, 'utf8'), 'a file');
    // no temporary left beside them
    assert.deepEqual(
      readdirSync(work).filter((n) => n.endsWith('.tmp') || n.endsWith('.old')),
      [],
    );
    // the library says the same
    await assert.rejects(
      exportSparkModel(loadModel(model), foreign),
      (error: Error & { code?: string }) => error.code === 'output',
    );
  });

  it('export needs --format spark, and --help explains every option', () => {
    const missing = als('export', '--model', model, join(work, 'x'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /--format/);
    const help = als('import', '--help');
    for (const option of ['--format', '--ids', '--plays', '--plays-format', '--strict', '--json', '--model'])
      assert.match(help.stdout, new RegExp(option));
  });

  it('refuses a directory without metadata, with corrupt metadata, of another class or a bad rank', async () => {
    const noMetadata = copyOfExport();
    rmSync(join(noMetadata, 'metadata'), { recursive: true });
    refusedByCli(noMetadata, /metadata is missing: .* is not a Spark ALSModel directory/);

    const notJson = copyOfExport();
    writeFileSync(join(notJson, 'metadata', 'part-00000'), '{"class": "org.apache');
    await refusedImport(notJson, /metadata\/part-00000: is not JSON/);

    const otherClass = copyOfExport();
    const metadata = JSON.parse(readFileSync(join(otherClass, 'metadata', 'part-00000'), 'utf8'));
    writeFileSync(
      join(otherClass, 'metadata', 'part-00000'),
      JSON.stringify({ ...metadata, class: 'org.apache.spark.ml.feature.PCAModel' }),
    );
    await refusedImport(
      otherClass,
      /describes a "org.apache.spark.ml.feature.PCAModel", not a org.apache.spark.ml.recommendation.ALSModel/,
    );

    const badRank = copyOfExport();
    writeFileSync(join(badRank, 'metadata', 'part-00000'), JSON.stringify({ ...metadata, rank: 1e39 }));
    await refusedImport(badRank, /gives rank 1e39; als reads a rank from 1 to 1024/);

    // a rank that does not match the factors
    const mismatch = copyOfExport();
    writeFileSync(join(mismatch, 'metadata', 'part-00000'), JSON.stringify({ ...metadata, rank: 7 }));
    await refusedImport(
      mismatch,
      /userFactors\/part-00000\.snappy\.parquet: row 0 \(id 0\) has 6 features, but the model's rank is 7/,
    );
  });

  it('refuses missing and corrupt Parquet parts, naming the file', async () => {
    const noParts = copyOfExport();
    rmSync(onlyPart(noParts, 'itemFactors'));
    await refusedImport(noParts, /itemFactors: holds no part file/);

    const noTable = copyOfExport();
    rmSync(join(noTable, 'userFactors'), { recursive: true });
    await refusedImport(noTable, /userFactors: is missing/);

    const cut = copyOfExport();
    const part = onlyPart(cut, 'userFactors');
    truncateSync(part, 100);
    refusedByCli(cut, /userFactors\/part-00000\.snappy\.parquet: is not a readable Parquet file/);

    const garbage = copyOfExport();
    writeFileSync(onlyPart(garbage, 'itemIds'), 'PAR1 not really');
    await refusedImport(garbage, /itemIds\/part-00000\.snappy\.parquet: is not a readable Parquet file/);

    const linked = copyOfExport();
    const target = onlyPart(linked, 'userFactors');
    rmSync(target);
    symlinkSync(onlyPart(exported, 'userFactors'), target);
    await refusedImport(linked, /userFactors\/part-00000\.snappy\.parquet: is a symbolic link/);
  });

  it('refuses wrong column types, NaN and huge features, duplicate ids and duplicate names', async () => {
    const wrongId = copyOfExport();
    writeFileSync(
      onlyPart(wrongId, 'userFactors'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'id', data: ['a', 'b'], type: 'STRING' },
            {
              name: 'features',
              data: [
                [1, 2, 3, 4, 5, 6],
                [1, 2, 3, 4, 5, 6],
              ],
            },
          ],
        }),
      ),
    );
    await refusedImport(
      wrongId,
      /userFactors\/part-00000\.snappy\.parquet: column "id" is BYTE_ARRAY \(UTF8\), not int \(INT32\)/,
    );

    const noFeatures = copyOfExport();
    writeFileSync(
      onlyPart(noFeatures, 'itemFactors'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'id', data: Int32Array.from([0, 1]), type: 'INT32' },
            { name: 'vector', data: [1.5, 2.5], type: 'DOUBLE' },
          ],
        }),
      ),
    );
    await refusedImport(
      noFeatures,
      /itemFactors\/part-00000\.snappy\.parquet: has no column "features" \(expected array<float>/,
    );

    const doubles = copyOfExport();
    writeFileSync(
      onlyPart(doubles, 'itemFactors'),
      Buffer.from(
        parquetWriteBuffer({
          columnData: [
            { name: 'id', data: Int32Array.from([0]), type: 'INT32' },
            { name: 'features', data: [1.5], type: 'DOUBLE' },
          ],
        }),
      ),
    );
    await refusedImport(doubles, /column "features" is DOUBLE, not array<float>/);

    const original = loadModel(model);
    const nan = copyOfExport();
    const factors = original.userFactors.slice();
    factors[3 * 6 + 2] = NaN;
    writeFileSync(onlyPart(nan, 'userFactors'), factorTableBytes(factors, 80, 6));
    await refusedImport(
      nan,
      /userFactors\/part-00000\.snappy\.parquet: row 3 \(id 3\) holds a non-finite value \(NaN or ∞\) at feature 2/,
    );

    const huge = copyOfExport();
    const big = original.itemFactors.slice();
    big[5] = 3e38;
    writeFileSync(onlyPart(huge, 'itemFactors'), factorTableBytes(big, 40, 6));
    await refusedImport(
      huge,
      /itemFactors\/part-00000\.snappy\.parquet: row 0 \(id 0\) holds a value too large to score/,
    );

    // a second part file repeating the ids 0..9 of the first
    const repeated = copyOfExport();
    writeFileSync(
      join(repeated, 'itemFactors', 'part-00001.snappy.parquet'),
      factorTableBytes(original.itemFactors.subarray(0, 60), 10, 6),
    );
    refusedByCli(repeated, /itemFactors: id 0 appears twice/);

    const twiceNamed = copyOfExport();
    const names = original.userIds.slice();
    names[7] = names[2];
    writeFileSync(onlyPart(twiceNamed, 'userIds'), nameTableBytes(names));
    await refusedImport(twiceNamed, /userIds: "u2" at rows 2 and 7; every user id must be unique/);

    const tab = copyOfExport();
    const tabbed = original.itemNames.slice();
    tabbed[4] = 'a\tb';
    writeFileSync(onlyPart(tab, 'itemIds'), nameTableBytes(tabbed));
    await refusedImport(tab, /itemIds: "a\\tb" at row 4 holds a tab/);

    const unnamed = copyOfExport();
    writeFileSync(onlyPart(unnamed, 'userIds'), nameTableBytes(original.userIds.slice(0, 79)));
    await refusedImport(unnamed, /userIds: no name for id 79 of .*userFactors/);
  });

  it("without id tables, Spark's integer ids are the names; --ids names a directory of id tables", async () => {
    const bare = copyOfExport();
    const ids = join(work, 'ids-only');
    mkdirSync(ids);
    for (const table of ['userIds', 'itemIds']) {
      cpSync(join(bare, table), join(ids, table), { recursive: true });
      rmSync(join(bare, table), { recursive: true });
    }
    const { model: numbered, summary } = await importSparkModel(bare);
    assert.deepEqual(numbered.userIds.slice(0, 3), ['0', '1', '2']);
    assert.equal(summary.userNames, 'spark ids');
    const { model: named } = await importSparkModel(bare, { ids });
    assert.deepEqual(named.itemNames, loadModel(model).itemNames);
    refusedByCli(bare, /no-such-dir: the id tables' directory is missing/, 4, '--ids', join(work, 'no-such-dir'));
  });
});
