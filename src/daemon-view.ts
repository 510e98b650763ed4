// The primary's state as its readers see it: the records and interfaces that primary/ fills in
// and implements and admin/ reads. Both import this leaf, so neither needs the other's code;
// primary/main.ts hands the admin listener objects that satisfy these. Types only.
import type { ListenSpec, SeriesRow, StatsReport } from './protocol.js';
import type { Snapshot } from './snapshot/types.js';

/** One cluster worker as the supervisor tracks it. */
export interface WorkerInfo {
  readonly id: number;
  readonly pid: number;
  readonly startedAt: number;
  epoch: number;
  listening: boolean;
  retiring: boolean;
  /** where the worker's servers actually listen (ephemeral ports resolved) */
  addresses: readonly ListenSpec[];
  /** Date.now() of the last heartbeat answer */
  lastPong: number;
}

/** Recent unexpected worker exits and the current respawn delay. */
export interface CrashLoopState {
  readonly crashesInWindow: number;
  readonly windowMs: number;
  readonly backoffRemainingMs: number;
}

export interface WorkerReport {
  readonly id: number;
  readonly pid: number;
  /** this scrape's report, or null when the worker did not answer in time */
  readonly report: StatsReport | null;
}

/** One scrape of the whole daemon. */
export interface MergedStats {
  readonly counters: Readonly<Record<string, number>>;
  readonly gauges: Readonly<Record<string, number>>;
  readonly series: Readonly<Record<string, readonly SeriesRow[]>>;
  readonly workers: readonly WorkerReport[];
  /** workers that did not answer this scrape (their last report was used) */
  readonly unanswered: number;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly epoch: number;
  readonly at: string;
  readonly error: string | null;
  /** the number of reload requests this run answered (every request up to this one) */
  readonly covers: number;
}

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

/** One ServiceEntry host name the primary resolves (primary/dns-resolver.ts), as /status and /metrics show it. */
export interface DnsNameStatus {
  readonly name: string;
  /** the last good answer (kept while resolutions fail) */
  readonly addresses: readonly string[];
  /** dns: the DNS servers (node:dns Resolver); lookup: getaddrinfo (localhost, /etc/hosts) */
  readonly via: 'dns' | 'lookup' | null;
  /** the refresh interval the answer set: its TTL bounded to 1-60 s */
  readonly ttlSec: number | null;
  readonly resolvedAt: string | null;
  readonly nextAt: string | null;
  readonly lastError: string | null;
  readonly resolutions: number;
  readonly failures: number;
  /** times the set of addresses changed */
  readonly changes: number;
}

/** One daemon-wide connectionPool limit's tokens (primary/lease-ledger.ts), as GET /status shows them. */
export interface LeaseStatus {
  /** subset, port, Istio field and limit, newline-separated */
  readonly key: string;
  readonly limit: number;
  /** at the primary, lent to nobody */
  readonly free: number;
  /** lent, by cluster worker id */
  readonly held: Readonly<Record<string, number>>;
  /** tokens wanted by requests waiting on some worker */
  readonly waiting: number;
  readonly contended: boolean;
}

export interface LeaseView {
  status(): LeaseStatus[];
}

/** What the admin listener reads of the DNS resolver. */
export interface DnsView {
  status(): readonly DnsNameStatus[];
}

/** What the admin listener reads of the supervisor (primary/supervisor.ts). */
export interface SupervisorView {
  readonly restarts: number;
  workers(): readonly WorkerInfo[];
  allReady(): boolean;
  crashLoop(): CrashLoopState;
}

/** One worker as the reloader's status lists it. */
export interface WorkerStatus {
  readonly pid: number;
  readonly epoch: number;
  readonly listening: boolean;
  readonly uptimeSec: number;
}

/** The reloader's part of GET /status (and what `stickyd reload` polls for). */
export interface ReloaderStatus {
  readonly generation: number;
  readonly configPath: string;
  readonly configHash: string | null;
  /** every worker serves the current generation */
  readonly ready: boolean;
  readonly workers: readonly WorkerStatus[];
  readonly workerRestarts: number;
  readonly crashLoop: CrashLoopState;
  /** reloads applied, failed, and asked for (SIGHUP), since the daemon started */
  readonly reloads: { readonly ok: number; readonly failed: number; readonly requested: number };
  readonly lastReload: ReloadResult | null;
}

/** What the admin listener reads of the reloader (primary/reloader.ts). */
export interface ReloaderView {
  readonly last: ReloadResult | null;
  readonly generation: number;
  /** the snapshot every worker was given last (null before the first) */
  readonly applied: Snapshot | null;
  status(): ReloaderStatus;
}
