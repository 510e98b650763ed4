// One request's upstream exchange: stream the request to the endpoint, stream the response back,
// map failures to catalogue errors. Never throws and never leaves an emitter without an 'error'
// listener: an upstream or client fault must not take the worker down.
import http, { type Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { StickydError } from '../errors.js';
import { log } from '../log.js';
import type { Endpoint } from '../snapshot/types.js';
import { buildClientHeaders, buildUpstreamHeaders } from './forward-headers.js';
import { normaliseAddress } from './request-head.js';
import { buildError, errorText, sendError } from './responses.js';
import type { RuntimeSubset } from './runtime-snapshot.js';
import { countStatus, type WorkerStats } from './stats.js';

/** What the proxy reads from the worker while a request is in flight. */
export interface ProxyContext {
  /** true once the worker drains: every response then carries Connection: close */
  readonly draining: boolean;
  readonly stats: WorkerStats;
}

export interface ProxyJob {
  readonly subset: RuntimeSubset;
  /** index into subset.endpoints (and subset.agents) */
  readonly index: number;
  readonly endpoint: Endpoint;
  readonly agent: Agent | undefined;
  readonly connectTimeoutMs: number;
  /** the route's timeout, null for none */
  readonly timeoutMs: number | null;
  readonly requestId: string;
  /** a Set-Cookie line for a freshly minted session, or null */
  readonly setCookie: string | null;
}

/** RFC 9110 §9.2.2 idempotent methods we retry once; only bodiless requests can be replayed. */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, job: ProxyJob): void {
  new Exchange(ctx, req, res, job).start();
}

class Exchange {
  readonly #hasBody: boolean;
  #upstream: ClientRequest | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #routeTimer: NodeJS.Timeout | null = null;
  /** the current attempt's socket is connected: failures from here on are resets, not connect errors */
  #connected = false;
  #responded = false;
  #retried = false;
  /** an upstream failure after the headers went out, for the log line pipeline() writes */
  #lateError: Error | null = null;
  #done = false;

  constructor(
    readonly ctx: ProxyContext,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly job: ProxyJob,
  ) {
    const h = req.headers;
    this.#hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
  }

  start(): void {
    this.job.subset.picker.start(this.job.index);
    this.res.on('close', this.#onClientClose);
    this.req.on('error', this.#onClientError);
    this.#send(this.job.agent);
    // Envoy's route timeout runs from the end of the downstream request to the end of the response.
    if (this.job.timeoutMs !== null) {
      if (this.#hasBody && !this.req.readableEnded) this.req.once('end', this.#armRouteTimer);
      else this.#armRouteTimer();
    }
  }

  #send(agent: Agent | false | undefined): void {
    const { endpoint, requestId, subset } = this.job;
    const req = this.req;
    const headers = buildUpstreamHeaders(req, {
      clientAddress: normaliseAddress(req.socket.remoteAddress ?? ''),
      requestId,
      fallbackHost: subset.host,
    });
    let up: ClientRequest;
    try {
      up = http.request({ host: endpoint.address, port: endpoint.port, method: req.method, path: req.url, headers, agent, setHost: false });
    } catch (err) {
      // Node's client validates what its server parser let through (e.g. a header value it rejects).
      this.#fail(buildError('STICKYD_ERR_BAD_REQUEST', `request cannot be forwarded: ${errorCode(err)}`, err));
      return;
    }
    this.#upstream = up;
    this.#connected = false;
    up.on('error', (err) => this.#onUpstreamError(up, err));
    up.on('response', (upRes) => this.#onResponse(up, upRes));
    up.on('socket', (socket) => this.#onSocket(up, socket as Socket));
    if (this.#hasBody) req.pipe(up);
    else up.end();
  }

  #onSocket(up: ClientRequest, socket: Socket): void {
    if (this.#done || up !== this.#upstream) return;
    if (!socket.connecting) {
      this.#connected = true;
      return;
    }
    const timer = setTimeout(() => {
      up.destroy(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', errorText.connectTimeout(this.job.endpoint.id)));
    }, this.job.connectTimeoutMs);
    this.#connectTimer = timer;
    socket.once('connect', () => {
      clearTimeout(timer);
      if (up === this.#upstream) this.#connected = true;
    });
  }

  readonly #armRouteTimer = (): void => {
    if (this.#done || this.job.timeoutMs === null) return;
    const ms = this.job.timeoutMs;
    this.#routeTimer = setTimeout(() => {
      this.#upstream?.destroy(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', errorText.routeTimeout(this.job.endpoint.id, ms)));
    }, ms);
  };

  #onResponse(up: ClientRequest, upRes: IncomingMessage): void {
    if (this.#done || up !== this.#upstream) {
      upRes.resume();
      return;
    }
    this.#clearConnectTimer();
    const res = this.res;
    const status = upRes.statusCode ?? 0;
    try {
      res.writeHead(status, buildClientHeaders(upRes, this.job.requestId, this.job.setCookie, this.ctx.draining));
    } catch (err) {
      // An invalid status (Node's client accepts "099") or header value: nothing was sent yet.
      up.destroy();
      this.#fail(buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(this.job.endpoint.id, errorCode(err)), err));
      return;
    }
    this.#responded = true;
    countStatus(this.ctx.stats, status);
    pipeline(upRes, res, (err) => {
      if (err && !this.#done) {
        // Headers are out: the only honest signal left is a truncated response.
        this.#logTruncated(this.#lateError ?? err);
        res.destroy();
      }
      this.#finish();
    });
  }

  #onUpstreamError(up: ClientRequest, err: Error): void {
    if (this.#done || up !== this.#upstream) return;
    const code = errorCode(err);
    if (this.#responded) {
      // Headers are out; pipeline()'s callback logs and finishes once the client side is down.
      this.#lateError = err;
      this.res.destroy();
      return;
    }
    if (code === 'ECONNRESET' && up.reusedSocket && !this.#retried && !this.#hasBody && RETRYABLE_METHODS.has(this.req.method ?? '')) {
      // The backend closed an idle keep-alive socket as we reused it (RELIABILITY §2.7): nothing
      // reached it, so replay once on a fresh connection of its own.
      this.#retried = true;
      this.ctx.stats.upstreamRetries++;
      this.#clearConnectTimer();
      this.#send(false);
      return;
    }
    this.#fail(this.#classify(err));
  }

  #classify(err: Error): StickydError {
    if (err instanceof StickydError) return err;
    const id = this.job.endpoint.id;
    const code = errorCode(err);
    if (code === 'ECONNREFUSED') return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.refused(id), err);
    if (code.startsWith('HPE_')) return buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(id, code), err);
    if (!this.#connected) {
      return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.connectFailed(id, code), err);
    }
    return buildError('STICKYD_ERR_UPSTREAM_RESET', errorText.reset(id), err);
  }

  #fail(err: StickydError): void {
    this.ctx.stats.upstreamErrors++;
    log('warn', 'upstream error', { endpoint: this.job.endpoint.id, subset: this.job.subset.name, code: err.code, cause: err.cause, requestId: this.job.requestId });
    this.req.unpipe();
    // An unread request body cannot be skipped safely: close the connection after the answer.
    const close = this.ctx.draining || (this.#hasBody && !this.req.complete);
    sendError(this.res, err, this.job.requestId, close, this.ctx.stats);
    this.#finish();
  }

  #logTruncated(err: Error): void {
    this.ctx.stats.upstreamErrors++;
    const code = err instanceof StickydError ? err.code : errorCode(err);
    log('warn', 'upstream error after response headers', { endpoint: this.job.endpoint.id, subset: this.job.subset.name, code, cause: err.cause, requestId: this.job.requestId });
  }

  readonly #onClientClose = (): void => {
    // The client went away (or the response is complete): either way the exchange is over.
    if (!this.res.writableFinished && !this.#done) {
      this.#finish();
      this.#upstream?.destroy();
    }
  };

  readonly #onClientError = (): void => {
    if (this.#done) return;
    this.#finish();
    this.#upstream?.destroy();
  };

  #clearConnectTimer(): void {
    if (this.#connectTimer !== null) clearTimeout(this.#connectTimer);
    this.#connectTimer = null;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearConnectTimer();
    if (this.#routeTimer !== null) clearTimeout(this.#routeTimer);
    this.job.subset.picker.finish(this.job.index);
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
