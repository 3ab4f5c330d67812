import type { Command } from 'commander';
import { AlsError } from '../errors.js';
import { loadModel } from '../model/load.js';
import { Explainer, explainUser, type Explanation } from '../query/explain.js';
import { parseItemList, recommendForList, type ListedItem } from '../query/listened.js';
import { mostPlayed, recommendItems } from '../query/recommend.js';
import { writeAllRecommendations } from '../query/recommendAll.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { checkCount, printScored } from './print.js';
import { formatCount, formatSeconds, makeOutput, plural, printJson, type Output } from './output.js';
import { outputTarget } from './outputTarget.js';
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
  explain?: boolean;
}

/** How many played artists an explanation names; the others are summed. */
const EXPLAIN_TOP = 3;

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
    .option('-o, --output <file>', 'with --all: write "user <tab> item <tab> score" lines here (- for standard output)')
    .option('-n, --count <n>', 'recommendations per user', wholeNumber, 10)
    .option('--include-played', 'also recommend artists the user already played')
    .option('--explain', `show the ${EXPLAIN_TOP} played artists that contributed most to each score (ranks by the user's exactly re-solved vector)`)
    .option('--json', 'print {"user", "recommendations": [{"item", "score"}]} as JSON')
    .addHelpText('after', '\nExamples:\n  als recommend --user user2\n  als recommend --user user2 --explain -n 3\n  als recommend --user 0 --json\n  als recommend --items "radiohead,muse,portishead=120"\n  als recommend --all --output recs.tsv -n 20');
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
  if (cli.all && cli.explain) throw new AlsError('usage', '--explain goes with --user or --items, not --all');
  // the list is checked before the model is opened
  const list = cli.items !== undefined ? parseItemList(cli.items) : null;
  const model = loadModel(cli.model);
  if (cli.all) return recommendAll(out, model, cli);
  if (list) return recommendForListener(out, model, list, cli);
  if (cli.explain) return explainForUser(out, model, cli);

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
  const explainer = cli.explain ? new Explainer(model, result.folded) : null;
  const explanations = result.recommendations.map((r) => explainer?.explain(r.index, EXPLAIN_TOP));
  if (cli.json) {
    printJson({
      items: result.found.map((f) => ({ item: f.name, plays: f.plays })),
      unknown: result.unknown.map((u) => u.name),
      recommendations: result.recommendations.map((r, k) => ({ item: r.name, score: r.score, ...explanationJson(explanations[k]) })),
    });
    return;
  }
  const c = out.color;
  out.line(c.bold('Listened to'));
  out.line(`     ${result.found.map((f) => `${f.name} ${c.dim(`(${formatCount(f.plays)})`)}`).join(', ')}`);
  out.line(`${c.bold('Recommended for this listener')}${cli.includePlayed ? c.dim(' (listed artists included)') : ''}`);
  printScored(out, result.recommendations, explainer ? (k) => explanationLine(out, explanations[k] as Explanation) : undefined);
}

/** --user --explain: the user re-solved exactly, since only that vector's scores split exactly. */
function explainForUser(out: Output, model: AlsModel, cli: RecommendCliOptions): void {
  const { user, userIndex, recommendations } = explainUser(model, cli.user as string, {
    count: cli.count,
    includePlayed: cli.includePlayed,
    top: EXPLAIN_TOP,
  });
  if (cli.json) {
    printJson({
      user,
      recommendations: recommendations.map((r) => ({ item: r.name, score: r.score, ...explanationJson(r.explanation), stored: r.stored })),
    });
    return;
  }
  const c = out.color;
  let drift = 0;
  for (const r of recommendations) drift = Math.max(drift, Math.abs(r.stored - r.explanation.score) / Math.abs(r.explanation.score));
  const played = mostPlayed(model, userIndex, 5);
  out.line(`${c.bold('Most played by')} ${c.cyan(user)}`);
  out.line(`     ${played.map((p) => `${p.name} ${c.dim(`(${formatCount(p.plays)})`)}`).join(', ')}`);
  out.line(`${c.bold('Recommended for')} ${c.cyan(user)}${cli.includePlayed ? c.dim(' (played artists included)') : ''}`);
  out.line(c.dim(`     (ranked and explained by ${user}'s vector re-solved exactly against the item factors; the stored vector's scores differ by up to ${(drift * 100).toFixed(1)}%)`));
  printScored(out, recommendations, (k) => explanationLine(out, recommendations[k].explanation));
}

function explanationJson(explanation: Explanation | undefined): object {
  if (!explanation) return {};
  return {
    explained: explanation.score,
    contributions: explanation.contributions.map((c) => ({ item: c.name, share: c.share, value: c.value })),
    others: explanation.others,
  };
}

/** "0.4123 = Duran Duran 21% + Erasure 15% + a-ha 12% + 47 others 52%" */
function explanationLine(out: Output, e: Explanation): string {
  const percent = (share: number) => `${Math.round(share * 100)}%`;
  const parts = e.contributions.map((c) => `${c.name} ${percent(c.share)}`);
  if (e.others.items > 0) parts.push(`${plural(e.others.items, 'other')} ${percent(e.others.share)}`);
  return out.color.dim(`       ${e.score.toFixed(4)} = ${parts.join(' + ')}`);
}

async function recommendAll(out: Output, model: AlsModel, cli: RecommendCliOptions): Promise<void> {
  const started = performance.now();
  const target = outputTarget(cli.output as string);
  // `--output -`: the lines are the output, with no bar or summary among them
  const toStdout = target === process.stdout;
  const bar = startProgress(out.interactive && !toStdout, 'Recommending |{bar}| {percentage}% | {value}/{total} users | ETA {eta_formatted}', model.users);
  const lines = await writeAllRecommendations(model, target, { count: cli.count, includePlayed: cli.includePlayed }, (users) =>
    bar.update(users),
  ).finally(() => bar.stop());
  if (toStdout) return;
  const seconds = (performance.now() - started) / 1000;
  if (cli.json) printJson({ output: cli.output, users: model.users, lines, seconds });
  else if (!out.quiet) out.line(`Wrote ${formatCount(lines)} recommendations for ${formatCount(model.users)} users to ${cli.output} ${out.color.dim(`(${formatSeconds(seconds)})`)}`);
}
