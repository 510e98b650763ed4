// One attempt of an upstream exchange, as the handler undici's HTTP/1.1 client calls: it turns
// undici's callbacks into the few events proxy.ts acts on, and gives proxy.ts an abort that works
// before undici has handed the request a socket.
//
// The legacy callback form (onConnect/onHeaders/onData/onComplete/onError) is the one undici's
// client calls natively: response bytes arrive chunk by chunk with no Readable in between, and the
// raw header buffers are converted once. The onRequestStart/onResponse* form goes through a shim
// that first parses the headers into an object (bench/RESULTS.md).
import type { Dispatcher } from 'undici';

/** What the exchange hears from one attempt; none of these is called once the attempt is detached. */
export interface AttemptSink {
  /** The request is about to be written on a connected socket (its body may stream from now). */
  onAttemptSent(attempt: UpstreamAttempt): void;
  /** Final (non-1xx) status and headers as [name, value, ...] latin1 strings in received order. */
  onAttemptHead(attempt: UpstreamAttempt, status: number, rawHeaders: string[]): void;
  /** A body chunk; false when the client is slow: call attempt.resume() on its 'drain'. */
  onAttemptData(chunk: Buffer): boolean;
  onAttemptEnd(attempt: UpstreamAttempt): void;
  /** Any failure, before or after the head. */
  onAttemptError(attempt: UpstreamAttempt, err: Error): void;
}

/**
 * The endpoint answered 101 Switching Protocols to a request stickyd sent without Upgrade (plain
 * requests never carry one: forward-headers.ts). Honouring it would be a tunnel nothing routed,
 * so the attempt fails and undici closes the connection: for a 101 with Upgrade and Connection:
 * upgrade, undici destroys the socket itself ("bad upgrade"); for a bare 101, aborting from
 * onHeaders does (client-h1.js destroys the socket of an aborted request).
 */
export class UnaskedSwitchError extends Error {
  readonly code = 'UPSTREAM_101';
  constructor(cause?: unknown) {
    super('upstream answered 101 Switching Protocols to a request sent without Upgrade', cause === undefined ? undefined : { cause });
  }
}

export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  /** onConnect ran: the request was handed a connected socket */
  sent = false;
  /** the exchange moved on (retry, failure, the client left): undici's further calls are dropped */
  #detached = false;

  constructor(readonly sink: AttemptSink) {}

  /** Detach and stop the exchange on the wire; the sink hears nothing more from this attempt. */
  cancel(err: Error): void {
    this.#detached = true;
    // Before onConnect the request sits in undici's queue; it is aborted when it reaches a socket.
    this.#abort?.(err);
  }

  /**
   * Fail the attempt with `err` (a timeout): the sink's onAttemptError runs now, even while the
   * request still waits for a connection.
   */
  fail(err: Error): void {
    if (this.#detached) return;
    this.cancel(err);
    this.sink.onAttemptError(this, err);
  }

  /** Detach but let undici read the response to its end, so the socket goes back to the pool. */
  discard(): void {
    this.#detached = true;
  }

  resume(): void {
    this.#resume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#detached) {
      abort();
      return;
    }
    this.sent = true;
    this.sink.onAttemptSent(this);
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void): boolean {
    if (this.#detached) return true;
    if (statusCode >= 100 && statusCode < 200) {
      // 103 Early Hints and the like: not relayed
      if (statusCode === 101) this.fail(new UnaskedSwitchError());
      return true;
    }
    this.#resume = resume;
    const raw = new Array<string>(headers.length);
    for (let i = 0; i < headers.length; i++) raw[i] = headers[i]!.toString('latin1');
    this.sink.onAttemptHead(this, statusCode, raw);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#detached) return true;
    return this.sink.onAttemptData(chunk);
  }

  onComplete(): void {
    if (this.#detached) return;
    this.#detached = true;
    this.sink.onAttemptEnd(this);
  }

  onError(err: Error): void {
    if (this.#detached) return;
    this.#detached = true;
    const unasked = (err as { code?: unknown }).code === 'UND_ERR_SOCKET' && err.message === 'bad upgrade';
    this.sink.onAttemptError(this, unasked ? new UnaskedSwitchError(err) : err);
  }
}
