// VirtualService delegation (http[].delegate): a root VirtualService hands a route's traffic to the
// http routes of a delegate VirtualService (one without hosts), merged as Istio merges them
// (istio/istio pilot/pkg/model/virtualservice.go, MergeHTTPRoutes and mergeHTTPMatchRequests):
// - each delegate route's matches must each fit inside one of the root route's matches (a
//   "subset": the same or a longer uri prefix, the same exact value, no regex on both sides of
//   one property, no header value that disagrees, ...); a delegate route that does not fit is
//   dropped with a warning, as Istio drops it;
// - each merged match is the delegate's, with whatever it leaves unset taken from the root's;
// - the merged route takes the root route's rewrite, timeout, retries, fault, mirrors, corsPolicy
//   and headers where the delegate route sets none, and is named "<root>-<delegate>".
// One level only: a delegate that delegates again is an error (Istio ignores such a route).
// The result is a list of ordinary VirtualServices: delegates are not bound to listeners.
import type { HeaderMatch, QueryParamMatch, RouteMatch, StringMatch } from '../../snapshot/types.js';
import { at, type IssueSink } from '../issues.js';
import type { HttpRouteRes, MatchRes, VirtualServiceRes } from '../resources.js';

/** The root VirtualServices with every delegating route replaced by its merged routes; delegates left out. */
export function mergeDelegates(sink: IssueSink, all: readonly VirtualServiceRes[]): VirtualServiceRes[] {
  const delegates = new Map(all.filter(isDelegate).map((vs) => [vs.name, vs]));
  const used = new Set<string>();
  const roots = all.filter((vs) => !isDelegate(vs)).map((vs) => {
    if (!vs.http.some((r) => r.delegate !== null)) return vs;
    const http = vs.http.flatMap((r) => (r.delegate === null ? [r] : expand(sink, vs, r, delegates, all, used)));
    return { ...vs, http };
  });
  for (const d of delegates.values()) {
    if (!used.has(d.name)) sink.warn(at(d.place, 'spec', 'hosts'), 'no hosts and no root VirtualService delegates to it: it routes nothing');
  }
  return roots;
}

function isDelegate(vs: VirtualServiceRes): boolean {
  return vs.hosts.length === 0;
}

function expand(
  sink: IssueSink, root: VirtualServiceRes, route: HttpRouteRes,
  delegates: Map<string, VirtualServiceRes>, all: readonly VirtualServiceRes[], used: Set<string>,
): HttpRouteRes[] {
  const ref = route.delegate!;
  const d = delegates.get(ref.name);
  if (d === undefined) {
    const other = all.find((vs) => vs.name === ref.name);
    sink.error(ref.place, other === undefined
      ? `unknown VirtualService "${ref.name}"`
      : `VirtualService "${ref.name}" has hosts: a delegate VirtualService has none (Istio), it is reached only through its root`);
    return [];
  }
  used.add(d.name);
  const out: HttpRouteRes[] = [];
  d.http.forEach((leaf, j) => {
    if (leaf.delegate !== null) {
      sink.error(leaf.delegate.place, `delegation is one level deep (Istio): VirtualService/${d.name} is a delegate of VirtualService/${root.name} and cannot delegate again`);
      return;
    }
    const matches = mergeMatches(route.matches, leaf.matches);
    if (matches === null) {
      sink.warn(at(leaf.place, 'match'), `does not fit inside the match of VirtualService/${root.name} ${formatRoute(route)} that delegates to it (Istio: a delegate's match must be a subset of the root's), so this route is dropped`);
      return;
    }
    out.push(mergeRoute(route, leaf, matches, `${d.name}/http[${j}]`));
  });
  return out;
}

function formatRoute(r: HttpRouteRes): string {
  return r.declared.has('name') ? `route "${r.name}"` : r.name.slice(r.name.indexOf('/') + 1);
}

/** Istio's mergeHTTPRoute: the delegate route's own fields, the root's where it sets none. */
function mergeRoute(root: HttpRouteRes, leaf: HttpRouteRes, matches: MatchRes[], leafDefault: string): HttpRouteRes {
  const own = (field: string): boolean => leaf.declared.has(field);
  const rootNamed = root.declared.has('name');
  let name: string;
  if (own('name')) name = rootNamed ? `${root.name}-${leaf.name}` : leaf.name;
  else name = rootNamed ? root.name : `${root.name}/${leafDefault}`;
  const ownMirrors = own('mirror') || own('mirrors');
  return {
    ...leaf,
    name,
    matches,
    rewrite: own('rewrite') ? leaf.rewrite : root.rewrite,
    timeoutMs: own('timeout') ? leaf.timeoutMs : root.timeoutMs,
    retries: own('retries') ? leaf.retries : root.retries,
    fault: own('fault') ? leaf.fault : root.fault,
    cors: own('corsPolicy') ? leaf.cors : root.cors,
    headers: own('headers') ? leaf.headers : root.headers,
    // a redirect or direct response forwards nothing, so there is nothing to mirror
    mirrors: leaf.redirect !== null || leaf.directResponse !== null ? [] : ownMirrors ? leaf.mirrors : root.mirrors,
  };
}

/** mergeHTTPMatchRequests: every delegate match must fit in a root match; null on a conflict. */
export function mergeMatches(roots: readonly MatchRes[], leaves: readonly MatchRes[]): MatchRes[] | null {
  if (roots.length === 0) return [...leaves];
  if (leaves.length === 0) return [...roots];
  const out: MatchRes[] = [];
  for (const leaf of leaves) {
    let found = false;
    for (const root of roots) {
      if (conflicts(root, leaf)) continue;
      out.push(mergeMatch(root, leaf));
      found = true;
    }
    if (!found) return null;
  }
  return out;
}

function mergeMatch(root: MatchRes, leaf: MatchRes): MatchRes {
  const r = root.match;
  const l = leaf.match;
  const withoutHeaders = mergeNamed(r.withoutHeaders ?? [], l.withoutHeaders ?? []);
  const match: RouteMatch = {
    uri: l.uri ?? r.uri,
    method: l.method ?? r.method,
    authority: l.authority ?? r.authority,
    headers: mergeNamed(r.headers, l.headers),
    queryParams: mergeNamed(r.queryParams, l.queryParams),
    ...(l.ignoreUriCase === true ? { ignoreUriCase: true } : {}),
    ...(withoutHeaders.length > 0 ? { withoutHeaders } : {}),
  };
  return { match, port: leaf.port ?? root.port, scheme: leaf.scheme ?? root.scheme, gateways: leaf.gateways ?? root.gateways };
}

/** Istio's maps.MergeCopy: the root's conditions, each replaced by the delegate's of the same name. */
function mergeNamed<T extends HeaderMatch | QueryParamMatch>(root: readonly T[], leaf: readonly T[]): T[] {
  return [...root.filter((h) => !leaf.some((x) => x.name === h.name)), ...leaf];
}

/** Istio's hasConflict: whether the delegate match cannot be read as a narrowing of the root's. */
function conflicts(root: MatchRes, leaf: MatchRes): boolean {
  const r = root.match;
  const l = leaf.match;
  const pairs: [StringMatch | null, StringMatch | null][] = [[r.uri, l.uri], [root.scheme, leaf.scheme], [r.method, l.method], [r.authority, l.authority]];
  if (pairs.some(([a, b]) => stringConflicts(a, b))) return true;
  const named = (rs: readonly (HeaderMatch | QueryParamMatch)[], ls: readonly (HeaderMatch | QueryParamMatch)[]): boolean =>
    ls.some((x) => stringConflicts(rs.find((y) => y.name === x.name)?.match ?? null, x.match));
  if (named(r.headers, l.headers) || named(r.withoutHeaders ?? [], l.withoutHeaders ?? []) || named(r.queryParams, l.queryParams)) return true;
  if ((r.ignoreUriCase === true) !== (l.ignoreUriCase === true)) return true;
  if (root.port !== null && leaf.port !== null && root.port !== leaf.port) return true;
  if (root.gateways !== null && leaf.gateways !== null && !leaf.gateways.every((g) => root.gateways!.includes(g))) return true;
  return false;
}

/**
 * Istio's stringMatchConflict: no conflict when either side is unset; a regex on either side
 * conflicts with anything on the other; an exact root takes only the same exact value; a
 * non-empty prefix root takes a longer (or equal) prefix or an exact value under it.
 */
export function stringConflicts(root: StringMatch | null, leaf: StringMatch | null): boolean {
  if (root === null || leaf === null) return false;
  if (root.kind === 'regex' || leaf.kind === 'regex') return true;
  if (root.kind === 'exact') return !(leaf.kind === 'exact' && leaf.value === root.value);
  // an empty prefix (a header that is present) is unset to Istio's proto getters: a conflict there too
  return root.value === '' || !leaf.value.startsWith(root.value);
}
