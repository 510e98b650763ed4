// Path normalisation before routing, as Istio turns on in Envoy (normalize_path, RFC 3986 §5.2.4):
// dot segments are resolved, "%2E" counts as ".", and "\" as "/". Without it "/api/../admin"
// matches a "/api/" prefix and, rewritten, escapes the prefix the route maps (Istio's
// pathNormalization BASE). Most paths have no dot segment and are returned as they are.

/** a percent-encoded dot, looked for only in paths holding a "%" */
const ENCODED_DOT = /%2e/i;

/** The normalised path (no query), or `path` itself when it needs nothing. */
export function normalizePath(path: string): string {
  // indexOf first: this runs on every request, and a case-insensitive regex test cost ~10x more
  if (path.indexOf('/.') === -1 && path.indexOf('\\') === -1 && (path.indexOf('%') === -1 || !ENCODED_DOT.test(path))) return path;
  const input = path.replace(/%2e/gi, '.').replace(/\\/g, '/');
  const out: string[] = [];
  const segments = input.split('/');
  // segments[0] is '' for an absolute path (the only kind a request line carries, bar "*")
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else out.push(seg);
  }
  return `/${out.join('/')}`;
}
