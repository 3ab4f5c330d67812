import { leastSquares } from '../kernels/leastSquares.js';
import type { CsrMatrix } from '../data/sparse.js';
import { AlsError } from '../errors.js';
import { addObserved, choleskySolve, jsKernels, mirrorLower } from '../kernels/js.js';
import type { AlsModel } from '../model/model.js';
import {
  checkArray,
  checkModel,
  checkPlay,
  checkRow,
  badFactorWords,
  firstBadFactor,
  num,
  valueForMessage,
} from '../validate.js';
import { rowRegularization, scalesRegularization } from './regularization.js';
import { checkConfidences, FOLDED_COUNT, weigh } from './weighting.js';

/**
 * Fold-in: the exact user solve of training's user half-step, for one user, against the
 * model's fixed item factors Y (Hu, Koren & Volinsky 2008, eq. 4):
 *   x = (YᵀY + λI + Yᵀ(Cᵤ − I)Y)⁻¹ YᵀCᵤp(u)
 * λ is added to the diagonal once, as train.ts does: λ itself, or with frequency-scaled
 * regularization the user's λᵤ = λ·(nᵤ + α₀·items)^ν from its own plays (regularization.ts),
 * the very float32 number a user half-step of training adds. YᵀY is
 * computed once per item-factor array and cached; each user then costs O(nᵤf² + f³).
 * The sums and the Cholesky solve run in float64.
 */

/** The plays of one user: item rows (distinct) and their play counts. */
export interface UserPlays {
  items: Int32Array;
  plays: Float32Array;
}

/** A user solved exactly: the vector and what explaining its scores needs. */
export interface FoldedUser {
  /** the user's factors, float64 */
  x: Float64Array;
  items: Int32Array;
  /** cᵤⱼ of each played item, as training computes them */
  confidence: Float32Array;
  /** the Cholesky factor L (lower triangle, f × f row-major) of YᵀCᵤY + λI = LLᵀ; null when singular */
  cholesky: Float64Array | null;
}

const gramians = new WeakMap<Float32Array, Float64Array>();

/** A renumbering of a model's items: the original row of each row, and the row of each original row. */
interface ItemOrder {
  original: Int32Array;
  row: Int32Array;
}

/** by the renumbered model's itemFactors and userItems.data */
const itemOrders = new WeakMap<object, ItemOrder>();

/**
 * Marks a model whose items were renumbered (prepareServing puts the similar candidates first):
 * `original[r]` is the original row of row r. The sums of a fold-in over items (YᵀY, a user's
 * observed items, bm25's average item total) then run in the original order, so that it gives
 * the original model's numbers bit for bit (floating-point sums depend on their order).
 */
export function keepItemOrder(
  model: Pick<AlsModel, 'itemFactors' | 'userItems'>,
  original: Int32Array,
  row: Int32Array,
): void {
  const order = { original, row };
  itemOrders.set(model.itemFactors, order);
  itemOrders.set(model.userItems.data, order);
}

/** The user's plays in the original order of the items (a renumbered model), else as given. */
function inOriginalOrder(user: UserPlays, order: ItemOrder | undefined): UserPlays {
  const { items, plays } = user;
  if (order === undefined) return user;
  const { original } = order;
  let sorted = true;
  for (let k = 1; k < items.length && sorted; k++) sorted = original[items[k - 1]] < original[items[k]];
  if (sorted) return user;
  const by = Array.from(items.keys()).sort((a, b) => original[items[a]] - original[items[b]]);
  return { items: Int32Array.from(by, (k) => items[k]), plays: Float32Array.from(by, (k) => plays[k]) };
}

/** jsKernels.gramian (no λ) with the rows summed in the given order: row[k] is the k-th row added. */
function gramianInOrder(Y: Float32Array, row: Int32Array, f: number, out: Float64Array): void {
  for (let k = 0; k < row.length; k++) {
    const base = row[k] * f;
    for (let a = 0; a < f; a++) {
      const ya = Y[base + a];
      if (ya === 0) continue;
      const at = a * f;
      for (let b = 0; b <= a; b++) out[at + b] += ya * Y[base + b];
    }
  }
  for (let a = 0; a < f; a++) {
    out[a * f + a] += 0;
    for (let b = 0; b < a; b++) out[b * f + a] = out[a * f + b];
  }
}

/** YᵀY of the model's item factors (no λ), computed once per item-factor array. */
export function itemGramian(model: Pick<AlsModel, 'itemFactors' | 'items' | 'factors'>): Float64Array {
  checkModel('model', model, ['itemFactors', 'items', 'factors']);
  let YtY = gramians.get(model.itemFactors);
  if (YtY === undefined) {
    YtY = new Float64Array(model.factors * model.factors);
    // the float64 reference kernel: the WebAssembly one sums within chunks in float32, and wants Y in its memory
    const order = itemOrders.get(model.itemFactors);
    if (order !== undefined) gramianInOrder(model.itemFactors, order.row, model.factors, YtY);
    else jsKernels.gramian(model.itemFactors, model.items, model.factors, 0, YtY);
    gramians.set(model.itemFactors, YtY);
  }
  return YtY;
}

/**
 * cᵤⱼ for one user's plays, exactly as training computes them (weighting.ts, stored in float32
 * as the training kernels store them). linear and log depend on the play count alone. bm25 also
 * depends on the item's total plays, the average item total and the item count, which training
 * takes from the whole matrix: here they come from the model's userItems (the matrix the model
 * was trained on, or after `als update` the matrix it now holds), and the user's own row length
 * gives the idf. So an existing user folded in from its own row gets training's confidences
 * exactly; a new user is weighted as if it had been one more row of that matrix, except that its
 * own plays are not added to the item totals (one user moves them very little).
 */
export function foldInConfidences(model: Pick<AlsModel, 'userItems' | 'options'>, user: UserPlays): Float32Array {
  checkModel('model', model, ['userItems', 'options']);
  // a loaded model reads userItems on first use: its item count comes from `items` when there is one
  checkUserPlays(user, (model as Partial<Pick<AlsModel, 'items'>>).items ?? model.userItems.cols);
  const confidence = userConfidences(model, user);
  checkConfidences(confidence, user.plays, model.options, 'usage', FOLDED_COUNT);
  return confidence;
}

/**
 * Checks one user's plays (AlsError('usage')): Int32Array item rows within 0..items − 1, each
 * once, and a Float32Array of as many counts above 0 and at most MAX_COUNT.
 */
export function checkUserPlays(user: UserPlays, items: number): void {
  if (typeof user !== 'object' || user === null)
    throw new AlsError('usage', `user must be UserPlays ({ items, plays }), not ${valueForMessage(user)}`);
  checkArray('user.items', user.items, Int32Array);
  checkArray('user.plays', user.plays, Float32Array, user.items.length);
  const seen = new Set<number>();
  for (let k = 0; k < user.items.length; k++) {
    const i = user.items[k];
    if (!(i >= 0 && i < items)) throw new AlsError('usage', `item row ${i} is not in the model (0..${items - 1})`);
    if (seen.has(i)) throw new AlsError('usage', `user.items lists item row ${i} twice; sum its plays into one entry`);
    seen.add(i);
    checkPlay(`user.plays[${k}]`, user.plays[k]);
  }
}

function userConfidences(model: Pick<AlsModel, 'userItems' | 'options'>, user: UserPlays): Float32Array {
  const { options } = model;
  const n = user.items.length;
  if (options.weighting !== 'bm25') {
    const row: CsrMatrix = { rows: 1, cols: 0, indptr: Int32Array.of(0, n), indices: user.items, data: user.plays };
    return weigh(row, options);
  }
  const { totals, average, items } = itemStatistics(model.userItems);
  const { alpha, bm25K1: K1, bm25B: B } = options;
  const idf = Math.max(0, Math.log(items) - Math.log1p(n));
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const lengthNorm = 1 - B + (B * totals[user.items[k]]) / average;
    const r = user.plays[k];
    out[k] = 1 + alpha * (((r * (K1 + 1)) / (K1 * lengthNorm + r)) * idf);
  }
  return out;
}

const statistics = new WeakMap<Float32Array, { totals: Float64Array; average: number; items: number }>();

/** Each item's total plays and their average over items, as bm25 in weighting.ts sums them. */
function itemStatistics(m: CsrMatrix): { totals: Float64Array; average: number; items: number } {
  let stats = statistics.get(m.data);
  if (stats === undefined) {
    const totals = new Float64Array(m.cols);
    for (let n = 0; n < m.data.length; n++) totals[m.indices[n]] += m.data[n];
    let average = 0;
    // in the original order of the items when they were renumbered
    const row = itemOrders.get(m.data)?.row;
    for (let i = 0; i < m.cols; i++) average += totals[row === undefined ? i : row[i]];
    average /= m.cols;
    stats = { totals, average, items: m.cols };
    statistics.set(m.data, stats);
  }
  return stats;
}

/** The plays of model row `userRow` (a view on the model's matrix). */
export function playsOfRow(model: Pick<AlsModel, 'userItems'>, userRow: number): UserPlays {
  checkModel('model', model, ['userItems']);
  const user = checkRow('userRow', userRow, model.userItems.rows);
  const { indptr, indices, data } = model.userItems;
  return {
    items: indices.subarray(indptr[user], indptr[user + 1]),
    plays: data.subarray(indptr[user], indptr[user + 1]),
  };
}

/**
 * Solves one user exactly against the model's item factors. `user.items` must be distinct rows
 * of the model (sum duplicates first). Keeps the Cholesky factor for explanations.
 */
export function foldIn(
  model: Pick<AlsModel, 'itemFactors' | 'items' | 'factors' | 'userItems' | 'options'>,
  user: UserPlays,
): FoldedUser {
  checkModel('model', model, ['itemFactors', 'items', 'factors', 'userItems', 'options']);
  const f = model.factors;
  const Y = model.itemFactors;
  checkUserPlays(user, model.items);
  const lambda = rowRegularization(model.options, user.items.length, model.items);
  user = inOriginalOrder(user, itemOrders.get(Y));
  const confidence = userConfidences(model, user);
  checkConfidences(confidence, user.plays, model.options, 'usage', FOLDED_COUNT);
  const A = new Float64Array(f * f);
  const b = new Float64Array(f);
  // no plays and a per-row λ of 0: training solves such a row to 0, and so does the fold-in
  if (user.items.length === 0 && scalesRegularization(model.options))
    return { x: b, items: user.items, confidence, cholesky: null };
  const build = () => {
    A.set(itemGramian(model));
    for (let a = 0; a < f; a++) A[a * f + a] += lambda;
    b.fill(0);
    addObserved(Y, f, user.items, confidence, 0, user.items.length, A, b);
  };
  build();
  if (choleskySolve(A, b, f)) return finite({ x: b, items: user.items, confidence, cholesky: A });
  // λ = 0 with too few plays: the minimum-norm least-squares solution; no explanation then
  build();
  return finite({ x: leastSquares(mirrorLower(A, f), b, f), items: user.items, confidence, cholesky: null });
}

/**
 * The folded user, when its vector can be scored (finite, within ±MAX_FACTOR: the rule of every
 * factor). The plays and confidences were checked, so a vector that is not comes from the model:
 * item factors that are not finite, or so large or so small that the solve overflows (a model no
 * loader checked).
 */
function finite(user: FoldedUser): FoldedUser {
  const n = firstBadFactor(user.x);
  if (n !== -1) {
    throw new AlsError(
      'model',
      `the fold-in gave ${num(user.x[n])}${Number.isFinite(user.x[n]) ? `, ${badFactorWords(user.x[n])}` : ''}: ` +
        "the model's item factors are not finite or too large (or too small) to solve against (train the model again)",
    );
  }
  return user;
}

/** Folds in model row `userRow` from its own plays: what an exact final user half-step would give. */
export function foldInUserRow(model: AlsModel, userRow: number): FoldedUser {
  checkModel('model', model);
  checkRow('userRow', userRow, model.users);
  return foldIn(model, playsOfRow(model, userRow));
}
