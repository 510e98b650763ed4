// The client-facing HTTP listeners and their connection lifecycle: create, listen, count and track
// sockets, the client-side limits (header size and count, slowloris timeouts, connections per
// worker), answer unparsable requests and CONNECT, hand WebSocket upgrades on (any other upgrade
// is read again as a plain request: upgrade-policy.ts), and drain. Nothing about routing lives here.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenSpec } from '../../protocol.js';
import type { ProxySettings } from '../../snapshot/types.js';
import type { RuntimeServers } from './gateway-servers.js';
import { countStatus, type WorkerStats } from '../telemetry/stats.js';
import { buildPlainHead, checkUpgrade } from './upgrade-policy.js';
import { TlsFront } from './tls-front.js';
import { H2Front } from './h2-front.js';

/** How long a socket may linger after we answered a parse error before it is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1_000;
/**
 * llhttp's maxHeaderSize counts the request line too, so a long URI would get 431 before our
 * 414 could answer it (docs/reliability.md, Size limits). The parser's bound is therefore the URI and header
 * limits plus this much for method, version and separators; request-guard.ts enforces each.
 */
const REQUEST_LINE_SLACK = 64;
/**
 * How often Node checks headersTimeout/requestTimeout (connectionsCheckingInterval, 30 s by
 * default, which would let a slowloris outlive its deadline by that much): a tenth of the header
 * deadline, within these bounds.
 */
const MIN_CHECK_INTERVAL_MS = 100;
const MAX_CHECK_INTERVAL_MS = 5_000;

/** The settings the listeners apply; fixed for a worker's life (they come from CLI flags). */
export type ListenerLimits = Pick<
  ProxySettings,
  'maxHeaderCount' | 'maxUriLength' | 'maxHeaderBytes' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnectionsPerWorker'
>;

/**
 * Client connections stickyd has given up on: a request that failed to parse after its head was
 * accepted (a bad chunk in the same packet as the head), or one the request guard refused. Such a
 * head may already be in the handler, and pipelined requests behind it are parsed and dispatched
 * by Node before the connection closes; none of them may reach a backend (docs/reliability.md).
 */
const faulted = new WeakSet<object>();

export function isClientFaulted(socket: object): boolean {
  return faulted.has(socket);
}

/** The connection is answered and closed: nothing more from it is forwarded. */
export function markClientFaulted(socket: object): void {
  faulted.add(socket);
}

/** `gatewayPort`: the Snapshot listener (Gateway server port) the request arrived for. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, gatewayPort: number) => void;
/** A WebSocket upgrade request (upgrade-policy.ts let it through); the handler owns `socket` from then on. */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, gatewayPort: number) => void;

/** Status for the parser errors Node's own default handler distinguishes; everything else is 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** What the TLS fronts of HTTPS listeners need from the worker. */
export interface TlsHooks {
  /** the current snapshot's Gateway servers of a listener */
  readonly serversFor: (gatewayPort: number) => RuntimeServers | null;
  /** serve HTTP/2 (ALPN h2) on HTTPS listeners; false: ALPN offers http/1.1 only */
  readonly http2: boolean;
}

export class ListenerGroup {
  readonly #specs: readonly ListenSpec[];
  readonly #servers: http.Server[] = [];
  /** per spec: the TLS front of an HTTPS listener (it listens; the HTTP server only parses), else null */
  readonly #fronts: (TlsFront | null)[] = [];
  readonly #h2: H2Front[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #stats: WorkerStats;
  readonly #maxConnections: number;
  #draining = false;
  #onEmpty: (() => void) | null = null;

  constructor(
    specs: readonly ListenSpec[],
    onRequest: RequestHandler,
    stats: WorkerStats,
    limits: ListenerLimits,
    onUpgrade?: UpgradeHandler,
    tlsHooks?: TlsHooks,
  ) {
    this.#specs = specs;
    this.#stats = stats;
    // Not server.maxConnections: in cluster round-robin mode a worker over it refuses the handle
    // and the primary hands the same connection straight back, spinning both until one frees up.
    this.#maxConnections = limits.maxConnectionsPerWorker;
    // Node throws when headersTimeout exceeds requestTimeout; the request deadline wins.
    const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
    for (const spec of specs) {
      // Route by the Gateway port this socket serves, not the port it is bound to (--listen may differ).
      const handle = (req: IncomingMessage, res: ServerResponse): void => {
        if (faulted.has(req.socket)) res.destroy();
        else onRequest(req, res, spec.gatewayPort);
      };
      const server = http.createServer(
        {
          maxHeaderSize: limits.maxHeaderBytes + limits.maxUriLength + REQUEST_LINE_SLACK,
          connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, Math.max(MIN_CHECK_INTERVAL_MS, Math.floor(headersTimeout / 10))),
          requestTimeout: limits.requestTimeoutMs,
          headersTimeout,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          requireHostHeader: true,
        },
        handle,
      );
      // Expect: 100-continue: without a listener Node sends 100 Continue before stickyd has looked
      // at the request; with one, handle-request.ts sends it only once the request is routed, so a
      // refused request is answered before the client sends its body.
      server.on('checkContinue', handle);
      // Node keeps ~maxHeadersCount lines and silently drops the rest (docs/reliability.md); one more
      // than the limit lets request-guard.ts see the excess and answer 431.
      server.maxHeadersCount = limits.maxHeaderCount + 1;
      server.on('connection', this.#onConnection);
      server.on('clientError', this.#onClientError);
      server.on('connect', this.#onConnect);
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (faulted.has(socket)) socket.destroy();
        else if (onUpgrade !== undefined && checkUpgrade(req.method, String(req.headers.upgrade), req.headers['sec-websocket-key']) === null) onUpgrade(req, socket, head, spec.gatewayPort);
        else this.#replayAsPlain(server, req, socket, head);
      });
      this.#servers.push(server);
      const h2 = tlsHooks?.http2 === true && spec.tls !== 'off' ? new H2Front((req, res) => handle(req, res), stats, limits) : null;
      if (h2 !== null) this.#h2.push(h2);
      this.#fronts.push(
        spec.tls === 'off' || tlsHooks === undefined
          ? null
          : new TlsFront({
              servers: () => tlsHooks.serversFor(spec.gatewayPort),
              http1: server,
              http2: h2 === null ? null : (socket) => {
                this.#track(socket);
                h2.accept(socket);
              },
              stats,
              handshakeTimeoutMs: headersTimeout,
              requestCert: spec.tls === 'mutual',
            }),
      );
    }
  }

  /** A new snapshot is current: TLS fronts pick up its certificates for new handshakes. */
  snapshotChanged(): void {
    for (const front of this.#fronts) front?.update();
  }

  /** Listen on every spec; in a cluster worker this shares the primary's listening socket. */
  listen(): Promise<ListenSpec[]> {
    return Promise.all(
      this.#servers.map(
        (server, i) =>
          new Promise<ListenSpec>((resolve, reject) => {
            const spec = this.#specs[i]!;
            // An HTTPS listener's TLS front owns the socket; its HTTP server only parses.
            const listening: net.Server = this.#fronts[i]?.server ?? server;
            const onError = (err: Error): void => reject(err);
            listening.once('error', onError);
            listening.listen({ host: spec.host, port: spec.port }, () => {
              listening.off('error', onError);
              // A drain that arrived while we were binding: stop again at once.
              if (this.#draining) net.Server.prototype.close.call(listening);
              const address = listening.address();
              resolve(typeof address === 'object' && address !== null ? { host: address.address, port: address.port, gatewayPort: spec.gatewayPort, tls: spec.tls } : spec);
            });
          }),
      ),
    );
  }

  get activeConnections(): number {
    return this.#sockets.size;
  }

  /**
   * Stop accepting now; keep idle keep-alive sockets until `graceMs` (Node >= 19's server.close()
   * would close them at once and race a client already sending on one: docs/reliability.md, Draining a worker);
   * destroy whatever is left at `deadlineMs`. Both are durations from now. `onEmpty` runs once no
   * client connection remains. The caller marks responses Connection: close meanwhile.
   */
  drain(graceMs: number, deadlineMs: number, onEmpty: () => void): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#onEmpty = onEmpty;
    for (const server of this.#servers) {
      // net.Server's close, not http.Server's: stop listening without closeIdleConnections().
      if (server.listening) net.Server.prototype.close.call(server);
    }
    for (const front of this.#fronts) {
      if (front?.server.listening) front.server.close();
    }
    setTimeout(() => {
      for (const server of this.#servers) server.closeIdleConnections();
      // GOAWAY: streams in flight finish, the client opens new ones elsewhere
      for (const h2 of this.#h2) h2.closeAll();
    }, Math.max(0, graceMs));
    setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, Math.max(graceMs, deadlineMs));
    this.#checkEmpty();
  }

  readonly #onConnection = (socket: Socket): void => {
    // A refused upgrade handed back to the server (#replayAsPlain): already counted and tracked.
    if (this.#sockets.has(socket)) return;
    if (this.#sockets.size >= this.#maxConnections) {
      // Shed at once with a 503 (docs/reliability.md) rather than queue: this worker is full. Node's
      // parser is already attached, so a request the client sends anyway must not be proxied.
      faulted.add(socket);
      socket.on('error', () => socket.destroy());
      writeAndClose(socket, 503, this.#stats, 'too many connections\n', 'Retry-After: 1\r\n');
      return;
    }
    this.#track(socket);
  };

  /** Counted and tracked until it closes (HTTP/1.1 and HTTP/2 connections alike). */
  #track(socket: Socket): void {
    this.#sockets.add(socket);
    this.#stats.connections++;
    this.#stats.activeConnections = this.#sockets.size;
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#stats.activeConnections = this.#sockets.size;
      this.#checkEmpty();
    });
  }

  /**
   * An upgrade stickyd does not tunnel goes on as a plain request (upgrade-policy.ts). Node's
   * parser has already given the socket up, so the head is re-serialised without the `upgrade`
   * Connection token, put back in front of the bytes that followed it, and the socket injected
   * into the same server again ('connection' event: Node's documented way to hand it a stream).
   * Node consumes a socket's handle only the first time, so the new parser reads through 'data'
   * events and sees the unshifted bytes first. Pipelined behind a response still being written,
   * it waits for that response: the new parser's response must not take the socket before it.
   */
  #replayAsPlain(server: http.Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const plain = buildPlainHead(req);
    if (plain === null || !(socket instanceof net.Socket)) {
      faulted.add(socket);
      socket.on('error', () => socket.destroy());
      writeAndClose(socket, 400, this.#stats, 'Bad Request\n', '');
      return;
    }
    const replay = (): void => {
      if (socket.destroyed) return;
      socket.unshift(head.length > 0 ? Buffer.concat([plain, head]) : plain);
      server.emit('connection', socket);
    };
    const pending = (socket as { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending == null) replay();
    else pending.once('close', replay);
  }

  /** RFC 9110 §9.3.6: a gateway is not a tunnel. Without this listener Node just closes the socket. */
  readonly #onConnect = (_req: IncomingMessage, socket: Duplex): void => {
    writeAndClose(socket, 405, this.#stats, 'CONNECT is not supported: stickyd is a reverse proxy\n', 'Allow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE\r\n');
  };

  readonly #onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    faulted.add(socket);
    // Mirrors Node's default handler, with a body and the counters. A response already under way
    // on this socket (a pipelined request failed to parse) cannot be followed by another.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
    writeAndClose(socket, status, this.#stats, `${http.STATUS_CODES[status] ?? 'Bad Request'}\n`, '');
  };

  #checkEmpty(): void {
    if (!this.#draining || this.#sockets.size > 0 || this.#onEmpty === null) return;
    const onEmpty = this.#onEmpty;
    this.#onEmpty = null;
    onEmpty();
  }
}

/** A complete response written straight to the socket, then close; the socket is destroyed soon after. */
function writeAndClose(socket: Duplex, status: number, stats: WorkerStats, body: string, extraHeaders: string): void {
  countStatus(stats, status);
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n${extraHeaders}` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}
