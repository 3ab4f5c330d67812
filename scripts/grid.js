#!/usr/bin/env node
// The measurement behind the default training settings: `als evaluate` over a grid of
// weighting × α × λ, on several data sets, with one split seed for choosing and another for
// reporting (so that the choice is not fitted to one split). Prints Markdown tables for
// docs/choosing-settings.md and writes the numbers as JSON.
//
//   node scripts/grid.js [--synthetic FILE] [--out FILE] [--quick]
//   node scripts/grid.js --from bench/grid.json      (the tables again, from saved numbers)
//
// Needs `npm run build`. The synthetic file comes from
// `npm run synth -- --users 20000 --items 15000 --rows 1000000 --out bench/data/synth-20000x15000x1000000-s1.tsv`.
// A full run takes about 15 minutes on 2 cores, most of it on the synthetic data.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { evaluate, readInteractions } from '../dist/src/index.js';
import { defaultTrainOptions } from '../dist/src/advanced.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    synthetic: { type: 'string', default: join(root, 'bench', 'data', 'synth-20000x15000x1000000-s1.tsv') },
    out: { type: 'string', default: join(root, 'bench', 'grid.json') },
    quick: { type: 'boolean', default: false },
    from: { type: 'string' },
  },
});

const CHOOSE_SEED = 7;
const REPORT_SEED = 1;
const K = 10;
const GRID = args.quick
  ? { linear: [40], log: [2], bm25: [1] }
  : { linear: [0.01, 0.1, 1, 40], log: [0.5, 1, 2, 5, 10], bm25: [0.5, 1, 2, 5] };
const LAMBDAS = args.quick ? [1] : [0.1, 1, 10];
const defaults = defaultTrainOptions();

let results;
let datasets;
if (args.from) {
  const saved = JSON.parse(readFileSync(args.from, 'utf8'));
  results = saved.results;
  datasets =
    saved.datasets ??
    [...new Set(results.map((r) => r.dataset))].map((name) => ({
      name,
      seeds: Object.keys(results.find((r) => r.dataset === name))
        .filter((key) => key.startsWith('seed'))
        .map((key) => Number(key.slice(4))),
    }));
} else {
  ({ results, datasets } = await measure());
  writeFileSync(
    args.out,
    `${JSON.stringify({ k: K, chooseSeed: CHOOSE_SEED, reportSeed: REPORT_SEED, factors: defaults.factors, iterations: defaults.iterations, datasets, results }, null, 2)}\n`,
  );
}

async function measure() {
  /** Every count replaced by 1: what purchases or clicks look like. */
  function binarized(data) {
    return { ...data, userItems: { ...data.userItems, data: new Float32Array(data.userItems.data.length).fill(1) } };
  }

  const sample = await readInteractions(join(root, 'data', 'lastfm-2k.tsv'));
  const datasets = [
    { name: 'Last.fm sample (data/)', data: sample, seeds: [CHOOSE_SEED, REPORT_SEED] },
    { name: 'Last.fm sample, counts set to 1', data: binarized(sample), seeds: [CHOOSE_SEED, REPORT_SEED] },
  ];
  if (existsSync(args.synthetic)) {
    datasets.push({
      name: `synthetic ${
        args.synthetic
          .match(/synth-(\d+)x(\d+)x(\d+)/)
          ?.slice(1)
          .join(' × ') ?? ''
      }`,
      data: await readInteractions(args.synthetic),
      seeds: [REPORT_SEED],
    });
  } else {
    console.error(`(no ${args.synthetic}: run \`npm run synth\` for the synthetic rows)`);
  }

  const results = [];
  for (const dataset of datasets) {
    for (const [weighting, alphas] of Object.entries(GRID)) {
      for (const alpha of alphas) {
        for (const lambda of LAMBDAS) {
          const row = { dataset: dataset.name, weighting, alpha, lambda };
          for (const seed of dataset.seeds) {
            const result = await evaluate(dataset.data, {
              k: K,
              seed,
              trainOptions: { weighting, alpha, regularization: lambda, seed },
            });
            row[`seed${seed}`] = {
              precision: result.model.precision,
              ndcg: result.model.ndcg,
              auc: result.model.auc,
              popularity: result.popularity.precision,
              seconds: result.trainSeconds,
            };
          }
          results.push(row);
          const shown = row[`seed${REPORT_SEED}`];
          process.stderr.write(
            `${dataset.name}: ${weighting} α=${alpha} λ=${lambda}: p@10 ${shown.precision.toFixed(4)} ndcg ${shown.ndcg.toFixed(4)}\n`,
          );
        }
      }
    }
  }
  return { results, datasets: datasets.map(({ name, seeds }) => ({ name, seeds })) };
}

// the grid as measured (a saved run may differ from this script's GRID)
const measuredWeightings = [...new Set(results.map((r) => r.weighting))];
const measuredAlphas = (weighting) =>
  [...new Set(results.filter((r) => r.weighting === weighting).map((r) => r.alpha))].sort((a, b) => a - b);
const measuredLambdas = [...new Set(results.map((r) => r.lambda))].sort((a, b) => a - b);

// one Markdown table per data set: precision@10 (NDCG@10) on the report seed, best marked
const isDefault = (r) =>
  r.weighting === defaults.weighting && r.alpha === defaults.alpha && r.lambda === defaults.regularization;
for (const dataset of datasets) {
  const rows = results.filter((r) => r.dataset === dataset.name);
  const report = (r) => r[`seed${REPORT_SEED}`];
  const bestReport = Math.max(...rows.map((r) => report(r).precision));
  const choose = rows[0][`seed${CHOOSE_SEED}`] ? (r) => r[`seed${CHOOSE_SEED}`].precision : null;
  const bestChoose = choose ? Math.max(...rows.map(choose)) : null;
  console.log(
    `\n**${dataset.name}**: precision@${K} (NDCG@${K}) on split seed ${REPORT_SEED}; popularity ${report(rows[0]).popularity.toFixed(3)}` +
      (choose ? `; ◆ best on seed ${CHOOSE_SEED}` : ''),
  );
  console.log(`\n| weighting | α | ${measuredLambdas.map((l) => `λ = ${l}`).join(' | ')} |`);
  console.log(`|---|---|${measuredLambdas.map(() => '---|').join('')}`);
  for (const weighting of measuredWeightings) {
    for (const alpha of measuredAlphas(weighting)) {
      const cells = measuredLambdas.map((lambda) => {
        const r = rows.find((x) => x.weighting === weighting && x.alpha === alpha && x.lambda === lambda);
        const m = report(r);
        let cell = `${m.precision.toFixed(3)} (${m.ndcg.toFixed(3)})`;
        if (m.precision === bestReport) cell = `**${cell}**`;
        if (choose && choose(r) === bestChoose) cell += ' ◆';
        if (isDefault(r)) cell += ' ← default';
        return cell;
      });
      console.log(`| ${weighting} | ${alpha} | ${cells.join(' | ')} |`);
    }
  }
}

// Settings that do well everywhere: each setting's precision as a share of the best on each data
// set, ranked by the worst of those shares (on the report seed, the choosing seed where there is one).
const names = datasets.map((d) => d.name);
const share = (r, seedKey) => {
  const same = results.filter((x) => x.dataset === r.dataset);
  return r[seedKey].precision / Math.max(...same.map((x) => x[seedKey].precision));
};
const settings = new Map();
for (const r of results) {
  const key = `${r.weighting} α=${r.alpha} λ=${r.lambda}`;
  const entry = settings.get(key) ?? { key, r, shares: {} };
  const seedKey = r[`seed${CHOOSE_SEED}`] ? `seed${CHOOSE_SEED}` : `seed${REPORT_SEED}`;
  entry.shares[r.dataset] = share(r, seedKey);
  settings.set(key, entry);
}
const ranked = [...settings.values()]
  .map((e) => ({ ...e, worst: Math.min(...names.map((n) => e.shares[n])) }))
  .sort((a, b) => b.worst - a.worst);
console.log(
  `\n**Worst case over the data sets**: precision@${K} as a share of the best setting on each (choosing seed where there is one)`,
);
console.log(`\n| setting | ${names.join(' | ')} | worst |`);
console.log(`|---|${names.map(() => '---|').join('')}---|`);
for (const e of ranked.slice(0, 8)) {
  console.log(
    `| ${e.key}${isDefault(e.r) ? ' ← default' : ''} | ${names.map((n) => e.shares[n].toFixed(3)).join(' | ')} | ${e.worst.toFixed(3)} |`,
  );
}
