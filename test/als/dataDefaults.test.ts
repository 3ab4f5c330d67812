import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BINARY_SHARE,
  type DataProfile,
  defaultsFor,
  FEW_PAIRS_PER_USER,
  LAMBDA_PER_CONFIDENCE,
  lambdaForExponent,
  profileData,
  RULE_LAMBDA_RANGE,
  ruleOptions,
} from '../../src/als/dataDefaults.js';
import { AlsError } from '../../src/errors.js';
import { ruleSaid } from '../../src/cli/trainOptions.js';
import { defaultTrainOptions, resolveTrainOptions } from '../../src/als/options.js';
import { cooToCsr } from '../../src/data/sparse.js';
import { ALS_BIN, plantedGroups, tempDir } from '../helpers.js';

// issue 12: settings not given are chosen from what the data is, by a measured rule

describe('profileData', () => {
  it('measures shape, density and the share of counts of 1', () => {
    const m = cooToCsr(
      3,
      4,
      Int32Array.of(0, 0, 1, 2),
      Int32Array.of(0, 3, 1, 1),
      Float32Array.of(1, 5, 1, 2),
      4,
    ).matrix;
    assert.deepEqual(profileData(m), {
      users: 3,
      items: 4,
      pairs: 4,
      density: 4 / 12,
      pairsPerUser: 4 / 3,
      pairsPerItem: 1,
      shareOfOnes: 0.5,
      meanLogCount: (Math.log(2) + Math.log(6) + Math.log(2) + Math.log(3)) / 4,
    });
  });
});

/** a profile with `pairsPerUser` pairs per user and play-count-like counts */
const profileOf = (pairsPerUser: number) => ({
  users: 100,
  items: 50,
  pairs: 100 * pairsPerUser,
  density: pairsPerUser / 50,
  pairsPerUser,
  pairsPerItem: 2 * pairsPerUser,
  meanLogCount: 5,
});

describe('defaultsFor', () => {
  const profile = {
    users: 100,
    items: 50,
    pairs: 1000,
    density: 0.2,
    pairsPerUser: 10,
    pairsPerItem: 20,
    meanLogCount: 4,
  };
  it('takes log α = 2 for counts and log α = 5 when nearly every count is 1', () => {
    const counts = defaultsFor({ ...profile, shareOfOnes: 0.04 });
    assert.equal(counts.rule, 'counts');
    // λ = 0.15 × α·mean ln(1 + count) = 0.15 × 2 × 4 per observation (ν = 1)
    assert.deepEqual(counts.options, {
      weighting: 'log',
      alpha: 2,
      regularization: 1.2,
      regularizationExponent: 1,
      regularizationAlpha0: 0,
      factors: 32,
    });
    assert.equal(counts.description, 'counts (4% of them are 1): log α=2, λ=1.2·n, 32 factors');
    const binary = defaultsFor({ ...profile, shareOfOnes: 1, meanLogCount: Math.log(2) });
    assert.equal(binary.rule, 'binary');
    assert.equal(defaultsFor({ ...profile, shareOfOnes: BINARY_SHARE }).rule, 'binary');
    assert.equal(binary.description, '0/1 data (100% of the counts are 1): log α=5, λ=0.26·n, 32 factors');
    // every pair's confidence is 1 + 5·ln 2: λ = 0.075 × 5·ln 2 = 0.26 (two digits)
    assert.deepEqual(binary.options, {
      weighting: 'log',
      alpha: 5,
      regularization: 0.26,
      regularizationExponent: 1,
      regularizationAlpha0: 0,
      factors: 32,
    });
  });

  it('scales λ with the confidences, within its range, and gives short histories 32 factors', () => {
    const lambda = (meanLogCount: number) =>
      defaultsFor({ ...profile, shareOfOnes: 0, meanLogCount }).options.regularization;
    assert.deepEqual([0.1, 1, 5.5, 10].map(lambda), [0.03, 0.3, 1.6, 3]);
    assert.equal(lambda(0), RULE_LAMBDA_RANGE[0]);
    assert.equal(lambda(1e6), RULE_LAMBDA_RANGE[1]);
    assert.deepEqual(LAMBDA_PER_CONFIDENCE, { counts: 0.15, binary: 0.075 });
    const factors = (pairsPerUser: number) => defaultsFor({ ...profile, shareOfOnes: 0, pairsPerUser }).options.factors;
    assert.deepEqual(
      [1, 6, FEW_PAIRS_PER_USER - 0.01, FEW_PAIRS_PER_USER, 49, 1e6].map(factors),
      [32, 32, 32, 64, 64, 64],
    );
  });

  it('refuses a profile whose measures are not finite numbers ≥ 0, naming the field', () => {
    for (const [field, value] of [
      ['meanLogCount', Number.NaN],
      ['meanLogCount', -1],
      ['meanLogCount', undefined],
      ['pairsPerUser', Number.POSITIVE_INFINITY],
    ] as const) {
      assert.throws(
        () => defaultsFor({ ...profile, shareOfOnes: 0, [field]: value } as DataProfile),
        (error: AlsError) =>
          error.code === 'usage' && error.message.includes(`profile.${field} must be a finite number ≥ 0`),
        `${field} ${value}`,
      );
    }
  });

  it('sets a group of options only when none of it was given', () => {
    const rule = {
      rule: 'r',
      description: 'd',
      options: { weighting: 'linear' as const, alpha: 3, regularization: 0.5, regularizationExponent: 1, factors: 32 },
    };
    assert.deepEqual(ruleOptions(rule, {}), rule.options);
    // α given: the weighting stays the ordinary default too (an α means something else under another weighting)
    assert.deepEqual(ruleOptions(rule, { alpha: 7 }), { regularization: 0.5, regularizationExponent: 1, factors: 32 });
    assert.deepEqual(ruleOptions(rule, { regularizationAlpha0: 0.1, factors: 8 }), { weighting: 'linear', alpha: 3 });
  });

  it('gives a ν without λ the λ of its scale: 10 at ν = 0, 0.3 at ν = 1, geometric in between', () => {
    assert.deepEqual([0, 0.5, 1, 2].map(lambdaForExponent), [10, 1.7, 0.3, 0.009]);
    assert.deepEqual(ruleOptions(defaultsFor({ ...profile, shareOfOnes: 0 }), { regularizationExponent: 0.5 }), {
      weighting: 'log',
      alpha: 2,
      regularization: 1.7,
      factors: 32,
    });
    assert.equal(
      ruleOptions(defaultsFor({ ...profile, shareOfOnes: 0 }), { regularizationExponent: 0.5, regularization: 4 })
        .regularization,
      undefined,
    );
  });
});

describe("ruleSaid (the CLI says when given settings changed the rule's choice)", () => {
  it('counts a value that differs, not an option merely given', () => {
    const rule = defaultsFor({ ...profileOf(49), shareOfOnes: 0 });
    const same = resolveTrainOptions({ ...rule.options });
    assert.equal(ruleSaid(rule, same), rule.description);
    assert.equal(ruleSaid(rule, { ...same, factors: 8 }), `${rule.description} (settings given win over it)`);
    assert.equal(ruleSaid(rule, { ...same, regularization: 10 }), `${rule.description} (settings given win over it)`);
  });
});

describe('als train and evaluate apply the rule', () => {
  const work = tempDir('als-rule-');
  const data = plantedGroups(80, 6);
  const write = (name: string, binary: boolean) => {
    const lines: string[] = [];
    const m = data.userItems;
    for (let u = 0; u < m.rows; u++)
      for (let n = m.indptr[u]; n < m.indptr[u + 1]; n++)
        lines.push(`u${u}\ti${m.indices[n]}\t${binary ? 1 : m.data[n]}`);
    writeFileSync(join(work, name), `${lines.join('\n')}\n`);
    return join(work, name);
  };
  const clicks = write('clicks.tsv', true);
  const counts = write('counts.tsv', false);
  const als = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [ALS_BIN, ...args, '--format', 'triples', '--factors', '4', '--iterations', '2', '--threads', '1'],
      { encoding: 'utf8' },
    );
  // what the rule sets for these files: all of it but the factors, which every call below gives
  const ruleFor = (file: 'clicks' | 'counts') => {
    const m = data.userItems;
    const plays = file === 'clicks' ? { ...m, data: new Float32Array(m.data.length).fill(1) } : m;
    const set = { ...defaultsFor(profileData(plays)).options };
    delete set.factors;
    return set;
  };
  const binary = { options: ruleFor('clicks') };

  it('trains 0/1 data with the 0/1 rule, says so, and records it in model.json and info', () => {
    const model = join(work, 'm-clicks');
    const run = als('train', clicks, '--model', model);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Rule\s+0\/1 data \(100% of the counts are 1\)/);
    const manifest = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8'));
    assert.equal(manifest.training.defaults.rule, 'binary');
    assert.deepEqual(manifest.training.defaults.options, binary.options);
    for (const [key, value] of Object.entries(binary.options)) assert.equal(manifest.options[key], value, key);
    const info = spawnSync(process.execPath, [ALS_BIN, 'info', '--model', model], { encoding: 'utf8' });
    assert.match(info.stdout, /Rule\s+0\/1 data/);
  });

  it('trains counts with the counts rule; the other options keep the ordinary defaults', () => {
    const model = join(work, 'm-counts');
    const run = als('train', counts, '--model', model, '--json');
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.defaults.rule, 'counts');
    const rule = ruleFor('counts');
    // log α = 2 and λ·n, λ = 0.15 × the mean of 2·ln(1 + count) over the file's pairs
    assert.equal(rule.regularization, Number((0.3 * profileData(data.userItems).meanLogCount).toPrecision(2)));
    assert.deepEqual(summary.defaults.options, rule);
    assert.deepEqual(
      [
        summary.options.weighting,
        summary.options.alpha,
        summary.options.regularization,
        summary.options.regularizationExponent,
        summary.options.factors,
      ],
      ['log', 2, rule.regularization, 1, 4],
    );
    assert.equal(summary.options.cgSteps, defaultTrainOptions().cgSteps);
  });

  it('lets the command line and --config win, group by group', () => {
    const config = join(work, 'settings.json');
    writeFileSync(config, '{"lambda": 3}');
    const model = join(work, 'm-given');
    const run = als('train', clicks, '--model', model, '--json', '--weighting', 'linear', '--config', config);
    assert.equal(run.status, 0, run.stderr);
    const { options, defaults } = JSON.parse(run.stdout);
    assert.deepEqual(
      [options.weighting, options.alpha, options.regularization, options.regularizationExponent],
      ['linear', 40, 3, 0],
    );
    assert.deepEqual(defaults.options, {});
  });

  it('evaluate measures what train would make: the same rule', () => {
    const run = spawnSync(
      process.execPath,
      [
        ALS_BIN,
        'evaluate',
        clicks,
        '--format',
        'triples',
        '--factors',
        '4',
        '--iterations',
        '2',
        '--threads',
        '1',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.defaults.rule, 'binary');
    for (const [key, value] of Object.entries(binary.options)) assert.equal(result.options[key], value, key);
  });
});
