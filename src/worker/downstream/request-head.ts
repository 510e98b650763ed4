// The few facts routing and key extraction read from a request, behind a minimal interface that an
// IncomingMessage satisfies and a plain object can fake, so route.ts and sticky.ts are testable
// without a socket.
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestHead {
  readonly method?: string | undefined;
  /** origin-form target as received: path plus optional "?query" */
  readonly url?: string | undefined;
  /** lower-case names; Node joins most duplicates with ", " and Cookie with "; " */
  readonly headers: IncomingHttpHeaders;
  /** name/value pairs as received; consulted only to find the first of several header lines */
  readonly rawHeaders?: readonly string[] | undefined;
  readonly socket?: { readonly remoteAddress?: string | undefined } | undefined;
}

/**
 * The request host as routing sees it: Host header, lower-case, port stripped, IPv6 literals
 * kept in brackets ("[::1]:8080" -> "[::1]"). "" when absent.
 */
export function readRequestHost(headers: IncomingHttpHeaders): string {
  const raw = headers.host;
  if (raw === undefined || raw === '') return '';
  let end = raw.length;
  if (raw.charCodeAt(0) === 0x5b /* [ */) {
    const close = raw.indexOf(']');
    if (close !== -1) end = close + 1;
  } else {
    // by hand, not lastIndexOf: that is a call into V8's runtime, and this runs for every request
    // (bench/RESULTS.md, Attempts)
    for (let i = raw.length - 1; i >= 0; i--) {
      if (raw.charCodeAt(i) === 0x3a /* : */) {
        end = i;
        break;
      }
    }
  }
  const host = end === raw.length ? raw : raw.slice(0, end);
  return host.toLowerCase();
}

/** The path of a request target without its query string. */
export function readRequestPath(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The query string after "?" (without it), "" when none. */
export function readRequestQuery(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? '' : url.slice(q + 1);
}

/**
 * The first value of query parameter `name` (form-decoded: "+" is a space), or null when absent
 * or not decodable. Scans instead of building URLSearchParams: most requests ask for one name.
 */
export function findQueryParam(query: string, name: string): string | null {
  let i = 0;
  const n = query.length;
  while (i <= n) {
    let end = query.indexOf('&', i);
    if (end === -1) end = n;
    const eq = query.indexOf('=', i);
    const nameEnd = eq !== -1 && eq < end ? eq : end;
    if (decodeComponent(query.slice(i, nameEnd)) === name) {
      return nameEnd === end ? '' : decodeComponent(query.slice(nameEnd + 1, end));
    }
    i = end + 1;
  }
  return null;
}

function decodeComponent(s: string): string | null {
  if (s.indexOf('%') === -1 && s.indexOf('+') === -1) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return null;
  }
}

/** "::ffff:1.2.3.4" -> "1.2.3.4", so a client hashes the same whether it arrived over v4 or a dual-stack socket. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.indexOf('.') !== -1 ? address.slice(7) : address;
}
