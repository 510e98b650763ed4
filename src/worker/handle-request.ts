// The per-request path: route -> subset -> session key -> endpoint (session cache + kernel, or the
// subset's picker) -> proxy. Everything that can be computed per snapshot already is; the request
// keeps the RuntimeSnapshot it started with even if a reload swaps `current` mid-flight.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLog } from './access-log.js';
import type { HealthState } from './health-state.js';
import { RequestObservation } from './observe.js';
import { proxyRequest, type ProxyContext } from './proxy.js';
import { checkRequest } from './request-guard.js';
import { selectPath, selectRequestHost } from './request-head.js';
import { buildError, errorText, sendError, sendHttpsRedirect, sendServerOptions } from './responses.js';
import { checkGatewayServer } from './gateway-checks.js';
import { selectRoute } from './route.js';
import type { RuntimeSnapshot } from './runtime-snapshot.js';
import { selectEndpoint } from './select-endpoint.js';
import { markClientFaulted } from './server.js';
import { selectSessionKey } from './sticky.js';
import { countUpgradeRefusal, type WorkerStats } from './stats.js';
import { selectUpgradeRefusal } from './upgrade-policy.js';

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
  const requestId = selectRequestId(req.headers['x-request-id']);
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
    const reason = selectUpgradeRefusal(req.method, upgrade, req.headers['sec-websocket-key']) ?? 'connection';
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
    const verdict = checkGatewayServer(listener, selectRequestHost(req.headers), req.url ?? '/', req.socket);
    if (verdict !== null) {
      if (verdict.kind === 'redirect') sendHttpsRedirect(res, verdict.location, requestId, close, ctx.stats);
      else sendError(res, buildError('STICKYD_ERR_MISDIRECTED', errorText.misdirected(selectRequestHost(req.headers), verdict.server)), requestId, close, ctx.stats);
      return;
    }
  }
  const target = selectRoute(rt, listenerPort, req);
  if (typeof target === 'string') {
    const host = selectRequestHost(req.headers);
    const message = target === 'STICKYD_ERR_NO_HOST' ? errorText.noHost(host) : errorText.noRoute(host, selectPath(req.url ?? '/'));
    sendError(res, buildError(target, message), requestId, close, ctx.stats);
    return;
  }
  const subset = target.subset;
  const { key, setCookie } = selectSessionKey(subset, req, rt.settings.maxKeyLength);
  const down = ctx.health.view(rt).down[subset.id] ?? null;
  const index = selectEndpoint(rt, subset, key, down);
  observation.routed(target, index, key, setCookie !== null && index >= 0);
  if (index < 0) {
    sendError(res, buildError('STICKYD_ERR_NO_HEALTHY_ENDPOINT', errorText.noHealthy(subset.name)), requestId, close, ctx.stats);
    return;
  }
  if (awaitingContinue) res.writeContinue();
  proxyRequest(ctx, req, res, { rt, subset, index, key, down, timeoutMs: target.route.timeoutMs, retries: target.route.retries, requestId, setCookie, observation });
}

function selectRequestId(value: string | string[] | undefined): string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_REQUEST_ID_LENGTH ? value : randomUUID();
}
