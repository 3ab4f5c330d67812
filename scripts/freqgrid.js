#!/usr/bin/env node
// Does frequency-scaled λ (Rendle, Krichene, Zhang & Koren, RecSys 2022: each row's λ times
// (its observations + α₀·rows of the other side)^ν) make one setting hold across data sets?
// `evaluate` over a small grid of settings on a panel of data sets of different shapes, over
// several split seeds; prints Markdown tables (docs/choosing-settings.md) of each setting's
// precision@10 and NDCG@10 as a share of the best setting on each data set (mean over the seeds),
// with the mean and the worst share over the panel, and writes the numbers as JSON.
//
//   node scripts/freqgrid.js [--out FILE] [--only NAME,…] [--factors N] [--iterations N]
//   node scripts/freqgrid.js --from bench/freqgrid.json      (the tables again, from saved numbers)
//
// Needs `npm run build`. The panel is scripts/panel.js (its synthetic sets made by scripts/synth.js
// into bench/data/, a few seconds each). Small on purpose (32 factors, 10 iterations, ≤ 100,000
// pairs per set) so that it runs on a shared 2-core machine; the defaults (64 factors, 15
// iterations) are then checked on the Last.fm sample by `als evaluate`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluate } from '../dist/src/index.js';
import { BINARY_SHARE } from '../dist/src/als/dataDefaults.js';
import { PANEL } from './panel.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'bench', 'freqgrid.json') },
    from: { type: 'string' },
    only: { type: 'string' },
    factors: { type: 'string', default: '32' },
    iterations: { type: 'string', default: '10' },
    threads: { type: 'string', default: '2' },
  },
});

const SEEDS = [1, 2, 3];
const K = 10;
const FACTORS = Number(args.factors);
const ITERATIONS = Number(args.iterations);

/** The settings compared: confidence (weighting, α) × regularization (λ, ν, α₀). */
const SETTINGS = [
  // constant λ (ν = 0), around today's default log α=2 λ=10
  { weighting: 'log', alpha: 2, lambda: 1, nu: 0, alpha0: 0 },
  { weighting: 'log', alpha: 2, lambda: 10, nu: 0, alpha0: 0 },
  { weighting: 'log', alpha: 2, lambda: 30, nu: 0, alpha0: 0 },
  // Spark's λ·n (ν = 1, α₀ = 0), λ rescaled
  { weighting: 'log', alpha: 2, lambda: 0.1, nu: 1, alpha0: 0 },
  { weighting: 'log', alpha: 2, lambda: 0.3, nu: 1, alpha0: 0 },
  { weighting: 'log', alpha: 2, lambda: 1, nu: 1, alpha0: 0 },
  // in between
  { weighting: 'log', alpha: 2, lambda: 1, nu: 0.5, alpha0: 0 },
  { weighting: 'log', alpha: 2, lambda: 3, nu: 0.5, alpha0: 0 },
  // with a share of the other side's rows (the paper's α₀)
  { weighting: 'log', alpha: 2, lambda: 0.3, nu: 1, alpha0: 0.001 },
  // other confidences, each with the constant default λ and with λ·n
  { weighting: 'log', alpha: 5, lambda: 10, nu: 0, alpha0: 0 },
  { weighting: 'log', alpha: 5, lambda: 0.3, nu: 1, alpha0: 0 },
  { weighting: 'linear', alpha: 2, lambda: 10, nu: 0, alpha0: 0 },
  { weighting: 'linear', alpha: 2, lambda: 0.3, nu: 1, alpha0: 0 },
  { weighting: 'linear', alpha: 10, lambda: 10, nu: 0, alpha0: 0 },
  { weighting: 'linear', alpha: 10, lambda: 0.3, nu: 1, alpha0: 0 },
];
const settingName = (s) =>
  `${s.weighting} α=${s.alpha} λ=${s.lambda}${s.nu === 0 ? '' : ` ν=${s.nu}${s.alpha0 === 0 ? '' : ` α₀=${s.alpha0}`}`}`;

let saved;
if (args.from) saved = JSON.parse(readFileSync(args.from, 'utf8'));
else {
  const only = args.only ? args.only.split(',') : null;
  const previous = existsSync(args.out) ? JSON.parse(readFileSync(args.out, 'utf8')) : null;
  saved = { k: K, seeds: SEEDS, factors: FACTORS, iterations: ITERATIONS, settings: SETTINGS, panel: [], results: [] };
  // data sets measured before (and not asked for again) are kept
  if (previous && previous.factors === FACTORS && previous.iterations === ITERATIONS) {
    saved.panel = previous.panel.filter((p) => only && !only.includes(p.name));
    saved.results = previous.results.filter((r) => saved.panel.some((p) => p.name === r.dataset));
  }
  for (const entry of PANEL) {
    if (only && !only.includes(entry.name)) continue;
    const data = await entry.make();
    const m = data.userItems;
    let ones = 0;
    for (let n = 0; n < m.data.length; n++) if (m.data[n] === 1) ones++;
    saved.panel.push({
      name: entry.name,
      shape: entry.shape,
      users: m.rows,
      items: m.cols,
      pairs: m.indptr[m.rows],
      shareOfOnes: ones / m.data.length,
    });
    for (const setting of SETTINGS) {
      const row = { dataset: entry.name, setting: settingName(setting) };
      for (const seed of SEEDS) {
        const trainOptions = {
          weighting: setting.weighting,
          alpha: setting.alpha,
          regularization: setting.lambda,
          regularizationExponent: setting.nu,
          regularizationAlpha0: setting.alpha0,
          factors: FACTORS,
          iterations: ITERATIONS,
          threads: Number(args.threads),
          seed,
        };
        const result = await evaluate(data, { k: K, seed, trainOptions });
        row[`seed${seed}`] = {
          precision: result.model.precision,
          ndcg: result.model.ndcg,
          popularity: result.popularity.precision,
        };
      }
      saved.results.push(row);
      const p = SEEDS.map((s) => row[`seed${s}`].precision.toFixed(4)).join(' ');
      process.stderr.write(`${entry.name}: ${row.setting}: p@10 ${p}\n`);
    }
    writeFileSync(args.out, `${JSON.stringify(saved, null, 2)}\n`);
  }
}

// ---- tables -------------------------------------------------------------------------------------
const names = saved.panel.map((p) => p.name);
const settingsMeasured = [...new Set(saved.results.map((r) => r.setting))];
const at = (dataset, setting) => saved.results.find((r) => r.dataset === dataset && r.setting === setting);
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
const metricOf = (r, metric) => mean(saved.seeds.map((s) => r[`seed${s}`][metric]));
/** share of the best setting's metric on that data set, per seed, then: mean over seeds and the spread (± half range) */
function share(dataset, setting, metric) {
  const shares = saved.seeds.map((s) => {
    const best = Math.max(...settingsMeasured.map((x) => at(dataset, x)?.[`seed${s}`][metric] ?? -Infinity));
    return at(dataset, setting)[`seed${s}`][metric] / best;
  });
  return { mean: mean(shares), halfRange: (Math.max(...shares) - Math.min(...shares)) / 2, worst: Math.min(...shares) };
}

console.log(
  `**The panel** (${saved.factors} factors, ${saved.iterations} iterations, split seeds ${saved.seeds.join(', ')}, 20% of each user's items held out)\n`,
);
console.log('| data set | shape | users | items | pairs | counts of 1 | popularity p@10 |');
console.log('|---|---|---|---|---|---|---|');
for (const p of saved.panel) {
  const pop = mean(saved.seeds.map((s) => at(p.name, settingsMeasured[0])[`seed${s}`].popularity));
  console.log(
    `| ${p.name} | ${p.shape} | ${p.users.toLocaleString('en-US')} | ${p.items.toLocaleString('en-US')} | ${p.pairs.toLocaleString('en-US')} | ${(100 * p.shareOfOnes).toFixed(0)}% | ${pop.toFixed(3)} |`,
  );
}

for (const metric of ['precision', 'ndcg']) {
  const label = metric === 'precision' ? `precision@${saved.k}` : `NDCG@${saved.k}`;
  console.log(
    `\n**${label} as a share of the best setting on each data set** (mean over the seeds; worst: the lowest share on any data set and seed)\n`,
  );
  console.log(`| setting | ${names.join(' | ')} | mean | worst |`);
  console.log(`|---|${names.map(() => '---|').join('')}---|---|`);
  const rows = settingsMeasured.map((setting) => {
    const shares = names.map((n) => share(n, setting, metric));
    return { setting, shares, mean: mean(shares.map((s) => s.mean)), worst: Math.min(...shares.map((s) => s.worst)) };
  });
  rows.sort((a, b) => b.worst - a.worst);
  for (const r of rows)
    console.log(
      `| ${r.setting} | ${r.shares.map((s) => s.mean.toFixed(3)).join(' | ')} | ${r.mean.toFixed(3)} | ${r.worst.toFixed(3)} |`,
    );
}

// The rule of `als train` (src/als/dataDefaults.ts), as it picks for each data set of the panel:
// which setting of the grid it applies, and that setting's shares.
// the first rule (before scripts/rulestudy.js scaled λ with the confidences): λ = 0.3·n for all data
const ruleSetting = (p) => (p.shareOfOnes >= BINARY_SHARE ? 'log α=5 λ=0.3 ν=1' : 'log α=2 λ=0.3 ν=1');
const todays = 'log α=2 λ=10';
console.log(
  `\n**The first rule against the former defaults** (${todays}): precision@${saved.k} (NDCG@${saved.k}) as a share of the best setting, mean over the seeds\n`,
);
console.log(`| | ${names.join(' | ')} | mean | worst |`);
console.log(`|---|${names.map(() => '---|').join('')}---|---|`);
for (const [label, pick] of [
  ['first rule: counts → log α=2 λ=0.3·n, 0/1 → log α=5 λ=0.3·n', ruleSetting],
  [`former defaults, ${todays}`, () => todays],
]) {
  const cells = [];
  const means = { precision: [], ndcg: [] };
  const worsts = { precision: [], ndcg: [] };
  for (const p of saved.panel) {
    const setting = pick(p);
    if (!at(p.name, setting)) continue;
    const sp = share(p.name, setting, 'precision');
    const sn = share(p.name, setting, 'ndcg');
    cells.push(`${sp.mean.toFixed(3)} (${sn.mean.toFixed(3)})`);
    means.precision.push(sp.mean);
    means.ndcg.push(sn.mean);
    worsts.precision.push(sp.worst);
    worsts.ndcg.push(sn.worst);
  }
  console.log(
    `| ${label} | ${cells.join(' | ')} | ${mean(means.precision).toFixed(3)} (${mean(means.ndcg).toFixed(3)}) | ` +
      `${Math.min(...worsts.precision).toFixed(3)} (${Math.min(...worsts.ndcg).toFixed(3)}) |`,
  );
}

console.log(`\n**Best precision@${saved.k} per data set** (mean ± half range over the seeds)\n`);
console.log('| data set | best setting | precision@10 | NDCG@10 |');
console.log('|---|---|---|---|');
for (const n of names) {
  const best = settingsMeasured.map((s) => ({ s, p: metricOf(at(n, s), 'precision') })).sort((a, b) => b.p - a.p)[0];
  const r = at(n, best.s);
  const ps = saved.seeds.map((s) => r[`seed${s}`].precision);
  console.log(
    `| ${n} | ${best.s} | ${best.p.toFixed(4)} ± ${((Math.max(...ps) - Math.min(...ps)) / 2).toFixed(4)} | ${metricOf(r, 'ndcg').toFixed(4)} |`,
  );
}
