// The request's key path step by step (hash, hash + table lookup, session-cache hit) at the
// HTTP benchmark's working set, and a candidate session cache measured beside today's: one LRU
// per subset keyed by the session key itself, instead of one LRU keyed by a "<subset>\0<key>"
// string built, flattened and hashed by V8 on every request. Keys are sliced from a Cookie header,
// as findCookie returns them.
import { LRUCache } from 'lru-cache';
import { buildTables } from '../../src/balancing/build-tables.js';
import type { Hasher } from '../../src/balancing/hash.js';
import type { Kernel, KernelLookup } from '../../src/kernel/index.js';
import { SessionCache } from '../../src/worker/session-cache.js';
import { findCookie, mintSessionKey } from '../../src/worker/sticky.js';
import { hashSubset, nsPerOp, row, snapshotOf } from './measure.js';

const ITERATIONS = 1_000_000;
/** live sessions in the working set: the HTTP benchmark's 1,000 cookies */
const SESSIONS = 1_000;

/** The candidate session cache: one LRU per subset, keyed by the session key itself. */
class PerSubsetCache {
  readonly #lrus: (LRUCache<string, number> | undefined)[] = [];
  constructor(readonly lookup: KernelLookup, readonly hash: (key: string) => number, readonly max: number) {}
  resolve(subsetId: number, key: string): number {
    const lru = (this.#lrus[subsetId] ??= new LRUCache<string, number>({ max: this.max }));
    const hit = lru.get(key);
    if (hit !== undefined) return hit;
    const index = this.lookup.select(subsetId, this.hash(key));
    lru.set(key, index);
    return index;
  }
}

export function benchHashPath(hasher: Hasher, kernel: Kernel): void {
  const keys = Array.from({ length: SESSIONS }, () => findCookie(`theme=dark; session=${mintSessionKey()}; lang=en`, 'session')!);
  const n = SESSIONS;
  process.stdout.write(`\n## request key path: ns/op over ${n.toLocaleString('en')} live session keys (median of 5 x ${ITERATIONS.toLocaleString('en')})\n`);
  const widths = [46, 10, 10];
  process.stdout.write(row(['step', 'N=3', 'N=1000'], widths) + '\n');
  const at = (size: number, table: 'ring' | 'maglev'): KernelLookup => kernel.load(buildTables(snapshotOf([hashSubset(size, table)]), hasher).subsets);
  const loop = (f: (k: string) => number) => (count: number): number => {
    let s = 0;
    for (let i = 0; i < count; i++) s += f(keys[(i * 7919) % n]!);
    return s;
  };
  const hash = (k: string): number => hasher.hash32(k);
  const lines: [string, 'ring' | 'maglev', (l: KernelLookup) => (k: string) => number][] = [
    ['hash32 (xxhash-wasm)', 'ring', () => hash],
    ['hash + ring lookup (= cache off)', 'ring', (l) => (k) => l.select(0, hash(k))],
    ['hash + maglev lookup (= cache off)', 'maglev', (l) => (k) => l.select(0, hash(k))],
    ['SessionCache.resolve, ring, all hits (today)', 'ring', (l) => { const c = new SessionCache(l, hasher, 100_000); return (k) => c.resolve(0, k); }],
    ['per-subset LRU, raw key, ring, all hits', 'ring', (l) => { const c = new PerSubsetCache(l, hash, 100_000); return (k) => c.resolve(0, k); }],
  ];
  for (const [name, table, make] of lines) {
    const a = nsPerOp(ITERATIONS, loop(make(at(3, table))));
    const b = nsPerOp(ITERATIONS, loop(make(at(1_000, table))));
    process.stdout.write(row([name, a.toFixed(0), b.toFixed(0)], widths) + '\n');
  }
}
