// How a worker's counts outlive the snapshots they were taken under, and the report the primary
// asks for. A reload replaces the meters (stats.ts) with the snapshot; the old ones stay live
// while requests that started on them are in flight, then MeterLedger folds them into
// label-keyed totals, so counters survive reloads exactly. Folding happens at a swap or a
// report, never per request.
import { STATUS_COLUMNS, UPGRADE_REFUSALS, MIRROR_RESULTS, UPSTREAM_COLUMNS, type SeriesRow, type StatsReport } from '../../protocol.js';
import type { SnapshotMeter, WorkerStats } from './stats.js';

const CLASS_COUNT = STATUS_COLUMNS.length;
const UPSTREAM_WIDTH = UPSTREAM_COLUMNS.length;

type Family = 'requests' | 'durations' | 'upstream' | 'sessions' | 'overflow';
const FAMILIES: readonly Family[] = ['requests', 'durations', 'upstream', 'sessions', 'overflow'];

/** (labels, values) rows of one meter, in a fixed order; labels are the snapshot's own strings. */
function meterRows(meter: SnapshotMeter, family: Family, emit: (labels: readonly string[], values: Float64Array) => void): void {
  switch (family) {
    case 'requests':
      if (hasCounts(meter.unrouted)) emit(['', '', ''], meter.unrouted);
      for (const t of meter.targets) {
        const ids = t.endpointIds;
        for (let e = 0; e < ids.length; e++) emit([t.route, t.subset, ids[e]!], t.requests.subarray(e * CLASS_COUNT, (e + 1) * CLASS_COUNT));
        // the "no endpoint" row only when used: it is rare and would otherwise clutter every scrape
        const none = t.requests.subarray(ids.length * CLASS_COUNT);
        if (hasCounts(none)) emit([t.route, t.subset, ''], none);
      }
      return;
    case 'durations':
      if (hasCounts(meter.unroutedDurations)) emit([''], meter.unroutedDurations);
      for (const s of meter.subsets) emit([s.name], s.durations);
      return;
    case 'upstream':
      for (const s of meter.subsets) {
        s.endpointIds.forEach((id, e) => emit([s.name, id], s.upstream.subarray(e * UPSTREAM_WIDTH, (e + 1) * UPSTREAM_WIDTH)));
      }
      return;
    case 'sessions':
      for (const s of meter.subsets) emit([s.name], s.sessions);
      return;
    case 'overflow':
      // only subsets that overflowed: most have no connectionPool and would add zeros to every scrape
      for (const s of meter.subsets) if (hasCounts(s.overflow)) emit([s.name], s.overflow);
      return;
  }
}

function hasCounts(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return true;
  return false;
}

const LABEL_SEP = '\u0000';

/** Label-keyed sums of one family; a row is identified by its labels, never by a snapshot index. */
class FamilyTotals {
  readonly rows = new Map<string, { labels: readonly string[]; values: number[] }>();

  add(labels: readonly string[], values: ArrayLike<number>): void {
    const key = labels.join(LABEL_SEP);
    const row = this.rows.get(key);
    if (row === undefined) {
      this.rows.set(key, { labels, values: Array.from(values) });
      return;
    }
    for (let i = 0; i < values.length; i++) row.values[i] = (row.values[i] ?? 0) + values[i]!;
  }

  toRows(): SeriesRow[] {
    return [...this.rows.values()].map((r) => ({ labels: r.labels, values: r.values.slice() }));
  }
}

/**
 * Keeps a worker's meters across snapshots: the current one, retired ones that still have requests
 * in flight, and the folded totals of everything older. Folding happens at a swap or a report,
 * never per request.
 */
export class MeterLedger {
  #current: SnapshotMeter | null = null;
  #retired: SnapshotMeter[] = [];
  readonly #folded = new Map<Family, FamilyTotals>(FAMILIES.map((f) => [f, new FamilyTotals()]));

  /** The snapshot's meter becomes current; the previous one retires. */
  swap(next: SnapshotMeter): void {
    if (this.#current !== null && this.#current !== next) this.#retired.push(this.#current);
    this.#current = next;
    this.#foldIdle();
  }

  /** requests in flight across every live meter */
  get inflight(): number {
    let n = this.#current?.inflight ?? 0;
    for (const m of this.#retired) n += m.inflight;
    return n;
  }

  /** Totals since the worker started, per family, summed by labels. */
  series(): Record<Family, SeriesRow[]> {
    this.#foldIdle();
    const out = {} as Record<Family, SeriesRow[]>;
    for (const family of FAMILIES) {
      const totals = new FamilyTotals();
      for (const row of this.#folded.get(family)!.rows.values()) totals.add(row.labels, row.values);
      for (const m of [...this.#retired, ...(this.#current ? [this.#current] : [])]) meterRows(m, family, (l, v) => totals.add(l, v));
      out[family] = totals.toRows();
    }
    return out;
  }

  #foldIdle(): void {
    const keep: SnapshotMeter[] = [];
    for (const m of this.#retired) {
      if (m.inflight > 0) { keep.push(m); continue; }
      for (const family of FAMILIES) meterRows(m, family, (l, v) => this.#folded.get(family)!.add(l, v));
    }
    this.#retired = keep;
  }
}

/**
 * Session cache evictions without a hook in the cache: every miss inserts exactly one entry into
 * the cache of its snapshot and nothing else deletes, so a cache has evicted (its misses - its
 * size). Caches are per snapshot; a retired cache's count is settled when it is swapped out.
 */
export class EvictionLedger {
  #settled = 0;
  #missesAtStart = 0;

  /** `misses`: the shared miss total now; `old`: the cache being replaced (null at the first snapshot). */
  swap(misses: number, old: { readonly size: number; readonly max: number } | null): void {
    if (old !== null && old.max > 0) this.#settled += misses - this.#missesAtStart - old.size;
    this.#missesAtStart = misses;
  }

  total(misses: number, current: { readonly size: number; readonly max: number } | null): number {
    const live = current !== null && current.max > 0 ? misses - this.#missesAtStart - current.size : 0;
    return this.#settled + live;
  }
}

export interface ReportInputs {
  readonly epoch: number;
  readonly draining: boolean;
  readonly sessionCache: { readonly size: number; readonly max: number; readonly hits: number; readonly misses: number; readonly evictions: number };
  readonly accessLog: { readonly lines: number; readonly dropped: number };
  readonly upstreamPools: number;
  /** verified-pin cache hits and misses (a miss is one MAC verification); absent: none yet */
  readonly pinCache?: { readonly hits: number; readonly misses: number };
}

/** A plain, structured-clone-friendly view for statsReply / finalStats. */
export function buildStatsReport(stats: WorkerStats, ledger: MeterLedger, extra: ReportInputs): StatsReport {
  const c = stats.byStatusClass;
  return {
    pid: process.pid,
    epoch: extra.epoch,
    draining: extra.draining,
    counters: {
      requests: stats.requests,
      connections: stats.connections,
      upstreamErrors: stats.upstreamErrors,
      upstreamRetries: stats.upstreamRetries,
      sessionCacheHits: extra.sessionCache.hits,
      sessionCacheMisses: extra.sessionCache.misses,
      sessionCacheEvictions: extra.sessionCache.evictions,
      pinCacheHits: extra.pinCache?.hits ?? 0,
      pinCacheMisses: extra.pinCache?.misses ?? 0,
      accessLogLines: extra.accessLog.lines,
      accessLogDropped: extra.accessLog.dropped,
      ...upgradeCounters(stats.upgradesRefused),
      ...mirrorCounters(stats.mirrorResults),
      'responses.other': c[0]!, 'responses.1xx': c[1]!, 'responses.2xx': c[2]!, 'responses.3xx': c[3]!, 'responses.4xx': c[4]!, 'responses.5xx': c[5]!,
      'requests.h2': stats.requestsH2,
      tlsHandshakes: stats.tlsHandshakes,
      ...prefixed('tlsHandshakeFailures.', stats.tlsHandshakeFailures),
      ...prefixed('h2SessionsRefused.', stats.h2SessionsRefused),
    },
    gauges: {
      activeConnections: stats.activeConnections,
      inflight: ledger.inflight,
      sessionCacheEntries: extra.sessionCache.size,
      sessionCacheCapacity: extra.sessionCache.max,
      upstreamPools: extra.upstreamPools,
      mirrorsInFlight: stats.mirrorsInFlight,
    },
    series: ledger.series(),
  };
}

/** `upgradesRefused.<reason>` counters, summed over workers like the others. */
function upgradeCounters(row: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  UPGRADE_REFUSALS.forEach((reason, i) => { out[`upgradesRefused.${reason}`] = row[i] ?? 0; });
  return out;
}

/** `mirrors.<result>` counters. */
function mirrorCounters(row: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  MIRROR_RESULTS.forEach((result, i) => { out[`mirrors.${result}`] = row[i] ?? 0; });
  return out;
}

/** Reason-keyed counters as flat report counters ("prefix.reason"), which the primary sums as any other. */
function prefixed(prefix: string, counts: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of counts) out[prefix + k] = v;
  return out;
}
