// Which `Upgrade:` requests become tunnels. Only the protocols in UPGRADE_ALLOW, on a GET, with
// the handshake they need: a tunnel is a connection that no longer passes routing, the request
// limits or the access log, so an upgrade a backend accepts but stickyd did not mean to allow
// (h2c above all: RFC 7540 §3.2, then any number of HTTP/2 requests for any path) is a way past
// every route. Everything else is stripped and proxied as a plain request, as Envoy does with
// upgrades missing from its upgrade_configs. Pure: no sockets here.
import type { IncomingMessage } from 'node:http';
import type { UpgradeRefusal } from '../../protocol.js';

/**
 * Upgrade protocols stickyd tunnels, lower case. Envoy's HttpConnectionManager.upgrade_configs
 * lists the same one by default. Another protocol needs its own handshake check (websocket.ts
 * checks Sec-WebSocket-Accept) before it may join this set.
 */
export const UPGRADE_ALLOW: ReadonlySet<string> = new Set(['websocket']);

/**
 * null: a WebSocket handshake stickyd tunnels. Otherwise why the upgrade is refused:
 * `protocol` the token is not one of UPGRADE_ALLOW (a token list counts as not one), `method`
 * not a GET (RFC 6455 §4.1), `handshake` no Sec-WebSocket-Key (RFC 6455 §4.1: without it the
 * backend's 101 cannot be checked).
 */
export function checkUpgrade(method: string | undefined, upgrade: string, key: string | string[] | undefined): UpgradeRefusal | null {
  if (!UPGRADE_ALLOW.has(upgrade.trim().toLowerCase())) return 'protocol';
  if (method !== 'GET') return 'method';
  if (typeof key !== 'string' || key === '') return 'handshake';
  return null;
}

/** OWS around Connection tokens (RFC 9110 §5.6.1); JS trim() would also strip characters llhttp keeps. */
const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * The request head of a refused upgrade, re-serialised for Node's parser to read again as a plain
 * request: request line and header lines as received, minus the `upgrade` token of every
 * Connection line (a line left empty is dropped). The Upgrade header itself stays, so the plain
 * path counts and logs it; forward-headers.ts strips it (and HTTP2-Settings) towards the backend.
 * null when no Connection line names `upgrade`: Node's parser saw the token where this function
 * does not, and re-reading the head would hand it back as an upgrade again.
 * Names and values come from Node's parser (no CR, LF or NUL in them), so nothing can be injected.
 */
export function buildPlainHead(req: Pick<IncomingMessage, 'method' | 'url' | 'httpVersion' | 'rawHeaders'>): Buffer | null {
  let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  let removed = false;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    let value = raw[i + 1]!;
    if (name.toLowerCase() === 'connection') {
      const kept = value.split(',').filter((t) => t.replace(OWS, '').toLowerCase() !== 'upgrade');
      if (kept.length !== value.split(',').length) removed = true;
      value = kept.join(',').replace(OWS, '');
      if (value === '') continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  return removed ? Buffer.from(text + '\r\n', 'latin1') : null;
}
