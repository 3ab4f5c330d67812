/** The smallest and largest score over the candidates (indices where `skip` is not 1). */
export function scoreRange(scores: Float32Array, skip?: Uint8Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    const s = scores[i];
    if (s < min) min = s;
    if (s > max) max = s;
  }
  return { min, max };
}

/**
 * Min-max scaling to 0..1 over all candidates, so that the best candidate scores 1 and the
 * worst 0; raw ALS scores have no fixed range. When every candidate scores the same, 1.
 */
export function minMaxScale(score: number, range: { min: number; max: number }): number {
  const span = range.max - range.min;
  if (!(span > 0)) return 1;
  return Math.min(1, Math.max(0, (score - range.min) / span));
}
