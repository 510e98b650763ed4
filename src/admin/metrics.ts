// GET /metrics: one scrape for the whole daemon. The primary's own state (generation, reloads,
// workers, health, hash shares) plus every worker's counters summed by StatsCollector, rendered
// in Prometheus text format. Names follow Prometheus conventions: stickyd_ prefix, _total for
// counters, base units (_seconds), _ratio for fractions.
import { DURATION_BUCKETS, MIRROR_RESULTS, OVERFLOW_LIMITS, PIN_OUTCOMES, SESSION_COLUMNS, STATUS_COLUMNS, UPGRADE_REFUSALS, UPSTREAM_COLUMNS, type SeriesRow } from '../protocol.js';
import type { Snapshot } from '../snapshot/types.js';
import type { DnsNameStatus, HealthSource, MergedStats } from '../daemon-view.js';
import { PromText, type Labels } from './prom-text.js';
import { computeShares } from './shares.js';
import { renderTls } from './metrics-tls.js';
import type { AdminSources } from './sources.js';

/** Plain inputs, so rendering is testable without a daemon. */
export interface MetricsView {
  readonly merged: MergedStats;
  readonly snapshot: Snapshot | null;
  readonly generation: number;
  readonly reloads: { readonly ok: number; readonly failed: number };
  /** null before the first reload */
  readonly lastReloadOk: boolean | null;
  readonly ready: boolean;
  readonly servingWorkers: number;
  readonly workerRestarts: number;
  readonly startedAt: number;
  readonly health: HealthSource | null;
  readonly dns: readonly DnsNameStatus[];
}

/** Status classes always rendered, so rate() sees a series from the start; others only once non-zero. */
const ALWAYS_CLASSES = new Set(['2xx', '3xx', '4xx', '5xx']);

/** upstream column -> metric name and help */
const UPSTREAM_METRICS: Readonly<Record<(typeof UPSTREAM_COLUMNS)[number], readonly [string, string]>> = {
  connect_failure: ['stickyd_upstream_connect_failures_total', 'Upstream connections refused or failed before a response (502).'],
  timeout: ['stickyd_upstream_timeouts_total', 'Upstream connect, per-try or route timeouts (504).'],
  reset: ['stickyd_upstream_resets_total', 'Upstream connections reset or closed before a complete response.'],
  protocol: ['stickyd_upstream_protocol_errors_total', 'Invalid upstream responses (502).'],
  retry: ['stickyd_upstream_retries_total', 'Requests retried after this endpoint failed.'],
};

export async function readMetricsView(src: AdminSources): Promise<MetricsView> {
  const merged = await src.scrape();
  const s = src.supervisor;
  const last = src.reloader.last;
  const { reloads } = src.reloader.status();
  return {
    merged,
    snapshot: src.reloader.applied,
    generation: src.reloader.generation,
    reloads: { ok: reloads.ok, failed: reloads.failed },
    lastReloadOk: last === null ? null : last.ok,
    ready: s.allReady(),
    servingWorkers: s.workers().filter((w) => w.listening && !w.retiring).length,
    workerRestarts: s.restarts,
    startedAt: src.startedAt,
    health: src.health,
    dns: src.dns?.status() ?? [],
  };
}

export function buildMetricsText(v: MetricsView): string {
  const p = new PromText();
  renderDaemon(p, v);
  renderEndpoints(p, v);
  renderRequests(p, v.merged);
  renderUpstream(p, v.merged.series.upstream ?? []);
  renderOverflow(p, v.snapshot, v.merged.series.overflow ?? []);
  renderWorkers(p, v.merged);
  renderDns(p, v.dns);
  renderTls(p, v.snapshot, v.merged);
  return p.text();
}

function renderDaemon(p: PromText, v: MetricsView): void {
  p.family('stickyd_start_time_seconds', 'gauge', 'When the primary started, in seconds since the Unix epoch.')
    .sample('stickyd_start_time_seconds', [], Math.floor(v.startedAt / 1000));
  p.family('stickyd_config_generation', 'gauge', 'Generation of the configuration every worker was given last (1 = the config stickyd started with).')
    .sample('stickyd_config_generation', [], v.generation);
  if (v.snapshot !== null) {
    p.family('stickyd_config_info', 'gauge', 'The configuration in use: path and sha256 of its files.')
      .sample('stickyd_config_info', [['path', v.snapshot.configPath], ['hash', v.snapshot.configHash]], 1);
  }
  p.family('stickyd_config_reloads_total', 'counter', 'Reloads (SIGHUP) by result; a failed reload keeps the previous generation serving.')
    .sample('stickyd_config_reloads_total', [['result', 'ok']], v.reloads.ok)
    .sample('stickyd_config_reloads_total', [['result', 'failed']], v.reloads.failed);
  p.family('stickyd_config_last_reload_successful', 'gauge', '1 when the last reload succeeded or none was attempted, else 0.')
    .sample('stickyd_config_last_reload_successful', [], v.lastReloadOk === false ? 0 : 1);
  p.family('stickyd_ready', 'gauge', '1 when every worker listens and serves the current generation (GET /ready answers 200).')
    .sample('stickyd_ready', [], v.ready ? 1 : 0);
  p.family('stickyd_workers', 'gauge', 'Worker processes listening and not draining.').sample('stickyd_workers', [], v.servingWorkers);
  p.family('stickyd_worker_restarts_total', 'counter', 'Workers that exited unexpectedly and were replaced.')
    .sample('stickyd_worker_restarts_total', [], v.workerRestarts);
  p.family('stickyd_stats_unanswered_workers', 'gauge', 'Workers that did not answer this scrape in time; their previous counts were used.')
    .sample('stickyd_stats_unanswered_workers', [], v.merged.unanswered);
}

function renderEndpoints(p: PromText, v: MetricsView): void {
  const snapshot = v.snapshot;
  if (snapshot === null) return;
  const shares = computeShares(snapshot);
  const unhealthy = v.health?.unhealthy() ?? new Set<string>();
  const each = (fn: (labels: Labels, subset: number, endpoint: number) => void): void => {
    snapshot.subsets.forEach((s, si) => s.endpoints.forEach((e, ei) => fn([['subset', s.name], ['endpoint', e.id]], si, ei)));
  };
  p.family('stickyd_endpoint_healthy', 'gauge', '1 when the endpoint takes new traffic, 0 while it is ejected or failing health checks.');
  each((l, si, ei) => p.sample('stickyd_endpoint_healthy', l, unhealthy.has(snapshot.subsets[si]!.endpoints[ei]!.id) ? 0 : 1));
  const ejections = v.health?.ejections?.bind(v.health);
  if (ejections !== undefined) {
    p.family('stickyd_endpoint_ejections_total', 'counter', 'Outlier-detection ejections of the endpoint.');
    each((l, si, ei) => p.sample('stickyd_endpoint_ejections_total', l, ejections(snapshot.subsets[si]!.name, snapshot.subsets[si]!.endpoints[ei]!.id)));
  }
  p.family('stickyd_endpoint_draining', 'gauge', '1 while the endpoint is labelled stickyd.io/drain "true": it takes no new sessions; stickyd_requests_total shows what its existing sessions still send it.');
  each((l, si, ei) => p.sample('stickyd_endpoint_draining', l, snapshot.subsets[si]!.endpoints[ei]!.draining === true ? 1 : 0));
  p.family('stickyd_endpoint_weight', 'gauge', 'The endpoint weight from the WorkloadEntry or ServiceEntry.');
  each((l, si, ei) => p.sample('stickyd_endpoint_weight', l, snapshot.subsets[si]!.endpoints[ei]!.weight));
  p.family('stickyd_endpoint_hash_share_ratio', 'gauge', 'Share of the subset\'s hash space (ring arcs or Maglev slots) the endpoint owns: the share of sessions it should get. Hash policies only.');
  each((l, si, ei) => {
    const s = shares[si]!;
    if (s.basis !== 'weight') p.sample('stickyd_endpoint_hash_share_ratio', [...l, ['table', s.basis]], s.shares[ei] ?? 0);
  });
}

function renderRequests(p: PromText, m: MergedStats): void {
  p.family('stickyd_requests_total', 'counter', 'Requests by route, destination subset, endpoint and status class (code="none": no response was sent; empty labels: no route matched).');
  for (const row of sorted(m.series.requests ?? [])) {
    const [route = '', subset = '', endpoint = ''] = row.labels;
    STATUS_COLUMNS.forEach((code, i) => {
      const n = row.values[i] ?? 0;
      if (n !== 0 || ALWAYS_CLASSES.has(code)) p.sample('stickyd_requests_total', [['route', route], ['subset', subset], ['endpoint', endpoint], ['code', code]], n);
    });
  }
  p.family('stickyd_request_duration_seconds', 'histogram', 'Time from taking the request to the end of the response, by destination subset (empty: no route matched).');
  for (const row of sorted(m.series.durations ?? [])) {
    const counts = row.values.slice(0, DURATION_BUCKETS.length + 1);
    p.histogram('stickyd_request_duration_seconds', [['subset', row.labels[0] ?? '']], DURATION_BUCKETS, counts, row.values[DURATION_BUCKETS.length + 1] ?? 0);
  }
  p.family('stickyd_responses_total', 'counter', 'Every response the workers wrote by status class, including answers to unparsable requests that never reached routing.');
  for (const code of ['1xx', '2xx', '3xx', '4xx', '5xx', 'other']) p.sample('stickyd_responses_total', [['code', code]], m.counters[`responses.${code}`] ?? 0);
  p.family('stickyd_requests_in_flight', 'gauge', 'Requests taken and not yet answered.').sample('stickyd_requests_in_flight', [], m.gauges.inflight ?? 0);
  p.family('stickyd_session_cookies_minted_total', 'counter', 'Session cookies minted (Set-Cookie on a request without a valid one; on a persistent subset, every new pin), by subset.');
  const sessions = sorted(m.series.sessions ?? []);
  for (const row of sessions) p.sample('stickyd_session_cookies_minted_total', [['subset', row.labels[0] ?? '']], row.values[0] ?? 0);
  renderPins(p, sessions, m);
}

/** Persistent sessions: how each request's pin fared, re-issues, and the verified-pin cache. */
function renderPins(p: PromText, sessions: readonly SeriesRow[], m: MergedStats): void {
  p.family('stickyd_session_pins_total', 'counter', 'Requests to a persistent-session subset by what their pin was: valid (honoured), absent, malformed, unknown_key, bad_mac, expired, endpoint_gone (not in the config any more), endpoint_unavailable (unhealthy or ejected). Every outcome but valid is placed afresh with a new pin.');
  const refreshed = SESSION_COLUMNS.indexOf('pin_refreshed');
  const pinned = sessions.filter((row) => row.values.slice(1).some((v) => v !== 0));
  for (const row of pinned) {
    PIN_OUTCOMES.forEach((o) => p.sample('stickyd_session_pins_total', [['subset', row.labels[0] ?? ''], ['outcome', o]], row.values[SESSION_COLUMNS.indexOf(`pin_${o}`)] ?? 0));
  }
  p.family('stickyd_session_pins_refreshed_total', 'counter', 'Valid pins re-issued with a fresh expiry (half their lifetime used) or under the new signing key.');
  for (const row of pinned) p.sample('stickyd_session_pins_refreshed_total', [['subset', row.labels[0] ?? '']], row.values[refreshed] ?? 0);
  const c = m.counters;
  p.family('stickyd_session_pin_cache_hits_total', 'counter', 'Pins answered from a worker\'s verified-pin cache (no MAC computed).').sample('stickyd_session_pin_cache_hits_total', [], c.pinCacheHits ?? 0);
  p.family('stickyd_session_pin_cache_misses_total', 'counter', 'Pins verified by computing their MAC (first sight in a worker, or not cacheable).').sample('stickyd_session_pin_cache_misses_total', [], c.pinCacheMisses ?? 0);
}

/** Istio field -> ConnectionPoolPolicy field, for the limits gauge */
const POOL_LIMITS = [
  ['maxConnections', 'maxConnections'],
  ['http1MaxPendingRequests', 'maxPendingRequests'],
  ['http2MaxRequests', 'maxRequests'],
  ['maxRetries', 'maxRetries'],
] as const;

/**
 * Circuit breakers: the daemon-wide limits each subset's connectionPool sets, and the requests
 * they refused. A subset with limits shows every overflow counter from 0; others appear once they
 * overflow (never: they have no limits), so a scrape is not cluttered with zeros.
 */
function renderOverflow(p: PromText, snapshot: Snapshot | null, rows: readonly SeriesRow[]): void {
  p.family('stickyd_upstream_limit', 'gauge', 'DestinationRule connectionPool limits for the whole daemon, by subset and Istio field (maxConnections and http2MaxRequests are lent to workers by the primary, the others are per-worker shares: README, Circuit breakers).');
  const counts = new Map<string, number[]>();
  for (const s of snapshot?.subsets ?? []) {
    const cp = s.connectionPool;
    if (cp == null) continue;
    let any = false;
    for (const [field, key] of POOL_LIMITS) {
      const limit = cp[key];
      if (limit === null) continue;
      any = true;
      p.sample('stickyd_upstream_limit', [['subset', s.name], ['limit', field]], limit);
    }
    if (any) counts.set(s.name, OVERFLOW_LIMITS.map(() => 0));
  }
  for (const row of rows) {
    const name = row.labels[0] ?? '';
    const have = counts.get(name) ?? OVERFLOW_LIMITS.map(() => 0);
    row.values.forEach((v, i) => { have[i] = (have[i] ?? 0) + v; });
    counts.set(name, have);
  }
  p.family('stickyd_upstream_overflow_total', 'counter', 'Requests a connectionPool limit refused, by subset and limit: answered 503 with x-envoy-overloaded: true (http1MaxPendingRequests, http2MaxRequests), or a retry not made (maxRetries).');
  for (const name of [...counts.keys()].sort()) {
    OVERFLOW_LIMITS.forEach((limit, i) => p.sample('stickyd_upstream_overflow_total', [['subset', name], ['limit', limit]], counts.get(name)![i] ?? 0));
  }
}

/** ServiceEntry host names the primary resolves (resolution DNS). */
function renderDns(p: PromText, names: readonly DnsNameStatus[]): void {
  p.family('stickyd_dns_addresses', 'gauge', 'Addresses a ServiceEntry host name resolved to last (kept while resolutions fail), by name.');
  for (const n of names) p.sample('stickyd_dns_addresses', [['name', n.name]], n.addresses.length);
  p.family('stickyd_dns_resolutions_total', 'counter', 'Resolutions of a ServiceEntry host name, by name and result (ok, failed).');
  for (const n of names) {
    p.sample('stickyd_dns_resolutions_total', [['name', n.name], ['result', 'ok']], n.resolutions);
    p.sample('stickyd_dns_resolutions_total', [['name', n.name], ['result', 'failed']], n.failures);
  }
  p.family('stickyd_dns_changes_total', 'counter', 'Times a ServiceEntry host name\'s set of addresses changed (each change builds a new generation).');
  for (const n of names) p.sample('stickyd_dns_changes_total', [['name', n.name]], n.changes);
}

function renderUpstream(p: PromText, rows: readonly SeriesRow[]): void {
  UPSTREAM_COLUMNS.forEach((column, i) => {
    const [name, help] = UPSTREAM_METRICS[column];
    p.family(name, 'counter', help);
    for (const row of sorted(rows)) p.sample(name, [['subset', row.labels[0] ?? ''], ['endpoint', row.labels[1] ?? '']], row.values[i] ?? 0);
  });
}

function renderWorkers(p: PromText, m: MergedStats): void {
  const c = m.counters;
  const g = m.gauges;
  const one = (name: string, type: 'counter' | 'gauge', help: string, value: number): void => { p.family(name, type, help).sample(name, [], value); };
  one('stickyd_connections_active', 'gauge', 'Client connections open now.', g.activeConnections ?? 0);
  one('stickyd_connections_total', 'counter', 'Client connections accepted.', c.connections ?? 0);
  one('stickyd_session_cache_entries', 'gauge', 'Sessions held in the workers\' caches (each worker has its own).', g.sessionCacheEntries ?? 0);
  one('stickyd_session_cache_capacity', 'gauge', 'Session cache capacity summed over workers (0: the cache is disabled).', g.sessionCacheCapacity ?? 0);
  one('stickyd_session_cache_hits_total', 'counter', 'Session keys answered from the cache.', c.sessionCacheHits ?? 0);
  one('stickyd_session_cache_misses_total', 'counter', 'Session keys hashed and looked up in the table.', c.sessionCacheMisses ?? 0);
  one('stickyd_session_cache_evictions_total', 'counter', 'Sessions evicted from a full cache (least recently used first).', c.sessionCacheEvictions ?? 0);
  p.family('stickyd_upgrades_refused_total', 'counter', 'Upgrade requests not tunnelled, by reason: the Upgrade header stripped and the request proxied as a plain one (protocol: not websocket; method: not GET; handshake: no Sec-WebSocket-Key; connection: Connection does not name upgrade), or upstream_101: a backend answered 101 to a plain request (502).');
  for (const reason of UPGRADE_REFUSALS) p.sample('stickyd_upgrades_refused_total', [['reason', reason]], c[`upgradesRefused.${reason}`] ?? 0);
  p.family('stickyd_mirror_requests_total', 'counter', 'Mirrored copies of requests (VirtualService mirror/mirrors), by result: ok (answered, answer discarded), error (connect failure, reset, timeout), shed (the worker\'s in-flight cap was reached), no_endpoint, body_too_large (over the copy\'s body bound), incomplete (the client\'s body never arrived whole).');
  for (const result of MIRROR_RESULTS) p.sample('stickyd_mirror_requests_total', [['result', result]], c[`mirrors.${result}`] ?? 0);
  one('stickyd_mirror_requests_in_flight', 'gauge', 'Mirrored copies buffering a body or awaiting their answer now, summed over workers.', g.mirrorsInFlight ?? 0);
  one('stickyd_access_log_lines_total', 'counter', 'Access log lines written.', c.accessLogLines ?? 0);
  one('stickyd_access_log_dropped_total', 'counter', 'Access log lines dropped because stdout could not keep up.', c.accessLogDropped ?? 0);
}

/** Rows in label order, so the output is stable between scrapes. */
function sorted(rows: readonly SeriesRow[]): SeriesRow[] {
  return [...rows].sort((a, b) => {
    for (let i = 0; i < Math.max(a.labels.length, b.labels.length); i++) {
      const x = a.labels[i] ?? '';
      const y = b.labels[i] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
}
