// The build side of balancing: fills every hash subset's table and every session-split route's
// rendezvous table. Runs in the piscina pool (primary/build.task.ts) so the primary's event loop
// never waits on a large ring.
import type { BalancerTable, Listener, Route, Snapshot, Subset } from '../snapshot/types.js';
import { StickydError } from '../errors.js';
import type { Hasher } from './hash.js';
import { buildMaglev } from './maglev.js';
import { buildRendezvous } from './rendezvous.js';
import { buildRing } from './ring.js';

/**
 * Fills the tables; pure; returns a new Snapshot (input untouched). A subset table already there
 * is kept: a DNS answer change clears only the changed subsets' tables (config/compile/dns-endpoints.ts
 * applyResolved). Split tables depend on destinations and weights only, and are cheap: always built.
 */
export function buildTables(snapshot: Snapshot, hasher: Hasher): Snapshot {
  const subsets = snapshot.subsets.map((s) => ({ ...s, table: s.table ?? buildSubsetTable(s, hasher) }));
  const listeners = snapshot.listeners.map((l): Listener => ({
    ...l,
    virtualHosts: l.virtualHosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => buildSplitTable(r, subsets, hasher)) })),
  }));
  return { ...snapshot, listeners, subsets };
}

function buildSubsetTable(subset: Subset, hasher: Hasher): BalancerTable | null {
  const p = subset.policy;
  if (p.kind !== 'hash') return null;
  try {
    return p.table === 'ring' ? buildRing(subset.endpoints, p.minimumRingSize, hasher) : buildMaglev(subset.endpoints, p.maglevTableSize, hasher);
  } catch (err) {
    // Name the subset: the builders only know endpoints.
    const message = err instanceof Error ? err.message : String(err);
    throw new StickydError('STICKYD_ERR_BUILD', `subset ${subset.name}: ${message}`, { cause: err });
  }
}

function buildSplitTable(route: Route, subsets: readonly Subset[], hasher: Hasher): Route {
  const split = route.sessionSplit;
  if (split === undefined || split === null) return route;
  const salts = buildDestinationSalts(route.destinations.map((d) => subsets[d.subset]!), hasher);
  return { ...route, sessionSplit: { ...split, table: buildRendezvous(route.destinations.map((d) => d.weight), salts) } };
}

/**
 * A destination's salt is the hash of its identity, "<host>/<subset>:<port>", so a session keeps
 * its destination when destinations are reordered, added or removed, on every instance alike.
 * The same subset listed twice gets "#2", "#3"... so the copies draw independently.
 */
export function buildDestinationSalts(subsets: readonly Pick<Subset, 'name' | 'port'>[], hasher: Hasher): number[] {
  const seen = new Map<string, number>();
  return subsets.map((s) => {
    const id = `${s.name}:${s.port}`;
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return hasher.hash32(n === 1 ? id : `${id}#${n}`);
  });
}
