// Persistent-session pins: the cookie (or header) value that says which endpoint a session is on,
// signed so it cannot be forged. Envoy's stateful session cookie is base64 of the backend's
// `ip:port`: anyone can write one that routes to any backend, and it reveals the address. A pin
// here carries the session id, the signing key's id, an opaque endpoint token (an HMAC of the
// endpoint's identity under the key: it reveals nothing and cannot be made without the key), an
// absolute expiry the proxy enforces, and an HMAC-SHA256 over all of that and its scope.
//
//   <sid>.<key id>.<endpoint token>.<expiry, unix seconds>.<mac>
//
// Every part is [0-9A-Za-z_-], so a pin is a valid RFC 6265 cookie value and a safe header value.
// Pure: node:crypto only; the worker builds PinKeys and token tables once per snapshot.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** One key of a session key file: `secret` signs and verifies, `id` names it inside pins. */
export interface PinKey {
  readonly id: string;
  readonly secret: Buffer;
}

/** MAC bytes kept in the pin: 128 bits, as for HMAC-SHA256-128 (RFC 4868 §2.6). */
const MAC_BYTES = 16;
/** endpoint token bytes: 96 bits, so no two endpoints of a subset ever share one */
const TOKEN_BYTES = 12;
const KEY_ID_CHARS = 8;
const SID = /^[0-9a-f]{32}$/;

/** Whether `s` has the form of a pin's session id (32 lower-case hex digits, as minted session keys are). */
export function isSessionId(s: string): boolean {
  return SID.test(s);
}
const KEY_ID = /^[0-9A-Za-z_-]{8}$/;
const TOKEN = /^[0-9A-Za-z_-]{16}$/;
const EXPIRY = /^[1-9][0-9]{0,11}$/;
const MAC = /^[0-9A-Za-z_-]{22}$/;
/** sid 32 + key id 8 + token 16 + expiry up to 12 + mac 22 + 4 dots */
export const MAX_PIN_LENGTH = 94;

/** The key's id: derived from the secret, so every instance given the same file agrees on it. */
export function buildPinKey(secret: Buffer): PinKey {
  const id = createHash('sha256').update('stickyd pin key id\0').update(secret).digest('base64url').slice(0, KEY_ID_CHARS);
  return { id, secret };
}

/**
 * The endpoint's token under `key`. `scope` names what the session belongs to (the cookie or
 * header name and the service host), so a pin made for one service means nothing for another.
 */
export function buildEndpointToken(key: PinKey, scope: string, endpointId: string): string {
  return createHmac('sha256', key.secret).update(`stickyd pin endpoint\0${scope}\0${endpointId}`).digest().subarray(0, TOKEN_BYTES).toString('base64url');
}

export interface PinClaims {
  /** the session id: 32 hex digits, stable across re-issues (a weighted route's deciding key) */
  readonly sid: string;
  readonly keyId: string;
  readonly token: string;
  /** unix seconds */
  readonly expiresAt: number;
}

export function signPin(key: PinKey, scope: string, sid: string, token: string, expiresAt: number): string {
  const body = `${sid}.${key.id}.${token}.${expiresAt}`;
  return `${body}.${mac(key, scope, body)}`;
}

export type PinOutcome = 'valid' | 'malformed' | 'unknown-key' | 'bad-mac' | 'expired';

export type PinVerdict = { readonly outcome: 'valid'; readonly claims: PinClaims } | { readonly outcome: Exclude<PinOutcome, 'valid'>; readonly claims: null };

/**
 * Checks a pin as received; anything but 'valid' must be treated as no pin at all. The shape is
 * checked before any MAC is computed, the MAC before the expiry is believed, and the comparison
 * takes the same time wherever the first differing byte is.
 */
export function verifyPin(keys: ReadonlyMap<string, PinKey>, scope: string, value: string, nowSec: number): PinVerdict {
  if (value.length > MAX_PIN_LENGTH) return { outcome: 'malformed', claims: null };
  const parts = value.split('.');
  if (parts.length !== 5) return { outcome: 'malformed', claims: null };
  const [sid, keyId, token, expiry, got] = parts as [string, string, string, string, string];
  if (!SID.test(sid) || !KEY_ID.test(keyId) || !TOKEN.test(token) || !EXPIRY.test(expiry) || !MAC.test(got)) return { outcome: 'malformed', claims: null };
  const key = keys.get(keyId);
  if (key === undefined) return { outcome: 'unknown-key', claims: null };
  // Compared as text, not decoded: the last base64url character carries 4 unused bits, and a
  // decoded comparison would accept 16 spellings of one MAC.
  const expected = Buffer.from(mac(key, scope, value.slice(0, value.length - got.length - 1)), 'latin1');
  const received = Buffer.from(got, 'latin1');
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) return { outcome: 'bad-mac', claims: null };
  const expiresAt = Number(expiry);
  if (expiresAt <= nowSec) return { outcome: 'expired', claims: null };
  return { outcome: 'valid', claims: { sid, keyId, token, expiresAt } };
}

function mac(key: PinKey, scope: string, body: string): string {
  return createHmac('sha256', key.secret).update(`stickyd pin v1\0${scope}\0${body}`).digest().subarray(0, MAC_BYTES).toString('base64url');
}
