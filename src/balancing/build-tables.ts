// The build side of balancing: fills every hash subset's table. Runs in the piscina pool
// (primary/build.task.ts) so the primary's event loop never waits on a large ring.
import type { BalancerTable, Snapshot, Subset } from '../snapshot/types.js';
import { StickydError } from '../errors.js';
import type { Hasher } from './hash.js';
import { buildMaglev } from './maglev.js';
import { buildRing } from './ring.js';

/** Fills `table` for every subset whose policy is 'hash'; pure; returns a new Snapshot (input untouched). */
export function buildTables(snapshot: Snapshot, hasher: Hasher): Snapshot {
  return { ...snapshot, subsets: snapshot.subsets.map((s) => ({ ...s, table: buildSubsetTable(s, hasher) })) };
}

function buildSubsetTable(subset: Subset, hasher: Hasher): BalancerTable | null {
  const p = subset.policy;
  if (p.kind !== 'hash') return null;
  try {
    return p.table === 'ring' ? buildRing(subset.endpoints, p.minimumRingSize, hasher) : buildMaglev(subset.endpoints, p.maglevTableSize, hasher);
  } catch (err) {
    // Name the subset: the builders only know endpoints.
    const message = err instanceof Error ? err.message : String(err);
    throw new StickydError('STICKYD_ERR_BUILD', `subset ${subset.name}: ${message}`, { cause: err });
  }
}
