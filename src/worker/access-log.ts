// The access log: one JSON line per request on stdout, so journald keeps it next to the daemon's
// own log lines (which carry a level; these carry "msg":"access"). Built from a fixed template by
// string concatenation: names from the config arrive JSON-escaped once per snapshot, untrusted
// strings are escaped here, and the line is pure ASCII so its length is its byte count. Lines are
// buffered and written once per event-loop turn, in chunks of at most PIPE_BUF bytes.
import type { AccessLogSpec, UpgradeRefusal } from '../protocol.js';

/**
 * Linux PIPE_BUF: a write of at most this many bytes to a pipe is atomic. Every worker shares the
 * primary's stdout, so larger writes could interleave two workers' lines mid-line.
 */
export const PIPE_BUF = 4096;
/** Unwritten bytes a worker may hold (its own buffer plus stdout's); past it lines are dropped and counted. */
export const MAX_PENDING_BYTES = 1 << 20;
/** Untrusted fields are cut to this many characters, so a line stays one atomic write. */
export const MAX_PATH_CHARS = 2048;
export const MAX_HOST_CHARS = 255;

export const DEFAULT_ACCESS_LOG: AccessLogSpec = Object.freeze({ enabled: true, sample: 1 });

export type SessionUse = 'none' | 'minted' | 'reused';

/** What one finished request contributes to its line; names are JSON text (quoted) or 'null'. */
export interface AccessFields {
  readonly requestId: string;
  readonly client: string;
  readonly method: string;
  readonly host: string;
  /** request path without the query string: a query may carry a session key or a token */
  readonly path: string;
  readonly status: number;
  readonly bytes: number;
  /** performance.now() when the request was taken */
  readonly startedAt: number;
  readonly durationMs: number;
  readonly routeJson: string;
  readonly subsetJson: string;
  readonly upstreamJson: string;
  readonly session: SessionUse;
  /** xxHash32 of the session key (the raw key is never written), null without one */
  readonly sessionKeyHash: number | null;
  /** why the request's Upgrade header was stripped (upgrade-policy.ts), null without one */
  readonly upgradeRefused: UpgradeRefusal | null;
}

/** Where lines go: process.stdout, or a collector in tests. */
export interface LineSink {
  write(chunk: string): unknown;
  readonly writableLength: number;
}

export class AccessLog {
  readonly #sink: LineSink;
  #enabled: boolean;
  #sample: number;
  #chunks: string[] = [];
  #current = '';
  #pending = 0;
  #scheduled = false;
  /** Date.now() - performance.now(), refreshed once per batch: Date.now() costs ~0.5 us on some VMs */
  #wallOffset = 0;
  /** lines written and lines dropped because output could not keep up */
  lines = 0;
  dropped = 0;

  constructor(spec: AccessLogSpec = DEFAULT_ACCESS_LOG, sink: LineSink = process.stdout) {
    this.#sink = sink;
    this.#enabled = spec.enabled;
    this.#sample = spec.sample;
  }

  configure(spec: AccessLogSpec): void {
    this.#enabled = spec.enabled;
    this.#sample = spec.sample;
  }

  /** Decided once when a request starts, so unsampled requests gather nothing for the log. */
  sampled(): boolean {
    return this.#enabled && (this.#sample >= 1 || Math.random() < this.#sample);
  }

  write(f: AccessFields): void {
    if (!this.#scheduled) this.#wallOffset = Date.now() - performance.now();
    const line = buildAccessLine(f, this.#wallOffset);
    if (this.#pending + this.#sink.writableLength + line.length > MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    if (this.#current.length + line.length > PIPE_BUF && this.#current !== '') {
      this.#chunks.push(this.#current);
      this.#current = line;
    } else {
      this.#current += line;
    }
    this.#pending += line.length;
    this.lines++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes everything buffered; also called right before the worker exits. */
  readonly flush = (): void => {
    this.#scheduled = false;
    if (this.#current !== '') this.#chunks.push(this.#current);
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#current = '';
    this.#pending = 0;
    for (const chunk of chunks) this.#sink.write(chunk);
  };
}

let isoMs = -1;
let isoText = '';

/** ISO-8601 time, rebuilt at most once per millisecond (a batch of lines shares it). */
function isoTime(ms: number): string {
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

/** One line, newline included. `time` is when the request started (wall clock = offset + monotonic start). */
export function buildAccessLine(f: AccessFields, wallOffset = Date.now() - performance.now()): string {
  const duration = Math.round(f.durationMs * 1000) / 1000;
  const keyHash = f.sessionKeyHash === null ? 'null' : '"' + (f.sessionKeyHash >>> 0).toString(16).padStart(8, '0') + '"';
  return (
    '{"msg":"access","time":"' + isoTime(Math.round(wallOffset + f.startedAt)) +
    '","requestId":' + jsonString(f.requestId) +
    ',"client":' + jsonString(f.client) +
    ',"method":' + jsonString(f.method) +
    ',"host":' + jsonString(clip(f.host, MAX_HOST_CHARS)) +
    ',"path":' + jsonString(clip(f.path, MAX_PATH_CHARS)) +
    ',"status":' + f.status +
    ',"bytes":' + f.bytes +
    ',"durationMs":' + duration +
    ',"route":' + f.routeJson +
    ',"subset":' + f.subsetJson +
    ',"upstream":' + f.upstreamJson +
    ',"session":"' + f.session +
    '","sessionKeyHash":' + keyHash +
    ',"upgradeRefused":' + (f.upgradeRefused === null ? 'null' : '"' + f.upgradeRefused + '"') +
    ',"pid":' + process.pid +
    '}\n'
  );
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max) + '...';
}

/** Characters that JSON or the ASCII-only rule make us escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const NON_ASCII = /[\u007f-\uffff]/g;

/** A JSON string literal in pure ASCII: the common clean string costs one regex test. */
export function jsonString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  return JSON.stringify(s).replace(NON_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}
