// A bounded memo of (subset, key) -> endpoint index in front of hash + table lookup. It never
// decides anything: a miss computes the same answer the table gives, and the cache is created per
// RuntimeSnapshot, so an answer from an older table can never be served after a reload.
import { LRUCache } from 'lru-cache';
import type { Hasher } from '../balancing/hash.js';
import type { KernelLookup } from '../kernel/index.js';

/** Hit/miss totals; shared across snapshots so worker stats survive reloads. */
export interface CacheCounters {
  hits: number;
  misses: number;
}

export class SessionCache {
  readonly #lookup: KernelLookup;
  readonly #hasher: Hasher;
  /** null when sessionCacheSize is 0: every resolve hashes and looks up (bench baseline). */
  readonly #lru: LRUCache<string, number> | null;
  readonly #counters: CacheCounters;

  constructor(lookup: KernelLookup, hasher: Hasher, max: number, counters: CacheCounters = { hits: 0, misses: 0 }) {
    this.#lookup = lookup;
    this.#hasher = hasher;
    this.#lru = max > 0 ? new LRUCache<string, number>({ max }) : null;
    this.#counters = counters;
  }

  /** Endpoint index (into subsets[subsetId].endpoints) for `key`. */
  resolve(subsetId: number, key: string): number {
    const lru = this.#lru;
    if (lru === null) {
      this.#counters.misses++;
      return this.#lookup.select(subsetId, this.#hasher.hash32(key));
    }
    // NUL cannot occur in a subset id, so the composite key is unambiguous.
    const cacheKey = `${subsetId}\u0000${key}`;
    const hit = lru.get(cacheKey);
    if (hit !== undefined) {
      this.#counters.hits++;
      return hit;
    }
    this.#counters.misses++;
    const index = this.#lookup.select(subsetId, this.#hasher.hash32(key));
    lru.set(cacheKey, index);
    return index;
  }

  /** Entries held now; 0 when disabled. */
  get size(): number {
    return this.#lru === null ? 0 : this.#lru.size;
  }

  /** Configured bound; 0 when disabled. */
  get max(): number {
    return this.#lru === null ? 0 : this.#lru.max;
  }

  get counters(): Readonly<CacheCounters> {
    return this.#counters;
  }
}
