import { createWriteStream, promises as fs } from 'node:fs';
import { once } from 'node:events';
import { AlsError } from '../errors.js';
import type { AlsModel } from '../model/model.js';
import { recommendFor, recommendScratch, type RecommendOptions } from './recommend.js';

/** "cannot write PATH: reason", naming the file the user asked for, not the temporary one. */
export function describeWriteError(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  const reason =
    code === 'ENOENT' ? 'no such directory' :
    code === 'EACCES' || code === 'EPERM' ? 'permission denied' :
    code === 'EISDIR' ? 'is a directory' :
    code === 'ENOSPC' ? 'no space left on the device' :
    ((error as Error)?.message ?? String(error));
  return `cannot write ${path}: ${reason}`;
}

export function field(text: string): string {
  // a tab or newline in an id would break the line format; they cannot come from TSV input
  return text.replace(/[\t\r\n]/g, ' ');
}

/**
 * Writes `user \t item \t score` lines for every user, best first within a user, streamed
 * (one user's lines in memory at a time) to a temporary file renamed to `path` at the end.
 * Returns the number of lines.
 */
export async function writeAllRecommendations(
  model: AlsModel,
  path: string,
  options: RecommendOptions = {},
  onProgress?: (users: number, total: number) => void,
): Promise<number> {
  const temporary = `${path}.tmp-${process.pid}`;
  const out = createWriteStream(temporary);
  const opened = once(out, 'open');
  let lines = 0;
  try {
    await opened;
    const scratch = recommendScratch(model, options.kernels);
    for (let user = 0; user < model.users; user++) {
      const id = field(model.userIds[user]);
      let text = '';
      for (const r of recommendFor(model, user, options, scratch)) {
        text += `${id}\t${field(r.name)}\t${r.score.toFixed(6)}\n`;
        lines++;
      }
      if (!out.write(text)) await once(out, 'drain');
      if ((user & 1023) === 0) onProgress?.(user, model.users);
    }
    out.end();
    await once(out, 'finish');
    await fs.rename(temporary, path);
  } catch (error) {
    out.destroy();
    await fs.rm(temporary, { force: true });
    throw new AlsError('output', describeWriteError(path, error), { cause: error });
  }
  onProgress?.(model.users, model.users);
  return lines;
}
