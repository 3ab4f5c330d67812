import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Option } from 'commander';
import { buildProgram, main } from '../../src/cli/main.js';
import { decimal, wholeNumber } from '../../src/cli/parse.js';
import { loadModel } from '../../src/model/load.js';
import { tempDir } from '../helpers.js';

/**
 * The option parser under fuzz (issue 9, acceptance): any command line of any command, with
 * values from a pool of hostile ones, ends in an exit code that means something (never 1, the
 * code of a bug) with at most a one-line message, never a stack trace; a model that a fuzzed
 * train or update wrote holds finite factors only.
 */
const work = tempDir('als-option-fuzz-');
const data = join(work, 'plays.tsv');
const model = join(work, 'model');

const NASTY_VALUES = [
  '0',
  '1',
  '2',
  '3',
  '7',
  '1024',
  '65536',
  '4294967296',
  '99999999999999999999',
  '-1',
  '-0',
  '1.5',
  '1e3',
  '0x10',
  '0b11',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e39',
  '1e308',
  '1e-320',
  '',
  ' ',
  'abc',
  '\x1b[31m',
  'x'.repeat(300),
  'Björk',
  '1,2',
  'log',
  'linear',
  'bm25',
  'cg',
  'naive',
  'csv',
  'triples',
  'lastfm',
  'ndcg',
  'precision',
  '10s',
  '0s',
  '1h',
  '-5m',
];

let paths: string[] = [];
let checkout = '';

before(() => {
  // a fuzzed string is a relative path too (`--model ']@CN'`, `export … 65536`): what a run
  // writes there lands in the test's folder, never in the checkout the tests run from
  checkout = process.cwd();
  process.chdir(work);
  const lines: string[] = [];
  for (let u = 0; u < 12; u++)
    for (let i = 0; i < 10; i++) if ((u + i) % 3 !== 0) lines.push(`u${u}\t\tartist ${i}\t${1 + ((u * i) % 7)}`);
  writeFileSync(data, `${lines.join('\n')}\n`);
  mkdirSync(join(work, 'a-directory'));
  paths = [
    data,
    model,
    join(work, 'a-directory'),
    join(work, 'missing', 'file'),
    join(work, 'out.tsv'),
    join(work, 'new-model'),
    '',
  ];
});

after(() => {
  // quiet the captured streams for good even if a run threw
  restore?.();
  process.chdir(checkout);
});

let restore: (() => void) | undefined;

/** Runs the CLI in this process with stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((t) => (stdout += t));
  process.stderr.write = capture((t) => (stderr += t));
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
  };
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    restore();
  }
}

/** Every command with its options, read from the program itself, so that the fuzz follows the CLI. */
function commandShapes(): { name: string; options: Option[]; positional: number }[] {
  // serve runs until a signal (a fuzzed run that starts it never ends); its options are tested in test/serve/cli.test.ts
  return buildProgram()
    .commands.filter((command) => command.name() !== 'serve')
    .map((command) => ({
      name: command.name(),
      // --debug asks for the stack trace: the one option whose output is meant to hold one
      options: (command.options as Option[]).filter((option) => option.long !== '--debug'),
      positional: command.registeredArguments.length,
    }));
}

describe('the option parser under fuzz (issue 9)', () => {
  it('any command line ends in a meaningful exit code and one message line, never a stack or a non-finite model', async () => {
    const shapes = commandShapes();
    const value = fc.oneof(fc.constantFrom(...NASTY_VALUES), fc.constantFrom(...paths), fc.string({ maxLength: 12 }));
    const numbers = NASTY_VALUES.filter((v) => /^[-+.\d]/.test(v) || /Infinity|NaN/.test(v));
    /** Mostly a value of the option's kind (a choice, a number, a path), sometimes anything. */
    const valueFor = (option: Option, nasty: string, pick: number): string => {
      if (pick % 10 < 1) return nasty;
      if (option.argChoices) return option.argChoices[pick % option.argChoices.length];
      if (option.parseArg === wholeNumber || option.parseArg === decimal) return numbers[pick % numbers.length];
      if (option.long === '--items' || option.long === '--user')
        return ['artist 1,artist 2=3', 'u1', 'artist 9=1e39', 'nobody'][pick % 4];
      return paths[pick % paths.length];
    };
    const argvOf = fc
      .record({
        shape: fc.constantFrom(...shapes),
        picks: fc.array(fc.tuple(fc.nat(), value, fc.nat()), { maxLength: 4 }),
        positional: fc.array(value, { maxLength: 2 }),
        usePaths: fc.nat(4).map((n) => n > 0),
      })
      .map(({ shape, picks, positional, usePaths }) => {
        const argv = [shape.name];
        if (usePaths && shape.positional > 0) argv.push(shape.name === 'similar' ? 'artist 3' : data);
        else argv.push(...positional);
        for (const [k, v, pick] of picks) {
          const option = shape.options[k % shape.options.length];
          if (option === undefined) continue;
          const flag = option.long ?? option.short;
          if (flag === undefined) continue;
          argv.push(flag);
          if (option.required || option.optional) argv.push(valueFor(option, v, pick));
        }
        // a fuzzed search must end: its time is bounded, not its settings
        if (shape.name === 'tune') argv.push('--time-budget', '2s', '--trials', '3');
        argv.push('--quiet');
        if (!argv.includes('--model') && !argv.includes('-m')) argv.push('--model', model);
        return argv;
      });

    // a model to query, so that query commands get past loading
    const trained = await run(['train', data, '--factors', '3', '--iterations', '2', '--model', model]);
    assert.equal(trained.code, 0, trained.stderr);

    await fc.assert(
      fc.asyncProperty(argvOf, async (argv) => {
        const { code, stderr } = await run(argv);
        const context = `argv ${JSON.stringify(argv)} → exit ${code}: ${stderr}`;
        assert.ok([0, 2, 3, 4, 5, 6].includes(code), context);
        assert.doesNotMatch(stderr, /internal error|\n\s+at /, context);
        if (code !== 0) {
          const messages = stderr.split('\n').filter((line) => line.startsWith('als: '));
          assert.equal(messages.length, 1, context);
        }
        if (code === 0 && (argv[0] === 'train' || argv[0] === 'update')) {
          const at = argv.lastIndexOf('--model');
          const dir = at >= 0 ? argv[at + 1] : model;
          const saved = loadModel(dir);
          for (const factors of [saved.userFactors, saved.itemFactors])
            assert.ok(factors.every(Number.isFinite), context);
        }
      }),
      { seed: 9, numRuns: 500, interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false },
    );
  });
});
