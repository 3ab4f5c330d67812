import { createHash } from 'node:crypto';
import { existsSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import { basename, join } from 'node:path';
import { readSmallFile } from '../data/regularFile.js';
import { MANIFEST } from '../model/format.js';
import { CURRENT, MAX_MANIFEST_BYTES, STORE_DIR } from '../model/store.js';

/** How often a holder looks at the model directory's live version, in case fs.watch missed a switch. */
export const DEFAULT_POLL_MS = 1000;

/** A running watch of a model directory. */
export interface DirectoryWatch {
  close(): void;
}

/** Events in a burst (a writer's rename, its top-level links) are one look after this many ms. */
const SETTLE_MS = 25;

/**
 * The version name a model directory serves now, cheaply: the name `M/.als/current` links to
 * (one readlink), or for a flat format-2 directory a digest of its model.json; null when
 * neither can be read (no model, or one being written).
 */
export function currentVersion(dir: string): string | null {
  try {
    return basename(readlinkSync(join(dir, STORE_DIR, CURRENT)));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? flatVersion(dir) : null;
  }
}

/** The version name of a flat (format 2) model directory: `flat-` and 12 hex digits of model.json's sha256; null when unreadable. */
export function flatVersion(root: string): string | null {
  try {
    const manifest = readSmallFile(join(root, MANIFEST), MAX_MANIFEST_BYTES);
    return `flat-${createHash('sha256').update(manifest).digest('hex').slice(0, 12)}`;
  } catch {
    return null;
  }
}

/**
 * Calls `onChange(version)` when the live version of the model directory `dir` changes: on
 * fs.watch events of M/.als (a writer switches `.als/current` by rename), and every `pollMs`
 * (0: never) as a fallback for file systems where fs.watch says nothing (NFS, some containers)
 * or for a directory replaced as a whole. Versions that cannot be read (none yet, a switch
 * half seen) are not reported.
 */
export function watchModelDirectory(
  dir: string,
  options: { pollMs: number; onChange: (version: string) => void },
): DirectoryWatch {
  let last = currentVersion(dir);
  let watcher: FSWatcher | null = null;
  let watched: string | null = null;
  let settle: NodeJS.Timeout | null = null;
  let closed = false;

  const arm = () => {
    // M/.als when there is one; M itself for a flat directory (to see .als appear)
    const target = existsSync(join(dir, STORE_DIR)) ? join(dir, STORE_DIR) : dir;
    if (watcher !== null && watched === target) return;
    watcher?.close();
    watcher = null;
    watched = null;
    try {
      const w = watch(target, { persistent: false }, () => {
        if (settle === null) settle = setTimeout(look, SETTLE_MS);
      });
      w.on('error', () => {
        w.close();
        if (watcher === w) watcher = null;
      });
      watcher = w;
      watched = target;
    } catch {
      // gone or not watchable: the poll still looks, and arms again
    }
  };

  const look = () => {
    settle = null;
    if (closed) return;
    const version = currentVersion(dir);
    arm();
    if (version === null || version === last) return;
    last = version;
    options.onChange(version);
  };

  arm();
  const poll = options.pollMs > 0 ? setInterval(look, options.pollMs) : null;
  poll?.unref();
  return {
    close() {
      closed = true;
      if (poll !== null) clearInterval(poll);
      if (settle !== null) clearTimeout(settle);
      watcher?.close();
      watcher = null;
    },
  };
}
