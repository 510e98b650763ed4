// Consistent-hash ring (ketama): every endpoint owns weight * pointsPerWeight points on a
// 32-bit circle and a key goes to the first point at or after its hash. A point's hash depends
// only on its endpoint's id, so adding or removing one endpoint of N moves about 1/N of keys,
// and never a key whose endpoint stayed (as long as pointsPerWeight stays the same, see below).
import type { Endpoint, RingTable } from '../snapshot/types.js';
import { StickydError } from '../errors.js';
import type { Hasher } from './hash.js';
import { sortEndpointIndices, totalWeight } from './endpoint-order.js';

/** nginx ketama (ngx_http_upstream_hash_module): 160 points per unit of weight. */
export const DEFAULT_POINTS_PER_WEIGHT = 160;

/** Envoy RingHashLbConfig.maximum_ring_size default (8M points, 64 MiB of table). */
export const MAXIMUM_RING_SIZE = 8_388_608;

// Points are sorted as one float64 key: hash * TIE_RANGE + rank, exact below 2^53. The rank (the
// endpoint's position in id order) breaks ties between equal hashes, so equal hashes order by
// id whatever the input order, and the native typed-array sort does the work.
const TIE_RANGE = 2 ** 21;

/**
 * Points per unit of weight. With minimumRingSize set (Istio ringHash.minimumRingSize) it is
 * raised to ceil(minimumRingSize / totalWeight), which couples every endpoint's point count to
 * the total weight: adding an endpoint can then change the points of the others, and the
 * "only keys of the changed endpoint move" guarantee holds only while that value is unchanged.
 * The same coupling applies when MAXIMUM_RING_SIZE forces the count down.
 */
export function computePointsPerWeight(weightSum: number, minimumRingSize: number | null): number {
  let perWeight = DEFAULT_POINTS_PER_WEIGHT;
  if (minimumRingSize !== null) perWeight = Math.max(perWeight, Math.ceil(minimumRingSize / weightSum));
  if (weightSum * perWeight > MAXIMUM_RING_SIZE) perWeight = Math.floor(MAXIMUM_RING_SIZE / weightSum);
  if (perWeight < 1) {
    throw new StickydError('STICKYD_ERR_BUILD', `total endpoint weight ${weightSum} exceeds the maximum ring size ${MAXIMUM_RING_SIZE}`);
  }
  return perWeight;
}

export function buildRing(endpoints: readonly Endpoint[], minimumRingSize: number | null, hasher: Hasher): RingTable {
  const order = sortEndpointIndices(endpoints);
  if (order.length > TIE_RANGE) {
    throw new StickydError('STICKYD_ERR_BUILD', `a ring holds at most ${TIE_RANGE} endpoints, got ${order.length}`);
  }
  const weightSum = totalWeight(endpoints);
  const perWeight = computePointsPerWeight(weightSum, minimumRingSize);
  const keys = new Float64Array(weightSum * perWeight);
  let k = 0;
  for (let rank = 0; rank < order.length; rank++) {
    const e = endpoints[order[rank]!]!;
    const count = e.weight * perWeight;
    for (let i = 0; i < count; i++) keys[k++] = hasher.hash32(`${e.id}_${i}`) * TIE_RANGE + rank;
  }
  keys.sort();
  const hashes = new Uint32Array(keys.length);
  const owners = new Uint32Array(keys.length);
  for (let p = 0; p < keys.length; p++) {
    const rank = keys[p]! % TIE_RANGE;
    hashes[p] = (keys[p]! - rank) / TIE_RANGE;
    owners[p] = order[rank]!;
  }
  return { kind: 'ring', hashes, endpoints: owners };
}

/**
 * Index into the endpoints the ring was built from: the owner of the first point whose hash is
 * >= `hash`, wrapping to the first point past the top. `hash` is read as unsigned 32-bit.
 */
export function selectRing(table: RingTable, hash: number): number {
  return table.endpoints[selectRingPoint(table, hash)]!;
}

/** The index of the point `selectRing` answers from: where a health walk starts (walk.ts). */
export function selectRingPoint(table: RingTable, hash: number): number {
  const points = table.hashes;
  const h = hash >>> 0;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === points.length ? 0 : lo;
}
