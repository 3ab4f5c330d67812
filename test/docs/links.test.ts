import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers.js';
import { documentationFiles, headings, proseLines, readDoc, slug } from './markdown.js';

/** Every relative link target of a Markdown file outside code: [text](target) and [text]: target. */
function relativeLinks(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  for (const { line, number } of proseLines(text)) {
    // inline code is not a link
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: match[1], line: number });
    const reference = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(prose);
    if (reference !== null) out.push({ target: reference[1], line: number });
  }
  return out.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** Why a relative link from `from` (a path from the root) is broken, or null when it is not. */
export function brokenLink(from: string, target: string): string | null {
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? from : normalize(join(dirname(from), decodeURIComponent(pathPart)));
  if (relative(ROOT, join(ROOT, file)).startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(join(ROOT, file))) return `${file} does not exist`;
  if (anchor === undefined || anchor === '') return null;
  if (!file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory()) return `#${anchor}: ${file} is not a Markdown file`;
  const anchors = headings(readDoc(file)).map((h) => h.anchor);
  return anchors.includes(anchor) ? null : `${file} has no heading with the anchor #${anchor}`;
}

describe('the documentation links', () => {
  it('computes the anchors GitHub gives headings', () => {
    assert.equal(slug('als similar [ARTIST]'), 'als-similar-artist');
    assert.equal(slug('Why at least 3 listeners'), 'why-at-least-3-listeners');
    assert.equal(slug('`als tune`: the search'), 'als-tune-the-search');
    assert.equal(slug('Reading it from numpy/pandas'), 'reading-it-from-numpypandas');
    assert.deepEqual(
      headings('# A\n## Options\n```\n# not a heading\n```\n## Options\n').map((h) => h.anchor),
      ['a', 'options', 'options-1'],
    );
  });

  it('finds a broken file, a broken anchor and a link out of the repository', () => {
    assert.equal(brokenLink('README.md', 'docs/no-such-page.md'), 'docs/no-such-page.md does not exist');
    assert.match(brokenLink('README.md', '#no-such-heading') ?? '', /README\.md has no heading with the anchor #no-such-heading/);
    assert.match(brokenLink('README.md', '../../etc/passwd') ?? '', /leaves the repository/);
    assert.equal(brokenLink('README.md', 'data/README.md'), null);
  });

  for (const file of documentationFiles()) {
    it(`has no broken relative link in ${file}`, () => {
      const text = readDoc(file);
      const broken = relativeLinks(text)
        .map(({ target, line }) => ({ line, target, why: brokenLink(file, target) }))
        .filter(({ why }) => why !== null)
        .map(({ line, target, why }) => `${file}:${line}: (${target}) ${why}`);
      assert.deepEqual(broken, []);
    });
  }
});
