// WebSocket upgrades (the only upgrade upgrade-policy.ts lets server.ts hand here): the same guard, route and sticky selection as plain requests,
// then the upgrade request re-sent to the endpoint on a connection of its own. A 101 with a
// valid Sec-WebSocket-Accept joins the two sockets; any other answer is relayed and the
// connection closed; a failure before the 101 is a 502/504. Either side closing tears down both.
// The client socket stays in the ListenerGroup's set, so a drain's deadline closes tunnels too.
import { createHash } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { StickydError, type ErrorCode } from '../errors.js';
import { log } from '../log.js';
import type { WorkerContext } from './handle-request.js';
import { buildEndpointRequestHeaders } from './upstream/request-headers.js';
import { resolveRequest } from './routing/resolve-request.js';
import { errorText } from './downstream/responses.js';
import { readRequestId } from './downstream/request-id.js';
import type { RouteTarget, RuntimeSnapshot } from './routing/runtime-snapshot.js';
import { countOverflow, countSession, countStatus, type SubsetMeter } from './telemetry/stats.js';
import type { BreakerWaiter } from './routing/circuit-breaker.js';
import type { OverflowLimit } from '../protocol.js';
import { isTlsFailure } from './upstream/failure.js';
import { buildUpstreamTlsOptionsOnce, readUpstreamServername } from '../upstream-tls.js';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * After one side half-closes (FIN), the other is ended and both are destroyed this much later:
 * both listeners allow half-open sockets, and a tunnel whose peer said goodbye has no further use.
 */
const HALF_CLOSE_LINGER_MS = 1_000;

/** Response headers of the 101 that stickyd does not relay as received. */
const SKIP_101 = new Set(['x-request-id', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

export function handleUpgrade(ctx: WorkerContext, req: IncomingMessage, socket: Duplex, head: Buffer, listenerPort: number): void {
  ctx.stats.requests++;
  socket.on('error', () => socket.destroy());
  const rt = ctx.current;
  if (rt === null || ctx.draining) return refuse(ctx, socket, 'STICKYD_ERR_NO_HEALTHY_ENDPOINT', 'not serving');
  const r = resolveRequest(rt, listenerPort, req, ctx.health);
  if (r.kind === 'refused') return refuse(ctx, socket, r.code, r.message);
  // OPTIONS * never gets here (upgrade-policy.ts lets only GET upgrade); a 101 cannot be a 301
  if (r.kind !== 'routed') return refuse(ctx, socket, 'STICKYD_ERR_NO_ROUTE', 'this server redirects to https');
  // A route that answers itself, injects faults or applies CORS is served over plain HTTP only.
  const plans = r.route.plans;
  if (plans.answer !== null || plans.fault !== null || plans.cors !== null) return refuse(ctx, socket, 'STICKYD_ERR_NO_ROUTE', 'this route does not forward upgrade requests');
  const { target, index, setCookie, upstreamPath } = r;
  if (upstreamPath === null || target === null) return refuse(ctx, socket, 'STICKYD_ERR_BAD_REQUEST', 'an encoded "/" or "\\" in a path this route rewrites');
  if (index < 0) return refuse(ctx, socket, 'STICKYD_ERR_NO_HEALTHY_ENDPOINT', errorText.noHealthy(target.subset.name));
  countSession(target.subset.meter, r.use === 'minted' || r.use === 'repinned', r.pin, r.use === 'refreshed');
  const sh = r.sessionHeader;
  // our Set-Cookie (minted cookie or pin) or header-form pin, as "Name: value\r\n" lines of the 101
  const sessionLines = (setCookie === null ? '' : `Set-Cookie: ${setCookie}\r\n`) + (sh === null ? '' : `${sh[0]}: ${sh[1]}\r\n`);
  const breaker = target.subset.breaker;
  if (breaker === null) {
    sendUpgrade(ctx, rt, req, socket, head, target, index, sessionLines, upstreamPath, null);
    return;
  }
  // A tunnel holds an upstream connection and is an active request for its whole life (Envoy
  // counts it against max_connections and max_requests), so it passes the subset's breaker.
  let release: (() => void) | null = () => {
    release = null;
    breaker.release();
  };
  const go = (): void => sendUpgrade(ctx, rt, req, socket, head, target, index, sessionLines, upstreamPath, () => release?.());
  const onClose = (): void => breaker.cancel(waiter);
  const waiter: BreakerWaiter = {
    admitted: () => {
      socket.off('close', onClose);
      if (socket.destroyed) release?.();
      else go();
    },
    refused: (limit) => {
      socket.off('close', onClose);
      overloaded(ctx, socket, target.subset.meter, target.subset.name, limit);
    },
  };
  const admission = breaker.admit(waiter);
  if (admission === 'go') go();
  else socket.once('close', onClose);
}

/** A connectionPool limit refused the upgrade: Envoy's 503 with x-envoy-overloaded, never sent upstream. */
function overloaded(ctx: WorkerContext, socket: Duplex, meter: SubsetMeter, subset: string, limit: OverflowLimit): void {
  countOverflow(meter, limit);
  refuse(ctx, socket, 'STICKYD_ERR_UPSTREAM_OVERFLOW', errorText.overflow(subset, limit), 'x-envoy-overloaded: true\r\n');
}

/** The upgrade request re-sent to endpoint `index` on a connection of its own. */
function sendUpgrade(
  ctx: WorkerContext,
  rt: RuntimeSnapshot,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: RouteTarget,
  index: number,
  sessionLines: string,
  path: string,
  /** gives back the breaker's tokens: once, when the client connection closes (null: no breaker) */
  release: (() => void) | null,
): void {
  if (release !== null) socket.once('close', release);
  const subset = target.subset;
  const endpoint = subset.endpoints[index]!;
  const requestId = readRequestId(req.headers['x-request-id']);
  const headers = buildEndpointRequestHeaders(req, rt, requestId, subset.host, target);
  // upgrade-policy.ts let only a websocket upgrade this far
  headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
  // agent: false: the socket leaves any pool the moment it is upgraded.
  const options = { host: endpoint.address, port: endpoint.port, method: req.method, path, headers, agent: false, setHost: false } as const;
  // A TLS subset: the same trust, client certificate and SNI as its pools (upstream-tls.ts).
  const tls = subset.tls;
  const up = tls === null
    ? http.request(options)
    : https.request({ ...options, ...buildUpstreamTlsOptionsOnce(tls), servername: readUpstreamServername(tls, readHost(headers)) });
  const connectTimer = setTimeout(() => up.destroy(new StickydError('STICKYD_ERR_UPSTREAM_TIMEOUT', `upstream connect timeout to ${endpoint.id}`)), rt.settings.upstreamConnectTimeoutMs);
  up.on('socket', (s) => s.once(tls === null ? 'connect' : 'secureConnect', () => clearTimeout(connectTimer)));
  socket.once('close', () => up.destroy());
  up.on('error', (err) => {
    clearTimeout(connectTimer);
    log('warn', 'upstream error on upgrade', { endpoint: endpoint.id, subset: subset.name, code: (err as { code?: string }).code, requestId });
    const code = (err as { code?: string }).code ?? 'UNKNOWN';
    if (err instanceof StickydError) refuse(ctx, socket, err.code, err.message);
    else if (tls !== null && isTlsFailure(code)) refuse(ctx, socket, 'STICKYD_ERR_UPSTREAM_TLS', `upstream TLS error: ${code} from ${endpoint.id}`);
    else refuse(ctx, socket, 'STICKYD_ERR_UPSTREAM_REFUSED', `upstream connect error to ${endpoint.id}`);
  });
  up.on('response', (upRes) => relayRefusal(ctx, socket, upRes));
  up.on('upgrade', (upRes, upSocket, upHead) => {
    clearTimeout(connectTimer);
    if (String(upRes.headers.upgrade).trim().toLowerCase() !== 'websocket' || !acceptMatches(req.headers['sec-websocket-key'], upRes.headers['sec-websocket-accept'])) {
      upSocket.destroy();
      refuse(ctx, socket, 'STICKYD_ERR_UPSTREAM_PROTOCOL', `upstream ${endpoint.id} answered 101 without Upgrade: websocket and a valid Sec-WebSocket-Accept`);
      return;
    }
    join(ctx, socket, head, upRes, upSocket, upHead, requestId, sessionLines);
  });
  up.end();
}

function join(
  ctx: WorkerContext,
  socket: Duplex,
  head: Buffer,
  upRes: IncomingMessage,
  upSocket: Duplex,
  upHead: Buffer,
  requestId: string,
  sessionLines: string,
): void {
  let text = `HTTP/1.1 101 ${upRes.statusMessage || 'Switching Protocols'}\r\n`;
  const raw = upRes.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!SKIP_101.has(raw[i]!.toLowerCase())) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  text += `X-Request-Id: ${requestId}\r\n`;
  text += sessionLines;
  countStatus(ctx.stats, 101);
  socket.write(text + '\r\n');
  if (upHead.length > 0) socket.write(upHead);
  if (head.length > 0) upSocket.write(head);
  const teardown = (): void => {
    socket.destroy();
    upSocket.destroy();
  };
  upSocket.on('error', teardown);
  upSocket.on('close', teardown);
  socket.on('close', teardown);
  const linger = (): void => {
    setTimeout(teardown, HALF_CLOSE_LINGER_MS).unref();
  };
  socket.once('end', linger);
  upSocket.once('end', linger);
  upSocket.pipe(socket);
  socket.pipe(upSocket);
}

/** The upstream declined to upgrade: relay its answer, then close (the connection has no other use). */
function relayRefusal(ctx: WorkerContext, socket: Duplex, upRes: IncomingMessage): void {
  const status = upRes.statusCode ?? 502;
  let text = `HTTP/1.1 ${status} ${upRes.statusMessage ?? ''}\r\n`;
  const raw = upRes.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (lower !== 'connection' && lower !== 'transfer-encoding' && lower !== 'content-length' && lower !== 'keep-alive') text += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  countStatus(ctx.stats, status);
  // Close-delimited body: the client reads until the connection ends.
  socket.write(text + 'Connection: close\r\n\r\n');
  upRes.pipe(socket);
  upRes.on('error', () => socket.destroy());
}

function refuse(ctx: WorkerContext, socket: Duplex, code: ErrorCode, message: string, extraHeaders = ''): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const err = new StickydError(code, message);
  const body = `${message}\n`;
  countStatus(ctx.stats, err.status);
  socket.end(
    `HTTP/1.1 ${err.status} ${http.STATUS_CODES[err.status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}Connection: close\r\n\r\n${body}`,
  );
}

/** RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). upgrade-policy.ts requires a key. */
function acceptMatches(key: string | undefined, accept: string | string[] | undefined): boolean {
  return key !== undefined && typeof accept === 'string' && accept === createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

function readHost(headers: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'host') return headers[i + 1];
  return undefined;
}
