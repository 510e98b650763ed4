// Where a NEW session may go. An existing session (a hash key the request carries, a valid pin)
// never comes here: it keeps its endpoint whatever the drain labels and the load say. A new one
// (a minted cookie, a new pin, a keyless request) avoids, on top of unhealthy endpoints:
// - endpoints labelled stickyd.io/drain "true" (config/compile/endpoints.ts), the same in every
//   worker and every instance, since it is config;
// - with stickyd.io/hash-balance-factor, endpoints whose active requests would exceed
//   factor/100 x the subset's average (per weight unit), Envoy's bounded load. Active requests
//   are this worker's own, so this part of placement depends on each worker's load view.
// In hash mode a minted value is re-drawn until its own table lookup lands on an allowed
// endpoint, so the value keeps mapping there on every later request in every instance.
import { selectAvailable } from '../../balancing/walk.js';
import type { RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { mintSessionKey } from './sticky.js';
import { selectEndpoint, selectPickedAvoiding } from './select-endpoint.js';
import type { Placement } from './placement-table.js';

/**
 * Draws of a minted value before the last one is taken anyway. With one endpoint of N excluded a
 * draw misses with probability 1/N; 32 misses in a row with half the subset excluded is 2^-32.
 */
export const MINT_ATTEMPTS = 32;

/** True when nothing but health limits new sessions: the plain path, no mask work at all. */
export function isUnrestricted(p: Placement): boolean {
  return p.draining === null && p.active === null;
}

/**
 * The mask of endpoints a new session must avoid (1 = avoid): unhealthy, draining and, with a
 * balance factor, over their bound. null when none is excluded. When every endpoint would be
 * excluded by drain or load, health alone decides (a draining subset still serves new work
 * rather than answering 503).
 */
export function buildNewSessionMask(subset: RuntimeSubset, down: Uint8Array | null): Uint8Array | null {
  const p = subset.placement;
  if (isUnrestricted(p)) return down;
  let mask: Uint8Array | null;
  if (p.lastDown === down) mask = p.lastMask;
  else {
    mask = combine(down, p.draining);
    p.lastDown = down;
    p.lastMask = mask;
  }
  if (p.active !== null) mask = applyLoadBound(subset, p, mask);
  if (mask !== null && down !== mask && mask.every((v) => v !== 0)) return down;
  return mask;
}

function combine(down: Uint8Array | null, draining: Uint8Array | null): Uint8Array | null {
  if (draining === null) return down;
  if (down === null) return draining;
  return down.map((v, i) => v | draining[i]!);
}

/**
 * Envoy's bounded load: with the request being placed counted, an endpoint of weight w may hold
 * ceil(factor/100 x (total + 1) x w / sum of weights) active requests; the average is taken
 * over the endpoints that may take new sessions at all.
 */
function applyLoadBound(subset: RuntimeSubset, p: Placement, base: Uint8Array | null): Uint8Array | null {
  const active = p.active!;
  const endpoints = subset.endpoints;
  let total = 0;
  let weights = 0;
  for (let i = 0; i < endpoints.length; i++) {
    if (base !== null && base[i] !== 0) continue;
    total += active[i]!;
    weights += endpoints[i]!.weight;
  }
  if (weights === 0) return base;
  const perWeight = ((total + 1) * p.balanceFactor) / 100 / weights;
  let out: Uint8Array | null = null;
  for (let i = 0; i < endpoints.length; i++) {
    if (base !== null && base[i] !== 0) continue;
    if (active[i]! + 1 > Math.ceil(perWeight * endpoints[i]!.weight)) {
      out ??= base === null ? new Uint8Array(endpoints.length) : base.slice();
      out[i] = 1;
    }
  }
  return out ?? base;
}

/** A new hash-mode session: a minted value whose own lookup lands on an endpoint `mask` allows. */
export function mintPlacedKey(rt: RuntimeSnapshot, subset: RuntimeSubset, down: Uint8Array | null, mask: Uint8Array | null): { key: string; index: number } {
  let key = mintSessionKey();
  let index = selectEndpoint(rt, subset, key, down);
  if (mask === null || mask === down) return { key, index };
  for (let attempt = 1; attempt < MINT_ATTEMPTS && index >= 0 && mask[index] !== 0; attempt++) {
    key = mintSessionKey();
    index = selectEndpoint(rt, subset, key, down);
  }
  return { key, index };
}

/** Values a split's minted key may draw to find one that keeps its destination (each draw is one hash). */
export const SPLIT_MINT_DRAWS = 512;

/**
 * mintPlacedKey for a value a weighted split minted (`first`, which chose the destination): other
 * values are drawn only among those that keep that destination (`keeps`), so drain and bounded
 * load steer the endpoint without moving the session to another version or skewing the weights.
 * `first` stands when no such value finds room.
 */
export function mintPlacedSplitKey(
  rt: RuntimeSnapshot, subset: RuntimeSubset, down: Uint8Array | null, mask: Uint8Array | null, first: string, keeps: (key: string) => boolean,
): { key: string; index: number } {
  const index = selectEndpoint(rt, subset, first, down);
  if (mask === null || mask === down || index < 0 || mask[index] === 0) return { key: first, index };
  for (let draws = 0, placed = 1; draws < SPLIT_MINT_DRAWS && placed < MINT_ATTEMPTS; draws++) {
    const key = mintSessionKey();
    if (!keeps(key)) continue;
    placed++;
    const i = selectEndpoint(rt, subset, key, down);
    if (i >= 0 && mask[i] === 0) return { key, index: i };
  }
  return { key: first, index };
}

/**
 * Where a new session placed by `key` goes (a pin's session id, or the request's hash key): the
 * first endpoint `mask` allows on the key's walk in hash mode, else the subset's picker avoiding
 * `mask`. -1 when none is available.
 */
export function selectNewSessionEndpoint(rt: RuntimeSnapshot, subset: RuntimeSubset, key: string | null, mask: Uint8Array | null): number {
  if (key !== null && subset.table !== null) return selectAvailable(subset.table, rt.hasher.hash32(key), mask ?? subset.noneDown);
  return selectPickedAvoiding(subset, mask);
}
