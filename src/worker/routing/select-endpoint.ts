// Request -> endpoint index, with health applied after the session cache: the cache memoises the
// table's own answer (which never changes within a snapshot), and only an answer that points at
// an unavailable endpoint pays for the walk. So a health change can never leave a stale answer
// in the cache, and sessions come back to their endpoint the moment it recovers.
import { selectAvailable, selectNextAvailable } from '../../balancing/walk.js';
import type { RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';

/** Picker draws tried before scanning for an available endpoint: keeps RR/LR/random behaviour. */
const PICK_TRIES = 3;

/**
 * Endpoint index for a request, or -1 when no endpoint of the subset is available. `hash`:
 * rt.hasher.hash32(key) when the caller has it already; absent, it is computed here when needed.
 */
export function selectEndpoint(rt: RuntimeSnapshot, subset: RuntimeSubset, key: string | null, down: Uint8Array | null, hash?: number): number {
  if (key === null || subset.table === null) {
    const i = subset.picker.pick();
    return down === null || down[i] === 0 ? i : selectPicked(subset, i, down);
  }
  const i = rt.sessions.resolve(subset.id, key, hash);
  if (down === null || down[i] === 0) return i;
  return selectAvailable(subset.table, hash ?? rt.hasher.hash32(key), down);
}

/**
 * The endpoint a retry goes to: for a session, the next available endpoint on its walk that it
 * has not tried yet (its fallback, the same in every worker); for a picker, another draw. When
 * every other endpoint is out, the last one tried is tried again, as Envoy does once its
 * host-selection attempts run out.
 */
export function selectRetryEndpoint(rt: RuntimeSnapshot, subset: RuntimeSubset, key: string | null, down: Uint8Array | null, tried: readonly number[]): number {
  const mask = down === null ? new Uint8Array(subset.endpoints.length) : down.slice();
  for (const i of tried) mask[i] = 1;
  const last = tried[tried.length - 1]!;
  let next: number;
  if (key === null || subset.table === null) next = selectPicked(subset, subset.picker.pick(), mask);
  else next = selectAvailable(subset.table, rt.hasher.hash32(key), mask);
  return next === -1 ? last : next;
}

/** A picker draw that avoids `mask` (1 = avoid; null: no endpoint avoided); -1 when every endpoint is masked. */
export function selectPickedAvoiding(subset: RuntimeSubset, mask: Uint8Array | null): number {
  const i = subset.picker.pick();
  return mask === null || mask[i] === 0 ? i : selectPicked(subset, i, mask);
}

function selectPicked(subset: RuntimeSubset, first: number, mask: Uint8Array): number {
  let i = first;
  for (let k = 0; k < PICK_TRIES; k++) {
    if (mask[i] === 0) return i;
    i = subset.picker.pick();
  }
  return mask[i] === 0 ? i : selectNextAvailable(i, mask);
}
