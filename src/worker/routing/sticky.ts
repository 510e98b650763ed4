// Session keys: extract the hash key a subset's policy names (cookie, header, source IP, query
// parameter), mint a fresh cookie value when the policy asks for one, and the Set-Cookie text.
// A key that is malformed or oversized counts as absent, so it is replaced, never trusted.
import { randomFillSync } from 'node:crypto';
import type { HashKey } from '../../snapshot/types.js';
import { findQueryParam, normaliseAddress, readRequestQuery, type RequestHead } from '../downstream/request-head.js';

/** Minted session values carry 128 random bits (hex), as unguessable as a v4 UUID and then some. */
export const SESSION_KEY_BYTES = 16;
/**
 * Random bytes fetched per refill: 256 keys. One randomFillSync per 256 mints measured ~100 ns per
 * key against ~2.4 us for randomBytes(16) per key (Node 20, this VM).
 */
const MINT_POOL_BYTES = 4096;
const mintPool = Buffer.alloc(MINT_POOL_BYTES);
let mintOffset = MINT_POOL_BYTES;

/** A new unguessable session key: 32 lower-case hex characters. */
export function mintSessionKey(): string {
  if (mintOffset + SESSION_KEY_BYTES > MINT_POOL_BYTES) {
    randomFillSync(mintPool);
    mintOffset = 0;
  }
  const key = mintPool.toString('hex', mintOffset, mintOffset + SESSION_KEY_BYTES);
  mintOffset += SESSION_KEY_BYTES;
  return key;
}

/** The hash key `key` selects from `req`, or null when absent, empty, oversized or malformed. */
export function readRequestHashKey(key: HashKey, req: RequestHead, maxKeyLength: number): string | null {
  switch (key.kind) {
    case 'cookie': {
      const header = req.headers.cookie;
      if (header === undefined) return null;
      return findCookie(header, key.name, maxKeyLength);
    }
    case 'header': {
      const value = readFirstHeaderValue(req, key.name);
      return value !== null && value !== '' && value.length <= maxKeyLength ? value : null;
    }
    case 'sourceIp': {
      const address = req.socket?.remoteAddress;
      return address === undefined || address === '' ? null : normaliseAddress(address);
    }
    case 'query': {
      const value = findQueryParam(readRequestQuery(req.url ?? ''), key.name);
      return value !== null && value !== '' && Buffer.byteLength(value) <= maxKeyLength ? value : null;
    }
  }
}

/**
 * The value of the first cookie called `name` in a Cookie header (Node joins several Cookie lines
 * with "; "), with one pair of surrounding double quotes removed; null when there is none.
 * Browsers send the most specific path first, so the first occurrence is the one to honour.
 * With `maxKeyLength`, occurrences that are empty, oversized or not RFC 6265 cookie-octets are
 * skipped (the first *valid* value: docs/reliability.md, Duplicate cookies), so garbage never reaches the hash.
 */
/** What a subset needs to find or mint a session key (a RuntimeSubset has these, precomputed). */
export interface SessionPolicy {
  readonly hashKey: HashKey | null;
  readonly mintsCookie: boolean;
  readonly setCookiePrefix: string;
  readonly setCookieSuffix: string;
}

/** The request's session key, or a freshly minted one with its Set-Cookie line; key null = no hash. */
export interface SessionKey {
  key: string | null;
  setCookie: string | null;
}

/** Shared by plain requests and WebSocket upgrades, so both stick by the same rules. */
export function readSessionKey(policy: SessionPolicy, req: RequestHead, maxKeyLength: number): SessionKey {
  if (policy.hashKey === null) return { key: null, setCookie: null };
  const key = readRequestHashKey(policy.hashKey, req, maxKeyLength);
  if (key !== null || !policy.mintsCookie) return { key, setCookie: null };
  const minted = mintSessionKey();
  return { key: minted, setCookie: policy.setCookiePrefix + minted + policy.setCookieSuffix };
}

export function findCookie(header: string, name: string, maxKeyLength?: number): string | null {
  const n = header.length;
  let i = 0;
  while (i < n) {
    while (i < n && isSpace(header.charCodeAt(i))) i++;
    let end = header.indexOf(';', i);
    if (end === -1) end = n;
    const eq = header.indexOf('=', i);
    if (eq !== -1 && eq < end) {
      let nameEnd = eq;
      while (nameEnd > i && isSpace(header.charCodeAt(nameEnd - 1))) nameEnd--;
      if (nameEnd - i === name.length && header.startsWith(name, i)) {
        let vs = eq + 1;
        let ve = end;
        while (vs < ve && isSpace(header.charCodeAt(vs))) vs++;
        while (ve > vs && isSpace(header.charCodeAt(ve - 1))) ve--;
        if (ve - vs >= 2 && header.charCodeAt(vs) === 0x22 && header.charCodeAt(ve - 1) === 0x22) {
          vs++;
          ve--;
        }
        if (maxKeyLength === undefined) return header.slice(vs, ve);
        // Oversized values are skipped before slicing: a 4 KB cookie never gets copied.
        if (ve - vs <= maxKeyLength) {
          const value = header.slice(vs, ve);
          if (isValidCookieValue(value, maxKeyLength)) return value;
        }
      }
    }
    i = end + 1;
  }
  return null;
}

/**
 * RFC 6265 cookie-octet: printable ASCII 0x21-0x7E except `"` `,` `;` `\`. A regular expression,
 * not a charCodeAt loop: with it the whole cookie lookup cost about a third less, 126-128 against
 * 178-193 ns (bench/micro/cookie-ab.mjs; bench/RESULTS.md, Attempts).
 */
const COOKIE_OCTETS = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;

/** A value made only of cookie-octets, non-empty and within the bound. */
export function isValidCookieValue(value: string, maxKeyLength: number): boolean {
  return value.length !== 0 && value.length <= maxKeyLength && COOKIE_OCTETS.test(value);
}

/**
 * The first line's value of header `name` (lower-case). Node joins repeated custom headers with
 * ", "; a value without a comma is a single line, so rawHeaders is scanned only when needed.
 */
function readFirstHeaderValue(req: RequestHead, name: string): string | null {
  const value = req.headers[name];
  if (value === undefined) return null;
  if (typeof value !== 'string') return value[0] ?? null;
  const raw = req.rawHeaders;
  if (value.indexOf(',') === -1 || raw === undefined) return value;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const rawName = raw[i]!;
    if (rawName.length === name.length && rawName.toLowerCase() === name) return raw[i + 1]!;
  }
  return value;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
