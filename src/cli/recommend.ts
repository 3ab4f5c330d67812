import type { Command } from 'commander';
import { AlsError } from '../errors.js';
import { loadModel } from '../model/load.js';
import { parseItemList, recommendForList, type ListedItem } from '../query/listened.js';
import { mostPlayed, recommendItems } from '../query/recommend.js';
import { writeAllRecommendations } from '../query/recommendAll.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { checkCount, printScored } from './print.js';
import { formatCount, formatSeconds, makeOutput, printJson, type Output } from './output.js';
import { startProgress } from './progress.js';
import type { AlsModel } from '../model/model.js';

interface RecommendCliOptions extends CommonOptions {
  user?: string;
  items?: string;
  all?: boolean;
  output?: string;
  count: number;
  json?: boolean;
  includePlayed?: boolean;
}

export function registerRecommend(program: Command): void {
  const command = program
    .command('recommend')
    .summary('the best new artists (items) for a user, or for every user')
    .description(
      'Recommend the artists a user is most likely to want, leaving out what the user already ' +
        'played; scores are min-max scaled to 0..1 over all candidates. The user is named by the ' +
        'id in the training file; a whole number that is no user id is taken as the 0-based row. ' +
        'With --items, the user is anyone: a list of artists is folded into the model as a new user.',
    )
    .option('-u, --user <id>', 'user id (or 0-based row number)')
    .option('-i, --items <list>', 'recommend for someone who played these artists: "name,name=plays,…" (plays default to the median play count)')
    .option('--all', 'recommend for every user (needs --output)')
    .option('-o, --output <file>', 'with --all: write "user <tab> item <tab> score" lines here')
    .option('-n, --count <n>', 'recommendations per user', wholeNumber, 10)
    .option('--include-played', 'also recommend artists the user already played')
    .option('--json', 'print {"user", "recommendations": [{"item", "score"}]} as JSON')
    .addHelpText('after', '\nExamples:\n  als recommend --user user2\n  als recommend --user 0 --json\n  als recommend --items "radiohead,muse,portishead=120"\n  als recommend --all --output recs.tsv -n 20');
  addCommonOptions(command).action(runRecommend);
}

async function runRecommend(cli: RecommendCliOptions): Promise<void> {
  const out = makeOutput(cli);
  checkCount(cli.count);
  const given = [cli.user !== undefined && '--user', cli.items !== undefined && '--items', cli.all && '--all'].filter(Boolean);
  if (given.length > 1) throw new AlsError('usage', `give one of --user, --items and --all, not ${given.join(' and ')}`);
  if (given.length === 0) throw new AlsError('usage', 'which user? give --user <id> or --items "artist,artist=plays" (or --all --output FILE)');
  if (cli.all && !cli.output) throw new AlsError('usage', '--all writes a file: give --output FILE');
  if (!cli.all && cli.output) throw new AlsError('usage', '--output goes with --all');
  // the list is checked before the model is opened
  const list = cli.items !== undefined ? parseItemList(cli.items) : null;
  const model = loadModel(cli.model);
  if (cli.all) return recommendAll(out, model, cli);
  if (list) return recommendForListener(out, model, list, cli);

  const { user, userIndex, recommendations } = recommendItems(model, cli.user as string, {
    count: cli.count,
    includePlayed: cli.includePlayed,
  });
  if (cli.json) {
    printJson({ user, recommendations: recommendations.map((r) => ({ item: r.name, score: r.score })) });
    return;
  }
  const c = out.color;
  const played = mostPlayed(model, userIndex, 5);
  out.line(`${c.bold('Most played by')} ${c.cyan(user)}`);
  out.line(`     ${played.map((p) => `${p.name} ${c.dim(`(${formatCount(p.plays)})`)}`).join(', ')}`);
  out.line(`${c.bold('Recommended for')} ${c.cyan(user)}${cli.includePlayed ? c.dim(' (played artists included)') : ''}`);
  printScored(out, recommendations);
}

async function recommendForListener(out: Output, model: AlsModel, list: ListedItem[], cli: RecommendCliOptions): Promise<void> {
  const result = recommendForList(model, list, { count: cli.count, includePlayed: cli.includePlayed });
  for (const u of result.unknown) out.warn(`${u.message} (left out)`);
  if (cli.json) {
    printJson({
      items: result.found.map((f) => ({ item: f.name, plays: f.plays })),
      unknown: result.unknown.map((u) => u.name),
      recommendations: result.recommendations.map((r) => ({ item: r.name, score: r.score })),
    });
    return;
  }
  const c = out.color;
  out.line(c.bold('Listened to'));
  out.line(`     ${result.found.map((f) => `${f.name} ${c.dim(`(${formatCount(f.plays)})`)}`).join(', ')}`);
  out.line(`${c.bold('Recommended for this listener')}${cli.includePlayed ? c.dim(' (listed artists included)') : ''}`);
  printScored(out, result.recommendations);
}

async function recommendAll(out: Output, model: AlsModel, cli: RecommendCliOptions): Promise<void> {
  const started = performance.now();
  const bar = startProgress(out.interactive, 'Recommending |{bar}| {percentage}% | {value}/{total} users | ETA {eta_formatted}', model.users);
  const lines = await writeAllRecommendations(model, cli.output as string, { count: cli.count, includePlayed: cli.includePlayed }, (users) =>
    bar.update(users),
  ).finally(() => bar.stop());
  const seconds = (performance.now() - started) / 1000;
  if (cli.json) printJson({ output: cli.output, users: model.users, lines, seconds });
  else if (!out.quiet) out.line(`Wrote ${formatCount(lines)} recommendations for ${formatCount(model.users)} users to ${cli.output} ${out.color.dim(`(${formatSeconds(seconds)})`)}`);
}
