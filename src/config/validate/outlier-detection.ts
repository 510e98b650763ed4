// DestinationRule trafficPolicy.outlierDetection -> OutlierPolicy, with Istio's defaults
// (networking/v1 OutlierDetection docs) filled in so the snapshot says what will happen.
import type { OutlierPolicy } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, NOT_IMPLEMENTED, readInt, readObject } from '../fields.js';
import { readDurationMs } from '../duration.js';

/** Istio: consecutive5xxErrors "defaults to 5"; consecutiveGatewayErrors "disabled by default". */
export const DEFAULT_CONSECUTIVE_5XX = 5;
/** Istio: interval "Default is 10s", baseEjectionTime "Default is 30s". */
export const DEFAULT_OUTLIER_INTERVAL_MS = 10_000;
export const DEFAULT_BASE_EJECTION_TIME_MS = 30_000;
/** Istio: maxEjectionPercent "Defaults to 10%"; minHealthPercent "The default is 0%". */
export const DEFAULT_MAX_EJECTION_PERCENT = 10;
export const DEFAULT_MIN_HEALTH_PERCENT = 0;
/** Envoy's own cap on consecutive_* thresholds is uint32; anything above this is a typo. */
const MAX_CONSECUTIVE = 1_000_000;

const FIELDS = {
  known: ['consecutive5xxErrors', 'consecutiveGatewayErrors', 'consecutiveErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent', 'minHealthPercent'],
  ignored: { splitExternalLocalOriginErrors: NOT_IMPLEMENTED, consecutiveLocalOriginFailures: NOT_IMPLEMENTED },
};

export function readOutlierDetection(sink: IssueSink, place: Place, value: unknown): OutlierPolicy | null {
  const od = readObject(sink, place, value, FIELDS);
  if (od === null) return null;
  const c5xx = readConsecutive(sink, at(place, 'consecutive5xxErrors'), od.consecutive5xxErrors);
  let gateway = readConsecutive(sink, at(place, 'consecutiveGatewayErrors'), od.consecutiveGatewayErrors);
  if (!isAbsent(od.consecutiveErrors)) {
    // Deprecated in Istio, where it always meant 502/503/504 (gateway errors).
    const legacy = readConsecutive(sink, at(place, 'consecutiveErrors'), od.consecutiveErrors);
    sink.warn(at(place, 'consecutiveErrors'), 'deprecated: read as consecutiveGatewayErrors, as Istio does');
    gateway ??= legacy;
  }
  const interval = readPositiveDuration(sink, at(place, 'interval'), od.interval);
  const base = readPositiveDuration(sink, at(place, 'baseEjectionTime'), od.baseEjectionTime);
  const maxEject = readInt(sink, at(place, 'maxEjectionPercent'), od.maxEjectionPercent, 0, 100);
  const minHealth = readInt(sink, at(place, 'minHealthPercent'), od.minHealthPercent, 0, 100);
  const policy: OutlierPolicy = {
    consecutive5xxErrors: c5xx ?? DEFAULT_CONSECUTIVE_5XX,
    consecutiveGatewayErrors: gateway ?? 0,
    intervalMs: interval ?? DEFAULT_OUTLIER_INTERVAL_MS,
    baseEjectionTimeMs: base ?? DEFAULT_BASE_EJECTION_TIME_MS,
    maxEjectionPercent: maxEject ?? DEFAULT_MAX_EJECTION_PERCENT,
    minHealthPercent: minHealth ?? DEFAULT_MIN_HEALTH_PERCENT,
  };
  if (policy.consecutive5xxErrors === 0 && policy.consecutiveGatewayErrors === 0) {
    sink.warn(place, 'consecutive5xxErrors and consecutiveGatewayErrors are both 0: nothing will ever be ejected');
  }
  return policy;
}

/** Istio writes these as UInt32Value, which YAML may give as a number or a {value: n} wrapper. */
function readConsecutive(sink: IssueSink, place: Place, v: unknown): number | null {
  const raw = typeof v === 'object' && v !== null && !Array.isArray(v) && 'value' in v ? (v as { value: unknown }).value : v;
  return readInt(sink, place, raw, 0, MAX_CONSECUTIVE);
}

function readPositiveDuration(sink: IssueSink, place: Place, v: unknown): number | null {
  const ms = readDurationMs(sink, place, v);
  if (ms === null) return null;
  if (ms < 1) {
    sink.error(place, 'must be at least 1ms');
    return null;
  }
  return Math.ceil(ms);
}
