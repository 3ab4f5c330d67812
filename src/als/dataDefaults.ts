import type { CsrMatrix } from '../data/sparse.js';
import { checkCsr, checkNonNegative, checkOptions } from '../validate.js';
import { defaultTrainOptions, type TrainOptions } from './options.js';
import { logOnePlus } from './weighting.js';

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
  /** mean of ln(1 + count) over the stored pairs: log weighting's confidence above 1 is α times it */
  meanLogCount: number;
}

/** The profile of a users × items matrix of counts. */
export function profileData(plays: CsrMatrix): DataProfile {
  return profileOf(checkCsr('plays', plays));
}

/** profileData of a matrix checked already, or just read by readInteractions (no pass to check it again). */
export function profileOf(plays: CsrMatrix): DataProfile {
  const { rows: users, cols: items } = plays;
  const pairs = plays.indptr[users];
  let ones = 0;
  let logs = 0;
  for (let n = 0; n < pairs; n++) {
    if (plays.data[n] === 1) ones++;
    logs += logOnePlus(plays.data[n]);
  }
  return {
    users,
    items,
    pairs,
    density: users * items === 0 ? 0 : pairs / (users * items),
    pairsPerUser: users === 0 ? 0 : pairs / users,
    pairsPerItem: items === 0 ? 0 : pairs / items,
    shareOfOnes: pairs === 0 ? 0 : ones / pairs,
    meanLogCount: pairs === 0 ? 0 : logs / pairs,
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
 * The rule's λ for each observation, as a share of the mean confidence above 1 that its weighting
 * gives a stored pair (log: α·mean ln(1 + count)). A row's system is Yᵀ(C − I)Y + YᵀY + λᵤI, and
 * its data term grows with the confidences, so a λ in proportion to them regularizes purchases of
 * 1–3 (c − 1 = 2.2 at α = 2) and play counts (11) alike, where a fixed λ·n was too weak on some
 * sets and too strong on others (scripts/rulestudy.js, docs/choosing-settings.md: λ = 0.3·n gave
 * 0.71 of the best on sparse users, λ = 2·n 0.64 on purchases). 0/1 data (c − 1 = 3.5 for every
 * pair at α = 5) want half the share: on all three 0/1 sets of the panel 0.075 scored at least as
 * well as 0.15 (the 0/1 Last.fm sample 0.2064 against 0.2012).
 */
export const LAMBDA_PER_CONFIDENCE: Readonly<{ counts: number; binary: number }> = Object.freeze({
  counts: 0.15,
  binary: 0.075,
});

/** The rule's λ stays in this range whatever the counts (tiny counts would give λ → 0). */
export const RULE_LAMBDA_RANGE: readonly [number, number] = Object.freeze([0.01, 100]) as readonly [number, number];

/**
 * Below this many stored pairs per user on average the rule takes 32 factors instead of 64: a user
 * with a short history carries fewer dimensions. On the panel, sets of 6–15 pairs per user gained
 * up to 0.09 of the best with 32 (sparse Last.fm users: 0.913 → 0.968) and sets of 20–49 lost
 * 0.02–0.04 with it; any bound between 15 and 20 splits the panel the same way.
 */
export const FEW_PAIRS_PER_USER = 18;

/** The factors the rule takes for users of short histories (fewer than FEW_PAIRS_PER_USER pairs). */
export const FEW_FACTORS = 32;

/**
 * The settings for data of this profile, by the rule measured in scripts/freqgrid.js and
 * scripts/tunecurve.js (docs/choosing-settings.md): log weighting, α = 5 for data whose counts are
 * (nearly) all 1 (c = 1 + 5·ln 2 ≈ 4.5 for every pair) and α = 2 for counts; frequency-scaled λ·n
 * (ν = 1, α₀ = 0, Spark's ALS-WR) with λ = LAMBDA_PER_CONFIDENCE (0.15 for counts, 0.075 for 0/1
 * data) × the mean confidence above 1;
 * 32 factors when users have fewer than FEW_PAIRS_PER_USER pairs on average, else 64.
 */
export function defaultsFor(profile: DataProfile): DefaultsRule {
  checkOptions('profile', profile);
  const binary = profile.shareOfOnes >= BINARY_SHARE;
  const alpha = binary ? 5 : 2;
  const [low, high] = RULE_LAMBDA_RANGE;
  const meanLogCount = checkNonNegative('profile.meanLogCount', profile.meanLogCount);
  const pairsPerUser = checkNonNegative('profile.pairsPerUser', profile.pairsPerUser);
  const share = binary ? LAMBDA_PER_CONFIDENCE.binary : LAMBDA_PER_CONFIDENCE.counts;
  const lambda = Math.min(high, Math.max(low, Number((share * alpha * meanLogCount).toPrecision(2))));
  const factors = pairsPerUser < FEW_PAIRS_PER_USER ? FEW_FACTORS : defaultTrainOptions().factors;
  const settings = `log α=${alpha}, λ=${lambda}·n, ${factors} factors`;
  return {
    rule: binary ? 'binary' : 'counts',
    description: binary
      ? `0/1 data (${percent(profile.shareOfOnes)} of the counts are 1): ${settings}`
      : `counts (${percent(profile.shareOfOnes)} of them are 1): ${settings}`,
    options: {
      weighting: 'log',
      alpha,
      regularization: lambda,
      regularizationExponent: 1,
      regularizationAlpha0: 0,
      factors,
    },
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
 * constant default) to λ = 0.3 at ν = 1 (the lower end of the rule's choices on the panel, 0.33–1.6),
 * geometrically in between (ν = 0.5: 1.7, between the panel's 1 and 3). λ·n with the constant default λ = 10 would regularize a row with
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
