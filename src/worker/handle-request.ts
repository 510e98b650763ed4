// The per-request path: route -> subset -> session key -> endpoint (session cache + kernel, or the
// subset's picker) -> proxy. Everything that can be computed per snapshot already is; the request
// keeps the RuntimeSnapshot it started with even if a reload swaps `current` mid-flight.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { proxyRequest, type ProxyContext } from './proxy.js';
import { selectPath, selectRequestHost } from './request-head.js';
import { buildError, errorText, sendError } from './responses.js';
import { selectRoute } from './route.js';
import type { RuntimeSnapshot } from './runtime-snapshot.js';
import { mintSessionKey, selectHashKey } from './sticky.js';
import type { WorkerStats } from './stats.js';

/** A client X-Request-Id longer than this is replaced: it is echoed and logged, so keep it bounded. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** The worker's mutable state the request path reads. */
export interface WorkerContext extends ProxyContext {
  /** the snapshot new requests use; replaced in one assignment per reload */
  current: RuntimeSnapshot | null;
  draining: boolean;
  readonly stats: WorkerStats;
}

export function handleRequest(ctx: WorkerContext, req: IncomingMessage, res: ServerResponse, listenerPort: number): void {
  ctx.stats.requests++;
  const rt = ctx.current;
  const requestId = selectRequestId(req.headers['x-request-id']);
  if (rt === null) {
    // Not reachable while main.ts listens only after the first snapshot; kept as a guard.
    sendError(res, buildError('STICKYD_ERR_NO_HEALTHY_ENDPOINT', 'no routing snapshot loaded yet'), requestId, true, ctx.stats);
    return;
  }
  const target = selectRoute(rt, listenerPort, req);
  if (typeof target === 'string') {
    const host = selectRequestHost(req.headers);
    const message = target === 'STICKYD_ERR_NO_HOST' ? errorText.noHost(host) : errorText.noRoute(host, selectPath(req.url ?? '/'));
    sendError(res, buildError(target, message), requestId, ctx.draining, ctx.stats);
    return;
  }
  const subset = target.subset;
  let index: number;
  let setCookie: string | null = null;
  if (subset.hashKey === null) {
    index = subset.picker.pick();
  } else {
    let key = selectHashKey(subset.hashKey, req, rt.settings.maxKeyLength);
    if (key === null && subset.mintsCookie) {
      key = mintSessionKey();
      setCookie = subset.setCookiePrefix + key + subset.setCookieSuffix;
    }
    index = key === null ? subset.picker.pick() : rt.sessions.resolve(subset.id, key);
  }
  const endpoint = subset.endpoints[index];
  if (endpoint === undefined) {
    sendError(res, buildError('STICKYD_ERR_NO_HEALTHY_ENDPOINT', errorText.noHealthy(subset.name)), requestId, ctx.draining, ctx.stats);
    return;
  }
  proxyRequest(ctx, req, res, {
    subset,
    index,
    endpoint,
    agent: subset.agents[index],
    connectTimeoutMs: rt.settings.upstreamConnectTimeoutMs,
    timeoutMs: target.route.timeoutMs,
    requestId,
    setCookie,
  });
}

function selectRequestId(value: string | string[] | undefined): string {
  return typeof value === 'string' && value !== '' && value.length <= MAX_REQUEST_ID_LENGTH ? value : randomUUID();
}
