// Writes ring.json and maglev.json: for a fixed endpoint set and fixed keys, the endpoint each
// key maps to. Run ONCE: `node --import tsx test/golden/generate.ts`. test/unit/balancing/golden.test.ts
// checks that the code still reproduces them. Regenerating changes where existing sessions land
// and makes this version route differently from older instances: a breaking change.
import { writeFileSync } from 'node:fs';
import { initHasher, HASH_SEED } from '../../src/balancing/hash.js';
import { buildRing, selectRing, DEFAULT_POINTS_PER_WEIGHT } from '../../src/balancing/ring.js';
import { buildMaglev, selectMaglev, MAGLEV_TABLE_SIZE } from '../../src/balancing/maglev.js';
import { GOLDEN_ENDPOINTS, GOLDEN_KEYS } from './fixtures.js';

async function main(): Promise<void> {
  const hasher = await initHasher();
  const ring = buildRing(GOLDEN_ENDPOINTS, null, hasher);
  const maglev = buildMaglev(GOLDEN_ENDPOINTS, null, hasher);
  const vectors = (select: (hash: number) => number): object[] =>
    GOLDEN_KEYS.map((key) => {
      const hash = hasher.hash32(key);
      return { key, hash, endpoint: GOLDEN_ENDPOINTS[select(hash)]!.id };
    });
  const common = { hashSeed: HASH_SEED, endpoints: GOLDEN_ENDPOINTS.map(({ id, weight }) => ({ id, weight })) };
  write('ring.json', { table: 'ring', pointsPerWeight: DEFAULT_POINTS_PER_WEIGHT, minimumRingSize: null, ...common, vectors: vectors((h) => selectRing(ring, h)) });
  write('maglev.json', { table: 'maglev', tableSize: MAGLEV_TABLE_SIZE, ...common, vectors: vectors((h) => selectMaglev(maglev, h)) });
}

function write(name: string, data: object): void {
  const url = new URL(name, import.meta.url);
  writeFileSync(url, JSON.stringify(data, null, 2) + '\n');
  process.stdout.write(`wrote ${url.pathname}\n`);
}

await main();
