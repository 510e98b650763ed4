// Typed readers over the plain values YAML gives us. Kubernetes treats a null field as absent
// (the seed's `- match:` is null and means "match everything"), so every reader does the same.
// A reader that finds a wrong type reports an error and returns null; callers carry on, so one
// pass reports every problem.
import { at, type IssueSink, type Place } from './issues.js';

export type Obj = Record<string, unknown>;

export interface ObjectSpec {
  /** fields we read */
  readonly known: readonly string[];
  /** Istio fields we do not implement and whose absence changes nothing that matters here: field -> why (warned) */
  readonly ignored?: Readonly<Record<string, string>>;
  /** Istio fields we do not implement where ignoring them would change the config's meaning: field -> why (an error) */
  readonly unsupported?: Readonly<Record<string, string>>;
}

export const NOT_IMPLEMENTED = 'not implemented by stickyd; ignored';
/** For `unsupported`: the config would mean something else on stickyd than on Istio, so it is refused. */
export const REFUSED = 'not implemented by stickyd: ignoring it would change what this config means, so it is refused';

export function isAbsent(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A mapping, with a warning for every field outside `spec` (an error for `unsupported` ones); null when absent or not a mapping. */
export function readObject(sink: IssueSink, place: Place, v: unknown, spec: ObjectSpec): Obj | null {
  if (isAbsent(v)) return null;
  if (!isObj(v)) {
    sink.error(place, `must be a mapping, got ${describe(v)}`);
    return null;
  }
  for (const key of Object.keys(v)) {
    if (spec.known.includes(key)) continue;
    const refused = spec.unsupported?.[key];
    if (refused !== undefined) {
      sink.error(at(place, key), refused);
      continue;
    }
    const why = spec.ignored?.[key];
    sink.warn(at(place, key), why ?? 'unknown field; ignored');
  }
  return v;
}

export function readList(sink: IssueSink, place: Place, v: unknown): unknown[] | null {
  if (isAbsent(v)) return null;
  if (!Array.isArray(v)) {
    sink.error(place, `must be a list, got ${describe(v)}`);
    return null;
  }
  return v;
}

export function readString(sink: IssueSink, place: Place, v: unknown): string | null {
  if (isAbsent(v)) return null;
  if (typeof v !== 'string') {
    sink.error(place, `must be a string, got ${describe(v)}`);
    return null;
  }
  return v;
}

export function requireString(sink: IssueSink, place: Place, v: unknown): string | null {
  if (isAbsent(v)) {
    sink.error(place, 'required');
    return null;
  }
  const s = readString(sink, place, v);
  if (s === '') {
    sink.error(place, 'must not be empty');
    return null;
  }
  return s;
}

export function readBool(sink: IssueSink, place: Place, v: unknown): boolean | null {
  if (isAbsent(v)) return null;
  if (typeof v !== 'boolean') {
    sink.error(place, `must be true or false, got ${describe(v)}`);
    return null;
  }
  return v;
}

export function readInt(sink: IssueSink, place: Place, v: unknown, min: number, max: number): number | null {
  if (isAbsent(v)) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    sink.error(place, `must be an integer, got ${describe(v)}`);
    return null;
  }
  if (v < min || v > max) {
    sink.error(place, `must be between ${min} and ${max}, got ${v}`);
    return null;
  }
  return v;
}

export const MAX_PORT = 65_535;

export function readPort(sink: IssueSink, place: Place, v: unknown): number | null {
  return readInt(sink, place, v, 1, MAX_PORT);
}

/** labels: string -> string (Kubernetes rejects non-string label values, so do we) */
export function readStringMap(sink: IssueSink, place: Place, v: unknown): Record<string, string> | null {
  if (isAbsent(v)) return null;
  if (!isObj(v)) {
    sink.error(place, `must be a mapping, got ${describe(v)}`);
    return null;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    const s = readString(sink, at(place, k), val);
    if (s !== null) out[k] = s;
  }
  return out;
}

/** endpoint ports: port name -> port number */
export function readPortMap(sink: IssueSink, place: Place, v: unknown): Record<string, number> | null {
  if (isAbsent(v)) return null;
  if (!isObj(v)) {
    sink.error(place, `must be a mapping of port name to number, got ${describe(v)}`);
    return null;
  }
  const out: Record<string, number> = {};
  for (const [k, val] of Object.entries(v)) {
    const n = readPort(sink, at(place, k), val);
    if (n !== null) out[k] = n;
  }
  return out;
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** absent, null or [] : for "required: at least one" checks */
export function isEmptyList(v: unknown): boolean {
  return isAbsent(v) || (Array.isArray(v) && v.length === 0);
}
