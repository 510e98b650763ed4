// Golden vectors (test/golden/*.json, written once by test/golden/generate.ts). If this fails,
// the change reroutes existing sessions and splits a fleet running mixed versions: do not
// regenerate the files to make it pass unless that break is intended and announced.
import test from 'ava';
import { readFileSync } from 'node:fs';
import type { Endpoint, Subset } from '../../../src/snapshot/types.js';
import { initHasher, HASH_SEED } from '../../../src/balancing/hash.js';
import { buildRing, selectRing, DEFAULT_POINTS_PER_WEIGHT } from '../../../src/balancing/ring.js';
import { buildMaglev, selectMaglev, MAGLEV_TABLE_SIZE } from '../../../src/balancing/maglev.js';
import { loadKernel } from '../../../src/kernel/index.js';
import { GOLDEN_ENDPOINTS, GOLDEN_KEYS, seededRandom, shuffled } from '../../golden/fixtures.js';

interface Golden {
  hashSeed: number;
  endpoints: { id: string; weight: number }[];
  vectors: { key: string; hash: number; endpoint: string }[];
}

function readGolden(name: string): Golden {
  return JSON.parse(readFileSync(new URL(`../../golden/${name}`, import.meta.url), 'utf8')) as Golden;
}

function checkInputs(t: import('ava').ExecutionContext, golden: Golden): void {
  t.is(golden.hashSeed, HASH_SEED);
  t.deepEqual(golden.endpoints, GOLDEN_ENDPOINTS.map(({ id, weight }) => ({ id, weight })));
  t.deepEqual(golden.vectors.map((v) => v.key), [...GOLDEN_KEYS]);
  t.is(golden.vectors.length, 50);
}

function asSubset(endpoints: readonly Endpoint[], table: Subset['table']): Subset {
  return { id: 0, name: 'golden', host: 'golden', subsetName: null, port: 8080, endpoints, policy: { kind: 'random' }, table };
}

test('ring.json: hashes and endpoints are reproduced (reference, kernel, any input order)', async (t) => {
  const golden = readGolden('ring.json');
  checkInputs(t, golden);
  t.is(DEFAULT_POINTS_PER_WEIGHT, 160);
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const input = shuffled(GOLDEN_ENDPOINTS, seededRandom(11));
  const ring = buildRing(input, null, hasher);
  const lookup = kernel.load([asSubset(input, ring)]);
  for (const v of golden.vectors) {
    t.is(hasher.hash32(v.key), v.hash, `hash of ${JSON.stringify(v.key)}`);
    t.is(input[selectRing(ring, v.hash)]!.id, v.endpoint, `reference for ${JSON.stringify(v.key)}`);
    t.is(input[lookup.select(0, v.hash)]!.id, v.endpoint, `kernel for ${JSON.stringify(v.key)}`);
  }
});

test('maglev.json: hashes and endpoints are reproduced (reference, kernel, any input order)', async (t) => {
  const golden = readGolden('maglev.json');
  checkInputs(t, golden);
  t.is(MAGLEV_TABLE_SIZE, 65537);
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const input = shuffled(GOLDEN_ENDPOINTS, seededRandom(12));
  const maglev = buildMaglev(input, null, hasher);
  const lookup = kernel.load([asSubset(input, maglev)]);
  for (const v of golden.vectors) {
    t.is(hasher.hash32(v.key), v.hash, `hash of ${JSON.stringify(v.key)}`);
    t.is(input[selectMaglev(maglev, v.hash)]!.id, v.endpoint, `reference for ${JSON.stringify(v.key)}`);
    t.is(input[lookup.select(0, v.hash)]!.id, v.endpoint, `kernel for ${JSON.stringify(v.key)}`);
  }
});

test('the golden vectors exercise every endpoint', (t) => {
  for (const name of ['ring.json', 'maglev.json']) {
    const used = new Set(readGolden(name).vectors.map((v) => v.endpoint));
    t.is(used.size, GOLDEN_ENDPOINTS.length, name);
  }
});
