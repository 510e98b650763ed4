// The client-facing HTTP listeners and their connection lifecycle: create, listen, count and track
// sockets, answer unparsable requests, and drain. Nothing about routing lives here.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ListenSpec } from '../protocol.js';
import { countStatus, type WorkerStats } from './stats.js';

/** Node's default, set explicitly: idle keep-alive client connections close after 5 s. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Node's default: the whole header block must arrive within 60 s (slowloris bound, 408). */
export const HEADERS_TIMEOUT_MS = 60_000;
/** Node's default: a whole request, body included, must arrive within 300 s (408). */
export const REQUEST_TIMEOUT_MS = 300_000;
/** How long a socket may linger after we answered a parse error before it is destroyed. */
const CLIENT_ERROR_LINGER_MS = 1_000;

/** `gatewayPort`: the Snapshot listener (Gateway server port) the request arrived for. */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse, gatewayPort: number) => void;

/** Status for the parser errors Node's own default handler distinguishes; everything else is 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

export class ListenerGroup {
  readonly #specs: readonly ListenSpec[];
  readonly #servers: http.Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #stats: WorkerStats;
  #draining = false;
  #onEmpty: (() => void) | null = null;

  constructor(specs: readonly ListenSpec[], onRequest: RequestHandler, stats: WorkerStats) {
    this.#specs = specs;
    this.#stats = stats;
    for (const spec of specs) {
      // Route by the Gateway port this socket serves, not the port it is bound to (--listen may differ).
      const server = http.createServer((req, res) => onRequest(req, res, spec.gatewayPort));
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      server.headersTimeout = HEADERS_TIMEOUT_MS;
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      server.on('connection', this.#onConnection);
      server.on('clientError', this.#onClientError);
      this.#servers.push(server);
    }
  }

  /** Listen on every spec; in a cluster worker this shares the primary's listening socket. */
  listen(): Promise<ListenSpec[]> {
    return Promise.all(
      this.#servers.map(
        (server, i) =>
          new Promise<ListenSpec>((resolve, reject) => {
            const spec = this.#specs[i]!;
            const onError = (err: Error): void => reject(err);
            server.once('error', onError);
            server.listen({ host: spec.host, port: spec.port }, () => {
              server.off('error', onError);
              // A drain that arrived while we were binding: stop again at once.
              if (this.#draining) net.Server.prototype.close.call(server);
              const address = server.address();
              resolve(typeof address === 'object' && address !== null ? { host: address.address, port: address.port, gatewayPort: spec.gatewayPort } : spec);
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
   * would close them at once and race a client already sending on one: RELIABILITY §0.1, §1.5);
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
    setTimeout(() => {
      for (const server of this.#servers) server.closeIdleConnections();
    }, Math.max(0, graceMs));
    setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, Math.max(graceMs, deadlineMs));
    this.#checkEmpty();
  }

  readonly #onConnection = (socket: Socket): void => {
    this.#sockets.add(socket);
    this.#stats.connections++;
    this.#stats.activeConnections = this.#sockets.size;
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#stats.activeConnections = this.#sockets.size;
      this.#checkEmpty();
    });
  };

  readonly #onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // Mirrors Node's default handler, with a body and the counters. A response already under way
    // on this socket (a pipelined request failed to parse) cannot be followed by another.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? 400;
    const body = `${http.STATUS_CODES[status] ?? 'Bad Request'}\n`;
    countStatus(this.#stats, status);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  };

  #checkEmpty(): void {
    if (!this.#draining || this.#sockets.size > 0 || this.#onEmpty === null) return;
    const onEmpty = this.#onEmpty;
    this.#onEmpty = null;
    onEmpty();
  }
}
