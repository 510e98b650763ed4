// A weighted route's destination and the request's session key, together. For a route with a
// session split (snapshot SessionSplit: several carrying destinations, at least one hashing) the
// destination comes from the deciding key by weighted rendezvous, so a session stays on one
// version; a request without that key on a route that mints gets its cookie minted first and the
// destination chosen from the minted value, so its very first response is already on the
// session's version. Requests with no key and nothing to mint are split at random, as Istio does.
import { selectRendezvous } from '../../balancing/rendezvous.js';
import type { RequestHead } from '../downstream/request-head.js';
import { selectDestination } from './route.js';
import type { RouteTarget, RuntimeRoute, RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { mintSessionKey, readRequestHashKey, readSessionKey, type SessionKey } from './sticky.js';

/** What the front half of a request needs: where it goes and the key it sticks by. */
export interface SessionTarget extends SessionKey {
  target: RouteTarget;
  /** for a value the split minted: whether another value keeps the same destination (drain and load redraw among those) */
  keeps?: ((key: string) => boolean) | null;
}

export function selectSessionTarget(rt: RuntimeSnapshot, route: RuntimeRoute, req: RequestHead): SessionTarget {
  const split = route.split;
  const maxKeyLength = rt.settings.maxKeyLength;
  if (split === null) {
    const target = selectDestination(route, rt.random);
    const { key, setCookie } = readSessionKey(target.subset, req, maxKeyLength);
    return { target, key, setCookie };
  }
  let value = readRequestHashKey(split.key, req, maxKeyLength);
  if (value !== null && split.pinSubset !== null) value = readPinSessionId(split.pinSubset, value);
  let minted = false;
  if (value === null) {
    if (!split.mints) {
      const target = selectDestination(route, rt.random);
      const { key, setCookie } = readSessionKey(target.subset, req, maxKeyLength);
      return { target, key, setCookie };
    }
    value = mintSessionKey();
    minted = true;
  }
  const i = selectRendezvous(split.table, rt.hasher.destinationHash32(value));
  const target = route.targets[i]!;
  const minter = minted ? split.minter[i]! : null;
  const setCookie = minter === null ? null : minter.setCookiePrefix + value + minter.setCookieSuffix;
  // a persistent subset's pin is issued by resolve-session.ts with this value as its session id
  if (target.subset.pins !== null) return { target, key: value, setCookie };
  if (split.sameKey[i]) {
    const table = split.table;
    const keeps = minted ? (v: string): boolean => selectRendezvous(table, rt.hasher.destinationHash32(v)) === i : null;
    return { target, key: value, setCookie, keeps };
  }
  // The chosen subset hashes on another key (or none): its own key when the request carries it,
  // else the deciding value, so the endpoint too stays put without a second cookie.
  const subset = target.subset;
  const own = subset.hashKey === null ? null : readRequestHashKey(subset.hashKey, req, maxKeyLength);
  return { target, key: subset.hashKey === null ? null : (own ?? value), setCookie };
}

/**
 * The session id of an authentic, unexpired pin (its endpoint may be gone), else null: a forged,
 * tampered or expired pin is a request without a session, and never chooses a version by its claims.
 */
function readPinSessionId(subset: RuntimeSubset, value: string): string | null {
  const pins = subset.pins!;
  return pins.cache.read(subset.id, pins.table, value, Math.floor(Date.now() / 1000)).sid;
}
