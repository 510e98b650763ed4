// A persistent-session subset's pins, compiled once per snapshot: the key ring (first signs, all
// verify), each endpoint's token under every key, and token -> endpoint maps, so a request only
// verifies a MAC and looks a token up. Nothing here depends on endpoint order: tokens come from
// endpoint ids, so every worker and every instance with the same key file reads a pin the same.
import type { Endpoint, PersistentSession } from '../snapshot/types.js';
import { buildEndpointToken, buildPinKey, signPin, verifyPin, type PinKey, type PinOutcome } from './pin.js';

export interface PinTable {
  readonly session: PersistentSession;
  readonly keys: ReadonlyMap<string, PinKey>;
  readonly signing: PinKey;
  /** key id -> (endpoint token -> index into the subset's endpoints) */
  readonly tokens: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** index -> the endpoint's token under the signing key */
  readonly signingTokens: readonly string[];
}

/** `secrets` are the key file's, base64url, first signs; at least one. */
export function buildPinTable(session: PersistentSession, endpoints: readonly Endpoint[], secrets: readonly string[]): PinTable {
  if (secrets.length === 0) throw new RangeError('persistent sessions need at least one session key');
  const list = secrets.map((s) => buildPinKey(Buffer.from(s, 'base64url')));
  const keys = new Map(list.map((k) => [k.id, k]));
  const tokens = new Map(list.map((k) => [k.id, new Map(endpoints.map((e, i) => [buildEndpointToken(k, session.scope, e.id), i]))]));
  const signing = list[0]!;
  return { session, keys, signing, tokens, signingTokens: endpoints.map((e) => buildEndpointToken(signing, session.scope, e.id)) };
}

/** Why a request's pin was or was not honoured: 'valid' and the first four of PinOutcome's failures, plus the endpoint's fate. */
export type PinReadOutcome = PinOutcome | 'endpoint-gone';

export interface PinRead {
  readonly outcome: PinReadOutcome;
  /** the pinned endpoint's index; -1 unless outcome is 'valid' */
  readonly index: number;
  /** the session id, kept across re-placement when the pin was authentic */
  readonly sid: string | null;
  readonly expiresAt: number;
  /** true when the pin was signed by a key other than the signing one (re-issue it) */
  readonly oldKey: boolean;
}

const REFUSED = (outcome: PinReadOutcome): PinRead => ({ outcome, index: -1, sid: null, expiresAt: 0, oldKey: false });

/**
 * Verifies `value` and finds its endpoint. Only an authentic, unexpired pin names an endpoint;
 * an authentic pin whose endpoint left the config keeps its session id (so a weighted route keeps
 * its destination) but is placed afresh.
 */
export function readPin(table: PinTable, value: string, nowSec: number): PinRead {
  const verdict = verifyPin(table.keys, table.session.scope, value, nowSec);
  if (verdict.outcome !== 'valid') return REFUSED(verdict.outcome);
  const c = verdict.claims;
  const index = table.tokens.get(c.keyId)?.get(c.token);
  const oldKey = c.keyId !== table.signing.id;
  if (index === undefined) return { outcome: 'endpoint-gone', index: -1, sid: c.sid, expiresAt: c.expiresAt, oldKey };
  return { outcome: 'valid', index, sid: c.sid, expiresAt: c.expiresAt, oldKey };
}

/** A new pin for session `sid` on endpoint `index`, valid for the session's lifetime from now. */
export function issuePin(table: PinTable, sid: string, index: number, nowSec: number): { value: string; expiresAt: number } {
  const expiresAt = nowSec + table.session.lifetimeSec;
  return { value: signPin(table.signing, table.session.scope, sid, table.signingTokens[index]!, expiresAt), expiresAt };
}

/** Sliding expiry: re-issue once half the lifetime is used, or when an older key signed it. */
export function pinNeedsRefresh(table: PinTable, read: Pick<PinRead, 'expiresAt' | 'oldKey'>, nowSec: number): boolean {
  return read.oldKey || read.expiresAt - nowSec < table.session.lifetimeSec / 2;
}
