import type { Interactions } from './data/read.js';
import { nameListProblem, nameListProblemWords } from './data/nameList.js';
import { isStoredCount, MAX_COUNT } from './data/rows.js';
import type { CsrMatrix } from './data/sparse.js';
import { AlsError, quoteForMessage } from './errors.js';
import type { HalfStep } from './kernels/types.js';
import type { AlsModel } from './model/model.js';

/**
 * The checks of the library's public edge (issue 9, class 11), in one place: every exported
 * function checks its arguments with these and throws AlsError('usage') naming the field and the
 * bad value; the code below the edge trusts what it is given. It sits beside errors.ts, below
 * every layer, so that data, als, model, query and eval all check alike. Compare ml-matrix `src/util.js`
 * (`checkRowIndex`) and tfjs `ops/topk.ts`, which check before running a kernel.
 */

/**
 * A number as a message shows it: 1e20 rather than 100000000000000000000, a float32 count to
 * its 7 significant digits (999999986991104 is 1e15).
 */
export function num(value: number): string {
  if (!Number.isFinite(value) || value === 0) return String(value);
  const rounded = Number(value.toPrecision(7));
  const size = Math.abs(rounded);
  return size >= 1e6 || size < 1e-4 ? rounded.toExponential().replace('e+', 'e') : String(rounded);
}

/**
 * `value` (> limit) as num() shows it, or in full when num's rounding would show it at or below
 * `limit` (1e15 + 1 is "1000000000000001", not "1e15", in "… above 1e15").
 */
export function numAbove(value: number, limit: number): string {
  const short = num(value);
  return Number(short) > limit ? short : String(value);
}

/**
 * A value as a message shows it: numbers by num(), strings quoted and cut, other things by their
 * kind. Safe for every JavaScript value: a Symbol (which a template literal refuses), a BigInt, a
 * Proxy (even a revoked one) or an object whose toString or constructor throws never turns the
 * message of an AlsError into a TypeError.
 */
export function valueForMessage(value: unknown): string {
  try {
    return describeValue(value);
  } catch {
    return typeof value === 'function' ? 'a function' : 'an object';
  }
}

function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return num(value);
    case 'bigint': {
      const digits = value.toString();
      return digits.length > 24 ? `a BigInt of ${digits.length} digits` : `${digits}n`;
    }
    case 'string':
      return quoteForMessage(value);
    case 'symbol': {
      const description = value.description;
      if (description === undefined) return 'Symbol()';
      // cut like a string, but shown as JavaScript shows a Symbol
      const quoted = JSON.parse(quoteForMessage(description)) as string;
      return `Symbol(${quoted})`;
    }
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value);
    case 'function':
      return 'a function';
    default:
      break;
  }
  if (value === null) return 'null';
  // Array.isArray throws for a revoked Proxy; ArrayBuffer.isView reads no property
  if (ArrayBuffer.isView(value)) return `a ${Object.getPrototypeOf(value)?.constructor?.name ?? 'typed array'}`;
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}

/** AlsError('usage') about `field`, the API field the message names. */
function usage(message: string, field?: string): never {
  throw new AlsError('usage', message, field === undefined ? undefined : { field });
}

/** A whole number from `min` to `max`. */
export function checkWhole(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    usage(
      `${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}, not ${valueForMessage(value)}`,
      name,
    );
  }
  return value;
}

/**
 * How many results a query lists: a whole number ≥ 1 (default `fallback`), clamped to the
 * `available` candidates so that no list is ever allocated for more than there are.
 */
export function checkCount(name: string, value: unknown, fallback: number, available: number): number {
  if (value === undefined) return Math.min(fallback, available);
  return Math.min(checkWhole(name, value, 1), available);
}

/** A row of a matrix of `rows` rows (0-based), as ml-matrix's checkRowIndex. */
export function checkRow(name: string, value: unknown, rows: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= rows) {
    usage(`${name} must be a row from 0 to ${rows - 1}, not ${valueForMessage(value)}`, name);
  }
  return value;
}

/** Where an --all writer writes: a path or a writable stream. */
export function checkOutput(name: string, value: unknown): void {
  const writable = typeof (value as NodeJS.WritableStream | null)?.write === 'function';
  if (typeof value !== 'string' && !writable)
    usage(`${name} must be a file path or a writable stream, not ${valueForMessage(value)}`, name);
}

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') usage(`${name} must be a string, not ${valueForMessage(value)}`, name);
  return value;
}

/** An options object: undefined (none given) or a plain object. */
export function checkOptions<T extends object>(name: string, value: T | undefined): T {
  if (value === undefined) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    usage(`${name} must be an object, not ${valueForMessage(value)}`, name);
  return value;
}

/** Every method of Kernels (kernels/types.ts): an object lacking one is not Kernels. */
const KERNEL_METHODS = [
  'float32',
  'int32',
  'uint8',
  'gramian',
  'exactUpdate',
  'cgUpdate',
  'dataLoss',
  'scores',
  'scoresBlock',
  'selectBlock',
  'cosineBlock',
  'rowNorms',
  'topK',
  'dispose',
] as const;

/** Kernels: an object with every Kernels method; undefined (none given) too unless `required`. */
export function checkKernels(value: unknown, required = false): void {
  if (value === undefined && !required) return;
  const kernels = value as Record<string, unknown> | null;
  if (
    typeof kernels !== 'object' ||
    kernels === null ||
    KERNEL_METHODS.some((method) => typeof kernels[method] !== 'function')
  ) {
    usage(`kernels must be Kernels (e.g. jsKernels), not ${valueForMessage(value)}`);
  }
}

/** Callbacks: an object whose given fields are functions. */
export function checkCallbacks<T extends object>(value: T | undefined): T {
  const callbacks = checkOptions('callbacks', value);
  for (const [key, callback] of Object.entries(callbacks)) {
    if (callback !== undefined && typeof callback !== 'function')
      usage(`callbacks.${key} must be a function, not ${valueForMessage(callback)}`);
  }
  return callbacks;
}

export function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean')
    usage(`${name} must be true or false, not ${valueForMessage(value)}`, name);
}

/** A number (NaN and ±∞ included: what the caller allows of them is its own rule). */
export function checkNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') usage(`${name} must be a number, not ${valueForMessage(value)}`, name);
  return value;
}

/** A finite number ≥ 0 (a measure such as a mean or a share). */
export function checkNonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    usage(`${name} must be a finite number ≥ 0, not ${valueForMessage(value)}`, name);
  return value;
}

/**
 * An array-like of `what` (an Array or a typed array; anything with a numeric length), or
 * undefined when `optional`. Its entries are not looked at: that would cost a pass per call.
 */
export function checkList(name: string, value: unknown, what: string, optional = false): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'object' || value === null || typeof (value as { length?: unknown }).length !== 'number') {
    usage(`${name} must be an array of ${what}, not ${valueForMessage(value)}`, name);
  }
}

/** A Set (of item rows). */
export function checkSet(name: string, value: unknown): void {
  if (!(value instanceof Set)) usage(`${name} must be a Set of item rows, not ${valueForMessage(value)}`, name);
}

/**
 * A list of names (user ids or item names): an Array. Its entries are not looked at (one pass
 * per lookup would double its cost); models and Interactions hold strings.
 */
export function checkNameList(name: string, value: unknown): void {
  if (!Array.isArray(value)) usage(`${name} must be an array of strings, not ${valueForMessage(value)}`, name);
}

/** The fields of an AlsModel that every model has (input, losses and updates may be null or absent). */
const MODEL_KEYS = [
  'users',
  'items',
  'factors',
  'userFactors',
  'itemFactors',
  'userIds',
  'itemNames',
  'userItems',
  'itemUserCounts',
  'options',
] as const;

/** The numbers of a model, with their ranges. */
const MODEL_NUMBERS: Partial<Record<keyof AlsModel, [number, number]>> = {
  users: [0, Number.MAX_SAFE_INTEGER],
  items: [0, Number.MAX_SAFE_INTEGER],
  factors: [1, 1024],
};

/**
 * A model, as train, updateModel or loadModel give it: a non-null object with each of `keys`
 * (default: every field of AlsModel but input, losses and updates); of those, users and items
 * must be whole numbers ≥ 0 and factors one from 1 to 1024. The other fields are looked for with
 * `in` and never read: a loaded model's parts are getters that read their files on first use,
 * and a check must not read a model. Functions typed `Pick<AlsModel, …>` pass just those keys.
 */
export function checkModel(name: string, value: unknown, keys: readonly (keyof AlsModel)[] = MODEL_KEYS): void {
  const refuse = (what: string): never =>
    usage(`${name} must be an als model (from train or loadModel), not ${what}`, name);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse(valueForMessage(value));
  const model = value as Record<string, unknown>;
  for (const key of keys) {
    if (!(key in model)) refuse(`an object without ${key}`);
    const range = MODEL_NUMBERS[key];
    if (range === undefined) continue;
    const n = model[key];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < range[0] || n > range[1])
      refuse(`an object whose ${key} is ${valueForMessage(n)}`);
  }
}

/** A HalfStep as the kernels take it (YtY, an output, is not looked at). */
export function checkHalfStep(name: string, value: HalfStep): void {
  if (typeof value !== 'object' || value === null)
    usage(
      `${name} must be a HalfStep ({ X, Y, factors, indptr, indices, confidence, YtY }), not ${valueForMessage(value)}`,
    );
  checkWhole(`${name}.factors`, value.factors, 1, 1024);
  checkArray(`${name}.X`, value.X, Float32Array);
  checkArray(`${name}.Y`, value.Y, Float32Array);
  const indptr = checkArray(`${name}.indptr`, value.indptr, Int32Array);
  if (indptr.length === 0) usage(`${name}.indptr must have at least one entry (rows + 1), not 0`, name);
  checkArray(`${name}.indices`, value.indices, Int32Array);
  checkArray(`${name}.confidence`, value.confidence, Float32Array, value.indices.length);
  if (value.rowRegularization !== undefined)
    checkArray(`${name}.rowRegularization`, value.rowRegularization, Float32Array, indptr.length - 1);
}

/** A play count: finite, > 0 and ≤ MAX_COUNT (the rule of the readers). */
export function checkPlay(name: string, value: number): void {
  if (!isStoredCount(value))
    usage(`${name} must be a count above 0 and at most ${num(MAX_COUNT)}, not ${valueForMessage(value)}`, name);
}

/** A typed array of the given class and, when given, length. */
export function checkArray<T extends ArrayBufferView>(
  name: string,
  value: unknown,
  Type: abstract new (...args: never[]) => T,
  length?: number,
): T {
  if (!(value instanceof Type)) usage(`${name} must be a ${Type.name}, not ${valueForMessage(value)}`, name);
  const actual = (value as unknown as { length: number }).length;
  if (length !== undefined && actual !== length) usage(`${name} must have ${length} entries, not ${actual}`, name);
  return value;
}

/**
 * The largest magnitude of a factor (an entry of a user or item vector): 1e15. A score is the dot
 * product of two rows of at most MAX_FACTORS (1024) entries, summed in float32, so it stays below
 * float32's largest value (3.4e38) while every |x| ≤ √(3.4e38 / 1024) ≈ 5.7e17; 1e15 keeps a
 * factor of 576 below that, for the squared norms of cosine similarity and the min-max range of
 * scores. Trained factors are of order 1 (at most 4.6 in the 360K model at the defaults; 3.2e6 in
 * the worst of 36 runs with λ = 0 on a 40 × 30 sample), so no training comes near it. Checked
 * wherever factors are checked for being finite: training after each iteration, the fold-in and
 * update, user vectors given to queries, saveModel, loadModel (and so `als info`).
 */
export const MAX_FACTOR = 1e15;

/**
 * The index of the first entry of values[start, end) that cannot be scored: NaN, ±∞ or beyond
 * ±MAX_FACTOR; -1 when there is none. The one scan behind every check of factors (library edge,
 * training, fold-in, save, load), each of which words its own error with badFactorWords.
 */
export function firstBadFactor(values: ArrayLike<number>, start = 0, end = values.length): number {
  if (values instanceof Float32Array) return firstBadFloat32(values, start, end);
  for (let n = start; n < end; n++) {
    const x = values[n];
    if (!(x >= -MAX_FACTOR && x <= MAX_FACTOR)) return n;
  }
  return -1;
}

/**
 * The bits of the largest float32 magnitude within MAX_FACTOR: a float32 beyond ±MAX_FACTOR, ∞ or
 * NaN has larger bits once the sign is cleared, so firstBadFloat32 compares integers (a loaded
 * model's 19M item factors took 60 ms as numbers, about 15 ms as bits).
 */
export const MAX_FACTOR_BITS = (() => {
  const f = new Float32Array([MAX_FACTOR]);
  const bits = new Uint32Array(f.buffer)[0];
  return f[0] > MAX_FACTOR ? bits - 1 : bits;
})();

function firstBadFloat32(values: Float32Array, start: number, end: number): number {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let n = start; n < end; n++) if ((bits[n] & 0x7fffffff) > MAX_FACTOR_BITS) return n;
  return -1;
}

/** What is wrong with a factor firstBadFactor found: "a non-finite value (NaN or ∞)" or "a value too large to score (|x| > 1e15)". */
export function badFactorWords(value: number): string {
  return Number.isFinite(value)
    ? `a value too large to score (|x| > ${num(MAX_FACTOR)})`
    : 'a non-finite value (NaN or ∞)';
}

/** Every entry finite and within ±MAX_FACTOR (user vectors given to a query). */
export function checkFinite(name: string, values: Float32Array | Float64Array, start = 0, end = values.length): void {
  const n = firstBadFactor(values, start, end);
  if (n !== -1)
    usage(
      `${name} holds ${num(values[n])} at entry ${n}; every entry must be a finite number from ${num(-MAX_FACTOR)} to ${num(MAX_FACTOR)}`,
    );
}

/**
 * The shape of a CSR matrix, in constant time: rows and cols whole numbers, indptr Int32Array of
 * rows + 1 entries from 0 to the entry count, indices Int32Array and data Float32Array of that
 * many entries. The entries are not looked at: for the sparse operations that take any values
 * in any order (transpose), and estimates that only need the shape; checkCsr checks play counts.
 */
export function checkCsrShape(name: string, m: CsrMatrix): CsrMatrix {
  if (typeof m !== 'object' || m === null)
    usage(`${name} must be a CsrMatrix ({ rows, cols, indptr, indices, data }), not ${valueForMessage(m)}`, name);
  const rows = checkWhole(`${name}.rows`, m.rows, 0, 2 ** 31 - 2);
  checkWhole(`${name}.cols`, m.cols, 0, 2 ** 31 - 1);
  const indptr = checkArray(`${name}.indptr`, m.indptr, Int32Array, rows + 1);
  const indices = checkArray(`${name}.indices`, m.indices, Int32Array);
  const data = checkArray(`${name}.data`, m.data, Float32Array);
  const nnz = indptr[rows];
  if (indptr[0] !== 0) usage(`${name}.indptr must start at 0, not ${indptr[0]}`, name);
  if (nnz !== indices.length || nnz !== data.length) {
    usage(
      `${name}.indptr ends at ${nnz}, but indices has ${indices.length} entries and data ${data.length}; all three must agree`,
    );
  }
  return m;
}

/**
 * A users × items matrix of play counts: rows and cols whole numbers, indptr of rows + 1
 * ascending entries from 0 to the entry count, indices within 0..cols − 1 and strictly ascending
 * within a row (each item once), data finite counts above 0 and at most MAX_COUNT.
 */
export function checkCsr(name: string, m: CsrMatrix): CsrMatrix {
  checkCsrShape(name, m);
  const { rows, cols, indptr, indices, data } = m;
  for (let r = 0; r < rows; r++) {
    const start = indptr[r];
    const end = indptr[r + 1];
    if (!(end >= start)) usage(`${name}.indptr must be ascending: row ${r} runs from ${start} to ${end}`, name);
    let previous = -1;
    for (let n = start; n < end; n++) {
      const column = indices[n];
      if (!(column >= 0 && column < cols))
        usage(`${name}.indices[${n}] is ${column}, outside the ${cols} columns (0..${cols - 1})`, name);
      if (column <= previous)
        usage(`${name}.indices must be strictly ascending within a row: row ${r} has ${previous} then ${column}`, name);
      previous = column;
      const count = data[n];
      if (!isStoredCount(count)) {
        usage(
          `${name}.data[${n}] (row ${r}, column ${column}) is ${num(count)}; counts must be above 0 and at most ${num(MAX_COUNT)}`,
        );
      }
    }
  }
  return m;
}

/**
 * Interactions as readInteractions returns them: a checked matrix and one id per row and column,
 * each id and name given once and free of the characters no name may hold (checkUniqueNames).
 */
export function checkInteractions(name: string, data: Interactions): Interactions {
  checkTriples(name, data, 'Interactions ({ userItems, userIds, itemNames, stats })');
  checkUniqueNames(`${name}.userIds`, data.userIds, 'user id');
  checkUniqueNames(`${name}.itemNames`, data.itemNames, 'item name');
  if (typeof data.stats !== 'object' || data.stats === null)
    usage(`${name}.stats must be an object (ReadStats), not ${valueForMessage(data.stats)}`, name);
  return data;
}

/** The matrix and names of Interactions (what writeSplit takes): a checked matrix and one string per row and column. */
export function checkTriples<T extends Pick<Interactions, 'userItems' | 'userIds' | 'itemNames'>>(
  name: string,
  data: T,
  what = '{ userItems, userIds, itemNames }',
): T {
  if (typeof data !== 'object' || data === null) usage(`${name} must be ${what}, not ${valueForMessage(data)}`, name);
  const m = checkCsr(`${name}.userItems`, data.userItems);
  checkNames(`${name}.userIds`, data.userIds, m.rows);
  checkNames(`${name}.itemNames`, data.itemNames, m.cols);
  return data;
}

/**
 * A list of strings whose every entry is given once and holds no tab, line break or NUL (the
 * readers' rule, rows.ts): a model answers for a row by its id, so a repeated id would answer for
 * another row. Each list is checked once (nameList.ts).
 *
 * @param noun what one entry is, for the message ("user id")
 * @throws {AlsError} 'usage' naming the field, the value and the rows
 */
export function checkUniqueNames(name: string, names: readonly string[], noun: string): void {
  const problem = nameListProblem(names);
  if (problem !== null) usage(`${name} has ${nameListProblemWords(problem, noun)}`, name);
}

/** An array of `length` strings (the ids or names of a matrix's rows or columns). */
export function checkNames(name: string, names: unknown, length: number): void {
  if (!Array.isArray(names))
    usage(`${name} must be an array of ${length} strings, not ${valueForMessage(names)}`, name);
  if (names.length !== length) usage(`${name} has ${names.length} entries, but the matrix has ${length}`, name);
  for (let n = 0; n < names.length; n++)
    if (typeof names[n] !== 'string') usage(`${name}[${n}] must be a string, not ${valueForMessage(names[n])}`, name);
}
