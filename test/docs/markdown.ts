import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ROOT } from '../helpers.js';

/** README.md and every docs/*.md, as paths relative to the repository root. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** The lines of a Markdown file outside fenced code blocks, with their 1-based numbers. */
export function proseLines(text: string): { line: string; number: number }[] {
  const out: { line: string; number: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, n) => {
    const opening = /^\s*(```+|~~~+)/.exec(line);
    if (opening !== null) {
      if (fence === null) fence = opening[1];
      else if (line.trim().startsWith(fence)) fence = null;
      return;
    }
    if (fence === null) out.push({ line, number: n + 1 });
  });
  return out;
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export interface Heading {
  level: number;
  text: string;
  anchor: string;
  /** index into the file's lines */
  index: number;
}

/** Every heading of a Markdown text, with the anchors GitHub gives them (repeats get -1, -2, …). */
export function headings(text: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const { line, number } of proseLines(text)) {
    const match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (match === null) continue;
    const base = slug(match[2]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.push({
      level: match[1].length,
      text: match[2],
      anchor: count === 0 ? base : `${base}-${count}`,
      index: number - 1,
    });
  }
  return out;
}

/** The lines of the section under the heading with this anchor, up to the next heading of its level or above. */
export function section(text: string, anchor: string): string[] | null {
  const all = headings(text);
  const at = all.findIndex((h) => h.anchor === anchor);
  if (at === -1) return null;
  const start = all[at];
  const next = all.slice(at + 1).find((h) => h.level <= start.level);
  return text.split('\n').slice(start.index, next === undefined ? undefined : next.index);
}

export function readDoc(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** Why a relative link from `from` (a path from the root) is broken, or null when it is not. */
export function brokenLink(from: string, target: string): string | null {
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? from : normalize(join(dirname(from), decodeURIComponent(pathPart)));
  if (relative(ROOT, join(ROOT, file)).startsWith('..')) return `${target} leaves the repository`;
  if (!existsSync(join(ROOT, file))) return `${file} does not exist`;
  if (anchor === undefined || anchor === '') return null;
  if (!file.endsWith('.md') || statSync(join(ROOT, file)).isDirectory())
    return `#${anchor}: ${file} is not a Markdown file`;
  const anchors = headings(readDoc(file)).map((h) => h.anchor);
  return anchors.includes(anchor) ? null : `${file} has no heading with the anchor #${anchor}`;
}
