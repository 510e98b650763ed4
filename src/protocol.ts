// Every IPC message between the primary and its workers. Small flat objects with a verb (`act`),
// the namespace marker (`cmd`) so they never mix with Node's own cluster messages, and `seq` to
// pair replies. Errors cross as {code, message}.
import type { Snapshot } from './snapshot/types.js';

export const CMD = 'stickyd' as const;

export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** How a worker listens; fixed for the worker's life (a listener change means a worker restart). */
export interface ListenSpec {
  readonly host: string;
  /** 0 = an ephemeral port (all workers share the one the primary picks) */
  readonly port: number;
  /** the Gateway server port (Snapshot listener) this socket serves; differs from `port` under --listen */
  readonly gatewayPort: number;
  /**
   * 'off': cleartext HTTP; 'on': TLS; 'mutual': TLS asking clients for a certificate (some server
   * on the port is MUTUAL or OPTIONAL_MUTUAL). Fixed for a worker's life, like the port.
   */
  readonly tls: 'off' | 'on' | 'mutual';
}

/** Access log options for a worker's life: CLI flags, not config, so a reload does not change them. */
export interface AccessLogSpec {
  readonly enabled: boolean;
  /** fraction of requests logged, (0, 1] */
  readonly sample: number;
}

// primary -> worker
/**
 * `slot` (0 ... workers-1) and `workers` fix this worker's share of the pending and retry limits
 * (worker/upstream/circuit-breaker.ts): a replacement takes the slot of the worker it replaces.
 */
export interface InitMsg { cmd: typeof CMD; act: 'init'; seq: number; listen: readonly ListenSpec[]; accessLog: AccessLogSpec; slot: number; workers: number }
export interface SnapshotMsg { cmd: typeof CMD; act: 'snapshot'; seq: number; snapshot: Snapshot }
export interface PingMsg { cmd: typeof CMD; act: 'ping'; seq: number }
export interface DrainMsg { cmd: typeof CMD; act: 'drain'; seq: number; graceMs: number; deadlineMs: number }
export interface StatsMsg { cmd: typeof CMD; act: 'stats'; seq: number }
/**
 * Endpoint health, separate from the snapshot so a flap never rebuilds a table. `generation`
 * grows with every change (it is not the snapshot epoch); `unhealthy` lists endpoint ids
 * ("address:port") that take no new traffic: failed active checks or outlier ejections.
 */
export interface HealthMsg { cmd: typeof CMD; act: 'health'; seq: number; generation: number; unhealthy: readonly string[] }
/**
 * Tokens of a daemon-wide connectionPool limit (primary/lease-ledger.ts). `key` names the subset,
 * port, limit kind and value. Grant: the worker now holds `n` more. Busy: `n` of its wants cannot
 * be met now, every token being in use (they stay standing). Contend: whether another worker is
 * waiting; while on, a worker gives back idle tokens at once and each token as its request ends,
 * and it answers `on` with a leaseReturn of `round` (0 tokens if none are idle).
 */
export interface LeaseGrantMsg { cmd: typeof CMD; act: 'leaseGrant'; key: string; n: number }
export interface LeaseBusyMsg { cmd: typeof CMD; act: 'leaseBusy'; key: string; n: number }
export interface LeaseContendMsg { cmd: typeof CMD; act: 'leaseContend'; key: string; on: boolean; round: number }

// worker -> primary
/**
 * "My message listener is installed." IPC messages that reach a cluster worker before user code
 * registers process.on('message') are dropped (observed on Node 20 even with the listener at the
 * top of the entry module), so the primary sends nothing before this arrives.
 */
export interface ReadyMsg { cmd: typeof CMD; act: 'ready' }
export interface AckMsg { cmd: typeof CMD; act: 'ack'; seq: number; epoch?: number; error?: WireError }
export interface PongMsg { cmd: typeof CMD; act: 'pong'; seq: number; epoch: number }
export interface ListeningMsg { cmd: typeof CMD; act: 'listening'; epoch: number; addresses: readonly ListenSpec[] }
/** A listener could not be opened (sent right before the worker exits 1): the errno code and where. */
export interface ListenFailedMsg { cmd: typeof CMD; act: 'listenFailed'; errno: string; host: string; port: number; message: string }
/** One labelled row of a worker's counters: label values in the family's label order, then its columns. */
export interface SeriesRow { readonly labels: readonly string[]; readonly values: readonly number[] }
/**
 * Column layouts of the StatsReport series, shared by the worker that fills them and the primary
 * that renders them. series.requests: labels [route, subset, endpoint], one column per
 * STATUS_COLUMNS entry (index = hundreds digit; 'other' = outside 100-599; 'none' = no response
 * was sent). series.durations: labels [subset], one count per DURATION_BUCKETS bound, +Inf, then
 * the sum of seconds. series.upstream: labels [subset, endpoint], UPSTREAM_COLUMNS. series.sessions:
 * labels [subset], SESSION_COLUMNS. series.overflow: labels [subset], OVERFLOW_LIMITS. Empty labels mean "none" (a request that matched no route).
 */
export const STATUS_COLUMNS = ['other', '1xx', '2xx', '3xx', '4xx', '5xx', 'none'] as const;
/** seconds: 0.5 ms to 10 s, about x2-x2.5 per step, so loopback hops and slow backends both resolve */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
export const UPSTREAM_COLUMNS = ['connect_failure', 'timeout', 'reset', 'protocol', 'retry'] as const;
/**
 * How a persistent-session request's pin fared (worker/routing/persistent-session.ts): valid
 * (honoured), absent, the four ways a value fails verification, and an authentic pin whose
 * endpoint left the config or is unhealthy/ejected. Every outcome but valid places the session
 * afresh with a new pin.
 */
export const PIN_OUTCOMES = ['valid', 'absent', 'malformed', 'unknown_key', 'bad_mac', 'expired', 'endpoint_gone', 'endpoint_unavailable'] as const;
export type PinOutcomeLabel = (typeof PIN_OUTCOMES)[number];
/** series.sessions columns: cookies (or pins) minted, one per PIN_OUTCOMES entry, pins re-issued (sliding expiry or key rotation) */
export const SESSION_COLUMNS = ['minted', ...PIN_OUTCOMES.map((o) => `pin_${o}` as const), 'pin_refreshed'] as const;
/**
 * Why an Upgrade header was stripped or an upstream 101 refused (worker/downstream/upgrade-policy.ts); the
 * counters are `upgradesRefused.<reason>`.
 */
export const UPGRADE_REFUSALS = ['protocol', 'method', 'handshake', 'connection', 'upstream_101'] as const;
export type UpgradeRefusal = (typeof UPGRADE_REFUSALS)[number];
/**
 * What became of a mirrored copy (worker/upstream/mirror.ts); the counters are `mirrors.<result>`.
 * ok: the mirror answered (any status, discarded); error: connect failure, reset or timeout;
 * shed: the worker's in-flight cap was reached; no_endpoint: no endpoint of the mirror subset was
 * available; body_too_large: the body exceeds what a copy may hold; incomplete: the client's body
 * never arrived whole (the request failed or was abandoned before its end).
 */
export const MIRROR_RESULTS = ['ok', 'error', 'shed', 'no_endpoint', 'body_too_large', 'incomplete'] as const;
export type MirrorResult = (typeof MIRROR_RESULTS)[number];
/**
 * Which connectionPool limit refused a request (worker/upstream/circuit-breaker.ts), named by its
 * Istio field: series.overflow has labels [subset] and one column per entry.
 */
export const OVERFLOW_LIMITS = ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRetries'] as const;
export type OverflowLimit = (typeof OVERFLOW_LIMITS)[number];

/** A worker's counters since it started. */
export interface StatsReport {
  readonly pid: number;
  readonly epoch: number;
  readonly draining: boolean;
  readonly counters: Readonly<Record<string, number>>;
  readonly gauges: Readonly<Record<string, number>>;
  readonly series: Readonly<Record<string, readonly SeriesRow[]>>;
}
export interface StatsReplyMsg { cmd: typeof CMD; act: 'statsReply'; seq: number; stats: StatsReport }
/** Sent once, right before a draining worker exits, so its counters outlive it. */
export interface FinalStatsMsg { cmd: typeof CMD; act: 'finalStats'; stats: StatsReport }
/** Per-endpoint upstream outcomes since the worker's last report (subsets with outlierDetection only). */
export interface EndpointOutcomes {
  /** Snapshot subset id and the epoch it belongs to: the primary ignores reports from another epoch */
  readonly subset: number;
  readonly epoch: number;
  readonly endpoint: string;
  /** responses below 500 */
  readonly ok: number;
  /** 5xx responses plus local failures (connect, reset, timeout): Envoy counts both as 5xx */
  readonly errors5xx: number;
  /** consecutive 5xx/local failures at the end of this batch (== errors5xx when ok is 0) */
  readonly trailing5xx: number;
  /** consecutive 502/503/504/local failures at the end of this batch */
  readonly trailingGateway: number;
  /**
   * When (wall-clock ms) the batch's last success (0: none) and each trailing failure were seen,
   * so the primary orders them against other workers' reports: a success another worker saw
   * earlier does not end a streak.
   */
  readonly okAt: number;
  readonly at5xx: readonly number[];
  readonly atGateway: readonly number[];
}
/** Batched: every OUTCOME_FLUSH_MS, or at once when a worker alone crosses a threshold. */
export interface OutcomesMsg { cmd: typeof CMD; act: 'outcomes'; outcomes: readonly EndpointOutcomes[] }

/** Lease traffic the other way: want `n` more tokens of `key` (limit `limit`), cancel wants, give tokens back. */
export interface LeaseWantMsg { cmd: typeof CMD; act: 'leaseWant'; key: string; limit: number; n: number }
export interface LeaseCancelMsg { cmd: typeof CMD; act: 'leaseCancel'; key: string; n: number }
/** `round` > 0: the answer to that contention round; 0: tokens given back as requests end. */
export interface LeaseReturnMsg { cmd: typeof CMD; act: 'leaseReturn'; key: string; n: number; round: number }
export type LeaseFromWorker = LeaseWantMsg | LeaseCancelMsg | LeaseReturnMsg;

export type ToWorker = InitMsg | SnapshotMsg | PingMsg | DrainMsg | StatsMsg | HealthMsg | LeaseGrantMsg | LeaseBusyMsg | LeaseContendMsg;
export type ToPrimary = ReadyMsg | AckMsg | PongMsg | ListeningMsg | ListenFailedMsg | StatsReplyMsg | FinalStatsMsg | OutcomesMsg | LeaseFromWorker;

export function isOurs(msg: unknown): msg is ToWorker | ToPrimary {
  return typeof msg === 'object' && msg !== null && (msg as { cmd?: unknown }).cmd === CMD;
}
