import test from 'ava';
import type { Endpoint } from '../../../src/snapshot/types.js';
import type { Hasher } from '../../../src/balancing/hash.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildMaglev, selectMaglev, isPrime, MAGLEV_TABLE_SIZE } from '../../../src/balancing/maglev.js';
import { makeEndpoint, makeEndpoints, makeKeys, seededRandom, shuffled } from '../../golden/fixtures.js';

const KEYS = 10_000;

function slotCounts(table: Uint32Array, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const owner of table) counts[owner]!++;
  return counts;
}

function route(endpoints: readonly Endpoint[], keys: readonly string[], hasher: Hasher): string[] {
  const maglev = buildMaglev(endpoints, null, hasher);
  return keys.map((k) => endpoints[selectMaglev(maglev, hasher.hash32(k))]!.id);
}

test('the default table size is Envoy\'s prime 65537', (t) => {
  t.is(MAGLEV_TABLE_SIZE, 65537);
  t.true(isPrime(MAGLEV_TABLE_SIZE));
  t.deepEqual([1, 2, 3, 4, 9, 251, 65535].map(isPrime), [false, true, true, false, false, true, false]);
});

test('every slot is filled with a valid endpoint index; equal weights differ by at most one slot', async (t) => {
  const hasher = await initHasher();
  for (const n of [1, 2, 3, 10, 97]) {
    const { table } = buildMaglev(makeEndpoints(n), null, hasher);
    t.is(table.length, MAGLEV_TABLE_SIZE);
    t.true(table.every((owner) => owner < n), `N=${n}: no empty or out-of-range slot`);
    const counts = slotCounts(table, n);
    t.true(Math.max(...counts) - Math.min(...counts) <= 1, `N=${n}: ${Math.min(...counts)}..${Math.max(...counts)} slots each`);
  }
});

test('weights set the share of slots (1:2:3)', async (t) => {
  const hasher = await initHasher();
  const { table } = buildMaglev(makeEndpoints(3, (i) => i + 1), null, hasher);
  const counts = slotCounts(table, 3);
  t.log(`slots for weights 1:2:3 -> ${counts.join(':')}`);
  for (let i = 0; i < 3; i++) t.true(Math.abs(counts[i]! - ((i + 1) * MAGLEV_TABLE_SIZE) / 6) <= 1);
});

test('the table is the same whatever order the endpoints arrive in', async (t) => {
  const hasher = await initHasher();
  const endpoints = makeEndpoints(25, (i) => 1 + (i % 4));
  const reference = Array.from(buildMaglev(endpoints, null, hasher).table, (i) => endpoints[i]!.id);
  const random = seededRandom(3);
  for (let n = 0; n < 5; n++) {
    const input = shuffled(endpoints, random);
    const ids = Array.from(buildMaglev(input, null, hasher).table, (i) => input[i]!.id);
    t.deepEqual(ids, reference);
  }
});

test('selectMaglev is table[hash % size], hash read as unsigned', async (t) => {
  const hasher = await initHasher();
  const maglev = buildMaglev(makeEndpoints(7), 251, hasher);
  t.is(maglev.table.length, 251);
  for (const h of [0, 1, 250, 251, 252, 0x7fffffff, 0x80000000, 0xffffffff]) t.is(selectMaglev(maglev, h), maglev.table[h % 251]!);
  t.is(selectMaglev(maglev, -1), maglev.table[0xffffffff % 251]!);
});

for (const n of [3, 5, 10]) {
  test(`10,000 keys spread evenly over ${n} equal endpoints`, async (t) => {
    const hasher = await initHasher();
    const endpoints = makeEndpoints(n);
    const ids = route(endpoints, makeKeys(KEYS, n + 1000), hasher);
    const shares = endpoints.map((e) => ids.filter((id) => id === e.id).length / (KEYS / n));
    t.log(`N=${n} share / ideal: ${shares.map((s) => s.toFixed(2)).join(' ')}`);
    // Slots are split within one of each other, so only sampling noise remains: allow 15%.
    for (const s of shares) t.true(s > 0.85 && s < 1.15, `share ${s.toFixed(2)} of ideal`);
  });
}

function disruption(a: readonly string[], b: readonly string[], changed: string): { moved: number; betweenStaying: number } {
  let moved = 0;
  let betweenStaying = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    moved++;
    if (a[i] !== changed && b[i] !== changed) betweenStaying++;
  }
  return { moved, betweenStaying };
}

test('adding one endpoint to 10 moves roughly 1/11 of keys', async (t) => {
  const hasher = await initHasher();
  const keys = makeKeys(KEYS, 77);
  const before = makeEndpoints(10);
  const added = makeEndpoint(500);
  const { moved, betweenStaying } = disruption(route(before, keys, hasher), route([...before, added], keys, hasher), added.id);
  t.log(`add 1 to N=10: moved ${((moved / KEYS) * 100).toFixed(2)}% (ideal ${(100 / 11).toFixed(2)}%), ${betweenStaying} keys moved between staying endpoints`);
  // Maglev trades minimal disruption for balance: allow up to twice the ideal.
  t.true(moved / KEYS >= 0.5 / 11 && moved / KEYS <= 2 / 11);
  t.true(betweenStaying / KEYS < 0.05, 'only a small share moves between staying endpoints');
});

test('removing one endpoint of 10 moves roughly 1/10 of keys, including all of its own', async (t) => {
  const hasher = await initHasher();
  const keys = makeKeys(KEYS, 78);
  const before = makeEndpoints(10);
  const removed = before[6]!;
  const a = route(before, keys, hasher);
  const b = route(before.filter((e) => e !== removed), keys, hasher);
  const { moved, betweenStaying } = disruption(a, b, removed.id);
  t.log(`remove 1 of N=10: moved ${((moved / KEYS) * 100).toFixed(2)}% (ideal 10.00%), ${betweenStaying} keys moved between staying endpoints`);
  t.true(moved / KEYS >= 0.5 / 10 && moved / KEYS <= 2 / 10);
  t.true(betweenStaying / KEYS < 0.05);
  t.false(b.includes(removed.id));
});

test('invalid table sizes and endpoint lists fail with STICKYD_ERR_BUILD', async (t) => {
  const hasher = await initHasher();
  const code = 'STICKYD_ERR_BUILD';
  const endpoints = makeEndpoints(3);
  for (const size of [0, 1, 4, 65536, 5_000_012, 1.5]) t.throws(() => buildMaglev(endpoints, size, hasher), { code, message: /prime/ } as never);
  t.throws(() => buildMaglev([], null, hasher), { code } as never);
  t.throws(() => buildMaglev([makeEndpoint(1), makeEndpoint(1)], null, hasher), { code } as never);
});

test('more endpoints than slots still fills the table deterministically', async (t) => {
  const hasher = await initHasher();
  const endpoints = makeEndpoints(20);
  const a = buildMaglev(endpoints, 7, hasher).table;
  const b = buildMaglev(endpoints.slice().reverse(), 7, hasher).table;
  t.deepEqual(Array.from(a, (i) => endpoints[i]!.id), Array.from(b, (i) => endpoints.slice().reverse()[i]!.id));
});
