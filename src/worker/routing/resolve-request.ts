// The request's front half, once for every front end (the HTTP/1.1 server, the HTTP/2 streams
// h2-front.ts adapts to it, and WebSocket upgrades): guard -> Gateway server rules -> route ->
// upstream path -> destination -> session key -> endpoint under the health view. What a front end
// does with the answer (write a response, refuse an upgrade, apply CORS and faults first) stays in
// the front end; which backend a request belongs to is decided here and nowhere else.
import type { ErrorCode } from '../../errors.js';
import { checkRequest, type GuardedRequest } from '../downstream/request-guard.js';
import { readRequestHost, readRequestPath, type RequestHead } from '../downstream/request-head.js';
import { readConnectionKey } from '../downstream/tls-front.js';
import { errorText } from '../downstream/responses.js';
import { checkGatewayServer } from './gateway-checks.js';
import type { HealthState } from './health-state.js';
import { normalizePath } from './normalize-path.js';
import { selectDestination, selectRoute } from './route.js';
import type { RouteTarget, RuntimeRoute, RuntimeSnapshot } from './runtime-snapshot.js';
import { selectMirrorTargets, type MirrorTarget } from './mirror-targets.js';
import { resolveSession } from './resolve-session.js';
import type { PinOutcomeLabel } from '../../protocol.js';
import type { SessionUse } from '../telemetry/access-log.js';
import { selectSessionTarget } from './session-split.js';
import { buildUpstreamPath } from './upstream-path.js';

/** What resolveRequest reads of a request: an IncomingMessage (or an adapted HTTP/2 request) satisfies it. */
export interface ResolvableRequest extends Omit<RequestHead, 'rawHeaders' | 'url' | 'socket'>, GuardedRequest {
  readonly socket: object & { readonly remoteAddress?: string | undefined };
  readonly stream?: { readonly session?: object | undefined } | undefined;
}

export type Resolution =
  /** `hostile`: the guard refused it (ambiguous framing, bad host, ...): answer and close, mark the client */
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string; readonly hostile: boolean }
  /** `OPTIONS *`: the gateway answers for itself (responses.ts) */
  | { readonly kind: 'server-options' }
  /** an HTTP server with tls.httpsRedirect */
  | { readonly kind: 'https-redirect'; readonly location: string }
  | Resolved;

export interface Resolved {
  readonly kind: 'routed';
  readonly route: RuntimeRoute;
  /** the path as received, and as routing matched it (normalize-path.ts) */
  readonly rawPath: string;
  readonly path: string;
  /**
   * What the route forwards, or null: for a route that answers itself (redirect, directResponse), or
   * when a path this route rewrites carries an encoded "/" or "\" (a 400 where it would be forwarded).
   */
  readonly upstreamPath: string | null;
  /** null for a route that answers itself */
  readonly target: RouteTarget | null;
  readonly key: string | null;
  /** our Set-Cookie line when a key was minted (or a pin issued) for this request */
  readonly setCookie: string | null;
  /** a header-form persistent-session pin to send back as [name, value], else null */
  readonly sessionHeader: readonly [string, string] | null;
  /** what happened to the session (the access log's `session`) and a persistent subset's pin outcome */
  readonly use: SessionUse;
  readonly pin: PinOutcomeLabel | null;
  /** the target subset's unavailable endpoints (health checks, ejections), null when all are up */
  readonly down: Uint8Array | null;
  /** index into target.subset.endpoints; -1 when none is healthy (or no target) */
  readonly index: number;
  /** where copies of the request go (the route's mirror / mirrors, each drawn at its percentage); null for none */
  readonly mirrors: MirrorTarget[] | null;
  /** hash32 of `key` when routing computed it, else null (resolve-session.ts) */
  readonly keyHash: number | null;
  /** the request host as routing read it (readRequestHost), so the access line need not read it again */
  readonly host: string;
}

export function resolveRequest(rt: RuntimeSnapshot, listenerPort: number, req: ResolvableRequest, health: HealthState): Resolution {
  const refused = checkRequest(req, rt.settings);
  if (refused !== null) return { kind: 'refused', code: refused.code, message: refused.message, hostile: true };
  const url = req.url ?? '/';
  // checkRequest let only OPTIONS through with it
  if (url === '*') return { kind: 'server-options' };
  const host = readRequestHost(req.headers);
  const listener = rt.listeners.get(listenerPort);
  if (listener !== undefined) {
    const verdict = checkGatewayServer(listener, host, url, readConnectionKey(req));
    if (verdict !== null) {
      if (verdict.kind === 'redirect') return { kind: 'https-redirect', location: verdict.location };
      return { kind: 'refused', code: 'STICKYD_ERR_MISDIRECTED', message: errorText.misdirected(host, verdict.server), hostile: false };
    }
  }
  const rawPath = readRequestPath(url);
  const path = normalizePath(rawPath);
  const route = selectRoute(rt, listenerPort, req, path, host);
  if (typeof route === 'string') {
    return { kind: 'refused', code: route, message: route === 'STICKYD_ERR_NO_HOST' ? errorText.noHost(host) : errorText.noRoute(host, path), hostile: false };
  }
  if (route.plans.answer !== null) {
    return {
      kind: 'routed', route, rawPath, path, upstreamPath: null, target: null, key: null, setCookie: null, sessionHeader: null, use: 'none', pin: null, down: null, index: -1, mirrors: null, keyHash: null, host,
    };
  }
  const upstreamPath = buildUpstreamPath(route, req, rawPath, path);
  // a weighted split follows the session key, minted first when the route mints (session-split.ts)
  const split = route.split === null ? null : selectSessionTarget(rt, route, req);
  const target = split === null ? selectDestination(route, rt.random) : split.target;
  const subset = target.subset;
  const view = health.view(rt);
  const down = view.down[subset.id] ?? null;
  // pin, hash key or picker, new sessions placed by drain and load (resolve-session.ts)
  const s = resolveSession(rt, subset, req, down, undefined, split);
  const mirrors = route.mirrors === null ? null : selectMirrorTargets(rt, route, req, view);
  return {
    kind: 'routed', route, rawPath, path, upstreamPath, target, key: s.key, setCookie: s.setCookie, sessionHeader: s.sessionHeader, use: s.use, pin: s.pin, down, index: s.index, mirrors, keyHash: s.keyHash ?? null, host,
  };
}
