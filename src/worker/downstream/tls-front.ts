// The TLS front of an HTTPS listener: handshakes (SNI picks the Gateway server's certificate,
// ALPN picks the protocol), client certificate checks, handshake counters; then each connection
// goes to the HTTP/1.1 server (or the HTTP/2 one) exactly as a cleartext socket would, so every
// limit and the whole request path are the same over TLS.
import tls, { type TLSSocket } from 'node:tls';
import type { Server as HttpServer } from 'node:http';
import type { ServerTls } from '../../snapshot/types.js';
import { selectServerForSni, secureContextOptions, type RuntimeServer, type RuntimeServers } from './gateway-servers.js';
import { buildXfcc, verifyClientCertificate } from './client-cert.js';
import type { WorkerStats } from '../telemetry/stats.js';

/** The Gateway server whose certificate a connection was handshaken with: the 421 check compares against it. */
const connectionServer = new WeakMap<object, string>();

export function readConnectionServer(socket: object): string | undefined {
  return connectionServer.get(socket);
}

/** The verified client certificate of a mutual connection in XFCC form, built once per connection. */
const connectionClientCert = new WeakMap<object, string>();

export function buildClientCertHeader(socket: object): string | null {
  return connectionClientCert.get(socket) ?? null;
}

/** An HTTP/2 session on `socket` answers for it: requests reach it through their stream's session. */
export function adoptConnection(socket: object, session: object): void {
  const server = connectionServer.get(socket);
  if (server !== undefined) connectionServer.set(session, server);
  const cert = connectionClientCert.get(socket);
  if (cert !== undefined) connectionClientCert.set(session, cert);
}

/** The key the connection facts are kept under: the HTTP/2 session for an h2 request, else its socket. */
export function readConnectionKey(req: { readonly socket: object; readonly stream?: { readonly session?: object | undefined } | undefined }): object {
  return req.stream?.session ?? req.socket;
}

export interface TlsFrontDeps {
  /** the current snapshot's servers for this listener; null before the first snapshot */
  readonly servers: () => RuntimeServers | null;
  readonly http1: HttpServer;
  /** HTTP/2 connections; null: ALPN offers http/1.1 only */
  readonly http2: ((socket: TLSSocket) => void) | null;
  readonly stats: WorkerStats;
  /** a TLS handshake must finish within this (the same slowloris bound as request headers) */
  readonly handshakeTimeoutMs: number;
  /**
   * Ask clients for a certificate: some server on the port is mutual. Node sets the verify mode
   * per listener, not per SNI context, so it is fixed for the worker's life (ListenSpec.tls);
   * whether one is required is decided per server after the handshake, failing closed.
   */
  readonly requestCert: boolean;
}

export class TlsFront {
  readonly server: tls.Server;
  readonly #deps: TlsFrontDeps;
  /** the default context in use (no SNI): replaced when a reload changes the fallback server's TLS */
  #defaultTls: ServerTls | null = null;

  constructor(deps: TlsFrontDeps) {
    this.#deps = deps;
    const servers = deps.servers();
    this.server = tls.createServer({
      ALPNProtocols: deps.http2 === null ? ['http/1.1'] : ['h2', 'http/1.1'],
      SNICallback: this.#sni,
      handshakeTimeout: deps.handshakeTimeoutMs,
      requestCert: deps.requestCert,
      rejectUnauthorized: false,
      ...(servers?.fallback?.tls ? secureContextOptions(servers.fallback.tls) : {}),
    });
    this.#defaultTls = servers?.fallback?.tls ?? null;
    this.server.on('secureConnection', this.#onSecure);
    this.server.on('tlsClientError', this.#onTlsError);
  }

  /** A new snapshot: new handshakes use its certificates; open connections keep theirs. */
  update(): void {
    const fallback = this.#deps.servers()?.fallback?.tls ?? null;
    if (fallback !== null && fallback !== this.#defaultTls) {
      this.server.setSecureContext(secureContextOptions(fallback));
      this.#defaultTls = fallback;
    }
  }

  readonly #sni = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    const servers = this.#deps.servers();
    const server = servers === null ? null : selectServerForSni(servers, servername);
    if (server === null || server.context === null) {
      cb(new Error(`no Gateway server for SNI "${servername.slice(0, 253)}"`));
      return;
    }
    cb(null, server.context);
  };

  readonly #onSecure = (socket: TLSSocket): void => {
    const servers = this.#deps.servers();
    const server: RuntimeServer | null = servers === null ? null : selectServerForSni(servers, socket.servername);
    const stats = this.#deps.stats;
    socket.on('error', () => socket.destroy());
    if (server === null || server.tls === null) {
      countFailure(stats, 'unknown_server_name');
      socket.destroy();
      return;
    }
    const refused = verifyClientCertificate(server.tls, socket);
    if (refused !== null) {
      countFailure(stats, refused);
      socket.destroy();
      return;
    }
    stats.tlsHandshakes++;
    connectionServer.set(socket, server.name);
    if (server.tls.mode !== 'SIMPLE') {
      const peer = socket.getPeerX509Certificate();
      if (peer !== undefined) connectionClientCert.set(socket, buildXfcc(peer, socket.getX509Certificate() ?? null));
    }
    if (socket.alpnProtocol === 'h2' && this.#deps.http2 !== null) this.#deps.http2(socket);
    else this.#deps.http1.emit('connection', socket);
  };

  readonly #onTlsError = (err: NodeJS.ErrnoException, socket: TLSSocket): void => {
    countFailure(this.#deps.stats, handshakeFailureReason(err));
    socket.destroy();
  };
}

function countFailure(stats: WorkerStats, reason: string): void {
  stats.tlsHandshakeFailures.set(reason, (stats.tlsHandshakeFailures.get(reason) ?? 0) + 1);
}

/** A small fixed set of reasons (metric labels must not grow with what clients send). */
export function handshakeFailureReason(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  const text = `${code} ${err.message}`;
  if (code === 'ERR_SSL_HTTP_REQUEST' || /http request/i.test(text)) return 'plaintext_http';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'client_reset';
  if (/timed out|timeout/i.test(text)) return 'timeout';
  if (/no Gateway server for SNI/.test(text)) return 'unknown_server_name';
  if (/version|protocol/i.test(text)) return 'protocol_version';
  if (/cipher/i.test(text)) return 'no_shared_cipher';
  if (/certificate|alert/i.test(text)) return 'certificate';
  return 'other';
}
