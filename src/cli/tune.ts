import { Option, type Command } from 'commander';
import { formatTrainConfig } from '../als/config.js';
import { resolveTrainOptions, type TrainOptions } from '../als/options.js';
import { checkOutputPath, writeOutput } from '../data/writeFile.js';
import { AlsError } from '../errors.js';
import { DEFAULT_SPLIT_SEED, DEFAULT_TEST_FRACTION } from '../eval/split.js';
import { DEFAULT_EVAL_K } from '../eval/evaluate.js';
import {
  DEFAULT_TIME_BUDGET_SECONDS,
  DEFAULT_TRIALS,
  DEFAULT_TUNE_METRIC,
  TUNE_METRICS,
  searchedOptions,
  tune,
  type Trial,
  type TuneMetric,
  type TunedOption,
  type TuneResult,
} from '../eval/tune.js';
import { decimal, wholeNumber } from './parse.js';
import { formatCount, formatSeconds, makeOutput, plural, printJson, shown, type Output } from './output.js';
import { outputDescriptor, outputTarget } from './outputTarget.js';
import { startProgress, type Progress } from './progress.js';
import { readInput } from './train.js';
import { addTrainOptions, givenTrainOptions, ruleSaid, type TrainCliOptions } from './trainOptions.js';
import { defaultsFor, profileData, ruleOptions } from '../als/dataDefaults.js';

interface TuneCliOptions extends TrainCliOptions {
  trials: number;
  timeBudget: number;
  k: number;
  metric: TuneMetric;
  testFraction: number;
  writeConfig?: string;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
}

const METRIC_LABELS: Record<TuneMetric, string> = {
  precision: 'precision',
  recall: 'recall',
  map: 'MAP',
  ndcg: 'NDCG',
  auc: 'AUC',
};

export function registerTune(program: Command): void {
  const command = program
    .command('tune')
    .summary('search the training settings that recommend best')
    .description(
      "Split every user's items into train and test (as `als evaluate` does), split train again into fit and " +
        'validation, and try settings of weighting, α, λ, ν, factors and iterations: each trial trains on fit and is ' +
        'scored on validation. The first trial is the defaults, as `als train` would choose them for these data (its ' +
        'rule for counts or 0/1 data). The rest come in brackets of successive halving: ' +
        'nine settings trained with a ninth of their iterations, the best three with a third, the best one in full ' +
        '(the first bracket drawn at random, later ones half near the best so far). At the end the best settings ' +
        'and the defaults are trained on all of train and scored on test, which the search never saw. Training ' +
        'options given here are held fixed.',
    )
    .argument('<file>', 'interactions file (.gz is read transparently)')
    .option(
      '--trials <n>',
      'settings to try at most, the defaults first (most train with few iterations only)',
      wholeNumber,
      DEFAULT_TRIALS,
    )
    .addOption(
      new Option(
        '--time-budget <time>',
        'start no trial expected to end after this much searching: 90s, 10m, 1h or seconds',
      )
        .argParser(duration)
        .default(DEFAULT_TIME_BUDGET_SECONDS, budgetArgument(DEFAULT_TIME_BUDGET_SECONDS)),
    )
    .addOption(new Option('--metric <m>', 'what to maximise, at k').choices(TUNE_METRICS).default(DEFAULT_TUNE_METRIC))
    .option('-k, --k <n>', 'length of each recommendation list scored', wholeNumber, DEFAULT_EVAL_K)
    .option(
      '--test-fraction <x>',
      "share of each user's items held out for test, and again for validation, 0 < x < 1",
      decimal,
      DEFAULT_TEST_FRACTION,
    )
    .option(
      '--write-config <file>',
      'write the best settings as JSON, for `als train --config <file>` (- for standard output)',
    );
  addTrainOptions(
    command,
    `seed of the splits, the search and the initial factors (default: ${DEFAULT_SPLIT_SEED})`,
    false,
  )
    .option('--json', 'print the trials and the result as JSON')
    .option('-q, --quiet', 'no progress bars, no colour, no table of trials')
    .addOption(new Option('--debug', 'show the stack trace of an error'))
    .addHelpText(
      'after',
      '\nExamples:\n  als tune data/lastfm-2k.tsv\n  als tune data/lastfm-2k.tsv --trials 60 --time-budget 5m --metric precision --write-config tuned.json\n' +
        '  als tune data/lastfm-2k.tsv --weighting log --factors 64     (search α, λ and iterations only)\n  als train data/lastfm-2k.tsv --config tuned.json',
    )
    .action(runTune);
}

/** "90s", "10m", "1.5h", "600" (seconds) → seconds. */
export function duration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/i.exec(text);
  const seconds = match
    ? Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? 's').toLowerCase() as 's' | 'm' | 'h']
    : NaN;
  if (!(seconds > 0)) throw new AlsError('usage', `--time-budget: expected a time like 90s, 10m or 1h, not "${text}"`);
  return seconds;
}

async function runTune(file: string, cli: TuneCliOptions): Promise<void> {
  const out = makeOutput(cli);
  if (!(cli.testFraction > 0 && cli.testFraction < 1))
    throw new AlsError('usage', `--test-fraction must be between 0 and 1 (exclusive), not ${cli.testFraction}`);
  if (!(cli.trials >= 1)) throw new AlsError('usage', `--trials must be at least 1, not ${cli.trials}`);
  if (!(cli.k >= 1)) throw new AlsError('usage', `-k must be at least 1, not ${cli.k}`);
  const seed = cli.seed ?? DEFAULT_SPLIT_SEED;
  const fixed = { ...givenTrainOptions(cli), seed };
  // an unwritable settings file fails now, not after the search; the check writes nothing
  if (cli.writeConfig !== undefined) {
    if (cli.writeConfig === '') throw new AlsError('usage', '--write-config needs a file name');
    await checkOutputPath(outputTarget(cli.writeConfig));
  }
  const data = await readInput(out, file, cli);
  // trial 1 is what als train would choose for these data with the same options (its data rule)
  const rule = defaultsFor(profileData(data.userItems));
  const defaults = ruleOptions(rule, fixed);
  const said = ruleSaid(rule, resolveTrainOptions({ ...defaults, ...fixed }));

  const table = !cli.json && !out.quiet;
  const columns = trialColumns(cli.k, cli.metric);
  // printed when the first trial starts, so that a data set too small to split prints only the error
  const printHeader = () => {
    const searched = searchedOptions(fixed).map(optionLabel);
    out.line(
      `Searching ${searched.length > 0 ? searched.join(', ') : 'nothing (all held fixed)'} for the best ${METRIC_LABELS[cli.metric]}@${cli.k} ` +
        out.color.dim(`(${plural(cli.trials, 'trial')} at most, ${formatBudget(cli.timeBudget)} budget, seed ${seed})`),
    );
    out.line(out.color.dim(`Trial 1: the defaults als train chooses for these data: ${said}`));
    out.line(out.color.bold(columns.header));
  };
  let bar: Progress | null = null;
  const stopBar = () => {
    bar?.stop();
    bar = null;
  };
  const result = await tune(
    data.userItems,
    {
      trials: cli.trials,
      timeBudgetSeconds: cli.timeBudget,
      k: cli.k,
      metric: cli.metric,
      testFraction: cli.testFraction,
      seed,
      fixed,
      defaults,
    },
    {
      onTrialStart: (number, options, iterations) => {
        if (table && number === 1) printHeader();
        const rung = iterations < options.iterations ? ` (${iterations} of ${options.iterations} iterations)` : '';
        bar = startProgress(
          out.interactive && !cli.json,
          `Trial ${number}/${cli.trials}${rung} |{bar}| {percentage}% | ETA {eta_formatted}`,
          1,
        );
      },
      onProgress: (done, total) => bar?.update(done / total),
      onTrial: (trial, best) => {
        stopBar();
        if (table) out.line(columns.row(out, trial, best));
      },
      onCheck: () => {
        bar = startProgress(
          out.interactive && !cli.json,
          'Checking the best on test |{bar}| {percentage}% | ETA {eta_formatted}',
          1,
        );
      },
    },
  ).finally(stopBar);

  const command = trainCommand(file, cli, result.best.options, fixed);
  if (cli.writeConfig) await writeConfig(cli.writeConfig, result, file, fixed);
  if (cli.json) {
    printJson({
      file: data.stats.file,
      metric: result.metric,
      k: result.k,
      seed,
      testFraction: cli.testFraction,
      stoppedBy: result.stoppedBy,
      searchSeconds: result.searchSeconds,
      sizes: result.sizes,
      trials: result.trials.map((t) => ({
        number: t.number,
        options: searched(t.options),
        metrics: t.metrics,
        trainedIterations: t.trainedIterations,
        rungs: t.rungs,
        seconds: t.seconds,
      })),
      bestSoFar: result.bestSoFar,
      moreTrialsLikelyHelp: result.moreTrialsLikelyHelp,
      failed: result.failed.map((f) => ({ number: f.number, options: searched(f.options), reason: f.reason })),
      best: { number: result.best.number, options: result.best.options, validation: result.best.metrics },
      popularity: { validation: result.popularity, test: result.test.popularity },
      test: { best: result.test.best, defaults: result.test.defaults, popularity: result.test.popularity },
      command,
      config: cli.writeConfig ?? null,
    });
    return;
  }
  printResult(out, cli, file, result, command);
}

function optionLabel(name: TunedOption): string {
  return name === 'alpha' ? 'α' : name === 'regularization' ? 'λ' : name === 'regularizationExponent' ? 'ν' : name;
}

function formatBudget(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}

/** The budget as --time-budget reads it: 1h, 10m, 90s. */
function budgetArgument(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600}h` : seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`;
}

function searched(options: TrainOptions): Pick<TrainOptions, TunedOption> {
  const { weighting, alpha, regularization, regularizationExponent, factors, iterations } = options;
  return { weighting, alpha, regularization, regularizationExponent, factors, iterations };
}

/**
 * The live table: one row per training as it ends. A setting trained with fewer iterations than
 * its own (a lower rung of the halving) shows "2/15" and is dim; "best so far" is the best metric
 * of a setting trained in full, and the row that set it is marked.
 */
function trialColumns(k: number, metric: TuneMetric) {
  const metricNames = [metric, ...(['precision', 'ndcg'] as const).filter((m) => m !== metric)];
  const bestLabel = 'best so far';
  const widths = [
    5,
    9,
    7,
    7,
    3,
    7,
    10,
    ...metricNames.map((m) => Math.max(6, `${METRIC_LABELS[m]}@${k}`.length)),
    bestLabel.length,
    7,
  ];
  const cells = (values: string[]) =>
    values.map((v, i) => (i === 1 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return {
    header: cells([
      'trial',
      'weighting',
      'α',
      'λ',
      'ν',
      'factors',
      'iterations',
      ...metricNames.map((m) => `${METRIC_LABELS[m]}@${k}`),
      bestLabel,
      'seconds',
    ]),
    row: (out: Output, trial: Trial, best: Trial) => {
      const o = trial.options;
      const full = trial.trainedIterations === o.iterations;
      const last = trial.rungs[trial.rungs.length - 1];
      const text = cells([
        String(trial.number),
        o.weighting,
        String(o.alpha),
        String(o.regularization),
        String(o.regularizationExponent),
        String(o.factors),
        full ? String(o.iterations) : `${trial.trainedIterations}/${o.iterations}`,
        ...metricNames.map((m) => fixed(trial.metrics[m])),
        fixed(best.metrics[metric]),
        last.seconds.toFixed(2),
      ]);
      if (trial === best && best.rungs.length > 0 && full)
        return `${out.color.green(text)}  ${out.color.green('best')}`;
      return full ? text : out.color.dim(text);
    },
  };
}

function printResult(out: Output, cli: TuneCliOptions, file: string, result: TuneResult, command: string): void {
  const c = out.color;
  const name = `${METRIC_LABELS[result.metric]}@${result.k}`;
  const m = result.metric;
  const { best, trials } = result;
  if (!out.quiet) {
    const why =
      result.stoppedBy === 'time'
        ? `the time budget ran out after ${plural(trials.length, 'trial')}`
        : `${plural(trials.length, 'trial')}`;
    const full = trials.filter((t) => t.trainedIterations === t.options.iterations).length;
    const trainings = trials.reduce((sum, t) => sum + t.rungs.length, 0);
    out.line(
      c.dim(
        `Searched in ${formatSeconds(result.searchSeconds)} (${why}, ${formatCount(trainings)} trainings, ${formatCount(full)} in full); validation: ${formatCount(result.sizes.validation)} held-out plays of ${formatCount(result.sizes.validationUsers)} users.`,
      ),
    );
    out.line();
  }
  if (result.failed.length > 0) {
    const first = result.failed[0];
    out.warn(
      `${plural(result.failed.length, 'trial')} could not train on these data and ${result.failed.length === 1 ? 'was' : 'were'} left out (trial ${first.number}: ${first.reason})`,
    );
  }
  const defaults = trials[0];
  out.line(
    `${c.bold('Best')} trial ${best.number}: ${name} ${fixed(best.metrics[m])} on validation ` +
      c.dim(`(defaults ${fixed(defaults.metrics[m])}, popularity ${fixed(result.popularity[m])})`),
  );
  out.line(
    `${c.bold('On test')} (${formatCount(result.sizes.test)} plays the search never saw): ${name} ${fixed(result.test.best[m])} ` +
      c.dim(`(defaults ${fixed(result.test.defaults[m])}, popularity ${fixed(result.test.popularity[m])})`),
  );
  if (result.moreTrialsLikelyHelp) {
    const more =
      result.stoppedBy === 'time'
        ? `--time-budget ${budgetArgument(cli.timeBudget * 2)}`
        : `--trials ${trials.length * 2}`;
    out.line(
      c.yellow(
        result.stoppedBy === 'time'
          ? `More trials would likely help: the time budget ended the search (try ${more}).`
          : `More trials would likely help: the best came late, setting ${best.number} of ${trials.length} (try ${more}).`,
      ),
    );
  }
  if (best.number !== 1 && !(result.test.best[m] > result.test.defaults[m])) {
    out.warn(
      'the best settings do not beat the defaults on test: the difference on validation may be noise; consider keeping the defaults',
    );
  }
  out.line(`${c.bold('Train with')}`);
  out.line(`  ${shown(command)}`);
  if (cli.writeConfig) {
    // settings written to a descriptor (standard output, a pipe) cannot be read back by that name
    const hint =
      outputDescriptor(cli.writeConfig) === null
        ? `  ${c.dim(`(als train ${shown(shellQuote(file))} --config ${shown(shellQuote(cli.writeConfig))})`)}`
        : '';
    out.line(
      `${c.bold('Wrote')} ${cli.writeConfig === '-' ? 'the settings to standard output' : shown(cli.writeConfig)}${hint}`,
    );
  }
}

/** The `als train …` line of the best settings, with the options that were held fixed. */
function trainCommand(
  file: string,
  cli: TuneCliOptions,
  best: TrainOptions,
  fixedOptions: Partial<TrainOptions>,
): string {
  const parts = ['als', 'train', shellQuote(file)];
  if (cli.format !== 'lastfm') parts.push('--format', cli.format);
  parts.push('--weighting', best.weighting, '--alpha', String(best.alpha), '--lambda', String(best.regularization));
  parts.push('--factors', String(best.factors), '--iterations', String(best.iterations));
  if (best.regularizationExponent !== 0) {
    parts.push(
      '--lambda-exponent',
      String(best.regularizationExponent),
      '--lambda-alpha0',
      String(best.regularizationAlpha0),
    );
  }
  if (fixedOptions.solver !== undefined) parts.push('--solver', best.solver);
  if (fixedOptions.cgSteps !== undefined) parts.push('--cg-steps', String(best.cgSteps));
  return parts.join(' ');
}

function shellQuote(text: string): string {
  return /^[\w./@%+=:,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

async function writeConfig(
  path: string,
  result: TuneResult,
  file: string,
  fixedOptions: Partial<TrainOptions>,
): Promise<void> {
  const best = result.best;
  const about =
    `als tune ${file}: trial ${best.number} of ${result.trials.length}, ${METRIC_LABELS[result.metric]}@${result.k} ` +
    `${fixed(best.metrics[result.metric])} on validation, ${fixed(result.test.best[result.metric])} on test ` +
    `(defaults ${fixed(result.test.defaults[result.metric])})`;
  const { solver, cgSteps, regularizationExponent, regularizationAlpha0 } = best.options;
  const settings = {
    ...searched(best.options),
    // frequency-scaled λ: the ν searched or given, with the α₀ given; the λ found goes with them
    ...(regularizationExponent !== 0 ? { regularizationExponent, regularizationAlpha0 } : {}),
    ...(fixedOptions.solver !== undefined ? { solver } : {}),
    ...(fixedOptions.cgSteps !== undefined ? { cgSteps } : {}),
  };
  // the safe writer: a random exclusive temporary renamed over the file, or a FIFO written straight
  const text = formatTrainConfig(settings, about);
  await writeOutput(outputTarget(path), (emit) => emit(text));
}

function fixed(value: number): string {
  return Number.isNaN(value) ? '-' : value.toFixed(4);
}
