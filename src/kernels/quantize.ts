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
export interface QuantizedRows {
  rows: number;
  factors: number;
  /** bytes per row of codes: factors rounded up to 16, the rest zero */
  stride: number;
  /** rows × stride int8 codes (|c| ≤ 127), in kernel memory */
  codes: Uint8Array;
  /** Σ cⱼ per row */
  sums: Int32Array;
  /** sⱼ per row (NaN: always scored exactly) */
  scales: Float32Array;
  /** the largest ‖ŷⱼ − sⱼcⱼ‖ over the rows */
  error: number;
}

/** Norms in this range keep every float32 product and square of the cosine clear of under- and overflow. */
const SAFE_NORM_LOW = 2 ** -30;
const SAFE_NORM_HIGH = 2 ** 30;

/**
 * A query's codes d lie in −31..31, stored as 32 + d: the kernel adds four products of a row code
 * (≤ 127 in size) and a query code (≤ 63) in 16 bits, 4 · 127 · 63 = 32,004 < 2¹⁵.
 */
const QUERY_LIMIT = 31;

function safeNorm(norm: number): boolean {
  return norm >= SAFE_NORM_LOW && norm <= SAFE_NORM_HIGH;
}

/** The code stride of `factors` numbers: whole 16-byte vectors. */
export function codeStride(factors: number): number {
  return Math.max(16, (factors + 15) & ~15);
}

/**
 * The first `rows` rows of Y (row-major, `factors` a row) quantized to int8 in `kernels`'
 * memory; `norms` are their float32 norms as the cosine divides by them (rowNorms).
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
  const codes = kernels.uint8(Math.max(1, rows * stride));
  const signed = new Int8Array(codes.buffer, codes.byteOffset, codes.length);
  const sums = kernels.int32(Math.max(1, rows));
  const scales = kernels.float32(Math.max(1, rows));
  let error = 0;
  for (let j = 0; j < rows; j++) {
    if (norms[j] === 0) continue; // codes 0, scale 0
    if (!safeNorm(norms[j])) {
      scales[j] = NaN;
      continue;
    }
    scales[j] = quantizeUnit(Y, j * f, f, signed, j * stride, 127);
    sums[j] = last.sum;
    if (last.error > error) error = last.error;
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
 * Codes (32 + d, 1..63) and scales of `queries` query rows of Q from row qFirst on into
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
