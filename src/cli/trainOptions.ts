import { Option, type Command } from 'commander';
import {
  DEFAULT_ALPHA,
  MAX_LAMBDA_ALPHA0,
  MAX_LAMBDA_EXPONENT,
  SOLVERS,
  WEIGHTINGS,
  defaultTrainOptions,
  resolveTrainOptions,
  type Solver,
  type TrainOptions,
  type Weighting,
} from '../als/options.js';
import { parseTrainConfig } from '../als/config.js';
import {
  type DefaultsRule,
  defaultsFor,
  FEW_FACTORS,
  FEW_PAIRS_PER_USER,
  LAMBDA_PER_CONFIDENCE,
  profileOf,
  ruleOptions,
} from '../als/dataDefaults.js';
import type { AppliedDefaults } from '../model/model.js';
import { INPUT_FORMATS, type InputFormat, type Interactions } from '../data/read.js';
import { NotRegularFile, readSmallFile } from '../data/regularFile.js';
import { AlsError, describeErrno } from '../errors.js';
import { decimal, wholeNumber } from './parse.js';

/** The options of every command that reads a file and trains (train, evaluate). */
export interface TrainCliOptions {
  format: InputFormat;
  strict?: boolean;
  factors?: number;
  iterations?: number;
  lambda?: number;
  regularization?: number;
  lambdaExponent?: number;
  lambdaAlpha0?: number;
  alpha?: number;
  weighting?: Weighting;
  solver?: Solver;
  cgSteps?: number;
  seed?: number;
  threads?: number;
  /** a settings file (`als tune --write-config`); the options above win over it */
  config?: string;
}

/**
 * Adds --format, --strict and the training options (--factors … --threads) to `command`;
 * `seedHelp` describes --seed, which means more than the initial factors in some commands.
 * `withConfig`: also --config, and the command applies the data's defaults rule
 * (trainOptionsForData), which the help of the options it sets says.
 */
export function addTrainOptions(command: Command, seedHelp?: string, withConfig = true): Command {
  const defaults = defaultTrainOptions();
  // what the defaults rule sets, in the help of those options (commands without the rule: the plain defaults)
  const ruled = (plain: string, rule: string) =>
    withConfig ? `default by the data's rule, docs/choosing-settings.md: ${rule}` : `default: ${plain}`;
  if (withConfig) {
    command.option(
      '--config <file>',
      'read settings from a JSON file, as written by `als tune --write-config`; options given here win',
    );
  }
  return command
    .addOption(
      new Option(
        '-f, --format <format>',
        'lastfm: user, mbid, artist name, plays (tab-separated); triples: user, item, count (tab-separated); csv: comma-separated, quoted fields, optional header',
      )
        .choices(INPUT_FORMATS)
        .default('lastfm'),
    )
    .option('--strict', 'stop at the first malformed row instead of skipping it')
    .option(
      '--factors <n>',
      `latent factors per user and item (${ruled(String(defaults.factors), `${FEW_FACTORS} when users have fewer than ${FEW_PAIRS_PER_USER} items on average, else ${defaults.factors}`)})`,
      wholeNumber,
    )
    .option('--iterations <n>', `ALS iterations (default: ${defaults.iterations})`, wholeNumber)
    .option(
      '--lambda <x>',
      `regularization λ, alias --regularization (${ruled(String(defaults.regularization), `${LAMBDA_PER_CONFIDENCE.counts} (0/1 data: ${LAMBDA_PER_CONFIDENCE.binary}) × the mean confidence above 1 of a pair (α·mean ln(1 + count)) with --lambda-exponent 1; 10·0.03^ν when only --lambda-exponent ν is given; ${defaults.regularization} when only --lambda-alpha0 is given`)})`,
      decimal,
    )
    .addOption(new Option('--regularization <x>').argParser(decimal).hideHelp())
    .option(
      '--lambda-exponent <ν>',
      `frequency-scaled λ (Rendle et al. 2022): each user gets λ·(its items + α₀·all items)^ν, each item λ·(its users + α₀·all users)^ν; ` +
        `0 = the same λ for every row, 1 with --lambda-alpha0 0 = Spark's λ·n; 0 to ${MAX_LAMBDA_EXPONENT} (${ruled(String(defaults.regularizationExponent), `1; ${defaults.regularizationExponent} when only --lambda or --lambda-alpha0 is given`)})`,
      decimal,
    )
    .option(
      '--lambda-alpha0 <α₀>',
      `α₀ of --lambda-exponent, 0 to ${MAX_LAMBDA_ALPHA0} (default: ${defaults.regularizationAlpha0})`,
      decimal,
    )
    .option(
      '--alpha <x>',
      `confidence scale α in c = 1 + α·w(plays) (${withConfig ? "without --weighting: 2 for counts, 5 for 0/1 data, by the data's rule; with it: " : 'default: '}${Object.entries(
        DEFAULT_ALPHA,
      )
        .map(([w, a]) => `${a} for ${w}`)
        .join(', ')})`,
      decimal,
    )
    .addOption(
      new Option(
        '--weighting <w>',
        `w(plays): linear = plays (the paper's), log = ln(1 + plays), bm25 = BM25-scaled plays (default: ${defaults.weighting})`,
      ).choices(WEIGHTINGS),
    )
    .addOption(
      new Option(
        '--solver <s>',
        `cg = conjugate gradient (fast), naive = exact solve per row (default: ${defaults.solver})`,
      ).choices(SOLVERS),
    )
    .option(
      '--cg-steps <n>',
      `conjugate-gradient steps per row and half-step (default: ${defaults.cgSteps})`,
      wholeNumber,
    )
    .option('--seed <n>', seedHelp ?? `seed of the random initial factors (default: ${defaults.seed})`, wholeNumber)
    .option(
      '--threads <n>',
      `threads that read the file and train (default: the number of CPUs, ${defaults.threads})`,
      wholeNumber,
    );
}

/** The checked, completed TrainOptions of the command line (throws AlsError('usage')). */
export function trainOptionsFrom(cli: TrainCliOptions, extra: Partial<TrainOptions> = {}): TrainOptions {
  return resolveTrainOptions({ ...(cli.config ? readConfig(cli.config) : {}), ...givenTrainOptions(cli), ...extra });
}

/**
 * trainOptionsFrom with the defaults rule of the data (dataDefaults.ts) beneath what the command
 * line and the settings file give: the options, and the rule with the options it set.
 */
export function trainOptionsForData(
  cli: TrainCliOptions,
  data: Interactions,
  extra: Partial<TrainOptions> = {},
): { options: TrainOptions; defaults: AppliedDefaults; said: string } {
  const given = { ...(cli.config ? readConfig(cli.config) : {}), ...givenTrainOptions(cli), ...extra };
  // the matrix is the reader's, checked as it was read
  const rule = defaultsFor(profileOf(data.userItems));
  const set = ruleOptions(rule, given);
  const options = resolveTrainOptions({ ...set, ...given });
  const said = ruleSaid(rule, options);
  // model.json keeps what was said, so that als info tells the same (a rule of 64 factors, 4 given)
  return { options, defaults: { rule: rule.rule, description: said, options: set }, said };
}

/**
 * The rule's description, and whether settings given changed what it chose: only a value that
 * differs counts (`--factors 64` where the rule takes 64 changes nothing).
 */
export function ruleSaid(rule: DefaultsRule, options: TrainOptions): string {
  const changed = Object.entries(rule.options).some(
    ([key, value]) => (options as unknown as Record<string, unknown>)[key] !== value,
  );
  return `${rule.description}${changed ? ' (settings given win over it)' : ''}`;
}

/** The training options given on the command line, undefined where not given. */
export function givenTrainOptions(cli: TrainCliOptions): Partial<TrainOptions> {
  if (cli.lambda !== undefined && cli.regularization !== undefined) {
    throw new AlsError(
      'usage',
      `--lambda ${cli.lambda} and --regularization ${cli.regularization} name one setting: give one of them`,
    );
  }
  for (const [flag, value, max] of [
    ['--lambda-exponent', cli.lambdaExponent, MAX_LAMBDA_EXPONENT],
    ['--lambda-alpha0', cli.lambdaAlpha0, MAX_LAMBDA_ALPHA0],
  ] as const) {
    if (value !== undefined && !(value >= 0 && value <= max))
      throw new AlsError('usage', `${flag} must be a number from 0 to ${max}, not ${value}`);
  }
  const given: Partial<TrainOptions> = {
    factors: cli.factors,
    iterations: cli.iterations,
    regularization: cli.lambda ?? cli.regularization,
    regularizationExponent: cli.lambdaExponent,
    regularizationAlpha0: cli.lambdaAlpha0,
    alpha: cli.alpha,
    weighting: cli.weighting,
    solver: cli.solver,
    cgSteps: cli.cgSteps,
    seed: cli.seed,
    threads: cli.threads,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

/** A settings file is a few hundred bytes; anything far larger is not one (and is not read whole). */
const MAX_CONFIG_BYTES = 1 << 16;

function readConfig(file: string): Partial<TrainOptions> {
  let text: string;
  try {
    // a regular file of bounded size: a FIFO cannot hang the command, /dev/zero cannot fill memory
    text = readSmallFile(file, MAX_CONFIG_BYTES, { followLink: true }).toString('utf8');
  } catch (error) {
    if (error instanceof NotRegularFile)
      throw new AlsError('input', `${file}: ${error.message}; a settings file is a small JSON file`);
    const words = { ENOENT: 'no such file' };
    throw new AlsError('input', `${file}: cannot read the settings file (${describeErrno(error, words)})`, {
      cause: error,
    });
  }
  return parseTrainConfig(text, file);
}

/** "λ=10", or with frequency-scaled λ "λ=10·(n + 0.1·others)^1" (n: the row's observed entries) */
export function describeLambda(
  o: Pick<TrainOptions, 'regularization' | 'regularizationExponent' | 'regularizationAlpha0'>,
): string {
  if (o.regularizationExponent === 0) return `λ=${o.regularization}`;
  const base = o.regularizationAlpha0 === 0 ? 'n' : `(n + ${o.regularizationAlpha0}·others)`;
  return `λ=${o.regularization}·${base}${o.regularizationExponent === 1 ? '' : `^${o.regularizationExponent}`}`;
}
