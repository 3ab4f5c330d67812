import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { brokenLink, documentationFiles, headings, proseLines, readDoc, slug } from './markdown.js';

/** Every relative link target of a Markdown file outside code: [text](target) and [text]: target. */
function relativeLinks(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  for (const { line, number } of proseLines(text)) {
    // inline code is not a link
    const prose = line.replace(/`[^`]*`/g, '``');
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      out.push({ target: match[1], line: number });
    const reference = /^\s*\[[^\]]+\]:\s*(\S+)/.exec(prose);
    if (reference !== null) out.push({ target: reference[1], line: number });
  }
  return out.filter(({ target }) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
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
    assert.match(
      brokenLink('README.md', '#no-such-heading') ?? '',
      /README\.md has no heading with the anchor #no-such-heading/,
    );
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
