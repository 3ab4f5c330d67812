import { AlsError } from '../errors.js';
import type { ScoredItem } from '../query/similar.js';
import { padEnd, shown, type Output } from './output.js';

/** -n must ask for at least one result. */
export function checkCount(count: number): void {
  if (!(count >= 1)) throw new AlsError('usage', `--count must be at least 1, not ${count}`);
}

/** A numbered list of items with their 0..1 scores and a small bar; `below(k)` adds a line under item k. */
export function printScored(out: Output, items: ScoredItem[], below?: (k: number) => string): void {
  const names = items.map((s) => shown(s.name));
  const width = Math.min(40, Math.max(...names.map((name) => [...name].length), 4));
  items.forEach((s, i) => {
    const bar = '█'.repeat(Math.round(s.score * 10));
    out.line(`${String(i + 1).padStart(3)}. ${padEnd(names[i], width)}  ${s.score.toFixed(3)} ${out.color.green(bar)}`);
    if (below) out.line(below(i));
  });
  if (items.length === 0) out.line(out.color.dim('   (nothing to list)'));
}
