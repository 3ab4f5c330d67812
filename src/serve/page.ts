import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AlsError } from '../errors.js';

/** The page's files (src/serve/page/) and their content types: nothing else is served under /page/. */
export const PAGE_FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
} as const;

type PageFile = keyof typeof PAGE_FILES;

/**
 * Only the page's own origin: no inline script or style, no other host (the page makes no
 * request elsewhere), no framing, no forms posting anywhere. Scripts set bar widths through
 * CSSOM (element.style), which style-src does not govern.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Where the page's files are. tsc does not copy them into dist, so the compiled module
 * (dist/src/serve/page.js) reads them from the package's src/serve/page/ (shipped by
 * package.json "files"); run from source (src/serve/page.ts) they sit beside it.
 */
export function pageDirectory(): string {
  const beside = fileURLToPath(new URL('./page/', import.meta.url));
  if (existsSync(`${beside}index.html`)) return beside;
  return fileURLToPath(new URL('../../../src/serve/page/', import.meta.url));
}

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * GET / (the page) and GET /page/:file (its script and style), read once at registration so
 * that a missing file stops start-up rather than failing a request. The stylesheet and script
 * are linked with their content hash (?v=…): such a URL never changes its body and is cached
 * for a year; anything else is revalidated by ETag on every use.
 */
export async function pageRoutes(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const dir = options.dir ?? pageDirectory();
  const assets = new Map<PageFile, Asset>();
  const asset = (body: Buffer, type: string): Asset => ({
    body,
    type,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
  });
  for (const name of ['app.js', 'style.css'] as const) {
    assets.set(name, asset(await readFile(`${dir}${name}`), PAGE_FILES[name]));
  }
  let html = await readFile(`${dir}index.html`, 'utf8');
  for (const name of ['app.js', 'style.css'] as const) {
    const link = `/page/${name}`;
    if (!html.includes(`"${link}"`)) throw new AlsError('model', `the page's index.html does not link ${link}`);
    html = html.replace(`"${link}"`, `"${link}?v=${versionOf(assets.get(name) as Asset)}"`);
  }
  assets.set('index.html', asset(Buffer.from(html), PAGE_FILES['index.html']));

  const send = (request: FastifyRequest, reply: FastifyReply, file: Asset, immutable: boolean): FastifyReply => {
    reply
      .header('content-security-policy', PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('etag', file.etag)
      .type(file.type);
    if (request.headers['if-none-match'] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };

  // the page is not part of the API: left out of the OpenAPI document
  app.get('/', { schema: { hide: true } }, (request, reply) =>
    send(request, reply, assets.get('index.html') as Asset, false),
  );
  app.get<{ Params: { file: string }; Querystring: { v?: string } }>(
    '/page/:file',
    {
      schema: {
        hide: true,
        params: { type: 'object', properties: { file: { type: 'string', maxLength: 100 } }, required: ['file'] },
        querystring: { type: 'object', properties: { v: { type: 'string', maxLength: 100 } } },
      },
    },
    (request, reply) => {
      const file = Object.hasOwn(PAGE_FILES, request.params.file)
        ? assets.get(request.params.file as PageFile)
        : undefined;
      if (file === undefined)
        throw new AlsError('not-found', `the page has no file ${JSON.stringify(request.params.file.slice(0, 100))}`);
      return send(request, reply, file, request.query.v === versionOf(file));
    },
  );
  // browsers ask for it on their own; an empty answer keeps the log and the console free of 404s
  app.get('/favicon.ico', { schema: { hide: true } }, (_request, reply) =>
    reply.code(204).header('cache-control', 'public, max-age=86400').send(),
  );
}

/** The ?v= of a file's URL: its ETag without quotes. */
function versionOf(file: Asset): string {
  return file.etag.slice(1, -1);
}
