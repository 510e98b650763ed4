// The Set-Cookie stickyd writes for a cookie it mints, and what that does to a response's caching.
// One place for both, so every cookie stickyd mints (hash-mode session cookies, and persistent
// session pins) carries the same attributes and the same protection from shared caches.
import type { CookieAttribute } from '../../snapshot/types.js';

/** Precomputed Set-Cookie halves: the line is prefix + value + suffix. */
export interface SetCookieParts {
  readonly prefix: string;
  readonly suffix: string;
}

/**
 * `<name>=<value>; Path=<path>; Max-Age=<ttl>[; <attribute>[=<value>]...]; HttpOnly`; ttl 0 is a
 * session cookie (no Max-Age). `attributes` are DestinationRule httpCookie.attributes, checked by
 * config/validate/load-balancer.ts (no clash with Path or Max-Age, cookie-safe values; HttpOnly,
 * always set, is not repeated).
 */
export function buildSetCookieParts(name: string, path: string, ttlSec: number, attributes: readonly CookieAttribute[] = []): SetCookieParts {
  const maxAge = ttlSec > 0 ? `; Max-Age=${ttlSec}` : '';
  let extra = '';
  for (const a of attributes) {
    if (a.name.toLowerCase() === 'httponly') continue;
    extra += a.value === '' ? `; ${a.name}` : `; ${a.name}=${a.value}`;
  }
  return { prefix: `${name}=`, suffix: `; Path=${path}${maxAge}${extra}; HttpOnly` };
}

/**
 * The Cache-Control a response carrying a cookie stickyd minted leaves with, from the backend's
 * own values (null: it sent none), or null to leave the backend's as they are. A shared cache
 * that stored such a response would hand the session to everyone after (HAProxy's `cookie ...
 * nocache` guards against the same). Already safe: `no-store`, `private`, or `private` naming
 * `set-cookie`. Otherwise `private` is put first and what only shared caches read (`public`,
 * `s-maxage`, `proxy-revalidate`) is dropped; the browser's own directives (max-age, no-cache,
 * must-revalidate, ...) stay.
 */
export function buildPrivateCacheControl(values: readonly string[] | null): string | null {
  if (values === null || values.length === 0) return 'private';
  const kept: string[] = [];
  for (const directive of splitDirectives(values.join(','))) {
    const eq = directive.indexOf('=');
    const name = (eq === -1 ? directive : directive.slice(0, eq)).trim().toLowerCase();
    const arg = eq === -1 ? null : directive.slice(eq + 1).trim().replace(/^"|"$/g, '').toLowerCase();
    if (name === 'no-store') return null;
    if (name === 'private' && (arg === null || arg.split(',').some((f) => f.trim() === 'set-cookie'))) return null;
    if (name === '' || name === 'public' || name === 's-maxage' || name === 'proxy-revalidate' || name === 'private') continue;
    kept.push(directive.trim());
  }
  return ['private', ...kept].join(', ');
}

/** Directives separated by commas outside quoted strings (RFC 9110 §5.6.1, §5.6.4). */
function splitDirectives(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (c === 0x5c && quoted) i++;
    else if (c === 0x2c && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.filter((d) => d.trim() !== '');
}
