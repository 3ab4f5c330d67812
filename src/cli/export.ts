import { Option, type Command } from 'commander';
import { withModel } from './withModel.js';
import { addCommonOptions, type CommonOptions } from './parse.js';
import { formatBytes, formatSeconds, makeOutput, plural, printJson, shown } from './output.js';

/** The formats `als export` writes. */
export const EXPORT_FORMATS = ['spark'] as const;

interface ExportCliOptions extends CommonOptions {
  format: (typeof EXPORT_FORMATS)[number];
  json?: boolean;
}

export function registerExport(program: Command): void {
  const command = program
    .command('export')
    .summary("write the model in another engine's format (a Spark ALSModel directory)")
    .description(
      'Write the model as a Spark ML ALSModel directory that ALSModel.load reads: metadata/, ' +
        'userFactors/ and itemFactors/ (Parquet: id int, features array<float>), plus userIds/ and ' +
        "itemIds/ (Parquet: id int, name string) that map Spark's integer ids to the model's user ids " +
        'and artist names (user row u is Spark id u). The directory is written whole or not at all; ' +
        'a new path, an empty directory or an earlier export is written, anything else is refused.',
    )
    .argument('<dir>', 'the directory to write')
    .addOption(new Option('--format <format>', 'the format to write').choices(EXPORT_FORMATS).makeOptionMandatory())
    .option('--json', 'print {"dir", "format", "users", "items", "rank", "uid", "bytes", "seconds"} as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  als export --format spark ./spark-model\n  als export --format spark --model ./als-model /data/models/als-spark --json',
    );
  addCommonOptions(command).action(runExport);
}

async function runExport(dir: string, cli: ExportCliOptions): Promise<void> {
  const out = makeOutput(cli);
  const started = performance.now();
  // loaded here, not with the CLI: the Parquet library costs every other command ~90 ms of start-up
  const { exportSparkModel } = await import('../model/sparkFormat.js');
  const written = await withModel(cli.model, (model) => exportSparkModel(model, dir, { source: cli.model }));
  const seconds = (performance.now() - started) / 1000;
  if (cli.json) {
    printJson({
      dir: written.dir,
      format: cli.format,
      users: written.users,
      items: written.items,
      rank: written.rank,
      uid: written.uid,
      bytes: written.bytes,
      seconds,
    });
    return;
  }
  if (out.quiet) return;
  const c = out.color;
  out.line(
    `${c.bold('Exported')} ${shown(cli.model)} to ${shown(dir)} as a Spark ALSModel: ${plural(written.users, 'user')} × ${plural(written.items, 'item')}, ` +
      `rank ${written.rank} ${c.dim(`(${formatBytes(written.bytes)}, ${formatSeconds(seconds)})`)}`,
  );
  out.line(
    c.dim(
      `Load it in Spark with ALSModel.load(${JSON.stringify(written.dir)}); userIds/ and itemIds/ map Spark's ids to names`,
    ),
  );
}
