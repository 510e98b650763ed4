// http[].corsPolicy at request time, as Envoy's CORS filter does it: an allowed Origin on a
// preflight (OPTIONS with Access-Control-Request-Method) is answered here; on any other request
// the response gets Access-Control-Allow-Origin (the request's origin, echoed) and friends.
import type { CorsPlan } from '../../snapshot/types.js';

export interface CompiledOriginMatch {
  readonly kind: 'exact' | 'prefix' | 'regex';
  readonly value: string;
  readonly regex: RegExp | null;
}

export interface CompiledCors {
  readonly plan: CorsPlan;
  readonly origins: readonly CompiledOriginMatch[];
}

function matches(m: CompiledOriginMatch, s: string): boolean {
  if (m.kind === 'exact') return s === m.value;
  if (m.kind === 'prefix') return s.startsWith(m.value);
  return m.regex!.test(s);
}

/** Envoy allows an origin when a matcher accepts it, or accepts "*" (so `exact: "*"` allows any). */
export function isOriginAllowed(cors: CompiledCors, origin: string): boolean {
  for (const m of cors.origins) {
    if (matches(m, origin) || matches(m, '*')) return true;
  }
  return false;
}

export type CorsDecision =
  /** not a CORS request, or an unmatched one that goes upstream as any other */
  | { readonly kind: 'none' }
  /** an allowed actual request: add these response headers */
  | { readonly kind: 'actual'; readonly headers: readonly string[] }
  /** a preflight stickyd answers 200 with these headers (none for an unmatched one under IGNORE) */
  | { readonly kind: 'preflight'; readonly headers: readonly string[] };

const NONE: CorsDecision = { kind: 'none' };

/** `origin` and `requestMethod` are the request's Origin and Access-Control-Request-Method headers. */
export function decideCors(cors: CompiledCors, method: string, origin: string | undefined, requestMethod: string | undefined): CorsDecision {
  if (origin === undefined || origin === '') return NONE;
  const preflight = method === 'OPTIONS' && requestMethod !== undefined && requestMethod !== '';
  const p = cors.plan;
  if (!isOriginAllowed(cors, origin)) return preflight && !p.forwardUnmatchedPreflights ? { kind: 'preflight', headers: [] } : NONE;
  const headers = ['Access-Control-Allow-Origin', origin];
  if (p.allowCredentials) headers.push('Access-Control-Allow-Credentials', 'true');
  if (!preflight) {
    if (p.exposeHeaders !== '') headers.push('Access-Control-Expose-Headers', p.exposeHeaders);
    return { kind: 'actual', headers };
  }
  if (p.allowMethods !== '') headers.push('Access-Control-Allow-Methods', p.allowMethods);
  if (p.allowHeaders !== '') headers.push('Access-Control-Allow-Headers', p.allowHeaders);
  if (p.maxAge !== '') headers.push('Access-Control-Max-Age', p.maxAge);
  return { kind: 'preflight', headers };
}
