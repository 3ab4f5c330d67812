import { AlsError } from '../errors.js';
import { checkOptions, checkString } from '../validate.js';
import { resolveTrainOptions, SOLVERS, WEIGHTINGS, type TrainOptions } from './options.js';

/**
 * A settings file: a JSON object whose keys are the long names of `als train`'s options
 * (`lambda` for the regularization, `cgSteps` for --cg-steps). `als tune --write-config` writes
 * one; `als train --config` reads it, and options on the command line win over it.
 */
export type TrainConfig = Partial<
  Pick<TrainOptions, 'factors' | 'iterations' | 'alpha' | 'weighting' | 'solver' | 'cgSteps' | 'seed' | 'threads'>
> & {
  lambda?: number;
  /** regularizationExponent (ν) */
  lambdaExponent?: number;
  /** regularizationAlpha0 (α₀) */
  lambdaAlpha0?: number;
};

const NUMBER_KEYS = [
  'factors',
  'iterations',
  'lambda',
  'lambdaExponent',
  'lambdaAlpha0',
  'alpha',
  'cgSteps',
  'seed',
  'threads',
] as const;
/** settings-file keys whose option has another name */
const RENAMED: Partial<Record<(typeof NUMBER_KEYS)[number], keyof TrainOptions>> = {
  lambda: 'regularization',
  lambdaExponent: 'regularizationExponent',
  lambdaAlpha0: 'regularizationAlpha0',
};
const CHOICE_KEYS = { weighting: WEIGHTINGS, solver: SOLVERS } as const;
/** free text for people (what produced the file), ignored */
const NOTE_KEY = 'about';
const KNOWN_KEYS = [...NUMBER_KEYS, ...Object.keys(CHOICE_KEYS), NOTE_KEY];

/** Parses and checks a settings file's text; errors name the file and the setting. */
export function parseTrainConfig(text: string, file: string): Partial<TrainOptions> {
  // a byte order mark (Windows editors save one) is no JSON, and data files drop it too
  checkString('text', text);
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AlsError('input', `${file}: not valid JSON (${jsonErrorWhere(text, (error as Error).message)})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AlsError('input', `${file}: expected a JSON object of settings, like {"weighting": "log", "alpha": 2}`);
  }
  const config = value as Record<string, unknown>;
  const options: Partial<TrainOptions> = {};
  for (const [key, setting] of Object.entries(config)) {
    if (!KNOWN_KEYS.includes(key))
      throw new AlsError('input', `${file}: unknown setting "${key}" (expected: ${KNOWN_KEYS.join(', ')})`);
    if (key === NOTE_KEY) continue;
    if ((NUMBER_KEYS as readonly string[]).includes(key)) {
      if (typeof setting !== 'number')
        throw new AlsError('input', `${file}: "${key}" must be a number, not ${JSON.stringify(setting)}`);
      const name = key as (typeof NUMBER_KEYS)[number];
      (options as Record<string, number>)[RENAMED[name] ?? name] = setting;
    } else {
      const choices = CHOICE_KEYS[key as keyof typeof CHOICE_KEYS] as readonly string[];
      if (typeof setting !== 'string' || !choices.includes(setting)) {
        throw new AlsError(
          'input',
          `${file}: "${key}" must be one of ${choices.join(', ')}, not ${JSON.stringify(setting)}`,
        );
      }
      (options as Record<string, string>)[key] = setting;
    }
  }
  try {
    resolveTrainOptions(options);
  } catch (error) {
    if (error instanceof AlsError) throw new AlsError('input', `${file}: ${error.message}`);
    throw error;
  }
  return options;
}

/** The settings file text of `options` (only the keys given), with a note for people. */
export function formatTrainConfig(options: Partial<TrainOptions>, about?: string): string {
  options = checkOptions('options', options);
  if (about !== undefined) checkString('about', about);
  const config: Record<string, unknown> = {};
  if (about !== undefined) config[NOTE_KEY] = about;
  const order: [keyof TrainOptions, string][] = [
    ['weighting', 'weighting'],
    ['alpha', 'alpha'],
    ['regularization', 'lambda'],
    ['regularizationExponent', 'lambdaExponent'],
    ['regularizationAlpha0', 'lambdaAlpha0'],
    ['factors', 'factors'],
    ['iterations', 'iterations'],
    ['solver', 'solver'],
    ['cgSteps', 'cgSteps'],
    ['seed', 'seed'],
    ['threads', 'threads'],
  ];
  for (const [option, key] of order) if (options[option] !== undefined) config[key] = options[option];
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** "line 3, column 7" from the position in V8's JSON.parse message, or the message itself. */
function jsonErrorWhere(text: string, message: string): string {
  const position = /at position (\d+)/.exec(message);
  if (!position) return message.replace(/^JSON\.parse: /, '');
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${column}`;
}
