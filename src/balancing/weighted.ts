// Pickers for requests that carry no hash key (or subsets with roundRobin / leastRequest /
// random). Each worker owns its pickers; the state is mutable, but the algorithms are pure
// functions of that state and the injected random source, so tests can replay them exactly.
import type { Endpoint } from '../snapshot/types.js';

export interface Picker {
  /** Index into the endpoints the picker was created with. */
  pick(): number;
  /** A request to endpoint `i` began (least-request bookkeeping; a no-op for the others). */
  start(i: number): void;
  /** A request to endpoint `i` ended. */
  finish(i: number): void;
}

export type PickerKind = 'roundRobin' | 'leastRequest' | 'random';

/** Envoy LeastRequestLbConfig.choice_count default: power of two choices. */
export const LEAST_REQUEST_CHOICE_COUNT = 2;

export function createPicker(kind: PickerKind, endpoints: readonly Endpoint[], random: () => number = Math.random): Picker {
  if (endpoints.length === 0) throw new RangeError('a picker needs at least one endpoint');
  const weights = Float64Array.from(endpoints, (e) => e.weight);
  switch (kind) {
    case 'roundRobin':
      return createSmoothRoundRobin(weights);
    case 'random':
      return createWeightedRandom(weights, random);
    case 'leastRequest':
      return createLeastRequest(weights, random);
  }
}

const noop = (): void => {};

/**
 * nginx smooth weighted round robin (ngx_http_upstream_get_peer): every pick adds each weight to
 * its endpoint's running score, takes the highest score (first on ties) and subtracts the total
 * from it. Weights 5,1,1 give a a b a c a a, spreading the light endpoints through the cycle.
 */
function createSmoothRoundRobin(weights: Float64Array): Picker {
  const current = new Float64Array(weights.length);
  let total = 0;
  for (const w of weights) total += w;
  return {
    pick(): number {
      let best = 0;
      for (let i = 0; i < weights.length; i++) {
        current[i] = current[i]! + weights[i]!;
        if (current[i]! > current[best]!) best = i;
      }
      current[best] = current[best]! - total;
      return best;
    },
    start: noop,
    finish: noop,
  };
}

/** Weighted random: a uniform draw over the cumulative weights, found by binary search. */
function createWeightedRandom(weights: Float64Array, random: () => number): Picker {
  const draw = createWeightedDraw(weights, random);
  return { pick: draw, start: noop, finish: noop };
}

function createWeightedDraw(weights: Float64Array, random: () => number): () => number {
  const cumulative = new Float64Array(weights.length);
  let total = 0;
  for (let i = 0; i < weights.length; i++) cumulative[i] = total += weights[i]!;
  return (): number => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/**
 * Envoy's least request with power of two choices: draw LEAST_REQUEST_CHOICE_COUNT candidates
 * (with replacement, as Envoy does) and keep the one with the fewest active requests, the first
 * on ties. With unequal weights the candidates are drawn by weight and compared by
 * active / weight, so an idle subset still follows the weights and a loaded one fills the
 * endpoints in proportion to their capacity.
 */
function createLeastRequest(weights: Float64Array, random: () => number): Picker {
  const active = new Float64Array(weights.length);
  const equal = weights.every((w) => w === weights[0]);
  const draw = equal ? (): number => Math.min(Math.floor(random() * weights.length), weights.length - 1) : createWeightedDraw(weights, random);
  return {
    pick(): number {
      let best = draw();
      for (let c = 1; c < LEAST_REQUEST_CHOICE_COUNT; c++) {
        const other = draw();
        if (active[other]! / weights[other]! < active[best]! / weights[best]!) best = other;
      }
      return best;
    },
    start(i: number): void {
      active[i] = active[i]! + 1;
    },
    finish(i: number): void {
      if (active[i]! > 0) active[i] = active[i]! - 1;
    },
  };
}
