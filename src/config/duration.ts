// Istio durations ("60s", "1.5s", "100ms", "1m30s"): the Go time.ParseDuration units Istio's CRD
// validation accepts, without a sign (no Istio duration may be negative).
import { describe } from './fields.js';
import type { IssueSink, Place } from './issues.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ns: 1e-6,
};

// "ms" must be tried before "m", and "us"/"ns" are fine since "u"/"n" alone are not units.
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|μs|ns)/y;

/** Milliseconds (possibly fractional), or null when `text` is not a duration. */
export function parseDurationMs(text: string): number | null {
  if (text === '') return null;
  PART.lastIndex = 0;
  let total = 0;
  while (PART.lastIndex < text.length) {
    const start = PART.lastIndex;
    const m = PART.exec(text);
    if (m === null || m.index !== start) return null;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
  }
  return total;
}

/** Reads a duration field; null when absent or invalid (an error is reported). */
export function readDurationMs(sink: IssueSink, place: Place, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const ms = typeof v === 'string' ? parseDurationMs(v) : null;
  if (ms === null) {
    sink.error(place, `must be a duration such as "60s", "1.5s", "100ms" or "1m30s" (units h, m, s, ms, us, ns), got ${describe(v)}`);
    return null;
  }
  return ms;
}
