import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { describeWriteErrno } from '../data/writeFile.js';
import { AlsError } from '../errors.js';
import { cliMessage } from './errorHints.js';
import { EXIT, exitCodeFor } from './exitCodes.js';
import { shown } from './output.js';
import { registerEvaluate } from './evaluate.js';
import { registerExport } from './export.js';
import { registerImport } from './import.js';
import { registerIndex } from './buildIndex.js';
import { registerInfo } from './info.js';
import { registerRecommend } from './recommend.js';
import { registerServe } from './serve.js';
import { registerSimilar } from './similar.js';
import { registerTrain } from './train.js';
import { registerTune } from './tune.js';
import { registerUpdate } from './update.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  return pkg.version;
}

/** Commander's own errors (unknown option, bad choice, missing argument) as one "als: …" line. */
function writeCommanderError(text: string, write: (text: string) => void): void {
  write(
    `als: ${shown(
      text
        .trim()
        .replace(/^error: /, '')
        .replace(/\n+/g, ' '),
    )} (see --help)\n`,
  );
}

/** The page (and section, with the command's options table) of docs/ that documents each command. */
export function docPage(command: string): string {
  if (command === 'serve') return 'docs/serving.md#options-of-als-serve';
  if (command === 'export' || command === 'import') return `docs/spark-exchange.md#als-${command}`;
  return `docs/commands.md#als-${command}`;
}

export function buildProgram(): Command {
  const program = new Command()
    .name('als')
    .description(
      'Recommendations from implicit feedback (play counts, purchases, clicks) with Alternating Least Squares.',
    )
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ outputError: writeCommanderError });
  registerTrain(program);
  registerInfo(program);
  registerSimilar(program);
  registerRecommend(program);
  registerEvaluate(program);
  registerTune(program);
  registerUpdate(program);
  registerIndex(program);
  registerExport(program);
  registerImport(program);
  registerServe(program);
  program.addHelpText(
    'after',
    `
Examples:
  als train data/lastfm-2k.tsv            train on the sample, model in ./als-model
  als similar "jay-z"                     the artists most like Jay-Z
  als recommend --user user2              new artists for user2
  als evaluate data/lastfm-2k.tsv         precision, recall, MAP, NDCG, AUC vs popularity
  als tune data/lastfm-2k.tsv             search the settings that recommend best
  als recommend --items "radiohead,muse"  recommendations for someone not in the model
  als update new-plays.tsv                add new plays and users without training again
  als index                               an approximate index for a faster similar --all
  als info                                what the model in ./als-model is
  als serve                               answer over HTTP on http://127.0.0.1:8080
  als export --format spark ./spark-model the model as a Spark ALSModel directory
  als import --format spark ./spark-model a Spark ALSModel as an als model

Exit codes: 0 ok, 1 internal error, 2 bad command line, 3 bad input file,
            4 missing or bad model, 5 unknown user or artist, 6 cannot write output

Documentation: README.md and docs/ (docs/commands.md for every command)`,
  );
  for (const command of program.commands) command.addHelpText('after', `\nDocumentation: ${docPage(command.name())}`);
  // subcommands report their own errors through the same path
  for (const command of program.commands) command.exitOverride().configureOutput({ outputError: writeCommanderError });
  return program;
}

/** What a command has done once it finished, said when only printing its report failed. */
const DONE: Record<string, string> = {
  train: 'the model was saved',
  update: 'the model was updated',
  index: 'the index was saved',
  export: 'the model was exported',
  import: 'the model was saved',
};

/** The first write failure of each standard stream (kept for the life of the process). */
const streamFailures = new Map<NodeJS.WriteStream, NodeJS.ErrnoException>();

/**
 * Keeps the first failure of stdout and stderr instead of letting it crash the process: when
 * stdout is a file or device, Node writes synchronously and reports a failure (ENOSPC) as an
 * 'error' event on the next tick; to a pipe it writes asynchronously, and a reader that went
 * away is EPIPE. The listeners stay for the life of the process: an event can come after main
 * has returned.
 */
function watchStandardStreams(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (!stream.listeners('error').includes(keepFailure)) stream.on('error', keepFailure);
  }
}

function keepFailure(this: NodeJS.WriteStream, error: NodeJS.ErrnoException): void {
  if (!streamFailures.has(this)) streamFailures.set(this, error);
}

/** The stream's failure: known at once from `errored`, though its 'error' event comes a tick later. */
function failureOf(stream: NodeJS.WriteStream): NodeJS.ErrnoException | undefined {
  return (stream.errored as NodeJS.ErrnoException | null) ?? streamFailures.get(stream);
}

/** Resolves once everything written to `stream` so far has been handed to the system, or failed. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

/** The reader of a pipe (stdout or a FIFO given as --output) went away: its choice, not an error. */
function readerWentAway(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'EPIPE') return true;
  }
  return false;
}

/**
 * Runs the CLI; resolves to the exit code instead of exiting, so tests can call it. A failure
 * to write standard output (a full disk, a closed terminal) is one line on stderr and exit 6
 * after the command has finished its work (a model is still saved); a reader that closed the
 * pipe early (`als … | head -1`) is exit 0 and no message.
 */
export async function main(argv: string[]): Promise<number> {
  // nothing can be told when stderr itself fails; it must not crash the process either
  watchStandardStreams();
  let command = '';
  const code = await run(argv, (name) => (command = name));
  await flushed(process.stdout);
  const failure = failureOf(process.stdout);
  if (code === EXIT.ok && failure !== undefined && failure.code !== 'EPIPE') {
    const done = DONE[command];
    process.stderr.write(
      `als: cannot write standard output: ${describeWriteErrno(failure)}${done ? ` (${done})` : ''}\n`,
    );
    return EXIT.output;
  }
  return code;
}

async function run(argv: string[], onCommand: (name: string) => void): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const program = buildProgram();
    program.hook('preAction', (_program, action) => onCommand(action.name()));
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed its message (or the help)
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (readerWentAway(error)) return EXIT.ok;
    if (error instanceof AlsError) {
      process.stderr.write(`als: ${shown(cliMessage(error))}\n`);
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
      return exitCodeFor(error.code);
    }
    process.stderr.write(`als: internal error: ${shown((error as Error)?.message ?? String(error))}\n`);
    process.stderr.write(
      debug ? `${(error as Error)?.stack}\n` : 'als: run again with --debug for details, and report it\n',
    );
    return EXIT.internal;
  }
}
