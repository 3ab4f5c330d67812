import { Option, type Command } from 'commander';
import { AlsError } from '../errors.js';
import { evaluate, DEFAULT_EVAL_K, type Evaluation } from '../eval/evaluate.js';
import { summarizeMetrics, type Metrics } from '../eval/metrics.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION } from '../eval/split.js';
import { writeSplit, type WrittenSplit } from '../eval/writeSplit.js';
import { decimal, seedList, wholeNumber } from './parse.js';
import { formatCount, formatSeconds, makeOutput, padEnd, plural, printJson, shown, type Output } from './output.js';
import { outputDescriptor } from './outputTarget.js';
import { startProgress } from './progress.js';
import { readInput } from './train.js';
import { addEngineOptions, sparkOptionsFrom, withSparkHint, type EngineCliOptions } from './engineOptions.js';
import { evaluateWithEngine } from '../eval/evaluateWithEngine.js';
import { sparkEngine } from '../engines/spark/sparkEngine.js';
import { addTrainOptions, trainOptionsForData, trainOptionsFrom, type TrainCliOptions } from './trainOptions.js';

interface EvaluateCliOptions extends TrainCliOptions, EngineCliOptions {
  seeds?: number[];
  testFraction: number;
  k: number;
  writeSplit?: string;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
}

export function registerEvaluate(program: Command): void {
  const command = program
    .command('evaluate')
    .summary('measure recommendation quality on held-out plays')
    .description(
      "Hold out part of every user's items (users with at least 5), train ALS on the rest, " +
        'recommend k new items for each such user and score the lists against the held-out items; ' +
        'the popularity baseline (items ranked by how many users played them) is scored the same way.',
    )
    .argument('<file>', 'interactions file (.gz is read transparently)')
    .option('--test-fraction <x>', "share of each user's items held out, 0 < x < 1", decimal, DEFAULT_TEST_FRACTION)
    .option('-k, --k <n>', 'length of each recommendation list', wholeNumber, DEFAULT_EVAL_K)
    .option(
      '--write-split <dir>',
      'also write the split to DIR/train.tsv and DIR/test.tsv ("user <tab> item <tab> count", read back with --format triples)',
    );
  addEngineOptions(
    addTrainOptions(command, `seed of the split and of the random initial factors (default: ${DEFAULT_SPLIT_SEED})`),
  )
    .option(
      '--seeds <list>',
      "evaluate on several splits, one per seed (each also seeds the initial factors), e.g. 1,2,3, and print each metric's mean ± sample standard deviation over them",
      seedList,
    )
    .option('--json', 'print the metrics as JSON')
    .option('-q, --quiet', 'no progress bars, no colour')
    .addHelpText(
      'after',
      "\nWith --engine spark, the split is made here and its train part written to a private temporary file that Spark reads\n(so the master must see this machine's files: local[N], or a cluster sharing them); the factors are scored here.",
    )
    .addOption(new Option('--debug', 'show the stack trace of an error'))
    .addHelpText(
      'after',
      '\nExamples:\n  als evaluate data/lastfm-2k.tsv\n  als evaluate data/lastfm-2k.tsv -k 20 --factors 32 --json\n  als evaluate data/lastfm-2k.tsv --seeds 1,2,3\n  als evaluate data/lastfm-2k.tsv --write-split split',
    )
    .action(runEvaluate);
}

async function runEvaluate(file: string, cli: EvaluateCliOptions): Promise<void> {
  const out = makeOutput(cli);
  if (!(cli.testFraction > 0 && cli.testFraction < 1))
    throw new AlsError('usage', `--test-fraction must be between 0 and 1 (exclusive), not ${cli.testFraction}`);
  if (!(cli.k >= 1)) throw new AlsError('usage', `-k must be at least 1, not ${cli.k}`);
  if (cli.writeSplit !== undefined) checkSplitDirectory(cli.writeSplit);
  if (cli.seeds !== undefined) {
    if (cli.seed !== undefined)
      throw new AlsError(
        'usage',
        `--seed ${cli.seed} and --seeds ${cli.seeds.join(',')} both choose the split: give one of them`,
      );
    if (cli.writeSplit !== undefined)
      throw new AlsError('usage', '--write-split writes one split: give --seed, not --seeds');
    return runSeeds(file, cli, cli.seeds, out);
  }
  const seed = cli.seed ?? DEFAULT_SPLIT_SEED;
  const sparkOptions = sparkOptionsFrom(cli);
  trainOptionsFrom({ ...cli, seed }); // every option checked before the file is read
  const data = await readInput(out, file, cli);
  // the settings not given come from the data's defaults rule, as in als train
  const chosen = trainOptionsForData({ ...cli, seed }, data);
  const trainOptions = chosen.options;
  // the same split as the evaluation below (same matrix, fraction and seed), written before the
  // training so that a directory that cannot be written is found out at once
  const written =
    cli.writeSplit === undefined
      ? null
      : await writeSplit(data, cli.writeSplit, { testFraction: cli.testFraction, seed });
  if (written && written.carriageReturns > 0) {
    out.warn(
      `${plural(written.carriageReturns, 'user id or item name', 'user ids or item names')} in the split ${written.carriageReturns === 1 ? 'holds' : 'hold'} a carriage return; als reads it back exactly, other tools may take it for a line break`,
    );
  }

  const trainBar = startProgress(
    out.interactive,
    'Training |{bar}| iteration {iteration}/{iterations} | ETA {eta_formatted}',
    1,
    {
      iteration: 0,
      iterations: trainOptions.iterations,
    },
  );
  let scoreBar: ReturnType<typeof startProgress> | null = null;
  const evaluation = sparkOptions
    ? evaluateWithEngine(data, sparkEngine(sparkOptions), {
        trainOptions,
        k: cli.k,
        testFraction: cli.testFraction,
        seed,
      }).catch((error: unknown) => {
        throw withSparkHint(error);
      })
    : null;
  const result = await (
    evaluation ??
    evaluate(
      data,
      { trainOptions, k: cli.k, testFraction: cli.testFraction, seed },
      {
        onProgress: (done, total, iteration) => trainBar.update(done / total, { iteration }),
        onUsers: (done, total) => {
          if (scoreBar === null) {
            trainBar.stop();
            scoreBar = startProgress(
              out.interactive,
              'Scoring  |{bar}| {value}/{total} users | ETA {eta_formatted}',
              total,
            );
          }
          scoreBar.update(done);
        },
      },
    )
  ).finally(() => {
    trainBar.stop();
    (scoreBar as ReturnType<typeof startProgress> | null)?.stop();
  });

  if (cli.json) {
    printJson({
      file: data.stats.file,
      k: cli.k,
      testFraction: cli.testFraction,
      seed,
      users: result.users,
      trainInteractions: result.trainInteractions,
      testInteractions: result.testInteractions,
      options: result.options,
      defaults: chosen.defaults,
      trainSeconds: result.trainSeconds,
      model: result.model,
      popularity: result.popularity,
      ...(written ? { split: { train: written.train, test: written.test } } : {}),
    });
    return;
  }
  printTable(out, cli, result);
  out.line(out.color.dim(`Rule: ${chosen.said}`));
  if (written) printWritten(out, written);
}

/** `--seeds`: one evaluation per seed (split and initial factors), then each metric's mean ± sample standard deviation. */
async function runSeeds(file: string, cli: EvaluateCliOptions, seeds: number[], out: Output): Promise<void> {
  trainOptionsFrom({ ...cli, seed: seeds[0] });
  const data = await readInput(out, file, cli);
  const chosen = trainOptionsForData({ ...cli, seed: seeds[0] }, data);
  const trainOptions = chosen.options;
  const runs: (Evaluation & { seed: number })[] = [];
  for (const [n, seed] of seeds.entries()) {
    const bar = startProgress(
      out.interactive,
      `Split ${n + 1}/${seeds.length} (seed ${seed}) |{bar}| iteration {iteration}/{iterations} | ETA {eta_formatted}`,
      1,
      {
        iteration: 0,
        iterations: trainOptions.iterations,
      },
    );
    const result = await evaluate(
      data,
      { trainOptions: { ...trainOptions, seed }, k: cli.k, testFraction: cli.testFraction, seed },
      { onProgress: (done, total, iteration) => bar.update(done / total, { iteration }) },
    ).finally(() => bar.stop());
    runs.push({ ...result, seed });
  }
  const model = summarizeMetrics(runs.map((run) => run.model));
  const popularity = summarizeMetrics(runs.map((run) => run.popularity));
  if (cli.json) {
    printJson({
      file: data.stats.file,
      k: cli.k,
      testFraction: cli.testFraction,
      seeds,
      options: { ...trainOptions, seed: undefined },
      defaults: chosen.defaults,
      spread: 'sample standard deviation (n − 1) over the splits',
      model,
      popularity,
      runs: runs.map((run) => ({
        seed: run.seed,
        users: run.users,
        trainInteractions: run.trainInteractions,
        testInteractions: run.testInteractions,
        trainSeconds: run.trainSeconds,
        model: run.model,
        popularity: run.popularity,
      })),
    });
    return;
  }
  const c = out.color;
  const k = cli.k;
  out.line(
    `Held out about ${formatCount(Math.round(runs.reduce((sum, run) => sum + run.testInteractions, 0) / runs.length))} interactions of ` +
      `${plural(Math.round(model.mean.users), 'user')} per split ` +
      c.dim(`(test fraction ${cli.testFraction}, ${plural(seeds.length, 'split')}: seeds ${seeds.join(', ')})`),
  );
  const headers = ['', `precision@${k}`, `recall@${k}`, `MAP@${k}`, `NDCG@${k}`, 'AUC', 'coverage'];
  const fields = ['precision', 'recall', 'map', 'ndcg', 'auc', 'coverage'] as const;
  const rows = [
    ...runs.map((run) => [`als, seed ${run.seed}`, ...fields.map((m) => fixed(run.model[m]))]),
    ['als', ...fields.map((m) => `${fixed(model.mean[m])} ± ${fixed(model.std[m])}`)],
    ['popularity', ...fields.map((m) => `${fixed(popularity.mean[m])} ± ${fixed(popularity.std[m])}`)],
  ];
  const widths = headers.map((h, col) => Math.max([...h].length, ...rows.map((r) => [...r[col]].length)));
  const format = (cells: string[]) =>
    cells.map((cell, col) => (col === 0 ? padEnd(cell, widths[col]) : cell.padStart(widths[col]))).join('  ');
  out.line(c.bold(format(headers)));
  for (const r of rows) out.line(format(r));
  out.line(c.dim(`mean ± sample standard deviation over the ${seeds.length} splits`));
  out.line(c.dim(`Rule: ${chosen.said}`));
}

/** `--write-split` writes two files into a directory: standard output or another descriptor cannot hold them. */
function checkSplitDirectory(dir: string): void {
  const fd = outputDescriptor(dir);
  if (fd === null) return;
  const what =
    dir === '-'
      ? '"-" is standard output (a directory named "-" can be given as ./-)'
      : `${dir} names open descriptor ${fd}`;
  throw new AlsError('usage', `--write-split needs a directory to write train.tsv and test.tsv into; ${what}`);
}

function printWritten(out: Output, written: WrittenSplit): void {
  out.line(
    `Wrote the split: ${shown(written.train)} ${out.color.dim(`(${plural(written.trainInteractions, 'interaction')})`)}, ` +
      `${shown(written.test)} ${out.color.dim(`(${plural(written.testInteractions, 'interaction')} of ${plural(written.testUsers, 'user')})`)}`,
  );
}

function printTable(out: Output, cli: EvaluateCliOptions, result: Evaluation): void {
  const c = out.color;
  const k = cli.k;
  out.line(
    `Held out ${plural(result.testInteractions, 'interaction')} of ${plural(result.users, 'user')} ` +
      c.dim(
        `(test fraction ${cli.testFraction}, seed ${cli.seed ?? DEFAULT_SPLIT_SEED}; ${formatCount(result.trainInteractions)} left to train on)`,
      ),
  );
  const headers = ['', `precision@${k}`, `recall@${k}`, `MAP@${k}`, `NDCG@${k}`, 'AUC', 'coverage', 'train'];
  const row = (name: string, m: Metrics, seconds: string) => [
    name,
    fixed(m.precision),
    fixed(m.recall),
    fixed(m.map),
    fixed(m.ndcg),
    fixed(m.auc),
    fixed(m.coverage),
    seconds,
  ];
  const rows = [
    row('als', result.model, formatSeconds(result.trainSeconds)),
    row('popularity', result.popularity, '-'),
  ];
  const widths = headers.map((h, col) => Math.max([...h].length, ...rows.map((r) => [...r[col]].length)));
  const format = (cells: string[]) =>
    cells.map((cell, col) => (col === 0 ? padEnd(cell, widths[col]) : cell.padStart(widths[col]))).join('  ');
  out.line(c.bold(format(headers)));
  for (const r of rows) out.line(format(r));
}

function fixed(value: number): string {
  return Number.isNaN(value) ? '-' : value.toFixed(4);
}
