import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PAGE_CSP } from '../../src/serve/page.js';
import { buildApp } from '../../src/serve/server.js';
import { sampleModel } from './fixtures.js';

const ENABLE = 'apt-get install chromium, or set ALS_CHROMIUM=/path';

/** ALS_CHROMIUM, or the first of chromium, chromium-browser, google-chrome on the PATH (or in /usr/bin); null when none. */
function chromiumExecutable(): string | null {
  const runnable = (path: string): boolean => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const given = process.env.ALS_CHROMIUM;
  if (given !== undefined && given !== '') return runnable(given) ? given : null;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin'];
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    for (const dir of dirs) if (runnable(join(dir, name))) return join(dir, name);
  }
  return null;
}

describe('GET / and /page/:file', () => {
  it('serve the page with its content types, the self-only CSP, ETags (304 when unchanged) and a year of caching only for content-hashed URLs', async () => {
    const app = await buildApp({ model: await sampleModel() });
    const html = await app.inject('/');
    assert.equal(html.statusCode, 200);
    assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(html.headers['content-security-policy'], PAGE_CSP);
    assert.equal(html.headers['x-content-type-options'], 'nosniff');
    assert.equal(html.headers['cache-control'], 'no-cache');
    assert.equal(
      (await app.inject({ url: '/', headers: { 'if-none-match': html.headers.etag as string } })).statusCode,
      304,
    );
    // the CSP allows no inline code: every script and style is a file of the page
    assert.doesNotMatch(html.body, /<script(?![^>]*\ssrc=)|<style|\sstyle=|\son[a-z]+=/i);
    const linked = [...html.body.matchAll(/"\/page\/([a-z.]+)\?v=([\w-]+)"/g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(linked.map(([file]) => file).sort(), ['app.js', 'style.css']);
    for (const [file, version] of linked) {
      const hashed = await app.inject(`/page/${file}?v=${version}`);
      assert.equal(hashed.statusCode, 200);
      assert.equal(
        hashed.headers['content-type'],
        file === 'app.js' ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      assert.equal(hashed.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(hashed.headers.etag, `"${version}"`);
      assert.equal((await app.inject(`/page/${file}`)).headers['cache-control'], 'no-cache');
      assert.equal((await app.inject(`/page/${file}?v=old`)).headers['cache-control'], 'no-cache');
    }
    const missing = await app.inject('/page/index.js');
    assert.equal(missing.statusCode, 404);
    assert.deepEqual(missing.json(), {
      statusCode: 404,
      code: 'not-found',
      error: 'Not Found',
      message: 'the page has no file "index.js"',
    });
    assert.equal((await app.inject('/page/..%2Fpage.ts')).statusCode, 404);
    assert.equal((await app.inject('/favicon.ico')).statusCode, 204);
    await app.close();
  });
});

const executable = chromiumExecutable();
const NO_CHROMIUM = process.env.ALS_CHROMIUM
  ? `ALS_CHROMIUM=${process.env.ALS_CHROMIUM} is not an executable: ${ENABLE}`
  : `no Chromium found: ${ENABLE}`;

describe(
  'the page at / in a real browser (Chromium, headless)',
  { skip: executable === null && process.env.CI !== 'true' ? NO_CHROMIUM : false },
  () => {
    let app: FastifyInstance;
    let base: string;
    let browser: Browser;
    let page: Page;
    const requests: string[] = [];
    const problems: string[] = [];

    before(async () => {
      if (executable === null) throw new Error(`CI=true and the page test cannot run: ${NO_CHROMIUM}`);
      const model = await sampleModel();
      app = await buildApp({ model });
      await app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      browser = await chromium.launch({ executablePath: executable, headless: true, args: ['--no-sandbox'] });
      page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      page.setDefaultTimeout(5000);
      page.on('request', (request) => requests.push(request.url()));
      page.on('console', (message) => {
        // the browser logs every 4xx answer; those the test asks for are checked where they are caused
        const expected = /^Failed to load resource: the server responded with a status of 40[04]/.test(message.text());
        if ((message.type() === 'error' || message.type() === 'warning') && !expected) problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(String(error)));
    });

    after(async () => {
      await browser?.close();
      await app?.close();
    });

    const api = async (path: string, body?: unknown) => {
      const response = await fetch(
        base + path,
        body === undefined
          ? {}
          : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      );
      return { status: response.status, body: (await response.json()) as any };
    };
    const texts = (selector: string) => page.locator(selector).allTextContents();
    /** Polls until `read()` deep-equals `expected` (the page answers asynchronously), then asserts it. */
    const settles = async <T>(read: () => Promise<T>, expected: T, timeoutMs = 5000): Promise<void> => {
      const end = Date.now() + timeoutMs;
      let seen = await read();
      while (!isDeepEqual(seen, expected) && Date.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        seen = await read();
      }
      assert.deepEqual(seen, expected);
    };

    it('shows the model, suggests artists for a prefix, and lists the neighbours of the one picked with the keyboard, bars as long as the scores', async () => {
      await page.goto(`${base}/`);
      const model = (await api('/api/model')).body;
      await settles(
        () => page.locator('#model').textContent(),
        `Model ${model.version} · ${model.users.toLocaleString('en')} users · ${model.items.toLocaleString('en')} items`,
      );

      await page.locator('#query').pressSequentially('radio');
      const items = (await api('/api/items?prefix=radio&n=10')).body.items.map((i: { name: string }) => i.name);
      assert.ok(items.includes('Radiohead'), JSON.stringify(items));
      await settles(() => texts('#suggestions li .name'), items);
      assert.equal(await page.locator('#query').getAttribute('aria-expanded'), 'true');

      for (let k = 0; k <= items.indexOf('Radiohead'); k++) await page.keyboard.press('ArrowDown');
      assert.equal(
        await page.locator('#query').getAttribute('aria-activedescendant'),
        `suggestion-${items.indexOf('Radiohead')}`,
      );
      await page.keyboard.press('Enter');
      assert.equal(await page.locator('#suggestions').isHidden(), true);

      const similar = (await api('/api/similar/Radiohead?n=15')).body.similar as { name: string; score: number }[];
      await settles(
        () => texts('#similar-list > li .who a'),
        similar.map((s) => s.name),
      );
      assert.equal(new URL(page.url()).hash, '#a=Radiohead');
      // runs in the page (no DOM types here): the fill's width over its track's inner width
      const bars = await page
        .locator('#similar-list > li')
        .evaluateAll((rows) =>
          rows.map(
            (row: any) =>
              row.querySelector('.fill').getBoundingClientRect().width / row.querySelector('.bar').clientWidth,
          ),
        );
      assert.equal(bars.length, similar.length);
      bars.forEach((ratio, k) =>
        assert.ok(Math.abs(ratio - similar[k].score) < 0.02, `bar ${k}: ${ratio} for score ${similar[k].score}`),
      );
      assert.ok(bars[0] > bars[bars.length - 1], 'bars shorten down the list');
    });

    it('shows the neighbours of a neighbour on a click, picks a suggestion with the mouse, and goes back and forth through the hash', async () => {
      const neighbour = (await texts('#similar-list > li .who a'))[0];
      await page.locator('#similar-list > li .who a').first().click();
      const theirs = (await api(`/api/similar/${encodeURIComponent(neighbour)}?n=15`)).body.similar.map(
        (s: { name: string }) => s.name,
      );
      await settles(() => texts('#similar-list > li .who a'), theirs);
      assert.equal(await page.locator('#similar-heading a').textContent(), neighbour);

      await page.goBack();
      const radiohead = (await api('/api/similar/Radiohead?n=15')).body.similar.map((s: { name: string }) => s.name);
      await settles(() => texts('#similar-list > li .who a'), radiohead);
      await page.goForward();
      await settles(() => texts('#similar-list > li .who a'), theirs);

      await page.locator('#query').fill('');
      await page.locator('#query').pressSequentially('portis');
      await page.locator('#suggestions li[data-name="Portishead"]').click();
      const portishead = (await api('/api/similar/Portishead?n=15')).body.similar.map((s: { name: string }) => s.name);
      await settles(() => texts('#similar-list > li .who a'), portishead);
      await page.goBack();
      await settles(() => texts('#similar-list > li .who a'), theirs);
    });

    it('recommends for a list of two artists (one with plays) what POST /api/recommend answers, each explained by listed artists, and keeps the list on reload', async () => {
      await page.goto(`${base}/#a=Radiohead`);
      await page.locator('#similar-heading button.add').click();
      const second = (await texts('#similar-list > li .who a'))[1];
      await page.locator('#similar-list > li').nth(1).locator('button.add').click();
      await settles(() => texts('#list li .who a'), ['Radiohead', second]);
      assert.equal(await page.locator('#similar-list > li').nth(1).locator('button.add').isDisabled(), true);
      await page.getByLabel('Plays of Radiohead', { exact: true }).fill('120');
      await page.getByLabel('Plays of Radiohead', { exact: true }).press('Tab');

      const answer = (
        await api('/api/recommend', {
          items: [{ name: 'Radiohead', plays: 120 }, { name: second }],
          n: 10,
          explain: true,
        })
      ).body;
      type Recommended = { name: string; explanation: { contributions: { name: string; share: number }[] } };
      const recommendations = answer.recommendations as Recommended[];
      assert.ok(recommendations.length > 0);
      await settles(
        () => texts('#recs > li .who a'),
        recommendations.map((r) => r.name),
      );
      const shown = await page
        .locator('#recs > li')
        .evaluateAll((rows) =>
          rows.map((row: any) => Array.from(row.querySelectorAll('.why .contributor'), (c: any) => c.textContent)),
        );
      assert.deepEqual(
        shown,
        recommendations.map((r) => r.explanation.contributions.map((c) => `${c.name} ${Math.round(c.share * 100)}%`)),
      );
      const named = await texts('#recs > li:first-child .why .contributor a');
      assert.ok(named.length > 0 && named.every((n) => n === 'Radiohead' || n === second), JSON.stringify(named));
      assert.equal(
        new URL(page.url()).hash,
        `#${new URLSearchParams([
          ['a', 'Radiohead'],
          ['l', '120:Radiohead'],
          ['l', `:${second}`],
        ])}`,
      );

      await page.reload();
      await settles(
        () => texts('#recs > li .who a'),
        recommendations.map((r) => r.name),
      );
      assert.equal(await page.getByLabel('Plays of Radiohead', { exact: true }).inputValue(), '120');

      await page.getByRole('button', { name: `Remove ${second} from your list` }).click();
      await settles(() => texts('#list li .who a'), ['Radiohead']);
      const alone = (
        await api('/api/recommend', { items: [{ name: 'Radiohead', plays: 120 }], n: 10, explain: true })
      ).body.recommendations.map((r: { name: string }) => r.name);
      await settles(() => texts('#recs > li .who a'), alone);
    });

    it("shows an unknown artist's 404 in words with its suggestions, a refused plays value's 400, and asks nothing of another host", async () => {
      await page.locator('#query').fill('radiohed');
      await page.locator('#query').press('Escape');
      await page.locator('#search button[type="submit"]').click();
      const missing = await api('/api/similar/radiohed?n=15');
      assert.equal(missing.status, 404);
      await settles(() => page.locator('#error p').first().textContent(), `Not found: ${missing.body.message}`);
      const suggestions: string[] = missing.body.suggestions ?? [];
      assert.deepEqual(await texts('#error button.suggestion'), suggestions);
      if (suggestions.length > 0) {
        await page.locator('#error button.suggestion').first().click();
        await settles(() => page.locator('#similar-heading a').textContent(), suggestions[0]);
        assert.equal(await page.locator('#error').textContent(), '');
      }

      await page.getByLabel('Plays of Radiohead', { exact: true }).fill('-5');
      await page.getByLabel('Plays of Radiohead', { exact: true }).press('Tab');
      const refused = await api('/api/recommend', { items: [{ name: 'Radiohead', plays: -5 }], n: 10, explain: true });
      assert.equal(refused.status, 400);
      await settles(() => page.locator('#error p').first().textContent(), `Not accepted: ${refused.body.message}`);

      const elsewhere = requests.filter((url) => !url.startsWith(`${base}/`));
      assert.deepEqual(elsewhere, []);
      assert.ok(requests.some((url) => url.startsWith(`${base}/api/recommend`)));
      assert.deepEqual(problems, []);
    });
  },
);

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
