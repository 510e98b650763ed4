// The one hash function of stickyd: xxHash32 (xxhash-wasm h32) over a key's UTF-8 bytes.
// Ring points, Maglev permutations and request keys all go through it, so every instance
// that runs the same config computes the same tables and sends a session to the same endpoint.
import xxhash from 'xxhash-wasm';

/**
 * Fixed on purpose: several stickyd instances behind one DNS name must agree on every hash, and
 * a seed that changed per process, per version or per config would reshuffle every session.
 * Changing it is a breaking change (see test/golden/).
 */
export const HASH_SEED = 0;

/**
 * The seed of the hash that picks a weighted route's destination for a session key (rendezvous.ts).
 * It differs from HASH_SEED so that the destination a key gets does not correlate with the
 * endpoint it gets inside that destination. Fixed for the same reason as HASH_SEED.
 */
export const DESTINATION_HASH_SEED = 0x9e3779b9;

export interface Hasher {
  /** xxHash32 of the UTF-8 bytes of `key` with HASH_SEED, as an unsigned 32-bit integer. */
  hash32(key: string): number;
  /** the same with DESTINATION_HASH_SEED: a weighted route's destination for a session key */
  destinationHash32(key: string): number;
}

let pending: Promise<Hasher> | null = null;

/** Instantiates xxhash-wasm once per thread; later calls share the same promise. */
export function initHasher(): Promise<Hasher> {
  pending ??= xxhash().then((api): Hasher => {
    const h32 = api.h32;
    // h32 already returns an unsigned value; `>>> 0` keeps that a property of this module.
    return {
      hash32: (key: string): number => h32(key, HASH_SEED) >>> 0,
      destinationHash32: (key: string): number => h32(key, DESTINATION_HASH_SEED) >>> 0,
    };
  });
  // A failed instantiation is not cached, so a caller may retry.
  pending.catch(() => {
    pending = null;
  });
  return pending;
}
