import test from 'ava';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildMaglev } from '../../../src/balancing/maglev.js';
import { computeEndpointMove, computeMinimumMove, computeSplitMove, isExactEndpointMove, type TableView } from '../../../src/balancing/moves.js';
import { buildRendezvous, selectRendezvous } from '../../../src/balancing/rendezvous.js';
import { buildRing, selectRing } from '../../../src/balancing/ring.js';
import { selectMaglev } from '../../../src/balancing/maglev.js';
import type { Endpoint } from '../../../src/snapshot/types.js';

const hasher = await initHasher();
const endpoints = (ids: number[], weight = 1): Endpoint[] => ids.map((i) => ({ id: `10.0.0.${i}:8080`, address: `10.0.0.${i}`, port: 8080, weight, labels: {} }));
const ring = (e: Endpoint[], min: number | null = null): TableView => ({ table: buildRing(e, min, hasher), endpoints: e });
const maglev = (e: Endpoint[], size: number | null = null): TableView => ({ table: buildMaglev(e, size, hasher), endpoints: e });

function idOf(v: TableView, h: number): string {
  return v.endpoints[v.table.kind === 'ring' ? selectRing(v.table, h) : selectMaglev(v.table, h)]!.id;
}

/** the share of an evenly spaced grid of 2^20 hashes that changes endpoint: a check on the exact figure */
function gridMove(a: TableView, b: TableView): number {
  const N = 1 << 20;
  let moved = 0;
  for (let k = 0; k < N; k++) {
    const h = k * 4096 + 1234;
    if (idOf(a, h) !== idOf(b, h)) moved++;
  }
  return moved / N;
}

test('an unchanged table moves nothing; a table whose endpoints all changed moves everything', (t) => {
  t.is(computeEndpointMove(ring(endpoints([1, 2, 3])), ring(endpoints([1, 2, 3]))), 0);
  t.is(computeEndpointMove(maglev(endpoints([1, 2, 3])), maglev(endpoints([1, 2, 3]))), 0);
  t.is(computeEndpointMove(ring(endpoints([1, 2])), ring(endpoints([4, 5]))), 1);
  t.is(computeEndpointMove(ring(endpoints([1, 2])), maglev(endpoints([4, 5]))), 1);
});

test('ring: adding an endpoint moves exactly the new endpoint\'s share of the hash space, beside a 2^20-point grid', (t) => {
  const before = ring(endpoints([1, 2, 3]));
  const after = ring(endpoints([1, 2, 3, 4]));
  const exact = computeEndpointMove(before, after);
  // the moved hashes are exactly those the new endpoint owns
  const t4 = after.table.kind === 'ring' ? after.table : null;
  let owned = 0;
  const h = t4!.hashes;
  for (let p = 0; p < h.length; p++) {
    if (after.endpoints[t4!.endpoints[p]!]!.id !== '10.0.0.4:8080') continue;
    owned += p === 0 ? h[0]! + 1 + (2 ** 32 - 1 - h[h.length - 1]!) : h[p]! - h[p - 1]!;
  }
  t.is(exact, owned / 2 ** 32);
  t.true(Math.abs(exact - gridMove(before, after)) < 0.003, `${exact} vs grid ${gridMove(before, after)}`);
  t.true(Math.abs(exact - 0.25) < 0.05);
});

test('maglev and ring against maglev agree with the grid within 0.3 points', (t) => {
  const pairs: [string, TableView, TableView][] = [
    ['maglev 3 -> 4', maglev(endpoints([1, 2, 3])), maglev(endpoints([1, 2, 3, 4]))],
    ['maglev 5 -> 4 (one removed)', maglev(endpoints([1, 2, 3, 4, 5])), maglev(endpoints([1, 2, 4, 5]))],
    ['ring -> maglev', ring(endpoints([1, 2, 3])), maglev(endpoints([1, 2, 3]))],
    ['maglev -> ring', maglev(endpoints([1, 2, 3, 4])), ring(endpoints([1, 2, 3]))],
    ['ring minimumRingSize change', ring(endpoints([1, 2, 3])), ring(endpoints([1, 2, 3]), 100_000)],
    ['maglev size change (grid)', maglev(endpoints([1, 2, 3]), 65537), maglev(endpoints([1, 2, 3]), 131071)],
  ];
  for (const [name, a, b] of pairs) {
    const exact = computeEndpointMove(a, b);
    const grid = gridMove(a, b);
    t.log(`${name}: ${(100 * exact).toFixed(3)}% (grid ${(100 * grid).toFixed(3)}%)`);
    t.true(Math.abs(exact - grid) < 0.003, name);
  }
  t.false(isExactEndpointMove(pairs[5]![1].table, pairs[5]![2].table));
  t.true(isExactEndpointMove(pairs[2]![1].table, pairs[2]![2].table));
});

const w = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));

test('split moves in closed form: every two-way change is the minimum; 50/30/20 -> 20/30/50 is 36.9 % against 30 %', (t) => {
  t.true(Math.abs(computeSplitMove(w({ v1: 80, v2: 20 }), w({ v1: 50, v2: 50 })) - 0.3) < 1e-12);
  t.true(Math.abs(computeMinimumMove(w({ v1: 80, v2: 20 }), w({ v1: 50, v2: 50 })) - 0.3) < 1e-12);
  for (const [a, b] of [[90, 10], [1, 99], [50, 50], [33, 67]]) {
    for (const [c, d] of [[10, 90], [50, 50], [99, 1]]) {
      const from = w({ x: a!, y: b! });
      const to = w({ x: c!, y: d! });
      t.true(Math.abs(computeSplitMove(from, to) - computeMinimumMove(from, to)) < 1e-12);
    }
  }
  t.is(computeSplitMove(w({ v1: 100 }), w({ v2: 100 })), 1, 'a destination replaced moves every session');
  t.true(Math.abs(computeSplitMove(w({ a: 50, b: 30, c: 20 }), w({ a: 20, b: 30, c: 50 })) - (1 - 0.2 - 3 / 13 - 0.2)) < 1e-12);
  // the impossibility triple (docs/weighted-split-moves.md): 2/3 each way, against 1/2
  t.true(Math.abs(computeSplitMove(w({ a: 1, b: 1, c: 0 }), w({ a: 1, b: 0, c: 1 })) - 2 / 3) < 1e-12);
});

test('the closed form agrees with selectRendezvous over 200,000 keys within 1 point', (t) => {
  const salts = ['a', 'b', 'c'].map((s) => hasher.hash32(s));
  const hashes = Array.from({ length: 200_000 }, (_, i) => hasher.destinationHash32(`k${i}`));
  const cases: [number[], number[]][] = [[[80, 20, 0], [50, 50, 0]], [[50, 30, 20], [20, 30, 50]], [[1, 1, 0], [1, 0, 1]], [[60, 30, 10], [10, 30, 60]]];
  for (const [from, to] of cases) {
    const ta = buildRendezvous(from, salts);
    const tb = buildRendezvous(to, salts);
    const moved = hashes.filter((h) => selectRendezvous(ta, h) !== selectRendezvous(tb, h)).length / hashes.length;
    const predicted = computeSplitMove(new Map(from.map((x, i) => [String(i), x])), new Map(to.map((x, i) => [String(i), x])));
    t.log(`${from.join('/')} -> ${to.join('/')}: measured ${(100 * moved).toFixed(2)}%, predicted ${(100 * predicted).toFixed(2)}%`);
    t.true(Math.abs(moved - predicted) < 0.01);
  }
});
