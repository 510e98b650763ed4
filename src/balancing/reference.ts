// The plain-TypeScript lookup the WebAssembly kernel (src/kernel/, wasm/) must equal, answer for
// answer: test/unit/kernel/kernel.test.ts compares them on random tables and hashes.
import type { BalancerTable } from '../snapshot/types.js';
import { selectMaglev } from './maglev.js';
import { selectRing } from './ring.js';

export { selectMaglev, selectRing };

/** Index into the subset's endpoints for an unsigned 32-bit `hash`. */
export function selectTable(table: BalancerTable, hash: number): number {
  return table.kind === 'ring' ? selectRing(table, hash) : selectMaglev(table, hash);
}
