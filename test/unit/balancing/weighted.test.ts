import test from 'ava';
import { createPicker, type PickerKind } from '../../../src/balancing/weighted.js';
import { makeEndpoints, seededRandom } from '../../golden/fixtures.js';

function picks(kind: PickerKind, weights: number[], count: number, seed = 1): number[] {
  const picker = createPicker(kind, makeEndpoints(weights.length, (i) => weights[i]!), seededRandom(seed));
  return Array.from({ length: count }, () => picker.pick());
}

function histogram(indices: readonly number[], n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const i of indices) counts[i]!++;
  return counts;
}

test('smooth round robin reproduces nginx\'s sequence for weights 5,1,1', (t) => {
  const letters = picks('roundRobin', [5, 1, 1], 14).map((i) => 'abc'[i]).join(' ');
  t.is(letters, 'a a b a c a a a a b a c a a');
});

test('round robin with equal weights cycles in order', (t) => {
  t.deepEqual(picks('roundRobin', [1, 1, 1], 7), [0, 1, 2, 0, 1, 2, 0]);
});

test('round robin gives each endpoint exactly its weight per cycle', (t) => {
  const weights = [3, 7, 1, 4];
  t.deepEqual(histogram(picks('roundRobin', weights, 15 * 20), 4), weights.map((w) => w * 20));
});

test('weighted random follows the weights (seeded)', (t) => {
  const counts = histogram(picks('random', [1, 2, 7], 20_000, 42), 3);
  const shares = counts.map((c) => c / 20_000);
  t.log(`weights 1:2:7 -> shares ${shares.map((s) => s.toFixed(3)).join(' ')}`);
  [0.1, 0.2, 0.7].forEach((expected, i) => t.true(Math.abs(shares[i]! - expected) < 0.015));
});

test('weighted random is a pure function of the random source', (t) => {
  t.deepEqual(picks('random', [1, 2, 3], 50, 9), picks('random', [1, 2, 3], 50, 9));
  t.deepEqual(picks('random', [1], 3, 9), [0, 0, 0]);
});

test('least request prefers idle endpoints', (t) => {
  const picker = createPicker('leastRequest', makeEndpoints(3), seededRandom(5));
  for (let i = 0; i < 10; i++) {
    picker.start(0);
    picker.start(1);
  }
  const counts = histogram(Array.from({ length: 9000 }, () => picker.pick()), 3);
  t.log(`a, b busy (10 each), c idle -> picks ${counts.join(':')} (two choices: c expected 5/9)`);
  // With two choices drawn with replacement, c wins whenever it is drawn: 1 - (2/3)^2 = 5/9.
  t.true(Math.abs(counts[2]! / 9000 - 5 / 9) < 0.03);
});

test('least request compares active requests and follows start/finish', (t) => {
  const picker = createPicker('leastRequest', makeEndpoints(2), seededRandom(6));
  picker.start(0);
  // Both candidates are drawn from {0, 1}: whenever 1 is among them it wins, so 0 only when drawn twice.
  const counts = histogram(Array.from({ length: 4000 }, () => picker.pick()), 2);
  t.true(Math.abs(counts[1]! / 4000 - 0.75) < 0.03, `idle endpoint picked ${counts[1]} of 4000`);
  picker.finish(0);
  picker.finish(0); // extra finish must not go negative
  picker.start(1);
  const after = histogram(Array.from({ length: 4000 }, () => picker.pick()), 2);
  t.true(Math.abs(after[0]! / 4000 - 0.75) < 0.03, `after finish, endpoint 0 is the idle one: ${after[0]} of 4000`);
});

test('least request with unequal weights: idle picks follow weights, load is compared per weight', (t) => {
  const endpoints = makeEndpoints(2, (i) => (i === 0 ? 3 : 1));
  const idle = createPicker('leastRequest', endpoints, seededRandom(8));
  const idleCounts = histogram(Array.from({ length: 8000 }, () => idle.pick()), 2);
  t.true(Math.abs(idleCounts[0]! / 8000 - 0.75) < 0.03, `weight 3 of 4 -> ${idleCounts[0]} of 8000`);
  const loaded = createPicker('leastRequest', endpoints, seededRandom(8));
  for (let i = 0; i < 3; i++) loaded.start(0); // 3 active / weight 3 = 1
  for (let i = 0; i < 2; i++) loaded.start(1); // 2 active / weight 1 = 2
  const loadedCounts = histogram(Array.from({ length: 8000 }, () => loaded.pick()), 2);
  t.true(loadedCounts[0]! > loadedCounts[1]! * 10, `per-weight load favours the big endpoint: ${loadedCounts.join(':')}`);
});

test('start/finish are harmless no-ops for round robin and random', (t) => {
  for (const kind of ['roundRobin', 'random'] as const) {
    const a = createPicker(kind, makeEndpoints(3), seededRandom(2));
    const b = createPicker(kind, makeEndpoints(3), seededRandom(2));
    a.start(0);
    a.start(0);
    a.finish(1);
    t.deepEqual([a.pick(), a.pick(), a.pick()], [b.pick(), b.pick(), b.pick()]);
  }
});

test('a picker needs endpoints', (t) => {
  t.throws(() => createPicker('random', []), { instanceOf: RangeError });
});
