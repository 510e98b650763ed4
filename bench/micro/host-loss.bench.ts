// Keys moved when one endpoint joins or leaves, printed beside the 1/N ideal (Envoy's
// host_loss_over_N_optimal). For the ring, "between staying" must be 0; Maglev trades a little
// of it for balance.
import type { Endpoint } from '../../src/snapshot/types.js';
import type { Hasher } from '../../src/balancing/hash.js';
import { buildRing, selectRing } from '../../src/balancing/ring.js';
import { buildMaglev, selectMaglev } from '../../src/balancing/maglev.js';
import { makeEndpoint, makeEndpoints, makeKeys } from '../../test/golden/fixtures.js';
import { SIZES, row } from './measure.js';

const KEYS = 100_000;

type Router = (endpoints: readonly Endpoint[], hashes: Uint32Array) => string[];

const ROUTERS: Record<'ring' | 'maglev', (hasher: Hasher) => Router> = {
  ring: (hasher) => (endpoints, hashes) => {
    const t = buildRing(endpoints, null, hasher);
    return Array.from(hashes, (h) => endpoints[selectRing(t, h)]!.id);
  },
  maglev: (hasher) => (endpoints, hashes) => {
    const t = buildMaglev(endpoints, null, hasher);
    return Array.from(hashes, (h) => endpoints[selectMaglev(t, h)]!.id);
  },
};

export function benchHostLoss(hasher: Hasher): void {
  const hashes = Uint32Array.from(makeKeys(KEYS, 5), (k) => hasher.hash32(k));
  const widths = [7, 8, 8, 10, 10, 16];
  process.stdout.write(`\n## host loss: % of ${KEYS.toLocaleString('en')} keys moved by one change, beside the ideal\n`);
  process.stdout.write(row(['table', 'N', 'change', 'moved %', 'ideal %', 'between staying'], widths) + '\n');
  for (const kind of ['ring', 'maglev'] as const) {
    const route = ROUTERS[kind](hasher);
    for (const n of SIZES) {
      const endpoints = makeEndpoints(n);
      const base = route(endpoints, hashes);
      const added = makeEndpoint(n + 1000);
      const removed = endpoints[Math.floor(n / 2)]!;
      const cases: [string, Endpoint[], string, number][] = [
        ['add', [...endpoints, added], added.id, 1 / (n + 1)],
        ['remove', endpoints.filter((e) => e !== removed), removed.id, 1 / n],
      ];
      for (const [change, next, changedId, ideal] of cases) {
        const after = route(next, hashes);
        let moved = 0;
        let between = 0;
        for (let i = 0; i < KEYS; i++) {
          if (base[i] === after[i]) continue;
          moved++;
          if (base[i] !== changedId && after[i] !== changedId) between++;
        }
        process.stdout.write(row([kind, n, change, ((moved / KEYS) * 100).toFixed(3), (ideal * 100).toFixed(3), between], widths) + '\n');
      }
    }
  }
}
