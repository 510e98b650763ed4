// Header rewriting at the proxy hop, both directions. RFC 9110 §7.6.1: an intermediary removes
// every hop-by-hop field and every field the Connection header names. Work on rawHeaders so
// repeated lines (Set-Cookie above all) stay separate lines and names keep their case.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { buildPrivateCacheControl } from './set-cookie.js';

/**
 * RFC 9110 §7.6.1 plus the legacy Keep-Alive / Proxy-Connection and the proxy-auth pair, and
 * HTTP2-Settings (RFC 7540 §3.2.1: connection-specific, and only ever sent with an h2c upgrade,
 * which stickyd never forwards: upgrade-policy.ts). A WebSocket upgrade re-adds its own Upgrade.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'http2-settings',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Set by stickyd itself on the upstream request: from an untrusted peer, client-sent values are
 * dropped (edge proxy, Envoy use_remote_address). `Forwarded` (RFC 7239) carries the same claims.
 * `Expect: 100-continue` is answered on the client hop (handle-request.ts sends the 100 once the
 * request is routed); the upstream client streams the body as it comes, and undici refuses the
 * header outright.
 */
const REQUEST_OWNED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'forwarded', 'expect', 'x-forwarded-client-cert'];
/**
 * From a trusted peer (settings.trustedProxies) its forwarding headers are kept; XFF is appended to.
 * X-Forwarded-Client-Cert never is: a client identity reaches a backend only as stickyd verified
 * it on this connection (Envoy's SANITIZE / SANITIZE_SET).
 */
const REQUEST_OWNED_TRUSTED = ['x-forwarded-for', 'x-request-id', 'expect', 'x-forwarded-client-cert'];

/** Set by stickyd on the client response. */
const RESPONSE_OWNED = ['x-request-id'];

/** What a hop drops, hop-by-hop and owned names in one set: one lookup per header line, not two. */
const DROP_REQUEST = new Set([...HOP_BY_HOP, ...REQUEST_OWNED]);
const DROP_REQUEST_TRUSTED = new Set([...HOP_BY_HOP, ...REQUEST_OWNED_TRUSTED]);
const DROP_RESPONSE = new Set([...HOP_BY_HOP, ...RESPONSE_OWNED]);

/**
 * Bit (c & 31) of MAY_DROP[n] is set when some dropped name has length n and first character c;
 * `& 31` folds a letter's case. A header line whose name sets no bit (Host, Cookie, Content-Type,
 * Content-Length, Server, Date...) is copied without a lower-cased copy of its name or a Set lookup,
 * both of which showed in the profile (bench/RESULTS.md, Attempts); a false positive only costs
 * the full check. Built from all three sets and sized by their longest name, so a name added to
 * any of them is dropped without touching this.
 */
const DROPPED = [...DROP_REQUEST, ...DROP_REQUEST_TRUSTED, ...DROP_RESPONSE];
const MAY_DROP = new Uint32Array(Math.max(...DROPPED.map((n) => n.length)) + 1);
for (const n of DROPPED) MAY_DROP[n.length]! |= 1 << (n.charCodeAt(0) & 31);

function mayDrop(name: string): boolean {
  return name.length < MAY_DROP.length && (MAY_DROP[name.length]! & (1 << (name.charCodeAt(0) & 31))) !== 0;
}

/** Lower-case names listed in a Connection header; null when there are none beyond hop-by-hop ones. */
function parseConnectionTokens(connection: string | undefined): string[] | null {
  // the common values, without splitting: every keep-alive response carries one of them
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return null;
  let names: string[] | null = null;
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || HOP_BY_HOP.has(name)) continue;
    (names ??= []).push(name);
  }
  return names;
}

/**
 * `drop`: the lower-case names never copied (one of the DROP_* sets).
 * `dropUnderscores`: request names with "_" are dropped (nginx's underscores_in_headers off), so
 * `X_Forwarded_For` cannot reach a CGI-style backend as HTTP_X_FORWARDED_FOR (docs/reliability.md).
 */
function copyEndToEnd(raw: readonly string[], connection: string | undefined, drop: ReadonlySet<string>, out: string[], dropUnderscores = false): boolean {
  const nominated = parseConnectionTokens(connection);
  let sawHost = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (mayDrop(name) && drop.has(name.toLowerCase())) continue;
    if (dropUnderscores && name.indexOf('_') !== -1) continue;
    if (nominated !== null && nominated.includes(name.toLowerCase())) continue;
    if (name.length === 4 && (name.charCodeAt(0) | 0x20) === 0x68 /* h */ && name.toLowerCase() === 'host') sawHost = true;
    out.push(name, raw[i + 1]!);
  }
  return sawHost;
}

export interface ForwardFacts {
  readonly clientAddress: string;
  readonly requestId: string;
  /** Host for a request that came without one (HTTP/1.0): the destination service host */
  readonly fallbackHost: string;
  /** the peer is a trusted proxy: keep its X-Forwarded-* and append to X-Forwarded-For */
  readonly trustedPeer: boolean;
  /** the client connection is TLS: X-Forwarded-Proto https */
  readonly encrypted?: boolean;
  /** the verified client certificate in Envoy's XFCC format, when --forward-client-cert is on */
  readonly clientCert?: string | null;
}

/**
 * Upstream request headers as a flat [name, value, ...] list: end-to-end headers as received
 * (Host untouched), then X-Forwarded-For/Proto/Host and X-Request-Id. stickyd's own names are
 * lower-case, as Envoy sends every name on HTTP/1.1: undici's table of known header names
 * (node_modules/undici/lib/core/constants.js) has none of these four, so for a mixed-case name it
 * lower-cases a fresh copy and looks that up in V8's string table, on every request
 * (bench/RESULTS.md, Attempts).
 */
export function buildUpstreamHeaders(req: IncomingMessage, facts: ForwardFacts): string[] {
  const headers: IncomingHttpHeaders = req.headers;
  const out: string[] = [];
  const trusted = facts.trustedPeer;
  const sawHost = copyEndToEnd(req.rawHeaders, headers.connection, trusted ? DROP_REQUEST_TRUSTED : DROP_REQUEST, out, true);
  if (!sawHost) out.push('Host', facts.fallbackHost);
  // A chunked request body is framed on our hop by the upstream client itself: undici sends
  // Transfer-Encoding: chunked for a body of unknown length and refuses the header from callers.
  const priorFor = trusted ? headers['x-forwarded-for'] : undefined;
  out.push('x-forwarded-for', priorFor === undefined || priorFor === '' ? facts.clientAddress : `${priorFor}, ${facts.clientAddress}`);
  if (!trusted || headers['x-forwarded-proto'] === undefined) out.push('x-forwarded-proto', facts.encrypted === true ? 'https' : 'http');
  if (headers.host !== undefined && (!trusted || headers['x-forwarded-host'] === undefined)) out.push('x-forwarded-host', headers.host);
  out.push('x-request-id', facts.requestId);
  if (facts.clientCert !== undefined && facts.clientCert !== null) out.push('x-forwarded-client-cert', facts.clientCert);
  return out;
}

/**
 * A response carrying a cookie stickyd minted must not be stored by a shared cache and replayed to
 * others: Cache-Control (and CDN-Cache-Control, RFC 9213, which a CDN reads instead when present)
 * tightened to private unless the backend already forbids shared storing (set-cookie.ts).
 */
function keepFromSharedCaches(out: string[]): void {
  for (const header of ['cache-control', 'cdn-cache-control']) {
    let values: string[] | null = null;
    for (let i = 0; i < out.length; i += 2) {
      if (out[i]!.length !== header.length || out[i]!.toLowerCase() !== header) continue;
      (values ??= []).push(out[i + 1]!);
    }
    if (values === null && header === 'cdn-cache-control') continue;
    const merged = buildPrivateCacheControl(values);
    if (merged === null) continue;
    for (let i = out.length - 2; i >= 0; i -= 2) {
      if (out[i]!.length === header.length && out[i]!.toLowerCase() === header) out.splice(i, 2);
    }
    out.push(header === 'cache-control' ? 'Cache-Control' : 'CDN-Cache-Control', merged);
  }
}

/**
 * Client response headers from the upstream's raw [name, value, ...] list (undici's, as latin1
 * strings): its end-to-end headers (every Set-Cookie line kept), then X-Request-Id, stickyd's own
 * Set-Cookie as a separate line (with Cache-Control kept private), and Connection: close when asked.
 * `sessionHeader`: the caller adds a header-form pin, which a shared cache must not replay either.
 */
export function buildClientHeaders(raw: readonly string[], requestId: string, setCookie: string | null, close: boolean, sessionHeader = false): string[] {
  let connection: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && (name.charCodeAt(0) | 0x20) === 0x63 /* c */ && name.toLowerCase() === 'connection') connection = connection === undefined ? raw[i + 1]! : `${connection}, ${raw[i + 1]!}`;
  }
  const out: string[] = [];
  copyEndToEnd(raw, connection, DROP_RESPONSE, out);
  out.push('X-Request-Id', requestId);
  if (setCookie !== null) out.push('Set-Cookie', setCookie);
  if (setCookie !== null || sessionHeader) keepFromSharedCaches(out);
  if (close) out.push('Connection', 'close');
  return out;
}
