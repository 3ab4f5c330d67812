/**
 * The indices of the k largest scores, best first, skipping indices where `skip` is 1. Ties go
 * to the lower index, so results do not depend on anything but the scores. A size-k min-heap:
 * O(n log k) and no allocation per candidate.
 */
export function topK(scores: Float32Array, k: number, skip?: Uint8Array): Int32Array {
  const heap = new Int32Array(Math.max(0, k));
  let size = 0;
  // "a ranks below b": lower score, or equal score and higher index
  const below = (a: number, b: number) => scores[a] < scores[b] || (scores[a] === scores[b] && a > b);
  const siftDown = (at: number) => {
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && below(heap[right], heap[left]) ? right : left;
      if (!below(heap[child], heap[at])) return;
      [heap[at], heap[child]] = [heap[child], heap[at]];
      at = child;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    if (skip !== undefined && skip[i] === 1) continue;
    if (Number.isNaN(scores[i])) continue;
    if (size < k) {
      let at = size++;
      heap[at] = i;
      while (at > 0) {
        const parent = (at - 1) >> 1;
        if (!below(heap[at], heap[parent])) break;
        [heap[at], heap[parent]] = [heap[parent], heap[at]];
        at = parent;
      }
    } else if (size > 0 && below(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  const result = Array.from(heap.subarray(0, size));
  result.sort((a, b) => (below(a, b) ? 1 : below(b, a) ? -1 : 0));
  return Int32Array.from(result);
}
