// The health walk (pingora ketama `select_with`, Envoy `chooseHost(hash, attempt)`): a key whose
// endpoint is unavailable goes to the owner of the next point on the ring (the next slot of a
// Maglev table) that is available. Tables are never rebuilt for health, so keys of available
// endpoints never move, and the moved keys come back as soon as their endpoint does.
import type { BalancerTable } from '../snapshot/types.js';
import { selectRingPoint } from './ring.js';

/**
 * Points (or slots) visited before giving up on the table order. With 160 points per endpoint a
 * run of unavailable points this long means nearly every endpoint is out; the bounded scan that
 * follows keeps the cost O(endpoints) instead of O(points) (a 10,000-endpoint ring has 1.6M).
 */
export const WALK_LIMIT = 4_096;

/**
 * Index into the subset's endpoints for `hash`, skipping every endpoint i with `unavailable[i]`
 * non-zero; -1 when all are unavailable. Deterministic: the same table, hash and mask give the
 * same answer in every worker and every instance.
 */
export function selectAvailable(table: BalancerTable, hash: number, unavailable: Uint8Array): number {
  let owners: Uint32Array;
  let start: number;
  if (table.kind === 'ring') {
    owners = table.endpoints;
    start = selectRingPoint(table, hash);
  } else {
    owners = table.table;
    start = (hash >>> 0) % owners.length;
  }
  const n = owners.length;
  const steps = Math.min(n, WALK_LIMIT);
  for (let k = 0, p = start; k < steps; k++) {
    const owner = owners[p]!;
    if (unavailable[owner] === 0) return owner;
    if (++p === n) p = 0;
  }
  return selectNextAvailable(owners[start]!, unavailable);
}

/** The first available endpoint index after `from` (wrapping), or -1. */
export function selectNextAvailable(from: number, unavailable: Uint8Array): number {
  const n = unavailable.length;
  for (let k = 1; k <= n; k++) {
    const i = (from + k) % n;
    if (unavailable[i] === 0) return i;
  }
  return -1;
}
