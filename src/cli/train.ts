import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { collectGarbage } from './collectGarbage.js';
import { peakRssBytes } from './peakMemory.js';
import { singularSystems } from '../als/options.js';
import { trainOnRead, type IterationReport } from '../als/train.js';
import { AlsError } from '../errors.js';
import { readInteractions, type Interactions } from '../data/read.js';
import { describeHolder, type LockHolder } from '../model/lock.js';
import { saveModel, type SavedModel } from '../model/save.js';
import { inspectTarget } from '../model/store.js';
import { addCommonOptions, type CommonOptions } from './parse.js';
import {
  addTrainOptions,
  describeLambda,
  trainOptionsForData,
  trainOptionsFrom,
  type TrainCliOptions,
} from './trainOptions.js';
import {
  formatBytes,
  formatCount,
  formatSeconds,
  makeOutput,
  plural,
  printJson,
  shown,
  type Output,
} from './output.js';
import { startProgress, type Progress } from './progress.js';
import { addEngineOptions, sparkOptionsFrom, withSparkHint, type EngineCliOptions } from './engineOptions.js';
import { trainWithSpark, type SparkOptions } from '../engines/spark/sparkEngine.js';
import type { EngineResult } from '../engines/engine.js';
import type { TrainOptions } from '../als/options.js';

interface TrainCommandOptions extends CommonOptions, TrainCliOptions, EngineCliOptions {
  loss?: boolean;
  json?: boolean;
}

export function registerTrain(program: Command): void {
  const command = program
    .command('train')
    .summary('train a model on a file of play counts')
    .description(
      'Read a file of (user, item, count) rows, weight the counts into confidences, run ALS and ' +
        'write the model directory that `als similar` and `als recommend` read.',
    )
    .argument('<file>', 'interactions file (.gz is read transparently)')
    .addHelpText(
      'after',
      '\nExamples:\n  als train data/lastfm-2k.tsv\n  als train data/lastfm-2k.tsv --solver naive --loss --model naive-model',
    );
  addTrainOptions(command)
    .option('--loss', 'compute and show the loss after every iteration')
    .option('--json', 'print the summary as JSON');
  addEngineOptions(command);
  addCommonOptions(command)
    .addHelpText(
      'after',
      '\nExamples:\n  als train data/lastfm-2k.tsv\n  als train data/lastfm-2k.tsv --engine spark --master local[2]\n  als train hdfs:///data/plays.tsv.gz --engine spark --master spark://head:7077 --spark-conf spark.executor.memory=8g',
    )
    .action(runTrain);
}

async function runTrain(file: string, cli: TrainCommandOptions): Promise<void> {
  const out = makeOutput(cli);
  // every option is checked before the file is touched
  const sparkOptions = sparkOptionsFrom(cli);
  let options = trainOptionsFrom(cli, { computeLoss: Boolean(cli.loss) });
  // a model directory that cannot take the model is refused before the reading and training
  inspectTarget(cli.model);
  if (sparkOptions) return runSparkTrain(out, file, cli, options, sparkOptions);

  const data = await readInput(out, file, cli);
  // the reader's temporary arrays go before training allocates its memory (a lower peak)
  collectGarbage();
  // the settings not given come from the data's defaults rule (checked above with the plain defaults)
  const chosen = trainOptionsForData(cli, data, { computeLoss: Boolean(cli.loss) });
  options = chosen.options;
  // the library refuses it too, in its own words; here it names the flags
  const singular = singularSystems(data.userItems.rows, data.userItems.cols, options, {
    factors: '--factors',
    lambda: '--lambda',
    solver: '--solver',
  });
  if (singular !== null) throw new AlsError('usage', singular);

  const trainBar = startProgress(
    out.interactive,
    'Training |{bar}| iteration {iteration}/{iterations} | ETA {eta_formatted}{loss}',
    1,
    {
      iteration: 0,
      iterations: options.iterations,
      loss: '',
    },
  );
  let lastLoss = '';
  // the factors are saved from the kernels' memory, not copied out of it first (a lower peak)
  const model = await trainOnRead(
    data,
    options,
    {
      onProgress: (done, total, iteration) => trainBar.update(done / total, { iteration, loss: lastLoss }),
      onIteration: (report: IterationReport) => {
        if (report.loss !== undefined) lastLoss = ` | loss ${report.loss.toPrecision(6)}`;
      },
    },
    { factorsInPlace: true },
  )
    .then((trained) => ({ ...trained, defaults: chosen.defaults }))
    .finally(() => trainBar.stop());
  // training's garbage goes before saving adds its own buffers
  collectGarbage();

  const saveStarted = performance.now();
  // what timings.json records; the save itself is timed for the summary only
  const saved = await saveModel(
    model,
    cli.model,
    { read: data.stats.seconds, train: model.seconds },
    { onLockWait: lockWaitNotice(out, cli.model) },
  );
  droppedIndexNotice(out, saved, cli.model);
  const timings = { read: data.stats.seconds, train: model.seconds, save: (performance.now() - saveStarted) / 1000 };
  printSummary(out, cli, data, model, timings, saved.bytes, chosen.said);
}

/** What the Spark engine's stages are called on the progress line. */
const SPARK_STAGES: Record<string, string> = {
  start: 'starting Spark',
  read: 'reading the input',
  train: 'training',
  collect: 'collecting the factors',
  done: 'stopping Spark',
};

/** `als train --engine spark`: the job reads and trains on Spark; the model is saved here. */
async function runSparkTrain(
  out: Output,
  file: string,
  cli: TrainCommandOptions,
  options: TrainOptions,
  sparkOptions: SparkOptions,
): Promise<void> {
  const bar = startProgress(out.interactive, 'Spark    | {stage} | {seconds} s', 1, {
    stage: SPARK_STAGES.start,
    seconds: '0',
  });
  const started = performance.now();
  let stage = SPARK_STAGES.start;
  const ticker = setInterval(
    () => bar.update(0, { stage, seconds: ((performance.now() - started) / 1000).toFixed(0) }),
    1000,
  );
  let result: EngineResult;
  try {
    result = await trainWithSpark({ file, format: cli.format, strict: cli.strict }, options, sparkOptions, {
      onStage: (name) => {
        stage = SPARK_STAGES[name] ?? name;
        bar.update(0, { stage, seconds: ((performance.now() - started) / 1000).toFixed(0) });
      },
    });
  } catch (error) {
    throw withSparkHint(error);
  } finally {
    clearInterval(ticker);
    bar.stop();
  }
  const { model, stats } = result;
  if (stats.skipped > 0) {
    const examples = stats.skippedExamples.map((s) => `line ${s.line}: ${s.reason}`).join('; ');
    out.warn(
      `${stats.file}: skipped ${plural(stats.skipped, 'malformed row')} (${examples}${stats.skipped > stats.skippedExamples.length ? '; …' : ''}); --strict makes them an error`,
    );
  }
  const saveStarted = performance.now();
  const saved = await saveModel(
    model,
    cli.model,
    { read: result.seconds.read, train: result.seconds.train },
    { onLockWait: lockWaitNotice(out, cli.model) },
  );
  droppedIndexNotice(out, saved, cli.model);
  const save = (performance.now() - saveStarted) / 1000;
  const interactions = model.userItems.indptr[model.users];
  const by = model.trainedBy as unknown as { master: string; sparkVersion: string; settings: { regParam: number } };
  if (cli.json) {
    printJson({
      model: cli.model,
      engine: 'spark',
      users: model.users,
      items: model.items,
      interactions,
      read: { ...stats },
      options: model.options,
      spark: model.trainedBy,
      seconds: { ...result.seconds, save },
    });
    return;
  }
  if (out.quiet) return;
  const c = out.color;
  const o = model.options;
  const label = (text: string) => c.bold(text.padEnd(9));
  out.line(readLine(label, stats, c.dim('(by Spark)')));
  out.line(matrixLine(label, model, interactions, c));
  out.line(
    `${label('Trained')}Spark ${by.sparkVersion} on ${by.master}, ${plural(o.factors, 'factor')}, ${plural(o.iterations, 'iteration')}, ${o.weighting} α=${o.alpha} ` +
      `λ=${o.regularization} (Spark regParam ${Number(by.settings.regParam.toPrecision(4))}) ${c.dim(`(${formatSeconds(result.seconds.total)} with Spark's start-up)`)}`,
  );
  out.line(`${label('Saved')}${shown(cli.model)} ${c.dim(`(${formatBytes(saved.bytes)}, ${formatSeconds(save)})`)}`);
}

/** Reads the interactions file with a progress bar and warns about skipped rows. */
export async function readInput(
  out: Output,
  file: string,
  cli: Pick<TrainCliOptions, 'format' | 'strict'> & { threads?: number },
): Promise<Interactions> {
  let readBar: Progress | null = null;
  const readStarted = performance.now();
  const data = await readInteractions(file, {
    format: cli.format,
    strict: cli.strict,
    // like training's, capped at the CPU count
    threads: cli.threads === undefined ? undefined : Math.min(cli.threads, availableParallelism()),
    onProgress: ({ bytesRead, totalBytes, rows }) => {
      readBar ??= startProgress(
        out.interactive,
        'Reading  |{bar}| {percentage}% | {mb} / {totalMb} MB | {rows} rows | {speed} MB/s',
        totalBytes,
        {
          totalMb: (totalBytes / 1e6).toFixed(1),
          mb: '0.0',
          rows: '0',
          speed: '-',
        },
      );
      const seconds = (performance.now() - readStarted) / 1000;
      readBar.update(bytesRead, {
        mb: (bytesRead / 1e6).toFixed(1),
        rows: formatCount(rows),
        speed: seconds > 0 ? (bytesRead / 1e6 / seconds).toFixed(1) : '-',
      });
    },
  }).finally(() => (readBar as Progress | null)?.stop());
  reportSkipped(out, data);
  return data;
}

function reportSkipped(out: Output, data: Interactions): void {
  const { skipped, skippedExamples, file } = data.stats;
  if (skipped === 0) return;
  const examples = skippedExamples.map((s) => `line ${s.line}: ${s.reason}`).join('; ');
  out.warn(
    `${file}: skipped ${plural(skipped, 'malformed row')} (${examples}${skipped > skippedExamples.length ? '; …' : ''}); --strict makes them an error`,
  );
}

/** The warning of a save that dropped the model's item index (it no longer fits the model). */
export function droppedIndexNotice(out: Output, saved: SavedModel | null, dir: string): void {
  if (saved?.itemIndex !== 'dropped') return;
  out.warn(
    `the item index of ${dir} was dropped: it no longer fits the model saved (similar --all searches exactly until \`als index\` builds it again)`,
  );
}

/** The one line printed when another als process is writing the model and this one waits for it. */
export function lockWaitNotice(out: Output, dir: string): (holder: LockHolder | null) => void {
  return (holder) => out.warn(`waiting for ${describeHolder(holder)} to finish writing ${dir}`);
}

function printSummary(
  out: Output,
  cli: TrainCommandOptions,
  data: Interactions,
  model: Awaited<ReturnType<typeof trainOnRead>>,
  timings: { read: number; train: number; save: number },
  savedBytes: number,
  rule: string,
): void {
  const { stats } = data;
  const interactions = model.userItems.indptr[model.users];
  if (cli.json) {
    printJson({
      model: cli.model,
      users: model.users,
      items: model.items,
      interactions,
      read: { ...stats, seconds: undefined },
      options: model.options,
      defaults: model.defaults,
      losses: model.losses,
      seconds: timings,
      peakRssBytes: peakRssBytes(),
    });
    return;
  }
  if (out.quiet) return;
  const c = out.color;
  const o = model.options;
  const label = (text: string) => c.bold(text.padEnd(9));
  out.line(readLine(label, stats, c.dim(`(${formatSeconds(stats.seconds)})`)));
  out.line(matrixLine(label, model, interactions, c));
  const solver = o.solver === 'cg' ? `cg (${o.cgSteps} steps)` : 'naive (exact)';
  out.line(`${label('Rule')}${rule}`);
  out.line(
    `${label('Trained')}${solver}, ${plural(o.factors, 'factor')}, ${plural(o.iterations, 'iteration')}, ${o.weighting} α=${o.alpha} ${describeLambda(o)} ` +
      c.dim(`(${formatSeconds(timings.train)})`),
  );
  if (model.losses) {
    // five iterations a line, so that long runs stay readable
    const cells = model.losses.map((l, i) => `${String(i + 1).padStart(3)}: ${l.toPrecision(6)}`);
    for (let k = 0; k < cells.length; k += 5)
      out.line(`${label(k === 0 ? 'Loss' : '')}${cells.slice(k, k + 5).join('  ')}`);
  }
  out.line(
    `${label('Saved')}${shown(cli.model)} ${c.dim(`(${formatBytes(savedBytes)}, ${formatSeconds(timings.save)})`)}`,
  );
}

/** The summary's Read line: what the reader (als's or the Spark job's) made of the file; `note` ends it. */
function readLine(
  label: (text: string) => string,
  stats: Pick<Interactions['stats'], 'file' | 'rows' | 'header' | 'skipped' | 'zeroCounts' | 'duplicates'>,
  note: string,
): string {
  return (
    `${label('Read')}${stats.file}: ${plural(stats.rows, 'row')}${stats.header ? ' (line 1 taken as a header)' : ''}, ` +
    `${formatCount(stats.skipped)} skipped, ${formatCount(stats.zeroCounts)} with count 0, ${plural(stats.duplicates, 'duplicate')} summed ${note}`
  );
}

/** The summary's Matrix line: the shape and how full it is. */
function matrixLine(
  label: (text: string) => string,
  model: { users: number; items: number },
  interactions: number,
  c: Output['color'],
): string {
  const filled = ((100 * interactions) / (model.users * model.items)).toFixed(3);
  return `${label('Matrix')}${plural(model.users, 'user')} × ${plural(model.items, 'item')}, ${plural(interactions, 'interaction')} ${c.dim(`(${filled}% filled)`)}`;
}
