// The request target a forwarded request carries upstream: the client's, normalised when its path
// had dot segments (normalize-path.ts), rewritten when the route says so (rewrite-path.ts).
import type { RequestHead } from '../downstream/request-head.js';
import { rewritePath } from './rewrite-path.js';
import { readMatchCut } from './route.js';
import type { RuntimeRoute } from './runtime-snapshot.js';

/** Encoded "/" or "\": a backend that decodes them would see segments the rewrite never saw. */
const ENCODED_SEPARATOR = /%2f|%5c/i;

/** `path` is the normalised path the route matched; null: refuse, the path cannot be rewritten safely. */
export function buildUpstreamPath(route: RuntimeRoute, req: RequestHead, rawPath: string, path: string): string | null {
  const url = req.url ?? '/';
  const rewrite = route.plans.rewrite;
  if (rewrite === null) return path === rawPath ? url : path + readQueryPart(url);
  if (ENCODED_SEPARATOR.test(path)) return null;
  const cut = route.plans.needsCut ? readMatchCut(route, req, path) : -1;
  return rewritePath(path, readQueryPart(url), rewrite, cut);
}

/** "" or "?..." */
export function readQueryPart(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? '' : url.slice(q);
}
