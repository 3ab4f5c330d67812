import { InvalidArgumentError, Option, type Command } from 'commander';

/** Default model directory of every command. */
export const DEFAULT_MODEL_DIR = './als-model';

/** Commander parser for a whole number; range checks happen where the value is used. */
export function wholeNumber(value: string): number {
  const number = Number(value.trim());
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  if (!Number.isSafeInteger(number))
    throw new InvalidArgumentError(`expected a whole number up to ${Number.MAX_SAFE_INTEGER}.`);
  return number;
}

/** A decimal number as people write one: no hex, binary or octal, no "Infinity". */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Commander parser for a decimal number (negative allowed here, refused with a reason later). */
export function decimal(value: string): number {
  const number = Number(value.trim());
  if (!DECIMAL.test(value.trim()) || !Number.isFinite(number))
    throw new InvalidArgumentError('expected a decimal number.');
  return number;
}

/** --model, --quiet and --debug, which every command takes. */
export function addCommonOptions(command: Command): Command {
  return command
    .option('-m, --model <dir>', 'model directory', DEFAULT_MODEL_DIR)
    .option('-q, --quiet', 'no progress bars, no colour, no summary')
    .addOption(new Option('--debug', 'show the stack trace of an error'));
}

export interface CommonOptions {
  model: string;
  quiet?: boolean;
  debug?: boolean;
}

/** The most split seeds one `--seeds` takes: each trains a model. */
export const MAX_SEEDS = 100;

/** Commander parser for a comma-separated list of distinct seeds (whole numbers 0 … 2³² − 1), e.g. "1,2,3". */
export function seedList(value: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.some((part) => !/^\d+$/.test(part)))
    throw new InvalidArgumentError('expected whole numbers separated by commas, like 1,2,3.');
  const seeds = parts.map(Number);
  const bad = seeds.find((seed) => !(seed <= 2 ** 32 - 1));
  if (bad !== undefined)
    throw new InvalidArgumentError(`a seed is a whole number from 0 to 4294967295, not ${parts[seeds.indexOf(bad)]}.`);
  if (seeds.length > MAX_SEEDS)
    throw new InvalidArgumentError(`at most ${MAX_SEEDS} seeds (each trains a model), not ${seeds.length}.`);
  const repeated = seeds.find((seed, n) => seeds.indexOf(seed) !== n);
  if (repeated !== undefined) throw new InvalidArgumentError(`seed ${repeated} is given twice.`);
  return seeds;
}
