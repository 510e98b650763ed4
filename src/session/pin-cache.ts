// Verified pins, memoised per subset: a session's pin is verified (one HMAC-SHA256) the first
// time a worker sees it, then answered from here until it expires, is evicted, or the snapshot is
// replaced (the cache belongs to one snapshot, since endpoint indexes do). Only pins that
// verified are stored, so a flood of forged values costs one MAC each and never evicts a session
// by being stored; a valid pin is stored under its exact text, so nothing else can hit its entry.
import { LRUCache } from 'lru-cache';
import { pinNeedsRefresh, readPin, type PinRead, type PinTable } from './pin-table.js';

export interface PinCacheCounters {
  hits: number;
  misses: number;
}

export class PinCache {
  readonly #lrus: (LRUCache<string, PinRead> | undefined)[] = [];
  readonly #max: number;
  readonly #counters: PinCacheCounters;

  /** `max` entries per persistent subset; 0 verifies every request. */
  constructor(max: number, counters: PinCacheCounters = { hits: 0, misses: 0 }) {
    this.#max = max;
    this.#counters = counters;
  }

  /** readPin, answered from the cache when this worker verified the same pin before. */
  read(subsetId: number, table: PinTable, value: string, nowSec: number): PinRead {
    if (this.#max === 0) return readPin(table, value, nowSec);
    const lru = (this.#lrus[subsetId] ??= new LRUCache<string, PinRead>({ max: this.#max }));
    const hit = lru.get(value);
    if (hit !== undefined) {
      // the expiry is the proxy's, checked on every request, hit or not
      if (hit.expiresAt > nowSec) {
        this.#counters.hits++;
        return hit;
      }
      lru.delete(value);
    }
    this.#counters.misses++;
    const read = readPin(table, value, nowSec);
    if (read.outcome === 'valid') lru.set(value, read);
    return read;
  }

  get counters(): Readonly<PinCacheCounters> {
    return this.#counters;
  }
}

export { pinNeedsRefresh };
