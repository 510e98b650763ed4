import test from 'ava';
import type { BalancerTable, Subset } from '../../../src/snapshot/types.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildRing } from '../../../src/balancing/ring.js';
import { buildMaglev } from '../../../src/balancing/maglev.js';
import { selectTable } from '../../../src/balancing/reference.js';
import { loadKernel } from '../../../src/kernel/index.js';
import { makeEndpoints, seededRandom } from '../../golden/fixtures.js';

const HASHES = 100_000;
const PRIMES = [2, 3, 251, 1021, 65537];

function subset(id: number, endpointCount: number, table: BalancerTable | null): Subset {
  return {
    id, name: `svc-${id}`, host: `svc-${id}`, subsetName: null, port: 80, endpoints: makeEndpoints(endpointCount),
    policy: table === null ? { kind: 'roundRobin' } : { kind: 'hash', key: { kind: 'sourceIp' }, table: table.kind, minimumRingSize: null, maglevTableSize: null },
    table,
  };
}

/** Random hashes plus the edges: 0, 0xFFFFFFFF, every kind of exact point value and its neighbours. */
function probeHashes(table: BalancerTable, random: () => number): number[] {
  const out = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
  if (table.kind === 'ring') {
    for (let i = 0; i < 200; i++) {
      const p = table.hashes[Math.floor(random() * table.hashes.length)]!;
      out.push(p, (p + 1) >>> 0, (p - 1) >>> 0);
    }
    out.push(table.hashes[0]!, table.hashes[table.hashes.length - 1]!, (table.hashes[table.hashes.length - 1]! + 1) >>> 0);
  }
  while (out.length < HASHES) out.push(Math.floor(random() * 2 ** 32));
  return out;
}

test('wasm select equals the reference on random rings and Maglev tables', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const random = seededRandom(2024);
  const subsets: Subset[] = [];
  for (let i = 0; i < 24; i++) {
    // Sizes include a single endpoint; weights 1..5; every third subset has no table at all.
    const n = i < 2 ? 1 : 1 + Math.floor(random() * 300);
    const endpoints = makeEndpoints(n, () => 1 + Math.floor(random() * 5));
    const ring = (): BalancerTable => buildRing(endpoints, random() < 0.3 ? 5000 : null, hasher);
    const table = i % 3 === 2 ? null : i % 3 === 0 ? ring() : buildMaglev(endpoints, PRIMES[i % PRIMES.length]!, hasher);
    subsets.push({ ...subset(i, n, table), endpoints });
  }
  const lookup = kernel.load(subsets);
  let compared = 0;
  for (const s of subsets) {
    if (s.table === null) continue;
    for (const h of probeHashes(s.table, random)) {
      const expected = selectTable(s.table, h);
      const actual = lookup.select(s.id, h);
      if (actual !== expected) {
        t.fail(`subset ${s.id} (${s.table.kind}, ${s.endpoints.length} endpoints) hash ${h}: wasm ${actual}, reference ${expected}`);
        return;
      }
      compared++;
    }
  }
  t.log(`${compared} lookups compared over ${subsets.filter((s) => s.table).length} tables`);
  t.pass();
});

test('hand-made rings: 1 to 9 points, duplicate hashes, points at 0 and 0xFFFFFFFF, empty buckets', async (t) => {
  const kernel = await loadKernel();
  const random = seededRandom(77);
  const rings: BalancerTable[] = [];
  for (let count = 1; count <= 9; count++) {
    for (let variant = 0; variant < 20; variant++) {
      // Few distinct values so duplicates are common; extremes included on purpose.
      const pool = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, Math.floor(random() * 2 ** 32)];
      const hashes = Uint32Array.from({ length: count }, () => pool[Math.floor(random() * pool.length)]!).sort();
      rings.push({ kind: 'ring', hashes, endpoints: Uint32Array.from({ length: count }, (_, i) => i) });
    }
  }
  const lookup = kernel.load(rings.map((r, i) => subset(i, 9, r)));
  const probes = [0, 1, 2, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
  for (let i = 0; i < 2000; i++) probes.push(Math.floor(random() * 2 ** 32));
  let mismatches = 0;
  rings.forEach((r, i) => {
    for (const h of probes) if (lookup.select(i, h) !== selectTable(r, h)) mismatches++;
  });
  t.is(mismatches, 0);
});

test('a 10,000-endpoint ring (1.6M points, the largest bucket index) equals the reference', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const ring = buildRing(makeEndpoints(10_000), null, hasher);
  const lookup = kernel.load([subset(0, 10_000, ring)]);
  const random = seededRandom(5);
  let mismatches = 0;
  for (const h of probeHashes(ring, random)) if (lookup.select(0, h) !== selectTable(ring, h)) mismatches++;
  t.is(mismatches, 0);
});

test('signed and unsigned views of a hash give the same answer', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const ring = buildRing(makeEndpoints(9), null, hasher);
  const lookup = kernel.load([subset(0, 9, ring)]);
  for (const h of [0xffffffff, 0x80000000, 0xdeadbeef]) t.is(lookup.select(0, h | 0), lookup.select(0, h));
  t.is(lookup.select(0, 0xffffffff), selectTable(ring, 0xffffffff));
});

test('a loaded lookup never changes when later snapshots load', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const first = buildMaglev(makeEndpoints(5), 251, hasher);
  const lookup = kernel.load([subset(0, 5, first)]);
  const before = Array.from({ length: 251 }, (_, h) => lookup.select(0, h));
  kernel.load([subset(0, 7, buildMaglev(makeEndpoints(7), 251, hasher))]);
  t.deepEqual(Array.from({ length: 251 }, (_, h) => lookup.select(0, h)), before);
  t.deepEqual(before, Array.from(first.table));
});

test('select on a subset without a table, or an unknown subset, throws STICKYD_ERR_BUILD', async (t) => {
  const [kernel, hasher] = await Promise.all([loadKernel(), initHasher()]);
  const lookup = kernel.load([subset(0, 3, null), subset(1, 3, buildRing(makeEndpoints(3), null, hasher))]);
  t.throws(() => lookup.select(0, 1), { code: 'STICKYD_ERR_BUILD', message: /svc-0/ } as never);
  t.throws(() => lookup.select(2, 1), { code: 'STICKYD_ERR_BUILD' } as never);
  t.throws(() => lookup.select(-1, 1), { code: 'STICKYD_ERR_BUILD' } as never);
  t.true(lookup.select(1, 1) < 3);
});

test('an empty snapshot loads', async (t) => {
  const kernel = await loadKernel();
  t.throws(() => kernel.load([]).select(0, 0), { code: 'STICKYD_ERR_BUILD' } as never);
});

test('malformed tables are refused at load with STICKYD_ERR_KERNEL_LOAD', async (t) => {
  const kernel = await loadKernel();
  const ring = { kind: 'ring' as const, hashes: new Uint32Array(3), endpoints: new Uint32Array(2) };
  t.throws(() => kernel.load([subset(0, 3, ring)]), { code: 'STICKYD_ERR_KERNEL_LOAD', message: /malformed/ } as never);
  t.throws(() => kernel.load([subset(1, 3, null)]), { code: 'STICKYD_ERR_KERNEL_LOAD', message: /index 0/ } as never);
});

test('a missing kernel file fails with STICKYD_ERR_KERNEL_LOAD naming the path', async (t) => {
  const url = new URL('file:///nonexistent/stickyd/kernel.wasm');
  const err = await t.throwsAsync(loadKernel(url), { code: 'STICKYD_ERR_KERNEL_LOAD' } as never);
  t.regex(err!.message, /\/nonexistent\/stickyd\/kernel\.wasm/);
});

test('a file that is not a kernel fails with STICKYD_ERR_KERNEL_LOAD', async (t) => {
  await t.throwsAsync(loadKernel(new URL(import.meta.url)), { code: 'STICKYD_ERR_KERNEL_LOAD', message: /kernel\.test\.ts/ } as never);
});

test('the kernel compiles once', async (t) => {
  t.is(loadKernel(), loadKernel());
});
