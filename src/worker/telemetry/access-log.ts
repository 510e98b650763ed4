// The access log: one JSON line per request on stdout, so journald keeps it next to the daemon's
// own log lines (which carry a level; these carry "msg":"access"). Built from a fixed template by
// string concatenation: names from the config arrive JSON-escaped once per snapshot, untrusted
// strings are escaped here, and the line is pure ASCII so its length is its byte count. A
// request's fields wait for BATCH_LINES - 1 more requests' (or FLUSH_MS), then the batch's lines
// are built in one loop: built one at a time between requests, with its code and tables cold,
// a line cost several times what it costs in a loop (bench/RESULTS.md). Lines are appended to one
// chunk string, written (latin1, one syscall) when the next line would not fit or FLUSH_MS after
// its first line: at full load one write carries ten lines or more (one write per line, or per
// event-loop turn, cost more than building the lines; copying each line into a Buffer cost more
// than V8 flattening the chunk once at its write: bench/RESULTS.md).
import { fstatSync } from 'node:fs';
import type { AccessLogSpec, OverflowLimit, UpgradeRefusal } from '../../protocol.js';

/**
 * Linux PIPE_BUF: a write of at most this many bytes to a pipe is atomic. Every worker shares the
 * primary's stdout (under systemd, journald's stream socket), so larger writes could interleave
 * two workers' lines mid-line.
 */
export const PIPE_BUF = 4096;
/**
 * Chunk size when stdout is a regular file: Linux holds the file's lock for the whole of one
 * write, so workers cannot interleave inside it, and a 64 KiB write costs a quarter per byte of a
 * 4 KiB one (bench/RESULTS.md).
 */
export const FILE_CHUNK = 65_536;
/** Lines are built this many at a time: about one PIPE_BUF chunk of ordinary lines. */
export const BATCH_LINES = 10;
/** A partly filled chunk waits at most this long (ms) before it is written. */
export const FLUSH_MS = 50;
/** Unwritten bytes a worker may hold (its own buffer plus stdout's, and one batch of lines being built); past it lines are dropped and counted. */
export const MAX_PENDING_BYTES = 1 << 20;
/** Untrusted fields are cut to this many characters, so a line stays one atomic write. */
export const MAX_PATH_CHARS = 2048;
export const MAX_HOST_CHARS = 255;

export const DEFAULT_ACCESS_LOG: AccessLogSpec = Object.freeze({ enabled: true, sample: 1 });

/**
 * none: no session key; minted: a new cookie or pin; reused: an existing hash key; pinned: a
 * valid pin honoured; refreshed: a valid pin honoured and re-issued (sliding expiry, or an older
 * key signed it); repinned: a pin that was not honoured (invalid, expired, its endpoint gone or
 * unavailable), the session placed afresh with a new pin.
 */
export type SessionUse = 'none' | 'minted' | 'reused' | 'pinned' | 'refreshed' | 'repinned';
const SESSION_USES: readonly SessionUse[] = ['none', 'minted', 'reused', 'pinned', 'refreshed', 'repinned'];

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
  /**
   * `,"route":…,"subset":…,"upstream":…` as JSON text, built once per snapshot and endpoint
   * (stats.ts, buildTargetMeter), or UNROUTED_JSON
   */
  readonly destinationJson: string;
  readonly session: SessionUse;
  /** xxHash32 of the session key (the raw key is never written), null without one */
  readonly sessionKeyHash: number | null;
  /** why the request's Upgrade header was stripped (upgrade-policy.ts), null without one */
  readonly upgradeRefused: UpgradeRefusal | null;
  /** the connectionPool limit that refused the request (503 with x-envoy-overloaded); absent or null: none. The field is written only when set */
  readonly overflow?: OverflowLimit | null;
}

/** Where lines go: process.stdout, or a collector in tests. */
export interface LineSink {
  write(chunk: string, encoding: 'latin1'): unknown;
  readonly writableLength: number;
}

/** The chunk size for a sink: FILE_CHUNK when it is stdout on a regular file, else PIPE_BUF. */
function chunkSizeFor(sink: LineSink): number {
  if (sink !== process.stdout) return PIPE_BUF;
  try {
    return fstatSync(1).isFile() ? FILE_CHUNK : PIPE_BUF;
  } catch {
    return PIPE_BUF;
  }
}

export class AccessLog {
  readonly #sink: LineSink;
  readonly #chunkSize: number;
  #enabled: boolean;
  #sample: number;
  /** the chunk being filled (lines joined, not yet flattened) and its bytes */
  #text = '';
  #used = 0;
  #timer: NodeJS.Timeout | null = null;
  /** fields of requests whose lines are not built yet */
  #pending: AccessFields[] = [];
  /** lines taken (written, or in the batch or chunk about to be) and lines dropped because output could not keep up */
  lines = 0;
  dropped = 0;

  constructor(spec: AccessLogSpec = DEFAULT_ACCESS_LOG, sink: LineSink = process.stdout, chunkSize = chunkSizeFor(sink)) {
    this.#sink = sink;
    this.#chunkSize = chunkSize;
    this.#enabled = spec.enabled;
    this.#sample = spec.sample;
  }

  /** Requests taken whose lines are not built yet (at most BATCH_LINES - 1 between calls). */
  get waiting(): number {
    return this.#pending.length;
  }

  configure(spec: AccessLogSpec): void {
    this.#enabled = spec.enabled;
    this.#sample = spec.sample;
  }

  /** Decided once when a request starts, so unsampled requests gather nothing for the log. */
  sampled(): boolean {
    return this.#enabled && (this.#sample >= 1 || Math.random() < this.#sample);
  }

  /** Takes a finished request's fields; its line is built with its batch (see the top of this file). */
  write(f: AccessFields): void {
    // decided when the line is taken, so the counters are current at any scrape; the batch
    // still waiting adds at most BATCH_LINES lines past the bound
    if (this.#used + this.#sink.writableLength >= MAX_PENDING_BYTES) {
      this.dropped++;
      return;
    }
    this.lines++;
    // one timer for the waiting batch and the chunk alike: flush() builds the one, writes the other
    if (this.#timer === null) {
      this.#timer = setTimeout(this.flush, FLUSH_MS);
      this.#timer.unref();
    }
    if (this.#pending.push(f) >= BATCH_LINES) this.#buildPending();
  }

  #buildPending(): void {
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    const offset = Date.now() - performance.now();
    for (let i = 0; i < batch.length; i++) {
      const line = buildAccessLine(batch[i]!, offset);
      if (this.#used + line.length > this.#chunkSize) this.#writeChunk();
      this.#text = this.#used === 0 ? line : this.#text + line;
      this.#used += line.length;
    }
  }

  #writeChunk(): void {
    if (this.#used === 0) return;
    const text = this.#text;
    this.#text = '';
    this.#used = 0;
    this.#sink.write(text, 'latin1');
  }

  /** Writes everything buffered; runs FLUSH_MS after a chunk's first line, and right before the worker exits. */
  readonly flush = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#buildPending();
    this.#writeChunk();
  };
}

/** The destination of a request that matched no route. */
export const UNROUTED_JSON = ',"route":null,"subset":null,"upstream":null';

/**
 * Forces V8 to store `s` as one flat string. A string built by `+` is a tree of pieces that every
 * line containing it walks again; strings reused across lines are flattened once instead.
 */
export function flatString(s: string): string {
  // ToNumber flattens its argument in place; the comparison keeps the call from being optimised away
  if (Number(s) === FLATTEN_SENTINEL) return s;
  return s;
}
const FLATTEN_SENTINEL = -0.5;

/** "000".."999": the milliseconds of a timestamp and the fraction of a duration, without number formatting */
const DIGITS3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
/** "00".."ff" */
const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The line's end, by session use, without a key hash (no Upgrade refused; a worker's pid never changes). */
const SESSION_AND_PID = Object.fromEntries(SESSION_USES.map((u) => [u, flatString(',"session":"' + u + '","sessionKeyHash":null,"upgradeRefused":null,"pid":' + process.pid + '}\n')])) as Readonly<Record<SessionUse, string>>;
const SESSION_HASH = Object.fromEntries(SESSION_USES.map((u) => [u, ',"session":"' + u + '","sessionKeyHash":"'])) as Readonly<Record<SessionUse, string>>;
const PID_TAIL = flatString('","upgradeRefused":null,"pid":' + process.pid + '}\n');

/** The rare line of a request whose Upgrade header was stripped or that a circuit breaker refused: its end, built in full. */
function rareTail(f: AccessFields, h: number | null): string {
  return ',"session":"' + f.session + '","sessionKeyHash":' + (h === null ? 'null' : '"' + (h >>> 0).toString(16).padStart(8, '0') + '"') +
    ',"upgradeRefused":' + (f.upgradeRefused === null ? 'null' : '"' + f.upgradeRefused + '"') +
    (f.overflow == null ? '' : ',"overflow":"' + f.overflow + '"') + ',"pid":' + process.pid + '}\n';
}

let isoSecond = -1;
let isoPrefix = '';
let isoMs = -1;
let isoText = '';

/** ISO-8601 time with milliseconds; the date part is rebuilt once per second, the text once per millisecond. */
function isoTime(ms: number): string {
  if (ms === isoMs) return isoText;
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  isoMs = ms;
  isoText = flatString(isoPrefix + DIGITS3[ms - second * 1000]! + 'Z');
  return isoText;
}

/** `","status":N,"bytes":` for every status Node can send (100-999) and 0 (no response written). */
const STATUS_BYTES: readonly string[] = Array.from({ length: 1000 }, (_, s) => flatString('","status":' + s + ',"bytes":'));
/** The run between client and host for the commonest method, so a GET line has no method piece of its own. */
const GET_HOST = flatString('","method":"GET","host":"');
/** `,"durationMs":N.` for durations under MAX_TABLED_MS whole milliseconds; longer ones are built. */
const MAX_TABLED_MS = 100;
const DURATION_MS: readonly string[] = Array.from({ length: MAX_TABLED_MS }, (_, ms) => flatString(',"durationMs":' + ms + '.'));

/**
 * One line, newline included. `time` is when the request started (wall clock = offset + monotonic
 * start). Few pieces on purpose: each `+` of a value is a node V8 walks again when the line is
 * written, which cost as much as building it (bench/RESULTS.md). Constant runs between two values
 * come from tables (status, whole milliseconds), and values shorter than V8's smallest tree node
 * (13 characters: the key hash's eight hex digits) are joined first, so V8 copies them into one
 * flat piece instead of linking them into the line's tree.
 */
export function buildAccessLine(f: AccessFields, wallOffset = Date.now() - performance.now()): string {
  const us = durationMicros(f.durationMs);
  const whole = Math.floor(us / 1000);
  const h = f.sessionKeyHash;
  return (
    '{"msg":"access","time":"' + isoTime(Math.round(wallOffset + f.startedAt)) +
    '","requestId":"' + jsonInner(f.requestId) +
    '","client":"' + jsonInner(f.client) +
    (f.method === 'GET' ? GET_HOST : '","method":"' + jsonInner(f.method) + '","host":"') + jsonInner(clip(f.host, MAX_HOST_CHARS)) +
    '","path":"' + jsonInner(clip(f.path, MAX_PATH_CHARS)) +
    (STATUS_BYTES[f.status] ?? '","status":' + f.status + ',"bytes":') + f.bytes +
    (whole < MAX_TABLED_MS ? DURATION_MS[whole]! : ',"durationMs":' + whole + '.') + DIGITS3[us - whole * 1000]! +
    f.destinationJson +
    (f.upgradeRefused !== null || f.overflow != null
      ? rareTail(f, h)
      : h === null
      ? SESSION_AND_PID[f.session]
      : SESSION_HASH[f.session] + (HEX2[(h >>> 24) & 255]! + HEX2[(h >>> 16) & 255]! + HEX2[(h >>> 8) & 255]! + HEX2[h & 255]!) + PID_TAIL)
  );
}

/** The duration in whole microseconds; 0 outside 0 to 31 years (a clock gone wrong), so the field stays one JSON number. */
function durationMicros(ms: number): number {
  const us = Math.round(ms * 1000);
  return us >= 0 && us < 1e15 ? us : 0;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max) + '...';
}

/** Characters that JSON or the ASCII-only rule make us escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
const NON_ASCII = /[\u007f-\uffff]/g;

/** A JSON string literal in pure ASCII: the common clean string costs one regex test. */
export function jsonString(s: string): string {
  return '"' + jsonInner(s) + '"';
}

/** jsonString without the quotes; a clean string is returned as it is. */
function jsonInner(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  const quoted = JSON.stringify(s).replace(NON_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  return quoted.slice(1, -1);
}
