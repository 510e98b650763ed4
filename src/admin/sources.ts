// What the admin endpoints read: the primary's own objects, never a worker's memory directly.
import type { Reloader } from '../primary/reloader.js';
import type { StatsCollector } from '../primary/stats-collector.js';
import type { Supervisor } from '../primary/supervisor.js';

/**
 * Endpoint health as the primary decides it (outlier detection, active checks). The admin
 * endpoints only read it; without a source every endpoint counts as healthy (in rotation).
 */
export interface HealthSource {
  /** endpoint ids ("address:port") that take no new traffic now */
  unhealthy(): ReadonlySet<string>;
  /** times `endpoint` of `subset` (Subset.name) was ejected since the daemon started */
  ejections?(subset: string, endpoint: string): number;
  /** detail for GET /status (active checks, outlier state), if the source has any */
  status?(): Record<string, unknown>;
}

export interface AdminSources {
  readonly supervisor: Supervisor;
  readonly reloader: Reloader;
  readonly collector: StatsCollector;
  readonly health: HealthSource | null;
  /** Date.now() when the primary started */
  readonly startedAt: number;
}
