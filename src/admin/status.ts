// GET /status: what an operator (or `stickyd reload`, or the admin page) needs at a glance:
// generation, config, reload history, workers with their request counts, and every subset with
// its endpoints, their health, their share of the subset and the requests they served.
import type { ConnectionPoolPolicy, LbPolicy, Snapshot } from '../snapshot/types.js';
import type { DnsNameStatus, HealthSource, LeaseStatus, MergedStats, ReloaderStatus, WorkerStatus } from '../daemon-view.js';
import { computeShares } from './shares.js';
import type { AdminSources } from './sources.js';

export interface EndpointStatus {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly healthy: boolean;
  /** labelled stickyd.io/drain "true": takes no new sessions; `requests` shows what still reaches it */
  readonly draining: boolean;
  /** null when no health source counts ejections */
  readonly ejections: number | null;
  /** share of the subset: of the hash space for hash policies, of the weight otherwise */
  readonly share: number;
  /** requests sent to this endpoint since the daemon started, over every route */
  readonly requests: number;
}

export interface SubsetStatus {
  readonly name: string;
  readonly host: string;
  readonly subset: string | null;
  readonly policy: string;
  /** DestinationRule connectionPool, daemon-wide (null: the daemon's defaults) */
  readonly connectionPool: ConnectionPoolPolicy | null;
  readonly shareBasis: 'ring' | 'maglev' | 'weight';
  /** "cookie <name>" or "header <name>" for a persistent-session subset, else null */
  readonly persistentSession: string | null;
  /** stickyd.io/hash-balance-factor, null when unbounded */
  readonly balanceFactor: number | null;
  readonly endpoints: readonly EndpointStatus[];
}

/** A worker row of GET /status: the reloader's view plus what its last stats report said. */
export interface WorkerStatusRow extends WorkerStatus {
  readonly retiring: boolean;
  /** the worker answered this scrape (else the counts below are null) */
  readonly answered: boolean;
  readonly requests: number | null;
  readonly activeConnections: number | null;
  readonly inflight: number | null;
}

/** The body of GET /status. */
export interface StatusBody extends Omit<ReloaderStatus, 'workers'> {
  readonly uptimeSec: number;
  readonly workers: readonly WorkerStatusRow[];
  readonly totals: { readonly requests: number; readonly inflight: number; readonly activeConnections: number; readonly sessionCacheEntries: number };
  readonly unansweredWorkers: number;
  readonly health: Record<string, unknown> | null;
  readonly subsets: readonly SubsetStatus[];
  /** every Gateway server certificate of the applied snapshot (buildCertificateStatus) */
  readonly certificates: readonly Record<string, unknown>[];
  /** ServiceEntry host names (resolution DNS) and what they resolved to */
  readonly dns: readonly DnsNameStatus[];
  /** maxConnections / http2MaxRequests tokens in use (only limits some request has asked for) */
  readonly leases: readonly LeaseStatus[];
}

export async function buildStatus(src: AdminSources): Promise<StatusBody> {
  const merged = await src.scrape();
  const base = src.reloader.status();
  const byPid = new Map(merged.workers.map((w) => [w.pid, w.report]));
  const infos = new Map(src.supervisor.workers().map((w) => [w.pid, w]));
  const workers = base.workers.map((w): WorkerStatusRow => {
    const report = byPid.get(w.pid) ?? null;
    return {
      ...w,
      retiring: infos.get(w.pid)?.retiring ?? false,
      answered: report !== null,
      requests: report?.counters.requests ?? null,
      activeConnections: report?.gauges.activeConnections ?? null,
      inflight: report?.gauges.inflight ?? null,
    };
  });
  return {
    ...base,
    uptimeSec: Math.round((Date.now() - src.startedAt) / 1000),
    workers,
    totals: {
      requests: merged.counters.requests ?? 0,
      inflight: merged.gauges.inflight ?? 0,
      activeConnections: merged.gauges.activeConnections ?? 0,
      sessionCacheEntries: merged.gauges.sessionCacheEntries ?? 0,
    },
    unansweredWorkers: merged.unanswered,
    health: src.health?.status?.() ?? null,
    certificates: src.reloader.applied === null ? [] : buildCertificateStatus(src.reloader.applied),
    dns: src.dns?.status() ?? [],
    leases: src.leases?.status() ?? [],
    subsets: src.reloader.applied === null ? [] : buildSubsetStatus(src.reloader.applied, merged, src.health),
  };
}

export function buildSubsetStatus(snapshot: Snapshot, merged: MergedStats, health: HealthSource | null): SubsetStatus[] {
  const shares = computeShares(snapshot);
  const requests = sumByEndpoint(merged);
  const unhealthy = health?.unhealthy() ?? new Set<string>();
  return snapshot.subsets.map((s, si) => ({
    name: s.name,
    host: s.host,
    subset: s.subsetName,
    policy: describePolicy(s.policy),
    connectionPool: s.connectionPool ?? null,
    shareBasis: shares[si]!.basis,
    persistentSession: s.persistent == null ? null : `${s.persistent.kind} ${s.persistent.name}`,
    balanceFactor: s.balanceFactor ?? null,
    endpoints: s.endpoints.map((e, ei) => ({
      id: e.id,
      address: e.address,
      port: e.port,
      weight: e.weight,
      healthy: !unhealthy.has(e.id),
      draining: e.draining === true,
      ejections: health?.ejections?.(s.name, e.id) ?? null,
      share: shares[si]!.shares[ei] ?? 0,
      requests: requests.get(`${s.name}\u0000${e.id}`) ?? 0,
    })),
  }));
}

/** requests per (subset, endpoint), every route and status class together */
function sumByEndpoint(merged: MergedStats): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of merged.series.requests ?? []) {
    const [, subset = '', endpoint = ''] = row.labels;
    if (endpoint === '') continue;
    const key = `${subset}\u0000${endpoint}`;
    out.set(key, (out.get(key) ?? 0) + row.values.reduce((a, b) => a + b, 0));
  }
  return out;
}

/** "consistentHash(cookie session, ring)", "roundRobin", ... */
export function describePolicy(p: LbPolicy): string {
  if (p.kind !== 'hash') return p.kind;
  const k = p.key;
  const key = k.kind === 'cookie' ? `cookie ${k.name}` : k.kind === 'header' ? `header ${k.name}` : k.kind === 'query' ? `query ${k.name}` : 'source IP';
  return `consistentHash(${key}, ${p.table})`;
}

/** Every Gateway server certificate in use: what it says and when it expires. */
export function buildCertificateStatus(snapshot: Snapshot): Record<string, unknown>[] {
  return snapshot.listeners.flatMap((l) =>
    l.servers.flatMap((s) => {
      if (s.tls === null) return [];
      const c = s.tls.certificate;
      return [{
        port: l.port, server: s.name, hosts: s.hosts, mode: s.tls.mode, file: c.file, subject: c.subject, subjectAltNames: c.subjectAltNames,
        serial: c.serial, notBefore: new Date(c.notBeforeMs).toISOString(), notAfter: new Date(c.notAfterMs).toISOString(),
        daysLeft: Math.floor((c.notAfterMs - Date.now()) / 86_400_000), caFile: s.tls.caFile,
      }];
    }),
  );
}
