import { InvalidArgumentError, Option, type Command } from 'commander';

/** Default model directory of every command. */
export const DEFAULT_MODEL_DIR = './als-model';

/** Commander parser for a whole number; range checks happen where the value is used. */
export function wholeNumber(value: string): number {
  const number = Number(value.trim());
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number.');
  if (!Number.isSafeInteger(number)) throw new InvalidArgumentError(`expected a whole number up to ${Number.MAX_SAFE_INTEGER}.`);
  return number;
}

/** A decimal number as people write one: no hex, binary or octal, no "Infinity". */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Commander parser for a decimal number (negative allowed here, refused with a reason later). */
export function decimal(value: string): number {
  const number = Number(value.trim());
  if (!DECIMAL.test(value.trim()) || !Number.isFinite(number)) throw new InvalidArgumentError('expected a decimal number.');
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
