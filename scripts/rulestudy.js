#!/usr/bin/env node
// The second study of issue 12: how strong should λ·n be, and how many factors, at the scale
// `als train` trains (64 factors, 15 iterations)? scripts/freqgrid.js chose λ·n over a constant λ
// at 32 factors; against what `als tune` finds (scripts/tunecurve.js --shares) its λ = 0.3·n fell
// to 0.76 of the best on sparse users and on few items with many users. This script evaluates
// candidate rules on the panel of scripts/panel.js over split seeds 1, 2, 3 (as `als evaluate`:
// 20% of each user's items held out, k = 10) and prints each candidate's precision@10 and NDCG@10
// as a share of the best on each data set and seed: the best of the candidates and of the settings
// `als tune` found on that seed's split (bench/tuneshares-first.json and bench/tuneshares.json).
//
//   node scripts/rulestudy.js [--out FILE] [--only NAME,…] [--tuned FILE,…] [--again]
//
// Runs already in --out are kept (training is deterministic) unless --again; runs of candidates
// no longer listed are dropped from it.
//   node scripts/rulestudy.js --from bench/rulestudy.json      (the tables again, from saved numbers)
//
// Needs `npm run build`. About 10 minutes on a 2-core machine.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluate } from '../dist/src/index.js';
import { BINARY_SHARE, defaultsFor, profileData } from '../dist/src/advanced.js';
import { PANEL, panelSet } from './panel.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'bench', 'rulestudy.json') },
    from: { type: 'string' },
    only: { type: 'string' },
    // what als tune found (scripts/tunecurve.js --shares): first 28 settings from the library's
    // defaults on four sets, then als tune's own search (64 settings, the rule first) on all eight
    tuned: {
      type: 'string',
      default: [join(root, 'bench', 'tuneshares-first.json'), join(root, 'bench', 'tuneshares.json')].join(','),
    },
    threads: { type: 'string', default: '2' },
    again: { type: 'boolean', default: false },
  },
});
const SEEDS = [1, 2, 3];
const K = 10;

/** α by the share of counts of 1 (both rules agree on it): log α = 5 for 0/1 data, 2 for counts. */
const alphaFor = (p) => (p.shareOfOnes >= BINARY_SHARE ? 5 : 2);
/** λ·n with λ = κ × the mean confidence above 1 of a pair (log weighting: α·mean ln(1 + count)). */
const perConfidence = (kappa, p) => Number((kappa * alphaFor(p) * p.meanLogCount).toPrecision(2));
const nTimes =
  (lambda, factors = 64) =>
  (p) => ({ alpha: alphaFor(p), regularization: lambda, factors });
const confidenceTimes = (kappa, factors) => (p) => ({
  alpha: alphaFor(p),
  regularization: perConfidence(kappa, p),
  factors,
});

/** The candidates: label, and the options they choose for a data profile (log weighting, ν = 1). */
const CANDIDATES = [
  ['λ=0.15·n', nTimes(0.15)],
  ['λ=0.3·n (first rule)', nTimes(0.3)],
  ['λ=0.5·n', nTimes(0.5)],
  ['λ=1·n', nTimes(1)],
  ['λ=2·n', nTimes(2)],
  ['λ=4·n', nTimes(4)],
  ['λ=0.05·c̄·n', confidenceTimes(0.05, 64)],
  ['λ=0.075·c̄·n', confidenceTimes(0.075, 64)],
  ['λ=0.1·c̄·n', confidenceTimes(0.1, 64)],
  ['λ=0.15·c̄·n', confidenceTimes(0.15, 64)],
  ['λ=0.2·c̄·n', confidenceTimes(0.2, 64)],
  ['λ=0.15·c̄·n f=128', confidenceTimes(0.15, 128)],
  ['λ=0.1·c̄·n f=32', confidenceTimes(0.1, 32)],
  ['λ=0.15·c̄·n f=32', confidenceTimes(0.15, 32)],
  ['λ=0.2·c̄·n f=32', confidenceTimes(0.2, 32)],
  ['λ=0.3·c̄·n f=32', confidenceTimes(0.3, 32)],
  ['the rule (λ=0.15·c̄·n, on 0/1 data 0.075·c̄·n; f=32 below 18 pairs per user)', (p) => defaultsFor(p).options],
];

let saved;
if (args.from) saved = JSON.parse(readFileSync(args.from, 'utf8'));
else {
  saved = existsSync(args.out) ? JSON.parse(readFileSync(args.out, 'utf8')) : { k: K, runs: [] };
  saved.runs = saved.runs.filter((r) => CANDIDATES.some(([label]) => label === r.label));
  const names = args.only ? args.only.split(',') : PANEL.map((p) => p.name);
  for (const name of names) {
    const data = await panelSet(name);
    const profile = profileData(data.userItems);
    saved.profiles = { ...saved.profiles, [name]: profile };
    for (const [label, choose] of CANDIDATES) {
      const options = { weighting: 'log', regularizationExponent: 1, regularizationAlpha0: 0, ...choose(profile) };
      for (const seed of SEEDS) {
        if (!args.again && saved.runs.some((r) => r.dataset === name && r.label === label && r.seed === seed)) continue;
        const { model } = await evaluate(data, {
          k: K,
          seed,
          trainOptions: { ...options, threads: Number(args.threads), seed },
        });
        saved.runs = saved.runs.filter((r) => !(r.dataset === name && r.label === label && r.seed === seed));
        saved.runs.push({ dataset: name, label, seed, options, precision: model.precision, ndcg: model.ndcg });
        process.stderr.write(`${name} ${label} seed ${seed}: precision@${K} ${model.precision.toFixed(4)}\n`);
      }
      writeFileSync(args.out, `${JSON.stringify(saved, null, 1)}\n`);
    }
  }
}

// ---- tables ----
const tuned = args.tuned
  .split(',')
  .filter((file) => existsSync(file))
  .flatMap((file) => JSON.parse(readFileSync(file, 'utf8')).shares);
const datasets = PANEL.map((p) => p.name).filter((name) => saved.runs.some((r) => r.dataset === name));
const labels = CANDIDATES.map(([label]) => label).filter((label) => saved.runs.some((r) => r.label === label));
const run = (dataset, label, seed) =>
  saved.runs.find((r) => r.dataset === dataset && r.label === label && r.seed === seed);
/** the best on a data set and seed: of the candidates, and of what als tune found there */
const best = (dataset, seed, metric) =>
  Math.max(
    ...saved.runs.filter((r) => r.dataset === dataset && r.seed === seed).map((r) => r[metric]),
    ...tuned.filter((s) => s.dataset === dataset && s.seed === seed).map((s) => s[metric].tuned),
  );
for (const [metric, title] of [
  ['precision', `precision@${saved.k}`],
  ['ndcg', `NDCG@${saved.k}`],
]) {
  console.log(
    `\n**${title} as a share of the best on each data set and seed** (mean over the seeds 1, 2, 3 / worst seed; ` +
      'best: of these candidates and of what `als tune` found on that split)\n',
  );
  console.log(`| candidate | ${datasets.join(' | ')} | mean | worst |`);
  console.log(`|---|${datasets.map(() => '---|').join('')}---|---|`);
  for (const label of labels) {
    const cells = [];
    const all = [];
    for (const dataset of datasets) {
      const shares = SEEDS.map((seed) => run(dataset, label, seed))
        .filter(Boolean)
        .map((r) => r[metric] / best(dataset, r.seed, metric));
      all.push(...shares);
      const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
      cells.push(shares.length === 0 ? '' : `${mean.toFixed(3)} / ${Math.min(...shares).toFixed(3)}`);
    }
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    console.log(`| ${label} | ${cells.join(' | ')} | ${mean.toFixed(3)} | ${Math.min(...all).toFixed(3)} |`);
  }
}
console.log('\n**What the rule chose per data set**\n');
console.log('| data set | pairs per user | mean ln(1 + count) | α | λ (·n) | factors |');
console.log('|---|---|---|---|---|---|');
for (const dataset of datasets) {
  const r = run(dataset, CANDIDATES.at(-1)[0], SEEDS[0]);
  if (!r) continue;
  const entry = saved.profiles?.[dataset];
  console.log(
    `| ${dataset} | ${entry ? entry.pairsPerUser.toFixed(1) : ''} | ${entry ? entry.meanLogCount.toFixed(2) : ''} | ${r.options.alpha} | ${r.options.regularization} | ${r.options.factors} |`,
  );
}
