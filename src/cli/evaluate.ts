import { Option, type Command } from 'commander';
import { AlsError } from '../errors.js';
import { evaluate, DEFAULT_EVAL_K, type Evaluation } from '../eval/evaluate.js';
import type { Metrics } from '../eval/metrics.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION } from '../eval/split.js';
import { writeSplit, type WrittenSplit } from '../eval/writeSplit.js';
import { decimal, wholeNumber } from './parse.js';
import { formatCount, formatSeconds, makeOutput, padEnd, plural, printJson, shown, type Output } from './output.js';
import { outputDescriptor } from './outputTarget.js';
import { startProgress } from './progress.js';
import { readInput } from './train.js';
import { addEngineOptions, sparkOptionsFrom, withSparkHint, type EngineCliOptions } from './engineOptions.js';
import { evaluateWithEngine } from '../eval/evaluateWithEngine.js';
import { sparkEngine } from '../engines/spark/sparkEngine.js';
import { addTrainOptions, trainOptionsFrom, type TrainCliOptions } from './trainOptions.js';

interface EvaluateCliOptions extends TrainCliOptions, EngineCliOptions {
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
      'Hold out part of every user\'s items (users with at least 5), train ALS on the rest, ' +
        'recommend k new items for each such user and score the lists against the held-out items; ' +
        'the popularity baseline (items ranked by how many users played them) is scored the same way.',
    )
    .argument('<file>', 'interactions file (.gz is read transparently)')
    .option('--test-fraction <x>', 'share of each user\'s items held out, 0 < x < 1', decimal, DEFAULT_TEST_FRACTION)
    .option('-k, --k <n>', 'length of each recommendation list', wholeNumber, DEFAULT_EVAL_K)
    .option('--write-split <dir>', 'also write the split to DIR/train.tsv and DIR/test.tsv ("user <tab> item <tab> count", read back with --format triples)');
  addEngineOptions(addTrainOptions(command, `seed of the split and of the random initial factors (default: ${DEFAULT_SPLIT_SEED})`))
    .option('--json', 'print the metrics as JSON')
    .option('-q, --quiet', 'no progress bars, no colour')
    .addHelpText('after', '\nWith --engine spark, the split is made here and its train part written to a private temporary file that Spark reads\n(so the master must see this machine\'s files: local[N], or a cluster sharing them); the factors are scored here.')
    .addOption(new Option('--debug', 'show the stack trace of an error'))
    .addHelpText('after', '\nExamples:\n  als evaluate data/lastfm-2k.tsv\n  als evaluate data/lastfm-2k.tsv -k 20 --factors 32 --json\n  als evaluate data/lastfm-2k.tsv --write-split split')
    .action(runEvaluate);
}

async function runEvaluate(file: string, cli: EvaluateCliOptions): Promise<void> {
  const out = makeOutput(cli);
  if (!(cli.testFraction > 0 && cli.testFraction < 1)) throw new AlsError('usage', `--test-fraction must be between 0 and 1 (exclusive), not ${cli.testFraction}`);
  if (!(cli.k >= 1)) throw new AlsError('usage', `-k must be at least 1, not ${cli.k}`);
  if (cli.writeSplit !== undefined) checkSplitDirectory(cli.writeSplit);
  const seed = cli.seed ?? DEFAULT_SPLIT_SEED;
  const sparkOptions = sparkOptionsFrom(cli);
  const trainOptions = trainOptionsFrom({ ...cli, seed });
  const data = await readInput(out, file, cli);
  // the same split as the evaluation below (same matrix, fraction and seed), written before the
  // training so that a directory that cannot be written is found out at once
  const written = cli.writeSplit === undefined ? null : await writeSplit(data, cli.writeSplit, { testFraction: cli.testFraction, seed });
  if (written && written.carriageReturns > 0) {
    out.warn(`${plural(written.carriageReturns, 'user id or item name', 'user ids or item names')} in the split ${written.carriageReturns === 1 ? 'holds' : 'hold'} a carriage return; als reads it back exactly, other tools may take it for a line break`);
  }

  const trainBar = startProgress(out.interactive, 'Training |{bar}| iteration {iteration}/{iterations} | ETA {eta_formatted}', 1, {
    iteration: 0,
    iterations: trainOptions.iterations,
  });
  let scoreBar: ReturnType<typeof startProgress> | null = null;
  const evaluation = sparkOptions
    ? evaluateWithEngine(data, sparkEngine(sparkOptions), { trainOptions, k: cli.k, testFraction: cli.testFraction, seed }).catch((error: unknown) => {
        throw withSparkHint(error);
      })
    : null;
  const result = await (evaluation ?? evaluate(
    data,
    { trainOptions, k: cli.k, testFraction: cli.testFraction, seed },
    {
      onProgress: (done, total, iteration) => trainBar.update(done / total, { iteration }),
      onUsers: (done, total) => {
        if (scoreBar === null) {
          trainBar.stop();
          scoreBar = startProgress(out.interactive, 'Scoring  |{bar}| {value}/{total} users | ETA {eta_formatted}', total);
        }
        scoreBar.update(done);
      },
    },
  )).finally(() => {
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
      trainSeconds: result.trainSeconds,
      model: result.model,
      popularity: result.popularity,
      ...(written ? { split: { train: written.train, test: written.test } } : {}),
    });
    return;
  }
  printTable(out, cli, result);
  if (written) printWritten(out, written);
}

/** `--write-split` writes two files into a directory: standard output or another descriptor cannot hold them. */
function checkSplitDirectory(dir: string): void {
  const fd = outputDescriptor(dir);
  if (fd === null) return;
  const what = dir === '-' ? '"-" is standard output (a directory named "-" can be given as ./-)' : `${dir} names open descriptor ${fd}`;
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
      c.dim(`(test fraction ${cli.testFraction}, seed ${cli.seed ?? DEFAULT_SPLIT_SEED}; ${formatCount(result.trainInteractions)} left to train on)`),
  );
  const headers = ['', `precision@${k}`, `recall@${k}`, `MAP@${k}`, `NDCG@${k}`, 'AUC', 'coverage', 'train'];
  const row = (name: string, m: Metrics, seconds: string) => [name, fixed(m.precision), fixed(m.recall), fixed(m.map), fixed(m.ndcg), fixed(m.auc), fixed(m.coverage), seconds];
  const rows = [row('als', result.model, formatSeconds(result.trainSeconds)), row('popularity', result.popularity, '-')];
  const widths = headers.map((h, col) => Math.max([...h].length, ...rows.map((r) => [...r[col]].length)));
  const format = (cells: string[]) => cells.map((cell, col) => (col === 0 ? padEnd(cell, widths[col]) : cell.padStart(widths[col]))).join('  ');
  out.line(c.bold(format(headers)));
  for (const r of rows) out.line(format(r));
}

function fixed(value: number): string {
  return Number.isNaN(value) ? '-' : value.toFixed(4);
}
