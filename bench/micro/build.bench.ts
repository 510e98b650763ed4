// Table build time at several sizes, inline and through the piscina pool the primary uses
// (pool time includes the thread hop and returning the table by structured clone), and the
// worker-side cost of copying a built table into a fresh kernel instance. Envoy BuildRing.
import type { Hasher } from '../../src/balancing/hash.js';
import type { Kernel } from '../../src/kernel/index.js';
import { buildTables } from '../../src/balancing/build-tables.js';
import { TableBuilder } from '../../src/primary/builder.js';
import { SIZES, hashSubset, msPerRun, row, snapshotOf } from './measure.js';

export async function benchBuild(hasher: Hasher, kernel: Kernel): Promise<void> {
  const builder = new TableBuilder();
  const widths = [7, 8, 10, 12, 12, 16, 8];
  process.stdout.write('\n## build: ms per table (median of 3; pool = TableBuilder, 1 thread, warm)\n');
  process.stdout.write(row(['table', 'N', 'points', 'inline ms', 'pool ms', 'kernel load ms', 'MiB'], widths) + '\n');
  try {
    await builder.build(snapshotOf([hashSubset(10, 'ring')])); // start the thread and its hasher
    for (const kind of ['ring', 'maglev'] as const) {
      for (const n of SIZES) {
        const snapshot = snapshotOf([hashSubset(n, kind)]);
        const built = buildTables(snapshot, hasher);
        const table = built.subsets[0]!.table!;
        const points = table.kind === 'ring' ? table.hashes.length : table.table.length;
        const bytes = table.kind === 'ring' ? table.hashes.byteLength + table.endpoints.byteLength : table.table.byteLength;
        const inline = await msPerRun(3, () => buildTables(snapshot, hasher));
        const pooled = await msPerRun(3, () => builder.build(snapshot));
        const load = await msPerRun(3, () => kernel.load(built.subsets));
        process.stdout.write(row([kind, n, points, inline.toFixed(1), pooled.toFixed(1), load.toFixed(2), (bytes / 2 ** 20).toFixed(2)], widths) + '\n');
      }
    }
  } finally {
    await builder.close();
  }
}
