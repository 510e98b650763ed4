// The metadata labels and annotations stickyd reads (everything else in metadata is only
// checked for shape): Istio's persistent-session labels on a ServiceEntry, and stickyd's own
// `stickyd.io/hash-balance-factor` annotation on a DestinationRule. Endpoint labels
// (`stickyd.io/drain`) are read with the endpoint (endpoint-spec.ts).
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent } from '../fields.js';
import type { PersistentSessionRes } from '../resources.js';

/** Istio's label for a cookie-based persistent (stateful) session: `<cookie name>[:<path>]`. */
export const PERSISTENT_SESSION_LABEL = 'istio.io/persistent-session';
/** Istio's label for the header form: the header's name. */
export const PERSISTENT_SESSION_HEADER_LABEL = 'istio.io/persistent-session-header';
/** Envoy's hash_balance_factor as a DestinationRule annotation (an integer >= 100). */
export const HASH_BALANCE_FACTOR_ANNOTATION = 'stickyd.io/hash-balance-factor';

// RFC 6265 cookie-name is an RFC 7230 token; a header name is a token too.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A Set-Cookie Path: visible ASCII without ';' (RFC 6265 §4.1.1 path-value), starting with '/'.
const COOKIE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;
const MAX_FACTOR = 1_000_000;

export interface Metadata {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** the metadata place */
  readonly place: Place;
}

const OUR_KEYS = [PERSISTENT_SESSION_LABEL, PERSISTENT_SESSION_HEADER_LABEL, HASH_BALANCE_FACTOR_ANNOTATION];

/**
 * The string-valued labels and annotations. Other keys were never read and stay unchecked (a
 * config that loads today keeps loading); the keys stickyd reads must be strings.
 */
export function readMetadata(sink: IssueSink, place: Place, meta: Record<string, unknown> | null): Metadata {
  const pick = (field: 'labels' | 'annotations'): Record<string, string> => {
    const v = meta?.[field];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
      if (typeof val === 'string') out[k] = val;
      else if (OUR_KEYS.includes(k)) sink.error(at(place, field, k), `must be a string (quote it in YAML), got ${typeof val}`);
    }
    return out;
  };
  return { labels: pick('labels'), annotations: pick('annotations'), place };
}

/** The ServiceEntry's persistent session, from Istio's labels; null when neither is set. */
export function readPersistentSession(sink: IssueSink, meta: Metadata): PersistentSessionRes | null {
  const cookie = meta.labels[PERSISTENT_SESSION_LABEL];
  const header = meta.labels[PERSISTENT_SESSION_HEADER_LABEL];
  const cookiePlace = at(meta.place, 'labels', PERSISTENT_SESSION_LABEL);
  const headerPlace = at(meta.place, 'labels', PERSISTENT_SESSION_HEADER_LABEL);
  if (cookie !== undefined && header !== undefined) {
    sink.error(cookiePlace, `set only one of ${PERSISTENT_SESSION_LABEL} or ${PERSISTENT_SESSION_HEADER_LABEL}`);
    return null;
  }
  if (header !== undefined) {
    if (!TOKEN.test(header)) {
      sink.error(headerPlace, `"${header}" is not a header name`);
      return null;
    }
    return { kind: 'header', name: header.toLowerCase(), path: null, place: headerPlace };
  }
  if (cookie === undefined) return null;
  const colon = cookie.indexOf(':');
  const name = colon === -1 ? cookie : cookie.slice(0, colon);
  const path = colon === -1 ? null : cookie.slice(colon + 1);
  if (!TOKEN.test(name)) {
    sink.error(cookiePlace, `"${name}" is not a cookie name: expected <cookie name>[:<path>], e.g. session:/`);
    return null;
  }
  if (path !== null && !COOKIE_PATH.test(path)) {
    sink.error(cookiePlace, `"${path}" is not a cookie path: it starts with "/" and holds no ";", space or control character`);
    return null;
  }
  return { kind: 'cookie', name, path, place: cookiePlace };
}

/** The DestinationRule's bounded-load factor (percent of the subset's average load); null when unset. */
export function readBalanceFactor(sink: IssueSink, meta: Metadata): number | null {
  const raw = meta.annotations[HASH_BALANCE_FACTOR_ANNOTATION];
  if (isAbsent(raw)) return null;
  const n = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 100 && n <= MAX_FACTOR)) {
    sink.error(at(meta.place, 'annotations', HASH_BALANCE_FACTOR_ANNOTATION), `"${raw}" is not a balance factor: an integer from 100 to ${MAX_FACTOR} (percent of the subset's average load an endpoint may carry before new sessions skip it; 150 = 1.5x)`);
    return null;
  }
  return n;
}
