// Request + destination subset -> its session and endpoint, for every front end alike (HTTP/1.1,
// HTTP/2, WebSocket): a persistent subset's pin (persistent-session.ts), else the hash key the
// policy names (existing keys go where the table says; minted ones only where a new session may
// go: placement.ts), else the subset's picker, which avoids draining and unhealthy endpoints.
import type { RequestHead } from '../downstream/request-head.js';
import type { SessionUse } from '../telemetry/access-log.js';
import type { PinOutcomeLabel } from '../../protocol.js';
import { buildPinCookie, resolvePin } from './persistent-session.js';
import { buildNewSessionMask, isUnrestricted, mintPlacedKey, mintPlacedSplitKey, selectNewSessionEndpoint } from './placement.js';
import type { RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { selectEndpoint } from './select-endpoint.js';
import { readRequestHashKey, type SessionKey } from './sticky.js';

export interface ResolvedSession {
  /** endpoint index, -1 when no endpoint is available */
  readonly index: number;
  /** the session key (a pin's session id), null for keyless requests: retries walk by it */
  readonly key: string | null;
  /** our Set-Cookie line (a minted cookie or a new pin), else null */
  readonly setCookie: string | null;
  /** a header-form pin to send back as [name, value], else null */
  readonly sessionHeader: readonly [string, string] | null;
  /** the access log's `session` */
  readonly use: SessionUse;
  /** a persistent subset's pin outcome, else null (counted by the caller's observation) */
  readonly pin: PinOutcomeLabel | null;
  /** hash32 of `key` when routing computed it (an existing hash key), so the access log need not; absent otherwise */
  readonly keyHash?: number;
}

const NO_SESSION = { setCookie: null, sessionHeader: null, pin: null } as const;

export function resolveSession(
  rt: RuntimeSnapshot,
  subset: RuntimeSubset,
  req: RequestHead,
  down: Uint8Array | null,
  /** the clock for pin expiry; read only for a persistent subset (absent: now) */
  nowMs?: number,
  split: (SessionKey & { keeps?: ((key: string) => boolean) | null }) | null = null,
): ResolvedSession {
  const pins = subset.pins;
  if (split !== null && pins === null && split.key !== null) {
    // A weighted split chose the destination by this key (session-split.ts), minting it first when
    // the request had none: the endpoint follows the same key. A value the split minted is redrawn
    // for drain and bounded load only among values that keep its destination.
    if (split.setCookie === null) return { index: selectEndpoint(rt, subset, split.key, down), key: split.key, use: 'reused', ...NO_SESSION };
    if (split.keeps == null || isUnrestricted(subset.placement)) {
      return { index: selectEndpoint(rt, subset, split.key, down), key: split.key, setCookie: split.setCookie, sessionHeader: null, use: 'minted', pin: null };
    }
    const placed = mintPlacedSplitKey(rt, subset, down, buildNewSessionMask(subset, down), split.key, split.keeps);
    const setCookie = placed.key === split.key ? split.setCookie : split.setCookie.replace(split.key, placed.key);
    return { index: placed.index, key: placed.key, setCookie, sessionHeader: null, use: 'minted', pin: null };
  }
  if (pins !== null) {
    // on a split route the session id decided the version (session-split.ts): a new pin keeps it
    const r = resolvePin(rt, subset, pins, req, down, Math.floor((nowMs ?? Date.now()) / 1000), split?.key ?? null);
    const fresh = r.outcome !== 'valid';
    const use: SessionUse = fresh ? (r.outcome === 'absent' ? 'minted' : 'repinned') : r.pin !== null ? 'refreshed' : 'pinned';
    if (r.pin === null) return { index: r.index, key: r.sid, setCookie: null, sessionHeader: null, use, pin: r.outcome };
    if (pins.carrier.kind === 'header') return { index: r.index, key: r.sid, setCookie: null, sessionHeader: [pins.carrier.name, r.pin], use, pin: r.outcome };
    return { index: r.index, key: r.sid, setCookie: buildPinCookie(pins, r.pin), sessionHeader: null, use, pin: r.outcome };
  }
  const hashKey = subset.hashKey;
  if (hashKey === null) {
    const index = selectKeyless(rt, subset, down);
    return { index, key: null, use: 'none', ...NO_SESSION };
  }
  const key = readRequestHashKey(hashKey, req, rt.settings.maxKeyLength);
  if (key !== null) {
    // hashed once: the endpoint table and the access log's sessionKeyHash both take this value
    const keyHash = rt.hasher.hash32(key);
    return { index: selectEndpoint(rt, subset, key, down, keyHash), key, keyHash, use: 'reused', ...NO_SESSION };
  }
  if (!subset.mintsCookie) {
    // keyless traffic of a hash subset: the picker, avoiding what new sessions avoid
    const index = selectKeyless(rt, subset, down);
    return { index, key: null, use: 'none', ...NO_SESSION };
  }
  const placed = mintPlacedKey(rt, subset, down, buildNewSessionMask(subset, down));
  return { index: placed.index, key: placed.key, setCookie: subset.setCookiePrefix + placed.key + subset.setCookieSuffix, sessionHeader: null, use: 'minted', pin: null };
}

/** A request without a session key: the picker, avoiding what new sessions avoid (drain, load). */
function selectKeyless(rt: RuntimeSnapshot, subset: RuntimeSubset, down: Uint8Array | null): number {
  if (isUnrestricted(subset.placement)) return selectEndpoint(rt, subset, null, down);
  return selectNewSessionEndpoint(rt, subset, null, buildNewSessionMask(subset, down));
}
