import { foldInUserRow, type FoldedUser } from '../als/foldIn.js';
import { checkArray, checkModel, checkRow, checkString, checkWhole, valueForMessage } from '../validate.js';
import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { findUser } from './lookup.js';
import { recommendForVector, type RecommendOptions } from './recommend.js';
import type { ScoredItem } from './similar.js';

/**
 * Why an item is recommended (Hu, Koren & Volinsky 2008, section 5): with Wᵘ = (YᵀCᵤY + λI)⁻¹
 * the user's vector is x = Wᵘ Σⱼ cᵤⱼ yⱼ over the played items j, so the score splits into
 *   p̂ᵤᵢ = yᵢᵀx = Σⱼ sᵘᵢⱼ cᵤⱼ,   sᵘᵢⱼ = yᵢᵀ Wᵘ yⱼ,
 * one term per played item. With the Cholesky factor YᵀCᵤY + λI = LLᵀ, sᵘᵢⱼ = (L⁻¹yᵢ)ᵀ(L⁻¹yⱼ):
 * L⁻¹yⱼ is solved once per played item, L⁻¹yᵢ once per explained item.
 *
 * The split is exact only for the x that solves the user's system against the model's final
 * item factors, i.e. the fold-in vector. A trained user's stored vector is not that vector
 * (CG stops after a few steps, and the item half-step comes last in every iteration), so
 * explanations are always of the fold-in vector's scores.
 */

export interface Contribution {
  /** item row of the played item */
  index: number;
  name: string;
  /** sᵘᵢⱼ cᵤⱼ */
  value: number;
  /** value / score */
  share: number;
}

export interface Explanation {
  /** yᵢᵀx with the fold-in vector, float64: the sum of every contribution */
  score: number;
  /** the largest contributions, largest first */
  contributions: Contribution[];
  /** every other played item, summed */
  others: { items: number; value: number; share: number };
}

/** The played items' L⁻¹yⱼ, one row each, for explaining many items of one user. */
export class Explainer {
  private readonly Z: Float64Array;
  private readonly z: Float64Array;

  constructor(
    private readonly model: Pick<AlsModel, 'itemFactors' | 'factors' | 'itemNames'>,
    private readonly user: FoldedUser,
  ) {
    checkModel('model', model, ['itemFactors', 'factors', 'itemNames']);
    checkFolded(user, model.factors, model.itemFactors.length / model.factors);
    if (user.cholesky === null) {
      throw new AlsError(
        'usage',
        "cannot explain: the user's system is singular (λ = 0 and too few plays); train with regularization above 0",
        { field: 'regularization' },
      );
    }
    const f = model.factors;
    this.z = new Float64Array(f);
    this.Z = new Float64Array(user.items.length * f);
    for (let k = 0; k < user.items.length; k++) this.forward(user.items[k], this.Z.subarray(k * f, (k + 1) * f));
  }

  /** out = L⁻¹ yᵢ */
  private forward(item: number, out: Float64Array): void {
    const f = this.model.factors;
    const L = this.user.cholesky as Float64Array;
    const Y = this.model.itemFactors;
    for (let a = 0; a < f; a++) {
      let sum = Y[item * f + a];
      for (let k = 0; k < a; k++) sum -= L[a * f + k] * out[k];
      out[a] = sum / L[a * f + a];
    }
  }

  /** Every played item's term sᵘᵢⱼ cᵤⱼ of item i's score, in the order of user.items. */
  terms(itemRow: number): Float64Array {
    const item = checkRow('itemRow', itemRow, this.model.itemFactors.length / this.model.factors);
    const f = this.model.factors;
    const { items, confidence } = this.user;
    this.forward(item, this.z);
    const out = new Float64Array(items.length);
    for (let k = 0; k < items.length; k++) {
      let s = 0;
      for (let a = 0; a < f; a++) s += this.z[a] * this.Z[k * f + a];
      out[k] = s * confidence[k];
    }
    return out;
  }

  /** Item i's score and its `top` largest contributions, the rest summed. */
  explain(itemRow: number, top = 3): Explanation {
    const item = checkRow('itemRow', itemRow, this.model.itemFactors.length / this.model.factors);
    checkWhole('top', top, 0);
    const f = this.model.factors;
    const Y = this.model.itemFactors;
    const x = this.user.x;
    let score = 0;
    for (let a = 0; a < f; a++) score += Y[item * f + a] * x[a];
    const terms = this.terms(item);
    const order = Array.from(terms.keys()).sort((a, b) => terms[b] - terms[a] || a - b);
    const contributions = order.slice(0, top).map((k) => {
      const index = this.user.items[k];
      return { index, name: this.model.itemNames[index], value: terms[k], share: terms[k] / score };
    });
    let rest = 0;
    for (const k of order.slice(top)) rest += terms[k];
    return {
      score,
      contributions,
      others: { items: Math.max(0, order.length - top), value: rest, share: rest / score },
    };
  }
}

export interface ExplainedItem extends ScoredItem {
  explanation: Explanation;
}

/**
 * Recommendations for a folded-in user, ranked by the fold-in vector's scores, each explained.
 * `played` are left out unless includePlayed (defaults to the folded user's items).
 */
export function explainedRecommendations(
  model: AlsModel,
  user: FoldedUser,
  options: RecommendOptions & { top?: number } = {},
  played?: ArrayLike<number>,
): ExplainedItem[] {
  checkModel('model', model);
  const explainer = new Explainer(model, user);
  const recommendations = recommendForVector(model, Float32Array.from(user.x), 0, played ?? user.items, options);
  return recommendations.map((r) => ({ ...r, explanation: explainer.explain(r.index, options.top) }));
}

/**
 * explainedRecommendations for a trained user (by id, see findUser), re-solved exactly
 * from its own plays. `stored` gives each item's score under the stored vector, to compare.
 */
export function explainUser(
  model: AlsModel,
  userId: string,
  options: RecommendOptions & { top?: number } = {},
): { user: string; userIndex: number; recommendations: (ExplainedItem & { stored: number })[] } {
  checkModel('model', model);
  checkString('userId', userId);
  return explainUserRow(model, findUser(model.userIds, userId), options);
}

/** explainUser for the user in model row `userRow` (no lookup by id: a row answers for itself). */
export function explainUserRow(
  model: AlsModel,
  userRow: number,
  options: RecommendOptions & { top?: number } = {},
): { user: string; userIndex: number; recommendations: (ExplainedItem & { stored: number })[] } {
  checkModel('model', model);
  const u = checkRow('userRow', userRow, model.users);
  const recommendations = withStoredScores(
    explainedRecommendations(model, foldInUserRow(model, u), options),
    model,
    model.userFactors,
    u * model.factors,
  );
  return { user: model.userIds[u], userIndex: u, recommendations };
}

/**
 * Each item with `stored`, its score under the stored user vector x[xOffset, xOffset + factors)
 * (summed in double precision): what explainUser reports beside the re-solved ranking.
 */
export function withStoredScores<T extends { index: number }>(
  items: T[],
  model: Pick<AlsModel, 'factors' | 'itemFactors'>,
  x: ArrayLike<number>,
  xOffset = 0,
): (T & { stored: number })[] {
  const f = model.factors;
  const Y = model.itemFactors;
  return items.map((item) => {
    let stored = 0;
    for (let a = 0; a < f; a++) stored += x[xOffset + a] * Y[item.index * f + a];
    return { ...item, stored };
  });
}

/** A FoldedUser as foldIn returns it: x of `f` numbers, items with their confidences, L or null. */
function checkFolded(user: FoldedUser, f: number, items: number): void {
  if (typeof user !== 'object' || user === null)
    throw new AlsError('usage', `user must be a FoldedUser (from foldIn), not ${valueForMessage(user)}`);
  checkArray('user.x', user.x, Float64Array, f);
  checkArray('user.items', user.items, Int32Array);
  for (let k = 0; k < user.items.length; k++) checkRow(`user.items[${k}]`, user.items[k], items);
  checkArray('user.confidence', user.confidence, Float32Array, user.items.length);
  if (user.cholesky !== null) checkArray('user.cholesky', user.cholesky, Float64Array, f * f);
}
