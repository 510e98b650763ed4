// The request head an endpoint is sent, for a proxied request and a WebSocket upgrade alike: the
// client's headers as forwarded-headers.ts rewrites them for the hop (X-Forwarded-*, trust of the
// peer, the client certificate when configured), then the destination's authority and header edits
// in Envoy's order (host rewrite first, then the route's mutations, which may set the host again).
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { HeaderOp } from '../../snapshot/types.js';
import { buildUpstreamHeaders } from '../downstream/forward-headers.js';
import { applyHeaderEdits, replaceHost } from '../downstream/header-edits.js';
import { normaliseAddress } from '../downstream/request-head.js';
import { buildClientCertHeader, readConnectionKey } from '../downstream/tls-front.js';
import type { RuntimeSnapshot } from '../routing/runtime-snapshot.js';

/** A route destination's request-side edits (routing/runtime-snapshot.ts RouteTarget has them). */
export interface RequestEdits {
  readonly authority: string | null;
  readonly requestEdits: readonly HeaderOp[] | null;
}

/** Whether the peer is one of --trusted-proxies, whose X-Forwarded-For is kept and extended. */
export function isTrustedPeer(peers: BlockList | null, address: string): boolean {
  return peers !== null && address !== '' && peers.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** The client's address as the forwarded headers and the access line give it (IPv4-mapped IPv6 as IPv4). */
export function readClientAddress(req: IncomingMessage): string {
  return normaliseAddress(req.socket.remoteAddress ?? '');
}

/**
 * `fallbackHost`: the subset's host, for a client that sent none (HTTP/1.0); `address`: the
 * client's, as readClientAddress reads it.
 */
export function buildEndpointRequestHeaders(
  req: IncomingMessage,
  rt: RuntimeSnapshot,
  requestId: string,
  fallbackHost: string,
  edits: RequestEdits | null,
  address = readClientAddress(req),
): string[] {
  let headers = buildUpstreamHeaders(req, {
    clientAddress: address,
    requestId,
    fallbackHost,
    trustedPeer: isTrustedPeer(rt.trustedPeers, address),
    encrypted: (req.socket as { encrypted?: boolean }).encrypted === true,
    clientCert: rt.settings.forwardClientCert ? buildClientCertHeader(readConnectionKey(req)) : null,
  });
  if (edits !== null) {
    if (edits.authority !== null) replaceHost(headers, edits.authority);
    if (edits.requestEdits !== null) headers = applyHeaderEdits(headers, edits.requestEdits);
  }
  return headers;
}
