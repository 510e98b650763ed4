// One request's observation: started when the handler takes the request, finished when the
// response closes (sent, failed or abandoned, whichever path wrote it), when it bumps the
// snapshot's meters and, if sampled, hands one line to the access log. Indices come from the
// RuntimeSnapshot (through the two small interfaces below, so downstream/ needs nothing of
// routing/); nothing here builds a label string or looks one up.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hasher } from '../../balancing/hash.js';
import { UNROUTED_JSON, type AccessLog, type SessionUse } from '../telemetry/access-log.js';
import { normaliseAddress, readRequestPath, readRequestHost } from './request-head.js';
import { STATUS_COLUMNS, type OverflowLimit, type PinOutcomeLabel, type UpgradeRefusal } from '../../protocol.js';
import { countSession, observeDuration, readStatusColumn, type SnapshotMeter, type SubsetMeter, type TargetMeter } from '../telemetry/stats.js';

const CLASS_COUNT = STATUS_COLUMNS.length;

/** What an observation reads of the snapshot it started on (a RuntimeSnapshot is one). */
export interface ObservedSnapshot {
  readonly meter: SnapshotMeter;
  readonly hasher: Hasher;
}

/** What an observation reads of the route destination the request took (a RouteTarget is one). */
export interface ObservedTarget {
  readonly meter: TargetMeter;
  readonly subset: { readonly meter: SubsetMeter };
}
/** A Content-Length line in the header block Node wrote (responses stickyd writes itself carry one). */
const CONTENT_LENGTH = /\r\ncontent-length: *(\d+)/i;

export class RequestObservation {
  readonly #meter: SnapshotMeter;
  readonly #hasher: Hasher;
  readonly #log: AccessLog | null;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #requestId: string;
  readonly #start = performance.now();
  #target: ObservedTarget | null = null;
  /** endpoint index in the target's subset; -1 while none was selected */
  #index = -1;
  #session: SessionUse = 'none';
  #key: string | null = null;
  /** hash32 of #key if routing computed it, else null: computed when the line is written */
  #keyHash: number | null = null;
  /** body bytes forwarded from the upstream; -1 while no upstream body is being counted */
  #bytes = -1;
  #upgradeRefused: UpgradeRefusal | null = null;
  #overflow: OverflowLimit | null = null;
  /** the request host as routing read it; null: read from the request when the line is written */
  #host: string | null = null;
  /** the client's address as the upstream head took it; null: read from the socket when the line is written */
  #client: string | null = null;
  /** the exchange's own close step (proxy.ts), run after the meters: one listener on 'close', not two */
  #then: (() => void) | null = null;

  /** `log` is null when this request is not logged (log off, or not sampled). */
  constructor(rt: ObservedSnapshot, log: AccessLog | null, req: IncomingMessage, res: ServerResponse, requestId: string) {
    this.#meter = rt.meter;
    this.#hasher = rt.hasher;
    this.#log = log;
    this.#req = req;
    this.#res = res;
    this.#requestId = requestId;
    rt.meter.inflight++;
    res.on('close', this.#onClose);
  }

  /**
   * The request was routed: its destination, endpoint (or -1), its session key, what happened to
   * it (resolve-session.ts), on a persistent subset how its pin fared, and the key's hash32 when
   * routing computed it (the line's sessionKeyHash; null: hashed when the line is written).
   */
  routed(target: ObservedTarget, index: number, key: string | null, use: SessionUse, pin: PinOutcomeLabel | null = null, keyHash: number | null = null): void {
    this.#target = target;
    this.#index = index;
    this.#key = key;
    this.#keyHash = keyHash;
    this.#session = use;
    const sent = index >= 0;
    countSession(target.subset.meter, sent && (use === 'minted' || use === 'repinned'), pin, sent && use === 'refreshed');
  }

  /** Routing read the request's host (readRequestHost): the line takes it instead of reading it again. */
  sawHost(host: string): void {
    this.#host = host;
  }

  /** The upstream head read the client's address (normalised): the line takes it instead of asking the socket again. */
  sawClient(address: string): void {
    this.#client = address;
  }

  /** The request's Upgrade header is stripped for `reason` (counted by the caller). */
  upgradeRefused(reason: UpgradeRefusal): void {
    this.#upgradeRefused = reason;
  }

  /** A connectionPool limit refused the request (counted by the caller). */
  overflowed(limit: OverflowLimit): void {
    this.#overflow = limit;
  }

  /** `fn` runs when the response closes, after this observation has counted it. */
  onClose(fn: () => void): void {
    this.#then = fn;
  }

  /** A retry moved the request to another endpoint of the same subset. */
  retarget(index: number): void {
    this.#index = index;
  }

  /** The proxy starts forwarding an upstream body: its bytes are counted only when the line is logged. */
  countBody(): void {
    if (this.#log !== null) this.#bytes = 0;
  }

  /** `n` more upstream body bytes went to the client. */
  addBodyBytes(n: number): void {
    if (this.#bytes >= 0) this.#bytes += n;
  }

  readonly #onClose = (): void => {
    const res = this.#res;
    const status = res.headersSent ? res.statusCode : 0;
    const column = readStatusColumn(status);
    const ms = performance.now() - this.#start;
    const meter = this.#meter;
    const target = this.#target;
    if (target === null) {
      meter.unrouted[column]!++;
      observeDuration(meter.unroutedDurations, ms / 1000);
    } else {
      const row = this.#index >= 0 ? this.#index : target.meter.endpointIds.length;
      target.meter.requests[row * CLASS_COUNT + column]!++;
      observeDuration(target.subset.meter.durations, ms / 1000);
    }
    meter.inflight--;
    if (this.#log !== null) this.#writeLine(status, ms);
    this.#then?.();
  };

  #writeLine(status: number, ms: number): void {
    const req = this.#req;
    const target = this.#target;
    this.#log!.write({
      requestId: this.#requestId,
      client: this.#client ?? normaliseAddress(req.socket.remoteAddress ?? ''),
      method: req.method ?? '',
      host: this.#host ?? readRequestHost(req.headers),
      path: readRequestPath(req.url ?? '/'),
      status,
      bytes: this.#bytes >= 0 ? this.#bytes : localBodyBytes(this.#res),
      startedAt: this.#start,
      durationMs: ms,
      destinationJson:
        target === null ? UNROUTED_JSON : target.meter.destinationJson[this.#index >= 0 ? this.#index : target.meter.endpointIds.length] ?? UNROUTED_JSON,
      session: this.#session,
      sessionKeyHash: this.#key === null ? null : (this.#keyHash ?? this.#hasher.hash32(this.#key)),
      upgradeRefused: this.#upgradeRefused,
      overflow: this.#overflow,
    });
  }
}

/** Body size of a response stickyd wrote itself: the Content-Length it sent, 0 if none went out. */
function localBodyBytes(res: ServerResponse): number {
  const head = (res as unknown as { _header?: string | null })._header;
  if (typeof head !== 'string') return 0;
  const m = CONTENT_LENGTH.exec(head);
  return m === null ? 0 : Number(m[1]);
}
