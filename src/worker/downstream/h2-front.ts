// The HTTP/2 front end of an HTTPS listener (ALPN h2): one plain Http2Server that only runs
// sessions on TLS sockets tls-front.ts hands it, with limits fit for the internet, and each
// request adapted so it takes the HTTP/1.1 request path unchanged: Host from :authority, the
// pseudo-headers out of the raw list, the cookie fields joined (RFC 9113 §8.2.3, so an HTTP/1.1
// backend sees one Cookie line), and no connection-specific response header (RFC 9113 §8.2.2).
// Backends stay HTTP/1.1 (undici pools).
import http2, { type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adoptConnection } from './tls-front.js';
import type { WorkerStats } from '../telemetry/stats.js';

/** nginx's http2_max_concurrent_streams and Go's default: enough for a page, bounded per client */
export const H2_MAX_CONCURRENT_STREAMS = 100;
/** Node's default maxSessionMemory (MB): an HTTP/2 session over it gets ENHANCE_YOUR_CALM */
export const H2_MAX_SESSION_MEMORY_MB = 10;
/** SETTINGS entries per frame; more is a flood (Node's default is 32) */
export const H2_MAX_SETTINGS = 32;
/** unanswered PINGs before the session is torn down (Node's default is 10) */
export const H2_MAX_OUTSTANDING_PINGS = 10;
/** invalid frames per session (Node's default 1000 is generous for a gateway facing browsers) */
export const H2_MAX_INVALID_FRAMES = 100;
/** streams refused (over maxConcurrentStreams) per session before GOAWAY */
export const H2_MAX_REJECTED_STREAMS = 100;
/**
 * Rapid reset (CVE-2023-44487): streams the client resets before their response ends, as a token
 * bucket per session: this many at once, refilled at H2_RESET_RATE_PER_S. nghttp2's own limit
 * (1000 at once, 33/s) did not stop 2000 HEADERS+RST_STREAM pairs in one burst here (Node 20.20),
 * and each of those streams is a request stickyd would proxy, so the bound is ours and tighter.
 */
export const H2_RESET_BURST = 200;
export const H2_RESET_RATE_PER_S = 50;

export interface H2Limits {
  readonly maxHeaderBytes: number;
  readonly maxUriLength: number;
  readonly maxHeaderCount: number;
  readonly keepAliveTimeoutMs: number;
}

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class H2Front {
  readonly #server: http2.Http2Server;
  readonly #stats: WorkerStats;
  readonly #sessions = new Set<ServerHttp2Session>();
  #pending: TLSSocket | null = null;

  constructor(onRequest: (req: IncomingMessage, res: ServerResponse) => void, stats: WorkerStats, limits: H2Limits) {
    this.#stats = stats;
    this.#server = http2.createServer({
      settings: {
        maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
        // the same bound as HTTP/1.1's header bytes plus the request target (:path)
        maxHeaderListSize: limits.maxHeaderBytes + limits.maxUriLength,
        enablePush: false,
      },
      maxHeaderListPairs: limits.maxHeaderCount + 5, // plus the four request pseudo-headers
      maxSessionMemory: H2_MAX_SESSION_MEMORY_MB,
      maxSettings: H2_MAX_SETTINGS,
      maxOutstandingPings: H2_MAX_OUTSTANDING_PINGS,
      maxSessionInvalidFrames: H2_MAX_INVALID_FRAMES,
      maxSessionRejectedStreams: H2_MAX_REJECTED_STREAMS,
    });
    this.#server.on('session', (session: ServerHttp2Session) => {
      const socket = this.#pending;
      if (socket !== null) adoptConnection(socket, session);
      this.#sessions.add(session);
      // an idle session is closed like an idle HTTP/1.1 keep-alive connection
      session.setTimeout(limits.keepAliveTimeoutMs, () => session.close());
      session.on('error', (err: NodeJS.ErrnoException) => this.#refused(err.code ?? 'error'));
      session.on('frameError', () => this.#refused('frame_error'));
      session.once('close', () => this.#sessions.delete(session));
      this.#watchResets(session);
    });
    this.#server.on('request', (req: Http2ServerRequest, res: Http2ServerResponse) => {
      stats.requestsH2++;
      adaptRequest(req);
      adaptResponse(res);
      onRequest(req as unknown as IncomingMessage, res as unknown as ServerResponse);
    });
  }

  /** A TLS socket that negotiated h2: run a session on it. */
  readonly accept = (socket: TLSSocket): void => {
    this.#pending = socket;
    try {
      this.#server.emit('connection', socket);
    } finally {
      this.#pending = null;
    }
  };

  /** Drain: GOAWAY to every session; streams in flight finish. */
  closeAll(): void {
    for (const s of this.#sessions) s.close();
  }

  /** GOAWAY ENHANCE_YOUR_CALM once the client resets streams faster than the bucket refills. */
  #watchResets(session: ServerHttp2Session): void {
    let tokens = H2_RESET_BURST;
    let at = performance.now();
    session.on('stream', (stream) => {
      stream.once('aborted', () => {
        const now = performance.now();
        tokens = Math.min(H2_RESET_BURST, tokens + ((now - at) / 1000) * H2_RESET_RATE_PER_S);
        at = now;
        tokens -= 1;
        if (tokens >= 0 || session.destroyed) return;
        this.#refused('rapid_reset');
        session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
        session.destroy();
      });
    });
  }

  #refused(reason: string): void {
    const key = reason.toLowerCase().replace(/^err_http2_/, '');
    this.#stats.h2SessionsRefused.set(key, (this.#stats.h2SessionsRefused.get(key) ?? 0) + 1);
  }
}

/** Host from :authority (which wins, RFC 9113 §8.3.1), pseudo-headers out of the raw list, one cookie line. */
function adaptRequest(req: Http2ServerRequest): void {
  const headers = req.headers;
  const authority = headers[':authority'];
  if (typeof authority === 'string' && authority !== '') headers.host = authority;
  const raw = req.rawHeaders;
  const out: string[] = [];
  let cookie: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 0x3a /* : */ || name === 'host') continue;
    if (name === 'cookie') {
      cookie = cookie === null ? raw[i + 1]! : `${cookie}; ${raw[i + 1]!}`;
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  if (typeof headers.host === 'string') out.unshift('host', headers.host);
  if (cookie !== null) out.push('cookie', cookie);
  Object.defineProperty(req, 'rawHeaders', { value: out });
}

/** Drops connection-specific fields the HTTP/1.1 path may add (Connection: close on a drain). */
function adaptResponse(res: Http2ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (status: number, headers?: unknown) => Http2ServerResponse;
  (res as unknown as { writeHead: (status: number, headers?: unknown) => Http2ServerResponse }).writeHead = (status, headers) => {
    if (!Array.isArray(headers)) return writeHead(status, headers);
    const kept: string[] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) {
      if (!CONNECTION_SPECIFIC.has(String(headers[i]).toLowerCase())) kept.push(headers[i] as string, headers[i + 1] as string);
    }
    return writeHead(status, kept);
  };
}
