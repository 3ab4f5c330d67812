import type { Kernels } from './types.js';

/**
 * Int8 copies of factor rows for approximate cosine scoring (Kernels.cosineBlock): row j is kept
 * as codes cⱼ (|c| ≤ 127) with scale sⱼ such that ‖yⱼ/‖yⱼ‖ − sⱼcⱼ‖ ≤ error, and a query as codes 32 + d (|d| ≤ 31) with
 * scale t such that ‖q/‖q‖ − t·d‖ ≤ e_q. Then, ŷ and q̂ the unit vectors,
 *
 *   |ŷ·q̂ − sⱼt (cⱼ·d)| ≤ ‖ŷ − sⱼcⱼ‖ ‖q̂‖ + ‖sⱼcⱼ‖ ‖q̂ − t·d‖ ≤ error + (1 + error)·e_q,
 *
 * and the cosine the float kernels compute (a float32 dot, divided in float64 by the float32
 * norms: selectBlock) is within f·2⁻²² of ŷ·q̂ while every norm is within [2⁻³⁰, 2³⁰] (no
 * product or square under- or overflows): cosineBound adds that and a margin for the rounding
 * of the approximate score itself. Rows outside that range get the scale NaN (always scored
 * exactly); a row of norm 0 has codes 0 and scale 0, its approximate and exact cosine both 0.
 */
/** What the int8 pass reads of a quantized copy of rows (QuantizedRows, ProductRows). */
export interface Int8Rows {
  rows: number;
  factors: number;
  /** bytes per row of codes: factors rounded up to 4, the rest zero */
  stride: number;
  /** the int8 codes (|c| ≤ 127) packed as packRow writes them, rows padded to a multiple of 8, in kernel memory */
  codes: Uint8Array;
  /** Σ cⱼ per row (padded) */
  sums: Int32Array;
  /** sⱼ per row (padded) */
  scales: Float32Array;
}

export interface QuantizedRows extends Int8Rows {
  /** sⱼ per row (padded; NaN: always scored exactly) */
  scales: Float32Array;
  /** the largest ‖ŷⱼ − sⱼcⱼ‖ over the rows */
  error: number;
}

/** Norms in this range keep every float32 product and square of the cosine clear of under- and overflow. */
const SAFE_NORM_LOW = 2 ** -30;
const SAFE_NORM_HIGH = 2 ** 30;

/**
 * A query's codes d lie in −63..63, stored as 64 + d (7 bits): the kernels' 16-bit sums hold two
 * products of a row code (≤ 127 in size) and a query code (≤ 127), 2 · 127 · 127 = 32,258 < 2¹⁵
 * (approxProducts' dot8x4).
 */
const QUERY_LIMIT = 63;

/** Whether a row of this norm is coded (quantizeRows): else it gets the scale NaN, or with norm 0 the codes 0. */
export function safeNorm(norm: number): boolean {
  return norm >= SAFE_NORM_LOW && norm <= SAFE_NORM_HIGH;
}

/** The code stride of `factors` numbers: whole 4-byte groups (see packRow). */
export function codeStride(factors: number): number {
  return Math.max(4, (factors + 3) & ~3);
}

/** Rows of codes, sums and scales allocated for `rows` rows: a multiple of 8 (approxProducts takes eight at a time). */
function paddedRows(rows: number): number {
  return Math.max(8, (rows + 7) & ~7);
}

/**
 * Writes row j's `stride` codes into the packed codes: each four rows interleaved, 4 bytes of
 * each in turn (row j's bytes 4i .. 4i + 3 at (j >> 2) · 4 · stride + 16i + 4 · (j & 3)), so that
 * the four lanes of approxProducts' sums are four rows.
 */
function packRow(packed: Int8Array, j: number, row: Int8Array, stride: number): void {
  const base = (j >> 2) * 4 * stride + 4 * (j & 3);
  for (let a = 0; a < stride; a++) packed[base + 16 * (a >> 2) + (a & 3)] = row[a];
}

/**
 * The first `rows` rows of Y (row-major, `factors` a row) quantized to int8 in `kernels`'
 * memory; `norms` are their float32 norms as the cosine divides by them (rowNorms). Coded by
 * the kernels' quantizeUnitRows where they have it (WebAssembly: the same numbers, each half
 * rounded up as Math.round does), else here.
 */
export function quantizeRows(
  kernels: Kernels,
  Y: Float32Array,
  rows: number,
  factors: number,
  norms: Float32Array,
): QuantizedRows {
  const f = factors;
  const stride = codeStride(f);
  const padded = paddedRows(rows);
  const codes = kernels.uint8(padded * stride);
  const sums = kernels.int32(padded);
  const scales = kernels.float32(padded);
  if (kernels.quantizeUnitRows !== undefined) {
    const error = kernels.quantizeUnitRows(Y, rows, f, norms, codes, sums, scales);
    return { rows, factors: f, stride, codes, sums, scales, error };
  }
  const packed = new Int8Array(codes.buffer, codes.byteOffset, codes.length);
  const signed = new Int8Array(stride);
  let error = 0;
  for (let j = 0; j < rows; j++) {
    if (norms[j] === 0) continue; // codes 0, scale 0
    if (!safeNorm(norms[j])) {
      scales[j] = NaN;
      continue;
    }
    signed.fill(0);
    scales[j] = quantizeUnit(Y, j * f, f, signed, 0, 127);
    sums[j] = last.sum;
    if (last.error > error) error = last.error;
    packRow(packed, j, signed, stride);
  }
  return { rows, factors: f, stride, codes, sums, scales, error };
}

/**
 * Writes the codes of x[offset .. offset + f)/‖x‖ at out[at ..] (|code| ≤ limit) and returns
 * their float32 scale; `last` gets the sum of the codes and ‖x/‖x‖ − scale·codes‖ (in float64:
 * the unit vector's own rounding, ~10⁻¹⁶, is far inside cosineBound's margin). x must be
 * nonzero and finite.
 */
function quantizeUnit(x: Float32Array, offset: number, f: number, out: Int8Array, at: number, limit: number): number {
  let squares = 0;
  let largest = 0;
  for (let a = offset; a < offset + f; a++) {
    const v = x[a];
    squares += v * v;
    const size = v < 0 ? -v : v;
    if (size > largest) largest = size;
  }
  const inverse = 1 / Math.sqrt(squares);
  const scale = Math.fround((largest * inverse) / limit);
  const perCode = inverse / scale;
  let sum = 0;
  let error = 0;
  for (let a = 0; a < f; a++) {
    const unit = x[offset + a] * inverse;
    const code = Math.max(-limit, Math.min(limit, Math.round(x[offset + a] * perCode)));
    out[at + a] = code;
    sum += code;
    const difference = unit - scale * code;
    error += difference * difference;
  }
  last.sum = sum;
  last.error = Math.sqrt(error);
  return scale;
}

/** quantizeUnit's other results (one object, not one per row) */
const last = { sum: 0, error: 0 };

/**
 * Codes (64 + d, 1..127) and scales of `queries` query rows of Q from row qFirst on into
 * codes (stride bytes a row) and scales, and into bounds each query's bound on |exact −
 * approximate| cosine against `rows` (Infinity for a query whose norm is outside the safe range
 * or 0: its row is scored exactly). `queryNorms` are the queries' float32 norms.
 */
export function quantizeQueries(
  rows: QuantizedRows,
  Q: Float32Array,
  qFirst: number,
  queries: number,
  queryNorms: Float32Array,
  codes: Uint8Array,
  scales: Float32Array,
  bounds: Float32Array,
): void {
  const { factors: f, stride } = rows;
  const signed = new Int8Array(codes.buffer, codes.byteOffset, queries * stride);
  for (let q = 0; q < queries; q++) {
    signed.fill(0, q * stride, (q + 1) * stride);
    scales[q] = 0;
    bounds[q] = Infinity;
    if (safeNorm(queryNorms[q])) {
      scales[q] = quantizeUnit(Q, (qFirst + q) * f, f, signed, q * stride, QUERY_LIMIT);
      bounds[q] = cosineBound(rows.error, last.error, f);
    }
    for (let a = q * stride; a < (q + 1) * stride; a++) signed[a] += QUERY_LIMIT + 1;
  }
}

/**
 * A float32 bound ≥ |computed cosine − approximate cosine| for rows of quantization error
 * `rowError` and a query of `queryError` (see QuantizedRows): their error, the float32 dot's
 * and the norms' rounding (f·2⁻²² covers γ_f of the dot and twice that of the norms), and 10⁻⁴
 * for the rounding of the approximate score and of the bound, rounded up.
 */
export function cosineBound(rowError: number, queryError: number, factors: number): number {
  const bound = rowError + (1 + rowError) * queryError + factors * 2 ** -22 + 1e-4;
  return Math.fround(bound * (1 + 2 ** -20));
}

/**
 * Int8 copies of factor rows for approximate inner products (Kernels.dotBlock): row j kept as
 * codes cⱼ (|c| ≤ 127, the largest magnitude 127) with scale sⱼ, not made unit first, and a
 * query x as codes 64 + d (|d| ≤ 63) with scale t. With gⱼ = ‖sⱼcⱼ‖, eⱼ = ‖yⱼ − sⱼcⱼ‖ and
 * e = ‖x − t·d‖,
 *
 *   |yⱼ·x − sⱼt (cⱼ·d)| ≤ eⱼ‖x‖ + gⱼ·e,
 *
 * and the float32 dot the kernels compute is within γ_f·‖yⱼ‖‖x‖ ≤ γ_f(gⱼ + eⱼ)‖x‖ of yⱼ·x
 * (γ_f = f·2⁻²⁴/(1 − f·2⁻²⁴), any order of the sums, fused or not): the bound is α·eⱼ + β·gⱼ
 * with two numbers of the query's (productBounds), eⱼ and gⱼ rounded up in `errors` and
 * `weights`. A row of norm 0 has codes 0, scale 0, error 0 and weight 0 (both scores 0); rows
 * whose norm is outside [2⁻³⁰, 2³⁰] get codes 0, scale 0, error 0 and the weight +∞ (always
 * scored exactly). No approximate score is NaN.
 *
 * The codes are packed as QuantizedRows' (packRow), rows padded to a multiple of 8 with zero
 * codes, sums, scales, errors and weights.
 */
export interface ProductRows extends Int8Rows {
  /** eⱼ = ‖yⱼ − sⱼcⱼ‖ per row, rounded up */
  errors: Float32Array;
  /** gⱼ = ‖sⱼcⱼ‖ per row, rounded up (+∞: always scored exactly) */
  weights: Float32Array;
  /** the largest error of each 64 rows (EXTREME_ROWS of the kernels) */
  blockErrors: Float32Array;
  /** the largest weight of each 64 rows */
  blockWeights: Float32Array;
}

/** Rows per block of blockWeights: EXTREME_ROWS of the kernels. */
const BLOCK_ROWS = 64;

/** The first `rows` rows of Y (row-major, `factors` a row) quantized to int8 in `kernels`' memory for inner products. */
export function quantizeProductRows(kernels: Kernels, Y: Float32Array, rows: number, factors: number): ProductRows {
  const f = factors;
  const stride = codeStride(f);
  const padded = paddedRows(rows);
  const codes = kernels.uint8(padded * stride);
  const packed = new Int8Array(codes.buffer, codes.byteOffset, codes.length);
  const sums = kernels.int32(padded);
  const scales = kernels.float32(padded);
  const errors = kernels.float32(padded);
  const weights = kernels.float32(padded);
  const row = new Int8Array(stride);
  for (let j = 0; j < rows; j++) {
    row.fill(0);
    const scale = quantizeVector(Y, j * f, f, row, 0, 127);
    scales[j] = scale;
    sums[j] = lastVector.sum;
    // unknown bound: approximate score 0, always open
    if (Number.isNaN(scale)) {
      scales[j] = 0;
      weights[j] = Infinity;
    } else if (scale > 0) {
      errors[j] = Math.fround(lastVector.error * (1 + 2 ** -20));
      weights[j] = Math.fround(lastVector.size * (1 + 2 ** -20));
    }
    packRow(packed, j, row, stride);
  }
  const blockErrors = kernels.float32(Math.max(1, Math.ceil(rows / BLOCK_ROWS)));
  const blockWeights = kernels.float32(Math.max(1, Math.ceil(rows / BLOCK_ROWS)));
  for (let j = 0; j < rows; j++) {
    const block = Math.floor(j / BLOCK_ROWS);
    blockErrors[block] = Math.max(blockErrors[block], errors[j]);
    blockWeights[block] = Math.max(blockWeights[block], weights[j]);
  }
  return { rows, factors: f, stride, codes, sums, scales, errors, weights, blockErrors, blockWeights };
}

/**
 * Writes the codes of x[offset .. offset + f) at out[at ..] (|code| ≤ limit, the largest
 * magnitude `limit`) and returns their float32 scale: 0 for a zero vector (codes 0), NaN for one
 * whose norm is outside the safe range (codes 0). `lastVector` gets the sum of the codes, the
 * norm of scale·codes and ‖x − scale·codes‖, in float64.
 */
function quantizeVector(x: Float32Array, offset: number, f: number, out: Int8Array, at: number, limit: number): number {
  let squares = 0;
  let largest = 0;
  for (let a = offset; a < offset + f; a++) {
    squares += x[a] * x[a];
    largest = Math.max(largest, Math.abs(x[a]));
  }
  lastVector.sum = 0;
  lastVector.size = 0;
  lastVector.error = 0;
  if (squares === 0) return 0;
  if (!safeNorm(Math.sqrt(squares))) return NaN;
  const scale = Math.fround(largest / limit);
  let sum = 0;
  let size = 0;
  let error = 0;
  for (let a = 0; a < f; a++) {
    const code = Math.max(-limit, Math.min(limit, Math.round(x[offset + a] / scale)));
    out[at + a] = code;
    sum += code;
    size += (scale * code) ** 2;
    error += (x[offset + a] - scale * code) ** 2;
  }
  lastVector.sum = sum;
  lastVector.size = Math.sqrt(size);
  lastVector.error = Math.sqrt(error);
  return scale;
}

/** quantizeVector's other results */
const lastVector = { sum: 0, size: 0, error: 0 };

/**
 * Codes (64 + d, 1..127) and scales of `queries` query rows of Q from row qFirst on into codes
 * (rows.stride bytes a row) and scales, and into bounds each query's α and β (productBounds) at
 * 2q and 2q + 1 (Infinity for a query whose norm is 0 or outside the safe range: its row is
 * scored exactly).
 */
export function quantizeProductQueries(
  rows: ProductRows,
  Q: Float32Array,
  qFirst: number,
  queries: number,
  codes: Uint8Array,
  scales: Float32Array,
  bounds: Float32Array,
): void {
  const { factors: f, stride } = rows;
  const signed = new Int8Array(codes.buffer, codes.byteOffset, queries * stride);
  for (let q = 0; q < queries; q++) {
    signed.fill(0, q * stride, (q + 1) * stride);
    const scale = quantizeVector(Q, (qFirst + q) * f, f, signed, q * stride, QUERY_LIMIT);
    const safe = scale > 0;
    scales[q] = safe ? scale : 0;
    let norm = 0;
    for (let a = (qFirst + q) * f; a < (qFirst + q + 1) * f; a++) norm += Q[a] * Q[a];
    const [alpha, beta] = safe ? productBounds(Math.sqrt(norm), lastVector.error, f) : [Infinity, Infinity];
    bounds[2 * q] = alpha;
    bounds[2 * q + 1] = beta;
    for (let a = q * stride; a < (q + 1) * stride; a++) signed[a] += QUERY_LIMIT + 1;
  }
}

/**
 * α and β, float32s such that |computed xᵀyⱼ − approximate| ≤ α·errors[j] + β·weights[j] for
 * every row (see ProductRows), for a query of norm `norm` and quantization error `queryError`:
 * α = (1 + γ_f)‖x‖ and β = e + γ_f‖x‖, each with 10⁻³ of it more, and 10⁻⁶(‖x‖ + e) more in β
 * for the rounding of the approximate score (three roundings, each relative 2⁻²⁴ of at most
 * gⱼ(‖x‖ + e)), of the bound and of the score ± the bound, rounded up.
 */
export function productBounds(norm: number, queryError: number, factors: number): [number, number] {
  const unit = factors * 2 ** -24;
  const gamma = unit / (1 - unit);
  const up = (v: number) => Math.fround(v * (1 + 2 ** -20));
  return [up((1 + gamma) * norm * 1.001), up((queryError + gamma * norm) * 1.001 + 1e-6 * (norm + queryError))];
}
