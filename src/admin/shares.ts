// Each endpoint's share of its subset: for hash policies the fraction of the hash space its
// table gives it (ring arcs or Maglev slots), which is the fraction of sessions it should get;
// for the other policies its weight over the total. Computed once per snapshot (WeakMap).
import type { BalancerTable, Snapshot, Subset } from '../snapshot/types.js';

const HASH_SPACE = 2 ** 32;

export interface SubsetShares {
  /** 'ring' / 'maglev': share of the hash space; 'weight': share of the weight */
  readonly basis: 'ring' | 'maglev' | 'weight';
  /** one per Subset.endpoints entry, summing to 1 */
  readonly shares: readonly number[];
}

const cache = new WeakMap<Snapshot, readonly SubsetShares[]>();

/** Shares of every subset of `snapshot`, in Snapshot.subsets order. */
export function computeShares(snapshot: Snapshot): readonly SubsetShares[] {
  let shares = cache.get(snapshot);
  if (shares === undefined) {
    shares = snapshot.subsets.map(buildSubsetShares);
    cache.set(snapshot, shares);
  }
  return shares;
}

export function buildSubsetShares(subset: Subset): SubsetShares {
  if (subset.table !== null) return { basis: subset.table.kind, shares: buildTableShares(subset.table, subset.endpoints.length) };
  const total = subset.endpoints.reduce((sum, e) => sum + e.weight, 0);
  return { basis: 'weight', shares: subset.endpoints.map((e) => (total > 0 ? e.weight / total : 0)) };
}

/**
 * Ring: a key goes to the first point at or after its hash (wrapping), so point p owns the arc
 * (hashes[p-1], hashes[p]] and point 0 also owns everything above the last point.
 * Maglev: each slot is an equal share.
 */
export function buildTableShares(table: BalancerTable, endpointCount: number): number[] {
  const owned = new Float64Array(endpointCount);
  if (table.kind === 'maglev') {
    for (const e of table.table) owned[e]! += 1;
    return Array.from(owned, (n) => n / table.table.length);
  }
  const { hashes, endpoints } = table;
  const n = hashes.length;
  if (n === 0) return Array.from(owned);
  owned[endpoints[0]!]! += HASH_SPACE - hashes[n - 1]! + hashes[0]!;
  for (let p = 1; p < n; p++) owned[endpoints[p]!]! += hashes[p]! - hashes[p - 1]!;
  return Array.from(owned, (a) => a / HASH_SPACE);
}
