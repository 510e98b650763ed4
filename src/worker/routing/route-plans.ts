// The per-route plans a RuntimeRoute carries beside its matches and targets, built once when a
// snapshot arrives from the data the primary compiled: the rewrite's RegExp, the CORS matchers,
// and the answers stickyd gives itself (redirect, direct response) with their header lists.
import type { CorsPlan, FaultPlan, HeaderOp, RedirectPlan, Route, RouteMatch } from '../../snapshot/types.js';
import type { CompiledCors } from './cors.js';
import type { CompiledRewrite } from './rewrite-path.js';
import { StickydError } from '../../errors.js';

/** What a route does instead of forwarding. */
export type RouteAnswer =
  | { readonly kind: 'redirect'; readonly plan: RedirectPlan; readonly headers: readonly HeaderOp[] }
  | { readonly kind: 'direct'; readonly status: number; readonly body: Buffer | null; readonly headers: readonly HeaderOp[] };

export interface RoutePlans {
  readonly rewrite: CompiledRewrite | null;
  readonly answer: RouteAnswer | null;
  readonly fault: FaultPlan | null;
  readonly cors: CompiledCors | null;
  /** whether the path cut of the selecting match is needed (uri rewrite, redirect prefixRewrite) */
  readonly needsCut: boolean;
}

export function buildRoutePlans(r: Route): RoutePlans {
  const rewrite = r.rewrite == null ? null : buildRewrite(r);
  const headers = r.responseHeaders ?? [];
  let answer: RouteAnswer | null = null;
  if (r.redirect != null) answer = { kind: 'redirect', plan: r.redirect, headers };
  else if (r.directResponse != null) {
    const body = r.directResponse.body;
    answer = { kind: 'direct', status: r.directResponse.status, body: body === null ? null : Buffer.from(body), headers };
  }
  const needsCut = (rewrite !== null && rewrite.uri !== null) || (answer?.kind === 'redirect' && answer.plan.prefixRewrite !== null);
  return { rewrite, answer, fault: r.fault ?? null, cors: r.cors == null ? null : buildCors(r.name, r.cors), needsCut };
}

function buildRewrite(r: Route): CompiledRewrite {
  const p = r.rewrite!;
  const regex = p.regex === null ? null : compile(r.name, p.regex.pattern.source, p.regex.pattern.flags);
  return { uri: p.uri, regex, replacement: p.regex?.replacement ?? '' };
}

function buildCors(route: string, plan: CorsPlan): CompiledCors {
  return {
    plan,
    origins: plan.origins.map((m) => ({ kind: m.kind, value: m.value, regex: m.kind === 'regex' ? compile(route, `^(?:${m.value})$`, '') : null })),
  };
}

function compile(route: string, source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new StickydError('STICKYD_ERR_RELOAD', `route ${route}: invalid regex ${JSON.stringify(source)}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * How much of the path a match matched, for Envoy's prefix_rewrite: its uri prefix's length, the
 * whole path (-1) for exact and regex matches, and 1 for a match without uri (Envoy's prefix "/").
 */
export function buildMatchCut(m: RouteMatch): number {
  if (m.uri === null) return 1;
  return m.uri.kind === 'prefix' ? m.uri.value.length : -1;
}
