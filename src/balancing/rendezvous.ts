// Weighted rendezvous hashing: which destination of a weighted route a session key belongs to, so
// a session stays on one version across a canary split. Each carrying destination scores the key
// with its own pseudo-random draw u in (0, 1) and the lowest -ln(u) / weight wins: that is a race
// of exponential clocks with rates equal to the weights, so destination i wins with probability
// weight_i / total. A weight change only moves keys towards the destinations whose weight grew
// share (80/20 -> 50/50 moves 0.3 / 0.8 = 37.5 % of v1's keys to v2 and none of v2's), which plain
// cumulative ranges over one hash cannot give for three-way changes.
//
// The key's hash comes from the caller, made with a seed of its own (DESTINATION_HASH_SEED), so
// the destination choice does not correlate with the endpoint ring, which hashes with seed 0.

import type { RendezvousTable } from '../snapshot/types.js';

export type { RendezvousTable };

const TWO_POW_32 = 4_294_967_296;

/** `salts` are per-destination identity hashes (e.g. of "host/subset:port"), `weights` Istio's. */
export function buildRendezvous(weights: readonly number[], salts: readonly number[]): RendezvousTable {
  if (weights.length !== salts.length) throw new RangeError('one salt per destination');
  if (!weights.some((w) => w > 0)) throw new RangeError('a weighted route needs a destination with weight > 0');
  return {
    salts: Uint32Array.from(salts, (s) => s >>> 0),
    inverseWeights: Float64Array.from(weights, (w) => (w > 0 ? 1 / w : 0)),
  };
}

/** Index of the destination `hash` belongs to; the lowest index wins a (vanishingly rare) tie. */
export function selectRendezvous(table: RendezvousTable, hash: number): number {
  const salts = table.salts;
  const inverse = table.inverseWeights;
  let best = -1;
  let bestScore = Infinity;
  for (let i = 0; i < salts.length; i++) {
    const inv = inverse[i]!;
    if (inv === 0) continue;
    // +0.5 keeps u strictly inside (0, 1), so the logarithm is finite.
    const u = (mix32((hash ^ salts[i]!) >>> 0) + 0.5) / TWO_POW_32;
    const score = -Math.log(u) * inv;
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}

/**
 * MurmurHash3's 32-bit finaliser (fmix32): a bijection on 32 bits in which every input bit
 * flips about half the output bits, so keys that differ only in the salt draw unrelated values.
 */
export function mix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}
