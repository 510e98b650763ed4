import test from 'ava';
import type { Endpoint, RingTable } from '../../../src/snapshot/types.js';
import type { Hasher } from '../../../src/balancing/hash.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildRing, selectRing, computePointsPerWeight, DEFAULT_POINTS_PER_WEIGHT, MAXIMUM_RING_SIZE } from '../../../src/balancing/ring.js';
import { makeEndpoint, makeEndpoints, makeKeys, seededRandom, shuffled } from '../../golden/fixtures.js';

const KEYS = 10_000;

function ownerIds(table: RingTable, endpoints: readonly Endpoint[]): string[] {
  return Array.from(table.endpoints, (i) => endpoints[i]!.id);
}

function pointsOf(e: Endpoint, hasher: Hasher): Set<number> {
  return new Set(Array.from({ length: e.weight * DEFAULT_POINTS_PER_WEIGHT }, (_, i) => hasher.hash32(`${e.id}_${i}`)));
}

function route(endpoints: readonly Endpoint[], keys: readonly string[], hasher: Hasher): string[] {
  const ring = buildRing(endpoints, null, hasher);
  return keys.map((k) => endpoints[selectRing(ring, hasher.hash32(k))]!.id);
}

test('each endpoint gets weight * 160 points, sorted ascending', async (t) => {
  const hasher = await initHasher();
  const endpoints = makeEndpoints(4, (i) => i + 1);
  const ring = buildRing(endpoints, null, hasher);
  t.is(ring.hashes.length, 10 * DEFAULT_POINTS_PER_WEIGHT);
  const counts = new Array<number>(4).fill(0);
  for (const owner of ring.endpoints) counts[owner]!++;
  t.deepEqual(counts, endpoints.map((e) => e.weight * DEFAULT_POINTS_PER_WEIGHT));
  // Independently: the multiset of hash32("<id>_<i>") for i < weight * 160, sorted.
  const expected = endpoints.flatMap((e) => Array.from({ length: e.weight * 160 }, (_, i) => hasher.hash32(`${e.id}_${i}`)));
  t.deepEqual(Array.from(ring.hashes), expected.sort((x, y) => x - y));
  const owned = new Map(endpoints.map((e) => [e, pointsOf(e, hasher)]));
  for (let p = 0; p < ring.hashes.length; p++) {
    const owner = endpoints[ring.endpoints[p]!]!;
    if (!owned.get(owner)!.has(ring.hashes[p]!)) t.fail(`point ${p} has the wrong owner`);
  }
});

test('the table is the same whatever order the endpoints arrive in', async (t) => {
  const hasher = await initHasher();
  const endpoints = makeEndpoints(20, (i) => 1 + (i % 3));
  const reference = buildRing(endpoints, null, hasher);
  const random = seededRandom(1);
  for (let n = 0; n < 5; n++) {
    const input = shuffled(endpoints, random);
    const ring = buildRing(input, null, hasher);
    t.deepEqual(ring.hashes, reference.hashes);
    t.deepEqual(ownerIds(ring, input), ownerIds(reference, endpoints));
  }
});

test('equal hashes are ordered by endpoint id, not input order', (t) => {
  const constant: Hasher = { hash32: () => 42, destinationHash32: () => 42 };
  const endpoints = makeEndpoints(3);
  for (const input of [endpoints, endpoints.slice().reverse()]) {
    const ring = buildRing(input, null, constant);
    t.is(input[selectRing(ring, 0)]!.id, endpoints[0]!.id);
    t.is(input[ring.endpoints[ring.endpoints.length - 1]!]!.id, endpoints[2]!.id);
  }
});

test('selectRing: first point >= hash, exact points, wrap past the last point', async (t) => {
  const hasher = await initHasher();
  const ring = buildRing(makeEndpoints(5), null, hasher);
  const last = ring.hashes.length - 1;
  t.is(selectRing(ring, 0), ring.endpoints[0]!);
  for (const p of [0, 1, 17, 400, last]) {
    t.is(selectRing(ring, ring.hashes[p]!), ring.endpoints[ring.hashes.indexOf(ring.hashes[p]!)]!);
    if (p > 0 && ring.hashes[p - 1]! < ring.hashes[p]! - 1) t.is(selectRing(ring, ring.hashes[p]! - 1), ring.endpoints[p]!);
  }
  t.true(ring.hashes[last]! < 0xffffffff);
  t.is(selectRing(ring, ring.hashes[last]! + 1), ring.endpoints[0]!);
  t.is(selectRing(ring, 0xffffffff), ring.endpoints[0]!);
  t.is(selectRing(ring, -1), ring.endpoints[0]!, 'a signed hash is read as unsigned');
});

for (const n of [3, 5, 10]) {
  test(`10,000 keys spread evenly over ${n} equal endpoints`, async (t) => {
    const hasher = await initHasher();
    const endpoints = makeEndpoints(n);
    const counts = new Map<string, number>();
    for (const id of route(endpoints, makeKeys(KEYS, n), hasher)) counts.set(id, (counts.get(id) ?? 0) + 1);
    const shares = endpoints.map((e) => (counts.get(e.id) ?? 0) / (KEYS / n));
    t.log(`N=${n} share / ideal: ${shares.map((s) => s.toFixed(2)).join(' ')}`);
    // 160 points per endpoint leave ~8% spread per endpoint plus sampling noise: allow 30%.
    for (const s of shares) t.true(s > 0.7 && s < 1.3, `share ${s.toFixed(2)} of ideal`);
  });
}

test('weights are respected: a 2:1 pair splits keys about 2:1', async (t) => {
  const hasher = await initHasher();
  const endpoints = [makeEndpoint(1, 2), makeEndpoint(2, 1)];
  const ids = route(endpoints, makeKeys(KEYS, 21), hasher);
  const heavy = ids.filter((id) => id === endpoints[0]!.id).length;
  const ratio = heavy / (KEYS - heavy);
  t.log(`2:1 weights -> measured ratio ${ratio.toFixed(3)}`);
  t.true(ratio > 1.6 && ratio < 2.5);
});

test('adding one endpoint to 10 moves ~1/11 of keys, all of them to the new endpoint', async (t) => {
  const hasher = await initHasher();
  const keys = makeKeys(KEYS, 99);
  const before = makeEndpoints(10);
  const added = makeEndpoint(500);
  const after = [...before, added];
  const a = route(before, keys, hasher);
  const b = route(after, keys, hasher);
  const moved = keys.filter((_, i) => a[i] !== b[i]);
  const fraction = moved.length / KEYS;
  t.log(`add 1 to N=10: moved ${(fraction * 100).toFixed(2)}% of keys, ideal 1/(N+1) = ${(100 / 11).toFixed(2)}%`);
  t.true(fraction >= 0.5 / 11 && fraction <= 1.5 / 11);
  t.true(keys.every((_, i) => a[i] === b[i] || b[i] === added.id), 'every moved key moved to the new endpoint');
});

test('removing one endpoint of 10 moves only the keys it owned', async (t) => {
  const hasher = await initHasher();
  const keys = makeKeys(KEYS, 100);
  const before = makeEndpoints(10);
  const removed = before[4]!;
  const a = route(before, keys, hasher);
  const b = route(before.filter((e) => e !== removed), keys, hasher);
  const moved = keys.filter((_, i) => a[i] !== b[i]).length;
  const owned = a.filter((id) => id === removed.id).length;
  t.log(`remove 1 of N=10: moved ${((moved / KEYS) * 100).toFixed(2)}% of keys, ideal 1/N = 10.00%`);
  t.is(moved, owned);
  t.true(keys.every((_, i) => a[i] === b[i] || a[i] === removed.id), 'no key of a staying endpoint moved');
  t.true(moved / KEYS >= 0.5 / 10 && moved / KEYS <= 1.5 / 10);
});

test('minimumRingSize raises points per weight; the cap lowers it', (t) => {
  t.is(computePointsPerWeight(10, null), 160);
  t.is(computePointsPerWeight(10, 1024), 160, 'never below the default');
  t.is(computePointsPerWeight(10, 4001), 401, 'ceil(minimumRingSize / totalWeight)');
  t.is(computePointsPerWeight(100_000, null), Math.floor(MAXIMUM_RING_SIZE / 100_000));
  t.is(computePointsPerWeight(10, 10 ** 9), Math.floor(MAXIMUM_RING_SIZE / 10));
  t.throws(() => computePointsPerWeight(MAXIMUM_RING_SIZE + 1, null), { instanceOf: Error, message: /maximum ring size/ });
});

test('minimumRingSize builds that many points', async (t) => {
  const hasher = await initHasher();
  t.is(buildRing(makeEndpoints(3), 10_000, hasher).hashes.length, 3 * 3334);
});

test('invalid endpoint lists fail with STICKYD_ERR_BUILD', async (t) => {
  const hasher = await initHasher();
  const code = 'STICKYD_ERR_BUILD';
  t.throws(() => buildRing([], null, hasher), { code } as never);
  t.throws(() => buildRing([makeEndpoint(1), makeEndpoint(1)], null, hasher), { code, message: /twice/ } as never);
  t.throws(() => buildRing([makeEndpoint(1, 0)], null, hasher), { code, message: /weight/ } as never);
  t.throws(() => buildRing([makeEndpoint(1, 1.5)], null, hasher), { code, message: /weight/ } as never);
});
