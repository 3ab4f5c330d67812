import type { Command } from 'commander';
import { AlsError } from '../errors.js';
import { oneQuery, withModel } from './withModel.js';
import { artistWords } from './errorHints.js';
import { Explainer, explainUserRow, type Explanation } from '../query/explain.js';
import { parseItemList, recommendForList, type ListedItem } from '../query/listened.js';
import { findUser, userIdOfRow } from '../query/lookup.js';
import { mostPlayed, recommendForRow } from '../query/recommend.js';
import { writeAllRecommendations } from '../query/recommendAll.js';
import { addCommonOptions, wholeNumber, type CommonOptions } from './parse.js';
import { checkCount, printScored } from './print.js';
import { formatCount, formatSeconds, makeOutput, plural, printJson, shown, type Output } from './output.js';
import { isStandardOutput, outputSharesTerminal, outputTarget } from './outputTarget.js';
import { startProgress } from './progress.js';
import type { AlsModel } from '../model/model.js';

interface RecommendCliOptions extends CommonOptions {
  user?: string;
  row?: number;
  items?: string;
  all?: boolean;
  output?: string;
  count: number;
  json?: boolean;
  includePlayed?: boolean;
  explain?: boolean;
  pruned?: boolean;
}

/** Unknown names of --items warned about one by one; the rest are counted in one line. */
const WARNED_UNKNOWNS = 5;

/** Runs `parse`, prefixing a usage error with the option it came from. */
function withFlag<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AlsError && error.code === 'usage')
      throw new AlsError('usage', `${flag}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** The row of the user whose id is `id`; a whole number that is no id gets a hint about --row. */
function withRowHint(model: AlsModel, id: string): number {
  try {
    return findUser(model.userIds, id);
  } catch (error) {
    if (error instanceof AlsError && /^\d+$/.test(id) && Number(id) < model.users) {
      throw new AlsError(
        'not-found',
        `${error.message} (ids are matched exactly; --row ${id} picks the user in row ${id})`,
        { cause: error },
      );
    }
    throw error;
  }
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
        'id in the training file (an id is never taken for a row number: --row picks by row). ' +
        'With --items, the user is anyone: a list of artists is folded into the model as a new user.',
    )
    .option('-u, --user <id>', 'user id, exactly as in the training file')
    .option(
      '--row <n>',
      'the user in this 0-based row of the model (see `als info` for the number of users)',
      wholeNumber,
    )
    .option(
      '-i, --items <list>',
      'recommend for someone who played these artists: "name,name=plays,…" (plays default to the median play count)',
    )
    .option('--all', 'recommend for every user (needs --output)')
    .option('-o, --output <file>', 'with --all: write "user <tab> item <tab> score" lines here (- for standard output)')
    .option('-n, --count <n>', 'recommendations per user', wholeNumber, 10)
    .option('--include-played', 'also recommend artists the user already played')
    .option(
      '--pruned',
      "with --all: score artists from the largest factors down and stop once no other can make a user's list: " +
        'the same artists in the same order, far faster when a few artists are much more popular than the rest, ' +
        "but scores scaled from the lowest score possible (−‖user‖·max ‖artist‖) rather than the lowest artist's",
    )
    .option(
      '--explain',
      `show the ${EXPLAIN_TOP} played artists that contributed most to each score (ranks by the user's exactly re-solved vector)`,
    )
    .option('--json', 'print {"user", "recommendations": [{"item", "score"}]} as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  als recommend --user user2\n  als recommend --user user2 --explain -n 3\n  als recommend --row 0 --json\n  als recommend --items "radiohead,muse,portishead=120"\n  als recommend --all --output recs.tsv -n 20',
    );
  addCommonOptions(command).action(runRecommend);
}

async function runRecommend(cli: RecommendCliOptions): Promise<void> {
  const out = makeOutput(cli);
  checkCount(cli.count);
  const given = [
    cli.user !== undefined && '--user',
    cli.row !== undefined && '--row',
    cli.items !== undefined && '--items',
    cli.all && '--all',
  ].filter(Boolean);
  if (given.length > 1)
    throw new AlsError('usage', `give one of --user, --row, --items and --all, not ${given.join(' and ')}`);
  if (given.length === 0)
    throw new AlsError(
      'usage',
      'which user? give --user <id>, --row <n> or --items "artist,artist=plays" (or --all --output FILE)',
    );
  if (cli.all && !cli.output) throw new AlsError('usage', '--all writes a file: give --output FILE');
  if (!cli.all && cli.output) throw new AlsError('usage', '--output goes with --all');
  if (cli.all && cli.explain) throw new AlsError('usage', '--explain goes with --user or --items, not --all');
  if (!cli.all && cli.pruned) throw new AlsError('usage', '--pruned goes with --all');
  // the list is checked before the model is opened
  const list = cli.items !== undefined ? withFlag('--items', () => parseItemList(cli.items as string)) : null;
  if (list?.length === 0)
    throw new AlsError(
      'usage',
      '--items: the list is empty; give artist names separated by commas, e.g. --items "radiohead,muse=120"',
    );
  return withModel(
    cli.model,
    async (model) => {
      if (cli.all) return recommendAll(out, model, cli);
      if (list) return recommendForListener(out, model, list, cli);
      // --row answers for that row itself: its id looked up again would find the first row of that
      // id, another user's if ids repeat in a model from elsewhere
      let userIndex: number;
      if (cli.row !== undefined) {
        userIdOfRow(model.userIds, cli.row); // a row past the last is "not found", naming the rows
        userIndex = cli.row;
      } else userIndex = withRowHint(model, cli.user as string);
      if (cli.explain) return explainForUser(out, model, userIndex, cli);

      const user = model.userIds[userIndex];
      const recommendations = recommendForRow(model, userIndex, { count: cli.count, includePlayed: cli.includePlayed });
      if (cli.json) {
        printJson({
          user,
          recommendations: recommendations.map((r) => ({ item: r.name, score: r.score, raw: r.raw })),
        });
        return;
      }
      const c = out.color;
      const played = mostPlayed(model, userIndex, 5);
      out.line(`${c.bold('Most played by')} ${c.cyan(shown(user))}`);
      out.line(
        `     ${played.length > 0 ? played.map((p) => `${shown(p.name)} ${c.dim(`(${formatCount(p.plays)})`)}`).join(', ') : c.dim('(no play counts in the model)')}`,
      );
      out.line(
        `${c.bold('Recommended for')} ${c.cyan(shown(user))}${cli.includePlayed ? c.dim(' (played artists included)') : ''}`,
      );
      printScored(out, recommendations);
    },
    cli.all ? {} : oneQuery(),
  );
}

async function recommendForListener(
  out: Output,
  model: AlsModel,
  list: ListedItem[],
  cli: RecommendCliOptions,
): Promise<void> {
  const result = recommendForList(model, list, { count: cli.count, includePlayed: cli.includePlayed });
  for (const u of result.unknown.slice(0, WARNED_UNKNOWNS)) out.warn(`${artistWords(u.message)} (left out)`);
  const unwarned = result.unknown.length - WARNED_UNKNOWNS;
  if (unwarned > 0) out.warn(`and ${plural(unwarned, 'other unknown name')} (left out)`);
  const explainer = cli.explain ? new Explainer(model, result.folded) : null;
  const explanations = result.recommendations.map((r) => explainer?.explain(r.index, EXPLAIN_TOP));
  if (cli.json) {
    printJson({
      items: result.found.map((f) => ({ item: f.name, plays: f.plays })),
      unknown: result.unknown.map((u) => u.name),
      recommendations: result.recommendations.map((r, k) => ({
        item: r.name,
        score: r.score,
        raw: r.raw,
        ...explanationJson(explanations[k]),
      })),
    });
    return;
  }
  const c = out.color;
  out.line(c.bold('Listened to'));
  out.line(`     ${result.found.map((f) => `${shown(f.name)} ${c.dim(`(${formatCount(f.plays)})`)}`).join(', ')}`);
  out.line(`${c.bold('Recommended for this listener')}${cli.includePlayed ? c.dim(' (listed artists included)') : ''}`);
  printScored(
    out,
    result.recommendations,
    explainer ? (k) => explanationLine(out, explanations[k] as Explanation) : undefined,
  );
}

/** --user --explain: the user re-solved exactly, since only that vector's scores split exactly. */
function explainForUser(out: Output, model: AlsModel, row: number, cli: RecommendCliOptions): void {
  // an explanation splits the scores over the user's plays: a user without any (a model imported
  // without --plays has none at all) would get every score as 0 and nothing to show
  const { indptr } = model.userItems;
  if (indptr[row + 1] === indptr[row]) {
    const why =
      indptr[model.users] === 0
        ? `${cli.model} holds no play counts (imported without --plays; import again with --plays FILE)`
        : 'that user has no play counts in the model';
    throw new AlsError('usage', `--explain splits scores over the user's plays, but ${why}`);
  }
  const { user, userIndex, recommendations } = explainUserRow(model, row, {
    count: cli.count,
    includePlayed: cli.includePlayed,
    top: EXPLAIN_TOP,
  });
  if (cli.json) {
    printJson({
      user,
      recommendations: recommendations.map((r) => ({
        item: r.name,
        score: r.score,
        raw: r.raw,
        ...explanationJson(r.explanation),
        stored: r.stored,
      })),
    });
    return;
  }
  const c = out.color;
  let drift = 0;
  for (const r of recommendations)
    drift = Math.max(drift, Math.abs(r.stored - r.explanation.score) / Math.abs(r.explanation.score));
  const played = mostPlayed(model, userIndex, 5);
  out.line(`${c.bold('Most played by')} ${c.cyan(shown(user))}`);
  out.line(`     ${played.map((p) => `${shown(p.name)} ${c.dim(`(${formatCount(p.plays)})`)}`).join(', ')}`);
  out.line(
    `${c.bold('Recommended for')} ${c.cyan(shown(user))}${cli.includePlayed ? c.dim(' (played artists included)') : ''}`,
  );
  out.line(
    c.dim(
      `     (ranked and explained by ${shown(user)}'s vector re-solved exactly against the item factors; the stored vector's scores differ by up to ${(drift * 100).toFixed(1)}%)`,
    ),
  );
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
  const parts = e.contributions.map((c) => `${shown(c.name)} ${percent(c.share)}`);
  if (e.others.items > 0) parts.push(`${plural(e.others.items, 'other')} ${percent(e.others.share)}`);
  return out.color.dim(`       ${e.score.toFixed(4)} = ${parts.join(' + ')}`);
}

async function recommendAll(out: Output, model: AlsModel, cli: RecommendCliOptions): Promise<void> {
  const started = performance.now();
  const target = outputTarget(cli.output as string);
  // `--output -`: the lines are the output, with no bar or summary among them; no bar among
  // lines to stderr or a terminal either
  const toStdout = isStandardOutput(cli.output as string);
  const bar = startProgress(
    out.interactive && !outputSharesTerminal(cli.output as string),
    'Recommending |{bar}| {percentage}% | {value}/{total} users | ETA {eta_formatted}',
    model.users,
  );
  const lines = await writeAllRecommendations(
    model,
    target,
    { count: cli.count, includePlayed: cli.includePlayed, pruned: cli.pruned ?? false },
    (users) => bar.update(users),
  ).finally(() => bar.stop());
  if (toStdout) return;
  const seconds = (performance.now() - started) / 1000;
  const search = cli.pruned ? 'pruned' : 'exact';
  if (cli.json) printJson({ output: cli.output, users: model.users, lines, search, seconds });
  else if (!out.quiet)
    out.line(
      `Wrote ${formatCount(lines)} recommendations for ${formatCount(model.users)} users to ${shown(cli.output as string)} ${out.color.dim(`(${cli.pruned ? 'pruned; ' : ''}${formatSeconds(seconds)})`)}`,
    );
}
