import type { CsrMatrix } from '../data/sparse.js';
import { checkCsr, checkOptions } from '../validate.js';
import type { TrainOptions } from './options.js';

/** What the defaults rule reads from the data. */
export interface DataProfile {
  users: number;
  items: number;
  /** stored (user, item) pairs */
  pairs: number;
  /** pairs / (users · items) */
  density: number;
  pairsPerUser: number;
  pairsPerItem: number;
  /** share of the stored counts that are exactly 1 */
  shareOfOnes: number;
}

/** The profile of a users × items matrix of counts. */
export function profileData(plays: CsrMatrix): DataProfile {
  checkCsr('plays', plays);
  const { rows: users, cols: items } = plays;
  const pairs = plays.indptr[users];
  let ones = 0;
  for (let n = 0; n < pairs; n++) if (plays.data[n] === 1) ones++;
  return {
    users,
    items,
    pairs,
    density: users * items === 0 ? 0 : pairs / (users * items),
    pairsPerUser: users === 0 ? 0 : pairs / users,
    pairsPerItem: items === 0 ? 0 : pairs / items,
    shareOfOnes: pairs === 0 ? 0 : ones / pairs,
  };
}

/** Settings chosen from a DataProfile, and why. */
export interface DefaultsRule {
  /** the rule's name, as model.json records it: 'counts' or 'binary' */
  rule: string;
  /** the rule and what it sets, for people ("0/1 data: log α=5, λ=0.1·n") */
  description: string;
  options: Partial<TrainOptions>;
}

/**
 * The share of counts of 1 from which data are taken for 0/1 data (clicks, bookmarks,
 * purchases): every count is 1 there, while few play counts are (the Last.fm sample: 0.7%).
 */
export const BINARY_SHARE = 0.9;

/**
 * The frequency-scaled λ of the rule: λ·nᵤ per user and λ·nᵢ per item (ν = 1, α₀ = 0, Spark's
 * ALS-WR), λ = 0.3. Over the panel of scripts/freqgrid.js (8 data sets, 3 split seeds,
 * docs/choosing-settings.md) it kept precision@10 within 0.90 of each set's best setting on every
 * set and seed (mean share 0.968), where the constant λ = 10 of defaultTrainOptions fell to 0.70
 * (few items with many users) and averaged 0.903.
 */
export const RULE_REGULARIZATION: Readonly<Partial<TrainOptions>> = Object.freeze({
  regularization: 0.3,
  regularizationExponent: 1,
  regularizationAlpha0: 0,
});

/**
 * The settings for data of this profile, by the rule measured in scripts/freqgrid.js
 * (docs/choosing-settings.md): every data set gets λ·n (RULE_REGULARIZATION); data whose counts
 * are (nearly) all 1 also get log α = 5 (c = 1 + 5·ln 2 ≈ 4.5 for every pair), which held 0.99
 * of the best on both 0/1 sets of the panel where α = 2 gave 0.95 on one; counts keep log α = 2.
 */
export function defaultsFor(profile: DataProfile): DefaultsRule {
  checkOptions('profile', profile);
  if (profile.shareOfOnes >= BINARY_SHARE) {
    return {
      rule: 'binary',
      description: `0/1 data (${percent(profile.shareOfOnes)} of the counts are 1): log α=5, λ=0.3·n`,
      options: { weighting: 'log', alpha: 5, ...RULE_REGULARIZATION },
    };
  }
  return {
    rule: 'counts',
    description: `counts (${percent(profile.shareOfOnes)} of them are 1): log α=2, λ=0.3·n`,
    options: { weighting: 'log', alpha: 2, ...RULE_REGULARIZATION },
  };
}

/** "4%", "100%", and "99.9%" (rounded down) for a share just below 1, which is not all */
function percent(share: number): string {
  if (share >= 0.995 && share < 1) return `${(Math.floor(share * 1000) / 10).toFixed(1)}%`;
  return `${(100 * share).toFixed(0)}%`;
}

/** Options that go together: a rule sets all of a group or none (weighting without its α means another thing). */
const GROUPS: (keyof TrainOptions)[][] = [
  ['weighting', 'alpha', 'bm25K1', 'bm25B'],
  ['regularization', 'regularizationExponent', 'regularizationAlpha0'],
  ['factors'],
  ['iterations'],
  ['solver', 'cgSteps'],
];

/**
 * The λ that goes with exponent ν when λ is not given: 10·0.03^ν, from λ = 10 at ν = 0 (the
 * constant default) to λ = 0.3 at ν = 1 (the rule's), geometrically in between (ν = 0.5: 1.7,
 * between the panel's 1 and 3). λ·n with the constant default λ = 10 would regularize a row with
 * 50 observations by 500: on the Last.fm sample NDCG@10 fell to 0.0002.
 */
export function lambdaForExponent(nu: number): number {
  return Number((10 * 0.03 ** nu).toPrecision(2));
}

/**
 * The rule's options for the groups of options that `given` (the command line and settings file)
 * leaves out entirely: a group of which any option was given keeps the given options, completed
 * by the ordinary defaults, as if there were no rule; except that a ν given without λ gets
 * lambdaForExponent(ν).
 */
export function ruleOptions(rule: DefaultsRule, given: Partial<TrainOptions>): Partial<TrainOptions> {
  const set = checkOptions('rule.options', checkOptions('rule', rule).options);
  given = checkOptions('given', given);
  const out: Partial<TrainOptions> = {};
  for (const group of GROUPS) {
    if (group.some((key) => given[key] !== undefined)) continue;
    for (const key of group) if (set[key] !== undefined) (out as Record<string, unknown>)[key] = set[key];
  }
  const nu = given.regularizationExponent;
  if (given.regularization === undefined && typeof nu === 'number' && Number.isFinite(nu))
    out.regularization = lambdaForExponent(nu);
  return out;
}
