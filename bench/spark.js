// The Spark engine's row of npm run bench: one file trained by `als train --engine spark --master
// local[2]` and by the built-in engine in the same run, alternating, as whole CLI processes (wall
// time, Spark's start-up included: that is what a user waits for). Skipped, saying why, without
// spark-submit or Java.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Records the wall seconds of both engines on `file` (the median of `rounds` each, alternating)
 * and their ratio. `dist` resolves a path in dist/src.
 */
export async function benchSpark({ file, label, rounds, dataDir, als, dist, record, log }) {
  const { findJava, findSparkSubmit } = await import(dist('engines/spark/locate.js'));
  try {
    findSparkSubmit(undefined);
    findJava();
  } catch (error) {
    log(`spark: left out (${error.message}; pip install pyspark)`);
    return;
  }
  const model = join(dataDir, 'model-spark-bench');
  const train = (engine) => {
    const extra =
      engine === 'spark' ? ['--engine', 'spark', '--master', 'local[2]', '--spark-conf', 'spark.ui.enabled=false'] : [];
    const started = performance.now();
    const run = spawnSync(process.execPath, [als, 'train', file, '--model', model, '--json', '--quiet', ...extra], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    const wall = (performance.now() - started) / 1000;
    if (run.status !== 0) throw new Error(`als train --engine ${engine} failed: ${run.stderr}`);
    return { wall, summary: JSON.parse(run.stdout) };
  };
  const walls = { builtin: [], spark: [] };
  let sparkSummary = null;
  for (let round = 0; round < rounds; round++) {
    for (const engine of ['builtin', 'spark']) {
      const { wall, summary } = train(engine);
      walls[engine].push(wall);
      if (engine === 'spark') sparkSummary = summary;
      log(`spark: round ${round + 1}, ${engine}: ${wall.toFixed(1)} s`);
    }
  }
  rmSync(model, { recursive: true, force: true });
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const builtin = median(walls.builtin);
  const spark = median(walls.spark);
  record('spark', `als train ${label}, defaults, built-in engine: wall`, builtin, 's');
  record(
    'spark',
    `als train ${label}, defaults, --engine spark --master local[2] (Spark ${sparkSummary.spark.sparkVersion}): wall`,
    spark,
    's',
  );
  record('spark', "  of which the Spark job's read (by als's rules, in Python)", sparkSummary.seconds.read, 's');
  record('spark', 'Spark engine time / built-in engine time', spark / builtin, '×');
}
