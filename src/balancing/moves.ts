// What a config change would move, computed from the tables rather than sampled (`stickyd check
// --against`). Endpoint moves are exact over the 2^32 hash space: a ring is a step function of the
// hash (one step per point), a Maglev table a periodic one (hash % size); only a Maglev table size
// change is integrated numerically on a fixed grid (computeGridMove). Destination moves of a
// session split are the closed form of weighted rendezvous (rendezvous.ts) under its model, each
// destination's draw an independent uniform: docs/weighted-split-moves.md derives it.
import type { BalancerTable, Endpoint } from '../snapshot/types.js';

const SPACE = 2 ** 32;

/** A hash table with the endpoint ids its indices name. */
export interface TableView {
  readonly table: BalancerTable;
  readonly endpoints: readonly Pick<Endpoint, 'id'>[];
}

/** The share of the 2^32 hashes whose endpoint id differs between `from` and `to`. */
export function computeEndpointMove(from: TableView, to: TableView): number {
  const a = from.table;
  const b = to.table;
  if (a.kind === 'ring' && b.kind === 'ring') return computeRingRingMove(ringSteps(from), ringSteps(to));
  if (a.kind === 'maglev' && b.kind === 'maglev') {
    return a.table.length === b.table.length ? computeMaglevMaglevMove(from, to) : computeGridMove(from, to);
  }
  return a.kind === 'ring' ? computeRingMaglevMove(ringSteps(from), to) : computeRingMaglevMove(ringSteps(to), from);
}

/** Step starts ascending from 0 and the endpoint id from each start on. */
interface Steps {
  readonly starts: Float64Array;
  readonly ids: readonly string[];
}

/** A key goes to the first point at or after its hash (ring.ts), wrapping past the top. */
function ringSteps(view: TableView): Steps {
  const t = view.table;
  if (t.kind !== 'ring') throw new TypeError('not a ring');
  const n = t.hashes.length;
  const starts: number[] = [0];
  const ids: string[] = [view.endpoints[t.endpoints[0]!]!.id];
  for (let p = 1; p < n; p++) {
    // Equal hashes leave the later point an empty step: the earlier one answers (ring.ts).
    const start = t.hashes[p - 1]! + 1;
    if (t.hashes[p]! >= start) {
      starts.push(start);
      ids.push(view.endpoints[t.endpoints[p]!]!.id);
    }
  }
  const wrap = t.hashes[n - 1]! + 1;
  if (wrap < SPACE) {
    starts.push(wrap);
    ids.push(view.endpoints[t.endpoints[0]!]!.id);
  }
  return { starts: Float64Array.from(starts), ids };
}

function computeRingRingMove(a: Steps, b: Steps): number {
  let moved = 0;
  let i = 0;
  let j = 0;
  let at = 0;
  while (at < SPACE) {
    const nextA = i + 1 < a.starts.length ? a.starts[i + 1]! : SPACE;
    const nextB = j + 1 < b.starts.length ? b.starts[j + 1]! : SPACE;
    const end = Math.min(nextA, nextB);
    if (a.ids[i] !== b.ids[j]) moved += end - at;
    at = end;
    if (nextA === end) i++;
    if (nextB === end) j++;
  }
  return moved / SPACE;
}

/** Hashes with h % size === slot over the 2^32 space. */
function slotCount(slot: number, size: number): number {
  return Math.floor(SPACE / size) + (slot < SPACE % size ? 1 : 0);
}

function computeMaglevMaglevMove(from: TableView, to: TableView): number {
  const a = from.table.kind === 'maglev' ? from.table.table : new Uint32Array();
  const b = to.table.kind === 'maglev' ? to.table.table : new Uint32Array();
  let moved = 0;
  for (let s = 0; s < a.length; s++) {
    if (from.endpoints[a[s]!]!.id !== to.endpoints[b[s]!]!.id) moved += slotCount(s, a.length);
  }
  return moved / SPACE;
}

/**
 * A ring against a Maglev table of size M: a ring step [start, end) of endpoint e keeps the hashes
 * whose slot (h % M) e also owns in the table: whole turns of the table, plus one partial range of
 * slots, counted by binary search in e's sorted slot list. Exact, in steps x log M.
 */
function computeRingMaglevMove(ring: Steps, maglev: TableView): number {
  const t = maglev.table.kind === 'maglev' ? maglev.table.table : new Uint32Array();
  const size = t.length;
  const slotsOf = new Map<string, number[]>();
  for (let s = 0; s < size; s++) {
    const id = maglev.endpoints[t[s]!]!.id;
    const list = slotsOf.get(id);
    if (list === undefined) slotsOf.set(id, [s]);
    else list.push(s);
  }
  let kept = 0;
  for (let k = 0; k < ring.starts.length; k++) {
    const slots = slotsOf.get(ring.ids[k]!);
    if (slots === undefined) continue;
    const start = ring.starts[k]!;
    const length = (k + 1 < ring.starts.length ? ring.starts[k + 1]! : SPACE) - start;
    const first = start % size;
    const rest = length % size;
    kept += Math.floor(length / size) * slots.length;
    if (first + rest <= size) kept += countIn(slots, first, first + rest);
    else kept += countIn(slots, first, size) + countIn(slots, 0, first + rest - size);
  }
  return (SPACE - kept) / SPACE;
}

/** How many of the ascending `sorted` lie in [lo, hi). */
function countIn(sorted: readonly number[], lo: number, hi: number): number {
  return lowerBound(sorted, hi) - lowerBound(sorted, lo);
}

function lowerBound(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Turns of the first table a size change is measured over (computeGridMove). */
export const GRID_TURNS = 256;

/**
 * Two Maglev tables of different sizes share no structure short of the whole space (4.3 billion
 * hashes: minutes, measured). So this one case is a deterministic numerical integration, not an
 * exact count: GRID_TURNS whole turns of the first table (each turn M consecutive hashes, every
 * slot of it once) evenly spaced over the space; the second table's slots shift from turn to
 * turn, and the turns sample those shifts evenly.
 */
function computeGridMove(from: TableView, to: TableView): number {
  const a = from.table.kind === 'maglev' ? from.table.table : new Uint32Array();
  const b = to.table.kind === 'maglev' ? to.table.table : new Uint32Array();
  // Compare through small integers: one number per distinct endpoint id.
  const numbers = new Map<string, number>();
  const number = (id: string): number => {
    let n = numbers.get(id);
    if (n === undefined) numbers.set(id, (n = numbers.size));
    return n;
  };
  const ia = Uint32Array.from(a, (i) => number(from.endpoints[i]!.id));
  const ib = Uint32Array.from(b, (i) => number(to.endpoints[i]!.id));
  const turns = Math.floor(SPACE / ia.length);
  let moved = 0;
  let seen = 0;
  for (let g = 0; g < GRID_TURNS; g++) {
    const turn = Math.floor(((g + 0.5) * turns) / GRID_TURNS);
    let sb = (turn * ia.length) % ib.length;
    for (let sa = 0; sa < ia.length; sa++) {
      if (ia[sa] !== ib[sb]) moved++;
      if (++sb === ib.length) sb = 0;
    }
    seen += ia.length;
  }
  return moved / seen;
}

/** Whether computeEndpointMove counts exactly (false only for a Maglev table size change). */
export function isExactEndpointMove(from: BalancerTable, to: BalancerTable): boolean {
  return !(from.kind === 'maglev' && to.kind === 'maglev' && from.table.length !== to.table.length);
}

/**
 * The share of sessions whose destination changes when a session split's weights go from `from`
 * to `to` (destination identity -> weight; absent or 0 = takes none), under weighted rendezvous:
 * destination j keeps the sessions it wins under both, with probability
 * 1 / sum_i max(w_i / w_j, w'_i / w'_j) (docs/weighted-split-moves.md).
 */
export function computeSplitMove(from: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): number {
  const ids = [...new Set([...from.keys(), ...to.keys()])];
  let stay = 0;
  for (const j of ids) {
    const wj = from.get(j) ?? 0;
    const vj = to.get(j) ?? 0;
    if (wj <= 0 || vj <= 0) continue;
    let sum = 0;
    for (const i of ids) sum += Math.max((from.get(i) ?? 0) / wj, (to.get(i) ?? 0) / vj);
    stay += 1 / sum;
  }
  return 1 - stay;
}

/** The least share any assignment must move: the total variation distance between the two splits. */
export function computeMinimumMove(from: ReadonlyMap<string, number>, to: ReadonlyMap<string, number>): number {
  const f = [...from.values()].reduce((a, b) => a + b, 0);
  const g = [...to.values()].reduce((a, b) => a + b, 0);
  let sum = 0;
  for (const id of new Set([...from.keys(), ...to.keys()])) sum += Math.max(0, (from.get(id) ?? 0) / f - (to.get(id) ?? 0) / g);
  return sum;
}
