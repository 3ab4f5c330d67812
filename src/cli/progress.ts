import { createRequire } from 'node:module';

// cli-progress is loaded by the first bar (17 ms of start-up that a command without a terminal,
// or a one-shot query, does not need); it is a CommonJS package, so require loads it at once
const require = createRequire(import.meta.url);
let cliProgress: typeof import('cli-progress') | null = null;

/** A progress bar, or nothing at all when the output is not interactive. */
export interface Progress {
  update(value: number, payload?: Record<string, unknown>): void;
  stop(): void;
}

const NO_PROGRESS: Progress = { update() {}, stop() {} };

export function startProgress(
  enabled: boolean,
  format: string,
  total: number,
  payload: Record<string, unknown> = {},
): Progress {
  if (!enabled) return NO_PROGRESS;
  cliProgress ??= require('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: true, etaBuffer: 50, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, payload);
  return {
    update: (value, more) => bar.update(value, more),
    stop: () => bar.stop(),
  };
}
