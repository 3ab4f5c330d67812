import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadModel } from '../../src/model/load.js';
import { exportSparkModel } from '../../src/model/sparkFormat.js';
import { recommendForRow } from '../../src/query/recommend.js';
import { similarItems } from '../../src/query/similar.js';
import { ALS_BIN, ROOT, SAMPLE, tempDir } from '../helpers.js';

// issue 11 part B against a real Spark (pyspark from PyPI, on Java 17): a model als exported is
// loaded by Spark's ALSModel.load and recommends as als does; a model Spark saved is imported
// and its neighbours are the cosine neighbours of Spark's item factors. One Python process does
// all of Spark's side (test/spark/exchange.py): Spark takes 10–60 s to start.

const SCRIPT = join(ROOT, 'test', 'spark', 'exchange.py');
const HOW = 'install Java 17 and `pip install pyspark==4.3.0` to run them';

/** Why Spark cannot run here, or null when java and pyspark are both found. */
function sparkMissing(): string | null {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) return 'no java on PATH';
  const python = spawnSync('python3', ['-c', 'import pyspark'], { encoding: 'utf8' });
  if (python.error || python.status !== 0) return 'python3 cannot import pyspark';
  return null;
}

// with CI=true the tests run whatever is missing, and fail (issue 11: "fail, not skip")
const missing = process.env.CI === 'true' ? null : sparkMissing();
if (missing !== null)
  console.log(`# Spark exchange tests skipped: ${missing}; ${HOW} (CI=true makes them run and fail instead)`);

const work = tempDir('als-spark-exchange-');

function als(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8', env });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface SparkResult {
  sparkVersion: string;
  exportedRank: number;
  /** user id → Spark's top 10 [item name, score], through the exported id tables */
  recommend: Record<string, [string, number][]>;
  /** Spark user id → top 10 [Spark item id, score] of the export in parts of 40 rows */
  recommendParts: Record<string, [number, number][]>;
  savedRank: number;
  /** Spark item id → features of the model Spark saved */
  itemFactors: Record<string, number[]>;
  userCount: number;
  /** the (user id, item id, count) rows it was trained on */
  plays: [number, number, number][];
  /** seconds of each phase of the script: start, exported, trained, ids */
  seconds: Record<string, number>;
}

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    dot += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  return dot / Math.sqrt(na * nb);
}

describe(
  'als export/import --format spark against a real Spark',
  { skip: missing === null ? false : `${missing}; ${HOW}` },
  () => {
    const model = join(work, 'model');
    const exported = join(work, 'exported');
    const exportedParts = join(work, 'exported-in-parts');
    const saved = join(work, 'saved-by-spark');
    const ids = join(work, 'ids-by-spark');
    let spark: SparkResult;

    before(async () => {
      // a slice of the sample (its first 100 users), trained as usual
      const lines = readFileSync(SAMPLE, 'utf8').split('\n');
      const users = new Set<string>();
      const slice = lines.filter((line) => {
        const user = line.split('\t')[0];
        if (line === '' || (users.size >= 100 && !users.has(user))) return false;
        users.add(user);
        return true;
      });
      const input = join(work, 'slice.tsv');
      writeFileSync(input, `${slice.join('\n')}\n`);
      const trained = als('train', input, '--model', model, '--factors', '12', '--iterations', '6', '--quiet');
      assert.equal(trained.status, 0, trained.stderr);
      const written = als('export', '--format', 'spark', '--model', model, exported);
      assert.equal(written.status, 0, written.stderr);

      await exportSparkModel(loadModel(model), exportedParts, { partRows: 40 });
      const run = spawnSync('python3', [SCRIPT, JSON.stringify({ exported, exportedParts, saved, ids })], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      const line = run.stdout?.split('\n').find((l) => l.startsWith('ALS-RESULT '));
      if (run.status !== 0 || line === undefined) {
        const log = join(work, 'spark.log');
        writeFileSync(log, `${run.error ?? ''}\n${run.stdout}\n${run.stderr}`);
        assert.fail(
          `Spark did not run (exit ${run.status}; ${run.error?.message ?? 'see the log'}): its output is in ${log}`,
        );
      }
      spark = JSON.parse(line.slice('ALS-RESULT '.length));
      const phases = Object.entries(spark.seconds).map(([phase, s]) => `${phase} ${s.toFixed(1)} s`);
      console.log(`# Spark ${spark.sparkVersion}: ${phases.join(', ')}`);
    });

    it('Spark loads the exported model and gives every user the top 10 of als recommend before filtering, scores within 1e-4', () => {
      const m = loadModel(model);
      assert.equal(spark.exportedRank, 12);
      assert.equal(Object.keys(spark.recommend).length, m.users);
      let compared = 0;
      let worst = 0;
      for (let u = 0; u < m.users; u++) {
        const ours = recommendForRow(m, u, { count: 10, includePlayed: true });
        const theirs = spark.recommend[m.userIds[u]];
        assert.equal(theirs.length, 10, m.userIds[u]);
        for (let k = 0; k < 10; k++) {
          worst = Math.max(worst, Math.abs(ours[k].raw - theirs[k][1]));
          assert.ok(
            Math.abs(ours[k].raw - theirs[k][1]) <= 1e-4,
            `${m.userIds[u]} #${k + 1}: als ${ours[k].raw}, Spark ${theirs[k][1]}`,
          );
          // the same item, unless two items tie within float rounding and swap places
          const tie =
            (k > 0 && Math.abs(ours[k].raw - ours[k - 1].raw) < 1e-5) ||
            (k < 9 && Math.abs(ours[k].raw - ours[k + 1].raw) < 1e-5);
          if (!tie) assert.equal(theirs[k][0], ours[k].name, `${m.userIds[u]} #${k + 1}`);
          compared++;
        }
      }
      assert.equal(compared, m.users * 10);
      // the export in part files of 40 rows (3 user parts, dozens of item parts) reads the same
      assert.equal(Object.keys(spark.recommendParts).length, m.users);
      for (let u = 0; u < m.users; u++) {
        assert.deepEqual(
          spark.recommendParts[u].map(([i, score]) => [m.itemNames[i], score]),
          spark.recommend[m.userIds[u]],
          m.userIds[u],
        );
      }
      console.log(
        `# ${compared} recommendations of ${m.users} users compared with Spark ${spark.sparkVersion}: largest score difference ${worst.toExponential(2)}`,
      );
    });

    it("a model Spark saved, imported, gives the cosine neighbours of Spark's item factors (integer ids as names)", () => {
      const target = join(work, 'imported');
      const result = als('import', '--format', 'spark', saved, '--model', target, '--json');
      assert.equal(result.status, 0, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.deepEqual(
        [summary.users, summary.items, summary.factors],
        [spark.userCount, Object.keys(spark.itemFactors).length, spark.savedRank],
      );
      assert.equal(summary.imported.userNames, 'spark ids');
      const m = loadModel(target);
      const ids = Object.keys(spark.itemFactors);
      for (const query of ['500', '501', '502', '530']) {
        const expected = ids
          .filter((id) => id !== query)
          .map((id) => ({ id, score: cosine(spark.itemFactors[query], spark.itemFactors[id]) }))
          .sort((a, b) => b.score - a.score)
          .slice(0, 8);
        const cli = als('similar', query, '--model', target, '--json', '-n', '8');
        assert.equal(cli.status, 0, cli.stderr);
        assert.deepEqual(
          JSON.parse(cli.stdout).similar.map((s: { item: string }) => s.item),
          expected.map((e) => e.id),
          query,
        );
        const ours = similarItems(m, query, { count: 8 }).similar;
        ours.forEach((s, k) =>
          assert.ok(
            Math.abs(s.raw - expected[k].score) < 1e-5,
            `${query} → ${s.name}: als ${s.raw}, cosine ${expected[k].score}`,
          ),
        );
        // the planted groups: an item's neighbours are its own group (item ids ≡ query mod 3)
        assert.ok(
          expected.slice(0, 5).every((e) => (Number(e.id) - Number(query)) % 3 === 0),
          `${query}: ${expected.map((e) => e.id)}`,
        );
      }
    });

    it('imported with the id tables Spark wrote (--ids) and the training rows (--plays): names, played items left out', () => {
      const plays = join(work, 'spark-plays.tsv');
      writeFileSync(
        plays,
        spark.plays.map(([u, i, c]) => `listener-${u - 1000}\tartist ${i - 500}\t${c}`).join('\n') + '\n',
      );
      const target = join(work, 'imported-named');
      const result = als(
        'import',
        '--format',
        'spark',
        saved,
        '--ids',
        ids,
        '--plays',
        plays,
        '--plays-format',
        'triples',
        '--model',
        target,
        '--json',
      );
      assert.equal(result.status, 0, result.stderr);
      const summary = JSON.parse(result.stdout);
      assert.equal(summary.interactions, spark.plays.length);
      const recommended = als('recommend', '--user', 'listener-0', '--model', target, '--json', '-n', '45');
      assert.equal(recommended.status, 0, recommended.stderr);
      const played = new Set(spark.plays.filter(([u]) => u === 1000).map(([, i]) => `artist ${i - 500}`));
      const items: string[] = JSON.parse(recommended.stdout).recommendations.map((r: { item: string }) => r.item);
      assert.equal(items.length, 45 - played.size);
      assert.ok(items.every((item) => item.startsWith('artist ') && !played.has(item)));
      const similar = als('similar', 'artist 0', '--model', target, '--json', '-n', '5');
      assert.equal(similar.status, 0, similar.stderr);
      const neighbours: string[] = JSON.parse(similar.stdout).similar.map((s: { item: string }) => s.item);
      assert.equal(neighbours.length, 5);
      assert.ok(
        neighbours.every((name) => Number(name.slice('artist '.length)) % 3 === 0),
        neighbours.join(', '),
      );
    });
  },
);
