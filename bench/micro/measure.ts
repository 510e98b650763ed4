// Small timing helpers for the micro benchmarks: warm up, run a few rounds, report the median.
import { DEFAULT_SETTINGS } from '../../src/config/settings.js';
import type { Snapshot, Subset } from '../../src/snapshot/types.js';
import { makeEndpoints } from '../../test/golden/fixtures.js';

export const SIZES = [10, 1_000, 10_000] as const;

/** Median ns per operation of `body(iterations)` over `rounds` runs after one warm-up run. */
export function nsPerOp(iterations: number, body: (iterations: number) => number, rounds = 5): number {
  let sink = body(Math.min(iterations, 50_000));
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    sink += body(iterations);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  if (sink === -1) process.stdout.write(''); // keep the results observable so nothing is optimised away
  return median(samples);
}

/** Median ms of `rounds` runs of an async or sync function. */
export async function msPerRun(rounds: number, body: () => unknown): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    await body();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function hashSubset(n: number, table: 'ring' | 'maglev'): Subset {
  return {
    id: 0, name: `bench-${table}-${n}`, host: 'bench', subsetName: null, port: 8080, endpoints: makeEndpoints(n),
    policy: { kind: 'hash', key: { kind: 'cookie', name: 'sid', path: '/', ttlSec: 0 }, table, minimumRingSize: null, maglevTableSize: null },
    table: null,
  };
}

export function snapshotOf(subsets: Subset[]): Snapshot {
  return {
    epoch: 1, configHash: 'bench', configPath: 'bench', listeners: [], subsets,
    settings: { ...DEFAULT_SETTINGS, sessionCacheSize: 0 },
  };
}

export function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((c, i) => String(c).padStart(widths[i] ?? 10)).join('  ');
}
