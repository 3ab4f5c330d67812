// The hot loops of ALS in AssemblyScript, compiled to WebAssembly with SIMD128.
//
// No runtime, no GC, no allocation: every argument is a byte offset into the memory that
// JavaScript owns and imports (shared between worker threads), so the same typed arrays are
// visible to both sides. Factor rows are float32 with stride `f` (no padding); f×f matrices
// are row-major. Vector loops take four floats at a time and finish the last f % 4 with
// scalars, so a row is never read past its end.
//
// Mirrors src/kernels/js.ts (the reference): same systems, solved the same way, in float32
// vectors with float64 where precision matters (the exact solver's Cholesky, loss sums).


/**
 * acc + a·b, fused where the build has relaxed SIMD (kernels-fma.wasm: one rounding, and one
 * instruction on CPUs with FMA) and as a product then a sum in the SIMD128 build (kernels.wasm).
 * Training and scoring both use it, so a model's last bits depend on the build (and, in the fma
 * build, on whether the CPU fuses); within a build they never depend on the thread count.
 */
@inline function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/** acc + a·b: fused (madd) or a product then a sum whatever the build; `fused` a constant at every call. */
@inline function product(acc: v128, a: v128, b: v128, fused: bool): v128 {
  return fused ? madd(acc, a, b) : f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * a · b over f floats: four partial sums (one would make every add wait for the previous one),
 * of the floats 16i + 4s .. 16i + 4s + 3 for s = 0..3, added as (s0 + s1) + (s2 + s3), then the
 * lanes.
 */
@inline function dotOf(a: usize, b: usize, f: i32, fused: bool): f32 {
  let acc0 = f32x4.splat(0);
  let acc1 = f32x4.splat(0);
  let acc2 = f32x4.splat(0);
  let acc3 = f32x4.splat(0);
  const blockEnd = f & ~15;
  let k = 0;
  for (; k < blockEnd; k += 16) {
    const o = <usize>k << 2;
    acc0 = product(acc0, v128.load(a + o), v128.load(b + o), fused);
    acc1 = product(acc1, v128.load(a + o, 16), v128.load(b + o, 16), fused);
    acc2 = product(acc2, v128.load(a + o, 32), v128.load(b + o, 32), fused);
    acc3 = product(acc3, v128.load(a + o, 48), v128.load(b + o, 48), fused);
  }
  const vectorEnd = f & ~3;
  for (; k < vectorEnd; k += 4) {
    acc0 = product(acc0, v128.load(a + (<usize>k << 2)), v128.load(b + (<usize>k << 2)), fused);
  }
  let sum = lanes(f32x4.add(f32x4.add(acc0, acc1), f32x4.add(acc2, acc3)));
  for (; k < f; k++) sum += load<f32>(a + (<usize>k << 2)) * load<f32>(b + (<usize>k << 2));
  return sum;
}

/** a · b, fused where the build can (training and scores). */
@inline function dot(a: usize, b: usize, f: i32): f32 {
  return dotOf(a, b, f, true);
}

/**
 * a · b never fused: an item index's graph is built and searched with it, so that its bytes and
 * answers are the same with either build on any CPU (graphDot in graphSearch.ts is its reference).
 */
@inline function dotUnfused(a: usize, b: usize, f: i32): f32 {
  return dotOf(a, b, f, false);
}

/** The sum of the four lanes of v, in order. */
@inline function lanes(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** y[0..n) += alpha · x[0..n) */
@inline function axpy(alpha: f32, x: usize, y: usize, n: i32): void {
  const a = f32x4.splat(alpha);
  const vectorEnd = n & ~3;
  let k = 0;
  for (; k < vectorEnd; k += 4) {
    const at = y + (<usize>k << 2);
    v128.store(at, madd(v128.load(at), a, v128.load(x + (<usize>k << 2))));
  }
  for (; k < n; k++) {
    const at = y + (<usize>k << 2);
    store<f32>(at, load<f32>(at) + alpha * load<f32>(x + (<usize>k << 2)));
  }
}

/** v[0..n) = −v[0..n) */
@inline function negate(v: usize, n: i32): void {
  const vectorEnd = n & ~3;
  let k = 0;
  for (; k < vectorEnd; k += 4) v128.store(v + (<usize>k << 2), f32x4.neg(v128.load(v + (<usize>k << 2))));
  for (; k < n; k++) store<f32>(v + (<usize>k << 2), -load<f32>(v + (<usize>k << 2)));
}

/** y[0..n) = x[0..n) + beta · y[0..n) (CG's new direction) */
@inline function scaleAdd(beta: f32, y: usize, x: usize, n: i32): void {
  const b = f32x4.splat(beta);
  const vectorEnd = n & ~3;
  let k = 0;
  for (; k < vectorEnd; k += 4) {
    const at = y + (<usize>k << 2);
    v128.store(at, madd(v128.load(x + (<usize>k << 2)), b, v128.load(at)));
  }
  for (; k < n; k++) {
    const at = y + (<usize>k << 2);
    store<f32>(at, load<f32>(x + (<usize>k << 2)) + beta * load<f32>(at));
  }
}

/** to[0..n) = from[0..n), inline: memory.copy is a call, costly for one short row */
@inline function copy32(from: usize, to: usize, n: i32): void {
  const vectorEnd = n & ~3;
  let k = 0;
  for (; k < vectorEnd; k += 4) v128.store(to + (<usize>k << 2), v128.load(from + (<usize>k << 2)));
  for (; k < n; k++) store<f32>(to + (<usize>k << 2), load<f32>(from + (<usize>k << 2)));
}

@inline function zero32(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}

/**
 * out (f × f, f64) = Σ over rows [start, end) of yᵀy, accumulated in f32 over the block: each
 * entry the sum of y[a]·y[b] over the rows in order. The upper triangle is summed in tiles of
 * 4 × 8 entries held in eight registers over the block's rows (gramianTile), the entries outside
 * the tiles one at a time; the lower triangle is its mirror. scratch: f × f floats.
 */
export function gramianBlock(Y: usize, f: i32, start: i32, end: i32, out: usize, scratch: usize): void {
  const stride = <usize>f << 2;
  const tileRows = f & ~3;
  const tileColumns = f & ~7;
  for (let a = 0; a < tileRows; a += 4) {
    for (let b = a & ~7; b < tileColumns; b += 8) gramianTile(Y, stride, start, end, a, b, scratch);
  }
  for (let a = 0; a < f; a++) {
    for (let b = a; b < f; b++) {
      if (a < tileRows && b < tileColumns) continue;
      let sum: f32 = 0;
      for (let r = start; r < end; r++) {
        const y = Y + <usize>r * stride;
        sum += load<f32>(y + (<usize>a << 2)) * load<f32>(y + (<usize>b << 2));
      }
      store<f32>(scratch + <usize>a * stride + (<usize>b << 2), sum);
    }
  }
  for (let a = 0; a < f; a++) {
    for (let b = 0; b < f; b++) {
      const upper = a <= b ? <usize>a * stride + (<usize>b << 2) : <usize>b * stride + (<usize>a << 2);
      store<f64>(out + ((<usize>a * <usize>f + <usize>b) << 3), <f64>load<f32>(scratch + upper));
    }
  }
}

/** Entries a..a+3 × b..b+7 of gramianBlock's sums, into scratch (f × f floats, row stride `stride`). */
@inline function gramianTile(Y: usize, stride: usize, start: i32, end: i32, a: i32, b: i32, scratch: usize): void {
  let s00 = f32x4.splat(0);
  let s01 = f32x4.splat(0);
  let s10 = f32x4.splat(0);
  let s11 = f32x4.splat(0);
  let s20 = f32x4.splat(0);
  let s21 = f32x4.splat(0);
  let s30 = f32x4.splat(0);
  let s31 = f32x4.splat(0);
  const ya = <usize>a << 2;
  const yb = <usize>b << 2;
  for (let r = start; r < end; r++) {
    const y = Y + <usize>r * stride;
    const b0 = v128.load(y + yb);
    const b1 = v128.load(y + yb, 16);
    let w = v128.load32_splat(y + ya);
    s00 = madd(s00, w, b0);
    s01 = madd(s01, w, b1);
    w = v128.load32_splat(y + ya, 4);
    s10 = madd(s10, w, b0);
    s11 = madd(s11, w, b1);
    w = v128.load32_splat(y + ya, 8);
    s20 = madd(s20, w, b0);
    s21 = madd(s21, w, b1);
    w = v128.load32_splat(y + ya, 12);
    s30 = madd(s30, w, b0);
    s31 = madd(s31, w, b1);
  }
  const o = scratch + <usize>a * stride + yb;
  v128.store(o, s00);
  v128.store(o, s01, 16);
  v128.store(o + stride, s10);
  v128.store(o + stride, s11, 16);
  v128.store(o + 2 * stride, s20);
  v128.store(o + 2 * stride, s21, 16);
  v128.store(o + 3 * stride, s30);
  v128.store(o + 3 * stride, s31, 16);
}

/**
 * Ap = M p for the f × f float32 matrix M (symmetric, so rows serve as columns): 16 outputs at
 * a time held in four vector registers while k runs over M's rows, then 4 at a time, then one.
 */
@inline function symmetricProduct(M: usize, p: usize, Ap: usize, f: i32): void {
  const stride = <usize>f << 2;
  let j = 0;
  const blockEnd = f & ~15;
  for (; j < blockEnd; j += 16) {
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    let acc2 = f32x4.splat(0);
    let acc3 = f32x4.splat(0);
    let row = M + (<usize>j << 2);
    for (let k = 0; k < f; k++) {
      const pk = v128.load32_splat(p + (<usize>k << 2));
      acc0 = madd(acc0, pk, v128.load(row));
      acc1 = madd(acc1, pk, v128.load(row, 16));
      acc2 = madd(acc2, pk, v128.load(row, 32));
      acc3 = madd(acc3, pk, v128.load(row, 48));
      row += stride;
    }
    const out = Ap + (<usize>j << 2);
    v128.store(out, acc0);
    v128.store(out, acc1, 16);
    v128.store(out, acc2, 32);
    v128.store(out, acc3, 48);
  }
  symmetricProductFrom(M, p, Ap, f, j);
}

/** Outputs j.. of symmetricProduct (j a multiple of 16): 4 at a time, then one. */
@inline function symmetricProductFrom(M: usize, p: usize, Ap: usize, f: i32, j: i32): void {
  const stride = <usize>f << 2;
  const vectorEnd = f & ~3;
  for (; j < vectorEnd; j += 4) {
    let acc = f32x4.splat(0);
    let row = M + (<usize>j << 2);
    for (let k = 0; k < f; k++) {
      acc = madd(acc, f32x4.splat(load<f32>(p + (<usize>k << 2))), v128.load(row));
      row += stride;
    }
    v128.store(Ap + (<usize>j << 2), acc);
  }
  for (; j < f; j++) store<f32>(Ap + (<usize>j << 2), dot(M + <usize>j * stride, p, f));
}

/**
 * symmetricProduct(M, p, Ap, f) and symmetricProduct(M, q, Aq, f) at once, for two rows' CG
 * steps side by side: each load of M serves both (the single product waits on its loads, five
 * for four multiply-adds). Every output is the same sum in the same order as the single one's.
 */
@inline function symmetricProductPair(M: usize, p: usize, q: usize, Ap: usize, Aq: usize, f: i32): void {
  const stride = <usize>f << 2;
  let j = 0;
  const blockEnd = f & ~15;
  for (; j < blockEnd; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let b0 = f32x4.splat(0);
    let b1 = f32x4.splat(0);
    let b2 = f32x4.splat(0);
    let b3 = f32x4.splat(0);
    let row = M + (<usize>j << 2);
    for (let k = 0; k < f; k++) {
      const o = <usize>k << 2;
      const pk = v128.load32_splat(p + o);
      const qk = v128.load32_splat(q + o);
      const m0 = v128.load(row);
      const m1 = v128.load(row, 16);
      const m2 = v128.load(row, 32);
      const m3 = v128.load(row, 48);
      a0 = madd(a0, pk, m0);
      b0 = madd(b0, qk, m0);
      a1 = madd(a1, pk, m1);
      b1 = madd(b1, qk, m1);
      a2 = madd(a2, pk, m2);
      b2 = madd(b2, qk, m2);
      a3 = madd(a3, pk, m3);
      b3 = madd(b3, qk, m3);
      row += stride;
    }
    const outA = Ap + (<usize>j << 2);
    v128.store(outA, a0);
    v128.store(outA, a1, 16);
    v128.store(outA, a2, 32);
    v128.store(outA, a3, 48);
    const outB = Aq + (<usize>j << 2);
    v128.store(outB, b0);
    v128.store(outB, b1, 16);
    v128.store(outB, b2, 32);
    v128.store(outB, b3, 48);
  }
  if (j < f) {
    // the last f % 16 outputs, one row after the other, as symmetricProduct computes them
    symmetricProductFrom(M, p, Ap, f, j);
    symmetricProductFrom(M, q, Aq, f, j);
  }
}

/**
 * dot(a, p, f) and dot(b, p, f) at once: the same numbers (each the same sums in the same order),
 * with the two chains of adds interleaved so that neither waits for the other.
 */
@inline function dotPairInto(a: usize, b: usize, p: usize, f: i32, out: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let b0 = f32x4.splat(0);
  let b1 = f32x4.splat(0);
  let b2 = f32x4.splat(0);
  let b3 = f32x4.splat(0);
  const blockEnd = f & ~15;
  let k = 0;
  for (; k < blockEnd; k += 16) {
    const o = <usize>k << 2;
    const p0 = v128.load(p + o);
    const p1 = v128.load(p + o, 16);
    const p2 = v128.load(p + o, 32);
    const p3 = v128.load(p + o, 48);
    a0 = madd(a0, v128.load(a + o), p0);
    b0 = madd(b0, v128.load(b + o), p0);
    a1 = madd(a1, v128.load(a + o, 16), p1);
    b1 = madd(b1, v128.load(b + o, 16), p1);
    a2 = madd(a2, v128.load(a + o, 32), p2);
    b2 = madd(b2, v128.load(b + o, 32), p2);
    a3 = madd(a3, v128.load(a + o, 48), p3);
    b3 = madd(b3, v128.load(b + o, 48), p3);
  }
  const vectorEnd = f & ~3;
  for (; k < vectorEnd; k += 4) {
    const o = <usize>k << 2;
    const pk = v128.load(p + o);
    a0 = madd(a0, v128.load(a + o), pk);
    b0 = madd(b0, v128.load(b + o), pk);
  }
  let sa = lanes(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
  let sb = lanes(f32x4.add(f32x4.add(b0, b1), f32x4.add(b2, b3)));
  for (; k < f; k++) {
    const pk = load<f32>(p + (<usize>k << 2));
    sa += load<f32>(a + (<usize>k << 2)) * pk;
    sb += load<f32>(b + (<usize>k << 2)) * pk;
  }
  store<f32>(out, sa);
  store<f32>(out, sb, 4);
}

/**
 * y += alpha·x, then y += beta·z, in one pass over y: every number is the one the two axpy
 * calls give (the same products and sums in the same order), y read and written once.
 */
@inline function axpyPair(alpha: f32, x: usize, beta: f32, z: usize, y: usize, n: i32): void {
  const a = f32x4.splat(alpha);
  const b = f32x4.splat(beta);
  const vectorEnd = n & ~3;
  let k = 0;
  for (; k < vectorEnd; k += 4) {
    const o = <usize>k << 2;
    const at = y + o;
    v128.store(at, madd(madd(v128.load(at), a, v128.load(x + o)), b, v128.load(z + o)));
  }
  for (; k < n; k++) {
    const o = <usize>k << 2;
    const at = y + o;
    store<f32>(at, load<f32>(at) + alpha * load<f32>(x + o) + beta * load<f32>(z + o));
  }
}

/** Observed pairs whose weights addObservedProducts works out before adding their rows up. */
const OBSERVED_CHUNK = 64;
/** The bytes of addObservedProducts' notes: a chunk's weights, then its rows. */
const OBSERVED_NOTES_BYTES = OBSERVED_CHUNK * 8;

/**
 * Σ over pairs n in [from, to) of weight(c) · (yₙ · v) · yₙ added into out. Rows yₙ are gathered
 * rows (gathered ≠ 0: consecutive from there) or rows of Y by indices. residual: weight is
 * c − (c − 1)·d in place of (c − 1)·d (the residual's right-hand side).
 *
 * OBSERVED_CHUNK pairs at a time: first their weights, two dot products side by side
 * (dotPairInto), noted with their rows in `notes`; then addWeightedRows adds the weighted rows
 * into out with each stretch of out held in registers over the chunk, instead of out loaded and
 * stored once per pair. Every sum is the one a pair at a time gives, in the same order.
 */
@inline function addObservedProducts(
  Y: usize, stride: usize, f: i32, indices: usize, confidence: usize, from: i32, to: i32,
  gathered: usize, v: usize, out: usize, residual: bool, notes: usize,
): void {
  const weights = notes;
  const rows = notes + (OBSERVED_CHUNK << 2);
  for (let first = from; first < to; first += OBSERVED_CHUNK) {
    const last = min(first + OBSERVED_CHUNK, to);
    let n = first;
    for (; n + 1 < last; n += 2) {
      let y1: usize, y2: usize;
      if (gathered != 0) {
        y1 = gathered + <usize>(n - from) * stride;
        y2 = y1 + stride;
      } else {
        y1 = Y + <usize>load<i32>(indices + (<usize>n << 2)) * stride;
        y2 = Y + <usize>load<i32>(indices + (<usize>(n + 1) << 2)) * stride;
      }
      const at = <usize>(n - first) << 2;
      // the two dot products land where their weights go
      dotPairInto(y1, y2, v, f, weights + at);
      const c1 = load<f32>(confidence + (<usize>n << 2));
      const c2 = load<f32>(confidence + (<usize>(n + 1) << 2));
      const d1 = load<f32>(weights + at);
      const d2 = load<f32>(weights + at, 4);
      store<f32>(weights + at, residual ? c1 - (c1 - 1) * d1 : (c1 - 1) * d1);
      store<f32>(weights + at, residual ? c2 - (c2 - 1) * d2 : (c2 - 1) * d2, 4);
      store<u32>(rows + at, <u32>y1);
      store<u32>(rows + at, <u32>y2, 4);
    }
    if (n < last) {
      const y1 = gathered != 0 ? gathered + <usize>(n - from) * stride : Y + <usize>load<i32>(indices + (<usize>n << 2)) * stride;
      const c = load<f32>(confidence + (<usize>n << 2));
      const d = dot(y1, v, f);
      const at = <usize>(n - first) << 2;
      store<f32>(weights + at, residual ? c - (c - 1) * d : (c - 1) * d);
      store<u32>(rows + at, <u32>y1);
    }
    addWeightedRows(rows, weights, last - first, out, f);
  }
}

/**
 * out += Σ over i < count of weights[i] · rows[i] (rows: addresses of f floats), each float of
 * out summed in the order of i (as axpy after axpy would), 16 floats of out at a time in four
 * registers (32 in eight was slower: V8 keeps only sixteen vectors in registers), then 4, then one.
 */
@inline function addWeightedRows(rows: usize, weights: usize, count: i32, out: usize, f: i32): void {
  let j = 0;
  const end16 = f & ~15;
  for (; j < end16; j += 16) {
    const o = out + (<usize>j << 2);
    let a0 = v128.load(o);
    let a1 = v128.load(o, 16);
    let a2 = v128.load(o, 32);
    let a3 = v128.load(o, 48);
    for (let i = 0; i < count; i++) {
      const y = <usize>load<u32>(rows + (<usize>i << 2)) + (<usize>j << 2);
      const w = v128.load32_splat(weights + (<usize>i << 2));
      a0 = madd(a0, w, v128.load(y));
      a1 = madd(a1, w, v128.load(y, 16));
      a2 = madd(a2, w, v128.load(y, 32));
      a3 = madd(a3, w, v128.load(y, 48));
    }
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  const end4 = f & ~3;
  for (; j < end4; j += 4) {
    const o = out + (<usize>j << 2);
    let a = v128.load(o);
    for (let i = 0; i < count; i++) {
      const y = <usize>load<u32>(rows + (<usize>i << 2)) + (<usize>j << 2);
      a = madd(a, v128.load32_splat(weights + (<usize>i << 2)), v128.load(y));
    }
    v128.store(o, a);
  }
  for (; j < f; j++) {
    const o = out + (<usize>j << 2);
    let a = load<f32>(o);
    for (let i = 0; i < count; i++) {
      a += load<f32>(weights + (<usize>i << 2)) * load<f32>(<usize>load<u32>(rows + (<usize>i << 2)) + (<usize>j << 2));
    }
    store<f32>(o, a);
  }
}

/** The scratch bytes cgRows needs per thread: r, p, Ap for two rows, addObservedProducts' notes, then room for `gathered` rows. */
export function cgScratchBytes(f: i32, gathered: i32): usize {
  return 6 * (<usize>((f + 3) & ~3) << 2) + OBSERVED_NOTES_BYTES + <usize>gathered * (<usize>f << 2);
}

/**
 * Conjugate-gradient update of rows [start, end) of X (Takács, Pilászy & Tikk 2011), warm
 * started; YtY is YᵀY + λI in float32. scratch: cgScratchBytes(f, the longest row gathered).
 *
 * A row with gatherFrom up to gatherUpTo observed columns first copies their Y rows into that
 * room, in order, while computing the residual, and its CG steps then read the copies one after
 * another: one pass of random reads over Y per row instead of 1 + steps (Y of the item half-step
 * is the whole user matrix, far larger than any cache). Other rows (all, with gatherUpTo = 0)
 * read Y in place. The numbers read are the same either way, and so is every result, bit for bit.
 *
 * Two neighbouring rows take their steps side by side (when neither is zeroed, and the rows they
 * gather fit in the room together), their products with YtY in one pass over it
 * (symmetricProductPair); each row's numbers are the ones it has alone.
 *
 * rowLambda != 0: float32 λᵤ per row, added to YtY's diagonal for row u (as λᵤx and λᵤp after
 * each product with YtY), and a row with no observed columns is set to 0 (HalfStep.rowRegularization).
 */
export function cgRows(
  X: usize, Y: usize, f: i32, indptr: usize, indices: usize, confidence: usize,
  YtY: usize, steps: i32, start: i32, end: i32, scratch: usize, gatherFrom: i32, gatherUpTo: i32, rowLambda: usize,
): void {
  const stride = <usize>f << 2;
  const vec = <usize>((f + 3) & ~3) << 2;
  // r, p, Ap of the first row of a pair (or of a row alone), then of the second
  const first = scratch;
  const second = scratch + 3 * vec;
  // addObservedProducts' notes, then the gathered rows
  const notes = scratch + 6 * vec;
  const room = notes + OBSERVED_NOTES_BYTES;
  let u = start;
  while (u < end) {
    const countU = load<i32>(indptr + (<usize>(u + 1) << 2)) - load<i32>(indptr + (<usize>u << 2));
    if (rowLambda != 0 && countU == 0) {
      zero32(X + <usize>u * stride, f);
      u++;
      continue;
    }
    const gatheredU = countU >= gatherFrom && countU <= gatherUpTo ? countU : 0;
    const v = u + 1;
    if (v < end) {
      const countV = load<i32>(indptr + (<usize>(v + 1) << 2)) - load<i32>(indptr + (<usize>v << 2));
      const gatheredV = countV >= gatherFrom && countV <= gatherUpTo ? countV : 0;
      if ((rowLambda == 0 || countV > 0) && gatheredU + gatheredV <= gatherUpTo) {
        const roomV = room + <usize>gatheredU * stride;
        cgPair(X, Y, f, indptr, indices, confidence, YtY, steps, u, first, second, notes,
          gatheredU > 0 ? room : 0, gatheredV > 0 ? roomV : 0, rowLambda, stride, vec);
        u += 2;
        continue;
      }
    }
    cgOne(X, Y, f, indptr, indices, confidence, YtY, steps, u, first, notes, gatheredU > 0 ? room : 0, rowLambda, stride, vec);
    u++;
  }
}

/** The Y rows of row u's observed columns [from, to), copied one after another to `rows`. */
@inline function gatherRows(Y: usize, stride: usize, f: i32, indices: usize, from: i32, to: i32, rows: usize): void {
  let y = rows;
  for (let n = from; n < to; n++) {
    copy32(Y + <usize>load<i32>(indices + (<usize>n << 2)) * stride, y, f);
    y += stride;
  }
}

/** cgRows' steps for row u alone; `state` holds its r, p, Ap; `rows`: where it gathers its Y rows (0: it reads Y in place). */
function cgOne(
  X: usize, Y: usize, f: i32, indptr: usize, indices: usize, confidence: usize, YtY: usize, steps: i32,
  u: i32, state: usize, notes: usize, rows: usize, rowLambda: usize, stride: usize, vec: usize,
): void {
  const x = X + <usize>u * stride;
  const from = load<i32>(indptr + (<usize>u << 2));
  const to = load<i32>(indptr + (<usize>(u + 1) << 2));
  const lambda = rowLambda != 0 ? load<f32>(rowLambda + (<usize>u << 2)) : <f32>0;
  const r = state;
  const p = state + vec;
  const Ap = state + 2 * vec;
  // r = YᵀCᵤp(u) − (YᵀY + λI + Yᵀ(Cᵤ − I)Y) x
  symmetricProduct(YtY, x, r, f);
  if (rows != 0) gatherRows(Y, stride, f, indices, from, to, rows);
  let rs = cgResidual(Y, stride, f, indices, confidence, from, to, rows, x, r, p, lambda, notes);
  for (let it = 0; it < steps && rs >= 1e-20; it++) {
    symmetricProduct(YtY, p, Ap, f);
    rs = cgStep(Y, stride, f, indices, confidence, from, to, rows, x, r, p, Ap, rs, lambda, notes);
  }
}

/** cgRows' steps for rows u and u + 1 side by side; `first` and `second` hold each one's r, p, Ap; rowsU, rowsV as cgOne's `rows`. */
function cgPair(
  X: usize, Y: usize, f: i32, indptr: usize, indices: usize, confidence: usize, YtY: usize, steps: i32,
  u: i32, first: usize, second: usize, notes: usize, rowsU: usize, rowsV: usize, rowLambda: usize, stride: usize, vec: usize,
): void {
  const v = u + 1;
  const xu = X + <usize>u * stride;
  const xv = X + <usize>v * stride;
  const fromU = load<i32>(indptr + (<usize>u << 2));
  const fromV = load<i32>(indptr + (<usize>v << 2));
  const toV = load<i32>(indptr + (<usize>(v + 1) << 2));
  const lambdaU = rowLambda != 0 ? load<f32>(rowLambda + (<usize>u << 2)) : <f32>0;
  const lambdaV = rowLambda != 0 ? load<f32>(rowLambda + (<usize>v << 2)) : <f32>0;
  const ru = first;
  const pu = first + vec;
  const Apu = first + 2 * vec;
  const rv = second;
  const pv = second + vec;
  const Apv = second + 2 * vec;
  symmetricProductPair(YtY, xu, xv, ru, rv, f);
  if (rowsU != 0) gatherRows(Y, stride, f, indices, fromU, fromV, rowsU);
  if (rowsV != 0) gatherRows(Y, stride, f, indices, fromV, toV, rowsV);
  let rsU = cgResidual(Y, stride, f, indices, confidence, fromU, fromV, rowsU, xu, ru, pu, lambdaU, notes);
  let rsV = cgResidual(Y, stride, f, indices, confidence, fromV, toV, rowsV, xv, rv, pv, lambdaV, notes);
  for (let it = 0; it < steps; it++) {
    const liveU = rsU >= 1e-20;
    const liveV = rsV >= 1e-20;
    if (liveU && liveV) symmetricProductPair(YtY, pu, pv, Apu, Apv, f);
    else if (liveU) symmetricProduct(YtY, pu, Apu, f);
    else if (liveV) symmetricProduct(YtY, pv, Apv, f);
    else break;
    if (liveU) rsU = cgStep(Y, stride, f, indices, confidence, fromU, fromV, rowsU, xu, ru, pu, Apu, rsU, lambdaU, notes);
    if (liveV) rsV = cgStep(Y, stride, f, indices, confidence, fromV, toV, rowsV, xv, rv, pv, Apv, rsV, lambdaV, notes);
  }
}

/**
 * A row's residual, given r = YtY x: r = −(r + λx) + Σ (cᵢ − (cᵢ − 1) yᵢ·x) yᵢ, copied into p;
 * returns r·r, or 0 when that is below 1e-20 (the row is done: no step is taken).
 */
@inline function cgResidual(
  Y: usize, stride: usize, f: i32, indices: usize, confidence: usize, from: i32, to: i32, gathered: usize,
  x: usize, r: usize, p: usize, lambda: f32, notes: usize,
): f64 {
  if (lambda != 0) axpy(lambda, x, r, f);
  negate(r, f);
  addObservedProducts(Y, stride, f, indices, confidence, from, to, gathered, x, r, true, notes);
  memory.copy(p, r, stride);
  const rs = <f64>dot(r, r, f);
  return rs < 1e-20 ? 0 : rs;
}

/**
 * One CG step of a row, given Ap = YtY p: Ap += λp + Yᵀ(Cᵤ − I)Y p, then x, r and p move on.
 * Returns the new r·r, or 0 when the row is done (pAp not positive, or r·r below 1e-20).
 */
@inline function cgStep(
  Y: usize, stride: usize, f: i32, indices: usize, confidence: usize, from: i32, to: i32, gathered: usize,
  x: usize, r: usize, p: usize, Ap: usize, rsOld: f64, lambda: f32, notes: usize,
): f64 {
  if (lambda != 0) axpy(lambda, p, Ap, f);
  addObservedProducts(Y, stride, f, indices, confidence, from, to, gathered, p, Ap, false, notes);
  const pAp = <f64>dot(p, Ap, f);
  if (!(pAp > 0)) return 0;
  const alpha = <f32>(rsOld / pAp);
  axpy(alpha, p, x, f);
  axpy(-alpha, Ap, r, f);
  const rsNew = <f64>dot(r, r, f);
  if (rsNew < 1e-20) return 0;
  // p = r + β p
  scaleAdd(<f32>(rsNew / rsOld), p, r, f);
  return rsNew;
}

/**
 * Cholesky factor L of the f × f float64 matrix in A's lower triangle, in place, with the
 * forward substitution riding along: A has f + 1 rows, the last holding b, which becomes
 * y = L⁻¹b (y[j] = (b[j] − Σₖ₍ₖ₌₀..ⱼ₋₁₎ y[k] L[j][k]) / L[j][j]: a column entry's sum, as the
 * substitution on its own summed it). false when A is not positive definite.
 *
 * L[i][j] = (A[i][j] − Σₖ₍ₖ₌₀..ⱼ₋₁₎ L[i][k] L[j][k]) / L[j][j], each sum as dot64 sums it (even
 * and odd k in two lanes, then the odd one out), so the factor is the same to the bit as one dot
 * at a time; but the columns go by pairs j, j + 1 (j even) and the rows below by fours, so that
 * eight independent sums share the loads of rows j and j + 1 (one dot at a time waits on its
 * previous add). Column j + 1's sum is column j's range plus the term k = j, added last.
 */
function choleskyFactor(A: usize, f: i32): bool {
  const stride = <usize>f << 3;
  const rows = f + 1;
  let j = 0;
  for (; j + 2 <= f; j += 2) {
    const rowJ = A + <usize>j * stride;
    const rowK = rowJ + stride;
    const column = <usize>j << 3;
    const diagonal = load<f64>(rowJ + column) - dot64(rowJ, rowJ, j);
    if (!(diagonal > 0)) return false;
    const pivot = Math.sqrt(diagonal);
    store<f64>(rowJ + column, pivot);
    store<f64>(rowK + column, (load<f64>(rowK + column) - dot64(rowK, rowJ, j)) / pivot);
    const next = load<f64>(rowK + column + 8) - dot64(rowK, rowK, j + 1);
    if (!(next > 0)) return false;
    const pivotK = Math.sqrt(next);
    store<f64>(rowK + column + 8, pivotK);
    const lKJ = load<f64>(rowK + column);
    let i = j + 2;
    for (; i + 4 <= rows; i += 4) {
      const row0 = A + <usize>i * stride;
      const row1 = row0 + stride;
      const row2 = row1 + stride;
      const row3 = row2 + stride;
      let j0 = f64x2.splat(0);
      let j1 = f64x2.splat(0);
      let j2 = f64x2.splat(0);
      let j3 = f64x2.splat(0);
      let k0 = f64x2.splat(0);
      let k1 = f64x2.splat(0);
      let k2 = f64x2.splat(0);
      let k3 = f64x2.splat(0);
      for (let o: usize = 0; o < column; o += 16) {
        const lj = v128.load(rowJ + o);
        const lk = v128.load(rowK + o);
        const r0 = v128.load(row0 + o);
        const r1 = v128.load(row1 + o);
        const r2 = v128.load(row2 + o);
        const r3 = v128.load(row3 + o);
        j0 = f64x2.add(j0, f64x2.mul(r0, lj));
        k0 = f64x2.add(k0, f64x2.mul(r0, lk));
        j1 = f64x2.add(j1, f64x2.mul(r1, lj));
        k1 = f64x2.add(k1, f64x2.mul(r1, lk));
        j2 = f64x2.add(j2, f64x2.mul(r2, lj));
        k2 = f64x2.add(k2, f64x2.mul(r2, lk));
        j3 = f64x2.add(j3, f64x2.mul(r3, lj));
        k3 = f64x2.add(k3, f64x2.mul(r3, lk));
      }
      const l0 = (load<f64>(row0 + column) - (f64x2.extract_lane(j0, 0) + f64x2.extract_lane(j0, 1))) / pivot;
      const l1 = (load<f64>(row1 + column) - (f64x2.extract_lane(j1, 0) + f64x2.extract_lane(j1, 1))) / pivot;
      const l2 = (load<f64>(row2 + column) - (f64x2.extract_lane(j2, 0) + f64x2.extract_lane(j2, 1))) / pivot;
      const l3 = (load<f64>(row3 + column) - (f64x2.extract_lane(j3, 0) + f64x2.extract_lane(j3, 1))) / pivot;
      store<f64>(row0 + column, l0);
      store<f64>(row1 + column, l1);
      store<f64>(row2 + column, l2);
      store<f64>(row3 + column, l3);
      const sum0 = f64x2.extract_lane(k0, 0) + f64x2.extract_lane(k0, 1) + l0 * lKJ;
      const sum1 = f64x2.extract_lane(k1, 0) + f64x2.extract_lane(k1, 1) + l1 * lKJ;
      const sum2 = f64x2.extract_lane(k2, 0) + f64x2.extract_lane(k2, 1) + l2 * lKJ;
      const sum3 = f64x2.extract_lane(k3, 0) + f64x2.extract_lane(k3, 1) + l3 * lKJ;
      store<f64>(row0 + column + 8, (load<f64>(row0 + column + 8) - sum0) / pivotK);
      store<f64>(row1 + column + 8, (load<f64>(row1 + column + 8) - sum1) / pivotK);
      store<f64>(row2 + column + 8, (load<f64>(row2 + column + 8) - sum2) / pivotK);
      store<f64>(row3 + column + 8, (load<f64>(row3 + column + 8) - sum3) / pivotK);
    }
    for (; i < rows; i++) {
      const rowI = A + <usize>i * stride;
      store<f64>(rowI + column, (load<f64>(rowI + column) - dot64(rowI, rowJ, j)) / pivot);
      store<f64>(rowI + column + 8, (load<f64>(rowI + column + 8) - dot64(rowI, rowK, j + 1)) / pivotK);
    }
  }
  if (j < f) {
    // f odd: the last column has its diagonal and y's last entry
    const rowJ = A + <usize>j * stride;
    const column = <usize>j << 3;
    const diagonal = load<f64>(rowJ + column) - dot64(rowJ, rowJ, j);
    if (!(diagonal > 0)) return false;
    const pivot = Math.sqrt(diagonal);
    store<f64>(rowJ + column, pivot);
    const y = rowJ + stride;
    store<f64>(y + column, (load<f64>(y + column) - dot64(y, rowJ, j)) / pivot);
  }
  return true;
}

/**
 * x = L⁻ᵀy for the factor and y of choleskyFactor (y, in A's row f, becomes x): x[i] = (y[i] −
 * Σₖ₍ₖ₌ᵢ₊₁..f₋₁₎ L[k][i] x[k]) / L[i][i], k in order. Each sum waits on the previous x and on
 * its own previous term: one add at a time.
 */
function backSubstitute(A: usize, f: i32): void {
  const stride = <usize>f << 3;
  const x = A + <usize>f * stride;
  for (let i = f - 1; i >= 0; i--) {
    const column = A + (<usize>i << 3);
    let sum = load<f64>(x + (<usize>i << 3));
    for (let k = i + 1; k < f; k++) sum -= load<f64>(column + <usize>k * stride) * load<f64>(x + (<usize>k << 3));
    store<f64>(x + (<usize>i << 3), sum / load<f64>(column + <usize>i * stride));
  }
}

/** backSubstitute of two systems at once: two independent chains of adds, the same sums. */
function backSubstitute2(A: usize, B: usize, f: i32): void {
  const stride = <usize>f << 3;
  const x = A + <usize>f * stride;
  const z = B + <usize>f * stride;
  for (let i = f - 1; i >= 0; i--) {
    const at = <usize>i << 3;
    let sumX = load<f64>(x + at);
    let sumZ = load<f64>(z + at);
    for (let k = i + 1; k < f; k++) {
      const o = <usize>k * stride + at;
      sumX -= load<f64>(A + o) * load<f64>(x + (<usize>k << 3));
      sumZ -= load<f64>(B + o) * load<f64>(z + (<usize>k << 3));
    }
    const diagonal = <usize>i * stride + at;
    store<f64>(x + at, sumX / load<f64>(A + diagonal));
    store<f64>(z + at, sumZ / load<f64>(B + diagonal));
  }
}

@inline function dot64(a: usize, b: usize, n: i32): f64 {
  let acc = f64x2.splat(0);
  const vectorEnd = n & ~1;
  let k = 0;
  for (; k < vectorEnd; k += 2) {
    acc = f64x2.add(acc, f64x2.mul(v128.load(a + (<usize>k << 3)), v128.load(b + (<usize>k << 3))));
  }
  let sum = f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1);
  if (k < n) sum += load<f64>(a + (<usize>k << 3)) * load<f64>(b + (<usize>k << 3));
  return sum;
}

/** Observed pairs whose Y rows exactRows gathers at a time (two copies of 64 rows of 64 floats fit L1). */
const EXACT_CHUNK = 64;

/**
 * A32 (stride fr) += Σ over the m gathered pairs of Z[p]ᵀ G[p], lower triangle by tiles of 4 rows
 * × 8 columns (the diagonal tiles also compute a few upper entries, never read). The tile's 8
 * sums stay in registers over all m pairs, where a row-by-row update loads and stores every
 * entry per pair. G: the pairs' Y rows, Z: the same scaled by c − 1, both with stride fr (the
 * pad zero). Each entry is still acc + (extra·y[a])·y[b], added pair after pair in order, so
 * the sums are those of the row-by-row update, bit for bit.
 */
function rankUpdate(A32: usize, fr: i32, f: i32, G: usize, Z: usize, m: i32): void {
  const rowBytes = <usize>fr << 2;
  for (let a0 = 0; a0 < f; a0 += 4) {
    const last = min(a0 + 3, f - 1);
    for (let b0 = 0; b0 <= last; b0 += 8) {
      const at = A32 + <usize>a0 * rowBytes + (<usize>b0 << 2);
      if (b0 + 4 > last) {
        // a diagonal tile whose right half is all above the diagonal: 4 × 4
        let s0 = v128.load(at);
        let s1 = v128.load(at + rowBytes);
        let s2 = v128.load(at + 2 * rowBytes);
        let s3 = v128.load(at + 3 * rowBytes);
        let g = G + (<usize>b0 << 2);
        let z = Z + (<usize>a0 << 2);
        for (let p = 0; p < m; p++) {
          const y0 = v128.load(g);
          s0 = madd(s0, v128.load32_splat(z), y0);
          s1 = madd(s1, v128.load32_splat(z, 4), y0);
          s2 = madd(s2, v128.load32_splat(z, 8), y0);
          s3 = madd(s3, v128.load32_splat(z, 12), y0);
          g += rowBytes;
          z += rowBytes;
        }
        v128.store(at, s0);
        v128.store(at + rowBytes, s1);
        v128.store(at + 2 * rowBytes, s2);
        v128.store(at + 3 * rowBytes, s3);
        break;
      }
      let s00 = v128.load(at);
      let s01 = v128.load(at, 16);
      let s10 = v128.load(at + rowBytes);
      let s11 = v128.load(at + rowBytes, 16);
      let s20 = v128.load(at + 2 * rowBytes);
      let s21 = v128.load(at + 2 * rowBytes, 16);
      let s30 = v128.load(at + 3 * rowBytes);
      let s31 = v128.load(at + 3 * rowBytes, 16);
      let g = G + (<usize>b0 << 2);
      let z = Z + (<usize>a0 << 2);
      for (let p = 0; p < m; p++) {
        const y0 = v128.load(g);
        const y1 = v128.load(g, 16);
        let w = v128.load32_splat(z);
        s00 = madd(s00, w, y0);
        s01 = madd(s01, w, y1);
        w = v128.load32_splat(z, 4);
        s10 = madd(s10, w, y0);
        s11 = madd(s11, w, y1);
        w = v128.load32_splat(z, 8);
        s20 = madd(s20, w, y0);
        s21 = madd(s21, w, y1);
        w = v128.load32_splat(z, 12);
        s30 = madd(s30, w, y0);
        s31 = madd(s31, w, y1);
        g += rowBytes;
        z += rowBytes;
      }
      v128.store(at, s00);
      v128.store(at, s01, 16);
      v128.store(at + rowBytes, s10);
      v128.store(at + rowBytes, s11, 16);
      v128.store(at + 2 * rowBytes, s20);
      v128.store(at + 2 * rowBytes, s21, 16);
      v128.store(at + 3 * rowBytes, s30);
      v128.store(at + 3 * rowBytes, s31, 16);
    }
  }
}

/** The scratch bytes exactRows needs for f factors (WasmKernels.exactUpdate allocates them). */
export function exactScratchBytes(f: i32): usize {
  const fr = <usize>((f + 7) & ~7);
  const system = (<usize>(f + 1) * <usize>f * 8 + 15) & ~15;
  return fr * fr * 4 + 2 * system + ((<usize>f * 4 + 15) & ~15) + 2 * <usize>EXACT_CHUNK * fr * 4;
}

/** x = the float32 of the solution in A's row f */
@inline function storeSolution(A: usize, f: i32, x: usize): void {
  const solution = A + <usize>f * (<usize>f << 3);
  for (let a = 0; a < f; a++) store<f32>(x + (<usize>a << 2), <f32>load<f64>(solution + (<usize>a << 3)));
}

/**
 * Exact update of rows [start, end): x = (YᵀY + λI + Yᵀ(Cᵤ − I)Y)⁻¹ YᵀCᵤp(u). YtY is float64
 * (with λ). Rows whose system is not positive definite get NaN, for the caller to redo.
 * scratch: exactScratchBytes(f), 16-byte aligned. Yᵀ(Cᵤ − I)Y is summed in float32 (rankUpdate)
 * over the observed pairs, EXACT_CHUNK at a time, their Y rows gathered first; the system is
 * solved in float64 (choleskyFactor), the back substitutions of two rows at a time (one row's
 * waits on every add in turn). rowLambda != 0: float32 λᵤ per row added to the diagonal in
 * float64, and a row with no observed columns set to 0 (HalfStep.rowRegularization).
 */
export function exactRows(
  X: usize, Y: usize, f: i32, indptr: usize, indices: usize, confidence: usize,
  YtY: usize, start: i32, end: i32, scratch: usize, rowLambda: usize,
): void {
  const stride = <usize>f << 2;
  // A32, G and Z have rows of fr floats: a tile's 8 columns never run past a row
  const fr = (f + 7) & ~7;
  const rowBytes = <usize>fr << 2;
  const system = (<usize>(f + 1) * <usize>f * 8 + 15) & ~15;
  const A32 = scratch;
  // two systems of f + 1 rows (A, then b): one waiting for its back substitution, one being built
  let A = A32 + <usize>fr * rowBytes;
  let waiting = A + system;
  let waitingRow = -1;
  const b32 = waiting + system;
  const G = b32 + ((<usize>f * 4 + 15) & ~15);
  const Z = G + <usize>EXACT_CHUNK * rowBytes;
  // the pads of G and Z stay zero: only their first f floats are ever written
  memory.fill(G, 0, 2 * <usize>EXACT_CHUNK * rowBytes);
  for (let u = start; u < end; u++) {
    const from = load<i32>(indptr + (<usize>u << 2));
    const to = load<i32>(indptr + (<usize>(u + 1) << 2));
    if (rowLambda != 0 && from == to) {
      zero32(X + <usize>u * stride, f);
      continue;
    }
    zero32(A32, fr * fr);
    zero32(b32, f);
    for (let first = from; first < to; first += EXACT_CHUNK) {
      const m = min(EXACT_CHUNK, to - first);
      for (let p = 0; p < m; p++) {
        const n = first + p;
        const c = load<f32>(confidence + (<usize>n << 2));
        const y = Y + <usize>load<i32>(indices + (<usize>n << 2)) * stride;
        axpy(c, y, b32, f);
        const g = G + <usize>p * rowBytes;
        const z = Z + <usize>p * rowBytes;
        copy32(y, g, f);
        // z = (c − 1)·y, each float rounded as the scalar product extra·y[a]
        const extra = c - 1;
        const e4 = f32x4.splat(extra);
        const vectorEnd = f & ~3;
        let k = 0;
        for (; k < vectorEnd; k += 4) v128.store(z + (<usize>k << 2), f32x4.mul(e4, v128.load(y + (<usize>k << 2))));
        for (; k < f; k++) store<f32>(z + (<usize>k << 2), extra * load<f32>(y + (<usize>k << 2)));
      }
      rankUpdate(A32, fr, f, G, Z, m);
    }
    // A = YtY + A32 (lower triangle), two entries at a time; b in row f
    for (let a = 0; a < f; a++) {
      const row32 = A32 + <usize>a * rowBytes;
      const row64 = <usize>(a * f) << 3;
      const pairEnd = (a + 1) & ~1;
      let k = 0;
      for (; k < pairEnd; k += 2) {
        const o = row64 + (<usize>k << 3);
        const sum = f64x2.add(v128.load(YtY + o), f64x2.promote_low_f32x4(v128.load64_zero(row32 + (<usize>k << 2))));
        v128.store(A + o, sum);
      }
      if (k <= a) {
        const o = row64 + (<usize>k << 3);
        store<f64>(A + o, load<f64>(YtY + o) + <f64>load<f32>(row32 + (<usize>k << 2)));
      }
    }
    const b = A + <usize>f * (<usize>f << 3);
    for (let a = 0; a < f; a++) store<f64>(b + (<usize>a << 3), <f64>load<f32>(b32 + (<usize>a << 2)));
    if (rowLambda != 0) {
      const lambda = <f64>load<f32>(rowLambda + (<usize>u << 2));
      for (let a = 0; a < f; a++) {
        const at = A + ((<usize>(a * f + a)) << 3);
        store<f64>(at, load<f64>(at) + lambda);
      }
    }
    if (!choleskyFactor(A, f)) {
      const x = X + <usize>u * stride;
      for (let a = 0; a < f; a++) store<f32>(x + (<usize>a << 2), NaN);
    } else if (waitingRow < 0) {
      waitingRow = u;
      const built = A;
      A = waiting;
      waiting = built;
    } else {
      backSubstitute2(waiting, A, f);
      storeSolution(waiting, f, X + <usize>waitingRow * stride);
      storeSolution(A, f, X + <usize>u * stride);
      waitingRow = -1;
    }
  }
  if (waitingRow >= 0) {
    backSubstitute(waiting, f);
    storeSolution(waiting, f, X + <usize>waitingRow * stride);
  }
}

/** Σ over rows [start, end) of xᵀ(YᵀY)x + Σ_observed [c(1 − s)² − s²]; YtY without λ, float32. */
export function dataLoss(
  X: usize, Y: usize, f: i32, indptr: usize, indices: usize, confidence: usize,
  YtY: usize, start: i32, end: i32, scratch: usize,
): f64 {
  const stride = <usize>f << 2;
  let loss: f64 = 0;
  for (let u = start; u < end; u++) {
    const x = X + <usize>u * stride;
    symmetricProduct(YtY, x, scratch, f);
    loss += <f64>dot(x, scratch, f);
    const from = load<i32>(indptr + (<usize>u << 2));
    const to = load<i32>(indptr + (<usize>(u + 1) << 2));
    for (let n = from; n < to; n++) {
      const c = <f64>load<f32>(confidence + (<usize>n << 2));
      const s = <f64>dot(Y + <usize>load<i32>(indices + (<usize>n << 2)) * stride, x, f);
      loss += c * (1 - s) * (1 - s) - s * s;
    }
  }
  return loss;
}

/** out[j] = Y[j] · x for rows [start, end) of Y. */
export function scores(Y: usize, f: i32, x: usize, out: usize, start: i32, end: i32): void {
  const stride = <usize>f << 2;
  for (let j = start; j < end; j++) store<f32>(out + (<usize>j << 2), dot(Y + <usize>j * stride, x, f));
}

/**
 * out[q · outStride + j] = Y[j] · Q[q] for rows [start, end) of Y and the nq rows of Q: each
 * Y row is read from memory once for all nq queries (they stay in cache), and every number is
 * dot's, bit for bit the one `scores` gives for that query alone. With f a multiple of 16,
 * rows go two at a time against four queries at a time (scoreTile): 6 loads feed 8 products
 * where dot needs 16, and the pass was bound by loads.
 */
export function scoresBlock(Y: usize, f: i32, Q: usize, nq: i32, out: usize, outStride: i32, start: i32, end: i32): void {
  const stride = <usize>f << 2;
  const outRow = <usize>outStride << 2;
  let j = start;
  if ((f & 15) == 0 && nq >= 4) {
    for (; j + 1 < end; j += 2) {
      const y = Y + <usize>j * stride;
      let o = out + (<usize>j << 2);
      let x = Q;
      let q = 0;
      for (; q + 3 < nq; q += 4) {
        scoreTile(y, y + stride, x, stride, o, outRow);
        o += outRow << 2;
        x += stride << 2;
      }
      for (; q < nq; q++) {
        store<f32>(o, dot(y, x, f));
        store<f32>(o + 4, dot(y + stride, x, f));
        o += outRow;
        x += stride;
      }
    }
  }
  for (; j < end; j++) {
    const y = Y + <usize>j * stride;
    let o = out + (<usize>j << 2);
    let x = Q;
    for (let q = 0; q < nq; q++) {
      store<f32>(o, dot(y, x, f));
      o += outRow;
      x += stride;
    }
  }
}

// The partial sums of scoreTile between its passes. Globals are per instance, and each thread
// has its own instance, so they are thread-local; 16 of them would not fit in registers anyway.
let t01_0: v128 = f32x4.splat(0);
let t01_1: v128 = f32x4.splat(0);
let t01_2: v128 = f32x4.splat(0);
let t01_3: v128 = f32x4.splat(0);
let t01_4: v128 = f32x4.splat(0);
let t01_5: v128 = f32x4.splat(0);
let t01_6: v128 = f32x4.splat(0);
let t01_7: v128 = f32x4.splat(0);
let t23_0: v128 = f32x4.splat(0);
let t23_1: v128 = f32x4.splat(0);
let t23_2: v128 = f32x4.splat(0);
let t23_3: v128 = f32x4.splat(0);
let t23_4: v128 = f32x4.splat(0);
let t23_5: v128 = f32x4.splat(0);
let t23_6: v128 = f32x4.splat(0);
let t23_7: v128 = f32x4.splat(0);

/**
 * Two rows y0, y1 (y1 = y0 + stride) against four queries x .. x + 3·stride, f = stride / 4 a
 * multiple of 16. dot keeps four partial sums, of the floats 16i + 4s .. 16i + 4s + 3 for
 * s = 0..3, and adds them as (s0 + s1) + (s2 + s3); each pass here computes one s for all 8
 * numbers, in dot's order, so every number is dot's bit for bit.
 */
@inline function scoreTile(y0: usize, y1: usize, x: usize, stride: usize, o: usize, outRow: usize): void {
  scorePass(y0, y1, x, stride, 0);
  scorePass(y0, y1, x, stride, 16);
  scorePass(y0, y1, x, stride, 32);
  scorePass(y0, y1, x, stride, 48);
  store<f32>(o, lanes(f32x4.add(t01_0, t23_0)));
  store<f32>(o + 4, lanes(f32x4.add(t01_1, t23_1)));
  store<f32>(o + outRow, lanes(f32x4.add(t01_2, t23_2)));
  store<f32>(o + 4 + outRow, lanes(f32x4.add(t01_3, t23_3)));
  store<f32>(o + 2 * outRow, lanes(f32x4.add(t01_4, t23_4)));
  store<f32>(o + 4 + 2 * outRow, lanes(f32x4.add(t01_5, t23_5)));
  store<f32>(o + 3 * outRow, lanes(f32x4.add(t01_6, t23_6)));
  store<f32>(o + 4 + 3 * outRow, lanes(f32x4.add(t01_7, t23_7)));
}

/** One of scoreTile's passes: partial sum s = offset / 16 of its 8 numbers, into t01 (s = 0, 1) or t23 (s = 2, 3). */
@inline function scorePass(y0: usize, y1: usize, x: usize, stride: usize, offset: usize): void {
  let a0 = f32x4.splat(0);
  let a1 = f32x4.splat(0);
  let a2 = f32x4.splat(0);
  let a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0);
  let a5 = f32x4.splat(0);
  let a6 = f32x4.splat(0);
  let a7 = f32x4.splat(0);
  const x1 = x + stride;
  const x2 = x1 + stride;
  const x3 = x2 + stride;
  for (let k = offset; k < stride; k += 64) {
    const v0 = v128.load(y0 + k);
    const v1 = v128.load(y1 + k);
    let w = v128.load(x + k);
    a0 = madd(a0, v0, w);
    a1 = madd(a1, v1, w);
    w = v128.load(x1 + k);
    a2 = madd(a2, v0, w);
    a3 = madd(a3, v1, w);
    w = v128.load(x2 + k);
    a4 = madd(a4, v0, w);
    a5 = madd(a5, v1, w);
    w = v128.load(x3 + k);
    a6 = madd(a6, v0, w);
    a7 = madd(a7, v1, w);
  }
  if (offset == 0) {
    t01_0 = a0;
    t01_1 = a1;
    t01_2 = a2;
    t01_3 = a3;
    t01_4 = a4;
    t01_5 = a5;
    t01_6 = a6;
    t01_7 = a7;
  } else if (offset == 16) {
    t01_0 = f32x4.add(t01_0, a0);
    t01_1 = f32x4.add(t01_1, a1);
    t01_2 = f32x4.add(t01_2, a2);
    t01_3 = f32x4.add(t01_3, a3);
    t01_4 = f32x4.add(t01_4, a4);
    t01_5 = f32x4.add(t01_5, a5);
    t01_6 = f32x4.add(t01_6, a6);
    t01_7 = f32x4.add(t01_7, a7);
  } else if (offset == 32) {
    t23_0 = a0;
    t23_1 = a1;
    t23_2 = a2;
    t23_3 = a3;
    t23_4 = a4;
    t23_5 = a5;
    t23_6 = a6;
    t23_7 = a7;
  } else {
    t23_0 = f32x4.add(t23_0, a0);
    t23_1 = f32x4.add(t23_1, a1);
    t23_2 = f32x4.add(t23_2, a2);
    t23_3 = f32x4.add(t23_3, a3);
    t23_4 = f32x4.add(t23_4, a4);
    t23_5 = f32x4.add(t23_5, a5);
    t23_6 = f32x4.add(t23_6, a6);
    t23_7 = f32x4.add(t23_7, a7);
  }
}

/** out[j] = ‖Y[j]‖ for rows [start, end) of Y. */
export function rowNorms(Y: usize, f: i32, out: usize, start: i32, end: i32): void {
  const stride = <usize>f << 2;
  for (let j = start; j < end; j++) {
    const y = Y + <usize>j * stride;
    store<f32>(out + (<usize>j << 2), <f32>Math.sqrt(<f64>dot(y, y, f)));
  }
}

// "a ranks below b": a lower score, or the same score and a higher index
@inline function below(scores: usize, a: i32, b: i32): bool {
  const sa = load<f32>(scores + (<usize>a << 2));
  const sb = load<f32>(scores + (<usize>b << 2));
  return sa < sb || (sa == sb && a > b);
}

function siftDown(heap: usize, scores: usize, at: i32, size: i32): void {
  for (;;) {
    const left = 2 * at + 1;
    if (left >= size) return;
    const right = left + 1;
    let child = left;
    if (right < size && below(scores, load<i32>(heap + (<usize>right << 2)), load<i32>(heap + (<usize>left << 2)))) child = right;
    const c = load<i32>(heap + (<usize>child << 2));
    const here = load<i32>(heap + (<usize>at << 2));
    if (!below(scores, c, here)) return;
    store<i32>(heap + (<usize>at << 2), c);
    store<i32>(heap + (<usize>child << 2), here);
    at = child;
  }
}

/**
 * The indices of the k largest of n scores, best first, into out (k int32s); entries with
 * skip[i] != 0 (skip may be 0 for none) and NaN scores are passed over. Returns how many.
 * A size-k min-heap, then heap-sorted in place.
 */
export function topK(scores: usize, n: i32, k: i32, skip: usize, out: usize): i32 {
  let size = 0;
  for (let i = 0; i < n; i++) {
    if (skip != 0 && load<u8>(skip + <usize>i) != 0) continue;
    const s = load<f32>(scores + (<usize>i << 2));
    if (s != s) continue;
    if (size < k) {
      size = heapPush(out, scores, size, i);
    } else if (size > 0 && below(scores, load<i32>(out), i)) {
      store<i32>(out, i);
      siftDown(out, scores, 0, size);
    }
  }
  // the worst goes to the end, one at a time: best first
  for (let end = size - 1; end > 0; end--) {
    const worst = load<i32>(out);
    store<i32>(out, load<i32>(out + (<usize>end << 2)));
    store<i32>(out + (<usize>end << 2), worst);
    siftDown(out, scores, 0, end);
  }
  return size;
}

/** Adds index i to the min-heap of `size` indices at out (worst on top); returns the new size. */
@inline function heapPush(out: usize, scores: usize, size: i32, i: i32): i32 {
  let at = size;
  store<i32>(out + (<usize>at << 2), i);
  while (at > 0) {
    const parent = (at - 1) >> 1;
    const p = load<i32>(out + (<usize>parent << 2));
    if (!below(scores, i, p)) break;
    store<i32>(out + (<usize>at << 2), p);
    store<i32>(out + (<usize>parent << 2), i);
    at = parent;
  }
  return size + 1;
}

/** Puts index i in place of the full heap's worst; returns the new worst score. */
@inline function heapReplace(out: usize, scores: usize, size: i32, i: i32): f32 {
  store<i32>(out, i);
  siftDown(out, scores, 0, size);
  return load<f32>(scores + (<usize>load<i32>(out) << 2));
}

/**
 * One query's selection over its n scores: with norms != 0, each score first becomes the
 * cosine s / (queryNorm · norms[j]) in place (0 where that product is 0), in float64 then
 * rounded, as the TypeScript query does; then the k best into out as topK gives them (entries
 * with skip[i] != 0 and NaN passed over), and the smallest and largest of those same entries
 * into range[0], range[1] (+∞ and −∞ when none). Returns how many were found.
 */
/**
 * scores[j] = scores[j] / (queryNorm · norms[j]) in float64, rounded to float32 (0 where the
 * product is not > 0). Two lanes of float64 at a time: the division is most of the cost, and
 * each lane is the same IEEE operations as one at a time, so the numbers are the same.
 */
@inline function cosines(scores: usize, n: i32, norms: usize, queryNorm: f32): void {
  const own = <f64>queryNorm;
  const owns = f64x2.splat(own);
  const zero = f64x2.splat(0);
  const vectorEnd = n & ~1;
  let j = 0;
  for (; j < vectorEnd; j += 2) {
    const at = scores + (<usize>j << 2);
    const denominator = f64x2.mul(owns, f64x2.promote_low_f32x4(v128.load64_zero(norms + (<usize>j << 2))));
    const cosine = f64x2.div(f64x2.promote_low_f32x4(v128.load64_zero(at)), denominator);
    // lanes whose denominator is not > 0 (0 or NaN) give 0, as the scalar loop below
    const kept = v128.and(cosine, f64x2.gt(denominator, zero));
    v128.store64_lane(at, f32x4.demote_f64x2_zero(kept), 0);
  }
  for (; j < n; j++) {
    const at = scores + (<usize>j << 2);
    const denominator = own * <f64>load<f32>(norms + (<usize>j << 2));
    store<f32>(at, denominator > 0 ? <f32>(<f64>load<f32>(at) / denominator) : 0);
  }
}

export function selectRow(scores: usize, n: i32, k: i32, skip: usize, norms: usize, queryNorm: f32, out: usize, range: usize): i32 {
  if (norms != 0) cosines(scores, n, norms, queryNorm);
  let low = <f32>Infinity;
  let high = <f32>-Infinity;
  let size = 0;
  let i = 0;
  // one by one until the heap holds k
  for (; i < n && size < k; i++) {
    if (load<u8>(skip + <usize>i) != 0) continue;
    const s = load<f32>(scores + (<usize>i << 2));
    if (s < low) low = s;
    if (s > high) high = s;
    if (s == s) size = heapPush(out, scores, size, i);
  }
  // the heap's worst score: a later index ranks below an equal score, so only a strictly
  // larger score can enter the full heap (and NaN fails every comparison)
  let threshold = size == k && k > 0 ? load<f32>(scores + (<usize>load<i32>(out) << 2)) : <f32>Infinity;
  // then four at a time: each lane keeps its own smallest and largest (pmin and pmax pass over
  // NaN like the comparisons above); only four holding a skipped entry or a score above the
  // threshold, rare once the heap holds good scores, go one by one
  let lows = f32x4.splat(low);
  let highs = f32x4.splat(high);
  const vectorEnd = i + ((n - i) & ~3);
  for (; i < vectorEnd; i += 4) {
    const v = v128.load(scores + (<usize>i << 2));
    const clear = load<u32>(skip + <usize>i) == 0;
    if (clear) {
      lows = f32x4.pmin(lows, v);
      highs = f32x4.pmax(highs, v);
      if (!v128.any_true(f32x4.gt(v, f32x4.splat(threshold)))) continue;
    }
    for (let j = i; j < i + 4; j++) {
      if (load<u8>(skip + <usize>j) != 0) continue;
      const s = load<f32>(scores + (<usize>j << 2));
      if (!clear) {
        if (s < low) low = s;
        if (s > high) high = s;
      }
      if (s > threshold) threshold = heapReplace(out, scores, size, j);
    }
  }
  for (; i < n; i++) {
    if (load<u8>(skip + <usize>i) != 0) continue;
    const s = load<f32>(scores + (<usize>i << 2));
    if (s < low) low = s;
    if (s > high) high = s;
    if (s > threshold) threshold = heapReplace(out, scores, size, i);
  }
  for (let lane = 0; lane < 4; lane++) {
    const l = f32x4.extract_lane(lows, 0);
    const h = f32x4.extract_lane(highs, 0);
    if (l < low) low = l;
    if (h > high) high = h;
    lows = v128.shuffle<f32>(lows, lows, 1, 2, 3, 0);
    highs = v128.shuffle<f32>(highs, highs, 1, 2, 3, 0);
  }
  for (let end = size - 1; end > 0; end--) {
    const worst = load<i32>(out);
    store<i32>(out, load<i32>(out + (<usize>end << 2)));
    store<i32>(out + (<usize>end << 2), worst);
    siftDown(out, scores, 0, end);
  }
  store<f32>(range, low);
  store<f32>(range, high, 4);
  return size;
}

/**
 * selectRow for query rows [start, end) of a block of score rows (row q at scores + q·n):
 * row q leaves out the indices exclude[excludeStart[q] .. excludeStart[q + 1]) (ones outside
 * 0..n − 1 are ignored), marked in `skip` (n bytes of scratch); its found[q] best go to
 * best + q·k and its range to range + 2q. norms = 0: no cosine step (queryNorms unused).
 */
export function selectRows(
  scores: usize, n: i32, k: i32, excludeStart: usize, exclude: usize, norms: usize, queryNorms: usize,
  best: usize, found: usize, range: usize, start: i32, end: i32, skip: usize,
): void {
  for (let q = start; q < end; q++) {
    memory.fill(skip, 0, <usize>n);
    const from = load<i32>(excludeStart + (<usize>q << 2));
    const to = load<i32>(excludeStart + (<usize>(q + 1) << 2));
    for (let e = from; e < to; e++) {
      const i = load<i32>(exclude + (<usize>e << 2));
      if (<u32>i < <u32>n) store<u8>(skip + <usize>i, 1);
    }
    const queryNorm = norms != 0 ? load<f32>(queryNorms + (<usize>q << 2)) : <f32>0;
    const row = scores + ((<usize>q * <usize>n) << 2);
    const count = selectRow(row, n, k, skip, norms, queryNorm, best + ((<usize>q * <usize>k) << 2), range + (<usize>q << 3));
    store<i32>(found + (<usize>q << 2), count);
  }
}

// --- cosine top-k through an int8 copy of the rows (src/kernels/quantize.ts) ------------------
//
// Each row j is kept as codes cⱼ (int8, |c| ≤ 127, `f` rounded up to 4 bytes, zero padded, four
// rows interleaved) with scale sⱼ, so that sⱼcⱼ is within eⱼ of yⱼ/‖yⱼ‖; a query as codes 64 + dₖ
// (1..127, |d| ≤ 63) with scale t. sⱼ t (cⱼ · d) (approxProducts, below) is then within a bound b
// of the cosine the float kernels compute (see quantize.ts), and only the rows whose approximate
// score lies within 2b of the k-th best or of the smallest are scored exactly, by dot and the
// cosine step of selectRow: the same numbers, so the same top k and range.

/** Rows of a block of approximate scores whose extremes approxProducts notes (see listCandidates). */
const EXTREME_ROWS = 64;

/**
 * Row j's cosine as selectRow computes it (dot, divided in float64 by the product of the
 * norms, 0 where that is not > 0), stored at row[j] and returned.
 */
@inline function exactCosine(row: usize, j: i32, Y: usize, stride: usize, x: usize, f: i32, norms: usize, queryNorm: f32): f32 {
  const denominator = <f64>queryNorm * <f64>load<f32>(norms + (<usize>j << 2));
  const s = denominator > 0 ? <f32>(<f64>dot(Y + <usize>j * stride, x, f) / denominator) : <f32>0;
  store<f32>(row + (<usize>j << 2), s);
  return s;
}

/** "candidate a comes after b": a lower approximate score (NaN counts as +∞), or the same and a higher row */
@inline function after(row: usize, a: i32, b: i32): bool {
  let sa = load<f32>(row + (<usize>a << 2));
  let sb = load<f32>(row + (<usize>b << 2));
  if (sa != sa) sa = Infinity;
  if (sb != sb) sb = Infinity;
  return sa < sb || (sa == sb && a > b);
}

function siftCandidates(list: usize, row: usize, at: i32, size: i32): void {
  for (;;) {
    const left = 2 * at + 1;
    if (left >= size) return;
    let child = left;
    if (left + 1 < size && after(row, load<i32>(list + (<usize>(left + 1) << 2)), load<i32>(list + (<usize>left << 2)))) child = left + 1;
    const c = load<i32>(list + (<usize>child << 2));
    const here = load<i32>(list + (<usize>at << 2));
    // a heap with the row that comes last on top
    if (!after(row, c, here)) return;
    store<i32>(list + (<usize>at << 2), c);
    store<i32>(list + (<usize>child << 2), here);
    at = child;
  }
}

/** Sorts the n row indices at list by approximate score, best first (heapsort: no scratch). */
function sortCandidates(list: usize, n: i32, row: usize): void {
  for (let at = (n >> 1) - 1; at >= 0; at--) siftCandidates(list, row, at, n);
  for (let end = n - 1; end > 0; end--) {
    const last = load<i32>(list);
    store<i32>(list, load<i32>(list + (<usize>end << 2)));
    store<i32>(list + (<usize>end << 2), last);
    siftCandidates(list, row, 0, end);
  }
}

/** The smallest lane of v (NaN lanes passed over, +∞ when all are). */
@inline function smallest(v: v128): f32 {
  let low = <f32>Infinity;
  const l0 = f32x4.extract_lane(v, 0);
  const l1 = f32x4.extract_lane(v, 1);
  const l2 = f32x4.extract_lane(v, 2);
  const l3 = f32x4.extract_lane(v, 3);
  if (l0 < low) low = l0;
  if (l1 < low) low = l1;
  if (l2 < low) low = l2;
  if (l3 < low) low = l3;
  return low;
}

/**
 * The r-th largest of `count` numbers sign · value, value at values + 8i + offset (NaN passed
 * over), or NaN when fewer than r are numbers. heap: r float32s of scratch (a min-heap).
 */
function rthLargest(values: usize, offset: usize, count: i32, r: i32, sign: f32, heap: usize): f32 {
  let size = 0;
  for (let i = 0; i < count; i++) {
    const v = sign * load<f32>(values + (<usize>i << 3) + offset);
    if (v != v) continue;
    if (size < r) floatHeapAdd(heap, size++, v);
    else if (v > load<f32>(heap)) floatHeapReplace(heap, r, v);
  }
  return size < r ? <f32>NaN : load<f32>(heap);
}

/** Most rows a query leaves out for which the block extremes are still used to pass over blocks. */
const EXTREMES_UP_TO = 256;

/**
 * refineRow's candidates in one pass over a row of approximate scores: the rows not skipped
 * whose score is neither below A − 2b nor above m + 2b, A the k-th largest score and m the
 * smallest (NaN passed over in both), listed at `candidates` in row order. While passing, A and
 * m are those of the rows seen so far: A only grows and m only shrinks, so every row that passes
 * at the end passed when seen, and the list is filtered once more at the end. `heap`: k int32s of
 * scratch. Returns how many, or cap + 1 when more than cap rows would be listed.
 *
 * Blocks of EXTREME_ROWS rows are passed over by their extremes (approxProducts; 0: none) and
 * `highest` = A', `least` = m' (refineRow finds them; NaN: none passed over). Of the k + excluded
 * blocks with the largest maxima, `excluded` skipped rows counted in, at least k have their
 * largest score on a row that is not skipped, so A ≥ A' = the (k + excluded)-th largest maximum;
 * likewise m ≤ m' = the (excluded + 1)-th smallest minimum. A block whose largest score is below
 * A' − 2b and whose smallest is above m' + 2b holds no row that can be listed (nor the k best,
 * nor the smallest), and none that is NaN.
 */
function listCandidates(
  row: usize, n: i32, k: i32, skip: usize, bound: f32, heap: usize, candidates: usize, cap: i32,
  extremes: usize, highest: f32, least: f32,
): i32 {
  const twice: f32 = bound + bound;
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  // no block is passed over unless both thresholds are numbers
  const known = highest == highest && least == least;
  const highCut = known ? highest - twice : <f32>-Infinity;
  const lowCut = known ? least + twice : <f32>Infinity;
  // the smallest score, as known before the pass: m' or +∞
  const lowest = known ? least : <f32>Infinity;
  let size = 0;
  let kth = <f32>-Infinity;
  // A' − 2b ≤ A − 2b and m' + 2b ≥ m + 2b from the start, not only as blocks are passed over:
  // inside the blocks left, rows between them go by in vectors without touching the heap (else
  // every row did until k rows were seen and the smallest settled: most of this pass's time)
  let lows = f32x4.splat(lowest);
  let top = f32x4.splat(highCut);
  const margin = f32x4.splat(twice);
  const none = f32x4.splat(Infinity);
  let listed = 0;
  const vectorEnd = n & ~3;
  for (let block = 0; block < blocks; block++) {
    const from = block * EXTREME_ROWS;
    if (extremes != 0) {
      const at = extremes + (<usize>block << 3);
      if (load<f32>(at) < highCut && load<f32>(at, 4) > lowCut) continue;
    }
    const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
    for (let i = from; i < to; i += 4) {
      if (i < vectorEnd && load<u32>(skip + <usize>i) == 0) {
        // the common case: four rows, none skipped
        const v = v128.load(row + (<usize>i << 2));
        lows = f32x4.pmin(lows, v);
        // neither near the top nor near the bottom (false for NaN)
        if (i32x4.all_true(v128.and(f32x4.lt(v, top), f32x4.gt(v, f32x4.add(lows, margin))))) continue;
      } else {
        let skipped: v128;
        let v: v128;
        if (i < vectorEnd) {
          v = v128.load(row + (<usize>i << 2));
          skipped = i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(skip + <usize>i))), i32x4.splat(0));
        } else {
          // the last n % 4 rows: lanes past the end count as skipped
          v = f32x4.splat(0);
          skipped = i32x4.splat(-1);
          for (let j = i; j < n; j++) {
            const lane = j - i;
            const value = load<f32>(row + (<usize>j << 2));
            const out = load<u8>(skip + <usize>j) != 0 ? -1 : 0;
            if (lane == 0) { v = f32x4.replace_lane(v, 0, value); skipped = i32x4.replace_lane(skipped, 0, out); }
            if (lane == 1) { v = f32x4.replace_lane(v, 1, value); skipped = i32x4.replace_lane(skipped, 1, out); }
            if (lane == 2) { v = f32x4.replace_lane(v, 2, value); skipped = i32x4.replace_lane(skipped, 2, out); }
          }
        }
        // skipped lanes as +∞ for the smallest (pmin passes over NaN)
        lows = f32x4.pmin(lows, v128.bitselect(none, v, skipped));
        const quiet = v128.and(f32x4.lt(v, top), f32x4.gt(v, f32x4.add(lows, margin)));
        if (!v128.any_true(v128.andnot(v128.not(quiet), skipped))) continue;
      }
      const end = i + 4 < n ? i + 4 : n;
      for (let j = i; j < end; j++) {
        if (load<u8>(skip + <usize>j) != 0) continue;
        const value = load<f32>(row + (<usize>j << 2));
        if (value == value) {
          if (size < k) {
            size = heapPush(heap, row, size, j);
            if (size == k) kth = load<f32>(row + (<usize>load<i32>(heap) << 2));
          } else if (value > kth) kth = heapReplace(heap, row, size, j);
        }
        const topCut = kth - twice > highCut ? kth - twice : highCut;
        if (!(value < topCut && value > smallest(lows) + twice)) {
          if (listed == cap) {
            listed = keepCandidates(row, candidates, listed, kth - twice, smallest(lows) + twice);
            if (listed > cap >> 1) return cap + 1;
          }
          store<i32>(candidates + (<usize>listed << 2), j);
          listed++;
        }
      }
      top = f32x4.splat(kth - twice > highCut ? kth - twice : highCut);
    }
  }
  return keepCandidates(row, candidates, listed, kth - twice, smallest(lows) + twice);
}

/** Keeps the listed rows whose score is not below `top` nor above `bottom` (NaN kept), in order; returns how many. */
function keepCandidates(row: usize, candidates: usize, listed: i32, top: f32, bottom: f32): i32 {
  let kept = 0;
  for (let c = 0; c < listed; c++) {
    const j = load<i32>(candidates + (<usize>c << 2));
    const value = load<f32>(row + (<usize>j << 2));
    if (!(value < top && value > bottom)) {
      store<i32>(candidates + (<usize>kept << 2), j);
      kept++;
    }
  }
  return kept;
}

/**
 * refineRow's candidates from the block extremes alone (approxProducts): with cuts that no row
 * among the k best lies below and no row holding the smallest lies above (refineRow's: A' − 2b
 * and m' + 2b, see listCandidates: A ≥ A' and m ≤ m', or tighter ones from exact scores), every row
 * not skipped whose approximate score is not below `highCut` nor above `lowCut`, NaN included,
 * listed at `candidates` in row order: a superset of listCandidates' list, found with two
 * comparisons per four rows and no heap (its running thresholds cost most of the refining pass
 * before). Returns how many, or cap + 1 when more than cap.
 */
function listOpenRows(
  row: usize, n: i32, skip: usize, candidates: usize, cap: i32, extremes: usize, highCut: f32, lowCut: f32,
): i32 {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  const high = f32x4.splat(highCut);
  const low = f32x4.splat(lowCut);
  let listed = 0;
  for (let block = 0; block < blocks; block++) {
    const at = extremes + (<usize>block << 3);
    // a block with a NaN score has NaN extremes: never passed over
    if (load<f32>(at) < highCut && load<f32>(at, 4) > lowCut) continue;
    const from = block * EXTREME_ROWS;
    const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const v = v128.load(row + (<usize>i << 2));
      // between the cuts (false for NaN): not listed
      if (i32x4.all_true(v128.and(f32x4.lt(v, high), f32x4.gt(v, low)))) continue;
      for (let j = i; j < i + 4; j++) {
        const value = load<f32>(row + (<usize>j << 2));
        if (load<u8>(skip + <usize>j) != 0 || (value < highCut && value > lowCut)) continue;
        if (listed == cap) return cap + 1;
        store<i32>(candidates + (<usize>listed << 2), j);
        listed++;
      }
    }
    for (; i < to; i++) {
      const value = load<f32>(row + (<usize>i << 2));
      if (load<u8>(skip + <usize>i) != 0 || (value < highCut && value > lowCut)) continue;
      if (listed == cap) return cap + 1;
      store<i32>(candidates + (<usize>listed << 2), i);
      listed++;
    }
  }
  return listed;
}

/**
 * refineRow's answer from listOpenRows' list: every listed row scored exactly in place, the k
 * best by exact score (ties to the lower row, as selectRow) into out, best first, and the
 * smallest and largest exact score into range. The list holds every row that can be among the
 * k best or the smallest (see listCandidates), so this is selectRow's answer over the whole row.
 */
function scoreOpenRows(
  row: usize, k: i32, Y: usize, stride: usize, x: usize, f: i32, norms: usize, queryNorm: f32, out: usize,
  range: usize, candidates: usize, listed: i32,
): i32 {
  let low = <f32>Infinity;
  let size = 0;
  for (let c = 0; c < listed; c++) {
    const j = load<i32>(candidates + (<usize>c << 2));
    const s = exactCosine(row, j, Y, stride, x, f, norms, queryNorm);
    if (s < low) low = s;
    if (s != s) continue;
    if (size < k) size = heapPush(out, row, size, j);
    else if (below(row, load<i32>(out), j)) heapReplace(out, row, size, j);
  }
  return finishSelection(row, out, size, low, range);
}

/** The heap of `size` best at out sorted best first; range gets `low` and the best score (−∞ when none). Returns size. */
function finishSelection(row: usize, out: usize, size: i32, low: f32, range: usize): i32 {
  for (let end = size - 1; end > 0; end--) {
    const worst = load<i32>(out);
    store<i32>(out, load<i32>(out + (<usize>end << 2)));
    store<i32>(out + (<usize>end << 2), worst);
    siftDown(out, row, 0, end);
  }
  // the largest is the best
  const high = size > 0 ? load<f32>(row + (<usize>load<i32>(out) << 2)) : <f32>-Infinity;
  store<f32>(range, low);
  store<f32>(range, high, 4);
  return size;
}

/** Row j's cosine as exactCosine computes it, not stored. */
@inline function cosineOf(j: i32, Y: usize, stride: usize, x: usize, f: i32, norms: usize, queryNorm: f32): f32 {
  const denominator = <f64>queryNorm * <f64>load<f32>(norms + (<usize>j << 2));
  return denominator > 0 ? <f32>(<f64>dot(Y + <usize>j * stride, x, f) / denominator) : <f32>0;
}

/**
 * The first row of block b holding the approximate score `value` (the block's extreme), or
 * the block's extreme row by extremeRow (sign) when that row is skipped or none is found.
 */
function rowHolding(row: usize, n: i32, skip: usize, b: i32, value: f32, sign: f32): i32 {
  const from = b * EXTREME_ROWS;
  const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
  const target = f32x4.splat(value);
  let i = from;
  let j = -1;
  for (; i + 4 <= to; i += 4) {
    const lanes = i32x4.bitmask(f32x4.eq(v128.load(row + (<usize>i << 2)), target));
    if (lanes == 0) continue;
    j = i + ctz(lanes);
    break;
  }
  for (; j < 0 && i < to; i++) if (load<f32>(row + (<usize>i << 2)) == value) j = i;
  return j >= 0 && load<u8>(skip + <usize>j) == 0 ? j : extremeRow(row, n, skip, 0, b, sign);
}

/**
 * Puts block b of value v into the list of the `want` largest values so far (descending, each
 * block beside its value) if it belongs there (ties: the block met first stays ahead); returns
 * the list's new length.
 */
@inline function keepLargest(values: usize, blocks: usize, size: i32, want: i32, v: f32, b: i32): i32 {
  if (size == want && !(v > load<f32>(values + (<usize>(want - 1) << 2)))) return size;
  let at = size < want ? size++ : want - 1;
  while (at > 0 && v > load<f32>(values + (<usize>(at - 1) << 2))) {
    store<f32>(values + (<usize>at << 2), load<f32>(values + (<usize>(at - 1) << 2)));
    store<i32>(blocks + (<usize>at << 2), load<i32>(blocks + (<usize>(at - 1) << 2)));
    at--;
  }
  store<f32>(values + (<usize>at << 2), v);
  store<i32>(blocks + (<usize>at << 2), b);
  return size;
}

// seedCuts' answers (one instance a thread)
let seedHigh: f32 = 0;
let seedLow: f32 = 0;

/** Most k + excluded for which seedCuts keeps the blocks with the largest maxima (in order, by insertion). */
const SEEDED_BLOCKS_UP_TO = 16;

/**
 * refineRow's two cuts (seedHigh, seedLow), from the block extremes in one pass: A' − 2b and
 * m' + 2b as listCandidates takes them (A' the (k + excluded)-th largest block maximum, m' the
 * (excluded + 1)-th smallest minimum), or tighter ones from exact scores: K − b, with K the
 * k-th largest exact score of the best rows not skipped of the k + excluded blocks of the
 * largest maxima (at least k rows not skipped score K or more: a row below K − b scores below
 * them), and m + b, m the exact score of the lowest row not skipped of the block of the smallest
 * minimum (the smallest is at most m). False when an extreme is NaN or k + excluded is above
 * SEEDED_BLOCKS_UP_TO. `scratch`: 4 · SEEDED_BLOCKS_UP_TO int32s.
 */
function seedCuts(
  row: usize, n: i32, k: i32, excluded: i32, skip: usize, bound: f32, Y: usize, stride: usize, x: usize, f: i32,
  norms: usize, queryNorm: f32, extremes: usize, scratch: usize,
): bool {
  const want = k + excluded;
  const lows = excluded + 1;
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  if (want > SEEDED_BLOCKS_UP_TO || blocks < want) return false;
  const topBlocks = scratch;
  const topValues = scratch + (SEEDED_BLOCKS_UP_TO << 2);
  const lowBlocks = topValues + (SEEDED_BLOCKS_UP_TO << 2);
  const lowValues = lowBlocks + (SEEDED_BLOCKS_UP_TO << 2);
  // the largest maxima, and the smallest minima as the largest negated minima
  let tops = 0;
  let bottoms = 0;
  for (let b = 0; b < blocks; b++) {
    const high = load<f32>(extremes + (<usize>b << 3));
    const low = load<f32>(extremes + (<usize>b << 3), 4);
    if (high != high || low != low) return false;
    tops = keepLargest(topValues, topBlocks, tops, want, high, b);
    bottoms = keepLargest(lowValues, lowBlocks, bottoms, lows, -low, b);
  }
  // both lists are full: blocks ≥ want ≥ lows
  const twice: f32 = bound + bound;
  let highCut = load<f32>(topValues + (<usize>(want - 1) << 2)) - twice;
  let lowCut = -load<f32>(lowValues + (<usize>(lows - 1) << 2)) + twice;
  // the exact scores of the top blocks' best rows, the k largest in a min-heap over topValues
  let scored = 0;
  for (let r = 0; r < want; r++) {
    const j = rowHolding(row, n, skip, load<i32>(topBlocks + (<usize>r << 2)), load<f32>(topValues + (<usize>r << 2)), 1);
    if (j < 0) continue;
    const s = cosineOf(j, Y, stride, x, f, norms, queryNorm);
    if (s != s) {
      scored = -1;
      break;
    }
    if (scored < k) floatHeapAdd(topValues, scored++, s);
    else if (s > load<f32>(topValues)) floatHeapReplace(topValues, k, s);
  }
  if (scored == k && load<f32>(topValues) - bound > highCut) highCut = load<f32>(topValues) - bound;
  const lowest = rowHolding(row, n, skip, load<i32>(lowBlocks), -load<f32>(lowValues), -1);
  if (lowest >= 0) {
    const s = cosineOf(lowest, Y, stride, x, f, norms, queryNorm);
    if (s + bound < lowCut) lowCut = s + bound;
  }
  seedHigh = highCut;
  seedLow = lowCut;
  return true;
}

/**
 * selectRow's answer (with the cosine step) for one query whose row holds approximate cosines,
 * each within `bound` (b) of the exact one (NaN: unknown). listCandidates lists the rows that
 * can matter: with A the k-th largest approximate score and m the smallest, at least k rows have
 * an exact score ≥ A − b, so a row below A − 2b cannot be among the k best (ties included), and
 * the smallest exact score is ≤ m + b. Those rows are then scored exactly in place, in order of
 * approximate score: from the top until a row's upper bound is below the k-th best exact score
 * so far, and from the bottom until a row's lower bound is above the smallest so far. The k best
 * and the range are then selectRow's. More than `cap` candidates (or a bound that is not
 * finite): the whole row is scored exactly and selectRow runs on it, as without the codes.
 */
function refineRow(
  row: usize, n: i32, k: i32, skip: usize, bound: f32, Y: usize, f: i32, x: usize, norms: usize, queryNorm: f32,
  out: usize, range: usize, candidates: usize, cap: i32, extremes: usize, excluded: i32,
): i32 {
  const stride = <usize>f << 2;
  // A' and m' (NaN when unknown), once for both listings; the candidate list is empty until
  // then: its room holds rthLargest's heap meanwhile
  let highest = <f32>NaN;
  let lowest = <f32>NaN;
  if (bound < Infinity && extremes != 0 && k > 0 && excluded <= EXTREMES_UP_TO && k + excluded <= cap) {
    // the common case (few rows left out, small k): both cuts in one pass, tightened by exact
    // scores (the candidate list is empty until listOpenRows: its room is seedCuts' scratch)
    if (cap >= 4 * SEEDED_BLOCKS_UP_TO && seedCuts(row, n, k, excluded, skip, bound, Y, stride, x, f, norms, queryNorm, extremes, candidates)) {
      const open = listOpenRows(row, n, skip, candidates, cap, extremes, seedHigh, seedLow);
      if (open <= cap) return scoreOpenRows(row, k, Y, stride, x, f, norms, queryNorm, out, range, candidates, open);
    }
    const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
    highest = rthLargest(extremes, 0, blocks, k + excluded, 1, candidates);
    lowest = -rthLargest(extremes, 4, blocks, excluded + 1, -1, candidates);
  }
  if (highest == highest && lowest == lowest) {
    const twice: f32 = bound + bound;
    const open = listOpenRows(row, n, skip, candidates, cap, extremes, highest - twice, lowest + twice);
    if (open <= cap) return scoreOpenRows(row, k, Y, stride, x, f, norms, queryNorm, out, range, candidates, open);
  }
  const listed = bound < Infinity ? listCandidates(row, n, k, skip, bound, out, candidates, cap, extremes, highest, lowest) : cap + 1;
  if (!(bound < Infinity) || listed > cap) {
    scores(Y, f, x, row, 0, n);
    return selectRow(row, n, k, skip, norms, queryNorm, out, range);
  }
  // best approximate score first (NaN, unknown, before all): each pass below stops as soon as
  // the rest cannot matter
  sortCandidates(candidates, listed, row);
  let low = <f32>Infinity;
  let size = 0;
  // the k best: exact scores from the top down, until a row's upper bound (approximate + b) is
  // below the k-th best exact score so far (it ranks below it, ties included, and so do the rest)
  let scored = 0;
  for (; scored < listed; scored++) {
    const j = load<i32>(candidates + (<usize>scored << 2));
    const a = load<f32>(row + (<usize>j << 2));
    if (size == k && a + bound < load<f32>(row + (<usize>load<i32>(out) << 2))) break;
    const s = exactCosine(row, j, Y, stride, x, f, norms, queryNorm);
    if (s < low) low = s;
    if (s != s) continue;
    if (size < k) size = heapPush(out, row, size, j);
    else if (below(row, load<i32>(out), j)) heapReplace(out, row, size, j);
  }
  // the smallest: from the bottom up, until a row's lower bound is above the smallest so far
  for (let c = listed - 1; c >= scored; c--) {
    const j = load<i32>(candidates + (<usize>c << 2));
    if (load<f32>(row + (<usize>j << 2)) - bound > low) break;
    const s = exactCosine(row, j, Y, stride, x, f, norms, queryNorm);
    if (s < low) low = s;
  }
  return finishSelection(row, out, size, low, range);
}

/**
 * selectRows with the cosine step for query rows [start, end) of a block of approximate scores
 * (approxProducts, with its extremes; 0: none): refineRow per row, with bounds[q], the query's
 * float factors at Q + q·f and the float rows Y. scratch: n bytes of skip mask, then (16-byte
 * aligned) room for cap + 4 int32 candidates.
 */
export function refineRows(
  scores: usize, n: i32, k: i32, excludeStart: usize, exclude: usize, Y: usize, f: i32, Q: usize,
  norms: usize, queryNorms: usize, bounds: usize, best: usize, found: usize, range: usize,
  start: i32, end: i32, skip: usize, cap: i32, extremes: usize,
): void {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  const candidates = skip + ((<usize>n + 15) & ~15);
  for (let q = start; q < end; q++) {
    memory.fill(skip, 0, <usize>n);
    const from = load<i32>(excludeStart + (<usize>q << 2));
    const to = load<i32>(excludeStart + (<usize>(q + 1) << 2));
    for (let e = from; e < to; e++) {
      const i = load<i32>(exclude + (<usize>e << 2));
      if (<u32>i < <u32>n) store<u8>(skip + <usize>i, 1);
    }
    const row = scores + ((<usize>q * <usize>n) << 2);
    const count = refineRow(
      row, n, k, skip, load<f32>(bounds + (<usize>q << 2)), Y, f, Q + ((<usize>q * <usize>f) << 2), norms,
      load<f32>(queryNorms + (<usize>q << 2)), best + ((<usize>q * <usize>k) << 2), range + (<usize>q << 3),
      candidates, cap, extremes != 0 ? extremes + ((<usize>q * <usize>blocks) << 3) : 0, to - from,
    );
    store<i32>(found + (<usize>q << 2), count);
  }
}

// ---- cosine top-k of every row of a set against the set, each pair's int8 score once ----
//
// For `similar --all` the queries are the rows themselves: cos(i, j) = cos(j, i). A tile of
// EXTREME_ROWS queries × EXTREME_ROWS rows (pairTiles) gives both the block extremes of its
// queries over its rows and, read by columns, those of its rows over its queries, so that the
// tiles on and above the diagonal give every row's largest and smallest int8 score over every
// block of rows (the "extremes matrix": rows × blocks pairs). A query's refining
// (pairedRefineRows) then scores by its own codes only the blocks the matrix leaves open, as
// refineRow would have listed them: the same numbers. A cell of the matrix read by columns holds
// scores of the tile's queries' codes against the row's codes, so each cell is judged by the
// bound of its own pairs (pairBound: the row codes' and the query codes' errors, as cosineBound
// takes them, per row and per block). The set's rows all have a norm of 0 or one in the safe
// range (cosinePairs), so every tile score is a number: the tiles keep no NaN marks. The matrix
// is laid out by tiles, cell (r, b) at ((⌊r / 64⌋ · blocks + b) · 64 + r mod 64) · 8 bytes: a
// tile writes its 64 cells of each side into eight cache lines (by rows, 128 lines: most of the
// tiles' time went to those writes), and the queries of one tile row read the same lines.

/**
 * cosineBound of quantize.ts for pairs whose row codes err by at most rowError and query codes by
 * queryError, in float32: its few roundings (each 2⁻²⁴ at most) stay well inside the factor
 * 1 + 2⁻²⁰, so the result is never below cosineBound's float64 one.
 */
@inline function pairBound(rowError: f32, queryError: f32, f: i32): f32 {
  return (rowError + (1 + rowError) * queryError + <f32>f * 2.384185791015625e-7 + 1e-4) * (1 + 9.5367431640625e-7);
}

/**
 * The largest and smallest of each of the `columns` columns of a tile (`queries` rows of
 * EXTREME_ROWS numbers) as pairs at at + 8c; noted: 128 bytes of scratch.
 */
function columnExtremes(tile: usize, queries: i32, columns: i32, at: usize, noted: usize): void {
  for (let c = 0; c < columns; c += 16) {
    let p = tile + (<usize>c << 2);
    let h0 = v128.load(p);
    let h1 = v128.load(p, 16);
    let h2 = v128.load(p, 32);
    let h3 = v128.load(p, 48);
    let l0 = h0;
    let l1 = h1;
    let l2 = h2;
    let l3 = h3;
    for (let q = 1; q < queries; q++) {
      p += <usize>EXTREME_ROWS << 2;
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      h0 = f32x4.pmax(h0, v0);
      h1 = f32x4.pmax(h1, v1);
      h2 = f32x4.pmax(h2, v2);
      h3 = f32x4.pmax(h3, v3);
      l0 = f32x4.pmin(l0, v0);
      l1 = f32x4.pmin(l1, v1);
      l2 = f32x4.pmin(l2, v2);
      l3 = f32x4.pmin(l3, v3);
    }
    v128.store(noted, h0);
    v128.store(noted, h1, 16);
    v128.store(noted, h2, 32);
    v128.store(noted, h3, 48);
    v128.store(noted, l0, 64);
    v128.store(noted, l1, 80);
    v128.store(noted, l2, 96);
    v128.store(noted, l3, 112);
    const last = c + 16 < columns ? 16 : columns - c;
    for (let lane = 0; lane < last; lane++) {
      const cell = at + (<usize>(c + lane) << 3);
      store<f32>(cell, load<f32>(noted + (<usize>lane << 2)));
      store<f32>(cell, load<f32>(noted + (<usize>(16 + lane) << 2)), 4);
    }
  }
}

/**
 * The largest and smallest of the `count` (1 or more) numbers at o as a pair at at: blockExtremes
 * without its NaN marks, which no tile score of the pairs needs (each is a number): 12 vector
 * operations for 16 numbers instead of 20.
 */
@inline function rowExtremes(o: usize, count: i32, at: usize): void {
  blockExtremes(o, count, at, false);
}

/** The bytes of pairTiles' scratch: a tile of scores, then room for its column extremes. */
export function pairTileBytes(): usize {
  return ((<usize>EXTREME_ROWS * EXTREME_ROWS) << 2) + 128;
}

/**
 * The tiles (I, J) for J in [start − I·blocks, min(end − I·blocks, blocks)) of tile row
 * I = start / blocks (blocks = ⌈n / EXTREME_ROWS⌉, J ≥ I): the int8 scores of queries [64I,
 * 64I + 64) (codes QC and scales qScales of every row coded as a query, quantizeQueryRows)
 * against rows [64J, 64J + 64) (the packed row codes G, sums, scales), as approxProducts scores
 * them, into `tile` (pairTileBytes); each query's largest and smallest over the tile's rows into
 * its cell of block J in the extremes matrix (laid out by tiles: see above), and, when J ≠ I, each
 * row's over the tile's queries into its cell of block I.
 */
export function pairTiles(
  G: usize, stride: i32, QC: usize, qScales: usize, sums: usize, scales: usize, n: i32, extremes: usize,
  start: i32, end: i32, tile: usize,
): void {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  const I = start / blocks;
  const q0 = I * EXTREME_ROWS;
  const queries = n - q0 < EXTREME_ROWS ? n - q0 : EXTREME_ROWS;
  const codes = QC + <usize>q0 * <usize>stride;
  const queryScales = qScales + (<usize>q0 << 2);
  const noted = tile + ((<usize>EXTREME_ROWS * EXTREME_ROWS) << 2);
  // a chunk that ends in the next tile row (at its first tile) ends this one
  const last = end - I * blocks < blocks ? end - I * blocks : blocks;
  for (let J = start - I * blocks; J < last; J++) {
    const r0 = J * EXTREME_ROWS;
    const rows = n - r0 < EXTREME_ROWS ? n - r0 : EXTREME_ROWS;
    // row j's score of query q at tile + q · 4 · EXTREME_ROWS + (j − r0) · 4
    approxProductBlock(G, stride, codes, queryScales, queries, sums, scales, tile - (<usize>r0 << 2), EXTREME_ROWS, r0, r0 + rows, 0, 0);
    const byRows = extremes + ((<usize>I * <usize>blocks + <usize>J) << 9);
    for (let q = 0; q < queries; q++) rowExtremes(tile + ((<usize>q * EXTREME_ROWS) << 2), rows, byRows + (<usize>q << 3));
    if (J != I) columnExtremes(tile, queries, rows, extremes + ((<usize>J * <usize>blocks + <usize>I) << 9), noted);
  }
}

/**
 * errors[2j] and errors[2j + 1]: how far row j's codes as a row (G, scales: quantizeUnitRows) and
 * as a query (QC, qScales: quantizeQueryRows) lie from its unit vector, ‖ŷ − s·c‖, in float64 as
 * those compute theirs; 0 for a row of norm 0 (its scores are 0 exactly), for rows [start, end)
 * of Y (f floats a row, their float32 norms in `norms`).
 */
export function pairErrors(
  Y: usize, f: i32, norms: usize, start: i32, end: i32, G: usize, stride: i32, scales: usize, QC: usize,
  qScales: usize, errors: usize,
): void {
  for (let j = start; j < end; j++) {
    let asRow: f64 = 0;
    let asQuery: f64 = 0;
    if (load<f32>(norms + (<usize>j << 2)) != 0) {
      const row = Y + ((<usize>j * <usize>f) << 2);
      let squares: f64 = 0;
      for (let a = 0; a < f; a++) {
        const v = <f64>load<f32>(row + (<usize>a << 2));
        squares += v * v;
      }
      const inverse = 1 / Math.sqrt(squares);
      const s = <f64>load<f32>(scales + (<usize>j << 2));
      const t = <f64>load<f32>(qScales + (<usize>j << 2));
      const packed = G + (<usize>(j >> 2)) * (<usize>stride << 2) + (<usize>(j & 3) << 2);
      const coded = QC + <usize>j * <usize>stride;
      for (let a = 0; a < f; a++) {
        const unit = <f64>load<f32>(row + (<usize>a << 2)) * inverse;
        const r = unit - s * <f64>load<i8>(packed + (<usize>(a >> 2) << 4) + <usize>(a & 3));
        const q = unit - t * <f64>(<i32>load<u8>(coded + <usize>a) - 64);
        asRow += r * r;
        asQuery += q * q;
      }
    }
    store<f32>(errors + (<usize>j << 3), <f32>(Math.sqrt(asRow) * (1 + 9.5367431640625e-7)));
    store<f32>(errors + (<usize>j << 3), <f32>(Math.sqrt(asQuery) * (1 + 9.5367431640625e-7)), 4);
  }
}

/**
 * One query's int8 scores (codes qc, scale t) of rows [from, to) into out[from ..], as
 * approxProducts computes them: sixteen rows at a time (eight at the end), reading no further
 * than the rows' padding to a multiple of eight.
 */
function approxQueryRows(G: usize, stride: i32, qc: usize, t: f32, sums: usize, scales: usize, out: usize, from: i32, to: i32): void {
  if (stride == 64) approxQueryRowsOf(G, 64, qc, t, sums, scales, out, from, to);
  else approxQueryRowsOf(G, <usize>stride, qc, t, sums, scales, out, from, to);
}

@inline function approxQueryRowsOf(G: usize, s: usize, qc: usize, t: f32, sums: usize, scales: usize, out: usize, from: i32, to: i32): void {
  const groupBytes = s << 2;
  // 1 in every lane from a number the compiler cannot see (see approxProductRows)
  const ones = i16x8.splat(<i16>(1 - (to >>> 31)));
  const scale = f32x4.splat(t);
  let j = from;
  for (; to - j > 8; j += 16) {
    const p0 = G + (<usize>(j >> 2)) * groupBytes;
    const p1 = p0 + groupBytes;
    const p2 = p1 + groupBytes;
    const p3 = p2 + groupBytes;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    for (let c: usize = 0; c < s; c += 4) {
      const w = v128.load32_splat(qc + c);
      a0 = dot8x4(a0, v128.load(p0 + (c << 2)), w, ones);
      a1 = dot8x4(a1, v128.load(p1 + (c << 2)), w, ones);
      a2 = dot8x4(a2, v128.load(p2 + (c << 2)), w, ones);
      a3 = dot8x4(a3, v128.load(p3 + (c << 2)), w, ones);
    }
    const at = <usize>j << 2;
    const o = out + at;
    storeScores(o, productScores(a0, v128.load(sums + at), v128.load(scales + at), scale), productScores(a1, v128.load(sums + at, 16), v128.load(scales + at, 16), scale), to - j);
    storeScores(o + 32, productScores(a2, v128.load(sums + at, 32), v128.load(scales + at, 32), scale), productScores(a3, v128.load(sums + at, 48), v128.load(scales + at, 48), scale), to - j - 8);
  }
  if (j < to) {
    const p0 = G + (<usize>(j >> 2)) * groupBytes;
    const p1 = p0 + groupBytes;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    for (let c: usize = 0; c < s; c += 4) {
      const w = v128.load32_splat(qc + c);
      a0 = dot8x4(a0, v128.load(p0 + (c << 2)), w, ones);
      a1 = dot8x4(a1, v128.load(p1 + (c << 2)), w, ones);
    }
    const at = <usize>j << 2;
    storeScores(out + at, productScores(a0, v128.load(sums + at), v128.load(scales + at), scale), productScores(a1, v128.load(sums + at, 16), v128.load(scales + at, 16), scale), to - j);
  }
}

/** Block b's own int8 scores of the query into row, once: `made` holds a byte per block. */
@inline function ownBlock(
  G: usize, stride: i32, qc: usize, t: f32, sums: usize, scales: usize, row: usize, n: i32, made: usize, b: i32,
): void {
  if (load<u8>(made + <usize>b) != 0) return;
  store<u8>(made + <usize>b, 1);
  const from = b * EXTREME_ROWS;
  approxQueryRows(G, stride, qc, t, sums, scales, row, from, from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n);
}

/**
 * The row of block b, not skipped, of the largest own score (sign 1) or the smallest (−1), as
 * seedCuts finds its rows (rowHolding: the first holding the block's extreme, else the best of
 * those not skipped); −1 if every row is. noted: 8 bytes of scratch.
 */
function ownExtremeRow(row: usize, n: i32, skip: usize, b: i32, sign: f32, noted: usize): i32 {
  const from = b * EXTREME_ROWS;
  rowExtremes(row + (<usize>from << 2), (from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n) - from, noted);
  return rowHolding(row, n, skip, b, load<f32>(noted + (sign > 0 ? 0 : 4)), sign);
}

/**
 * One query's answer from its cells of the extremes matrix (block b's at extremes + 512b), as
 * refineRow gives it: the k + excluded blocks of the largest maxima and the block of the
 * smallest minimum are scored by the query's own codes and their best (lowest) rows exactly,
 * giving K, the k-th largest of those exact scores, and m, the lowest: a row whose cosine is
 * below K is not among the k best (at least k rows score K or more), nor is one above m the
 * smallest. A block whose largest score is below K − w and smallest above m + w, w the bound of
 * its cell (pairBound: below, the row block's row-code error and the query's own query-code
 * error; for a cell read by columns, left of the query's own block, the query's row-code error
 * and the block's query-code error), holds neither; every other block is scored by the query's
 * own codes and its rows not inside those cuts (w of the block's rows against the query) are
 * scored exactly (scoreOpenRows). Returns the count found, or −1 when this cannot answer (too
 * many blocks to seed from, fewer than k rows among the seeds, more than cap rows open, a NaN
 * exact score): the caller then scores the whole row by its own codes and refines as refineRow.
 * `made`: a byte per block, zero. errors: per row, its row and query codes' errors (pairErrors);
 * blockErrors: per block, the largest of each.
 */
function pairedRow(
  row: usize, n: i32, k: i32, skip: usize, excluded: i32, Y: usize, f: i32, x: usize, norms: usize,
  queryNorm: f32, out: usize, range: usize, candidates: usize, cap: i32, extremes: usize, G: usize, stride: i32,
  qc: usize, t: f32, sums: usize, scales: usize, made: usize, seeds: usize, slot: i32, errors: usize,
  blockErrors: usize,
): i32 {
  const want = k + excluded;
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  if (k == 0 || want > SEEDED_BLOCKS_UP_TO || blocks < want) return -1;
  const rowStride = <usize>f << 2;
  const topBlocks = seeds;
  const topValues = seeds + (SEEDED_BLOCKS_UP_TO << 2);
  const noted = topValues + (SEEDED_BLOCKS_UP_TO << 2);
  // the blocks of the largest maxima, and of the smallest minimum
  let tops = 0;
  let lowest = 0;
  let lowestValue = <f32>Infinity;
  for (let b = 0; b < blocks; b++) {
    tops = keepLargest(topValues, topBlocks, tops, want, load<f32>(extremes + (<usize>b << 9)), b);
    const low = load<f32>(extremes + (<usize>b << 9), 4);
    if (low < lowestValue) {
      lowestValue = low;
      lowest = b;
    }
  }
  // the exact scores of the best row of each top block, the k largest in a min-heap over topValues
  let scored = 0;
  for (let r = 0; r < want; r++) {
    const b = load<i32>(topBlocks + (<usize>r << 2));
    ownBlock(G, stride, qc, t, sums, scales, row, n, made, b);
    const j = ownExtremeRow(row, n, skip, b, 1, noted);
    if (j < 0) continue;
    const s = cosineOf(j, Y, rowStride, x, f, norms, queryNorm);
    if (s != s) return -1;
    if (scored < k) floatHeapAdd(topValues, scored++, s);
    else if (s > load<f32>(topValues)) floatHeapReplace(topValues, k, s);
  }
  if (scored < k) return -1;
  const K = load<f32>(topValues);
  ownBlock(G, stride, qc, t, sums, scales, row, n, made, lowest);
  const j = ownExtremeRow(row, n, skip, lowest, -1, noted);
  if (j < 0) return -1;
  const m = cosineOf(j, Y, rowStride, x, f, norms, queryNorm);
  if (m != m) return -1;
  const home = slot / EXTREME_ROWS;
  const rowError = load<f32>(errors + (<usize>slot << 3));
  const queryError = load<f32>(errors + (<usize>slot << 3), 4);
  let listed = 0;
  for (let b = 0; b < blocks; b++) {
    // the bound of the query's own scores of the block's rows, and of the cell
    const w = pairBound(load<f32>(blockErrors + (<usize>b << 3)), queryError, f);
    const cell = b >= home ? w : pairBound(rowError, load<f32>(blockErrors + (<usize>b << 3), 4), f);
    if (load<f32>(extremes + (<usize>b << 9)) < K - cell && load<f32>(extremes + (<usize>b << 9), 4) > m + cell) continue;
    ownBlock(G, stride, qc, t, sums, scales, row, n, made, b);
    const highCut = K - w;
    const lowCut = m + w;
    const high = f32x4.splat(highCut);
    const low = f32x4.splat(lowCut);
    const from = b * EXTREME_ROWS;
    const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
    let i = from;
    for (; i + 4 <= to; i += 4) {
      const v = v128.load(row + (<usize>i << 2));
      if (i32x4.all_true(v128.and(f32x4.lt(v, high), f32x4.gt(v, low)))) continue;
      for (let r = i; r < i + 4; r++) {
        const value = load<f32>(row + (<usize>r << 2));
        if (load<u8>(skip + <usize>r) != 0 || (value < highCut && value > lowCut)) continue;
        if (listed == cap) return -1;
        store<i32>(candidates + (<usize>listed << 2), r);
        listed++;
      }
    }
    for (; i < to; i++) {
      const value = load<f32>(row + (<usize>i << 2));
      if (load<u8>(skip + <usize>i) != 0 || (value < highCut && value > lowCut)) continue;
      if (listed == cap) return -1;
      store<i32>(candidates + (<usize>listed << 2), i);
      listed++;
    }
  }
  return scoreOpenRows(row, k, Y, rowStride, x, f, norms, queryNorm, out, range, candidates, listed);
}

/** The bytes of pairedRefineRows' scratch for n rows, cap candidates and `stride`-byte codes. */
export function pairedScratchBytes(n: i32, cap: i32, stride: i32): usize {
  const blocks = <usize>((n + EXTREME_ROWS - 1) / EXTREME_ROWS);
  return ((<usize>n + 15) & ~15) + ((((<usize>cap + 4) << 2) + 15) & ~15) + ((blocks + 15) & ~15) + (blocks << 3) + (SEEDED_BLOCKS_UP_TO << 4) + (<usize>stride << 2) + 16;
}

/**
 * refineRows for query rows [start, end) of a block whose queries are rows of the set
 * (querySlots[q]: the query's row, or −1 for a query from outside the set): a row's answer from
 * the extremes matrix (pairedRow; pairTiles must have passed over every tile row up to its own),
 * else, and for a query from outside, the whole row scored by the query's own codes (its row's
 * coded as a query: QC, qScales, qBounds; one from outside coded here) with its block extremes,
 * then refineRow: the same numbers as refineRows. Scores go to the block's scores (row q at
 * scores + q · n · 4). scratch: pairedScratchBytes.
 */
export function pairedRefineRows(
  scores: usize, n: i32, k: i32, excludeStart: usize, exclude: usize, Y: usize, f: i32, Q: usize, norms: usize,
  queryNorms: usize, best: usize, found: usize, range: usize, start: i32, end: i32, scratch: usize, cap: i32,
  extremes: usize, querySlots: usize, G: usize, stride: i32, QC: usize, qScales: usize, qBounds: usize,
  sums: usize, scales: usize, errors: usize, blockErrors: usize, rowError: f64,
): void {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  const skip = scratch;
  const candidates = skip + ((<usize>n + 15) & ~15);
  const made = candidates + ((((<usize>cap + 4) << 2) + 15) & ~15);
  const own = made + ((<usize>blocks + 15) & ~15);
  const seeds = own + (<usize>blocks << 3);
  const codes = seeds + (SEEDED_BLOCKS_UP_TO << 4);
  const coded = codes + (<usize>stride << 2);
  // the skip mask is cleared once, and each query's marks taken back after it
  memory.fill(skip, 0, <usize>n);
  for (let q = start; q < end; q++) {
    memory.fill(made, 0, <usize>blocks);
    const from = load<i32>(excludeStart + (<usize>q << 2));
    const to = load<i32>(excludeStart + (<usize>(q + 1) << 2));
    for (let e = from; e < to; e++) {
      const i = load<i32>(exclude + (<usize>e << 2));
      if (<u32>i < <u32>n) store<u8>(skip + <usize>i, 1);
    }
    const row = scores + ((<usize>q * <usize>n) << 2);
    const x = Q + ((<usize>q * <usize>f) << 2);
    const queryNorm = load<f32>(queryNorms + (<usize>q << 2));
    const out = best + ((<usize>q * <usize>k) << 2);
    const at = range + (<usize>q << 3);
    const slot = load<i32>(querySlots + (<usize>q << 2));
    let qc: usize;
    let t: f32;
    let bound: f32;
    if (slot >= 0) {
      qc = QC + <usize>slot * <usize>stride;
      t = load<f32>(qScales + (<usize>slot << 2));
      bound = load<f32>(qBounds + (<usize>slot << 2));
    } else {
      quantizeQueryRows(x, f, queryNorms + (<usize>q << 2), 0, 1, codes, stride, coded, coded + 4, rowError);
      qc = codes;
      t = load<f32>(coded);
      bound = load<f32>(coded, 4);
    }
    let count = -1;
    if (slot >= 0 && bound < Infinity) {
      count = pairedRow(
        row, n, k, skip, to - from, Y, f, x, norms, queryNorm, out, at, candidates, cap,
        extremes + ((<usize>(slot / EXTREME_ROWS) * <usize>blocks) << 9) + (<usize>(slot % EXTREME_ROWS) << 3), G,
        stride, qc, t, sums, scales, made, seeds, slot, errors, blockErrors,
      );
    }
    if (count < 0) {
      // the whole row by the query's own codes, its extremes, then refineRow as refineRows does
      for (let b = 0; b < blocks; b++) {
        ownBlock(G, stride, qc, t, sums, scales, row, n, made, b);
        const first = b * EXTREME_ROWS;
        noteExtremes(row + (<usize>first << 2), (first + EXTREME_ROWS < n ? first + EXTREME_ROWS : n) - first, own + (<usize>b << 3));
      }
      count = refineRow(row, n, k, skip, bound, Y, f, x, norms, queryNorm, out, at, candidates, cap, own, to - from);
    }
    store<i32>(found + (<usize>q << 2), count);
    for (let e = from; e < to; e++) {
      const i = load<i32>(exclude + (<usize>e << 2));
      if (<u32>i < <u32>n) store<u8>(skip + <usize>i, 0);
    }
  }
}

// ---- HNSW graph search (src/query/hnsw.ts; src/kernels/graphSearch.ts holds the reference) ----

/**
 * A binary min-heap of (key, id) entries packed in one u64 each: the float32 key's bits made to
 * order as unsigned integers above, 0xffffffff − id below, so that one integer comparison orders
 * by key and, of equal keys, puts the higher id first (as graphSearch.ts's heaps). Keys are
 * finite, and −0 is made +0 first (packKey).
 */
@inline function packKey(key: f32, id: i32): u64 {
  const bits = reinterpret<u32>(key + <f32>0);
  const ordered = (bits & 0x80000000) != 0 ? ~bits : bits | 0x80000000;
  return (<u64>ordered << 32) | <u64>(0xffffffff - <u32>id);
}

@inline function packedKey(entry: u64): f32 {
  const ordered = <u32>(entry >> 32);
  return reinterpret<f32>((ordered & 0x80000000) != 0 ? ordered & 0x7fffffff : ~ordered);
}

@inline function packedId(entry: u64): i32 {
  return <i32>(0xffffffff - <u32>entry);
}

/** Adds an entry to a heap of `size` entries (the caller counts it). */
@inline function heapAdd(heap: usize, size: i32, entry: u64): void {
  let n = size;
  while (n > 0) {
    const parent = (n - 1) >> 1;
    const above = load<u64>(heap + (<usize>parent << 3));
    if (entry >= above) break;
    store<u64>(heap + (<usize>n << 3), above);
    n = parent;
  }
  store<u64>(heap + (<usize>n << 3), entry);
}

/** Removes the smallest entry of a heap of `size` entries (the caller counts it). */
@inline function heapRemove(heap: usize, size: i32): void {
  const last = size - 1;
  if (last == 0) return;
  const entry = load<u64>(heap + (<usize>last << 3));
  let n = 0;
  for (;;) {
    let child = 2 * n + 1;
    if (child >= last) break;
    let smaller = load<u64>(heap + (<usize>child << 3));
    if (child + 1 < last) {
      const right = load<u64>(heap + (<usize>(child + 1) << 3));
      if (right < smaller) {
        smaller = right;
        child++;
      }
    }
    if (smaller >= entry) break;
    store<u64>(heap + (<usize>n << 3), smaller);
    n = child;
  }
  store<u64>(heap + (<usize>n << 3), entry);
}

/** Σ a[k]·b[k] over n int8 codes (n a multiple of 16), exact in int32. */
@inline function dotCodes(a: usize, b: usize, n: i32): i32 {
  let acc = i32x4.splat(0);
  for (let k = 0; k < n; k += 16) {
    const va = v128.load(a + <usize>k);
    const vb = v128.load(b + <usize>k);
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(va), i16x8.extend_low_i8x16_s(vb)));
    acc = i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(va), i16x8.extend_high_i8x16_s(vb)));
  }
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

/**
 * The similarity of the query and row `row`: with approx = 0 the float dot of q and the row;
 * else the int8 one, approx pointing at {codes i32, stride i32, scales i32, query codes i32,
 * query scale f64}: (codes · query codes) · scale[row] · query scale, in float64 in that order.
 */
@inline function similarity(q: usize, Y: usize, dim: i32, row: i32, approx: usize): f64 {
  if (approx == 0) return <f64>dotUnfused(q, Y + <usize>row * (<usize>dim << 2), dim);
  const stride = load<i32>(approx, 4);
  const codes = <usize>load<i32>(approx) + <usize>row * <usize>stride;
  const scale = <f64>load<f32>(<usize>load<i32>(approx, 8) + (<usize>row << 2));
  return <f64>dotCodes(<usize>load<i32>(approx, 12), codes, stride) * scale * load<f64>(approx, 16);
}

/**
 * Algorithm 2 of Malkov & Yashunin: the best `ef` rows of one layer of an HNSW graph reachable
 * from `start`, best first into outIds/outSims; returns how many. The same steps, ties and
 * numbers as searchGraphLayer in src/kernels/graphSearch.ts (similarity = dot, never fused, so
 * both builds agree). A row's list is links[list · stride ..], counts[list] (u16) entries, with
 * list = row on layer 0 and upperStart[row] + layer − 1 above. visited: a byte per row, marked with
 * `generation`; excluded (0: none): u32 per row, rows marked `excludeMark` walked but not kept.
 * Similarities are rounded to float32 (keys of the packed heaps). Heaps (u64 entries, packKey):
 * candidates (keys −similarity) hold up to the rows visited, found up to ef + 1; batchIds
 * (i32) and batchSims (f32): room for one list (stride entries). approx ≠ 0: the int8
 * similarity (similarity), whose rows are a quarter of the float ones' bytes.
 */
export function graphSearch(
  Y: usize, dim: i32, links: usize, counts: usize, stride: i32, upperStart: usize, layer: i32,
  q: usize, start: i32, startSim: f64, ef: i32, visited: usize, generation: u32, excluded: usize,
  excludeMark: u32, candidates: usize, found: usize, outIds: usize, outSims: usize, batchIds: usize,
  batchSims: usize, approx: usize,
): i32 {
  const startKey = <f32>startSim;
  store<u8>(visited + <usize>start, <u8>generation);
  heapAdd(candidates, 0, packKey(-startKey, start));
  let waiting = 1;
  let kept = 0;
  let worst = <f32>-Infinity;
  if (excluded == 0 || load<u32>(excluded + (<usize>start << 2)) != excludeMark) {
    heapAdd(found, 0, packKey(startKey, start));
    kept = 1;
    worst = startKey;
  }
  while (waiting > 0) {
    const best = load<u64>(candidates);
    const sim = -packedKey(best);
    const row = packedId(best);
    if (sim < worst && kept >= ef) break;
    heapRemove(candidates, waiting);
    waiting--;
    const list = layer == 0 ? row : load<i32>(upperStart + (<usize>row << 2)) + layer - 1;
    const base = list * stride;
    const end = base + <i32>load<u16>(counts + (<usize>list << 1));
    // the rows not yet visited first, then all their similarities, then the heaps: the rows'
    // loads (cache misses, mostly) do not wait on each other or on the heaps' branches
    let fresh = 0;
    for (let n = base; n < end; n++) {
      const next = load<i32>(links + (<usize>n << 2));
      const mark = visited + <usize>next;
      if (<u32>load<u8>(mark) == generation) continue;
      store<u8>(mark, <u8>generation);
      store<i32>(batchIds + (<usize>fresh << 2), next);
      fresh++;
    }
    for (let n = 0; n < fresh; n++) {
      const next = load<i32>(batchIds + (<usize>n << 2));
      store<f32>(batchSims + (<usize>n << 2), <f32>similarity(q, Y, dim, next, approx));
    }
    for (let n = 0; n < fresh; n++) {
      const next = load<i32>(batchIds + (<usize>n << 2));
      const s = load<f32>(batchSims + (<usize>n << 2));
      if (kept < ef || s > worst) {
        heapAdd(candidates, waiting, packKey(-s, next));
        waiting++;
        if (excluded == 0 || load<u32>(excluded + (<usize>next << 2)) != excludeMark) {
          heapAdd(found, kept, packKey(s, next));
          kept++;
          if (kept > ef) {
            heapRemove(found, kept);
            kept--;
          }
          worst = packedKey(load<u64>(found));
        }
      }
    }
  }
  for (let n = kept - 1; n >= 0; n--) {
    const entry = load<u64>(found);
    store<i32>(outIds + (<usize>n << 2), packedId(entry));
    store<f64>(outSims + (<usize>n << 3), <f64>packedKey(entry));
    heapRemove(found, n + 1);
  }
  return kept;
}

/**
 * The row reached from `start` on upper layer `layer` by moving to a better neighbour while there
 * is one (ties: the lower row), as hnsw.ts's greedy; its similarity is stored at bestSim (f64).
 * approx: as graphSearch's.
 */
export function graphGreedy(
  Y: usize, dim: i32, links: usize, counts: usize, m: i32, upperStart: usize, layer: i32, q: usize,
  start: i32, startSim: f64, bestSim: usize, approx: usize,
): i32 {
  let best = start;
  let bestS = startSim;
  let moved = true;
  while (moved) {
    moved = false;
    const list = load<i32>(upperStart + (<usize>best << 2)) + layer - 1;
    const base = list * m;
    const end = base + <i32>load<u16>(counts + (<usize>list << 1));
    for (let n = base; n < end; n++) {
      const row = load<i32>(links + (<usize>n << 2));
      const s = similarity(q, Y, dim, row, approx);
      if (s > bestS || (s == bestS && row < best)) {
        bestS = s;
        best = row;
        moved = true;
      }
    }
  }
  store<f64>(bestSim, bestS);
  return best;
}

/** The float dot products of the dim floats at `a` with rows ids[0 .. count) of Y into out (f64), as graphSearch computes them. */
export function graphDots(Y: usize, dim: i32, a: usize, ids: usize, count: i32, out: usize): void {
  const rowBytes = <usize>dim << 2;
  for (let n = 0; n < count; n++) {
    const row = load<i32>(ids + (<usize>n << 2));
    store<f64>(out + (<usize>n << 3), <f64>dotUnfused(a, Y + <usize>row * rowBytes, dim));
  }
}

/**
 * The index of the first of the n floats at `values` whose magnitude's bits are above
 * `limitBits` (beyond ±MAX_FACTOR, ∞ or NaN: see validate.ts's firstBadFactor, its reference), or
 * -1. Sixteen floats at a time: their sign bits cleared, compared as unsigned integers.
 */
export function firstBadFactor(values: usize, n: i32, limitBits: u32): i32 {
  const magnitude = i32x4.splat(0x7fffffff);
  const limit = i32x4.splat(limitBits);
  const blockEnd = n & ~15;
  let k = 0;
  for (; k < blockEnd; k += 16) {
    const at = values + (<usize>k << 2);
    const over = v128.or(
      v128.or(
        i32x4.gt_u(v128.and(v128.load(at), magnitude), limit),
        i32x4.gt_u(v128.and(v128.load(at, 16), magnitude), limit),
      ),
      v128.or(
        i32x4.gt_u(v128.and(v128.load(at, 32), magnitude), limit),
        i32x4.gt_u(v128.and(v128.load(at, 48), magnitude), limit),
      ),
    );
    if (v128.any_true(over)) break;
  }
  for (; k < n; k++) if ((load<u32>(values + (<usize>k << 2)) & 0x7fffffff) > limitBits) return k;
  return -1;
}

// ---- the transpose of a CSR matrix, in parts of rows (WasmKernels.transpose) ----

/** counts[c] = entries of column c in rows [start, end) of the CSR matrix (indptr, indices); counts zeroed first. */
export function columnCountsOf(indptr: usize, indices: usize, start: i32, end: i32, counts: usize, cols: i32): void {
  memory.fill(counts, 0, <usize>cols << 2);
  const from = load<i32>(indptr + (<usize>start << 2));
  const to = load<i32>(indptr + (<usize>end << 2));
  for (let n = from; n < to; n++) {
    const at = counts + (<usize>load<i32>(indices + (<usize>n << 2)) << 2);
    store<i32>(at, load<i32>(at) + 1);
  }
}

/**
 * From each part's column counts (parts arrays of cols int32s, part after part), the transpose's
 * indptr (cols + 1) and, in place of the counts, where each part's entries of each column start:
 * the parts in order, so rows stay ascending within a column.
 */
export function columnStarts(counts: usize, parts: i32, cols: i32, indptr: usize): void {
  let total = 0;
  store<i32>(indptr, 0);
  for (let c = 0; c < cols; c++) {
    for (let p = 0; p < parts; p++) {
      const at = counts + ((<usize>p * <usize>cols + <usize>c) << 2);
      const count = load<i32>(at);
      store<i32>(at, total);
      total += count;
    }
    store<i32>(indptr + (<usize>(c + 1) << 2), total);
  }
}

/** Rows [start, end) of the CSR matrix scattered into the transpose: entry n of row r to next[its column]++. */
export function scatterRows(
  indptr: usize, indices: usize, data: usize, start: i32, end: i32, next: usize, outIndices: usize, outData: usize,
): void {
  for (let row = start; row < end; row++) {
    const to = load<i32>(indptr + (<usize>(row + 1) << 2));
    for (let n = load<i32>(indptr + (<usize>row << 2)); n < to; n++) {
      const slot = next + (<usize>load<i32>(indices + (<usize>n << 2)) << 2);
      const at = load<i32>(slot);
      store<i32>(slot, at + 1);
      store<i32>(outIndices + (<usize>at << 2), row);
      store<f32>(outData + (<usize>at << 2), load<f32>(data + (<usize>n << 2)));
    }
  }
}

// ---- training's first factors (src/kernels/uniform.ts holds the reference) ----

/** mulberry32's step (MULBERRY_STEP of uniform.ts) */
const MULBERRY_STEP: u32 = 0x6d2b79f5;

/** mulberry32's output for a state: the integer ops of seededRandom, four lanes at a time. */
@inline function mulberry(state: v128): v128 {
  let t = i32x4.mul(v128.xor(state, i32x4.shr_u(state, 15)), v128.or(state, i32x4.splat(1)));
  t = v128.xor(t, i32x4.add(t, i32x4.mul(v128.xor(t, i32x4.shr_u(t, 7)), v128.or(t, i32x4.splat(61)))));
  return v128.xor(t, i32x4.shr_u(t, 14));
}

/**
 * out[n] = (draw skip + n of seededRandom(seed)) · scale for n in [start, end), as uniformFill
 * of uniform.ts: each lane the same integer ops, then u/2³² (exact), · scale in float64 and one
 * rounding to float32, so the numbers are the same; each draw's state is found from n, so any
 * thread may take any chunk.
 */
export function uniformFill(out: usize, start: i32, end: i32, seed: u32, skip: u32, scale: f64): void {
  // the state before draw skip + n is seed + (skip + n)·step
  let first: u32 = seed + (skip + <u32>start) * MULBERRY_STEP;
  let n = start;
  const inverse = f64x2.splat(1.0 / 4294967296.0);
  const scales = f64x2.splat(scale);
  let states = i32x4.add(
    i32x4.splat(first),
    i32x4.mul(i32x4(1, 2, 3, 4), i32x4.splat(MULBERRY_STEP)),
  );
  const step4 = i32x4.splat(MULBERRY_STEP * 4);
  for (; n + 4 <= end; n += 4) {
    const u = mulberry(states);
    const low = f64x2.mul(f64x2.mul(f64x2.convert_low_i32x4_u(u), inverse), scales);
    const high = f64x2.mul(f64x2.mul(f64x2.convert_low_i32x4_u(v128.shuffle<i32>(u, u, 2, 3, 0, 1)), inverse), scales);
    const pair = v128.shuffle<i32>(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
    v128.store(out + (<usize>n << 2), pair);
    states = i32x4.add(states, step4);
  }
  first = i32x4.extract_lane(states, 0) - MULBERRY_STEP;
  for (; n < end; n++) {
    first += MULBERRY_STEP;
    const u = i32x4.extract_lane(mulberry(i32x4.splat(first)), 0);
    store<f32>(out + (<usize>n << 2), <f32>((<f64>(<u32>u) / 4294967296.0) * scale));
  }
}

// ---- inner-product top-k through an int8 copy of the rows (src/kernels/quantize.ts: quantizeProductRows) ----

/** Adds v to the min-heap of `size` floats at heap (the caller counts it). */
@inline function floatHeapAdd(heap: usize, size: i32, v: f32): void {
  let at = size;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    const p = load<f32>(heap + (<usize>parent << 2));
    if (p <= v) break;
    store<f32>(heap + (<usize>at << 2), p);
    at = parent;
  }
  store<f32>(heap + (<usize>at << 2), v);
}

/** Puts v in place of the smallest of the full min-heap of `size` floats at heap. */
@inline function floatHeapReplace(heap: usize, size: i32, v: f32): void {
  let at = 0;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= size) break;
    let child = left;
    if (left + 1 < size && load<f32>(heap + (<usize>(left + 1) << 2)) < load<f32>(heap + (<usize>left << 2))) child = left + 1;
    const c = load<f32>(heap + (<usize>child << 2));
    if (c >= v) break;
    store<f32>(heap + (<usize>at << 2), c);
    at = child;
  }
  store<f32>(heap + (<usize>at << 2), v);
}

/**
 * Keeps the listed rows that are still open under `top` and `bottom` (see listProducts), in
 * order; returns how many.
 */
function keepProducts(
  row: usize, errors: usize, weights: usize, alpha: f32, beta: f32, candidates: usize, listed: i32, top: f32, bottom: f32,
): i32 {
  let kept = 0;
  for (let c = 0; c < listed; c++) {
    const j = load<i32>(candidates + (<usize>c << 2));
    const a = load<f32>(row + (<usize>j << 2));
    const b = alpha * load<f32>(errors + (<usize>j << 2)) + beta * load<f32>(weights + (<usize>j << 2));
    const high = a + b;
    const low = a - b;
    if (high != high || high >= top || low <= bottom) {
      store<i32>(candidates + (<usize>kept << 2), j);
      kept++;
    }
  }
  return kept;
}

/**
 * The rows of one query's approximate inner products that can matter, listed at `candidates` in
 * row order: row j (not skipped) has its exact score within [a − b, a + b], a its approximate
 * score and b = α·errors[j] + β·weights[j] (weights[j] +∞ for a row of unknown bound, always
 * listed; no approximate score is NaN). With L the k-th largest lower end and M the smallest upper end over the rows not
 * skipped, at least k rows score ≥ L exactly, so a row whose upper end is below L ranks below k
 * others (ties included) and cannot be among the k best; and the smallest exact score is ≤ M, so
 * a row whose lower end is above M cannot hold it. Both are taken over the rows seen so far while
 * passing (L only grows, M only shrinks), from `top` (k rows not skipped score at least that
 * exactly, or −∞) and `bottom` (the exact score of a row not skipped, or +∞) on: a block of
 * EXTREME_ROWS rows whose extremes (approxProducts) are that far from them by the block's largest
 * bound (from blockErrors and blockWeights) goes by in one test, and four rows, none of them open, in another.
 * `heap`: k floats of scratch. Returns how many, or cap + 1 when more than cap rows would be
 * listed.
 */
function listProducts(
  row: usize, n: i32, k: i32, skip: usize, alpha: f32, beta: f32, errors: usize, weights: usize, candidates: usize,
  cap: i32, heap: usize, top: f32, bottom: f32, extremes: usize, blockErrors: usize, blockWeights: usize,
): i32 {
  let listed = 0;
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  listTop = top;
  listBottom = bottom;
  listSize = 0;
  for (let block = 0; block < blocks; block++) {
    // a block whose largest score plus the largest bound is below top, and whose smallest minus
    // it above bottom, holds no open row
    const b = alpha * load<f32>(blockErrors + (<usize>block << 2)) + beta * load<f32>(blockWeights + (<usize>block << 2));
    const at = extremes + (<usize>block << 3);
    if (load<f32>(at) + b < top && load<f32>(at, 4) - b > bottom) continue;
    const from = block * EXTREME_ROWS;
    const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
    listed = listProductRows(row, n, k, skip, alpha, beta, errors, weights, candidates, cap, heap, from, to, listed);
    if (listed > cap) return listed;
    top = listTop;
    bottom = listBottom;
  }
  return keepProducts(row, errors, weights, alpha, beta, candidates, listed, top, bottom);
}

// listProductRows' running state (globals are per instance: one per thread)
let listTop: f32 = 0;
let listBottom: f32 = 0;
let listSize: i32 = 0;

/**
 * listProducts over rows [from, to), with its state in listTop, listBottom and listSize on
 * both sides; returns how many are listed, or cap + 1.
 */
@inline function listProductRows(
  row: usize, n: i32, k: i32, skip: usize, alpha: f32, beta: f32, errors: usize, weights: usize, candidates: usize,
  cap: i32, heap: usize, from: i32, to: i32, listed: i32,
): i32 {
  let top = listTop;
  let bottom = listBottom;
  let size = listSize;
  const alpha4 = f32x4.splat(alpha);
  const beta4 = f32x4.splat(beta);
  const vectorEnd = n & ~3;
  for (let i = from; i < to; i += 4) {
    // the rows of these four that may be open (bit r: row i + r)
    let lanes = 15;
    if (i < vectorEnd) {
      const v = v128.load(row + (<usize>i << 2));
      const b = f32x4.add(f32x4.mul(alpha4, v128.load(errors + (<usize>i << 2))), f32x4.mul(beta4, v128.load(weights + (<usize>i << 2))));
      const open = v128.or(f32x4.ge(f32x4.add(v, b), f32x4.splat(top)), f32x4.le(f32x4.sub(v, b), f32x4.splat(bottom)));
      lanes = i32x4.bitmask(open);
      if (lanes == 0) continue;
    } else lanes = (1 << (to - i)) - 1;
    while (lanes != 0) {
      const j = i + ctz(lanes);
      lanes &= lanes - 1;
      if (load<u8>(skip + <usize>j) != 0) continue;
      const a = load<f32>(row + (<usize>j << 2));
      const b = alpha * load<f32>(errors + (<usize>j << 2)) + beta * load<f32>(weights + (<usize>j << 2));
      const high = a + b;
      const low = a - b;
      let open = low <= bottom;
      if (high < bottom) bottom = high;
      if (size < k) {
        floatHeapAdd(heap, size, low);
        size++;
        if (size == k && load<f32>(heap) > top) top = load<f32>(heap);
      } else if (low > load<f32>(heap)) {
        floatHeapReplace(heap, size, low);
        if (load<f32>(heap) > top) top = load<f32>(heap);
      }
      open = open || high >= top || high != high;
      if (!open) continue;
      if (listed == cap) {
        listed = keepProducts(row, errors, weights, alpha, beta, candidates, listed, top, bottom);
        if (listed > cap >> 1) return cap + 1;
      }
      store<i32>(candidates + (<usize>listed << 2), j);
      listed++;
    }
  }
  listTop = top;
  listBottom = bottom;
  listSize = size;
  return listed;
}

/**
 * selectRow's answer (no cosine step) for one query whose row holds approximate inner products
 * (see listProducts): the listed rows are scored exactly (dot, as scores gives them) in place,
 * and the k best and the range taken over them alone, the same as over the whole row: the k best
 * and the largest score are among them, and so is a row holding the smallest. More than `cap`
 * candidates, k of 0 or a query whose α or β is not finite: the whole row is scored exactly and
 * selectRow runs on it.
 *
 * Both thresholds start at exact scores, of rows picked by approxProducts' block extremes
 * (highestScores, lowestScore): most rows of a trained model score near 0, where the bounds of
 * the rows of large norm that the smallest usually belongs to leave them all open; from an
 * exact score near the smallest on, only rows that may score below it are. Likewise, without a
 * start, every row that enters the running k best would be open.
 */
function refineProductRow(
  row: usize, n: i32, k: i32, skip: usize, alpha: f32, beta: f32, errors: usize, weights: usize, Y: usize, f: i32,
  x: usize, out: usize, range: usize, candidates: usize, cap: i32, heap: usize, extremes: usize, blockErrors: usize,
  blockWeights: usize,
): i32 {
  const stride = <usize>f << 2;
  let listed = cap + 1;
  if (k > 0 && alpha < Infinity && beta < Infinity) {
    // the candidate list is empty until listProducts: its room holds highestScores' blocks meanwhile
    const top = highestScores(row, n, k, skip, weights, Y, stride, x, f, extremes, candidates);
    const bottom = lowestScore(row, n, skip, weights, Y, stride, x, f, extremes);
    listed = listProducts(
      row, n, k, skip, alpha, beta, errors, weights, candidates, cap, heap, top, bottom, extremes, blockErrors, blockWeights,
    );
  }
  if (listed > cap) {
    scores(Y, f, x, row, 0, n);
    return selectRow(row, n, k, skip, 0, 0, out, range);
  }
  let low = <f32>Infinity;
  let high = <f32>-Infinity;
  let size = 0;
  for (let c = 0; c < listed; c++) {
    const j = load<i32>(candidates + (<usize>c << 2));
    const s = dot(Y + <usize>j * stride, x, f);
    store<f32>(row + (<usize>j << 2), s);
    if (s < low) low = s;
    if (s > high) high = s;
    if (s != s) continue;
    if (size < k) size = heapPush(out, row, size, j);
    else if (below(row, load<i32>(out), j)) heapReplace(out, row, size, j);
  }
  for (let end = size - 1; end > 0; end--) {
    const worst = load<i32>(out);
    store<i32>(out, load<i32>(out + (<usize>end << 2)));
    store<i32>(out + (<usize>end << 2), worst);
    siftDown(out, row, 0, end);
  }
  store<f32>(range, low);
  store<f32>(range, high, 4);
  return size;
}

/**
 * The row of the largest (sign 1) or smallest (sign −1) approximate score in block b, not
 * skipped nor of unknown bound (weights +∞; weights 0: none is), or −1.
 */
@inline function extremeRow(row: usize, n: i32, skip: usize, weights: usize, b: i32, sign: f32): i32 {
  const from = b * EXTREME_ROWS;
  const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
  let found = -1;
  let best = <f32>-Infinity;
  for (let j = from; j < to; j++) {
    const a = sign * load<f32>(row + (<usize>j << 2));
    if (load<u8>(skip + <usize>j) == 0 && a > best && (weights == 0 || load<f32>(weights + (<usize>j << 2)) < Infinity)) {
      best = a;
      found = j;
    }
  }
  return found;
}

/**
 * The exact score of the row, not skipped nor of unknown bound, with the smallest approximate
 * score within the block of EXTREME_ROWS rows whose smallest is the smallest (approxProducts'
 * extremes; +∞ when there is none): an upper bound on the smallest exact score.
 */
function lowestScore(row: usize, n: i32, skip: usize, weights: usize, Y: usize, stride: usize, x: usize, f: i32, extremes: usize): f32 {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  let block = -1;
  let least = <f32>Infinity;
  for (let b = 0; b < blocks; b++) {
    const v = load<f32>(extremes + (<usize>b << 3), 4);
    if (v < least) {
      least = v;
      block = b;
    }
  }
  if (block < 0) return Infinity;
  const lowest = extremeRow(row, n, skip, weights, block, -1);
  if (lowest < 0) return Infinity;
  const s = dot(Y + <usize>lowest * stride, x, f);
  return s == s ? s : <f32>Infinity;
}

/** Most k for which highestScores looks for a start (it keeps k blocks sorted by insertion). */
const SEEDED_UP_TO = 16;

/**
 * The smallest of k exact scores of rows not skipped nor of unknown bound, one from each of the k
 * blocks of EXTREME_ROWS rows with the largest largest (approxProducts' extremes; ties: the
 * first), the row of the largest approximate score in each: at least k rows score that much. −∞
 * when k is above SEEDED_UP_TO, or when one of those blocks has no such row. `picked`: k int32s
 * of scratch.
 */
function highestScores(
  row: usize, n: i32, k: i32, skip: usize, weights: usize, Y: usize, stride: usize, x: usize, f: i32, extremes: usize,
  picked: usize,
): f32 {
  if (k > SEEDED_UP_TO) return -Infinity;
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  if (blocks < k) return -Infinity;
  // the k best blocks, best first, by insertion (a block enters only past the k-th best)
  let size = 0;
  for (let b = 0; b < blocks; b++) {
    const v = load<f32>(extremes + (<usize>b << 3));
    if (size == k && !(v > load<f32>(extremes + (<usize>load<i32>(picked + (<usize>(k - 1) << 2)) << 3)))) continue;
    let at = size < k ? size++ : k - 1;
    while (at > 0) {
      const above = load<i32>(picked + (<usize>(at - 1) << 2));
      if (!(v > load<f32>(extremes + (<usize>above << 3)))) break;
      store<i32>(picked + (<usize>at << 2), above);
      at--;
    }
    store<i32>(picked + (<usize>at << 2), b);
  }
  let least = <f32>Infinity;
  for (let r = 0; r < k; r++) {
    const block = load<i32>(picked + (<usize>r << 2));
    const from = block * EXTREME_ROWS;
    const to = from + EXTREME_ROWS < n ? from + EXTREME_ROWS : n;
    // the block's largest is noted: the first row that holds it, unless skipped or unknown
    const value = load<f32>(extremes + (<usize>block << 3));
    let best = -1;
    for (let j = from; j < to; j++) {
      if (load<f32>(row + (<usize>j << 2)) == value) {
        best = j;
        break;
      }
    }
    if (best < 0 || load<u8>(skip + <usize>best) != 0 || !(load<f32>(weights + (<usize>best << 2)) < Infinity))
      best = extremeRow(row, n, skip, weights, block, 1);
    if (best < 0) return -Infinity;
    const s = dot(Y + <usize>best * stride, x, f);
    if (s != s) return -Infinity;
    if (s < least) least = s;
  }
  return least;
}

/**
 * selectRows (no cosine step) for query rows [start, end) of a block of approximate inner
 * products (approxProducts): refineProductRow per row, with the query's α and β at bounds[2q]
 * and bounds[2q + 1], the rows' errors and weights (and their largest per block), the query's
 * float factors at Q + q·f, the float rows Y and the query's block extremes (approxProducts).
 * scratch: n bytes of skip mask, then (16-byte aligned) room for cap + 4 int32 candidates, then
 * k floats.
 */
export function refineProducts(
  scores: usize, n: i32, k: i32, excludeStart: usize, exclude: usize, Y: usize, f: i32, Q: usize,
  errors: usize, weights: usize, bounds: usize, best: usize, found: usize, range: usize,
  start: i32, end: i32, skip: usize, cap: i32, extremes: usize, blockErrors: usize, blockWeights: usize,
): void {
  const blocks = (n + EXTREME_ROWS - 1) / EXTREME_ROWS;
  const candidates = skip + ((<usize>n + 15) & ~15);
  const heap = candidates + ((<usize>cap + 4) << 2);
  for (let q = start; q < end; q++) {
    memory.fill(skip, 0, <usize>n);
    const from = load<i32>(excludeStart + (<usize>q << 2));
    const to = load<i32>(excludeStart + (<usize>(q + 1) << 2));
    for (let e = from; e < to; e++) {
      const i = load<i32>(exclude + (<usize>e << 2));
      if (<u32>i < <u32>n) store<u8>(skip + <usize>i, 1);
    }
    const count = refineProductRow(
      scores + ((<usize>q * <usize>n) << 2), n, k, skip, load<f32>(bounds + (<usize>q << 3)),
      load<f32>(bounds + (<usize>q << 3), 4), errors, weights, Y, f,
      Q + ((<usize>q * <usize>f) << 2), best + ((<usize>q * <usize>k) << 2), range + (<usize>q << 3),
      candidates, cap, heap, extremes + ((<usize>q * <usize>blocks) << 3), blockErrors, blockWeights,
    );
    store<i32>(found + (<usize>q << 2), count);
  }
}

/** acc + a · b over the 4-byte groups of four lanes: signed codes a, query codes b in 0..127 (exact in int32). */
@inline function dot8x4(acc: v128, a: v128, b: v128, ones: v128): v128 {
  // two products of at most 127 · 127 per 16-bit lane: no overflow, so either lowering of the
  // relaxed dot (with or without saturation) gives the same
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(a, b), ones));
  // pair sums of bytes 0..7 and 8..15, then the pairs of pairs
  const low = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(b));
  const high = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(b));
  return i32x4.add(acc, i32x4.add(v128.shuffle<i32>(low, high, 0, 2, 4, 6), v128.shuffle<i32>(low, high, 1, 3, 5, 7)));
}

/**
 * out[q · outStride + j] = approximate inner product of row j and query q, (cⱼ · (code − 64)) ·
 * sⱼ · t_q as float32 (cⱼ·code exact in int32, then two roundings), for rows [start, end) of
 * the packed codes G (quantizeProductRows: each four rows interleaved, 4 bytes of each row in
 * turn, `stride` bytes a row, a multiple of 4, rows padded to a multiple of 8 with zero codes,
 * sums and scales) and the nq query code rows of QC (64 + d, `stride` bytes a row; room for a
 * multiple of four), with sums[j] = Σ cⱼ, scales[j] = sⱼ (NaN: unknown) and qScales[q] = t. The
 * same rows and codes serve cosines (quantizeRows: unit rows) and inner products
 * (quantizeProductRows). Each lane of an accumulator is one row's sum, so four scores come out
 * of a vector with no horizontal adds; eight rows against four queries at a time. With them,
 * the largest and smallest score of each EXTREME_ROWS rows of each query (NaN if any is, for
 * listCandidates), as a pair at extremes + 8 · (q · ⌈outStride / EXTREME_ROWS⌉
 * + block), for refineProductRow: start is a multiple of EXTREME_ROWS, and end too unless it is
 * outStride.
 */
export function approxProducts(
  G: usize, stride: i32, QC: usize, qScales: usize, nq: i32, sums: usize, scales: usize,
  out: usize, outStride: i32, start: i32, end: i32, extremes: usize,
): void {
  const blocks = (outStride + EXTREME_ROWS - 1) / EXTREME_ROWS;
  approxProductBlock(G, stride, QC, qScales, nq, sums, scales, out, outStride, start, end, 0, 0);
  const outRow = <usize>outStride << 2;
  for (let q = 0; q < nq; q++) {
    for (let from = start; from < end; from += EXTREME_ROWS) {
      const to = from + EXTREME_ROWS < end ? from + EXTREME_ROWS : end;
      const noted = extremes + (<usize>(q * blocks + from / EXTREME_ROWS) << 3);
      noteExtremes(out + <usize>q * outRow + (<usize>from << 2), to - from, noted);
    }
  }
}

/** Four scores of rows j .. j + 3 (offset 64 taken out, scaled) from an accumulator. */
@inline function productScores(acc: v128, sums: v128, scales: v128, t: v128): v128 {
  return f32x4.mul(f32x4.mul(f32x4.convert_i32x4_s(i32x4.sub(acc, i32x4.shl(sums, 6))), scales), t);
}

/** Stores the first `count` (1..4) lanes of v at o. */
@inline function storeLanes(o: usize, v: v128, count: i32): void {
  v128.store32_lane(o, v, 0);
  if (count > 1) v128.store32_lane(o, v, 1, 4);
  if (count > 2) v128.store32_lane(o, v, 2, 8);
  if (count > 3) v128.store32_lane(o, v, 3, 12);
}

/**
 * approxProducts for rows [from, to) (at most EXTREME_ROWS, from a multiple of 8: their codes
 * stay in the core's cache for every four queries), and their largest and smallest score per
 * query at noted + q · notedStride, taken from the stored scores afterwards (held in registers
 * over the rows, with the queries' scales, they left too few for the tile's sums: 1.7× slower).
 */
function approxProductBlock(
  G: usize, stride: i32, QC: usize, qScales: usize, nq: i32, sums: usize, scales: usize,
  out: usize, outStride: i32, from: i32, to: i32, noted: usize, notedStride: usize,
): void {
  // 64 factors (the default) with the stride a constant: the engine unrolls the sums' loop
  if (stride == 64) approxProductRows(G, 64, QC, qScales, nq, sums, scales, out, outStride, from, to, noted, notedStride);
  else approxProductRows(G, <usize>stride, QC, qScales, nq, sums, scales, out, outStride, from, to, noted, notedStride);
}

@inline function approxProductRows(
  G: usize, s: usize, QC: usize, qScales: usize, nq: i32, sums: usize, scales: usize,
  out: usize, outStride: i32, from: i32, to: i32, noted: usize, notedStride: usize,
): void {
  const groupBytes = s << 2;
  const outRow = <usize>outStride << 2;
  // 1 in every lane, from a number the compiler cannot see (nq > 0): as a constant it was put
  // back into every dot8x4, and the engine made it anew each time (about a fifth slower)
  const ones = i16x8.splat(<i16>(1 - (nq >>> 31)));
  let x = QC;
  for (let q = 0; q < nq; q += 4) {
    // the last queries of a block of fewer than a multiple of four: their codes are read past
    // (QC has room for four), their scores not stored
    const live = nq - q < 4 ? nq - q : 4;
    const x1 = x + s;
    const x2 = x1 + s;
    const x3 = x2 + s;
    const scale = qScales + (<usize>q << 2);
    let o = out + <usize>q * outRow + (<usize>from << 2);
    for (let j = from; j < to; j += 8) {
      const p0 = G + (<usize>(j >> 2)) * groupBytes;
      const p1 = p0 + groupBytes;
      let a0 = i32x4.splat(0);
      let a1 = i32x4.splat(0);
      let a2 = i32x4.splat(0);
      let a3 = i32x4.splat(0);
      let a4 = i32x4.splat(0);
      let a5 = i32x4.splat(0);
      let a6 = i32x4.splat(0);
      let a7 = i32x4.splat(0);
      for (let c: usize = 0; c < s; c += 4) {
        const v0 = v128.load(p0 + (c << 2));
        const v1 = v128.load(p1 + (c << 2));
        let w = v128.load32_splat(x + c);
        a0 = dot8x4(a0, v0, w, ones);
        a1 = dot8x4(a1, v1, w, ones);
        w = v128.load32_splat(x1 + c);
        a2 = dot8x4(a2, v0, w, ones);
        a3 = dot8x4(a3, v1, w, ones);
        w = v128.load32_splat(x2 + c);
        a4 = dot8x4(a4, v0, w, ones);
        a5 = dot8x4(a5, v1, w, ones);
        w = v128.load32_splat(x3 + c);
        a6 = dot8x4(a6, v0, w, ones);
        a7 = dot8x4(a7, v1, w, ones);
      }
      const sum0 = v128.load(sums + (<usize>j << 2));
      const sum1 = v128.load(sums + (<usize>j << 2), 16);
      const scale0 = v128.load(scales + (<usize>j << 2));
      const scale1 = v128.load(scales + (<usize>j << 2), 16);
      const left = to - j;
      storeScores(o, productScores(a0, sum0, scale0, v128.load32_splat(scale)), productScores(a1, sum1, scale1, v128.load32_splat(scale)), left);
      if (live > 1) {
        const t = v128.load32_splat(scale, 4);
        storeScores(o + outRow, productScores(a2, sum0, scale0, t), productScores(a3, sum1, scale1, t), left);
      }
      if (live > 2) {
        const t = v128.load32_splat(scale, 8);
        storeScores(o + 2 * outRow, productScores(a4, sum0, scale0, t), productScores(a5, sum1, scale1, t), left);
      }
      if (live > 3) {
        const t = v128.load32_splat(scale, 12);
        storeScores(o + 3 * outRow, productScores(a6, sum0, scale0, t), productScores(a7, sum1, scale1, t), left);
      }
      o += 32;
    }
    x += s << 2;
  }
}

/** Stores eight scores of rows j .. j + 7 at o, only the first `left` when fewer are left. */
@inline function storeScores(o: usize, r0: v128, r1: v128, left: i32): void {
  if (left >= 8) {
    v128.store(o, r0);
    v128.store(o, r1, 16);
  } else {
    storeLanes(o, r0, left);
    if (left > 4) storeLanes(o + 16, r1, left - 4);
  }
}

/** The largest and smallest of the `count` scores at o as a pair at at (both NaN if any score is). */
@inline function noteExtremes(o: usize, count: i32, at: usize): void {
  blockExtremes(o, count, at, true);
}

/**
 * noteExtremes, or with `marks` false (a constant where it is inlined, so that the marks' code
 * goes) the extremes alone, of scores known to be numbers.
 */
@inline function blockExtremes(o: usize, count: i32, at: usize, marks: bool): void {
  let h = <f32>-Infinity;
  let l = <f32>Infinity;
  let unknown = false;
  let r = 0;
  // sixteen at a time in four independent pairs of sums (one pair waited on the previous
  // maximum every four rows: a third of the int8 pass's time)
  if (count >= 16) {
    let h0 = v128.load(o);
    let h1 = v128.load(o, 16);
    let h2 = v128.load(o, 32);
    let h3 = v128.load(o, 48);
    let l0 = h0;
    let l1 = h1;
    let l2 = h2;
    let l3 = h3;
    let nan = marks ? v128.or(v128.or(f32x4.ne(h0, h0), f32x4.ne(h1, h1)), v128.or(f32x4.ne(h2, h2), f32x4.ne(h3, h3))) : i32x4.splat(0);
    for (r = 16; r + 16 <= count; r += 16) {
      const p = o + (<usize>r << 2);
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      const v2 = v128.load(p, 32);
      const v3 = v128.load(p, 48);
      h0 = f32x4.pmax(h0, v0);
      h1 = f32x4.pmax(h1, v1);
      h2 = f32x4.pmax(h2, v2);
      h3 = f32x4.pmax(h3, v3);
      l0 = f32x4.pmin(l0, v0);
      l1 = f32x4.pmin(l1, v1);
      l2 = f32x4.pmin(l2, v2);
      l3 = f32x4.pmin(l3, v3);
      if (marks) nan = v128.or(nan, v128.or(v128.or(f32x4.ne(v0, v0), f32x4.ne(v1, v1)), v128.or(f32x4.ne(v2, v2), f32x4.ne(v3, v3))));
    }
    const high = f32x4.pmax(f32x4.pmax(h0, h1), f32x4.pmax(h2, h3));
    const low = f32x4.pmin(f32x4.pmin(l0, l1), f32x4.pmin(l2, l3));
    const high2 = f32x4.pmax(high, v128.shuffle<f32>(high, high, 2, 3, 0, 1));
    const low2 = f32x4.pmin(low, v128.shuffle<f32>(low, low, 2, 3, 0, 1));
    h = f32x4.extract_lane(f32x4.pmax(high2, v128.shuffle<f32>(high2, high2, 1, 0, 3, 2)), 0);
    l = f32x4.extract_lane(f32x4.pmin(low2, v128.shuffle<f32>(low2, low2, 1, 0, 3, 2)), 0);
    unknown = marks && v128.any_true(nan);
  }
  for (; r < count; r++) {
    const v = load<f32>(o + (<usize>r << 2));
    if (v > h) h = v;
    if (v < l) l = v;
    if (marks && v != v) unknown = true;
  }
  store<f32>(at, unknown ? <f32>NaN : h);
  store<f32>(at, unknown ? <f32>NaN : l, 4);
}

// ---- int8 codes of cosine queries (src/kernels/quantize.ts: quantizeQueries, the reference) ----

/** A query's codes d lie in −63..63, stored as 64 + d (see quantize.ts: QUERY_LIMIT). */
const QUERY_LIMIT: f64 = 63;
/** Norms in this range keep every float32 product of the cosine clear of under- and overflow (quantize.ts). */
const SAFE_NORM_LOW: f32 = 9.313225746154785e-10; // 2⁻³⁰
const SAFE_NORM_HIGH: f32 = 1073741824; // 2³⁰

// unitScale's 1/‖x‖ (one instance a thread)
let unitInverse: f64 = 0;

/**
 * The float32 scale of x's unit vector coded to ±limit (its largest magnitude over limit), as
 * quantize.ts's quantizeUnit takes it, in float64 sums; 1/‖x‖ in unitInverse. x (f floats at
 * row) is nonzero and finite.
 */
@inline function unitScale(row: usize, f: i32, limit: f64): f64 {
  let squares: f64 = 0;
  let largest: f64 = 0;
  for (let a = 0; a < f; a++) {
    const v = <f64>load<f32>(row + (<usize>a << 2));
    squares += v * v;
    const size = v < 0 ? -v : v;
    if (size > largest) largest = size;
  }
  unitInverse = 1 / Math.sqrt(squares);
  return <f64>(<f32>((largest * unitInverse) / limit));
}

/**
 * quantizeQueries for query rows [start, end) of Q (f floats a row; their float32 norms in
 * queryNorms): each row's codes 64 + d at codes + q · stride (stride bytes, the rest 64), its
 * scale t and its bound against rows of quantization error rowError (cosineBound), sums and
 * errors in float64 as there, codes rounded half up (floor(x + 0.5)). A query whose
 * norm is 0 or outside [2⁻³⁰, 2³⁰] gets codes 64, scale 0 and the bound +∞ (scored exactly).
 */
export function quantizeQueryRows(
  Q: usize, f: i32, queryNorms: usize, start: i32, end: i32, codes: usize, stride: i32, scales: usize, bounds: usize,
  rowError: f64,
): void {
  for (let q = start; q < end; q++) {
    const row = Q + ((<usize>q * <usize>f) << 2);
    const out = codes + <usize>q * <usize>stride;
    memory.fill(out, 64, <usize>stride);
    store<f32>(scales + (<usize>q << 2), 0);
    store<f32>(bounds + (<usize>q << 2), Infinity);
    const norm = load<f32>(queryNorms + (<usize>q << 2));
    if (!(norm >= SAFE_NORM_LOW && norm <= SAFE_NORM_HIGH)) continue;
    const scale = unitScale(row, f, QUERY_LIMIT);
    const inverse = unitInverse;
    const perCode = inverse / scale;
    let error: f64 = 0;
    for (let a = 0; a < f; a++) {
      const v = <f64>load<f32>(row + (<usize>a << 2));
      let code = Math.floor(v * perCode + 0.5);
      if (code > QUERY_LIMIT) code = QUERY_LIMIT;
      if (code < -QUERY_LIMIT) code = -QUERY_LIMIT;
      store<u8>(out + <usize>a, <u8>(<i32>code + 64));
      const difference = v * inverse - scale * code;
      error += difference * difference;
    }
    store<f32>(scales + (<usize>q << 2), <f32>scale);
    const bound = rowError + (1 + rowError) * Math.sqrt(error) + <f64>f * 2.384185791015625e-7 + 1e-4;
    store<f32>(bounds + (<usize>q << 2), <f32>(bound * (1 + 9.5367431640625e-7)));
  }
}

/** A row's codes c lie in −127..127 (quantize.ts: quantizeRows). */
const ROW_LIMIT: f64 = 127;

/**
 * quantizeRows' codes of rows [start, end) of Y (f floats a row, their float32 norms in
 * `norms`), each row's unit vector as codes cⱼ, packed as quantize.ts's packRow packs them
 * (four rows interleaved, 4 bytes of each in turn, `stride` bytes a row, the bytes past f zero),
 * with sums[j] = Σ cⱼ and scales[j] = sⱼ, in float64 as quantizeUnit, codes rounded half up
 * (floor(x + 0.5)). A row of norm 0 is left as it is (codes, sum and scale 0 in fresh memory);
 * one whose norm is outside [2⁻³⁰, 2³⁰] gets the scale NaN. Returns the largest ‖ŷⱼ − sⱼcⱼ‖.
 */
export function quantizeUnitRows(
  Y: usize, f: i32, norms: usize, start: i32, end: i32, codes: usize, stride: i32, sums: usize, scales: usize,
): f64 {
  let largestError: f64 = 0;
  for (let j = start; j < end; j++) {
    const norm = load<f32>(norms + (<usize>j << 2));
    if (norm == 0) continue;
    if (!(norm >= SAFE_NORM_LOW && norm <= SAFE_NORM_HIGH)) {
      store<f32>(scales + (<usize>j << 2), NaN);
      continue;
    }
    const row = Y + ((<usize>j * <usize>f) << 2);
    const scale = unitScale(row, f, ROW_LIMIT);
    const inverse = unitInverse;
    const perCode = inverse / scale;
    const base = codes + (<usize>(j >> 2)) * (<usize>stride << 2) + (<usize>(j & 3) << 2);
    let sum = 0;
    let error: f64 = 0;
    for (let a = 0; a < stride; a++) {
      let code: f64 = 0;
      if (a < f) {
        const v = <f64>load<f32>(row + (<usize>a << 2));
        code = Math.floor(v * perCode + 0.5);
        if (code > ROW_LIMIT) code = ROW_LIMIT;
        if (code < -ROW_LIMIT) code = -ROW_LIMIT;
        const difference = v * inverse - scale * code;
        error += difference * difference;
      }
      store<i8>(base + (<usize>(a >> 2) << 4) + <usize>(a & 3), <i8>(<i32>code));
      sum += <i32>code;
    }
    store<i32>(sums + (<usize>j << 2), sum);
    store<f32>(scales + (<usize>j << 2), <f32>scale);
    const rowError = Math.sqrt(error);
    if (rowError > largestError) largestError = rowError;
  }
  return largestError;
}
