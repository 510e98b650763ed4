// Tables must not depend on the order endpoints arrive in (two instances may list the same
// WorkloadEntries differently), so every builder walks endpoints in id order through this.
import type { Endpoint } from '../snapshot/types.js';
import { StickydError } from '../errors.js';

/**
 * Indices into `endpoints`, ordered by endpoint id (UTF-16 code-unit order, the same on every
 * platform). Throws STICKYD_ERR_BUILD on an empty list, a duplicate id or a weight that is not
 * a positive integer: a duplicate would make the owner of a point depend on input order.
 */
export function sortEndpointIndices(endpoints: readonly Endpoint[]): Uint32Array {
  if (endpoints.length === 0) throw new StickydError('STICKYD_ERR_BUILD', 'cannot build a table for an empty endpoint list');
  const order = Array.from(endpoints.keys()).sort((a, b) => compareIds(endpoints[a]!.id, endpoints[b]!.id));
  for (let r = 0; r < order.length; r++) {
    const e = endpoints[order[r]!]!;
    if (!Number.isSafeInteger(e.weight) || e.weight < 1) {
      throw new StickydError('STICKYD_ERR_BUILD', `endpoint ${e.id} has weight ${e.weight}; weights must be integers >= 1`);
    }
    if (r > 0 && endpoints[order[r - 1]!]!.id === e.id) {
      throw new StickydError('STICKYD_ERR_BUILD', `endpoint ${e.id} appears twice in one subset`);
    }
  }
  return Uint32Array.from(order);
}

export function totalWeight(endpoints: readonly Endpoint[]): number {
  let sum = 0;
  for (const e of endpoints) sum += e.weight;
  return sum;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
