#!/usr/bin/env node
// npm run bench: speed and memory of als on synthetic Last.fm-shaped data, measured side by
// side in one run, printed as one table with the targets, and written to bench/results.json.
// Not part of npm test. Generated data and models are kept in bench/data/ and reused.
//
// usage: node bench/run.js [--quick] [--serve] [--ann] [--spark] [--no-reference] [--no-spark] [--no-serve] [--reference-full[-all]] [--baseline REV]
//   --quick: small shapes, for checking the script itself; --serve: the serving section alone, on
//   bench/data/model-full, trained once if missing; --ann: the approximate similar section alone
//   (bench/ann.js), on the same model; the reference section (bench/reference.js:
//   implicit on the same files, alternating with als) runs on the 2.5M shape unless
//   --no-reference, and also on the 360K shape with --reference-full (its --all too: -full-all);
//   --baseline REV: one-shot `als similar` on the full model against the build of git revision
//   REV too (bench/baseline.js), alternating in this run
//   the Spark engine (bench/spark.js) against the built-in one on the 2.5M shape unless --no-spark,
//   or alone with --spark; the serving section unless --no-serve. The run's minutes close the table
//   (issue 13's rows: `-- --no-spark --no-serve --reference-full-all --baseline REV`)
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { baselineBuild } from './baseline.js';
import { dataDir, rowsLabel, shapes, synthFile as synthShape } from './shapes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = (path) => join(root, 'dist', 'src', path);
const { readInteractions } = await import(dist('data/read.js'));
const { resolveTrainOptions } = await import(dist('als/options.js'));
const { trainFactors } = await import(dist('als/train.js'));
const { confidences } = await import(dist('als/weighting.js'));
const { randomFactors, seededRandom } = await import(dist('als/random.js'));
const { jsKernels, createWasmKernels, kernelCopy } = await import(dist('kernels/index.js'));
const { loadModel } = await import(dist('model/load.js'));
const { similarItems } = await import(dist('query/similar.js'));

const quick = process.argv.includes('--quick');
// --baseline REV: one-shot similar measured against the build of an earlier revision too
const baselineAt = process.argv.indexOf('--baseline');
const baseline = baselineAt === -1 ? null : process.argv[baselineAt + 1];
if (baselineAt !== -1 && (baseline === undefined || baseline.startsWith('--')))
  throw new Error('--baseline needs a git revision');
const serveOnly = process.argv.includes('--serve');
const sparkOnly = process.argv.includes('--spark');
const annOnly = process.argv.includes('--ann');
mkdirSync(dataDir, { recursive: true });
const als = join(root, 'bin', 'als.js');

const SHAPES = shapes(quick);

const results = { date: new Date().toISOString(), quick, machine: machine(), rows: [] };
const benchStarted = performance.now();

function machine() {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

function log(text) {
  process.stderr.write(`bench: ${text}\n`);
}

/** One table row: what, the figure, the target (if any) and whether it is met. */
function record(group, what, value, unit, target) {
  const row = { group, what, value, unit };
  if (target) Object.assign(row, { target: target.text, met: target.test(value) });
  results.rows.push(row);
  const shown = typeof value === 'number' ? (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)) : value;
  log(
    `${group} | ${what}: ${shown} ${unit}${target ? ` (target ${target.text}: ${row.met ? 'met' : 'NOT met'})` : ''}`,
  );
}

const atMost = (limit, text) => ({ text: text ?? `≤ ${limit}`, test: (v) => v <= limit });
const atLeast = (limit, text) => ({ text: text ?? `≥ ${limit}`, test: (v) => v >= limit });

const synthFile = (shape) => synthShape(shape, log);

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The serving section (bench/serve.js): the server in its own process, autocannon in this one. */
async function servingSection(model) {
  const { benchServe } = await import('./serve.js');
  await benchServe({ modelDir: model, record, atLeast, atMost, log, quick });
}

/**
 * The model for an earlier build: `model` itself when that build reads it, else a copy whose
 * model.json leaves out the training options added since (issue 12's regularizationExponent and
 * regularizationAlpha0, which builds before it refuse as unknown); the factors and names are the
 * same bytes, so both builds answer the same question from the same files.
 */
function modelForBaseline(model, bin, artist) {
  const probe = spawnSync(process.execPath, [bin, 'similar', artist, '--model', model, '--json'], { encoding: 'utf8' });
  if (probe.status === 0) return model;
  // the live version's files as a plain directory (the versions' links point into `model`)
  const copy = join(dataDir, 'model-full-for-baseline');
  rmSync(copy, { recursive: true, force: true });
  mkdirSync(copy);
  for (const name of readdirSync(model)) if (name !== '.als') copyFileSync(join(model, name), join(copy, name));
  const manifest = JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8'));
  delete manifest.options.regularizationExponent;
  delete manifest.options.regularizationAlpha0;
  writeFileSync(join(copy, 'model.json'), JSON.stringify(manifest, null, 2));
  return copy;
}

/** Writes results.json and prints the table. */
function finish(resultsFile) {
  results.minutes = Number(((performance.now() - benchStarted) / 60000).toFixed(1));
  results.arguments = process.argv.slice(2);
  writeFileSync(resultsFile, JSON.stringify(results, null, 2) + '\n');
  const lines = ['| | what | figure | target |', '|---|---|---|---|'];
  for (const row of results.rows) {
    const figure =
      typeof row.value === 'number'
        ? Math.abs(row.value) >= 100
          ? row.value.toFixed(0)
          : row.value.toPrecision(3)
        : row.value;
    lines.push(
      `| ${row.group} | ${row.what} | ${figure} ${row.unit} | ${row.target ? `${row.target} ${row.met ? '✓' : '✗ not met'}` : ''} |`,
    );
  }
  console.log(
    `\nals benchmark, ${results.machine.cpu}, ${results.machine.cores} cores, Node ${results.machine.node}${quick ? ' (quick)' : ''}\n`,
  );
  console.log(lines.join('\n'));
  console.log(`\nThe run took ${results.minutes} minutes (${results.arguments.join(' ') || 'no arguments'}).`);
}

/** The Spark engine against the built-in one on the 2.5M shape (bench/spark.js). */
async function sparkSection() {
  const { benchSpark } = await import('./spark.js');
  await benchSpark({
    file: synthFile(SHAPES.medium),
    label: rowsLabel(SHAPES.medium),
    rounds: quick ? 1 : 2,
    dataDir,
    als,
    dist,
    record,
    log,
  });
}

if (sparkOnly) {
  await sparkSection();
  finish(join(dataDir, quick ? 'results-spark-quick.json' : 'results-spark.json'));
  process.exit(0);
}

/** The full-scale model of an earlier run, or trained now (once: it is kept in bench/data). */
function fullModel() {
  const model = join(dataDir, quick ? 'model-full-quick' : 'model-full');
  if (!existsSync(join(model, 'model.json'))) {
    const trained = spawnSync(process.execPath, [als, 'train', synthFile(SHAPES.full), '--model', model, '--quiet'], {
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (trained.status !== 0) throw new Error(`als train failed: ${trained.stderr}`);
  }
  return model;
}

/** The approximate similar section (bench/ann.js) on a loaded full-scale model. */
async function annSection(loaded, modelDir) {
  const { benchAnn } = await import('./ann.js');
  await benchAnn({ loaded, modelDir, dataDir, dist, record, atLeast, log, quick });
}

if (serveOnly) {
  await servingSection(fullModel());
  finish(join(dataDir, quick ? 'results-serve-quick.json' : 'results-serve.json'));
  process.exit(0);
}

if (annOnly) {
  const model = fullModel();
  await annSection(loadModel(model), model);
  finish(join(dataDir, quick ? 'results-ann-quick.json' : 'results-ann.json'));
  process.exit(0);
}

// --- reading ----------------------------------------------------------------------------
const mediumFile = synthFile(SHAPES.medium);
const fullFile = synthFile(SHAPES.full);
const mediumBytes = statSync(mediumFile).size;
let medium;
{
  const times = [];
  for (let run = 0; run < 3; run++) {
    const started = performance.now();
    medium = await readInteractions(mediumFile);
    times.push((performance.now() - started) / 1000);
  }
  const seconds = median(times);
  record(
    'read',
    `${SHAPES.medium.rows / 1e6}M rows (${(mediumBytes / 1e6).toFixed(0)} MB): read + matrix`,
    seconds,
    's',
  );
  record('read', 'read speed', mediumBytes / 1e6 / seconds, 'MB/s');
  if (medium.stats.buildSeconds !== undefined)
    record('read', 'matrix build (of the above)', medium.stats.buildSeconds, 's');
}

// --- training: seconds per iteration -------------------------------------------------------
const plays = medium.userItems;
async function secondsPerIteration(solver, factors, threads, iterations) {
  const options = resolveTrainOptions({ solver, factors, threads, iterations });
  const each = [];
  await trainFactors(plays, options, { onIteration: (r) => each.push(r.iterationSeconds) });
  return median(each);
}
const perIteration = {};
for (const solver of ['cg', 'naive']) {
  for (const factors of [32, 64, 128]) {
    for (const threads of [1, 2]) {
      const iterations = solver === 'cg' ? 5 : factors >= 128 ? 1 : 2;
      const seconds = await secondsPerIteration(solver, factors, threads, iterations);
      perIteration[`${solver}/${factors}/${threads}`] = seconds;
      // no target in seconds: the reference section compares these with implicit in the same run
      record(
        'train',
        `${solver}, ${factors} factors, ${threads} thread${threads > 1 ? 's' : ''}: s per iteration`,
        seconds,
        's',
      );
    }
  }
  for (const factors of [32, 64, 128]) {
    record(
      'train',
      `${solver}, ${factors} factors: 2 threads vs 1`,
      perIteration[`${solver}/${factors}/1`] / perIteration[`${solver}/${factors}/2`],
      '×',
      factors === 64 && solver === 'cg' ? atLeast(1.8) : undefined,
    );
  }
}

// --- the CG kernel alone: TypeScript, WebAssembly, native C ---------------------------------
{
  const f = 64;
  const steps = 3;
  const options = resolveTrainOptions({ factors: f });
  const random = seededRandom(7);
  const Y = randomFactors(plays.cols, f, random, 0.1);
  const X0 = randomFactors(plays.rows, f, random, 0.1);
  const confidence = confidences(plays, options);
  const YtY = new Float64Array(f * f);
  jsKernels.gramian(Y, plays.cols, f, options.regularization, YtY);
  const nnz = plays.indptr[plays.rows];
  const flops = 2 * ((steps + 1) * plays.rows * f * f + (steps + 1) * nnz * 2 * f);

  const timeKernel = async (kernels, repeats) => {
    const copy = (array) => kernelCopy(kernels, array);
    const step = {
      X: copy(X0),
      Y: copy(Y),
      factors: f,
      indptr: copy(plays.indptr),
      indices: copy(plays.indices),
      confidence: copy(confidence),
      YtY,
    };
    let best = Infinity;
    for (let r = 0; r < repeats; r++) {
      step.X.set(X0);
      const started = performance.now();
      kernels.cgUpdate(step, steps, 0, plays.rows);
      best = Math.min(best, (performance.now() - started) / 1000);
    }
    return { seconds: best, X: step.X.slice() };
  };
  const ts = await timeKernel(jsKernels, 1);
  const wasm1 = await createWasmKernels(1);
  const wasm = await timeKernel(wasm1, 5);
  const wasm2k = await createWasmKernels(2);
  const wasm2 = await timeKernel(wasm2k, 5);
  wasm2k.dispose();
  const label = `CG user pass (${plays.rows} users, ${(nnz / 1e6).toFixed(2)}M nonzeros, 64 factors, 3 steps)`;
  record('kernel', `${label}, TypeScript, 1 thread`, ts.seconds, 's');
  record('kernel', `${label}, WebAssembly SIMD, 1 thread`, wasm.seconds, 's');
  record('kernel', `${label}, WebAssembly SIMD, 2 threads`, wasm2.seconds, 's');
  record('kernel', 'WebAssembly GFLOP/s, 1 thread', flops / wasm.seconds / 1e9, 'GFLOP/s');
  record('kernel', 'WebAssembly GFLOP/s, 2 threads', flops / wasm2.seconds / 1e9, 'GFLOP/s');
  record('kernel', 'WebAssembly vs TypeScript, 1 thread', ts.seconds / wasm.seconds, '× faster');

  const gcc = spawnSync('gcc', ['--version']);
  if (gcc.status === 0) {
    const binary = join(dataDir, 'cg-native');
    execFileSync('gcc', ['-O3', '-march=native', '-o', binary, join(root, 'bench', 'native', 'cg.c')]);
    const input = join(dataDir, 'cg-input.bin');
    const Y32 = Float32Array.from(Y);
    const YtY32 = Float32Array.from(YtY);
    const parts = [
      Int32Array.from([plays.rows, plays.cols, f, nnz, steps]),
      plays.indptr,
      plays.indices,
      confidence,
      X0,
      Y32,
      YtY32,
    ];
    writeFileSync(input, Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
    const output = join(dataDir, 'cg-output.bin');
    const native = (repeats) =>
      Number(execFileSync(binary, [input, output, String(repeats)], { encoding: 'utf8' }).trim());
    // WebAssembly and C alternate, best of 3 each a round: a slow moment of the shared machine
    // then weighs on one round's ratio, not on one side of the only one
    const ratios = [];
    let seconds = Infinity;
    for (let round = 0; round < 3; round++) {
      const ours = (await timeKernel(wasm1, 3)).seconds;
      const theirs = native(3);
      ratios.push(ours / theirs);
      seconds = Math.min(seconds, theirs);
    }
    const nativeX = new Float32Array(readFileSync(output).buffer.slice(0));
    let diff = 0;
    let size = 0;
    for (let n = 0; n < nativeX.length; n++) {
      diff = Math.max(diff, Math.abs(nativeX[n] - wasm.X[n]));
      size = Math.max(size, Math.abs(nativeX[n]));
    }
    record('kernel', `${label}, C gcc -O3 -march=native, 1 thread`, seconds, 's');
    record('kernel', 'C GFLOP/s, 1 thread', flops / seconds / 1e9, 'GFLOP/s');
    const ratio = [...ratios].sort((a, b) => a - b)[1];
    record('kernel', 'WebAssembly time / C time, 1 thread, median of 3 alternating rounds', ratio, '×', atMost(1.15));
    record('kernel', '  the rounds (WebAssembly / C)', ratios.map((r) => r.toFixed(3)).join(', '), '');
    record('kernel', 'C and WebAssembly factors, max relative difference', diff / size, '');
    rmSync(input);
    rmSync(output);
  } else {
    log('gcc not found: no native comparison');
  }
  wasm1.dispose();
}

// --- full scale: als train, peak memory, similar ------------------------------------------
{
  const model = join(dataDir, 'model-full');
  const started = performance.now();
  const trained = spawnSync(process.execPath, [als, 'train', fullFile, '--model', model, '--json', '--quiet'], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const wall = (performance.now() - started) / 1000;
  if (trained.status !== 0) throw new Error(`als train failed: ${trained.stderr}`);
  const summary = JSON.parse(trained.stdout);
  const fullRows = `${(SHAPES.full.rows / 1e6).toFixed(1)}M rows`;
  record('full', `als train ${fullRows}, defaults (15 iterations, cg, 64 factors): wall`, wall, 's');
  record('full', '  of which reading', summary.seconds.read, 's');
  record('full', '  of which training', summary.seconds.train, 's');
  record('full', '  of which saving', summary.seconds.save, 's');
  record('full', 'als train peak RSS', summary.peakRssBytes / 1e9, 'GB', atMost(1.0));
  record('full', 'read speed', statSync(fullFile).size / 1e6 / summary.seconds.read, 'MB/s');

  // the most listened artist, as a user would ask for it
  const loaded = loadModel(model);
  let best = 0;
  const listeners = loaded.itemUserCounts;
  for (let i = 1; i < loaded.items; i++) if (listeners[i] > listeners[best]) best = i;
  const artist = loaded.itemNames[best].toLowerCase();
  similarItems(loaded, artist); // loads, stages and caches the factors and norms
  const times = [];
  for (let run = 0; run < 21; run++) {
    const t = performance.now();
    similarItems(loaded, artist);
    times.push(performance.now() - t);
  }
  record('query', `als similar in process (${loaded.items} artists), median of 21`, median(times), 'ms');
  const cli = [];
  for (let run = 0; run < 5; run++) {
    const t = performance.now();
    const result = spawnSync(process.execPath, [als, 'similar', artist, '--model', model, '--json'], {
      encoding: 'utf8',
    });
    cli.push(performance.now() - t);
    if (result.status !== 0) throw new Error(`als similar failed: ${result.stderr}`);
  }
  record('query', 'als similar as a CLI process, median of 5', median(cli), 'ms');
  if (baseline !== null) {
    // alternating, so that both builds see the same machine
    const { bin, commit } = baselineBuild(root, dataDir, baseline, log);
    const baselineModel = modelForBaseline(model, bin, artist);
    const ours = [];
    const theirs = [];
    for (let run = 0; run < 9; run++) {
      for (const [script, times, modelDir] of [
        [als, ours, model],
        [bin, theirs, baselineModel],
      ]) {
        const t = performance.now();
        const result = spawnSync(process.execPath, [script, 'similar', artist, '--model', modelDir, '--json'], {
          encoding: 'utf8',
        });
        times.push(performance.now() - t);
        if (result.status !== 0) throw new Error(`als similar (${script}) failed: ${result.stderr}`);
      }
    }
    record(
      'query',
      `als similar as a CLI process against ${commit.slice(0, 12)}, alternating, medians of 9 (ratio)`,
      median(ours) / median(theirs),
      '×',
      atMost(0.6),
    );
    record('query', `  ${commit.slice(0, 12)}: median`, median(theirs), 'ms');
  }

  // --all on the first 20K queries only (the whole run takes minutes): the progress callback
  // stops the run, which then removes its temporary file
  const allRate = async (write, total, unit) => {
    const stop = new Error('bench: enough');
    const started = performance.now();
    let first = null;
    let done = 0;
    await write((count) => {
      if (first === null) first = { count, at: performance.now() };
      done = count;
      if (count - first.count >= 20000) throw stop;
    }).catch((error) => {
      // a stop within the writing comes wrapped as the writer's error; one at the last row, as it is
      if (error !== stop && error.cause !== stop) throw error;
    });
    const perSecond = (done - first.count) / ((performance.now() - first.at) / 1000);
    const setup = (first.at - started) / 1000;
    return {
      perSecond,
      full: setup + total / perSecond,
      label: `${availableParallelism()} threads, ${done - first.count} ${unit}`,
    };
  };
  const { writeAllSimilar } = await import(dist('query/similarAll.js'));
  const { writeAllRecommendations } = await import(dist('query/recommendAll.js'));
  const scratch = join(dataDir, 'all.tsv');
  const similarAll = await allRate(
    (progress) => writeAllSimilar(loaded, scratch, {}, progress),
    loaded.items,
    'artists',
  );
  record('query', `als similar --all (${similarAll.label}): artists per second`, similarAll.perSecond, '/s');
  record('query', `als similar --all: all ${loaded.items} artists (extrapolated)`, similarAll.full, 's');
  const recommendAll = await allRate(
    (progress) => writeAllRecommendations(loaded, scratch, {}, progress),
    loaded.users,
    'users',
  );
  record('query', `als recommend --all (${recommendAll.label}): users per second`, recommendAll.perSecond, '/s');
  record('query', `als recommend --all: all ${loaded.users} users (extrapolated)`, recommendAll.full, 's');
  await annSection(loaded, model);
}

// --- serving: als serve under load -----------------------------------------------------------
if (!process.argv.includes('--no-serve')) await servingSection(join(dataDir, 'model-full'));

// --- the Spark engine in the same run --------------------------------------------------------
if (!process.argv.includes('--no-spark')) await sparkSection();

// --- the reference library in the same run: implicit, alternating with als -------------------
if (!process.argv.includes('--no-reference')) {
  const { compareOn, findReference } = await import('./reference.js');
  const reference = findReference(log);
  if (reference === null) {
    log('reference: implicit is not available (pip install implicit pandas): the comparison is left out');
  } else {
    const targets = (whole, exact) => ({ process: atMost(whole), exact: atMost(exact), all: atMost(1.0) });
    await compareOn({
      label: rowsLabel(SHAPES.medium),
      file: mediumFile,
      rounds: quick ? 1 : 3,
      all: true,
      // the --all queries take under 3 s a side here: as many rounds as training, medians
      allRounds: quick ? 1 : 3,
      exact: true,
      reference,
      record,
      log,
      targets: targets(0.5, 0.5),
    });
    // the 360K shape: one round of training (about 4 minutes); its --all with --reference-full-all
    if (process.argv.includes('--reference-full') || process.argv.includes('--reference-full-all')) {
      await compareOn({
        label: `${rowsLabel(SHAPES.full)} (the 360K shape)`,
        file: fullFile,
        rounds: 1,
        all: process.argv.includes('--reference-full-all'),
        exact: false,
        reference,
        record,
        log,
        targets: targets(0.4, 0.5),
      });
    }
  }
}

// --- the table ------------------------------------------------------------------------------
finish(join(root, 'bench', quick ? 'results-quick.json' : 'results.json'));
