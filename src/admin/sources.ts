// What the admin endpoints read: the primary's own objects, never a worker's memory directly.
import type { DnsView, HealthSource, LeaseView, MergedStats, ReloaderView, SupervisorView } from '../daemon-view.js';

export interface AdminSources {
  readonly supervisor: SupervisorView;
  readonly reloader: ReloaderView;
  /** one scrape of every worker's counters (primary/stats-collector.ts) */
  scrape(): Promise<MergedStats>;
  readonly health: HealthSource | null;
  /** ServiceEntry host names and their answers; absent: none resolved */
  readonly dns?: DnsView | null;
  /** tokens of the daemon-wide connectionPool limits; absent: none */
  readonly leases?: LeaseView | null;
  /** Date.now() when the primary started */
  readonly startedAt: number;
}
