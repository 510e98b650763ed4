// The per-request path: route -> subset -> session key -> endpoint (session cache + kernel, or the
// subset's picker) -> proxy. Everything that can be computed per snapshot already is; the request
// keeps the RuntimeSnapshot it started with even if a reload swaps `current` mid-flight.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog } from './telemetry/access-log.js';
import type { HealthState } from './routing/health-state.js';
import { RequestObservation } from './downstream/observe.js';
import { proxyRequest, type ProxyContext } from './upstream/proxy.js';
import { checkRequest } from './downstream/request-guard.js';
import { readRequestPath, readRequestHost } from './downstream/request-head.js';
import { buildError, errorText, sendError, sendHttpsRedirect, sendServerOptions } from './downstream/responses.js';
import { checkGatewayServer } from './routing/gateway-checks.js';
import { selectDestination, readMatchCut, selectRoute } from './routing/route.js';
import type { RuntimeRoute, RuntimeSnapshot } from './routing/runtime-snapshot.js';
import { sendAnswer, type Answer } from './downstream/answers.js';
import { decideCors } from './routing/cors.js';
import { decideFault } from './routing/fault.js';
import { normalizePath } from './routing/normalize-path.js';
import { buildLocation } from './routing/redirect.js';
import type { RouteAnswer } from './routing/route-plans.js';
import { readQueryPart, buildUpstreamPath } from './routing/upstream-path.js';
import { readConnectionKey } from './downstream/tls-front.js';
import { selectEndpoint } from './routing/select-endpoint.js';
import { markClientFaulted } from './downstream/server.js';
import { readSessionKey } from './routing/sticky.js';
import { countUpgradeRefusal, type WorkerStats } from './telemetry/stats.js';
import { checkUpgrade } from './downstream/upgrade-policy.js';

/** A client X-Request-Id longer than this is replaced: it is echoed and logged, so keep it bounded. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** The worker's mutable state the request path reads. */
export interface WorkerContext extends ProxyContext {
  /** the snapshot new requests use; replaced in one assignment per reload */
  current: RuntimeSnapshot | null;
  draining: boolean;
  readonly stats: WorkerStats;
  /** unhealthy endpoints from the primary (active checks, outlier ejections) */
  readonly health: HealthState;
  readonly accessLog: AccessLog;
}

export function handleRequest(ctx: WorkerContext, req: IncomingMessage, res: ServerResponse, listenerPort: number): void {
  ctx.stats.requests++;
  // Node hands over Expect: 100-continue requests without answering them (server.ts). Until the
  // 100 goes out the client holds its body back, so an answer before that must close the
  // connection: the body may follow or not, and either way it is not read.
  // (Node answers any other expectation with 417 itself; an HTTP/1.0 client gets no 1xx.)
  const awaitingContinue = req.headers.expect !== undefined && req.httpVersionMinor === 1;
  const close = ctx.draining || awaitingContinue;
  const rt = ctx.current;
  const requestId = readRequestId(req.headers['x-request-id']);
  if (rt === null) {
    // Not reachable while main.ts listens only after the first snapshot; kept as a guard.
    sendError(res, buildError('STICKYD_ERR_NO_HEALTHY_ENDPOINT', 'no routing snapshot loaded yet'), requestId, true, ctx.stats);
    return;
  }
  // Metrics and the access log: bumped once the response closes, whichever path answers.
  const observation = new RequestObservation(rt, ctx.accessLog.sampled() ? ctx.accessLog : null, req, res, requestId);
  // Node hands over as an upgrade only requests whose Connection names `upgrade`, and server.ts
  // hands those stickyd does not tunnel back as plain requests: any Upgrade header here is stripped.
  const upgrade = req.headers.upgrade;
  if (upgrade !== undefined) {
    const reason = checkUpgrade(req.method, upgrade, req.headers['sec-websocket-key']) ?? 'connection';
    countUpgradeRefusal(ctx.stats, reason);
    observation.upgradeRefused(reason);
  }
  const refused = checkRequest(req, rt.settings);
  if (refused !== null) {
    // Hostile or ambiguous input: answer and close; nothing of it, or after it, reaches a backend.
    markClientFaulted(req.socket);
    sendError(res, buildError(refused.code, refused.message), requestId, true, ctx.stats);
    return;
  }
  if (req.url === '*') {
    // checkRequest let only OPTIONS through with it
    sendServerOptions(res, requestId, close, ctx.stats);
    return;
  }
  const listener = rt.listeners.get(listenerPort);
  if (listener !== undefined) {
    const verdict = checkGatewayServer(listener, readRequestHost(req.headers), req.url ?? '/', readConnectionKey(req));
    if (verdict !== null) {
      if (verdict.kind === 'redirect') sendHttpsRedirect(res, verdict.location, requestId, close, ctx.stats);
      else sendError(res, buildError('STICKYD_ERR_MISDIRECTED', errorText.misdirected(readRequestHost(req.headers), verdict.server)), requestId, close, ctx.stats);
      return;
    }
  }
  const rawPath = readRequestPath(req.url ?? '/');
  const path = normalizePath(rawPath);
  const route = selectRoute(rt, listenerPort, req, path);
  if (typeof route === 'string') {
    const host = readRequestHost(req.headers);
    const message = route === 'STICKYD_ERR_NO_HOST' ? errorText.noHost(host) : errorText.noRoute(host, path);
    sendError(res, buildError(route, message), requestId, close, ctx.stats);
    return;
  }
  const plans = route.plans;
  let cors: readonly string[] | null = null;
  if (plans.cors !== null) {
    // Envoy's filter order: CORS, then fault, then the router
    const h = req.headers;
    const d = decideCors(plans.cors, req.method ?? 'GET', h.origin, h['access-control-request-method'] as string | undefined);
    if (d.kind === 'preflight') {
      sendAnswer(res, { status: 200, headers: d.headers, body: null, edits: null }, requestId, close, ctx.stats);
      return;
    }
    if (d.kind === 'actual') cors = d.headers;
  }
  const scheme = rt.listeners.get(listenerPort)?.protocol === 'HTTPS' ? 'https' : 'http';
  const step: Routed = { ctx, req, res, rt, route, rawPath, path, cors, requestId, close, awaitingContinue, observation, scheme };
  if (plans.fault === null) {
    forwardRouted(step);
    return;
  }
  const fault = decideFault(plans.fault, rt.random);
  if (fault.delayMs === 0) afterDelay(step, fault.abortStatus);
  else {
    setTimeout(() => {
      if (!res.destroyed && !res.headersSent) afterDelay(step, fault.abortStatus);
    }, fault.delayMs);
  }
}

/** A request matched to a route, carried across a fault delay. */
interface Routed {
  readonly ctx: WorkerContext;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly rt: RuntimeSnapshot;
  readonly route: RuntimeRoute;
  readonly rawPath: string;
  readonly path: string;
  readonly cors: readonly string[] | null;
  readonly requestId: string;
  readonly close: boolean;
  readonly awaitingContinue: boolean;
  readonly observation: RequestObservation;
  /** the listener's scheme, for redirects that keep it */
  readonly scheme: string;
}

/** Envoy's fault abort answers "fault filter abort". */
const FAULT_ABORT_BODY = 'fault filter abort';

function afterDelay(s: Routed, abortStatus: number): void {
  if (abortStatus === 0) {
    forwardRouted(s);
    return;
  }
  sendAnswer(s.res, { status: abortStatus, headers: s.cors ?? [], body: FAULT_ABORT_BODY, edits: null }, s.requestId, s.close, s.ctx.stats);
}

function forwardRouted(s: Routed): void {
  const { ctx, req, res, rt, route, requestId, close } = s;
  const answer = route.plans.answer;
  if (answer !== null) {
    const a = buildAnswer(answer, req, s);
    if (a === null) sendError(res, buildError('STICKYD_ERR_BAD_REQUEST', 'a redirect needs the request\'s Host, and this request has none'), requestId, close, ctx.stats);
    else sendAnswer(res, a, requestId, close, ctx.stats);
    return;
  }
  const upstreamPath = buildUpstreamPath(route, req, s.rawPath, s.path);
  if (upstreamPath === null) {
    sendError(res, buildError('STICKYD_ERR_BAD_REQUEST', 'an encoded "/" or "\\" in a path this route rewrites'), requestId, close, ctx.stats);
    return;
  }
  const target = selectDestination(route, rt.random);
  const subset = target.subset;
  const { key, setCookie } = readSessionKey(subset, req, rt.settings.maxKeyLength);
  const down = ctx.health.view(rt).down[subset.id] ?? null;
  const index = selectEndpoint(rt, subset, key, down);
  s.observation.routed(target, index, key, setCookie !== null && index >= 0);
  if (index < 0) {
    sendError(res, buildError('STICKYD_ERR_NO_HEALTHY_ENDPOINT', errorText.noHealthy(subset.name)), requestId, close, ctx.stats);
    return;
  }
  if (s.awaitingContinue) res.writeContinue();
  proxyRequest(ctx, req, res, {
    rt,
    subset,
    index,
    key,
    down,
    timeoutMs: route.timeoutMs,
    retries: route.retries,
    requestId,
    setCookie,
    observation: s.observation,
    path: upstreamPath,
    edits: target.requestEdits === null && target.responseEdits === null && target.authority === null ? null : target,
    corsHeaders: s.cors,
  });
}

/** null: a redirect that needs the request's Host, for a request without one (HTTP/1.0) */
function buildAnswer(answer: RouteAnswer, req: IncomingMessage, s: Routed): Answer | null {
  const cors = s.cors ?? [];
  if (answer.kind === 'direct') return { status: answer.status, headers: cors, body: answer.body, edits: answer.headers };
  const host = req.headers.host ?? '';
  if (host === '' && answer.plan.authority === null) return null;
  const cut = answer.plan.prefixRewrite !== null ? readMatchCut(s.route, req, s.path) : -1;
  const location = buildLocation(answer.plan, { scheme: s.scheme, host, path: s.path, query: readQueryPart(req.url ?? '/'), cut });
  return { status: answer.plan.code, headers: [...cors, 'Location', location], body: null, edits: answer.headers };
}

function readRequestId(value: string | string[] | undefined): string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_REQUEST_ID_LENGTH ? value : randomUUID();
}
