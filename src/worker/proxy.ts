// One request's upstream exchange: stream the request to the endpoint, stream the response back,
// retry what is safe to retry, map failures to catalogue errors. Never throws and never leaves an
// emitter without an 'error' listener: an upstream or client fault must not take the worker down.
// Over 300 lines because the attempt lifecycle (timers, retries, the keep-alive race, body
// streaming) is one state machine whose pieces only make sense together.
import http, { type Agent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { StickydError } from '../errors.js';
import { log } from '../log.js';
import type { RetryPolicy } from '../snapshot/types.js';
import { buildClientHeaders, buildUpstreamHeaders } from './forward-headers.js';
import { selectOutcome, type Outcome, type OutcomeReporter } from './outlier-report.js';
import { normaliseAddress } from './request-head.js';
import { buildError, errorText, sendError } from './responses.js';
import { isIdempotent, shouldRetryFailure, shouldRetryStatus, type AttemptFailure } from './retry-policy.js';
import type { RuntimeSnapshot, RuntimeSubset } from './runtime-snapshot.js';
import { selectRetryEndpoint } from './select-endpoint.js';
import { isClientFaulted } from './server.js';
import type { RequestObservation } from './observe.js';
import { countStatus, countUpstreamFailure, countUpstreamRetry, type WorkerStats } from './stats.js';

/** What the proxy reads from the worker while a request is in flight. */
export interface ProxyContext {
  /** true once the worker drains: every response then carries Connection: close */
  readonly draining: boolean;
  readonly stats: WorkerStats;
  /** passive health reports; null in unit tests */
  readonly outcomes?: OutcomeReporter | null;
}

export interface ProxyJob {
  readonly rt: RuntimeSnapshot;
  readonly subset: RuntimeSubset;
  /** index into subset.endpoints (and subset.agents) of the first attempt */
  readonly index: number;
  /** the session key, so a retry goes to the session's fallback endpoint; null for picker traffic */
  readonly key: string | null;
  /** the subset's health mask when the request started (health-state.ts) */
  readonly down: Uint8Array | null;
  /** the route's timeout, null for none; it bounds every attempt together (Envoy) */
  readonly timeoutMs: number | null;
  readonly retries: RetryPolicy | null;
  readonly requestId: string;
  /** a Set-Cookie line for a freshly minted session, or null */
  readonly setCookie: string | null;
  /** metrics and access log of this request (observe.ts); absent in unit tests */
  readonly observation?: RequestObservation;
}

export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, job: ProxyJob): void {
  new Exchange(ctx, req, res, job).start();
}

/** Marks why this proxy destroyed an upstream request, so the error handler knows what it was. */
type Cut = 'connectTimeout' | 'perTryTimeout' | 'routeTimeout' | 'idleTimeout' | null;

class Exchange {
  readonly #hasBody: boolean;
  /** a retry after bytes may have reached the backend is safe only for these */
  readonly #replayable: boolean;
  #headers: string[] | null = null;
  #index: number;
  #tried: number[] | null = null;
  #attemptsLeft: number;
  #upstream: ClientRequest | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #perTryTimer: NodeJS.Timeout | null = null;
  #routeTimer: NodeJS.Timeout | null = null;
  #cut: Cut = null;
  /** the current attempt's socket is connected: failures from here on are resets, not connect errors */
  #connected = false;
  #responded = false;
  #raceRetried = false;
  /** an upstream failure after the headers went out, for the truncation log line */
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
    this.#replayable = !this.#hasBody && isIdempotent(req.method);
    this.#index = job.index;
    this.#attemptsLeft = job.retries?.attempts ?? 0;
  }

  start(): void {
    this.job.subset.picker.start(this.#index);
    this.res.on('close', this.#onClientClose);
    this.req.on('error', this.#onClientError);
    this.#send(this.job.subset.agents[this.#index]);
    // Envoy's route timeout runs from the end of the downstream request to the end of the response.
    if (this.job.timeoutMs !== null) {
      if (this.#hasBody && !this.req.readableEnded) this.req.once('end', this.#armRouteTimer);
      else this.#armRouteTimer();
    }
  }

  get #endpointId(): string {
    return this.job.subset.endpoints[this.#index]?.id ?? '?';
  }

  #send(agent: Agent | false | undefined): void {
    const { subset, rt } = this.job;
    const endpoint = subset.endpoints[this.#index]!;
    const req = this.req;
    const headers = (this.#headers ??= this.#buildHeaders());
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
    this.#cut = null;
    up.on('error', (err) => this.#onUpstreamError(up, err));
    up.on('response', (upRes) => this.#onResponse(up, upRes));
    up.on('socket', (socket) => this.#onSocket(up, socket as Socket));
    // Envoy's stream idle timeout: nothing from the backend for this long ends the attempt.
    up.setTimeout(rt.settings.upstreamStreamIdleTimeoutMs, () => this.#cutUpstream(up, 'idleTimeout'));
    const perTry = this.job.retries?.perTryTimeoutMs ?? null;
    if (perTry !== null) this.#perTryTimer = setTimeout(() => this.#cutUpstream(up, 'perTryTimeout'), perTry);
    // A body is streamed only once connected: a connect failure then consumed none of it, so the
    // retry is safe for every method (RELIABILITY §2.7).
    if (!this.#hasBody) up.end();
  }

  #buildHeaders(): string[] {
    const req = this.req;
    const address = normaliseAddress(req.socket.remoteAddress ?? '');
    const peers = this.job.rt.trustedPeers;
    return buildUpstreamHeaders(req, {
      clientAddress: address,
      requestId: this.job.requestId,
      fallbackHost: this.job.subset.host,
      trustedPeer: peers !== null && address !== '' && peers.check(address, address.includes(':') ? 'ipv6' : 'ipv4'),
    });
  }

  #onSocket(up: ClientRequest, socket: Socket): void {
    if (this.#done || up !== this.#upstream) return;
    if (!socket.connecting) {
      this.#onConnected(up);
      return;
    }
    this.#connectTimer = setTimeout(() => this.#cutUpstream(up, 'connectTimeout'), this.job.rt.settings.upstreamConnectTimeoutMs);
    socket.once('connect', () => this.#onConnected(up));
  }

  #onConnected(up: ClientRequest): void {
    if (up !== this.#upstream || this.#done) return;
    this.#clearConnectTimer();
    if (isClientFaulted(this.req.socket)) {
      // The request's own bytes turned out malformed after its head: abandon it unsent.
      this.#finish();
      up.destroy();
      return;
    }
    this.#connected = true;
    if (this.#hasBody) this.req.pipe(up);
  }

  #cutUpstream(up: ClientRequest, cut: Exclude<Cut, null>): void {
    if (up !== this.#upstream || this.#done) return;
    this.#cut = cut;
    const id = this.#endpointId;
    const message =
      cut === 'connectTimeout'
        ? errorText.connectTimeout(id)
        : cut === 'routeTimeout'
          ? errorText.routeTimeout(id, this.job.timeoutMs ?? 0)
          : `upstream ${cut === 'perTryTimeout' ? 'per-try timeout' : 'idle timeout'} from ${id}`;
    up.destroy(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', message));
  }

  readonly #armRouteTimer = (): void => {
    if (this.#done || this.job.timeoutMs === null) return;
    this.#routeTimer = setTimeout(() => {
      const up = this.#upstream;
      if (up !== null && !this.#responded) this.#cutUpstream(up, 'routeTimeout');
      else up?.destroy(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', errorText.routeTimeout(this.#endpointId, this.job.timeoutMs ?? 0)));
    }, this.job.timeoutMs);
  };

  #onResponse(up: ClientRequest, upRes: IncomingMessage): void {
    if (this.#done || up !== this.#upstream) {
      upRes.resume();
      return;
    }
    this.#clearAttemptTimers();
    const status = upRes.statusCode ?? 0;
    this.#report(selectOutcome(status));
    const policy = this.job.retries;
    if (policy !== null && this.#attemptsLeft > 0 && shouldRetryStatus(policy, status, this.#replayable)) {
      // Discarded, never relayed; reading it to the end lets the socket go back to the pool.
      upRes.resume();
      this.#retry();
      return;
    }
    const res = this.res;
    try {
      res.writeHead(status, buildClientHeaders(upRes, this.job.requestId, this.job.setCookie, this.ctx.draining));
    } catch (err) {
      // An invalid status (Node's client accepts "099") or header value: nothing was sent yet.
      up.destroy();
      this.#fail(buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(this.#endpointId, errorCode(err)), err));
      return;
    }
    this.#responded = true;
    countStatus(this.ctx.stats, status);
    // pipe(), not pipeline(): Node 20's pipeline() makes an AbortController per call and aborts
    // it at the end, building a DOMException with a stack trace: ~4% of a worker's CPU in the
    // profile (bench/RESULTS.md). A client that leaves is handled by #onClientClose.
    const onBodyError = (err: Error): void => {
      if (this.#done) return;
      // Headers are out: the only honest signal left is a truncated response.
      this.#logTruncated(this.#lateError ?? err);
      res.destroy();
      this.#finish();
    };
    upRes.on('error', onBodyError);
    upRes.once('close', () => { if (!upRes.complete) onBodyError(new Error('upstream closed before the response was complete')); });
    res.once('finish', () => this.#finish());
    upRes.pipe(res);
    // after pipe(), so the pipe is in place before this listener starts the flow
    this.job.observation?.countBody(upRes);
  }

  #onUpstreamError(up: ClientRequest, err: Error): void {
    if (this.#done || up !== this.#upstream) return;
    if (this.#responded) {
      // Headers are out; the body's error handler logs and finishes once the client side is down.
      this.#lateError = err;
      this.res.destroy();
      return;
    }
    this.#clearAttemptTimers();
    const code = errorCode(err);
    if (code === 'ECONNRESET' && up.reusedSocket && !this.#raceRetried && this.#replayable && this.#cut === null) {
      // The backend closed an idle keep-alive socket as we reused it (RELIABILITY §2.7): nothing
      // reached it, so replay once on a fresh connection of its own. Not the backend's fault,
      // not one of the route's retry attempts.
      this.#raceRetried = true;
      this.ctx.stats.upstreamRetries++;
      this.#send(false);
      return;
    }
    const failure = this.#failureOf(err);
    const error = this.#classify(err);
    countUpstreamFailure(this.job.subset.meter, this.#index, error.code);
    this.#report(code.startsWith('HPE_') ? 'gateway' : 'local');
    const policy = this.job.retries;
    if (failure !== null && policy !== null && this.#attemptsLeft > 0 && shouldRetryFailure(policy, failure, this.#replayable)) {
      this.#retry();
      return;
    }
    this.#fail(error);
  }

  /** null: not retriable whatever the policy (route or idle timeout, invalid response). */
  #failureOf(err: Error): AttemptFailure | null {
    if (this.#cut === 'routeTimeout' || this.#cut === 'idleTimeout') return null;
    if (this.#cut === 'perTryTimeout') return 'perTryTimeout';
    if (this.#cut === 'connectTimeout' || !this.#connected) return 'connect';
    return errorCode(err).startsWith('HPE_') ? null : 'reset';
  }

  /** Next attempt on the session's fallback (or another picked) endpoint. */
  #retry(): void {
    this.#attemptsLeft--;
    this.ctx.stats.upstreamRetries++;
    const { rt, subset, key, down } = this.job;
    countUpstreamRetry(subset.meter, this.#index);
    const tried = (this.#tried ??= [this.#index]);
    const next = selectRetryEndpoint(rt, subset, key, down, tried);
    tried.push(next);
    subset.picker.finish(this.#index);
    this.#index = next;
    subset.picker.start(next);
    this.job.observation?.retarget(next);
    this.#send(subset.agents[next]);
  }

  #report(outcome: Outcome): void {
    const subset = this.job.subset;
    if (subset.outlier !== null) this.ctx.outcomes?.record(subset, this.job.rt.epoch, this.#index, outcome);
  }

  #classify(err: Error): StickydError {
    if (err instanceof StickydError) return err;
    const id = this.#endpointId;
    const code = errorCode(err);
    if (code === 'ECONNREFUSED') return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.refused(id), err);
    if (code.startsWith('HPE_')) return buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(id, code), err);
    if (!this.#connected) return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.connectFailed(id, code), err);
    return buildError('STICKYD_ERR_UPSTREAM_RESET', errorText.reset(id), err);
  }

  #fail(err: StickydError): void {
    this.ctx.stats.upstreamErrors++;
    const attempts = (this.#tried?.length ?? 1);
    log('warn', 'upstream error', { endpoint: this.#endpointId, subset: this.job.subset.name, code: err.code, attempts, cause: err.cause, requestId: this.job.requestId });
    this.req.unpipe();
    // An unread request body cannot be skipped safely: close the connection after the answer.
    const close = this.ctx.draining || (this.#hasBody && !this.req.complete);
    sendError(this.res, err, this.job.requestId, close, this.ctx.stats);
    this.#finish();
  }

  #logTruncated(err: Error): void {
    this.ctx.stats.upstreamErrors++;
    const code = err instanceof StickydError ? err.code : errorCode(err);
    // Only upstream faults count against the endpoint; a client that went away is not one.
    if (this.#lateError !== null) countUpstreamFailure(this.job.subset.meter, this.#index, err instanceof StickydError ? err.code : 'STICKYD_ERR_UPSTREAM_RESET');
    log('warn', 'upstream error after response headers', { endpoint: this.#endpointId, subset: this.job.subset.name, code, cause: err.cause, requestId: this.job.requestId });
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

  #clearAttemptTimers(): void {
    this.#clearConnectTimer();
    if (this.#perTryTimer !== null) clearTimeout(this.#perTryTimer);
    this.#perTryTimer = null;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearAttemptTimers();
    if (this.#routeTimer !== null) clearTimeout(this.#routeTimer);
    this.job.subset.picker.finish(this.#index);
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
