// `stickyd check -c NEW --against OLD`: what applying NEW over OLD would move, from the tables.
// Per subset (host/subset and port), the share of hash-mode sessions whose endpoint changes,
// exact over the 2^32 hash space (balancing/moves.ts); per route with a session split, the share
// of sessions whose destination changes, in closed form (docs/weighted-split-moves.md). OLD is a
// config path or a running daemon's admin URL, whose /config_dump holds every input of the
// tables (endpoints, weights, policies), so they are rebuilt here exactly as the daemon built them.
import type { Hasher } from '../balancing/hash.js';
import { buildTables } from '../balancing/build-tables.js';
import { computeEndpointMove, computeMinimumMove, computeSplitMove, isExactEndpointMove } from '../balancing/moves.js';
import { describeHashKey, sameHashKey } from '../session/hash-key.js';
import type { HashKey, LbPolicy, Route, Snapshot, Subset } from '../snapshot/types.js';

export type SubsetChange =
  /** hash mode on both sides, same key: `moved` is the share of sessions whose endpoint changes */
  | 'hash'
  /** the hash key changed (another cookie, header...): every session is placed afresh */
  | 'key-changed'
  /** not hash mode on one side or both: no session affinity to keep */
  | 'not-hash'
  | 'added'
  | 'removed';

export interface SubsetMove {
  readonly subset: string;
  readonly port: number;
  readonly change: SubsetChange;
  /** share 0-1 of sessions whose endpoint changes; null when not a hash-mode comparison */
  readonly moved: number | null;
  /** false only for a Maglev table size change (a fixed-grid integration) */
  readonly exact: boolean;
  /** e.g. 'ring, cookie "session"' on the new side, or the old one when removed */
  readonly policy: string;
}

export type RouteChange =
  /** the destination follows the session key (or one destination takes all) on both sides */
  | 'keyed'
  /** the deciding key changed: every session is placed afresh */
  | 'key-changed'
  /** at least one side draws the destination at random per request */
  | 'random'
  | 'added'
  | 'removed';

export interface RouteMove {
  readonly listener: number;
  readonly virtualHost: string;
  readonly route: string;
  readonly change: RouteChange;
  /** share 0-1 of sessions whose destination changes (closed form); null when not 'keyed' */
  readonly moved: number | null;
  /** the least any assignment must move: total variation between the two splits */
  readonly minimum: number | null;
  /** destination (host/subset:port) -> [old weight, new weight] */
  readonly weights: readonly { readonly destination: string; readonly from: number; readonly to: number }[];
}

export interface MoveReport {
  readonly subsets: readonly SubsetMove[];
  readonly routes: readonly RouteMove[];
}

/** Both snapshots with their tables built (buildTables). */
export function buildMoveReport(from: Snapshot, to: Snapshot): MoveReport {
  return { subsets: compareSubsets(from, to), routes: compareRoutes(from, to) };
}

/** A snapshot as /config_dump shows it, with its tables rebuilt (they are pure functions of the rest). */
export function readConfigDump(dump: unknown, hasher: Hasher): Snapshot {
  const d = dump as { generation?: unknown; configPath?: unknown; configHash?: unknown; listeners?: unknown; subsets?: unknown; settings?: unknown };
  if (typeof d !== 'object' || d === null || !Array.isArray(d.listeners) || !Array.isArray(d.subsets)) throw new TypeError('not a stickyd /config_dump: no listeners or subsets');
  const subsets = (d.subsets as Subset[]).map((s) => ({ ...s, table: null }));
  const listeners = (d.listeners as Snapshot['listeners']).map((l) => ({
    ...l,
    virtualHosts: l.virtualHosts.map((vh) => ({
      ...vh,
      routes: vh.routes.map((r): Route => ({ ...r, ...(r.sessionSplit != null ? { sessionSplit: { ...r.sessionSplit, table: null } } : {}) })),
    })),
  }));
  const snapshot = {
    epoch: Number(d.generation), configPath: String(d.configPath), configHash: String(d.configHash), listeners, subsets, settings: d.settings,
  } as Snapshot;
  return buildTables(snapshot, hasher);
}

function subsetId(s: Pick<Subset, 'name' | 'port'>): string {
  return `${s.name}:${s.port}`;
}

function describePolicy(p: LbPolicy): string {
  switch (p.kind) {
    case 'hash':
      return `${p.table === 'ring' ? 'ring hash' : 'maglev'}, ${describeHashKey(p.key)}`;
    case 'roundRobin':
      return 'round robin';
    case 'leastRequest':
      return 'least request';
    case 'random':
      return 'random';
  }
}

function compareSubsets(from: Snapshot, to: Snapshot): SubsetMove[] {
  const old = new Map(from.subsets.map((s) => [subsetId(s), s]));
  const out: SubsetMove[] = [];
  for (const s of to.subsets) {
    const o = old.get(subsetId(s));
    old.delete(subsetId(s));
    out.push(compareSubset(o, s));
  }
  for (const o of old.values()) out.push({ subset: o.name, port: o.port, change: 'removed', moved: null, exact: true, policy: describePolicy(o.policy) });
  return out;
}

function compareSubset(o: Subset | undefined, s: Subset): SubsetMove {
  const base = { subset: s.name, port: s.port, policy: describePolicy(s.policy) };
  if (o === undefined) return { ...base, change: 'added', moved: null, exact: true };
  const a = o.policy;
  const b = s.policy;
  if (a.kind !== 'hash' || b.kind !== 'hash' || o.table === null || s.table === null) return { ...base, change: 'not-hash', moved: null, exact: true };
  if (!sameHashKey(a.key, b.key)) return { ...base, change: 'key-changed', moved: 1, exact: true };
  // Persistent-session subsets (signed pins, issue 12 section 2) are not part of the snapshot yet;
  // until they are, every hash subset is reported as hash mode.
  return {
    ...base,
    change: 'hash',
    moved: computeEndpointMove({ table: o.table, endpoints: o.endpoints }, { table: s.table, endpoints: s.endpoints }),
    exact: isExactEndpointMove(o.table, s.table),
  };
}

interface RouteView {
  readonly listener: number;
  readonly virtualHost: string;
  readonly route: Route;
  readonly subsets: readonly Subset[];
}

function routesOf(s: Snapshot): Map<string, RouteView> {
  const out = new Map<string, RouteView>();
  for (const l of s.listeners) {
    for (const vh of l.virtualHosts) {
      for (const r of vh.routes) {
        if (r.destinations.length > 0) out.set(`${l.port}\n${vh.name}\n${r.name}`, { listener: l.port, virtualHost: vh.name, route: r, subsets: s.subsets });
      }
    }
  }
  return out;
}

/** destination identity -> summed weight (the same subset listed twice counts once, summed). */
function weightsOf(v: RouteView): Map<string, number> {
  const w = new Map<string, number>();
  for (const d of v.route.destinations) {
    const s = v.subsets[d.subset];
    if (s === undefined) continue;
    w.set(subsetId(s), (w.get(subsetId(s)) ?? 0) + d.weight);
  }
  return w;
}

/** The key that decides the destination; 'sole' when one destination carries everything; null when drawn at random. */
function decidingKey(v: RouteView): HashKey | 'sole' | null {
  const split = v.route.sessionSplit;
  if (split !== undefined && split !== null) return split.key;
  return v.route.destinations.filter((d) => d.weight > 0).length === 1 ? 'sole' : null;
}

function compareRoutes(from: Snapshot, to: Snapshot): RouteMove[] {
  const old = routesOf(from);
  const out: RouteMove[] = [];
  for (const [id, n] of routesOf(to)) {
    const o = old.get(id);
    old.delete(id);
    out.push(compareRoute(o, n));
  }
  for (const o of old.values()) out.push({ listener: o.listener, virtualHost: o.virtualHost, route: o.route.name, change: 'removed', moved: null, minimum: null, weights: listWeights(weightsOf(o), new Map()) });
  return out.filter((r) => r.change !== 'keyed' || r.weights.length > 1 || r.moved !== 0);
}

function compareRoute(o: RouteView | undefined, n: RouteView): RouteMove {
  const base = { listener: n.listener, virtualHost: n.virtualHost, route: n.route.name };
  const to = weightsOf(n);
  if (o === undefined) return { ...base, change: 'added', moved: null, minimum: null, weights: listWeights(new Map(), to) };
  const from = weightsOf(o);
  const weights = listWeights(from, to);
  const ka = decidingKey(o);
  const kb = decidingKey(n);
  if (ka === null || kb === null) return { ...base, change: 'random', moved: null, minimum: computeMinimumMove(from, to), weights };
  // A sole destination keeps every session whatever the key; two keyed sides must agree on it.
  if (ka !== 'sole' && kb !== 'sole' && !sameHashKey(ka, kb)) return { ...base, change: 'key-changed', moved: 1, minimum: computeMinimumMove(from, to), weights };
  return { ...base, change: 'keyed', moved: computeSplitMove(from, to), minimum: computeMinimumMove(from, to), weights };
}

function listWeights(from: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): RouteMove['weights'] {
  const ids = [...new Set([...from.keys(), ...to.keys()])].sort();
  return ids.map((destination) => ({ destination, from: from.get(destination) ?? 0, to: to.get(destination) ?? 0 }));
}

const pct = (x: number): string => `${(100 * x).toFixed(2)} %`;

/** One line per subset and per route that has something to say, for a person. */
export function formatMoveReport(r: MoveReport): string[] {
  const lines: string[] = [];
  for (const s of r.subsets) {
    const name = `subset ${s.subset} port ${s.port} (${s.policy})`;
    switch (s.change) {
      case 'hash':
        lines.push(`${name}: ${pct(s.moved ?? 0)} of sessions change endpoint${s.exact ? '' : ' (Maglev table size changed: integrated on a fixed grid, not exact)'}`);
        break;
      case 'key-changed':
        lines.push(`${name}: the hash key changed: every session is placed afresh`);
        break;
      case 'not-hash':
        lines.push(`${name}: not in hash mode: no session affinity to keep`);
        break;
      case 'added':
        lines.push(`${name}: new`);
        break;
      case 'removed':
        lines.push(`${name}: removed`);
        break;
    }
  }
  for (const m of r.routes) {
    const weights = m.weights.map((w) => `${w.destination} ${w.from} -> ${w.to}`).join(', ');
    const name = `route ${m.route} (port ${m.listener}, ${m.virtualHost})`;
    switch (m.change) {
      case 'keyed':
        lines.push(`${name}: ${pct(m.moved ?? 0)} of sessions change destination (the least possible: ${pct(m.minimum ?? 0)}); ${weights}`);
        break;
      case 'key-changed':
        lines.push(`${name}: the key deciding the destination changed: every session is placed afresh; ${weights}`);
        break;
      case 'random':
        lines.push(`${name}: destination drawn at random per request on one side: no session affinity across destinations; ${weights}`);
        break;
      case 'added':
        lines.push(`${name}: new; ${weights}`);
        break;
      case 'removed':
        lines.push(`${name}: removed`);
        break;
    }
  }
  return lines;
}
