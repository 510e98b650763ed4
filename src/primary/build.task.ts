// The piscina task: a build is a pure function of its input snapshot. Runs on a worker thread
// so hashing a large ring never stalls the primary's event loop. Imports balancing/ and
// snapshot/ only.
import type { Snapshot } from '../snapshot/types.js';
import { initHasher } from '../balancing/hash.js';
import { buildTables } from '../balancing/build-tables.js';

export default async function buildTask(snapshot: Snapshot): Promise<Snapshot> {
  return buildTables(snapshot, await initHasher());
}
