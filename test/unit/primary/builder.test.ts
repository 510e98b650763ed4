import test from 'ava';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import type { Snapshot, Subset } from '../../../src/snapshot/types.js';
import { initHasher } from '../../../src/balancing/hash.js';
import { buildTables } from '../../../src/balancing/build-tables.js';
import { TableBuilder } from '../../../src/primary/builder.js';
import { makeEndpoints } from '../../golden/fixtures.js';

function subset(id: number, policy: Subset['policy'], endpointCount: number): Subset {
  return { id, name: `svc/${id}`, host: 'svc', subsetName: `s${id}`, port: 80, endpoints: makeEndpoints(endpointCount, (i) => 1 + (i % 3)), policy, table: null };
}

function hashPolicy(table: 'ring' | 'maglev', size: number | null = null): Subset['policy'] {
  return { kind: 'hash', key: { kind: 'cookie', name: 'sid', path: '/', ttlSec: 0 }, table, minimumRingSize: table === 'ring' ? size : null, maglevTableSize: table === 'maglev' ? size : null };
}

function snapshot(subsets: Subset[]): Snapshot {
  return {
    epoch: 3, configHash: 'abc', configPath: '/etc/stickyd', listeners: [], subsets,
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 100, maxKeyLength: 256 },
  };
}

const INPUT = snapshot([
  subset(0, hashPolicy('ring'), 50),
  subset(1, { kind: 'roundRobin' }, 4),
  subset(2, hashPolicy('maglev', 251), 20),
  subset(3, hashPolicy('ring', 20_000), 3),
  subset(4, { kind: 'leastRequest' }, 2),
]);

test('buildTables fills hash subsets only and leaves its input untouched', async (t) => {
  const before = structuredClone(INPUT);
  const built = buildTables(INPUT, await initHasher());
  t.deepEqual(INPUT, before);
  t.not(built, INPUT);
  t.deepEqual(built.subsets.map((s) => s.table?.kind ?? null), ['ring', null, 'maglev', 'ring', null]);
  t.is(built.subsets[2]!.table!.kind === 'maglev' && built.subsets[2]!.table!.table.length, 251);
  t.deepEqual({ ...built, subsets: [] }, { ...INPUT, subsets: [] });
});

test('a build in the piscina pool equals the inline build', async (t) => {
  const builder = new TableBuilder();
  try {
    const [pooled, hasher] = await Promise.all([builder.build(INPUT), initHasher()]);
    const inline = buildTables(INPUT, hasher);
    t.deepEqual(pooled, inline);
    const ring = pooled.subsets[0]!.table;
    t.true(ring !== null && ring.kind === 'ring' && ring.hashes instanceof Uint32Array, 'typed arrays survive the thread boundary');
  } finally {
    await builder.close();
  }
});

test('successive builds run one after another on the pool', async (t) => {
  const builder = new TableBuilder({ threads: 1 });
  try {
    const results = await Promise.all([1, 2, 3].map((epoch) => builder.build({ ...INPUT, epoch })));
    t.deepEqual(results.map((r) => r.epoch), [1, 2, 3]);
  } finally {
    await builder.close();
  }
});

test('a failed build rejects with STICKYD_ERR_BUILD naming the subset', async (t) => {
  const builder = new TableBuilder();
  try {
    const bad = snapshot([subset(0, hashPolicy('maglev', 1000), 3)]);
    await t.throwsAsync(builder.build(bad), { code: 'STICKYD_ERR_BUILD', message: /svc\/0.*prime/ } as never);
  } finally {
    await builder.close();
  }
});
