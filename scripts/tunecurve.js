#!/usr/bin/env node
// Does `als tune` reach its best with fewer trials than before (issue 12)? Runs the search as it
// was before successive halving (half uniform random, half near the best, every trial trained in
// full, the first trial the library's defaults; commit 6edf2a6) and the search of this build (its
// first setting the data rule's choice, as in `als tune`) on the Last.fm sample and panel data sets of
// scripts/freqgrid.js, with the same seed (hence the same fit/validation split), maximising
// precision@10, and writes the best-so-far curves (by settings tried and by seconds) to JSON and
// Markdown tables (docs/choosing-settings.md).
//
//   node scripts/tunecurve.js [--old DIR] [--out FILE] [--only NAME,…] [--old-trials N] [--new-trials N]
//   node scripts/tunecurve.js --shares [--only NAME,…] [--new-trials 64] [--time-budget 600] [--seeds 1,2,3]
//   node scripts/tunecurve.js --from bench/tunecurve.json      (the tables again, from saved numbers)
//
// Needs `npm run build`, and the old search built in DIR (default /tmp/als-old):
//   mkdir /tmp/als-old && git archive 6edf2a6 src test tsconfig.json package.json | tar -x -C /tmp/als-old
//   ln -s "$PWD/node_modules" /tmp/als-old/ && (cd /tmp/als-old && npx tsc -p tsconfig.json)
//   (cd /tmp/als-old && npm run build:wasm)
// The panel sets are those of scripts/panel.js (its synthetic sets made once into bench/data/).
//
// With --shares, it also measures, per data set and split seed, the defaults rule of `als train`
// against the best settings the new search finds (--new-trials settings, and --time-budget seconds
// as `als tune --time-budget` has; its first trial is the rule's choice, as in `als tune`): both are
// trained on the seed's train split and scored on its test split (as `als evaluate`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluate, tune } from '../dist/src/index.js';
import { defaultsFor, profileData } from '../dist/src/advanced.js';
import { panelSet } from './panel.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'bench', 'tunecurve.json') },
    from: { type: 'string' },
    old: { type: 'string', default: '/tmp/als-old' },
    only: { type: 'string', default: 'lastfm,clicks-01,few-items' },
    'old-trials': { type: 'string', default: '30' },
    'new-trials': { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    shares: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '1,2,3' },
    'time-budget': { type: 'string' },
  },
});
const K = 10;
const METRIC = 'precision';
const OLD_TRIALS = Number(args['old-trials']);
const NEW_TRIALS = Number(args['new-trials']);
const SEED = Number(args.seed);
const THREADS = Number(args.threads);
// the curves run every setting; --time-budget SECONDS stops a search as `als tune --time-budget` does
const BUDGET = args['time-budget'] === undefined ? 24 * 3600 : Number(args['time-budget']);

const describe = (o) =>
  `${o.weighting} α=${o.alpha} λ=${o.regularization}${o.regularizationExponent ? ` ν=${o.regularizationExponent}` : ''} f=${o.factors} it=${o.iterations}`;

/** The old search, every trial in full: best so far after each trial. */
async function runOld(oldTune, plays) {
  const started = performance.now();
  const curve = [];
  const result = await oldTune(
    plays,
    { trials: OLD_TRIALS, k: K, metric: METRIC, seed: SEED, timeBudgetSeconds: BUDGET, fixed: { threads: THREADS } },
    {
      onTrial: (trial, best) =>
        curve.push({
          settings: trial.number,
          trainings: trial.number,
          seconds: (performance.now() - started) / 1000,
          best: best.metrics[METRIC],
          bestNumber: best.number,
        }),
    },
  );
  return { curve, best: describe(result.best.options), test: result.test.best[METRIC], seconds: result.searchSeconds };
}

/** `defaults`: the first trial's settings (als tune's: the data rule of als train; else the library's). */
async function runNew(plays, trials = NEW_TRIALS, seed = SEED, defaults = undefined) {
  const result = await tune(plays, {
    trials,
    k: K,
    metric: METRIC,
    seed,
    timeBudgetSeconds: BUDGET,
    fixed: { threads: THREADS },
    ...(defaults ? { defaults } : {}),
  });
  return {
    curve: result.bestSoFar,
    stoppedBy: result.stoppedBy,
    settingsTried: result.trials.length,
    best: describe(result.best.options),
    bestOptions: result.best.options,
    bestNumber: result.best.number,
    test: result.test.best[METRIC],
    seconds: result.searchSeconds,
  };
}

/** The first point of `curve` at or above `value` (the curve's own best when `value` is its last). */
const reaches = (curve, value) => curve.find((p) => p.best >= value - 1e-12);

let saved;
if (args.from) saved = JSON.parse(readFileSync(args.from, 'utf8'));
else {
  saved = existsSync(args.out)
    ? JSON.parse(readFileSync(args.out, 'utf8'))
    : { k: K, metric: METRIC, seed: SEED, curves: [], shares: [] };
  saved.oldTrials = OLD_TRIALS;
  saved.newTrials = NEW_TRIALS;
  const names = args.only.split(',');
  if (!args.shares) {
    const { tune: oldTune } = await import(pathToFileURL(join(resolve(args.old), 'dist', 'src', 'eval', 'tune.js')));
    for (const name of names) {
      const data = await panelSet(name);
      process.stderr.write(`${name}: old search (${OLD_TRIALS} trials)…\n`);
      const old = await runOld(oldTune, data.userItems);
      process.stderr.write(`${name}: new search (${NEW_TRIALS} settings)…\n`);
      // as als tune: the first setting is the data rule's choice, which the old search did not have
      const fresh = await runNew(data.userItems, NEW_TRIALS, SEED, defaultsFor(profileData(data.userItems)).options);
      delete fresh.bestOptions;
      saved.curves = saved.curves.filter((c) => c.dataset !== name);
      saved.curves.push({ dataset: name, old, new: fresh });
      writeFileSync(args.out, `${JSON.stringify(saved, null, 1)}\n`);
    }
  } else {
    const seeds = args.seeds.split(',').map(Number);
    for (const name of names) {
      const data = await panelSet(name);
      const rule = defaultsFor(profileData(data.userItems));
      for (const seed of seeds) {
        process.stderr.write(`${name} seed ${seed}: tune (${NEW_TRIALS} settings)…\n`);
        const tuned = await runNew(data.userItems, NEW_TRIALS, seed, rule.options);
        const score = async (options) =>
          (await evaluate(data, { k: K, seed, trainOptions: { ...options, threads: THREADS, seed } })).model;
        const ruleMetrics = await score(rule.options);
        const tunedMetrics = await score(tuned.bestOptions);
        saved.shares = saved.shares.filter((s) => !(s.dataset === name && s.seed === seed));
        saved.shares.push({
          dataset: name,
          seed,
          trials: NEW_TRIALS,
          rule: rule.rule,
          tuned: tuned.best,
          tuneSeconds: tuned.seconds,
          stoppedBy: tuned.stoppedBy,
          settingsTried: tuned.settingsTried,
          bestNumber: tuned.bestNumber,
          precision: { rule: ruleMetrics.precision, tuned: tunedMetrics.precision },
          ndcg: { rule: ruleMetrics.ndcg, tuned: tunedMetrics.ndcg },
        });
        writeFileSync(args.out, `${JSON.stringify(saved, null, 1)}\n`);
      }
    }
  }
}

// ---- tables ----
const f4 = (x) => (x === undefined ? '' : x.toFixed(4));
const at = (curve, settings) => {
  let value;
  for (const p of curve) if (p.settings <= settings) value = p.best;
  return value;
};
const atSeconds = (curve, seconds) => {
  let value;
  for (const p of curve) if (p.seconds <= seconds) value = p.best;
  return value;
};
if (saved.curves.length > 0) {
  console.log(
    `**Best validation precision@${saved.k} so far, by settings tried** (old: ${saved.oldTrials} trials, each trained in full; new: ${saved.newTrials} settings with successive halving; seed ${saved.seed})\n`,
  );
  const marks = [1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 64].filter(
    (n) => n <= Math.max(saved.oldTrials, saved.newTrials),
  );
  console.log(`| data set | search | ${marks.join(' | ')} | reaches its best at | search seconds |`);
  console.log(`|---|---|${marks.map(() => '---').join('|')}|---|---|`);
  for (const c of saved.curves) {
    for (const [label, run] of [
      ['old', c.old],
      ['new', c.new],
    ]) {
      const final = run.curve[run.curve.length - 1].best;
      const reached = reaches(run.curve, final);
      console.log(
        `| ${c.dataset} | ${label} | ${marks.map((n) => f4(at(run.curve, n))).join(' | ')} | setting ${reached.settings} (${reached.seconds.toFixed(0)} s) | ${run.seconds.toFixed(0)} |`,
      );
    }
  }
  console.log(`\n**Best validation precision@${saved.k} so far, by seconds of searching**\n`);
  const secs = [10, 20, 30, 60, 90, 120, 180, 240, 300, 420, 600];
  console.log(`| data set | search | ${secs.map((s) => `${s} s`).join(' | ')} |`);
  console.log(`|---|---|${secs.map(() => '---').join('|')}|`);
  for (const c of saved.curves) {
    for (const [label, run] of [
      ['old', c.old],
      ['new', c.new],
    ])
      console.log(`| ${c.dataset} | ${label} | ${secs.map((s) => f4(atSeconds(run.curve, s))).join(' | ')} |`);
  }
  console.log(`\n**Where each search ends, and when the new one passes the old one's best**\n`);
  console.log(
    '| data set | old best (validation) | its setting | new best | its setting | new reaches the old best at | precision@10 on test: old best, new best |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const c of saved.curves) {
    const oldBest = c.old.curve[c.old.curve.length - 1].best;
    const newBest = c.new.curve[c.new.curve.length - 1].best;
    const passes = reaches(c.new.curve, oldBest);
    console.log(
      `| ${c.dataset} | ${f4(oldBest)} | ${c.old.best} | ${f4(newBest)} | ${c.new.best} | ${passes ? `setting ${passes.settings}, ${passes.seconds.toFixed(0)} s` : 'not reached'} | ${f4(c.old.test)}, ${f4(c.new.test)} |`,
    );
  }
}
if (saved.shares && saved.shares.length > 0) {
  const found = (s) =>
    s.bestNumber === undefined
      ? ''
      : ` (setting ${s.bestNumber} of ${s.settingsTried}${s.stoppedBy === 'time' ? ', stopped by the time budget' : ''})`;
  console.log(
    `\n**The defaults rule as a share of the best settings the search finds** (precision@${saved.k} on each seed's test split)\n`,
  );
  console.log('| data set | seed | rule | tuned best | precision@10 rule / tuned | share | NDCG@10 share |');
  console.log('|---|---|---|---|---|---|---|');
  for (const s of saved.shares)
    console.log(
      `| ${s.dataset} | ${s.seed} | ${s.rule} | ${s.tuned}${found(s)} | ${f4(s.precision.rule)} / ${f4(s.precision.tuned)} | ${(s.precision.rule / s.precision.tuned).toFixed(3)} | ${(s.ndcg.rule / s.ndcg.tuned).toFixed(3)} |`,
    );
  console.log('\n**Per data set** (share of the tuned best on test: mean over the seeds / worst seed)\n');
  console.log('| data set | precision@10 | NDCG@10 |');
  console.log('|---|---|---|');
  const all = { precision: [], ndcg: [] };
  for (const dataset of [...new Set(saved.shares.map((s) => s.dataset))]) {
    const cells = ['precision', 'ndcg'].map((metric) => {
      const shares = saved.shares.filter((s) => s.dataset === dataset).map((s) => s[metric].rule / s[metric].tuned);
      all[metric].push(...shares);
      return `${(shares.reduce((a, b) => a + b, 0) / shares.length).toFixed(3)} / ${Math.min(...shares).toFixed(3)}`;
    });
    console.log(`| ${dataset} | ${cells.join(' | ')} |`);
  }
  const summary = (xs) => `${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3)} / ${Math.min(...xs).toFixed(3)}`;
  console.log(`| **the panel** | **${summary(all.precision)}** | **${summary(all.ndcg)}** |`);
}
