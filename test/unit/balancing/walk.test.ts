// The health walk over 10,000 keys: only keys of an unavailable endpoint move, they move to the
// next available endpoint on the ring (the next slot of a Maglev table), and they come back when
// it recovers; through the worker's selection the session cache never changes an answer.
import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildMaglev } from '../../../src/balancing/maglev.js';
import { buildRing, selectRing, selectRingPoint } from '../../../src/balancing/ring.js';
import { selectAvailable, selectNextAvailable, WALK_LIMIT } from '../../../src/balancing/walk.js';
import { loadKernel } from '../../../src/kernel/index.js';
import type { RingTable, Snapshot, Subset } from '../../../src/snapshot/types.js';
import { HealthState } from '../../../src/worker/routing/health-state.js';
import { buildRuntimeSnapshot } from '../../../src/worker/routing/runtime-snapshot.js';
import { selectEndpoint, selectRetryEndpoint } from '../../../src/worker/routing/select-endpoint.js';
import { makeEndpoints, makeKeys, seededRandom } from '../../golden/fixtures.js';

const KEYS = 10_000;
const N = 5;

test('ring: taking one endpoint of 5 out moves exactly its keys (about 1/5), each to the next available point; recovery moves them back', async (t) => {
  const hasher = await initHasher();
  const table = buildRing(makeEndpoints(N), null, hasher);
  const keys = makeKeys(KEYS, 5);
  const hashes = keys.map((k) => hasher.hash32(k));
  const before = hashes.map((h) => selectRing(table, h));
  const down = new Uint8Array(N);
  down[2] = 1;
  const after = hashes.map((h) => selectAvailable(table, h, down));
  let moved = 0;
  const landed = new Array<number>(N).fill(0);
  hashes.forEach((h, i) => {
    if (before[i] !== 2) {
      if (after[i] !== before[i]) t.fail(`key ${i} moved from healthy endpoint ${before[i]}`);
      return;
    }
    moved++;
    // The next point clockwise whose owner is not endpoint 2.
    let p = selectRingPoint(table, h);
    while (table.endpoints[p] === 2) p = (p + 1) % table.endpoints.length;
    t.is(after[i], table.endpoints[p]);
    landed[after[i]!]!++;
  });
  const share = moved / KEYS;
  t.log(`moved ${moved} of ${KEYS} keys (${(share * 100).toFixed(2)} %, ideal ${(100 / N).toFixed(2)} %); landed on ${landed.join('/')}`);
  // 160 points per endpoint: the owned arc varies by a few percent around 1/N.
  t.true(Math.abs(share - 1 / N) < 0.04, `share ${share}`);
  t.is(landed[2], 0);
  t.true(landed.filter((c, i) => i !== 2 && c > 0).length >= 3, 'moved keys spread over the others, not onto one');
  down[2] = 0;
  t.deepEqual(hashes.map((h) => selectAvailable(table, h, down)), before, 'every key is back once the endpoint recovers');
});

test('ring: a second endpoint down moves only its own keys on top; all down is -1', async (t) => {
  const hasher = await initHasher();
  const table = buildRing(makeEndpoints(N), null, hasher);
  const hashes = makeKeys(KEYS, 6).map((k) => hasher.hash32(k));
  const one = new Uint8Array(N);
  one[1] = 1;
  const two = one.slice();
  two[3] = 1;
  const a = hashes.map((h) => selectAvailable(table, h, one));
  const b = hashes.map((h) => selectAvailable(table, h, two));
  hashes.forEach((h, i) => {
    const home = selectRing(table, h);
    if (home !== 1 && home !== 3 && b[i] !== home) t.fail('a key of a healthy endpoint moved');
    if (a[i] !== 3 && home !== 3 && b[i] !== a[i]) t.fail('a key not on endpoint 3 moved again');
  });
  t.true(b.every((e) => e !== 1 && e !== 3));
  t.is(selectAvailable(table, hashes[0]!, new Uint8Array(N).fill(1)), -1);
});

test('maglev: keys of available endpoints never move; moved keys spread over the rest', async (t) => {
  const hasher = await initHasher();
  const table = buildMaglev(makeEndpoints(N), 65537, hasher);
  const hashes = makeKeys(KEYS, 7).map((k) => hasher.hash32(k));
  const down = new Uint8Array(N);
  down[4] = 1;
  const landed = new Array<number>(N).fill(0);
  let moved = 0;
  for (const h of hashes) {
    const home = table.table[h % table.table.length]!;
    const now = selectAvailable(table, h, down);
    if (home !== 4) {
      if (now !== home) t.fail('a key of an available endpoint moved');
    } else {
      moved++;
      landed[now]!++;
    }
  }
  t.log(`moved ${moved} (${((moved / KEYS) * 100).toFixed(2)} %), landed ${landed.join('/')}`);
  t.true(Math.abs(moved / KEYS - 1 / N) < 0.03);
  t.true(landed.slice(0, 4).every((c) => c > moved / 8), 'spread over the four others');
});

test('the walk is bounded: past WALK_LIMIT points it scans endpoints from the key owner', (t) => {
  // 5,000 points of endpoint 0, then one point of endpoint 1: a walk from point 0 would take 4,999 steps.
  const count = WALK_LIMIT + 1_000;
  const table: RingTable = {
    kind: 'ring',
    hashes: Uint32Array.from({ length: count }, (_, i) => i * 100),
    endpoints: Uint32Array.from({ length: count }, (_, i) => (i === count - 1 ? 1 : 0)),
  };
  const down = Uint8Array.of(1, 0, 0);
  t.is(selectAvailable(table, 0, down), 1, 'falls back to the first available index after the owner');
  t.is(selectNextAvailable(2, Uint8Array.of(0, 1, 1)), 0);
  t.is(selectNextAvailable(0, Uint8Array.of(1, 1)), -1);
});

test('selectRingPoint agrees with the wasm kernel on 100,000 hashes', async (t) => {
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const endpoints = makeEndpoints(37);
  const table = buildRing(endpoints, null, hasher);
  const lookup = kernel.load([subsetOf(endpoints, table)]);
  const random = seededRandom(11);
  for (let i = 0; i < 100_000; i++) {
    const h = Math.floor(random() * 2 ** 32);
    if (table.endpoints[selectRingPoint(table, h)] !== lookup.select(0, h)) {
      t.fail(`hash ${h}`);
      return;
    }
  }
  t.pass();
});

test('worker selection: the session cache keeps the table answer; health applies after it and recovery restores it', async (t) => {
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const endpoints = makeEndpoints(N);
  const table = buildRing(endpoints, null, hasher);
  const snapshot: Snapshot = {
    epoch: 1, configHash: 'x', configPath: '/c', listeners: [], subsets: [subsetOf(endpoints, table)],
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 100_000 },
  };
  const rt = buildRuntimeSnapshot(snapshot, { kernel, hasher });
  const subset = rt.subsets[0]!;
  const health = new HealthState();
  const keys = makeKeys(KEYS, 9);
  const select = (): number[] => keys.map((k) => selectEndpoint(rt, subset, k, health.view(rt).down[0] ?? null));
  const before = select();
  t.is(rt.sessions.size, KEYS, 'every answer is cached');
  const victim = endpoints[2]!.id;
  t.true(health.apply(1, [victim]));
  const during = select();
  t.false(health.apply(0, []), 'an older generation is ignored');
  t.true(health.apply(2, []));
  const after = select();
  t.deepEqual(after, before, 'back on their endpoint: the cache never held a health answer');
  let moved = 0;
  keys.forEach((_, i) => {
    if (before[i] === 2) {
      moved++;
      t.not(during[i], 2);
    } else if (during[i] !== before[i]) t.fail('a session on a healthy endpoint moved');
  });
  t.log(`${moved} of ${KEYS} sessions moved while ${victim} was down`);
  t.true(moved > 0);
  // A retry for a session goes to its fallback: the endpoint it would move to if its own went down.
  const k = keys[before.indexOf(2)]!;
  const down2 = new Uint8Array(N);
  down2[2] = 1;
  t.is(selectRetryEndpoint(rt, subset, k, null, [2]), selectAvailable(table, hasher.hash32(k), down2));
});

test('panic: below minHealthPercent health is ignored; with no healthy endpoint and no threshold, -1', async (t) => {
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const endpoints = makeEndpoints(4);
  const table = buildRing(endpoints, null, hasher);
  const outlier = {
    consecutive5xxErrors: 5,
    consecutiveGatewayErrors: 0,
    intervalMs: 1000,
    baseEjectionTimeMs: 1000,
    maxEjectionPercent: 100,
    minHealthPercent: 50,
  };
  const base = { epoch: 1, configHash: 'x', configPath: '/c', listeners: [], settings: DEFAULT_SETTINGS };
  const panicky = buildRuntimeSnapshot({ ...base, subsets: [{ ...subsetOf(endpoints, table), outlier }] }, { kernel, hasher });
  const strict = buildRuntimeSnapshot({ ...base, subsets: [subsetOf(endpoints, table)] }, { kernel, hasher });
  const health = new HealthState();
  health.apply(1, [endpoints[0]!.id, endpoints[1]!.id]);
  t.truthy(health.view(panicky).down[0], '2 of 4 healthy = 50 %: not below the threshold');
  health.apply(2, [endpoints[0]!.id, endpoints[1]!.id, endpoints[2]!.id]);
  t.is(health.view(panicky).down[0], null, '25 % < 50 %: panic, every endpoint takes traffic');
  health.apply(3, endpoints.map((e) => e.id));
  t.is(selectEndpoint(strict, strict.subsets[0]!, 'k', health.view(strict).down[0] ?? null), -1);
  t.is(selectEndpoint(strict, strict.subsets[0]!, null, health.view(strict).down[0] ?? null), -1, 'pickers too');
});

test('pickers skip unavailable endpoints', async (t) => {
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const endpoints = makeEndpoints(3);
  for (const kind of ['roundRobin', 'leastRequest', 'random'] as const) {
    const subset: Subset = { id: 0, name: 's', host: 's', subsetName: null, port: 80, endpoints, policy: { kind }, table: null };
    const rt = buildRuntimeSnapshot({ epoch: 1, configHash: 'x', configPath: '/c', listeners: [], subsets: [subset], settings: DEFAULT_SETTINGS }, { kernel, hasher, random: seededRandom(3) });
    const down = Uint8Array.of(0, 1, 0);
    const seen = new Set<number>();
    for (let i = 0; i < 300; i++) seen.add(selectEndpoint(rt, rt.subsets[0]!, null, down));
    t.deepEqual([...seen].sort(), [0, 2], kind);
  }
});

function subsetOf(endpoints: Subset['endpoints'], table: RingTable): Subset {
  return {
    id: 0, name: 'svc', host: 'svc', subsetName: null, port: 80, endpoints,
    policy: { kind: 'hash', key: { kind: 'cookie', name: 'session', path: '/', ttlSec: 0 }, table: 'ring', minimumRingSize: null, maglevTableSize: null },
    table,
  };
}
