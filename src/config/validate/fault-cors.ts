// VirtualService http[].fault (delay, abort) and http[].corsPolicy, as Istio translates them for
// Envoy's fault and CORS filters.
import type { CorsPlan, FaultPlan, StringMatch } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { describe, isAbsent, NOT_IMPLEMENTED, readBool, readInt, readList, readObject, readString } from '../fields.js';
import { readDurationMs } from '../duration.js';
import { readStringMatch } from './match.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Istio `Percent {value}` (0-100, a double) or the deprecated integer `percent`; null when unset. */
export function readPercent(sink: IssueSink, place: Place, value: unknown): number | null {
  const p = readObject(sink, place, value, { known: ['value'] });
  if (p === null) return null;
  if (typeof p.value !== 'number' || !(p.value >= 0 && p.value <= 100)) {
    sink.error(at(place, 'value'), `must be a number from 0 to 100, got ${describe(p.value)}`);
    return null;
  }
  return p.value;
}

export function readFault(sink: IssueSink, place: Place, value: unknown): FaultPlan | null {
  const f = readObject(sink, place, value, { known: ['delay', 'abort'] });
  if (f === null) return null;
  let delayMs = 0;
  let delayPercent = 0;
  const d = readObject(sink, at(place, 'delay'), f.delay, {
    known: ['fixedDelay', 'percentage', 'percent'],
    unsupported: { exponentialDelay: 'not implemented by stickyd (nor by Istio: "Exponential faults are not yet supported"); refused' },
  });
  if (d !== null) {
    const ms = readDurationMs(sink, at(place, 'delay', 'fixedDelay'), d.fixedDelay);
    if (isAbsent(d.fixedDelay)) sink.error(at(place, 'delay', 'fixedDelay'), 'required');
    else if (ms !== null && ms < 1) sink.error(at(place, 'delay', 'fixedDelay'), 'must be at least 1ms (Istio)');
    delayMs = ms === null ? 0 : Math.ceil(ms);
    // Istio: percentage, else the deprecated integer percent; neither means no request is delayed
    delayPercent = readPercent(sink, at(place, 'delay', 'percentage'), d.percentage) ?? readInt(sink, at(place, 'delay', 'percent'), d.percent, 0, 100) ?? 0;
    if (isAbsent(d.percentage) && isAbsent(d.percent)) sink.warn(at(place, 'delay'), 'no percentage: Istio delays no request (set percentage.value: 100 for all)');
  }
  let abortStatus = 0;
  let abortPercent = 0;
  const a = readObject(sink, at(place, 'abort'), f.abort, {
    known: ['httpStatus', 'percentage'],
    unsupported: { grpcStatus: 'not implemented by stickyd (it proxies HTTP/1.1, not gRPC); refused', http2Error: NOT_IMPLEMENTED.replace('ignored', 'refused') },
  });
  if (a !== null) {
    abortStatus = readInt(sink, at(place, 'abort', 'httpStatus'), a.httpStatus, 200, 599) ?? 0;
    if (isAbsent(a.httpStatus) && isAbsent(a.grpcStatus) && isAbsent(a.http2Error)) sink.error(at(place, 'abort', 'httpStatus'), 'required');
    abortPercent = readPercent(sink, at(place, 'abort', 'percentage'), a.percentage) ?? 0;
    if (isAbsent(a.percentage)) sink.warn(at(place, 'abort'), 'no percentage: Istio aborts no request (set percentage.value: 100 for all)');
  }
  if (d === null && a === null) return null;
  return { delayMs, delayPercent, abortStatus, abortPercent: abortStatus === 0 ? 0 : abortPercent };
}

export function readCorsPolicy(sink: IssueSink, place: Place, value: unknown): CorsPlan | null {
  const c = readObject(sink, place, value, {
    known: ['allowOrigins', 'allowOrigin', 'allowMethods', 'allowHeaders', 'exposeHeaders', 'maxAge', 'allowCredentials', 'unmatchedPreflights'],
  });
  if (c === null) return null;
  const origins: StringMatch[] = [];
  readList(sink, at(place, 'allowOrigins'), c.allowOrigins)?.forEach((o, i) => {
    const m = readStringMatch(sink, at(place, 'allowOrigins', i), o, false);
    if (m !== null) origins.push(m);
  });
  // the deprecated list of exact origins ("*" for any), which Istio still honours
  readList(sink, at(place, 'allowOrigin'), c.allowOrigin)?.forEach((o, i) => {
    const s = readString(sink, at(place, 'allowOrigin', i), o);
    if (s !== null) origins.push(s === '*' ? { kind: 'prefix', value: '' } : { kind: 'exact', value: s });
  });
  const tokens = (field: 'allowMethods' | 'allowHeaders' | 'exposeHeaders'): string[] => {
    const out: string[] = [];
    readList(sink, at(place, field), c[field])?.forEach((v, i) => {
      const s = readString(sink, at(place, field, i), v);
      if (s === null) return;
      if (s !== '*' && !TOKEN.test(s)) sink.error(at(place, field, i), `"${s}" is not a method or header name`);
      else out.push(s);
    });
    return out;
  };
  const maxAgeMs = readDurationMs(sink, at(place, 'maxAge'), c.maxAge);
  const unmatched = readString(sink, at(place, 'unmatchedPreflights'), c.unmatchedPreflights);
  if (unmatched !== null && !['UNSPECIFIED', 'FORWARD', 'IGNORE'].includes(unmatched)) sink.error(at(place, 'unmatchedPreflights'), `must be FORWARD or IGNORE, got "${unmatched}"`);
  if (origins.length === 0) sink.warn(at(place, 'allowOrigins'), 'no allowed origin: no cross-origin request is granted');
  return {
    origins,
    allowMethods: tokens('allowMethods').join(','),
    allowHeaders: tokens('allowHeaders').join(','),
    exposeHeaders: tokens('exposeHeaders').join(','),
    maxAge: maxAgeMs === null ? '' : String(Math.floor(maxAgeMs / 1000)),
    allowCredentials: readBool(sink, at(place, 'allowCredentials'), c.allowCredentials) ?? false,
    forwardUnmatchedPreflights: unmatched !== 'IGNORE',
  };
}
