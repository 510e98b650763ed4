// What the Gateway server a request belongs to says before routing: an HTTP server with
// tls.httpsRedirect answers 301 to https (Envoy's require_tls, as Istio configures it), and on an
// HTTPS port a request for a host of another server's certificate is 421 Misdirected Request
// (RFC 9110 §15.5.20): a browser reusing a connection for a host the certificate also covers
// must not be served under the wrong server's trust (its mTLS checks, its certificate).
import type { RuntimeListener } from './runtime-snapshot.js';
import { selectServerForHost } from '../downstream/gateway-servers.js';
import { readConnectionServer } from '../downstream/tls-front.js';

export type GatewayVerdict =
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'misdirected'; readonly server: string }
  | null;

/**
 * `host` as routing sees it (lower-case, no port); `url` the request target; `connection` the
 * client socket (the TLS socket the handshake ran on). Costs nothing on a port without either rule.
 */
export function checkGatewayServer(listener: RuntimeListener, host: string, url: string, connection: object): GatewayVerdict {
  const servers = listener.servers;
  if (listener.protocol === 'HTTPS') {
    const mine = readConnectionServer(connection);
    if (mine === undefined) return null;
    const owner = selectServerForHost(servers, host);
    return owner !== null && owner.name !== mine ? { kind: 'misdirected', server: mine } : null;
  }
  if (!servers.anyRedirect) return null;
  const owner = selectServerForHost(servers, host);
  if (owner === null || !owner.httpsRedirect || host === '') return null;
  return { kind: 'redirect', location: `https://${host}${originForm(url)}` };
}

/** Path and query of the target; an absolute-form target ("http://h/p?q") keeps only "/p?q". */
function originForm(url: string): string {
  if (url.startsWith('/')) return url;
  const scheme = url.indexOf('://');
  if (scheme === -1) return '/';
  const slash = url.indexOf('/', scheme + 3);
  return slash === -1 ? '/' : url.slice(slash);
}
