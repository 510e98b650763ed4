// Copies of a forwarded request sent to a route's mirrors (VirtualService mirror / mirrors[]), as
// Envoy's request_mirror_policies send them: fire and forget. A copy carries the headers the
// request goes upstream with (after rewrites and header edits) and the same path, its Host with
// "-shadow" appended before any port (Envoy's shadowAppendedHost, which Istio asks for up to 1.27
// and with DISABLE_SHADOW_HOST_SUFFIX=false since). Its answer is read and discarded; it never
// delays, changes or fails the client's exchange.
//
// Bounds, per worker: at most MIRROR_MAX_IN_FLIGHT copies hold a slot at once (beyond that a copy
// is shed and counted); a copy's body is at most MIRROR_MAX_BODY_BYTES, held in memory until the
// client's body has ended (Envoy buffers a shadow's body too), and a larger one is not mirrored.
// The copy only listens to the body as it flows to the real upstream: it never reads ahead or
// pauses it, so the client's backpressure comes from its own exchange alone.
import type { IncomingMessage } from 'node:http';
import type { Dispatcher } from 'undici';
import type { MirrorResult } from '../../protocol.js';
import { replaceHost } from '../downstream/header-edits.js';
import type { MirrorTarget } from '../routing/mirror-targets.js';
import { countMirror, type WorkerStats } from '../telemetry/stats.js';

/** copies holding a slot at once, per worker (buffering a body or awaiting their answer) */
export const MIRROR_MAX_IN_FLIGHT = 128;
/** the largest body a copy holds: 128 slots x 64 KiB bound a worker's mirror buffers to 8 MiB */
export const MIRROR_MAX_BODY_BYTES = 64 * 1024;
/** a copy's whole exchange, when the route sets no timeout: Envoy's default route timeout */
export const MIRROR_DEFAULT_TIMEOUT_MS = 15_000;

/** What a copy is sent with: the upstream request as the exchange built it. */
export interface MirrorRequest {
  readonly method: string;
  readonly path: string;
  /** [name, value, ...] as sent upstream; copied, never changed */
  readonly headers: readonly string[];
  /** the route's timeout, null for none */
  readonly timeoutMs: number | null;
  /** the stream idle timeout undici applies to each of headers and body */
  readonly idleTimeoutMs: number;
}

/** Envoy's shadowAppendedHost: "-shadow" after the host, before a port ("a:8080" -> "a-shadow:8080"). */
export function buildShadowHost(host: string): string {
  const colon = host.lastIndexOf(':');
  const bracket = host.lastIndexOf(']');
  if (colon === -1 || colon < bracket) return `${host}-shadow`;
  return `${host.slice(0, colon)}-shadow${host.slice(colon)}`;
}

/**
 * The copies of one request. Created when the request is forwarded (each copy takes its slot
 * then, or is shed); `send` gives it the upstream request, `tap` the client's body as it flows.
 */
export class MirrorCopies {
  readonly #stats: WorkerStats;
  #targets: MirrorTarget[];
  #request: MirrorRequest | null = null;
  /** whether the request has a body (the copies wait for its end) */
  readonly #hasBody: boolean;
  #chunks: Buffer[] | null = null;
  #bytes = 0;
  #tapped = false;
  #done = false;

  constructor(stats: WorkerStats, targets: readonly MirrorTarget[], req: IncomingMessage) {
    this.#stats = stats;
    this.#targets = [];
    const h = req.headers;
    this.#hasBody = h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
    const declared = h['content-length'] === undefined ? 0 : Number(h['content-length']);
    for (const t of targets) {
      if (t.index < 0) countMirror(stats, 'no_endpoint');
      else if (declared > MIRROR_MAX_BODY_BYTES) countMirror(stats, 'body_too_large');
      else if (stats.mirrorsInFlight >= MIRROR_MAX_IN_FLIGHT) countMirror(stats, 'shed');
      else {
        stats.mirrorsInFlight++;
        this.#targets.push(t);
      }
    }
    if (this.#targets.length === 0) this.#done = true;
  }

  /** Whether any copy is still to be sent. */
  get pending(): boolean {
    return !this.#done;
  }

  /** The upstream request is built: a request without a body is copied now, one with waits for its end. */
  send(request: MirrorRequest): void {
    if (this.#done || this.#request !== null) return;
    this.#request = request;
    if (!this.#hasBody) this.#dispatch(null);
  }

  /**
   * The client's body has started flowing to the upstream (proxy.ts pipes it): listen alongside.
   * Adding a 'data' listener to a stream already piped neither resumes nor pauses it.
   */
  tap(req: IncomingMessage): void {
    if (this.#done || this.#tapped || !this.#hasBody) return;
    this.#tapped = true;
    this.#chunks = [];
    const onData = (chunk: Buffer): void => {
      this.#bytes += chunk.length;
      if (this.#bytes > MIRROR_MAX_BODY_BYTES) {
        detach();
        this.#drop('body_too_large');
        return;
      }
      this.#chunks?.push(chunk);
    };
    const onEnd = (): void => {
      detach();
      const chunks = this.#chunks ?? [];
      this.#dispatch(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onClose = (): void => {
      detach();
      this.#drop('incomplete');
    };
    const detach = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('close', onClose);
  }

  /** The exchange is over: copies still waiting for a body that is not flowing are dropped. */
  release(): void {
    if (!this.#done && !this.#tapped && (this.#hasBody || this.#request === null)) this.#drop('incomplete');
  }

  #drop(result: MirrorResult): void {
    if (this.#done) return;
    this.#done = true;
    for (let i = 0; i < this.#targets.length; i++) this.#finish(result);
    this.#targets = [];
    this.#chunks = null;
  }

  #finish(result: MirrorResult): void {
    this.#stats.mirrorsInFlight--;
    countMirror(this.#stats, result);
  }

  #dispatch(body: Buffer | null): void {
    if (this.#done) return;
    this.#done = true;
    const request = this.#request;
    this.#chunks = null;
    for (const t of this.#targets) {
      if (request === null) this.#finish('incomplete');
      else sendCopy(t, request, body, (result) => this.#finish(result));
    }
    this.#targets = [];
  }
}

function sendCopy(t: MirrorTarget, r: MirrorRequest, body: Buffer | null, done: (result: MirrorResult) => void): void {
  const pool = t.subset.pools[t.index];
  if (pool === undefined) {
    done('error');
    return;
  }
  const headers = [...r.headers];
  const host = readHost(headers);
  replaceHost(headers, buildShadowHost(host ?? t.subset.host));
  const handler = new CopyHandler(t, done, r.timeoutMs ?? MIRROR_DEFAULT_TIMEOUT_MS);
  t.subset.picker.start(t.index);
  pool.dispatch({ method: r.method, path: r.path, headers, body, headersTimeout: r.idleTimeoutMs, bodyTimeout: r.idleTimeoutMs }, handler);
}

function readHost(list: readonly string[]): string | null {
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (list[i]!.length === 4 && list[i]!.toLowerCase() === 'host') return list[i + 1]!;
  }
  return null;
}

/** undici's legacy handler form, as attempt.ts: reads the answer to its end and drops it. */
class CopyHandler implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | null = null;
  #timer: NodeJS.Timeout | null;
  #ended = false;

  constructor(
    readonly target: MirrorTarget,
    readonly done: (result: MirrorResult) => void,
    timeoutMs: number,
  ) {
    this.#timer = setTimeout(() => {
      this.#timer = null;
      // before a socket the request waits in undici's queue; end the copy either way
      if (this.#abort !== null) this.#abort(new Error('mirror timeout'));
      else this.#end('error');
    }, timeoutMs);
    // a copy in flight never holds a draining worker open
    this.#timer.unref();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#ended) abort();
  }

  onHeaders(): boolean {
    return true;
  }

  onData(): boolean {
    return true;
  }

  onComplete(): void {
    this.#end('ok');
  }

  onError(): void {
    this.#end('error');
  }

  #end(result: MirrorResult): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.target.subset.picker.finish(this.target.index);
    this.done(result);
  }
}
