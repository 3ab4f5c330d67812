import { Option, type Command } from 'commander';
import { AlsError } from '../errors.js';
import { INPUT_FORMATS, type InputFormat } from '../data/read.js';
import { updateModelDirectory } from '../model/updateDirectory.js';
import { formatCount, formatSeconds, makeOutput, plural, printJson, shown } from './output.js';
import { droppedIndexNotice, lockWaitNotice } from './train.js';
import { addCommonOptions, type CommonOptions } from './parse.js';
import { readInput } from './train.js';

interface UpdateCliOptions extends CommonOptions {
  format?: InputFormat;
  strict?: boolean;
  json?: boolean;
}

export function registerUpdate(program: Command): void {
  const command = program
    .command('update')
    .summary('add new plays to a model without training it again')
    .description(
      'Read new (user, item, count) rows: plays of existing users are added to their rows, new ' +
        'users are appended, and only those users are re-solved exactly against the fixed item ' +
        'factors. Rows for artists the model does not know are counted and left out; learning ' +
        'them takes a full `als train`. The model is replaced atomically, or left as it was.',
    )
    .argument('<file>', 'interactions file (.gz is read transparently)')
    .addOption(
      new Option('-f, --format <format>', 'input format (default: the one the model was trained on)').choices(
        INPUT_FORMATS,
      ),
    )
    .option('--strict', 'stop at the first malformed row instead of skipping it')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  als update new-plays.tsv\n  als update march.csv --format csv --model ./als-model',
    );
  addCommonOptions(command).action(runUpdate);
}

async function runUpdate(file: string, cli: UpdateCliOptions): Promise<void> {
  const out = makeOutput(cli);
  const started = performance.now();
  // one writer at a time, from before the model is read until the new one is saved: a second
  // update waits and then applies its rows to the first one's result (issue 9, class 5)
  let format: InputFormat = 'lastfm';
  const result = await updateModelDirectory(
    cli.model,
    (model) => {
      format = cli.format ?? model.input?.format ?? 'lastfm';
      const assumed = format;
      return readInput(out, file, { format, strict: cli.strict }).catch((error) => {
        // a file of another format has no usable row: say which format was assumed
        if (error instanceof AlsError && cli.format === undefined && /no usable row/.test(error.message)) {
          throw new AlsError(
            'input',
            `${error.message}; read as ${assumed}, the model's format (--format reads another)`,
            { cause: error },
          );
        }
        throw error;
      });
    },
    { onLockWait: lockWaitNotice(out, cli.model) },
  );
  const { data, solveSeconds } = result;
  const { summary } = result;
  const seconds = (performance.now() - started) / 1000;

  if (cli.json) {
    printJson({
      model: cli.model,
      changed: !result.unchanged,
      read: { ...data.stats, seconds: undefined },
      usersUpdated: summary.usersUpdated,
      usersAdded: summary.usersAdded,
      addedUsers: result.addedUsers,
      unknownItemPairs: summary.unknownItemPairs,
      unknownItems: summary.unknownItems,
      unknownExamples: result.unknownExamples,
      users: result.model.users,
      interactions: result.model.userItems.indptr[result.model.users],
      itemIndex: result.saved?.itemIndex === 'saved' ? 'kept' : (result.saved?.itemIndex ?? null),
      seconds: { solve: solveSeconds, total: seconds },
    });
  }
  droppedIndexNotice(out, result.saved, cli.model);
  if (summary.unknownItems > 0) {
    const examples = result.unknownExamples.map((n) => JSON.stringify(n)).join(', ');
    out.warn(
      `${plural(summary.unknownItemPairs, 'user–artist pair')} for ${plural(summary.unknownItems, 'artist')} not in the model left out ` +
        `(${examples}${summary.unknownItems > result.unknownExamples.length ? ', …' : ''}); a full \`als train\` learns new artists`,
    );
  }
  if (cli.json || out.quiet) return;
  const c = out.color;
  const label = (text: string) => c.bold(text.padEnd(9));
  const { stats } = data;
  out.line(
    `${label('Read')}${stats.file}: ${plural(stats.rows, 'row')} (${format}), ${formatCount(stats.skipped)} skipped, ` +
      `${formatCount(stats.zeroCounts)} with count 0 ${c.dim(`(${formatSeconds(stats.seconds)})`)}`,
  );
  if (result.unchanged) {
    out.line(`Nothing to update: no row is for an artist in the model, so ${shown(cli.model)} was left as it was`);
    return;
  }
  const added =
    result.addedUsers.length > 0
      ? ` (${result.addedUsers.slice(0, 3).map(shown).join(', ')}${result.addedUsers.length > 3 ? ', …' : ''})`
      : '';
  out.line(
    `${label('Updated')}${plural(summary.usersUpdated, 'user')} re-solved, ${plural(summary.usersAdded, 'new user')} added${added} ` +
      c.dim(`(${formatSeconds(solveSeconds)})`),
  );
  const m = result.model;
  out.line(
    `${label('Saved')}${shown(cli.model)}: ${plural(m.users, 'user')} × ${plural(m.items, 'item')}, ${plural(m.userItems.indptr[m.users], 'interaction')}` +
      (result.saved?.itemIndex === 'saved' ? c.dim(' (its item index kept: the indexed artists are the same)') : ''),
  );
}
