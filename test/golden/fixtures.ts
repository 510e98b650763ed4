// Shared inputs for the balancing tests, the golden vectors and bench/micro: endpoint lists,
// a seeded random source (tests must replay exactly) and random keys.
import type { Endpoint } from '../../src/snapshot/types.js';

/** mulberry32: a tiny seeded PRNG returning [0, 1); deterministic across runs and platforms. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeEndpoint(i: number, weight = 1): Endpoint {
  const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  return { id: `${address}:8080`, address, port: 8080, weight, labels: {} };
}

/** `n` endpoints sorted by id, as config/compile.ts delivers them. */
export function makeEndpoints(n: number, weight: (i: number) => number = () => 1): Endpoint[] {
  return Array.from({ length: n }, (_, i) => makeEndpoint(i, weight(i))).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Session-cookie-like keys, deterministic for a seed. */
export function makeKeys(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => `session-${Math.floor(random() * 2 ** 32).toString(16)}-${Math.floor(random() * 2 ** 32).toString(16)}`);
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The fixed endpoint set of the golden vectors: never edit it (see generate.ts). */
export const GOLDEN_ENDPOINTS: readonly Endpoint[] = [
  { id: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, weight: 1, labels: {} },
  { id: '10.0.0.2:8080', address: '10.0.0.2', port: 8080, weight: 1, labels: {} },
  { id: '10.0.0.3:8080', address: '10.0.0.3', port: 8080, weight: 2, labels: {} },
  { id: '10.0.0.4:9090', address: '10.0.0.4', port: 9090, weight: 1, labels: {} },
  { id: '[fd00::5]:8080', address: 'fd00::5', port: 8080, weight: 3, labels: {} },
];

/** 50 keys shaped like real cookie, header and source-ip keys. */
export const GOLDEN_KEYS: readonly string[] = [
  '', 'a', 'user-1', 'user-2', 'user-3', '192.168.1.10', '192.168.1.11', '::1', 'fd00::1234',
  ...Array.from({ length: 41 }, (_, i) => `sess-${(i * 2654435761) >>> 0}`),
];
