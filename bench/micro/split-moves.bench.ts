// Sessions moved by a weight change of a session split, beside the least any scheme must move
// (total variation), the closed form `check --against` reports, and plain cumulative ranges over
// one hash. Keys are minted as the worker mints them and hashed as it hashes them.
// docs/weighted-split-moves.md explains the figures.
import type { Hasher } from '../../src/balancing/hash.js';
import { buildDestinationSalts } from '../../src/balancing/build-tables.js';
import { computeMinimumMove, computeSplitMove } from '../../src/balancing/moves.js';
import { buildRendezvous, selectRendezvous } from '../../src/balancing/rendezvous.js';
import { mintSessionKey } from '../../src/worker/routing/sticky.js';
import { nsPerOp, row } from './measure.js';

const KEYS = 200_000;

/** [from, to] weights over destinations v1, v2, v3 */
export const SPLIT_CHANGES: readonly (readonly [readonly number[], readonly number[]])[] = [
  [[80, 20, 0], [50, 50, 0]],
  [[95, 5, 0], [80, 20, 0]],
  [[50, 50, 0], [0, 100, 0]],
  [[90, 10, 0], [10, 90, 0]],
  [[80, 20, 0], [70, 20, 10]],
  [[80, 10, 10], [60, 20, 20]],
  [[34, 33, 33], [10, 45, 45]],
  [[60, 30, 10], [54, 27, 19]],
  [[50, 30, 20], [20, 30, 50]],
  [[60, 30, 10], [30, 30, 40]],
  [[40, 40, 20], [20, 40, 40]],
  [[50, 50, 0], [50, 0, 50]],
];

export function benchSplitMoves(hasher: Hasher): void {
  const names = ['svc/v1', 'svc/v2', 'svc/v3'];
  const salts = buildDestinationSalts(names.map((name) => ({ name, port: 8080 })), hasher);
  const hashes = Array.from({ length: KEYS }, () => hasher.destinationHash32(mintSessionKey()));
  const widths = [20, 20, 10, 10, 10, 12];
  process.stdout.write(`\n## session split: % of ${KEYS.toLocaleString('en')} minted sessions whose destination a weight change moves\n`);
  process.stdout.write(row(['from', 'to', 'measured', 'formula', 'minimum', 'cumulative'], widths) + '\n');
  for (const [from, to] of SPLIT_CHANGES) {
    const a = buildRendezvous(from, salts);
    const b = buildRendezvous(to, salts);
    let moved = 0;
    let movedRanges = 0;
    for (const h of hashes) {
      if (selectRendezvous(a, h) !== selectRendezvous(b, h)) moved++;
      if (selectRange(from, h) !== selectRange(to, h)) movedRanges++;
    }
    const weights = (w: readonly number[]): Map<string, number> => new Map(w.map((x, i) => [names[i]!, x]));
    const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
    process.stdout.write(row([from.join('/'), to.join('/'), pct(moved / KEYS), pct(computeSplitMove(weights(from), weights(to))), pct(computeMinimumMove(weights(from), weights(to))), pct(movedRanges / KEYS)], widths) + '\n');
  }
}

/**
 * What the split adds per request, in-process: the destination hash of the key (xxhash32 with its
 * own seed) and the rendezvous choice, beside the ring's own hash of the same key.
 */
export function benchSplitCost(hasher: Hasher): void {
  const keys = Array.from({ length: 1024 }, () => mintSessionKey());
  const salts = buildDestinationSalts(['svc/v1', 'svc/v2', 'svc/v3'].map((name) => ({ name, port: 8080 })), hasher);
  const two = buildRendezvous([80, 20, 0], salts);
  const three = buildRendezvous([50, 30, 20], salts);
  const time = (body: (k: string) => number): number => nsPerOp(1_000_000, (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) sink += body(keys[i & 1023]!);
    return sink;
  });
  const hash = time((k) => hasher.hash32(k));
  const split2 = time((k) => selectRendezvous(two, hasher.destinationHash32(k)));
  const split3 = time((k) => selectRendezvous(three, hasher.destinationHash32(k)));
  process.stdout.write(`\n## session split: per-request cost of the destination choice (ns, median of 5)\n`);
  process.stdout.write(`key hash (the ring's, for scale) ${hash.toFixed(0)} ns; destination hash + rendezvous: 2 destinations ${split2.toFixed(0)} ns, 3 destinations ${split3.toFixed(0)} ns\n`);
}

/** Cumulative ranges over the 32-bit hash, destinations in listing order. */
function selectRange(weights: readonly number[], hash: number): number {
  const total = weights.reduce((s, w) => s + w, 0);
  const x = (hash / 2 ** 32) * total;
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i]!;
    if (weights[i]! > 0 && x < acc) return i;
  }
  return weights.length - 1;
}
