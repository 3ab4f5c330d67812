import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { AlsError } from '../errors.js';
import { EXIT, exitCodeFor } from './exitCodes.js';
import { registerEvaluate } from './evaluate.js';
import { registerInfo } from './info.js';
import { registerRecommend } from './recommend.js';
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
  write(`als: ${text.trim().replace(/^error: /, '').replace(/\n+/g, ' ')} (see --help)\n`);
}

export function buildProgram(): Command {
  const program = new Command()
    .name('als')
    .description('Recommendations from implicit feedback (play counts, purchases, clicks) with Alternating Least Squares.')
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
  als info                                what the model in ./als-model is

Exit codes: 0 ok, 1 internal error, 2 bad command line, 3 bad input file,
            4 missing or bad model, 5 unknown user or artist, 6 cannot write output`,
  );
  // subcommands report their own errors through the same path
  for (const command of program.commands) command.exitOverride().configureOutput({ outputError: writeCommanderError });
  return program;
}

/** Runs the CLI; resolves to the exit code instead of exiting, so tests can call it. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  // `als similar x | head -1` closes the pipe early: that is the reader's choice, not an error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    throw error;
  });
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed its message (or the help)
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof AlsError) {
      process.stderr.write(`als: ${error.message}\n`);
      if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
      return exitCodeFor(error.code);
    }
    process.stderr.write(`als: internal error: ${(error as Error)?.message ?? String(error)}\n`);
    process.stderr.write(debug ? `${(error as Error)?.stack}\n` : 'als: run again with --debug for details, and report it\n');
    return EXIT.internal;
  }
}
