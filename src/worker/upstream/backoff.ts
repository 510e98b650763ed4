// Envoy's jittered exponential retry backoff: before retry n (1-based) wait a uniform random time
// in [0, base x 2^(n-1)), the range capped at 10 x base (Envoy's default max_interval).
export const MAX_BACKOFF_FACTOR = 10;

export function computeBackoffMs(baseMs: number, retry: number, random: () => number): number {
  const range = Math.min(baseMs * 2 ** Math.max(retry - 1, 0), baseMs * MAX_BACKOFF_FACTOR);
  return Math.floor(random() * range);
}
