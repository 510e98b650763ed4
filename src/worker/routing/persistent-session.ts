// A persistent-session subset's request: honour a valid pin, else place the session afresh and
// pin it (session/pin.ts). A pin is believed only once its MAC verified under a key of the key
// file (or the verified-pin cache says this worker verified that exact text before) and its
// expiry has not passed; anything else is treated as no pin at all, so a forged, tampered,
// truncated, expired or unknown-key value can never route a request by what it claims.
import type { PinOutcomeLabel } from '../../protocol.js';
import { isSessionId } from '../../session/pin.js';
import { issuePin, pinNeedsRefresh, type PinRead } from '../../session/pin-table.js';
import type { PinRuntime } from './pin-runtime.js';
import { buildNewSessionMask, selectNewSessionEndpoint } from './placement.js';
import type { RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { mintSessionKey, readRequestHashKey } from './sticky.js';
import type { RequestHead } from '../downstream/request-head.js';

const OUTCOME_LABEL: Readonly<Record<PinRead['outcome'], PinOutcomeLabel>> = {
  valid: 'valid', malformed: 'malformed', 'unknown-key': 'unknown_key', 'bad-mac': 'bad_mac', expired: 'expired', 'endpoint-gone': 'endpoint_gone',
};

export interface PinnedRequest {
  /** the endpoint, -1 when none is available */
  readonly index: number;
  /** the session id: the key retries walk by and the access log hashes */
  readonly sid: string;
  readonly outcome: PinOutcomeLabel;
  /** a new or refreshed pin to send back, else null */
  readonly pin: string | null;
}

/** Reads, checks and (when needed) re-issues the request's pin. `down` is the subset's health mask. */
export function resolvePin(
  rt: RuntimeSnapshot,
  subset: RuntimeSubset,
  pins: PinRuntime,
  req: RequestHead,
  down: Uint8Array | null,
  nowSec: number,
  /** the session id a new pin takes when the request carries no authentic one (a weighted split's), else minted */
  splitSid: string | null = null,
): PinnedRequest {
  const value = readRequestHashKey(pins.carrier, req, rt.settings.maxKeyLength);
  let outcome: PinOutcomeLabel = 'absent';
  let sid: string | null = null;
  if (value !== null) {
    const read = pins.cache.read(subset.id, pins.table, value, nowSec);
    outcome = OUTCOME_LABEL[read.outcome];
    if (read.outcome === 'valid') {
      // the pinned endpoint, while it is in the config and healthy: draining and load never move it
      if (down === null || down[read.index] === 0) {
        const pin = pinNeedsRefresh(pins.table, read, nowSec) ? issuePin(pins.table, read.sid!, read.index, nowSec).value : null;
        return { index: read.index, sid: read.sid!, outcome, pin };
      }
      outcome = 'endpoint_unavailable';
    }
    // an authentic pin keeps its session id when its endpoint is gone (a weighted route's key)
    sid = read.sid;
  }
  sid ??= splitSid !== null && isSessionId(splitSid) ? splitSid : mintSessionKey();
  const placeKey = (pins.placeBy === null ? null : readRequestHashKey(pins.placeBy, req, rt.settings.maxKeyLength)) ?? sid;
  const index = selectNewSessionEndpoint(rt, subset, placeKey, buildNewSessionMask(subset, down));
  return { index, sid, outcome, pin: index < 0 ? null : issuePin(pins.table, sid, index, nowSec).value };
}

/** The Set-Cookie line for a pin (cookie form). */
export function buildPinCookie(pins: PinRuntime, pin: string): string {
  return pins.cookiePrefix + pin + pins.cookieSuffix;
}

/** What a response says about its session: our Set-Cookie line (cookie form) or header-form pin. */
export interface SessionReply {
  readonly setCookie: string | null;
  readonly sessionHeader: readonly [string, string] | null;
}

/**
 * The pin for a response that came from another endpoint than the one the request was routed to
 * (a retry moved it: the pinned endpoint refused the connection, reset or timed out): the session
 * now lives where it was answered, so it is pinned there. Envoy's cookie session state does the
 * same: when the host that answered is not the cookie's, the cookie is rewritten to it.
 */
export function buildMovedPin(pins: PinRuntime, sid: string, index: number, nowSec: number): SessionReply {
  const pin = issuePin(pins.table, sid, index, nowSec).value;
  if (pins.carrier.kind === 'header') return { setCookie: null, sessionHeader: [pins.carrier.name, pin] };
  return { setCookie: buildPinCookie(pins, pin), sessionHeader: null };
}
