// The TLS and protocol part of /metrics: certificate expiry from the snapshot the primary holds,
// handshakes and their failures and HTTP/2 sessions ended by a limit from the workers' counters,
// requests by protocol.
import type { Snapshot } from '../snapshot/types.js';
import type { MergedStats } from '../daemon-view.js';
import type { PromText } from './prom-text.js';

/** Failure reasons always rendered (at 0), so alerts on rate() see the series before the first failure. */
const ALWAYS_REASONS = ['plaintext_http', 'unknown_server_name', 'no_client_certificate', 'client_certificate_untrusted'];

export function renderTls(p: PromText, snapshot: Snapshot | null, m: MergedStats): void {
  p.family('stickyd_tls_certificate_expiry_timestamp_seconds', 'gauge', 'When each Gateway server certificate expires, in seconds since the Unix epoch.');
  for (const l of snapshot?.listeners ?? []) {
    for (const s of l.servers) {
      if (s.tls !== null) p.sample('stickyd_tls_certificate_expiry_timestamp_seconds', [['server', s.name], ['file', s.tls.certificate.file]], Math.floor(s.tls.certificate.notAfterMs / 1000));
    }
  }
  const c = m.counters;
  p.family('stickyd_tls_handshakes_total', 'counter', 'TLS handshakes completed with a client certificate check passed where one applies.')
    .sample('stickyd_tls_handshakes_total', [], c.tlsHandshakes ?? 0);
  p.family('stickyd_tls_handshake_failures_total', 'counter', 'TLS handshakes that failed or were refused after the handshake, by reason.');
  for (const [reason, n] of byPrefix(c, 'tlsHandshakeFailures.', ALWAYS_REASONS)) p.sample('stickyd_tls_handshake_failures_total', [['reason', reason]], n);
  p.family('stickyd_http2_sessions_refused_total', 'counter', 'HTTP/2 connections ended with GOAWAY by a limit (flood, rapid reset, oversized headers), by reason.');
  for (const [reason, n] of byPrefix(c, 'h2SessionsRefused.', [])) p.sample('stickyd_http2_sessions_refused_total', [['reason', reason]], n);
  const h2 = c['requests.h2'] ?? 0;
  p.family('stickyd_downstream_requests_total', 'counter', 'Requests taken, by client protocol (http/1.1 includes HTTP/1.0 and WebSocket upgrades).')
    .sample('stickyd_downstream_requests_total', [['protocol', 'http/1.1']], Math.max(0, (c.requests ?? 0) - h2))
    .sample('stickyd_downstream_requests_total', [['protocol', 'h2']], h2);
}

function byPrefix(counters: Readonly<Record<string, number>>, prefix: string, always: readonly string[]): [string, number][] {
  const out = new Map<string, number>(always.map((r) => [r, 0]));
  for (const [k, v] of Object.entries(counters)) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
