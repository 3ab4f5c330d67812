import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BINARY_SHARE, defaultsFor, lambdaForExponent, profileData, ruleOptions } from '../../src/als/dataDefaults.js';
import { defaultTrainOptions } from '../../src/als/options.js';
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
    });
  });
});

describe('defaultsFor', () => {
  const profile = { users: 100, items: 50, pairs: 1000, density: 0.2, pairsPerUser: 10, pairsPerItem: 20 };
  it('keeps the defaults for counts and takes the 0/1 rule when nearly every count is 1', () => {
    const counts = defaultsFor({ ...profile, shareOfOnes: 0.04 });
    assert.equal(counts.rule, 'counts');
    assert.deepEqual(counts.options, {
      weighting: 'log',
      alpha: 2,
      regularization: 0.3,
      regularizationExponent: 1,
      regularizationAlpha0: 0,
    });
    const binary = defaultsFor({ ...profile, shareOfOnes: 1 });
    assert.equal(binary.rule, 'binary');
    assert.equal(defaultsFor({ ...profile, shareOfOnes: BINARY_SHARE }).rule, 'binary');
    assert.match(binary.description, /^0\/1 data \(100% of the counts are 1\): /);
    assert.deepEqual(binary.options, {
      weighting: 'log',
      alpha: 5,
      regularization: 0.3,
      regularizationExponent: 1,
      regularizationAlpha0: 0,
    });
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
    });
    assert.equal(
      ruleOptions(defaultsFor({ ...profile, shareOfOnes: 0 }), { regularizationExponent: 0.5, regularization: 4 })
        .regularization,
      undefined,
    );
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
  const binary = defaultsFor({
    users: 1,
    items: 1,
    pairs: 1,
    density: 1,
    pairsPerUser: 1,
    pairsPerItem: 1,
    shareOfOnes: 1,
  });

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
    assert.deepEqual(
      [
        summary.options.weighting,
        summary.options.alpha,
        summary.options.regularization,
        summary.options.regularizationExponent,
      ],
      ['log', 2, 0.3, 1],
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
