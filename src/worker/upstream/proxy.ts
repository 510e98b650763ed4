// One request's upstream exchange: stream the request to the endpoint, stream the response back,
// retry what is safe to retry, map failures to catalogue errors. Never throws and never leaves an
// emitter without an 'error' listener: an upstream or client fault must not take the worker down.
// Over 300 lines because the attempt lifecycle (timers, retries, the keep-alive race, body
// streaming) is one state machine whose pieces only make sense together. The wire side of one
// attempt is attempt.ts, on the endpoint's undici Pool (pool.ts); what a failure means is failure.ts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { StickydError } from '../../errors.js';
import { log } from '../../log.js';
import type { HeaderOp, RetryPolicy } from '../../snapshot/types.js';
import { applyHeaderEdits } from '../downstream/header-edits.js';
import { computeBackoffMs } from './backoff.js';
import { buildClientHeaders } from '../downstream/forward-headers.js';
import { buildEndpointRequestHeaders, readClientAddress } from './request-headers.js';
import { classifyOutcome, type Outcome, type OutcomeReporter } from './outlier-report.js';
import { buildError, errorText, sendError } from '../downstream/responses.js';
import { isIdempotent, shouldRetryFailure, shouldRetryStatus } from './retry-policy.js';
import type { RuntimeSnapshot, RuntimeSubset } from '../routing/runtime-snapshot.js';
import { selectRetryEndpoint } from '../routing/select-endpoint.js';
import { buildMovedPin } from '../routing/persistent-session.js';
import { isClientFaulted } from '../downstream/server.js';
import { UnaskedSwitchError, UpstreamAttempt, type AttemptSink } from './attempt.js';
import { classifyFailure, failureOutcome, isConnectionReset, isRefusedAsGiven, readAttemptFailure, readErrorCode, type Cut } from './failure.js';
import { dispatchOnFreshConnection } from './pool.js';
import { MirrorCopies } from './mirror.js';
import type { MirrorTarget } from '../routing/mirror-targets.js';
import type { BreakerWaiter } from '../routing/circuit-breaker.js';
import type { OverflowLimit } from '../../protocol.js';
import { readUpstreamServername } from '../../upstream-tls.js';
import type { RequestObservation } from '../downstream/observe.js';
import { countOverflow, countStatus, countUpgradeRefusal, countUpstreamFailure, countUpstreamRetry, type WorkerStats } from '../telemetry/stats.js';

/** Envoy's default retry backoff base when a policy carries none (config/validate/retries.ts sets it) */
const DEFAULT_BACKOFF_BASE_MS = 25;

/** What the proxy reads from the worker while a request is in flight. */
export interface ProxyContext {
  /** true once the worker drains: every response then carries Connection: close */
  readonly draining: boolean;
  readonly stats: WorkerStats;
  /** passive health reports; null in unit tests */
  readonly outcomes?: OutcomeReporter | null;
  /** how the keep-alive race replay gets a connection of its own; pool.ts's by default, a fake in unit tests */
  readonly dispatchFresh?: typeof dispatchOnFreshConnection;
}

export interface ProxyJob {
  readonly rt: RuntimeSnapshot;
  readonly subset: RuntimeSubset;
  /** index into subset.endpoints (and subset.pools) of the first attempt */
  readonly index: number;
  /** the session key, so a retry goes to the session's fallback endpoint; null for picker traffic */
  readonly key: string | null;
  /** the subset's health mask when the request started (health-state.ts) */
  readonly down: Uint8Array | null;
  /** the route's timeout, null for none; it bounds every attempt together (Envoy) */
  readonly timeoutMs: number | null;
  readonly retries: RetryPolicy | null;
  readonly requestId: string;
  /** a Set-Cookie line for a freshly minted session (or a new pin), or null */
  readonly setCookie: string | null;
  /** a header-form persistent-session pin to return as [name, value]; absent or null: none */
  readonly sessionHeader?: readonly [string, string] | null;
  /** metrics and access log of this request (observe.ts); absent in unit tests */
  readonly observation?: RequestObservation;
  /** the request target sent upstream (normalised, rewritten); absent: the client's as received */
  readonly path?: string;
  /** the route destination's header edits and authority (routing/runtime-snapshot.ts); absent: none */
  readonly edits?: ForwardEdits | null;
  /** CORS response headers for an allowed cross-origin request, or null */
  readonly corsHeaders?: readonly string[] | null;
  /** where copies of this request go (routing/mirror-targets.ts); absent or null: none */
  readonly mirrors?: readonly MirrorTarget[] | null;
}

/** What a route destination changes in the exchange (a RouteTarget is one). */
export interface ForwardEdits {
  readonly requestEdits: readonly HeaderOp[] | null;
  readonly responseEdits: readonly HeaderOp[] | null;
  readonly authority: string | null;
}

export function proxyRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, job: ProxyJob): void {
  new Exchange(ctx, req, res, job).start();
}

/** Envoy marks a circuit-breaker overflow with this response header. */
const OVERLOADED_HEADER = ['x-envoy-overloaded', 'true'] as const;

class Exchange implements AttemptSink, BreakerWaiter {
  readonly #hasBody: boolean;
  /** a retry after bytes may have reached the backend is safe only for these */
  readonly #replayable: boolean;
  #headers: string[] | null = null;
  #index: number;
  #tried: number[] | null = null;
  #attemptsLeft: number;
  #attempt: UpstreamAttempt | null = null;
  /** the current attempt's request body; the client request is piped in once a socket is up */
  #body: PassThrough | null = null;
  #perTryTimer: NodeJS.Timeout | null = null;
  /** waiting out a retry's backoff */
  #backoffTimer: NodeJS.Timeout | null = null;
  #routeTimer: NodeJS.Timeout | null = null;
  #cut: Cut = null;
  #responded = false;
  #raceRetried = false;
  #done = false;
  /** the route's mirrors for this request (mirror.ts), null for none */
  readonly #mirrors: MirrorCopies | null;
  /** where this exchange stands with the subset's circuit breaker */
  #slot: 'none' | 'queued' | 'active' = 'none';
  /** holds one of the breaker's outstanding retries (Envoy counts a retry until it completes) */
  #retrySlot = false;
  /** resumes the attempt on the client's 'drain' */
  #resume: (() => void) | null = null;

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
    this.#mirrors = job.mirrors == null ? null : new MirrorCopies(ctx.stats, job.mirrors, req);
  }

  start(): void {
    this.job.subset.picker.start(this.#index);
    // One 'close' listener per response, not two: the observation runs this after its own (observe.ts)
    const observation = this.job.observation;
    if (observation !== undefined) observation.onClose(this.#onClientClose);
    else this.res.on('close', this.#onClientClose);
    this.req.on('error', this.#onClientError);
    const breaker = this.job.subset.breaker;
    const admission = breaker === null ? 'go' : breaker.admit(this);
    if (admission === 'waiting') this.#slot = 'queued';
    else {
      if (breaker !== null) this.#slot = 'active';
      this.#send();
      this.#sendMirrors();
    }
    // Envoy's route timeout runs from the end of the downstream request to the end of the response
    // (a request waiting for a connection included).
    if (this.job.timeoutMs !== null && !this.#done) {
      if (this.#hasBody && !this.req.readableEnded) this.req.once('end', () => this.#armRouteTimer());
      else this.#armRouteTimer();
    }
  }

  /** The route's mirrors get their copies once the request is on its way (an overflowed request is not mirrored). */
  #sendMirrors(): void {
    const mirrors = this.#mirrors;
    if (mirrors !== null && mirrors.pending && this.#headers !== null) {
      const settings = this.job.rt.settings;
      mirrors.send({ method: this.req.method ?? 'GET', path: this.job.path ?? this.req.url ?? '/', headers: this.#headers, timeoutMs: this.job.timeoutMs, idleTimeoutMs: settings.upstreamStreamIdleTimeoutMs });
    }
  }

  /** The circuit breaker gave this waiting exchange its tokens. */
  admitted(): void {
    this.#slot = 'active';
    if (this.#done) this.#releaseSlots();
    else {
      this.#send();
      this.#sendMirrors();
    }
  }

  /** The circuit breaker refused this waiting exchange: every token of the daemon was in use. */
  refused(limit: OverflowLimit): void {
    this.#slot = 'none';
    if (!this.#done) this.#overflow(limit);
  }

  /** A connectionPool limit refused the request: Envoy's 503 with x-envoy-overloaded, never sent upstream. */
  #overflow(limit: OverflowLimit): void {
    countOverflow(this.job.subset.meter, limit);
    this.job.observation?.overflowed(limit);
    this.req.unpipe();
    const close = this.ctx.draining || (this.#hasBody && !this.req.complete);
    sendError(this.res, buildError('STICKYD_ERR_UPSTREAM_OVERFLOW', errorText.overflow(this.job.subset.name, limit)), this.job.requestId, close, this.ctx.stats, OVERLOADED_HEADER);
    this.#finish();
  }

  /** Whether a retry may start: the subset's maxRetries share has room, or this exchange already holds one. */
  #takeRetry(): boolean {
    const breaker = this.job.subset.breaker;
    if (breaker === null || this.#retrySlot) return true;
    if (breaker.tryRetry()) {
      this.#retrySlot = true;
      return true;
    }
    // Envoy: the retry is not made and the attempt's own outcome stands; counted as an overflow
    countOverflow(this.job.subset.meter, 'maxRetries');
    this.job.observation?.overflowed('maxRetries');
    return false;
  }

  #releaseSlots(): void {
    const breaker = this.job.subset.breaker;
    if (breaker === null) return;
    if (this.#slot === 'queued') breaker.cancel(this);
    const held = this.#slot === 'active';
    this.#slot = 'none';
    if (this.#retrySlot) {
      this.#retrySlot = false;
      breaker.releaseRetry();
    }
    if (held) breaker.release();
  }

  get #endpointId(): string {
    return this.job.subset.endpoints[this.#index]?.id ?? '?';
  }

  /** `fresh`: on a connection of its own rather than the endpoint's pool (the keep-alive race). */
  #send(fresh = false): void {
    const pool = this.job.subset.pools[this.#index];
    if (pool === undefined) {
      this.#fail(buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.connectFailed(this.#endpointId, 'NO_POOL')));
      return;
    }
    const req = this.req;
    const attempt = new UpstreamAttempt(this);
    this.#attempt = attempt;
    this.#cut = null;
    // A fresh body stream per attempt: the client's bytes flow into it only once a socket is up,
    // so a connect failure consumed none of them and the retry is safe for every method
    // (docs/reliability.md, Upstream faults); and undici destroying it on failure cannot touch the client request.
    const body = this.#hasBody ? (this.#body = new PassThrough()) : null;
    // undici may destroy it with the attempt's error, which reaches us through the attempt; an
    // 'error' event nobody listens to would take the worker down.
    body?.on('error', ignore);
    // Envoy's stream idle timeout: nothing from the backend for this long ends the attempt.
    const settings = this.job.rt.settings;
    const idle = settings.upstreamStreamIdleTimeoutMs;
    const endpoint = this.job.subset.endpoints[this.#index]!;
    const headers = (this.#headers ??= this.#buildHeaders());
    const tls = this.job.subset.tls;
    const options = {
      method: req.method ?? 'GET',
      path: this.job.path ?? req.url ?? '/',
      headers,
      body,
      headersTimeout: idle,
      bodyTimeout: idle,
      // TLS SNI (upstream-tls.ts); on plain HTTP unused, and given so undici does not derive it
      // from each request's Host (net.isIP's IPv6 regex per request, in the profile).
      servername: tls === null ? endpoint.address : readUpstreamServername(tls, readHost(headers)),
    };
    if (fresh) (this.ctx.dispatchFresh ?? dispatchOnFreshConnection)(endpoint, settings.upstreamConnectTimeoutMs, options, attempt, pool);
    else pool.dispatch(options, attempt);
    // undici reports a request it refuses (or a closed pool) synchronously, through onError.
    if (attempt !== this.#attempt || this.#done) return;
    const perTry = this.job.retries?.perTryTimeoutMs ?? null;
    if (perTry !== null) this.#perTryTimer = setTimeout(() => this.#cutAttempt(attempt, 'perTryTimeout'), perTry);
  }

  #buildHeaders(): string[] {
    // built once per exchange (retries reuse the head); the access line takes the address too
    const client = readClientAddress(this.req);
    this.job.observation?.sawClient(client);
    return buildEndpointRequestHeaders(this.req, this.job.rt, this.job.requestId, this.job.subset.host, this.job.edits ?? null, client);
  }

  #clientHeaders(rawHeaders: string[]): string[] {
    let { setCookie } = this.job;
    let pin = this.job.sessionHeader ?? null;
    const pins = this.job.subset.pins;
    if (pins !== null && this.#index !== this.job.index && this.job.key !== null) {
      // a retry was answered by another endpoint than the pinned one: re-pin the session there
      ({ setCookie, sessionHeader: pin } = buildMovedPin(pins, this.job.key, this.#index, Math.floor(Date.now() / 1000)));
    }
    let headers = buildClientHeaders(rawHeaders, this.job.requestId, setCookie, this.ctx.draining, pin !== null);
    // a header-form pin replaces any same-named header of the backend's: the client must get ours
    if (pin != null) headers = applyHeaderEdits(headers, [{ op: 'set', name: pin[0], value: pin[1] }]);
    const edits = this.job.edits?.responseEdits;
    if (edits != null) headers = applyHeaderEdits(headers, edits);
    const cors = this.job.corsHeaders;
    if (cors != null) {
      // Envoy's CORS filter sets these over whatever the backend sent
      for (let i = 0; i < cors.length; i += 2) headers = applyHeaderEdits(headers, [{ op: 'set', name: cors[i]!.toLowerCase(), value: cors[i + 1]! }]);
    }
    return headers;
  }

  onAttemptSent(attempt: UpstreamAttempt): void {
    if (attempt !== this.#attempt || this.#done) return;
    if (isClientFaulted(this.req.socket)) {
      // The request's own bytes turned out malformed after its head: abandon it unsent.
      this.#finish();
      attempt.cancel(new Error('client request faulted'));
      return;
    }
    if (this.#body !== null) {
      this.req.pipe(this.#body);
      this.#mirrors?.tap(this.req);
    }
  }

  #cutAttempt(attempt: UpstreamAttempt, cut: Exclude<Cut, null>): void {
    if (attempt !== this.#attempt || this.#done) return;
    this.#cut = cut;
    const id = this.#endpointId;
    const message = cut === 'routeTimeout' ? errorText.routeTimeout(id, this.job.timeoutMs ?? 0) : `upstream per-try timeout from ${id}`;
    attempt.fail(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', message));
  }

  /** A method, not a per-exchange arrow: most routes have no timeout, so no closure is made for them. */
  #armRouteTimer(): void {
    if (this.#done || this.job.timeoutMs === null) return;
    this.#routeTimer = setTimeout(() => {
      const attempt = this.#attempt;
      if (attempt !== null) this.#cutAttempt(attempt, 'routeTimeout');
      else if (this.#backoffTimer !== null || this.#slot === 'queued') this.#fail(buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', errorText.routeTimeout(this.#endpointId, this.job.timeoutMs ?? 0)));
    }, this.job.timeoutMs);
  }

  onAttemptHead(attempt: UpstreamAttempt, status: number, rawHeaders: string[]): void {
    if (attempt !== this.#attempt || this.#done) return;
    this.#clearPerTryTimer();
    this.#report(classifyOutcome(status));
    const policy = this.job.retries;
    if (policy !== null && this.#attemptsLeft > 0 && shouldRetryStatus(policy, status, this.#replayable) && this.#takeRetry()) {
      // Discarded, never relayed; read to its end so the socket goes back to the pool.
      attempt.discard();
      this.#retry();
      return;
    }
    try {
      this.res.writeHead(status, this.#clientHeaders(rawHeaders));
    } catch (err) {
      // An invalid status ("099") or header value: nothing was sent to the client yet.
      attempt.cancel(new Error('invalid upstream response'));
      this.#fail(buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(this.#endpointId, readErrorCode(err)), err));
      return;
    }
    // Node writes the head and each body chunk in writes of their own; corked until the current
    // tick ends, a response that arrived in one upstream read (head, body, end) leaves in one
    // writev (bench/RESULTS.md). A larger body is uncorked after its first chunks, as they come.
    // Not over HTTP/2: there `res.socket` is a proxy onto the session's socket that throws once the
    // session is gone, and a client resetting streams (rapid reset) could make the nextTick uncork
    // throw outside any handler and take the worker down.
    const socket = this.res instanceof Http2ServerResponse ? null : this.res.socket;
    if (socket !== null && socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(uncork, socket);
    }
    this.#responded = true;
    countStatus(this.ctx.stats, status);
    this.job.observation?.countBody();
  }

  onAttemptData(chunk: Buffer): boolean {
    this.job.observation?.addBodyBytes(chunk.length);
    if (this.res.write(chunk)) return true;
    // made on the first backpressure only: a small response never needs it
    this.res.once('drain', (this.#resume ??= () => this.#attempt?.resume()));
    return false;
  }

  onAttemptEnd(attempt: UpstreamAttempt): void {
    if (attempt !== this.#attempt || this.#done) return;
    this.res.end();
    this.#finish();
  }

  onAttemptError(attempt: UpstreamAttempt, err: Error): void {
    if (attempt !== this.#attempt || this.#done) return;
    if (this.#responded) {
      // Headers are out: the only honest signal left is a truncated response.
      this.#logTruncated(err);
      this.res.destroy();
      this.#finish();
      return;
    }
    this.#clearPerTryTimer();
    if (err instanceof UnaskedSwitchError) {
      // Never retried: the endpoint is misbehaving, like an unparsable response (HPE_*).
      countUpgradeRefusal(this.ctx.stats, 'upstream_101');
      this.job.observation?.upgradeRefused('upstream_101');
      countUpstreamFailure(this.job.subset.meter, this.#index, 'STICKYD_ERR_UPSTREAM_PROTOCOL');
      this.#report('gateway');
      this.#fail(buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(this.#endpointId, '101 to a request sent without Upgrade'), err));
      return;
    }
    const code = readErrorCode(err);
    if (isRefusedAsGiven(code)) {
      this.#fail(buildError('STICKYD_ERR_BAD_REQUEST', `request cannot be forwarded: ${code}`, err));
      return;
    }
    if (attempt.sent && isConnectionReset(code) && !this.#raceRetried && this.#replayable && this.#cut === null) {
      // A connection closed under a bodiless idempotent request before any answer: most often the
      // backend closing an idle keep-alive socket as we reused it (docs/reliability.md). undici does
      // not say whether the socket was reused, so any such reset is replayed once, on the same
      // endpoint, on a connection of its own. Not counted against the endpoint, not one of the
      // route's retry attempts.
      this.#raceRetried = true;
      this.ctx.stats.upstreamRetries++;
      this.#send(true);
      return;
    }
    const failure = readAttemptFailure(code, this.#cut, attempt.sent);
    const error = classifyFailure(err, attempt.sent, this.#endpointId);
    countUpstreamFailure(this.job.subset.meter, this.#index, error.code);
    this.#report(failureOutcome(code));
    const policy = this.job.retries;
    if (failure !== null && policy !== null && this.#attemptsLeft > 0 && shouldRetryFailure(policy, failure, this.#replayable) && this.#takeRetry()) {
      this.#retry();
      return;
    }
    this.#fail(error);
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
    const retry = (this.#tried?.length ?? 2) - 1;
    const wait = computeBackoffMs(this.job.retries?.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS, retry, Math.random);
    if (wait <= 0) {
      this.#send();
      return;
    }
    // Envoy's retry backoff; the route timeout still runs, and ends the wait if it fires first
    this.#attempt = null;
    this.#backoffTimer = setTimeout(() => {
      this.#backoffTimer = null;
      if (!this.#done) this.#send();
    }, wait);
  }

  #report(outcome: Outcome): void {
    const subset = this.job.subset;
    if (subset.outlier !== null) this.ctx.outcomes?.record(subset, this.job.rt.epoch, this.#index, outcome);
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
    const code = err instanceof StickydError ? err.code : readErrorCode(err);
    // The client leaving cancels the attempt without a report: whatever lands here is upstream's.
    countUpstreamFailure(this.job.subset.meter, this.#index, err instanceof StickydError ? err.code : 'STICKYD_ERR_UPSTREAM_RESET');
    log('warn', 'upstream error after response headers', { endpoint: this.#endpointId, subset: this.job.subset.name, code, cause: err.cause ?? readErrorCode(err), requestId: this.job.requestId });
  }

  readonly #onClientClose = (): void => {
    // The client went away (or the response is complete): either way the exchange is over.
    if (!this.res.writableFinished && !this.#done) {
      this.#finish();
      this.#cancelAttempt('client closed the connection');
    }
  };

  readonly #onClientError = (): void => {
    if (this.#done) return;
    this.#finish();
    this.#cancelAttempt('client request failed');
  };

  #cancelAttempt(why: string): void {
    this.req.unpipe();
    this.#attempt?.cancel(new Error(why));
  }

  #clearPerTryTimer(): void {
    if (this.#perTryTimer !== null) clearTimeout(this.#perTryTimer);
    this.#perTryTimer = null;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#clearPerTryTimer();
    if (this.#routeTimer !== null) clearTimeout(this.#routeTimer);
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    this.#backoffTimer = null;
    this.job.subset.picker.finish(this.#index);
    this.#mirrors?.release();
    this.#releaseSlots();
  }
}

function ignore(): void {}

function uncork(socket: Socket): void {
  socket.uncork();
}

/** The Host in a flat [name, value, ...] header list. */
function readHost(headers: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.length === 4 && headers[i]!.toLowerCase() === 'host') return headers[i + 1];
  return undefined;
}
