// VirtualService http[].rewrite, .redirect and .directResponse. Every value that ends up in a
// request line, a Host or a Location is checked here, once, so a worker only concatenates.
import type { DirectResponsePlan } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readInt, readObject, readPort, readString } from '../fields.js';
import { countGroups, translateRe2, translateSubstitution } from '../regex.js';
import type { RedirectRes, RewriteRes } from '../resources.js';

/** host, host:port, [v6]:port: what may stand in a Host header or a URL's authority */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]+)(?::\d{1,5})?$/;
/** a path (and optional query) of visible ASCII: no space, CR, LF or other control character */
const PATH = /^[\x21-\x7e]+$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
/** the codes Envoy's RedirectAction has (Istio drops a route with any other) */
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
const DEFAULT_REDIRECT_CODE = 301; // Istio: "The default response code is MOVED_PERMANENTLY (301)"
/** a direct response body is held in every worker's memory; Envoy's default limit is 4 KiB, ours is roomier */
const MAX_BODY_BYTES = 64 * 1024;

export function readAuthority(sink: IssueSink, place: Place, value: unknown): string | null {
  const a = readString(sink, place, value);
  if (a === null || a === '') return null;
  if (!AUTHORITY.test(a)) {
    sink.error(place, `"${a}" is not a host or host:port`);
    return null;
  }
  return a.toLowerCase();
}

function readPath(sink: IssueSink, place: Place, value: unknown, what: string): string | null {
  const p = readString(sink, place, value);
  if (p === null || p === '') return null;
  if (!PATH.test(p)) {
    sink.error(place, `${what} must be visible ASCII without spaces or control characters (percent-encode them)`);
    return null;
  }
  if (p.includes('#')) {
    sink.error(place, `${what} must not hold a fragment ("#")`);
    return null;
  }
  return p;
}

export function readRewrite(sink: IssueSink, place: Place, value: unknown): RewriteRes | null {
  const r = readObject(sink, place, value, { known: ['uri', 'authority', 'uriRegexRewrite'] });
  if (r === null) return null;
  const uri = readPath(sink, at(place, 'uri'), r.uri, 'rewrite.uri');
  if (uri !== null && uri.includes('?')) sink.error(at(place, 'uri'), 'rewrite.uri replaces the path only; it must not hold a query ("?")');
  const authority = readAuthority(sink, at(place, 'authority'), r.authority);
  let regex: RewriteRes['regex'] = null;
  const rx = readObject(sink, at(place, 'uriRegexRewrite'), r.uriRegexRewrite, { known: ['match', 'rewrite'] });
  if (rx !== null) {
    if (uri !== null) sink.error(at(place, 'uriRegexRewrite'), 'uri and uriRegexRewrite cannot both be set');
    const m = readString(sink, at(place, 'uriRegexRewrite', 'match'), rx.match);
    const w = readString(sink, at(place, 'uriRegexRewrite', 'rewrite'), rx.rewrite);
    if (m === null || m === '') sink.error(at(place, 'uriRegexRewrite', 'match'), 'required');
    if (w === null) sink.error(at(place, 'uriRegexRewrite', 'rewrite'), 'required');
    else if (w !== '' && !PATH.test(w)) sink.error(at(place, 'uriRegexRewrite', 'rewrite'), 'must be visible ASCII without spaces or control characters');
    const pattern = m === null || m === '' ? null : translateRe2(m);
    if (typeof pattern === 'string') sink.error(at(place, 'uriRegexRewrite', 'match'), pattern);
    if (pattern !== null && typeof pattern !== 'string' && w !== null) {
      const replacement = translateSubstitution(w, countGroups(pattern));
      if (typeof replacement !== 'string') sink.error(at(place, 'uriRegexRewrite', 'rewrite'), replacement.error);
      else regex = { pattern: { source: pattern.source, flags: `${pattern.flags}g` }, replacement };
    }
  }
  return { uri: uri !== null && !uri.includes('?') ? uri : null, authority, regex };
}

export function readRedirect(sink: IssueSink, place: Place, value: unknown): RedirectRes | null {
  const r = readObject(sink, place, value, { known: ['uri', 'authority', 'port', 'derivePort', 'scheme', 'redirectCode', 'prefixRewrite'] });
  if (r === null) return null;
  const uri = readPath(sink, at(place, 'uri'), r.uri, 'redirect.uri');
  const prefixRewrite = readPath(sink, at(place, 'prefixRewrite'), r.prefixRewrite, 'redirect.prefixRewrite');
  if (uri !== null && prefixRewrite !== null) sink.error(at(place, 'prefixRewrite'), 'uri and prefixRewrite cannot both be set');
  for (const [field, v] of [['uri', uri], ['prefixRewrite', prefixRewrite]] as const) {
    if (v !== null && !v.startsWith('/')) sink.error(at(place, field), 'must start with "/"');
  }
  const authority = readAuthority(sink, at(place, 'authority'), r.authority);
  const port = readPort(sink, at(place, 'port'), r.port);
  const derive = readString(sink, at(place, 'derivePort'), r.derivePort);
  if (derive !== null && derive !== 'FROM_PROTOCOL_DEFAULT' && derive !== 'FROM_REQUEST_PORT') sink.error(at(place, 'derivePort'), `must be FROM_PROTOCOL_DEFAULT or FROM_REQUEST_PORT, got "${derive}"`);
  if (port !== null && derive !== null) sink.error(at(place, 'derivePort'), 'port and derivePort cannot both be set');
  const scheme = readString(sink, at(place, 'scheme'), r.scheme);
  if (scheme !== null && scheme !== '' && !SCHEME.test(scheme)) sink.error(at(place, 'scheme'), `"${scheme}" is not a URL scheme`);
  const codeValue = readInt(sink, at(place, 'redirectCode'), r.redirectCode, 0, 999);
  const code = codeValue === null || codeValue === 0 ? DEFAULT_REDIRECT_CODE : codeValue;
  if (!REDIRECT_CODES.has(code)) sink.error(at(place, 'redirectCode'), `must be 301, 302, 303, 307 or 308 (Envoy's redirect codes), got ${code}`);
  return {
    code,
    scheme: scheme === null || scheme === '' || !SCHEME.test(scheme) ? null : scheme.toLowerCase(),
    authority,
    port,
    derivePort: derive === 'FROM_PROTOCOL_DEFAULT' || derive === 'FROM_REQUEST_PORT' ? derive : null,
    uri: uri !== null && uri.startsWith('/') ? uri : null,
    prefixRewrite: prefixRewrite !== null && prefixRewrite.startsWith('/') ? prefixRewrite : null,
  };
}

export function readDirectResponse(sink: IssueSink, place: Place, value: unknown): DirectResponsePlan | null {
  const d = readObject(sink, place, value, { known: ['status', 'body'] });
  if (d === null) return null;
  const status = readInt(sink, at(place, 'status'), d.status, 200, 599);
  if (isAbsent(d.status)) sink.error(at(place, 'status'), 'required');
  const b = readObject(sink, at(place, 'body'), d.body, { known: ['string', 'bytes'] });
  let body: Uint8Array | null = null;
  if (b !== null) {
    const text = readString(sink, at(place, 'body', 'string'), b.string);
    const bytes = readString(sink, at(place, 'body', 'bytes'), b.bytes);
    if (text !== null && bytes !== null) sink.error(at(place, 'body'), 'set only one of string and bytes');
    else if (text !== null) body = new TextEncoder().encode(text);
    else if (bytes !== null) {
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bytes) || bytes.length % 4 !== 0) sink.error(at(place, 'body', 'bytes'), 'must be base64');
      else body = new Uint8Array(Buffer.from(bytes, 'base64'));
    } else sink.error(at(place, 'body'), 'must set string or bytes');
  }
  if (body !== null && body.length > MAX_BODY_BYTES) {
    sink.error(at(place, 'body'), `is ${body.length} bytes; at most ${MAX_BODY_BYTES} (it is held in every worker)`);
    body = null;
  }
  return status === null ? null : { status, body };
}
