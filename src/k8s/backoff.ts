export const RESTART_BACKOFF_BASE_MS = 1_000;
export const RESTART_BACKOFF_MAX_MS = 30_000;

/** Delay before restart number `attempt` (0-based): 1s, 2s, 4s, ... capped at 30s. */
export function backoffDelayMs(
  attempt: number,
  baseMs: number = RESTART_BACKOFF_BASE_MS,
  maxMs: number = RESTART_BACKOFF_MAX_MS,
): number {
  const safeAttempt = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // Past 2^30 the product overflows anything useful; the cap applies long before that anyway.
  return Math.min(maxMs, baseMs * 2 ** Math.min(safeAttempt, 30));
}
