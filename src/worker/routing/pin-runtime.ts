// A persistent-session subset's per-snapshot pin state (built in runtime-snapshot.ts, read by
// persistent-session.ts): a leaf, so the runtime snapshot holds it without importing the select side.
import type { HashKey } from '../../snapshot/types.js';
import type { PinCache } from '../../session/pin-cache.js';
import type { PinTable } from '../../session/pin-table.js';

/** What a persistent subset needs, built once per snapshot (RuntimeSubset.pins). */
export interface PinRuntime {
  readonly table: PinTable;
  readonly cache: PinCache;
  /** the cookie or header the pin travels in, as a hash key to read it with */
  readonly carrier: HashKey;
  /** the subset's own hash key when it differs from the pin's carrier: new sessions hash on it when present */
  readonly placeBy: HashKey | null;
  /** Set-Cookie halves (cookie form): prefix + value + suffix */
  readonly cookiePrefix: string;
  readonly cookieSuffix: string;
}

