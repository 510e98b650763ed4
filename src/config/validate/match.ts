// HTTPMatchRequest: the request conditions of one VirtualService http[].match[] entry.
import type { HeaderMatch, QueryParamMatch, StringMatch } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { describe, isAbsent, isObj, readBool, readList, readObject, readPort, readString } from '../fields.js';
import { stripNamespace } from '../hosts.js';
import type { MatchRes } from '../resources.js';

const MATCH_FIELDS = {
  known: ['name', 'uri', 'method', 'authority', 'headers', 'queryParams', 'ignoreUriCase', 'withoutHeaders', 'port', 'scheme', 'gateways'],
  ignored: {
    sourceLabels: 'ignored: applies to mesh sidecars only',
    sourceNamespace: 'ignored: applies to mesh sidecars only',
    statPrefix: 'ignored: stickyd keeps its own statistics',
  },
};

/** Istio: "The keys uri, scheme, method, and authority will be ignored" in headers matches. */
const PSEUDO_HEADER_NAMES = new Set(['uri', 'scheme', 'method', 'authority']);

const KINDS = ['exact', 'prefix', 'regex'] as const;

export function readRouteMatch(sink: IssueSink, place: Place, value: unknown): MatchRes {
  const m = readObject(sink, place, value, MATCH_FIELDS) ?? {};
  readString(sink, at(place, 'name'), m.name);
  const toHeaders = ([name, match]: [string, StringMatch]): HeaderMatch => ({ name, match });
  const withoutHeaders = readNamedMatches(sink, at(place, 'withoutHeaders'), m.withoutHeaders, true).map(toHeaders);
  const ignoreUriCase = readBool(sink, at(place, 'ignoreUriCase'), m.ignoreUriCase) ?? false;
  const match = {
    uri: readStringMatch(sink, at(place, 'uri'), m.uri, false),
    method: readStringMatch(sink, at(place, 'method'), m.method, false),
    authority: readStringMatch(sink, at(place, 'authority'), m.authority, false),
    headers: readNamedMatches(sink, at(place, 'headers'), m.headers, true).map(toHeaders),
    queryParams: readNamedMatches(sink, at(place, 'queryParams'), m.queryParams, false).map(([name, match]): QueryParamMatch => ({ name, match })),
    // only written when set, so snapshots of configs without them stay as they were
    ...(ignoreUriCase ? { ignoreUriCase } : {}),
    ...(withoutHeaders.length > 0 ? { withoutHeaders } : {}),
  };
  if (ignoreUriCase && match.uri?.kind === 'regex') sink.warn(at(place, 'ignoreUriCase'), 'Istio ignores case only for exact and prefix uri matches; this regex stays case-sensitive (use (?i))');
  return {
    match,
    port: readPort(sink, at(place, 'port'), m.port),
    scheme: readStringMatch(sink, at(place, 'scheme'), m.scheme, false),
    gateways: readMatchGateways(sink, at(place, 'gateways'), m.gateways),
  };
}

function readMatchGateways(sink: IssueSink, place: Place, value: unknown): string[] | null {
  const list = readList(sink, place, value);
  if (list === null || list.length === 0) return null;
  const out: string[] = [];
  list.forEach((item, i) => {
    const ref = readString(sink, at(place, i), item);
    if (ref === null) return;
    const gw = stripNamespace(ref);
    if (gw === '') sink.error(at(place, i), 'empty gateway name');
    else if (!out.includes(gw)) out.push(gw);
  });
  return out;
}

/**
 * A StringMatch: exactly one of exact / prefix / regex. For headers, Istio reads an empty match
 * as "the header is present", which is a prefix match on "" (any value, but present).
 */
export function readStringMatch(sink: IssueSink, place: Place, value: unknown, emptyMeansPresent: boolean): StringMatch | null {
  if (isAbsent(value) && !emptyMeansPresent) return null;
  const m = readObject(sink, place, value ?? {}, { known: [...KINDS] });
  if (m === null) return null;
  const set = KINDS.filter((k) => !isAbsent(m[k]));
  if (set.length === 0) {
    if (emptyMeansPresent) return { kind: 'prefix', value: '' };
    sink.error(place, 'must set one of exact, prefix or regex');
    return null;
  }
  if (set.length > 1) {
    sink.error(place, `must set only one of exact, prefix or regex, got ${set.join(', ')}`);
    return null;
  }
  const kind = set[0] as (typeof KINDS)[number];
  const text = readString(sink, at(place, kind), m[kind]);
  if (text === null) return null;
  if (kind === 'regex' && !checkRegex(sink, at(place, kind), text)) return null;
  return { kind, value: text };
}

function checkRegex(sink: IssueSink, place: Place, source: string): boolean {
  try {
    new RegExp(source);
  } catch (e) {
    sink.error(place, `invalid regular expression: ${(e as Error).message}`);
    return false;
  }
  sink.warn(place, 'Istio regexes are RE2 syntax; stickyd evaluates them as JavaScript RegExp (full match), assumed compatible');
  return true;
}

/** headers / queryParams: name -> StringMatch; header names are case-insensitive, so lower-cased */
function readNamedMatches(sink: IssueSink, place: Place, value: unknown, isHeader: boolean): [string, StringMatch][] {
  if (isAbsent(value)) return [];
  if (!isObj(value)) {
    sink.error(place, `must be a mapping of name to match, got ${describe(value)}`);
    return [];
  }
  const out: [string, StringMatch][] = [];
  for (const [rawName, v] of Object.entries(value)) {
    const name = isHeader ? rawName.toLowerCase() : rawName;
    if (isHeader && PSEUDO_HEADER_NAMES.has(name)) {
      sink.warn(at(place, rawName), `ignored: Istio ignores the header name "${name}" in a match (use the match's own ${name} field)`);
      continue;
    }
    if (out.some(([n]) => n === name)) {
      sink.error(at(place, rawName), `${isHeader ? 'header' : 'query parameter'} "${name}" is matched twice`);
      continue;
    }
    const match = readStringMatch(sink, at(place, rawName), v, true);
    if (match !== null) out.push([name, match]);
  }
  return out;
}
