// What a worker counts and how it reports it. Two kinds of counters:
// - worker-wide plain numbers (WorkerStats), bumped on the hot path without allocation;
// - per-snapshot meters: typed arrays hung on the RuntimeSnapshot's own route targets and
//   subsets, so a request bumps `target.meter.requests[i]` with no label lookup at all. Label
//   strings exist once per snapshot (names are the snapshot's own) and are paired with the
//   numbers only when the primary asks (buildStatsReport).
// A reload replaces the meters with the snapshot; stats-ledger.ts keeps the old ones' counts.
// Everything here is per worker; the primary sums workers.
import {
  DURATION_BUCKETS, MIRROR_RESULTS, OVERFLOW_LIMITS, PIN_OUTCOMES, SESSION_COLUMNS, STATUS_COLUMNS, UPGRADE_REFUSALS, UPSTREAM_COLUMNS,
  type MirrorResult, type OverflowLimit, type PinOutcomeLabel, type UpgradeRefusal,
} from '../../protocol.js';
import type { Endpoint } from '../../snapshot/types.js';
import { flatString, jsonString } from './access-log.js';

const NO_RESPONSE = STATUS_COLUMNS.indexOf('none');
const CLASS_COUNT = STATUS_COLUMNS.length;
/** durations row: one count per bucket, one for +Inf, then the sum of seconds */
const DURATION_WIDTH = DURATION_BUCKETS.length + 2;
const UPSTREAM_WIDTH = UPSTREAM_COLUMNS.length;
/** catalogue code -> upstream column; other codes are not upstream failures */
const FAILURE_COLUMN: Readonly<Record<string, number>> = {
  STICKYD_ERR_UPSTREAM_REFUSED: UPSTREAM_COLUMNS.indexOf('connect_failure'),
  // a failed TLS handshake is a failed connect, as Envoy counts it (upstream_cx_connect_fail)
  STICKYD_ERR_UPSTREAM_TLS: UPSTREAM_COLUMNS.indexOf('connect_failure'),
  STICKYD_ERR_UPSTREAM_TIMEOUT: UPSTREAM_COLUMNS.indexOf('timeout'),
  STICKYD_ERR_UPSTREAM_RESET: UPSTREAM_COLUMNS.indexOf('reset'),
  STICKYD_ERR_UPSTREAM_PROTOCOL: UPSTREAM_COLUMNS.indexOf('protocol'),
};

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
  /** Upgrade headers stripped and 101s refused, by UPGRADE_REFUSALS index */
  readonly upgradesRefused: Float64Array;
  /** requests that reached the handler over HTTP/2 (the rest are HTTP/1.x) */
  requestsH2: number;
  /** TLS handshakes completed (and client certificates accepted) */
  tlsHandshakes: number;
  /** TLS handshakes that failed, by reason (a small fixed set: tls-front.ts) */
  readonly tlsHandshakeFailures: Map<string, number>;
  /** HTTP/2 sessions ended by a limit (GOAWAY), by reason */
  readonly h2SessionsRefused: Map<string, number>;
  /** mirrored copies by MIRROR_RESULTS index */
  readonly mirrorResults: Float64Array;
  /** mirrored copies holding a slot now (buffering a body or in flight): upstream/mirror.ts caps it */
  mirrorsInFlight: number;
}

export function createWorkerStats(): WorkerStats {
  return {
    requests: 0, byStatusClass: new Float64Array(6), upstreamErrors: 0, upstreamRetries: 0, activeConnections: 0, connections: 0,
    upgradesRefused: new Float64Array(UPGRADE_REFUSALS.length),
    requestsH2: 0, tlsHandshakes: 0, tlsHandshakeFailures: new Map(), h2SessionsRefused: new Map(),
    mirrorResults: new Float64Array(MIRROR_RESULTS.length), mirrorsInFlight: 0,
  };
}

export function countMirror(stats: WorkerStats, result: MirrorResult): void {
  stats.mirrorResults[MIRROR_RESULTS.indexOf(result)]!++;
}

export function countUpgradeRefusal(stats: WorkerStats, reason: UpgradeRefusal): void {
  stats.upgradesRefused[UPGRADE_REFUSALS.indexOf(reason)]!++;
}

export function countStatus(stats: WorkerStats, status: number): void {
  const cls = Math.floor(status / 100);
  const i = cls >= 1 && cls <= 5 ? cls : 0;
  stats.byStatusClass[i] = stats.byStatusClass[i]! + 1;
}

/** Counters of one route destination: rows = the subset's endpoints plus one "no endpoint" row. */
export interface TargetMeter {
  readonly route: string;
  readonly subset: string;
  /** the subset meter's ids (shared, not copied) */
  readonly endpointIds: readonly string[];
  /**
   * The access log's `,"route":…,"subset":…,"upstream":…` per endpoint row (the last: no
   * endpoint), JSON-escaped and flattened once per snapshot rather than joined on every line
   */
  readonly destinationJson: readonly string[];
  /** (endpoints + 1) * CLASS_COUNT; row endpoints.length is for requests that never got an endpoint */
  readonly requests: Float64Array;
}

/** Counters of one subset (an upstream cluster), plus its names JSON-escaped once for the access log. */
export interface SubsetMeter {
  readonly name: string;
  readonly endpointIds: readonly string[];
  /** DURATION_WIDTH: bucket counts, +Inf, sum of seconds */
  readonly durations: Float64Array;
  /** endpoints * UPSTREAM_WIDTH */
  readonly upstream: Float64Array;
  /** SESSION_COLUMNS (protocol.ts): minted, pin outcomes, pins refreshed */
  readonly sessions: Float64Array;
  /** requests refused by a connectionPool limit, by OVERFLOW_LIMITS index */
  readonly overflow: Float64Array;
  readonly nameJson: string;
  readonly endpointJson: readonly string[];
}

/** Everything metered under one RuntimeSnapshot. */
export interface SnapshotMeter {
  readonly targets: readonly TargetMeter[];
  readonly subsets: readonly SubsetMeter[];
  /** requests that matched no host or route, by status class */
  readonly unrouted: Float64Array;
  readonly unroutedDurations: Float64Array;
  /** requests begun under this snapshot and not yet closed */
  inflight: number;
}

export function buildSubsetMeter(name: string, endpoints: readonly Endpoint[]): SubsetMeter {
  const endpointIds = endpoints.map((e) => e.id);
  return {
    name,
    endpointIds,
    durations: new Float64Array(DURATION_WIDTH),
    upstream: new Float64Array(endpoints.length * UPSTREAM_WIDTH),
    sessions: new Float64Array(SESSION_COLUMNS.length),
    overflow: new Float64Array(OVERFLOW_LIMITS.length),
    nameJson: jsonString(name),
    endpointJson: endpointIds.map(jsonString),
  };
}

export function buildTargetMeter(route: string, subset: SubsetMeter): TargetMeter {
  const head = ',"route":' + jsonString(route) + ',"subset":' + subset.nameJson + ',"upstream":';
  const destinationJson = [...subset.endpointJson, 'null'].map((e) => flatString(head + e));
  return {
    route,
    subset: subset.name,
    endpointIds: subset.endpointIds,
    destinationJson,
    requests: new Float64Array((subset.endpointIds.length + 1) * CLASS_COUNT),
  };
}

/** The meters of a compiled snapshot, collected once: `targets` holds each reachable route target's meter once. */
export function buildSnapshotMeter(targets: readonly TargetMeter[], subsets: readonly SubsetMeter[]): SnapshotMeter {
  return {
    targets,
    subsets,
    unrouted: new Float64Array(CLASS_COUNT),
    unroutedDurations: new Float64Array(DURATION_WIDTH),
    inflight: 0,
  };
}

/** Status -> column of a status-class row; 0 (no response was sent) -> 'none'. */
export function readStatusColumn(status: number): number {
  if (status === 0) return NO_RESPONSE;
  const cls = (status / 100) | 0;
  return cls >= 1 && cls <= 5 ? cls : 0;
}

/** Adds one observation to a durations row. Linear scan: most requests stop in the first buckets. */
export function observeDuration(row: Float64Array, seconds: number): void {
  let i = 0;
  while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
  row[i]!++;
  row[DURATION_WIDTH - 1]! += seconds;
}

/** One upstream failure of endpoint `index`, by catalogue code; codes that are not upstream failures are ignored. */
const PIN_COLUMN = Object.fromEntries(PIN_OUTCOMES.map((o) => [o, SESSION_COLUMNS.indexOf(`pin_${o}`)])) as Readonly<Record<PinOutcomeLabel, number>>;
const REFRESHED_COLUMN = SESSION_COLUMNS.indexOf('pin_refreshed');

/** One routed request's session: a cookie or pin minted (sent), its pin outcome, a pin re-issued. */
export function countSession(meter: SubsetMeter, minted: boolean, pin: PinOutcomeLabel | null, refreshed: boolean): void {
  if (minted) meter.sessions[0]!++;
  if (pin !== null) meter.sessions[PIN_COLUMN[pin]]!++;
  if (refreshed) meter.sessions[REFRESHED_COLUMN]!++;
}

export function countUpstreamFailure(meter: SubsetMeter, index: number, code: string): void {
  const column = FAILURE_COLUMN[code];
  if (column !== undefined) meter.upstream[index * UPSTREAM_WIDTH + column]!++;
}

const RETRY_COLUMN = UPSTREAM_COLUMNS.indexOf('retry');

/** Endpoint `index` failed and the request was retried (on it or another endpoint). */
export function countUpstreamRetry(meter: SubsetMeter, index: number): void {
  meter.upstream[index * UPSTREAM_WIDTH + RETRY_COLUMN]!++;
}

/** A request refused by the subset's `limit` (connectionPool circuit breaker). */
export function countOverflow(meter: SubsetMeter, limit: OverflowLimit): void {
  meter.overflow[OVERFLOW_LIMITS.indexOf(limit)]!++;
}
