import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../../src/als/random.js';
import { encodedNames, ScoredLines } from '../../src/query/scoredLines.js';

// The --all writers' lines as bytes must be, byte for byte, the template string they replace:
// `${first}\t${second}\t${score.toFixed(6)}\n`, in UTF-8.

function reference(firsts: string[], seconds: string[], lines: [number, number, number][]): Buffer {
  return Buffer.from(lines.map(([a, b, score]) => `${firsts[a]}\t${seconds[b]}\t${score.toFixed(6)}\n`).join(''));
}

describe('ScoredLines: toFixed(6) lines as bytes', () => {
  const firsts = ['a', 'Björk', '', 'x'.repeat(100), 'Sigur Rós\r', '🎸 emoji', 'last'];
  const seconds = ['日本語', 'b', 'Motörhead', 'y'.repeat(40), 'z'];

  it('scores in [0, 1], near halves of 10⁻⁶ and at the ends, over many lines (the buffer grows)', () => {
    const random = seededRandom(3);
    const special = [
      0,
      -0,
      1,
      0.5,
      0.0078125,
      1 / 3,
      2 / 3,
      0.9999995,
      0.99999949999,
      5e-7,
      4.9999999e-7,
      0.1234565,
      1e-300,
    ];
    const lines: [number, number, number][] = [];
    for (let n = 0; n < 50_000; n++) {
      const score = n < special.length ? special[n] : n % 7 === 0 ? Math.round(random() * 2e6) / 2e6 : random();
      lines.push([n % firsts.length, n % seconds.length, score]);
    }
    const made = new ScoredLines(encodedNames(firsts), encodedNames(seconds));
    const parts: Buffer[] = [];
    for (let n = 0; n < lines.length; n++) {
      made.add(...lines[n]);
      if (n % 9_999 === 0) parts.push(made.take());
    }
    parts.push(made.take());
    assert.deepEqual(Buffer.concat(parts), reference(firsts, seconds, lines));
  });

  it('scores outside [0, 1] and not numbers as toFixed gives them', () => {
    const lines: [number, number, number][] = [NaN, Infinity, -Infinity, -0.25, 1.5, 1e21, -1e-7].map((s, n) => [
      n % 3,
      n % 2,
      s,
    ]);
    const made = new ScoredLines(encodedNames(firsts), encodedNames(seconds));
    for (const line of lines) made.add(...line);
    assert.deepEqual(made.take(), reference(firsts, seconds, lines));
  });

  it('names with newlines are measured one by one (no caller of the --all writers gets them, but the offsets hold)', () => {
    const odd = ['one\ntwo', 'three', 'four\n', '\nfive', ''];
    const made = new ScoredLines(encodedNames(odd), encodedNames(odd));
    const lines: [number, number, number][] = odd.map((_, n) => [n, (n + 1) % odd.length, n / 10]);
    for (const line of lines) made.add(...line);
    assert.deepEqual(made.take(), reference(odd, odd, lines));
    assert.equal(made.take().length, 0);
  });
});
