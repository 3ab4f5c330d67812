import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatTrainConfig, parseTrainConfig } from '../../src/als/config.js';
import { defaultTrainOptions } from '../../src/als/options.js';
import { duration } from '../../src/cli/tune.js';
import { AlsError } from '../../src/errors.js';
import { halvingSchedule, searchedOptions, tune, TUNED_OPTIONS } from '../../src/eval/tune.js';
import { ALS_BIN, SAMPLE, plantedGroups, tempDir } from '../helpers.js';

const isError = (code: string, pattern: RegExp) => (e: unknown) =>
  e instanceof AlsError && e.code === code && pattern.test(e.message);

describe('settings files', () => {
  it('round-trips what tune writes', () => {
    const options = { weighting: 'bm25' as const, alpha: 0.47, regularization: 3.2, factors: 32, iterations: 10 };
    const text = formatTrainConfig(options, 'a note');
    assert.deepEqual(JSON.parse(text), {
      about: 'a note',
      weighting: 'bm25',
      alpha: 0.47,
      lambda: 3.2,
      factors: 32,
      iterations: 10,
    });
    assert.deepEqual(parseTrainConfig(text, 'tuned.json'), options);
  });

  it('names the file and the setting when something is wrong', () => {
    assert.throws(
      () => parseTrainConfig('{"lamda": 1}', 'a.json'),
      isError('input', /^a\.json: unknown setting "lamda"/),
    );
    assert.throws(
      () => parseTrainConfig('{"alpha": "2"}', 'a.json'),
      isError('input', /^a\.json: "alpha" must be a number, not "2"/),
    );
    assert.throws(
      () => parseTrainConfig('{"weighting": "tfidf"}', 'a.json'),
      isError('input', /^a\.json: "weighting" must be one of linear, log, bm25/),
    );
    assert.throws(
      () => parseTrainConfig('{"factors": 0}', 'a.json'),
      isError('input', /^a\.json: factors must be a whole number/),
    );
    assert.throws(() => parseTrainConfig('[1]', 'a.json'), isError('input', /^a\.json: expected a JSON object/));
    assert.throws(
      () => parseTrainConfig('{\n  "alpha": 2,\n  oops\n}', 'a.json'),
      isError('input', /^a\.json: not valid JSON \(.*line 3, column 3\)/),
    );
  });
});

describe('settings files with a byte order mark', () => {
  it('drop a leading UTF-8 BOM, as data files do; a BOM anywhere else is still no JSON', () => {
    const text = formatTrainConfig(
      { weighting: 'bm25', alpha: 0.5, regularization: 2, factors: 8, iterations: 3 },
      'saved by an editor',
    );
    assert.deepEqual(parseTrainConfig(`\uFEFF${text}`, 'bom.json'), parseTrainConfig(text, 'bom.json'));
    assert.throws(
      () => parseTrainConfig(`\uFEFF\uFEFF${text}`, 'a.json'),
      isError('input', /^a\.json: not valid JSON/),
    );
  });

  it('als train --config reads a settings file saved with a BOM', () => {
    const work = tempDir('als-bom-');
    const config = join(work, 'bom.json');
    writeFileSync(
      config,
      Buffer.concat([
        Buffer.from([0xef, 0xbb, 0xbf]),
        Buffer.from('{"factors": 8, "iterations": 2, "weighting": "bm25"}'),
      ]),
    );
    const trained = spawnSync(
      process.execPath,
      [ALS_BIN, 'train', SAMPLE, '--config', config, '--model', join(work, 'model'), '--json'],
      { encoding: 'utf8' },
    );
    assert.equal(trained.status, 0, trained.stderr);
    const options = JSON.parse(trained.stdout).options;
    assert.deepEqual([options.factors, options.iterations, options.weighting], [8, 2, 'bm25']);
  });
});

describe('time budgets', () => {
  it('reads seconds, minutes and hours', () => {
    assert.equal(duration('90'), 90);
    assert.equal(duration('90s'), 90);
    assert.equal(duration('10m'), 600);
    assert.equal(duration('1.5h'), 5400);
    for (const bad of ['', 'ten', '0', '-5m', '5 days'])
      assert.throws(() => duration(bad), isError('usage', /--time-budget/));
  });
});

describe('tune', () => {
  const data = plantedGroups(200, 3);
  const fast = { threads: 1, cgSteps: 2 };

  it('tries the defaults first, then other settings, and reports the best on validation and on test', async () => {
    const started: number[] = [];
    const result = await tune(
      data.userItems,
      { trials: 6, k: 3, metric: 'precision', fixed: fast },
      { onTrialStart: (n) => started.push(n) },
    );
    // the defaults in full, then a bracket of 5: all with a third of their iterations, the best one in full
    assert.deepEqual(started.slice(0, 6), [1, 2, 3, 4, 5, 6]);
    assert.equal(started.length, 7);
    assert.ok(started[6] >= 2);
    assert.equal(result.trials.length, 6);
    assert.equal(result.stoppedBy, 'trials');
    const defaults = defaultTrainOptions();
    for (const name of TUNED_OPTIONS) assert.equal(result.trials[0].options[name], defaults[name], name);
    // every trial holds the fixed options and varies something else
    for (const trial of result.trials) assert.equal(trial.options.cgSteps, 2);
    assert.equal(new Set(result.trials.map((t) => JSON.stringify(TUNED_OPTIONS.map((n) => t.options[n])))).size, 6);
    const full = result.trials.filter((t) => t.trainedIterations === t.options.iterations);
    assert.equal(full.length, 2);
    const bestPrecision = Math.max(...full.map((t) => t.metrics.precision));
    assert.equal(result.best.metrics.precision, bestPrecision);
    assert.equal(
      result.best,
      full.find((t) => t.metrics.precision === bestPrecision),
      'the earliest of equals',
    );
    // planted groups: ALS far above popularity, on validation and on test
    assert.ok(
      result.best.metrics.precision > 3 * result.popularity.precision,
      `${result.best.metrics.precision} vs ${result.popularity.precision}`,
    );
    assert.ok(result.test.best.precision > 3 * result.test.popularity.precision);
    assert.ok(result.sizes.fit > 0 && result.sizes.validation > 0 && result.sizes.test > 0);
    assert.equal(
      result.sizes.fit + result.sizes.validation + result.sizes.test,
      data.userItems.indptr[data.userItems.rows],
    );
  });

  it('gives the same trials for the same seed', async () => {
    const run = () => tune(data.userItems, { trials: 11, k: 3, seed: 5, fixed: fast });
    const [a, b] = [await run(), await run()];
    assert.deepEqual(
      a.trials.map((t) => [t.options, t.rungs.map((r) => [r.iterations, r.metrics])]),
      b.trials.map((t) => [t.options, t.rungs.map((r) => [r.iterations, r.metrics])]),
    );
    assert.deepEqual(
      a.bestSoFar.map((p) => [p.settings, p.trainings, p.best, p.bestNumber]),
      b.bestSoFar.map((p) => [p.settings, p.trainings, p.best, p.bestNumber]),
    );
  });

  it('halves: brackets of 9 train 9, 3 and 1 settings; smaller brackets have fewer rungs', () => {
    assert.deepEqual(halvingSchedule(9), [9, 3, 1]);
    assert.deepEqual(halvingSchedule(8), [8, 2]);
    assert.deepEqual(halvingSchedule(5), [5, 1]);
    assert.deepEqual(halvingSchedule(3), [3, 1]);
    assert.deepEqual(halvingSchedule(2), [2]);
    assert.deepEqual(halvingSchedule(1), [1]);
  });

  it('promotes the best third of each rung: 9 settings at 1/9 of their iterations, 3 at 1/3, 1 in full', async () => {
    // 10 trials: the defaults, then one bracket of 9; 15 iterations: rungs of 2, 5 and 15
    const result = await tune(data.userItems, {
      trials: 10,
      k: 3,
      metric: 'precision',
      fixed: { ...fast, iterations: 15, factors: 8 },
    });
    assert.equal(result.trials.length, 10);
    const bracket = result.trials.slice(1);
    assert.deepEqual(
      [1, 2, 3].map((n) => bracket.filter((t) => t.rungs.length >= n).length),
      [9, 3, 1],
    );
    for (const t of bracket)
      assert.deepEqual(
        t.rungs.map((r) => r.iterations),
        [2, 5, 15].slice(0, t.rungs.length),
      );
    // the promoted are the best of the rung below (at its iterations), the earlier of equals first
    const promoted = (rung: number) => bracket.filter((t) => t.rungs.length > rung + 1).map((t) => t.number);
    const ranked = (rung: number, count: number) =>
      bracket
        .filter((t) => t.rungs.length > rung)
        .sort((a, b) => b.rungs[rung].metrics.precision - a.rungs[rung].metrics.precision || a.number - b.number)
        .slice(0, count)
        .map((t) => t.number)
        .sort((a, b) => a - b);
    assert.deepEqual(promoted(0), ranked(0, 3));
    assert.deepEqual(promoted(1), ranked(1, 1));
    // only settings trained in full compete: the defaults and the bracket's winner
    assert.ok([1, promoted(1)[0]].includes(result.best.number));
    assert.equal(result.bestSoFar.length, 1 + 9 + 3 + 1);
    assert.deepEqual(
      result.bestSoFar.map((p) => p.trainings),
      Array.from({ length: 14 }, (_, n) => n + 1),
    );
  });

  it('reaches a known-good region on planted groups: better than the defaults, 15× popularity (19 trials)', async () => {
    const result = await tune(data.userItems, { trials: 19, k: 3, metric: 'precision', fixed: fast });
    // measured: the defaults 0.2043, the search's best 0.2177 (trial 17, bm25 α=7.6 λ=5.3), popularity 0.0134
    assert.equal(result.trials[0].metrics.precision.toFixed(4), '0.2043');
    assert.ok(result.best.metrics.precision >= 0.215, String(result.best.metrics.precision));
    assert.ok(result.best.metrics.precision > 15 * result.popularity.precision);
    // the best came in the last quarter of the settings: more would likely help
    assert.ok(result.best.number > 0.75 * 19);
    for (const t of result.trials.slice(1)) assert.ok([32, 48, 64, 96, 128, 192, 256].includes(t.options.factors));
    assert.equal(result.moreTrialsLikelyHelp, true);
    // the curve never falls, and ends at the best
    for (let n = 1; n < result.bestSoFar.length; n++)
      assert.ok(result.bestSoFar[n].best >= result.bestSoFar[n - 1].best);
    assert.equal(result.bestSoFar[result.bestSoFar.length - 1].best, result.best.metrics.precision);
  });

  it('searches ν only when neither λ nor ν is given, with λ on the scale of ν (λ·n: 0.03 times)', async () => {
    assert.deepEqual(searchedOptions({}), TUNED_OPTIONS);
    assert.ok(!searchedOptions({ regularization: 1 }).includes('regularizationExponent'));
    assert.ok(!searchedOptions({ regularizationExponent: 1 }).includes('regularizationExponent'));
    const result = await tune(data.userItems, { trials: 19, k: 3, fixed: { ...fast, factors: 8, iterations: 3 } });
    const drawn = result.trials.slice(1).map((t) => t.options);
    assert.deepEqual(new Set(drawn.map((o) => o.regularizationExponent)), new Set([0, 1]));
    for (const o of drawn) {
      const [low, high] = o.regularizationExponent === 0 ? [0.01, 100] : [0.0003, 3];
      assert.ok(
        o.regularization >= low && o.regularization <= high,
        `λ ${o.regularization} ν ${o.regularizationExponent}`,
      );
      assert.equal(o.factors, 8);
    }
  });

  it('holds fixed options and searches the rest', async () => {
    const result = await tune(data.userItems, { trials: 5, k: 3, fixed: { ...fast, factors: 8, weighting: 'bm25' } });
    for (const trial of result.trials) {
      assert.equal(trial.options.factors, 8);
      assert.equal(trial.options.weighting, 'bm25');
    }
    assert.ok(new Set(result.trials.map((t) => t.options.regularization)).size > 1);
  });

  it('takes the first trial from `defaults` beneath `fixed` (als tune: the data rule of als train)', async () => {
    const result = await tune(data.userItems, {
      trials: 1,
      k: 3,
      fixed: { ...fast, factors: 8, iterations: 2, alpha: 3 },
      defaults: { weighting: 'linear', alpha: 7, regularization: 0.5, regularizationExponent: 1 },
    });
    const first = result.trials[0].options;
    assert.deepEqual(
      [first.weighting, first.alpha, first.regularization, first.regularizationExponent, first.factors],
      ['linear', 3, 0.5, 1, 8],
    );
    await assert.rejects(tune(data.userItems, { trials: 1, defaults: 'log' as never }), {
      code: 'usage',
      message: /defaults must be an object/,
    });
  });

  it("als tune's first trial is what als train chooses for the data (its rule), under the options given", () => {
    const work = tempDir('als-tune-rule-');
    const run = (...extra: string[]) => {
      const tuned = spawnSync(
        process.execPath,
        [ALS_BIN, 'tune', SAMPLE, '--trials', '1', '--iterations', '2', '--factors', '8', '--json', ...extra],
        { cwd: work, encoding: 'utf8' },
      );
      assert.equal(tuned.status, 0, tuned.stderr);
      return JSON.parse(tuned.stdout).trials[0].options;
    };
    const first = run();
    // the Last.fm sample is counts: log α = 2, λ = 1.6·n (0.15 × 2 × its mean ln(1 + plays), 5.5;
    // als train prints the same rule); the factors given hold
    assert.deepEqual(
      [first.weighting, first.alpha, first.regularization, first.regularizationExponent, first.factors],
      ['log', 2, 1.6, 1, 8],
    );
    // a λ given holds the regularization group, the rule still sets the weighting
    const given = run('--lambda', '5');
    assert.deepEqual(
      [given.weighting, given.alpha, given.regularization, given.regularizationExponent],
      ['log', 2, 5, 0],
    );
  });

  it('stops at the time budget, but always runs the defaults', async () => {
    const result = await tune(data.userItems, { trials: 30, k: 3, timeBudgetSeconds: 1e-6, fixed: fast });
    assert.equal(result.trials.length, 1);
    assert.equal(result.stoppedBy, 'time');
    assert.equal(result.best.number, 1);
  });

  it('checks its options', async () => {
    await assert.rejects(tune(data.userItems, { trials: 0 }), isError('usage', /trials/));
    await assert.rejects(tune(data.userItems, { metric: 'f1' as never }), isError('usage', /unknown metric "f1"/));
  });
});

describe('als tune and train --config', () => {
  const work = tempDir('als-tune-');
  const als = (...args: string[]) => spawnSync(process.execPath, [ALS_BIN, ...args], { cwd: work, encoding: 'utf8' });

  it('writes the best settings, and train --config trains with them (command-line options win)', () => {
    // through a symlink (issue 9, class 3): the link stays a link, its target gets the settings and keeps its mode
    mkdirSync(join(work, 'configs'));
    const config = join(work, 'configs', 'tuned.json');
    writeFileSync(config, 'old', { mode: 0o600 });
    symlinkSync(config, join(work, 'tuned.json'));
    const tuned = als(
      'tune',
      SAMPLE,
      '--trials',
      '3',
      '--iterations',
      '4',
      '--factors',
      '16',
      '--write-config',
      join(work, 'tuned.json'),
      '--json',
    );
    assert.equal(tuned.status, 0, tuned.stderr);
    assert.ok(lstatSync(join(work, 'tuned.json')).isSymbolicLink());
    assert.equal(statSync(config).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(work, 'configs')), ['tuned.json'], 'no temporary left');
    const result = JSON.parse(tuned.stdout);
    assert.equal(result.trials.length, 3);
    for (const trial of result.trials) {
      assert.equal(trial.options.iterations, 4);
      assert.equal(trial.options.factors, 16);
      assert.ok(trial.metrics.ndcg > 0 && trial.metrics.ndcg < 1);
    }
    assert.ok(result.test.best.ndcg > result.test.popularity.ndcg, JSON.stringify(result.test));
    const best = result.best.options;
    assert.match(
      result.command,
      new RegExp(
        `^als train \\S+lastfm-2k\\.tsv --weighting ${best.weighting} --alpha ${best.alpha} --lambda ${best.regularization} --factors 16 --iterations 4$`,
      ),
    );
    const settings = JSON.parse(readFileSync(config, 'utf8'));
    assert.deepEqual(
      {
        weighting: settings.weighting,
        alpha: settings.alpha,
        lambda: settings.lambda,
        factors: settings.factors,
        iterations: settings.iterations,
      },
      { weighting: best.weighting, alpha: best.alpha, lambda: best.regularization, factors: 16, iterations: 4 },
    );

    const trained = als(
      'train',
      SAMPLE,
      '--config',
      config,
      '--iterations',
      '2',
      '--model',
      join(work, 'model'),
      '--json',
    );
    assert.equal(trained.status, 0, trained.stderr);
    const options = JSON.parse(trained.stdout).options;
    assert.equal(options.weighting, best.weighting);
    assert.equal(options.alpha, best.alpha);
    assert.equal(options.regularization, best.regularization);
    assert.equal(options.factors, 16);
    assert.equal(options.iterations, 2, 'the command line wins over the file');
  });

  it('prints the live table and the train command', () => {
    const result = als('tune', SAMPLE, '--trials', '2', '--iterations', '3', '--factors', '8');
    assert.equal(result.status, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.match(lines[0], /^Searching weighting, α, λ, ν for the best NDCG@10/);
    // the first trial is als train's choice for these data (its rule for counts: log α = 2, λ = 1.6·n),
    // with the factors given
    assert.equal(
      lines[1],
      'Trial 1: the defaults als train chooses for these data: counts (1% of them are 1): log α=2, λ=1.6·n, 64 factors (settings given win over it)',
    );
    assert.match(
      lines[2],
      /^trial\s+weighting\s+α\s+λ\s+ν\s+factors\s+iterations\s+NDCG@10\s+precision@10\s+best so far\s+seconds$/,
    );
    const first = /^\s+1\s+log\s+2\s+1\.6\s+1\s+8\s+3\s+(0\.\d{4})\s+0\.\d{4}\s+(0\.\d{4})\s+\d+\.\d\d {2}best$/.exec(
      lines[3],
    );
    assert.ok(first, lines[3]);
    assert.equal(first[1], first[2], 'the best so far is the defaults');
    assert.match(lines[4], /^\s+2\s+/);
    assert.match(
      result.stdout,
      /\nTrain with\n {2}als train \S+ --weighting \w+ --alpha [\d.]+ --lambda [\d.]+ --factors 8 --iterations 3\n/,
    );
  });

  it('one line for a bad settings file or budget; nothing written when it cannot be', () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{"factors": 8, "lamda": 2}');
    for (const [args, status, pattern] of [
      [['train', SAMPLE, '--config', bad], 3, /^als: \S+bad\.json: unknown setting "lamda"/],
      [
        ['train', SAMPLE, '--config', join(work, 'missing.json')],
        3,
        /missing\.json: cannot read the settings file \(no such file\)/,
      ],
      [['tune', SAMPLE, '--time-budget', 'soon'], 2, /--time-budget: expected a time like 90s, 10m or 1h, not "soon"/],
      [
        ['tune', SAMPLE, '--write-config', join(work, 'no', 'such', 'dir.json')],
        6,
        /^als: cannot write \S+no\/such\/dir\.json: no such directory$/m,
      ],
    ] as const) {
      const result = als(...args);
      assert.equal(result.status, status, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
  });

  it('refuses --write-config naming a directory, a missing directory or an empty name at once: no trial, nothing touched (issue 9, classes 2 and 8)', () => {
    const dir = join(work, 'a-directory');
    mkdirSync(dir);
    writeFileSync(join(dir, 'kept'), 'kept');
    for (const [target, status, line] of [
      [dir, 6, `als: cannot write ${dir}: is a directory\n`],
      [
        join(dir, 'kept', 'x.json'),
        6,
        `als: cannot write ${join(dir, 'kept', 'x.json')}: a file is in the way of the directory\n`,
      ],
      ['', 2, 'als: --write-config needs a file name\n'],
    ] as const) {
      const result = als('tune', SAMPLE, '--trials', '1', '--write-config', target);
      assert.equal(result.status, status, result.stderr);
      assert.equal(result.stderr, line);
      assert.equal(result.stdout, '', 'no trial ran');
    }
    assert.deepEqual(readdirSync(dir), ['kept']);
    assert.equal(readFileSync(join(dir, 'kept'), 'utf8'), 'kept');
  });
});
