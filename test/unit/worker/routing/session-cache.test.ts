import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../../src/config/settings.js';
import { initHasher, type Hasher } from '../../../../src/balancing/hash.js';
import type { Kernel, KernelLookup } from '../../../../src/kernel/index.js';
import type { Snapshot, Subset } from '../../../../src/snapshot/types.js';
import { buildRuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';
import { SessionCache, type CacheCounters } from '../../../../src/worker/routing/session-cache.js';

/** A stand-in table: endpoint index is a pure function of (subset, hash), counting its calls. */
function fakeLookup(endpoints: number, salt = 0): KernelLookup & { calls: number } {
  const lookup = {
    calls: 0,
    select(subsetId: number, hash: number): number {
      lookup.calls++;
      return ((hash ^ salt) + subsetId * 7) % endpoints;
    },
  };
  return lookup;
}

/** Deterministic shuffled access pattern: 10k distinct keys, each asked for about 3 times. */
function accessPattern(): string[] {
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}-${(i * 2654435761) >>> 0}`);
  const out: string[] = [];
  let x = 12345;
  for (let i = 0; i < 30_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(keys[x % keys.length]!);
  }
  return out;
}

let hasher: Hasher;
test.before(async () => {
  hasher = await initHasher();
});

test('the cache never changes an answer: on vs off vs direct over 10k keys, with evictions', (t) => {
  const keys = accessPattern();
  const on = new SessionCache(fakeLookup(5), hasher, 1_000);
  const off = new SessionCache(fakeLookup(5), hasher, 0);
  const direct = fakeLookup(5);
  let mismatches = 0;
  for (const [i, key] of keys.entries()) {
    const subset = i % 3;
    const expected = direct.select(subset, hasher.hash32(key));
    if (on.resolve(subset, key) !== expected || off.resolve(subset, key) !== expected) mismatches++;
  }
  t.is(mismatches, 0);
  t.true(on.counters.hits > 0, 'the access pattern repeats keys, so some lookups hit');
  t.true(on.counters.misses > 1_000, 'and the bound forces evictions');
});

test('the cache is bounded by its max at every step', (t) => {
  const cache = new SessionCache(fakeLookup(3), hasher, 500);
  let largest = 0;
  for (let i = 0; i < 10_000; i++) {
    cache.resolve(0, `k${i}`);
    largest = Math.max(largest, cache.size);
  }
  t.is(largest, 500);
  t.is(cache.max, 500);
});

test('hits skip the hash and the lookup; LRU keeps a key in use through a flood and evicts a cold one', (t) => {
  const lookup = fakeLookup(4);
  const cache = new SessionCache(lookup, hasher, 100);
  cache.resolve(0, 'keep');
  cache.resolve(0, 'cold');
  for (let i = 0; i < 1_000; i++) {
    cache.resolve(0, `flood-${i}`);
    if (i % 50 === 0) cache.resolve(0, 'keep');
  }
  t.is(cache.counters.misses, 1_002);
  t.is(cache.counters.hits, 20);
  const calls = lookup.calls;
  cache.resolve(0, 'keep');
  t.is(lookup.calls, calls, 'keep is still cached');
  cache.resolve(0, 'cold');
  t.is(lookup.calls, calls + 1, 'cold was evicted');
});

test('the same key in two subsets is two entries', (t) => {
  const cache = new SessionCache(fakeLookup(1000), hasher, 10);
  const h = hasher.hash32('same');
  t.is(cache.resolve(0, 'same'), h % 1000);
  t.is(cache.resolve(1, 'same'), (h + 7) % 1000);
  t.is(cache.size, 2);
});

test('size 0 disables caching: every resolve consults the table', (t) => {
  const lookup = fakeLookup(3);
  const cache = new SessionCache(lookup, hasher, 0);
  for (let i = 0; i < 10; i++) cache.resolve(0, 'k');
  t.is(lookup.calls, 10);
  t.is(cache.size, 0);
  t.is(cache.max, 0);
});

function hashSnapshot(epoch: number): Snapshot {
  const subset: Subset = {
    id: 0,
    name: 'svc/v1',
    host: 'svc',
    subsetName: 'v1',
    port: 80,
    endpoints: [0, 1, 2, 3, 4].map((i) => ({ id: `10.0.0.${i}:80`, address: `10.0.0.${i}`, port: 80, weight: 1, labels: {} })),
    policy: { kind: 'hash', key: { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }, table: 'maglev', minimumRingSize: null, maglevTableSize: 7 },
    table: { kind: 'maglev', table: Uint32Array.of(0, 1, 2, 3, 4, 0, 1) },
  };
  return {
    epoch,
    configHash: 'x',
    configPath: '/c',
    listeners: [],
    subsets: [subset],
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 100, maxKeyLength: 64 },
  };
}

test('each runtime snapshot has its own cache: a new table is never answered from the old one', (t) => {
  const counters: CacheCounters = { hits: 0, misses: 0 };
  const kernelWith = (salt: number): Kernel => ({ load: () => fakeLookup(5, salt) });
  const first = buildRuntimeSnapshot(hashSnapshot(1), { kernel: kernelWith(0), hasher, counters });
  const second = buildRuntimeSnapshot(hashSnapshot(2), { kernel: kernelWith(1), hasher, counters });
  const h = hasher.hash32('abc');
  t.is(first.sessions.resolve(0, 'abc'), h % 5);
  t.is(first.sessions.resolve(0, 'abc'), h % 5);
  t.is(second.sessions.resolve(0, 'abc'), (h ^ 1) % 5);
  t.not(h % 5, (h ^ 1) % 5, 'the two tables disagree for this key');
  t.deepEqual(counters, { hits: 1, misses: 2 }, 'counters are shared across snapshots');
  t.is(second.sessions.size, 1);
});

test('the configured bound is the worker total, split over the subsets that hash', async (t) => {
  const hasher = await initHasher();
  const cache = new SessionCache(fakeLookup(7), hasher, 100, { hits: 0, misses: 0 }, 2);
  for (let i = 0; i < 1_000; i++) {
    cache.resolve(0, `a${i}`);
    cache.resolve(1, `b${i}`);
  }
  t.is(cache.max, 100);
  t.is(cache.size, 100, 'each of the two subsets holds at most 50');
  // a key from either subset still resolves as the table says after eviction
  const direct = fakeLookup(7);
  t.is(cache.resolve(1, 'b3'), direct.select(1, hasher.hash32('b3')));
});
