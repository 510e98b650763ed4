// http[].rewrite of the request target: the path changes, the query string stays (Envoy's
// prefix_rewrite and regex_rewrite both leave it). Plans are compiled per snapshot; the regex
// object is built once when the snapshot arrives.
export interface CompiledRewrite {
  readonly uri: string | null;
  readonly regex: RegExp | null;
  readonly replacement: string;
}

/**
 * `cut`: how much of the path the match that selected the route matched: its uri prefix's length,
 * -1 for the whole path (exact and regex matches), 1 for a match without uri (Envoy's prefix "/").
 */
export function rewritePath(path: string, query: string, plan: CompiledRewrite, cut: number): string {
  let out: string;
  if (plan.regex !== null) out = path.replace(plan.regex, plan.replacement);
  else if (plan.uri !== null) out = cut < 0 ? plan.uri : plan.uri + path.slice(cut);
  else out = path;
  return out + query;
}
