// Counters a worker reports in its statsReply: plain numbers, bumped on the hot path without
// allocation, read only when the primary asks.

export interface WorkerStats {
  /** requests that reached the handler (parse errors answered by clientError are not counted) */
  requests: number;
  /** responses by status class: index 1 = 1xx ... 5 = 5xx; index 0 = out-of-range statuses */
  readonly byStatusClass: Float64Array;
  /** upstream exchanges that failed (connect, reset, timeout, protocol) */
  upstreamErrors: number;
  /** idempotent requests retried after a reused keep-alive socket was reset */
  upstreamRetries: number;
  /** client connections open now */
  activeConnections: number;
  /** client connections accepted since start */
  connections: number;
}

export function createWorkerStats(): WorkerStats {
  return { requests: 0, byStatusClass: new Float64Array(6), upstreamErrors: 0, upstreamRetries: 0, activeConnections: 0, connections: 0 };
}

export function countStatus(stats: WorkerStats, status: number): void {
  const cls = Math.floor(status / 100);
  const i = cls >= 1 && cls <= 5 ? cls : 0;
  stats.byStatusClass[i] = stats.byStatusClass[i]! + 1;
}

/** A plain, structured-clone-friendly view for the statsReply message. */
export function buildStatsReport(stats: WorkerStats, extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const c = stats.byStatusClass;
  return {
    requests: stats.requests,
    activeConnections: stats.activeConnections,
    connections: stats.connections,
    upstreamErrors: stats.upstreamErrors,
    upstreamRetries: stats.upstreamRetries,
    byStatusClass: { '1xx': c[1], '2xx': c[2], '3xx': c[3], '4xx': c[4], '5xx': c[5], other: c[0] },
    ...extra,
  };
}
