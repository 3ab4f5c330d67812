import cliProgress from 'cli-progress';

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
