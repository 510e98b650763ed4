// A bounded memo of (subset, key) -> endpoint index in front of hash + table lookup. It never
// decides anything: a miss computes the same answer the table gives, and the cache is created per
// RuntimeSnapshot, so an answer from an older table can never be served after a reload.
import { LRUCache } from 'lru-cache';
import type { Hasher } from '../../balancing/hash.js';
import type { KernelLookup } from '../../kernel/index.js';

/** Hit/miss totals; shared across snapshots so worker stats survive reloads. */
export interface CacheCounters {
  hits: number;
  misses: number;
}

export class SessionCache {
  readonly #lookup: KernelLookup;
  readonly #hasher: Hasher;
  /**
   * One LRU per subset id, created on first use, keyed by the session key as received: a
   * "<subset>\0<key>" string would be built, flattened and hashed by V8 on every request, which
   * made a hit cost more than hashing the key (bench/RESULTS.md, micro). Empty when max is 0.
   */
  readonly #lrus: (LRUCache<string, number> | undefined)[] = [];
  /** entries per subset; 0 disables: every resolve hashes and looks up (bench baseline) */
  readonly #max: number;
  /** the worker's whole bound: #max times the subsets that hash */
  readonly #total: number;
  readonly #counters: CacheCounters;

  /** `max` is the worker's total; it is split evenly over the `hashSubsets` subsets that hash keys. */
  constructor(lookup: KernelLookup, hasher: Hasher, max: number, counters: CacheCounters = { hits: 0, misses: 0 }, hashSubsets = 1) {
    this.#lookup = lookup;
    this.#hasher = hasher;
    this.#max = max === 0 ? 0 : Math.max(1, Math.floor(max / Math.max(1, hashSubsets)));
    this.#total = this.#max * Math.max(1, hashSubsets);
    this.#counters = counters;
  }

  /** Endpoint index (into subsets[subsetId].endpoints) for `key`; `hash`: its hash32, if the caller has it. */
  resolve(subsetId: number, key: string, hash?: number): number {
    if (this.#max === 0) {
      this.#counters.misses++;
      return this.#lookup.select(subsetId, hash ?? this.#hasher.hash32(key));
    }
    const lru = (this.#lrus[subsetId] ??= new LRUCache<string, number>({ max: this.#max }));
    const hit = lru.get(key);
    if (hit !== undefined) {
      this.#counters.hits++;
      return hit;
    }
    this.#counters.misses++;
    const index = this.#lookup.select(subsetId, hash ?? this.#hasher.hash32(key));
    lru.set(key, index);
    return index;
  }

  /** Entries held now, all subsets; 0 when disabled. */
  get size(): number {
    let n = 0;
    for (const lru of this.#lrus) n += lru?.size ?? 0;
    return n;
  }

  /** The worker's bound over all subsets; 0 when disabled. */
  get max(): number {
    return this.#total;
  }

  get counters(): Readonly<CacheCounters> {
    return this.#counters;
  }
}
