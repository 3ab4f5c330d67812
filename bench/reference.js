#!/usr/bin/env node
// The reference section of npm run bench: the Python library implicit (bench/implicit_ref.py)
// on the same files in the same run, alternating with als round by round, so that every speed
// claim is a ratio taken under the same load (these shared machines vary 2× from day to day).
//
// usage: node bench/reference.js [--rounds 3] [--full] [--full-all] [--quick]
//   --full: also the 360K shape (one round of training: about 4 minutes);
//   --full-all: and its recommend/similar for every row (about 15 minutes more)
// (npm run bench runs it with the 2.5M shape unless --no-reference is given)
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rowsLabel, shapes, synthFile } from './shapes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const als = join(root, 'bin', 'als.js');
const script = join(root, 'bench', 'implicit_ref.py');
const FACTORS = 64;
const ITERATIONS = 15;
const THREADS = 2;
/** iterations of the exact solvers (each takes seconds at the 2.5M shape) */
const EXACT_ITERATIONS = 3;

/** The Python with implicit and pandas, installed with pip --user when missing; null when that fails. */
export function findReference(log) {
  const python = process.env.PYTHON ?? 'python3';
  const probe = () => {
    try {
      return execFileSync(python, ['-c', 'import implicit, pandas, scipy; print(implicit.__version__)'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return null;
    }
  };
  let version = probe();
  if (version === null) {
    log('reference: installing implicit and pandas with pip (once)');
    try {
      execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--user', 'implicit', 'pandas'], { stdio: 'inherit' });
    } catch {
      // a system that refuses --user (a virtual environment) takes a plain install
      try {
        execFileSync(python, ['-m', 'pip', 'install', '--quiet', 'implicit', 'pandas'], { stdio: 'inherit' });
      } catch {
        return null;
      }
    }
    version = probe();
  }
  return version === null ? null : { python, version };
}

/** Runs a command; its wall seconds, stdout and stderr. */
function timed(command, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - started) / 1000;
      if (code !== 0) reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      else resolve({ wall, stdout, stderr });
    });
  });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** `als train` as a user runs it: the whole process, its --json summary. */
async function alsTrain(file, model, solver, iterations) {
  const { wall, stdout } = await timed(process.execPath, [
    als,
    'train',
    file,
    '--model',
    model,
    '--solver',
    solver,
    '--factors',
    String(FACTORS),
    '--iterations',
    String(iterations),
    '--threads',
    String(THREADS),
    '--json',
  ]);
  const summary = JSON.parse(stdout);
  return {
    process: wall,
    read: summary.seconds.read,
    perIteration: summary.seconds.train / iterations,
    peakRss: summary.peakRssBytes,
  };
}

/** `als recommend --all` / `similar --all` into a file: the seconds its summary line gives (scoring and writing, not loading). */
async function alsAll(command, model, output, extra = []) {
  const { stdout, stderr } = await timed(
    process.execPath,
    [als, command, '--all', ...extra, '--model', model, '--output', output],
    { ...process.env, NO_COLOR: '1' },
  );
  // "(1.58 s)", or "(pruned; 1.58 s)"
  const seconds = /[(;] ?(\d+(?:\.\d+)?) s\)\s*$/m.exec(stdout + stderr);
  if (!seconds) throw new Error(`no time in the output of als ${command} --all: ${stdout}${stderr}`);
  return Number(seconds[1]);
}

/** implicit_ref.py on `file`: its JSON and the process's wall seconds. */
async function implicitRun(reference, file, solver, iterations, all) {
  const { wall, stdout } = await timed(reference.python, [
    script,
    file,
    '--factors',
    String(FACTORS),
    '--iterations',
    String(iterations),
    '--threads',
    String(THREADS),
    '--solver',
    solver,
    ...(all ? ['--all'] : []),
  ]);
  const result = JSON.parse(stdout.trim().split('\n').pop());
  return { ...result.seconds, wall, peakRss: result.peakRssBytes };
}

/**
 * Alternating rounds on `file` (label e.g. "2.5M"): train with CG (whole process, read, s/iteration),
 * the exact solvers, and the --all queries; records absolute seconds and als ÷ implicit.
 */
export async function compareOn({
  label,
  file,
  rounds,
  all,
  allRounds = 1,
  exact,
  reference,
  record,
  log,
  targets = {},
}) {
  const work = mkdtempSync(join(root, 'bench', 'data', 'ref-'));
  try {
    const model = join(work, 'model');
    const a = [];
    const b = [];
    for (let round = 0; round < rounds; round++) {
      log(`reference ${label}: round ${round + 1} of ${rounds}`);
      a.push(await alsTrain(file, model, 'cg', ITERATIONS));
      b.push(await implicitRun(reference, file, 'cg', ITERATIONS, false));
    }
    const pick = (runs, key) => median(runs.map((r) => r[key]));
    const group = `vs implicit ${reference.version}, ${label}`;
    const pair = (what, alsValue, implicitValue, target) => {
      record(group, `${what}: als / implicit`, `${alsValue.toPrecision(3)} / ${implicitValue.toPrecision(3)}`, 's');
      record(group, `${what}: ratio`, alsValue / implicitValue, '×', target);
    };
    pair(
      'whole train process, CG 64 factors, 15 iterations, 2 threads',
      pick(a, 'process'),
      pick(b, 'wall'),
      targets.process,
    );
    pair('read + matrix', pick(a, 'read'), pick(b, 'read'));
    pair('CG s/iteration', pick(a, 'perIteration'), pick(b, 'perIteration'));
    record(
      group,
      'peak RSS of the train process: als / implicit',
      `${(pick(a, 'peakRss') / 2 ** 30).toFixed(2)} / ${(pick(b, 'peakRss') / 2 ** 30).toFixed(2)}`,
      'GiB',
    );
    if (exact) {
      const ea = await alsTrain(file, join(work, 'exact'), 'naive', EXACT_ITERATIONS);
      const eb = await implicitRun(reference, file, 'cholesky', EXACT_ITERATIONS, false);
      pair(
        `exact s/iteration (als naive, implicit Cholesky; ${EXACT_ITERATIONS} iterations)`,
        ea.perIteration,
        eb.perIteration,
        targets.exact,
      );
    }
    if (all) {
      // the CG model of the last round answers; implicit fits its own and times its batched
      // calls; `allRounds` alternating rounds (each of implicit's fits a model anew), medians
      const runs = [];
      for (let round = 0; round < allRounds; round++) {
        if (allRounds > 1) log(`reference ${label}: --all queries, round ${round + 1} of ${allRounds}`);
        runs.push({
          recommend: await alsAll('recommend', model, join(work, 'recs.tsv')),
          pruned: await alsAll('recommend', model, join(work, 'recs-pruned.tsv'), ['--pruned']),
          similar: await alsAll('similar', model, join(work, 'similar.tsv')),
          implicit: await implicitRun(reference, file, 'cg', ITERATIONS, true),
        });
      }
      const of = (key) => median(runs.map((r) => (key in r ? r[key] : r.implicit[key])));
      pair('recommend for every user (top 10)', of('recommend'), of('recommendAll'), targets.all);
      pair('recommend --pruned for every user (the same items; one thread)', of('pruned'), of('recommendAll'));
      pair('similar items for every item (top 10)', of('similar'), of('similarAll'), targets.all);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// --- standalone ------------------------------------------------------------------------------
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      full: { type: 'boolean' },
      'full-all': { type: 'boolean' },
      quick: { type: 'boolean' },
    },
  });
  const log = (text) => process.stderr.write(`bench: ${text}\n`);
  const record = (group, what, value, unit, target) => {
    const shown = typeof value !== 'number' ? value : Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
    log(
      `${group} | ${what}: ${shown} ${unit}${target ? ` (target ${target.text}: ${target.test(value) ? 'met' : 'NOT met'})` : ''}`,
    );
  };
  const atMost = (limit) => ({ text: `≤ ${limit}`, test: (v) => v <= limit });
  const reference = findReference(log);
  if (reference === null) {
    log('reference: implicit is not available (pip install implicit pandas), nothing compared');
    process.exit(1);
  }
  const { medium, full } = shapes(values.quick);
  const rounds = Number(values.rounds);
  await compareOn({
    label: rowsLabel(medium),
    file: synthFile(medium, log),
    rounds,
    all: true,
    allRounds: rounds,
    exact: true,
    reference,
    record,
    atMost,
    log,
    targets: { process: atMost(0.5), exact: atMost(0.5), all: atMost(1.0) },
  });
  if (values.full || values['full-all']) {
    await compareOn({
      label: rowsLabel(full),
      file: synthFile(full, log),
      rounds: 1,
      all: Boolean(values['full-all']),
      exact: false,
      reference,
      record,
      atMost,
      log,
      targets: { process: atMost(0.4), all: atMost(1.0) },
    });
  }
}
