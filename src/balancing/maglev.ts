// Maglev lookup table (Eisenbud et al., NSDI 2016) with Envoy's weighted fill
// (source/extensions/load_balancing_policies/maglev/maglev_lb.cc). Each endpoint walks its own
// permutation of the slots, derived from two hashes of its id, and the endpoints take turns
// claiming their next free slot, heavier endpoints more often. Lookups are one modulo and one
// load. Unlike the ring it is not minimally disruptive: a change moves ~1/N of keys, plus a
// small share between endpoints that stayed.
import type { Endpoint, MaglevTable } from '../snapshot/types.js';
import { StickydError } from '../errors.js';
import type { Hasher } from './hash.js';
import { sortEndpointIndices } from './endpoint-order.js';

/** Envoy MaglevLbConfig.table_size default; the paper (§5.3) wants a prime well above N * 100. */
export const MAGLEV_TABLE_SIZE = 65537;

/** Envoy's upper bound for MaglevLbConfig.table_size. */
export const MAGLEV_MAX_TABLE_SIZE = 5_000_011;

// Envoy hashes the host key with xxHash64 seeds 0 and 1; stickyd has one fixed-seed 32-bit hash
// (instances must agree), so the skip hash comes from a suffixed key instead of a second seed.
const SKIP_SUFFIX = '#skip';

const EMPTY = 0xffffffff;

export function buildMaglev(endpoints: readonly Endpoint[], tableSize: number | null, hasher: Hasher): MaglevTable {
  const size = tableSize ?? MAGLEV_TABLE_SIZE;
  checkTableSize(size);
  const order = sortEndpointIndices(endpoints);
  const n = order.length;
  const next = new Float64Array(n); // current slot of each endpoint's permutation
  const skip = new Float64Array(n);
  const weight = new Float64Array(n);
  const target = new Float64Array(n); // Envoy target_weight_, kept in integer weight units
  let maxWeight = 0;
  for (let r = 0; r < n; r++) {
    const e = endpoints[order[r]!]!;
    next[r] = hasher.hash32(e.id) % size;
    skip[r] = (hasher.hash32(e.id + SKIP_SUFFIX) % (size - 1)) + 1;
    weight[r] = e.weight;
    maxWeight = Math.max(maxWeight, e.weight);
  }
  const table = new Uint32Array(size).fill(EMPTY);
  let filled = 0;
  // An endpoint of maximum weight claims a slot every round, one of a third of it every third
  // round (Envoy: "iteration * weight < target_weight" skips the endpoint this round).
  for (let round = 1; filled < size; round++) {
    for (let r = 0; r < n && filled < size; r++) {
      if (round * weight[r]! < target[r]!) continue;
      target[r] = target[r]! + maxWeight;
      let c = next[r]!;
      while (table[c] !== EMPTY) c = (c + skip[r]!) % size;
      table[c] = order[r]!;
      next[r] = (c + skip[r]!) % size;
      filled++;
    }
  }
  return { kind: 'maglev', table };
}

/** Index into the endpoints the table was built from. `hash` is read as unsigned 32-bit. */
export function selectMaglev(table: MaglevTable, hash: number): number {
  return table.table[(hash >>> 0) % table.table.length]!;
}

// Each permutation (offset + j * skip) mod size visits every slot only when size is prime, which
// is what guarantees the fill loop ends.
function checkTableSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 2 || size > MAGLEV_MAX_TABLE_SIZE || !isPrime(size)) {
    throw new StickydError('STICKYD_ERR_BUILD', `maglev table size ${size} must be a prime between 2 and ${MAGLEV_MAX_TABLE_SIZE}`);
  }
}

export function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
