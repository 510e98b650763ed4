// The HTTP request path (HTTP/1.1, and HTTP/2 streams h2-front.ts adapts): resolve-request.ts
// decides route, destination, session key and endpoint; this file answers what it refuses, runs
// the route's CORS and fault steps, writes the answers a route gives itself, and hands the rest to
// the proxy. The request keeps the RuntimeSnapshot it started with even if a reload swaps
// `current` mid-flight.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog } from './telemetry/access-log.js';
import type { HealthState } from './routing/health-state.js';
import { RequestObservation } from './downstream/observe.js';
import { proxyRequest, type ProxyContext } from './upstream/proxy.js';
import { readRequestId } from './downstream/request-id.js';
import { buildError, errorText, sendError, sendHttpsRedirect, sendServerOptions } from './downstream/responses.js';
import { resolveRequest, type Resolved } from './routing/resolve-request.js';
import { readMatchCut } from './routing/route.js';
import type { RuntimeSnapshot } from './routing/runtime-snapshot.js';
import { sendAnswer, type Answer } from './downstream/answers.js';
import { decideCors } from './routing/cors.js';
import { decideFault } from './routing/fault.js';
import { buildLocation } from './routing/redirect.js';
import type { RouteAnswer } from './routing/route-plans.js';
import { readQueryPart } from './routing/upstream-path.js';
import { markClientFaulted } from './downstream/server.js';
import { countUpgradeRefusal, type WorkerStats } from './telemetry/stats.js';
import { checkUpgrade } from './downstream/upgrade-policy.js';

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
  const r = resolveRequest(rt, listenerPort, req, ctx.health);
  if (r.kind === 'routed') observation.sawHost(r.host);
  else {
    if (r.kind === 'refused') {
      // Hostile or ambiguous input: answer and close; nothing of it, or after it, reaches a backend.
      if (r.hostile) markClientFaulted(req.socket);
      sendError(res, buildError(r.code, r.message), requestId, close || r.hostile, ctx.stats);
    } else if (r.kind === 'server-options') sendServerOptions(res, requestId, close, ctx.stats);
    else sendHttpsRedirect(res, r.location, requestId, close, ctx.stats);
    return;
  }
  const route = r.route;
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
  const step: Routed = { ctx, req, res, rt, r, cors, requestId, close, awaitingContinue, observation, scheme };
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
  readonly r: Resolved;
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
  const { ctx, req, res, rt, r, requestId, close } = s;
  const answer = r.route.plans.answer;
  if (answer !== null) {
    const a = buildAnswer(answer, req, s);
    if (a === null) sendError(res, buildError('STICKYD_ERR_BAD_REQUEST', 'a redirect needs the request\'s Host, and this request has none'), requestId, close, ctx.stats);
    else sendAnswer(res, a, requestId, close, ctx.stats);
    return;
  }
  const { upstreamPath, target, index, key, setCookie } = r;
  if (upstreamPath === null || target === null) {
    sendError(res, buildError('STICKYD_ERR_BAD_REQUEST', 'an encoded "/" or "\\" in a path this route rewrites'), requestId, close, ctx.stats);
    return;
  }
  const subset = target.subset;
  s.observation.routed(target, index, key, r.use, r.pin, r.keyHash);
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
    down: r.down,
    timeoutMs: r.route.timeoutMs,
    retries: r.route.retries,
    requestId,
    setCookie,
    sessionHeader: r.sessionHeader,
    observation: s.observation,
    path: upstreamPath,
    edits: target.requestEdits === null && target.responseEdits === null && target.authority === null ? null : target,
    corsHeaders: s.cors,
    mirrors: r.mirrors,
  });
}

/** null: a redirect that needs the request's Host, for a request without one (HTTP/1.0) */
function buildAnswer(answer: RouteAnswer, req: IncomingMessage, s: Routed): Answer | null {
  const cors = s.cors ?? [];
  if (answer.kind === 'direct') return { status: answer.status, headers: cors, body: answer.body, edits: answer.headers };
  const host = req.headers.host ?? '';
  if (host === '' && answer.plan.authority === null) return null;
  const cut = answer.plan.prefixRewrite !== null ? readMatchCut(s.r.route, req, s.r.path) : -1;
  const location = buildLocation(answer.plan, { scheme: s.scheme, host, path: s.r.path, query: readQueryPart(req.url ?? '/'), cut });
  return { status: answer.plan.code, headers: [...cors, 'Location', location], body: null, edits: answer.headers };
}
