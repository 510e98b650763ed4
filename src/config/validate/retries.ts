// VirtualService http[].retries -> RetryPolicy. Unset means Istio's default policy; attempts 0
// turns retries off. Conditions follow Envoy's x-envoy-retry-on names, which Istio passes through.
import type { RetryPolicy } from '../../snapshot/types.js';
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, NOT_IMPLEMENTED, readInt, readObject, readString } from '../fields.js';
import { readDurationMs } from '../duration.js';

/**
 * Istio's default when `retries` is unset: 2 attempts on
 * "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes". Over HTTP/1.1
 * only connect-failure can fire: refused-stream is an HTTP/2 frame, unavailable and cancelled
 * are gRPC statuses, and retriable-status-codes has no codes unless some are listed.
 */
export const ISTIO_DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] as const;
export const ISTIO_DEFAULT_RETRY_ATTEMPTS = 2;
/** Envoy's retry_back_off.base_interval default; Istio's `backoff` sets it */
export const DEFAULT_BACKOFF_BASE_MS = 25;

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  attempts: ISTIO_DEFAULT_RETRY_ATTEMPTS,
  perTryTimeoutMs: null,
  retryOn: ISTIO_DEFAULT_RETRY_ON,
  retryStatuses: Object.freeze([]) as readonly number[],
  backoffBaseMs: DEFAULT_BACKOFF_BASE_MS,
});

/** Envoy x-envoy-retry-on (HTTP) and x-envoy-retry-grpc-on names; the gRPC ones never fire for HTTP/1.1. */
const KNOWN_CONDITIONS = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);
/** More than this many retries only multiplies load on a backend that is already failing. */
const MAX_ATTEMPTS = 10;

const FIELDS = {
  known: ['attempts', 'perTryTimeout', 'retryOn', 'backoff'],
  ignored: { retryRemoteLocalities: NOT_IMPLEMENTED, retryIgnorePreviousHosts: 'ignored: stickyd always retries on another endpoint' },
};

export function readRetries(sink: IssueSink, place: Place, value: unknown): RetryPolicy | null {
  if (isAbsent(value)) return DEFAULT_RETRY_POLICY;
  const r = readObject(sink, place, value, FIELDS);
  if (r === null) return DEFAULT_RETRY_POLICY;
  const attempts = readInt(sink, at(place, 'attempts'), r.attempts, 0, MAX_ATTEMPTS);
  if (attempts === null && isAbsent(r.attempts)) sink.error(at(place, 'attempts'), 'required when retries is set (0 turns retries off)');
  if (attempts === null || attempts === 0) return null;
  const perTry = readDurationMs(sink, at(place, 'perTryTimeout'), r.perTryTimeout);
  const backoff = readDurationMs(sink, at(place, 'backoff'), r.backoff);
  if (backoff !== null && backoff < 1) sink.error(at(place, 'backoff'), 'must be at least 1ms (Envoy)');
  const text = readString(sink, at(place, 'retryOn'), r.retryOn);
  const retryOn: string[] = [];
  const retryStatuses: number[] = [];
  for (const token of (text ?? ISTIO_DEFAULT_RETRY_ON.join(',')).split(',')) {
    const c = token.trim();
    if (c === '') continue;
    if (/^\d{3}$/.test(c) && Number(c) >= 100 && Number(c) <= 599) retryStatuses.push(Number(c));
    else if (KNOWN_CONDITIONS.has(c)) retryOn.push(c);
    else sink.error(at(place, 'retryOn'), `unknown retry condition "${c}": use Envoy's names (5xx, gateway-error, reset, connect-failure, retriable-4xx, ...) or status codes`);
  }
  return {
    attempts,
    perTryTimeoutMs: perTry === null || perTry === 0 ? null : Math.ceil(perTry),
    retryOn,
    retryStatuses,
    backoffBaseMs: backoff === null || backoff < 1 ? DEFAULT_BACKOFF_BASE_MS : Math.ceil(backoff),
  };
}
