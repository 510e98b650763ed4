// Checks Node's parser leaves to us (docs/reliability.md): llhttp rejects broken framing itself
// but lets through duplicate or malformed Host, transfer codings other than chunked, HTTP/2.0 in
// HTTP/1 syntax, "GET *", fragments, oversized targets and header floods. One pass over
// rawHeaders, no allocation on the accept path; the request is answered and the connection
// closed before anything reaches a backend.
import type { ErrorCode } from '../../errors.js';

export interface RequestLimits {
  readonly maxHeaderCount: number;
  readonly maxUriLength: number;
  readonly maxHeaderBytes: number;
}

/** What the guard reads from a request; an IncomingMessage satisfies it, a plain object fakes it. */
export interface GuardedRequest {
  readonly method?: string | undefined;
  /** rewritten to origin-form when the client sent an absolute-form target */
  url?: string | undefined;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly rawHeaders: readonly string[];
}

export interface GuardFailure {
  readonly code: ErrorCode;
  readonly message: string;
}

/** Bytes llhttp counts per header line beyond name and value: ": " and CRLF. */
const HEADER_LINE_OVERHEAD = 4;

/** null when the request may proceed; otherwise why not. May rewrite `req.url` (absolute-form). */
export function checkRequest(req: GuardedRequest, limits: RequestLimits): GuardFailure | null {
  // HTTP/2 streams come from h2-front.ts; HTTP/1 syntax claiming 2.0 (or anything else) is 505.
  const h2 = req.httpVersionMajor === 2 && (req as { stream?: unknown }).stream !== undefined;
  if (req.httpVersionMajor !== 1 && !h2) return fail('STICKYD_ERR_HTTP_VERSION', `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor} is not supported`);
  const raw = req.rawHeaders;
  if (raw.length / 2 > limits.maxHeaderCount) return fail('STICKYD_ERR_HEADERS_TOO_LARGE', `more than ${limits.maxHeaderCount} header lines`);
  let bytes = 0;
  let hosts = 0;
  let host: string | undefined;
  let codings: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    bytes += name.length + value.length + HEADER_LINE_OVERHEAD;
    // Lower-case only names of the two lengths that matter, and only when not already in a usual
    // spelling: most headers cost one length compare.
    const n = name.length;
    if (n === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) {
      hosts++;
      host = value;
    } else if (n === 17 && name.toLowerCase() === 'transfer-encoding') {
      codings = codings === undefined ? value : `${codings},${value}`;
    }
  }
  if (bytes > limits.maxHeaderBytes) return fail('STICKYD_ERR_HEADERS_TOO_LARGE', `header fields exceed ${limits.maxHeaderBytes} bytes`);
  if (hosts > 1) return fail('STICKYD_ERR_BAD_REQUEST', 'more than one Host header');
  if (host === undefined ? req.httpVersionMinor >= 1 : !isValidHost(host)) return fail('STICKYD_ERR_BAD_REQUEST', 'missing or invalid Host header');
  if (codings !== undefined) {
    // RFC 9112 §6.1: a server MUST treat Transfer-Encoding in an HTTP/1.0 request as faulty framing.
    if (req.httpVersionMinor === 0) return fail('STICKYD_ERR_BAD_REQUEST', 'Transfer-Encoding in an HTTP/1.0 request');
    const bad = checkCodings(codings);
    if (bad !== null) return bad;
  }
  return checkTarget(req, host, limits.maxUriLength);
}

function checkTarget(req: GuardedRequest, host: string | undefined, maxUriLength: number): GuardFailure | null {
  const url = req.url ?? '';
  if (url.length > maxUriLength) return fail('STICKYD_ERR_URI_TOO_LONG', `request target longer than ${maxUriLength} bytes`);
  const first = url.charCodeAt(0);
  if (first === 0x2f /* / */) {
    return url.indexOf('#') === -1 ? null : fail('STICKYD_ERR_BAD_REQUEST', 'fragment in the request target');
  }
  if (url === '*') return req.method === 'OPTIONS' ? null : fail('STICKYD_ERR_BAD_REQUEST', 'asterisk-form target with a method other than OPTIONS');
  return checkAbsoluteForm(req, url, host);
}

/**
 * RFC 9112 §3.2.2: absolute-form is routed by its authority. stickyd routes by Host, so the two
 * must agree (HAProxy's answer too); the target is then rewritten to origin-form, which is what
 * the backend receives. Anything else (authority-form outside CONNECT, garbage) is 400.
 */
function checkAbsoluteForm(req: GuardedRequest, url: string, host: string | undefined): GuardFailure | null {
  const lower = url.slice(0, 8).toLowerCase();
  const schemeEnd = lower.startsWith('http://') ? 7 : lower.startsWith('https://') ? 8 : -1;
  if (schemeEnd === -1) return fail('STICKYD_ERR_BAD_REQUEST', 'request target is not origin-form or absolute-form');
  let end = schemeEnd;
  while (end < url.length && url[end] !== '/' && url[end] !== '?' && url[end] !== '#') end++;
  const authority = url.slice(schemeEnd, end);
  if (host === undefined || authority.toLowerCase() !== host.toLowerCase() || !isValidHost(authority)) {
    return fail('STICKYD_ERR_BAD_REQUEST', 'the absolute-form target names another authority than Host');
  }
  const rest = url.slice(end);
  if (rest.indexOf('#') !== -1) return fail('STICKYD_ERR_BAD_REQUEST', 'fragment in the request target');
  req.url = rest === '' || rest.charCodeAt(0) === 0x3f /* ? */ ? `/${rest}` : rest;
  return null;
}

/**
 * Transfer-Encoding lines joined with ",". RFC 9112 §6.3: chunked not last means the length cannot
 * be known: 400. §6.1: chunked last after another coding is a coding stickyd does not implement:
 * 501 (nginx's answer). Only a lone chunked passes (case-insensitive, OWS trimmed).
 */
function checkCodings(codings: string): GuardFailure | null {
  const comma = codings.lastIndexOf(',');
  const last = (comma === -1 ? codings : codings.slice(comma + 1)).trim().toLowerCase();
  if (last !== 'chunked') return fail('STICKYD_ERR_BAD_REQUEST', 'Transfer-Encoding does not end in chunked');
  return comma === -1 ? null : fail('STICKYD_ERR_TRANSFER_CODING', 'only Transfer-Encoding: chunked is supported');
}

/**
 * RFC 9110 §7.2 Host = uri-host [ ":" port ]: a reg-name (unreserved, pct-encoded, sub-delims) or
 * a bracketed IP literal, then optional digits. Rejects empty, spaces, userinfo ("@"), paths.
 */
export function isValidHost(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  let i = 0;
  if (value.charCodeAt(0) === 0x5b /* [ */) {
    const close = value.indexOf(']');
    if (close < 2) return false;
    for (let j = 1; j < close; j++) if (!isIpLiteralChar(value.charCodeAt(j))) return false;
    i = close + 1;
  } else {
    while (i < n && isRegNameChar(value.charCodeAt(i))) i++;
    if (i === 0) return false;
  }
  if (i === n) return true;
  if (value.charCodeAt(i) !== 0x3a /* : */) return false;
  for (let j = i + 1; j < n; j++) {
    const c = value.charCodeAt(j);
    if (c < 0x30 || c > 0x39) return false;
  }
  return n - i - 1 <= 5;
}

// unreserved (ALPHA DIGIT - . _ ~), "%" of pct-encoded, sub-delims (! $ & ' ( ) * + , ; =)
function isRegNameChar(c: number): boolean {
  if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39)) return true;
  switch (c) {
    case 0x2d: case 0x2e: case 0x5f: case 0x7e: case 0x25:
    case 0x21: case 0x24: case 0x26: case 0x27: case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x3b: case 0x3d:
      return true;
    default:
      return false;
  }
}

// IPv6 hex digits, ":" and "." (v4-mapped); IPvFuture is not accepted.
function isIpLiteralChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x3a) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) || c === 0x2e;
}

function fail(code: ErrorCode, message: string): GuardFailure {
  return { code, message };
}
