// ns per lookup, WASM kernel vs the TypeScript reference, with and without hashing the key
// (the worker's real per-request cost is hash + lookup). Envoy's ChooseHost benchmark.
import type { Hasher } from '../../src/balancing/hash.js';
import { buildTables } from '../../src/balancing/build-tables.js';
import { selectTable } from '../../src/balancing/reference.js';
import type { Kernel } from '../../src/kernel/index.js';
import { makeKeys } from '../../test/golden/fixtures.js';
import { SIZES, hashSubset, nsPerOp, row, snapshotOf } from './measure.js';

const ITERATIONS = 1_000_000;
const KEY_COUNT = 1 << 16; // a working set of distinct keys, like many sessions

export function benchSelect(hasher: Hasher, kernel: Kernel): void {
  const keys = makeKeys(KEY_COUNT, 1);
  const hashes = Uint32Array.from(keys, (k) => hasher.hash32(k));
  const mask = KEY_COUNT - 1;
  const widths = [7, 8, 14, 14, 14, 14, 10];
  process.stdout.write(`\n## select: ns/op (median of 5 x ${ITERATIONS.toLocaleString('en')} lookups, ${KEY_COUNT} distinct keys)\n`);
  process.stdout.write(row(['table', 'N', 'wasm lookup', 'ref lookup', 'wasm hash+lkp', 'ref hash+lkp', 'wasm/ref'], widths) + '\n');
  const hashOnly = nsPerOp(ITERATIONS, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += hasher.hash32(keys[i & mask]!);
    return s;
  });
  for (const kind of ['ring', 'maglev'] as const) {
    for (const n of SIZES) {
      const built = buildTables(snapshotOf([hashSubset(n, kind)]), hasher);
      const table = built.subsets[0]!.table!;
      const lookup = kernel.load(built.subsets);
      const wasm = nsPerOp(ITERATIONS, (count) => {
        let s = 0;
        for (let i = 0; i < count; i++) s += lookup.select(0, hashes[i & mask]!);
        return s;
      });
      const ref = nsPerOp(ITERATIONS, (count) => {
        let s = 0;
        for (let i = 0; i < count; i++) s += selectTable(table, hashes[i & mask]!);
        return s;
      });
      const wasmFull = nsPerOp(ITERATIONS, (count) => {
        let s = 0;
        for (let i = 0; i < count; i++) s += lookup.select(0, hasher.hash32(keys[i & mask]!));
        return s;
      });
      const refFull = nsPerOp(ITERATIONS, (count) => {
        let s = 0;
        for (let i = 0; i < count; i++) s += selectTable(table, hasher.hash32(keys[i & mask]!));
        return s;
      });
      process.stdout.write(row([kind, n, wasm.toFixed(1), ref.toFixed(1), wasmFull.toFixed(1), refFull.toFixed(1), (wasm / ref).toFixed(2)], widths) + '\n');
    }
  }
  process.stdout.write(`hash32 alone (xxhash-wasm h32 of a ~30-byte key): ${hashOnly.toFixed(1)} ns/op\n`);
}
