import { readFileSync } from 'node:fs';

/**
 * The most memory this process has held, in bytes: VmHWM of /proc/self/status where there is one
 * (Linux), else getrusage's maxRSS. On Linux maxRSS is not the process's own: it starts from the
 * resident size of the process that spawned it (kept across fork and exec), so an `als train`
 * spawned by a benchmark holding 650 MB reported 650 MB whatever it used itself. VmHWM belongs to
 * this process's address space (its worker threads included).
 */
export function peakRssBytes(): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match !== null) return Number(match[1]) * 1024;
  } catch {
    // no /proc: not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
