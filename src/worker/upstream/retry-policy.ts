// Whether a failed upstream attempt may be tried again, per VirtualService retries (Envoy's
// retry_on semantics) and what is safe: a connect failure sent nothing, so any method may go
// again; anything later only for idempotent requests whose body was never streamed (a streamed
// body cannot be replayed, and a non-idempotent request may already have had its effect).
import type { RetryPolicy } from '../../snapshot/types.js';

/** What went wrong with one attempt, before any response byte reached the client. */
export type AttemptFailure =
  /** no connection: refused, unreachable, connect timeout */
  | 'connect'
  /** connected, then reset or closed before response headers */
  | 'reset'
  /** perTryTimeout fired before response headers */
  | 'perTryTimeout';

/** RFC 9110 §9.2.2 idempotent methods. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Envoy's retriable-4xx is exactly 409 Conflict. */
const RETRIABLE_4XX = 409;

export function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}

/**
 * Envoy RetryStateImpl: any reset (a connect failure included) retries under 5xx, gateway-error
 * and reset; connect-failure retries connect failures only; a per-try timeout counts as a 504.
 */
export function shouldRetryFailure(policy: RetryPolicy, failure: AttemptFailure, replayable: boolean): boolean {
  const on = policy.retryOn;
  if (failure === 'connect') return on.includes('connect-failure') || on.includes('5xx') || on.includes('gateway-error') || on.includes('reset') || on.includes('reset-before-request');
  if (!replayable) return false;
  if (failure === 'reset') return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset');
  return on.includes('5xx') || on.includes('gateway-error') || on.includes('reset') || policy.retryStatuses.includes(504);
}

/** A response status worth another attempt; the response is then discarded, never relayed. */
export function shouldRetryStatus(policy: RetryPolicy, status: number, replayable: boolean): boolean {
  if (!replayable || status < 400) return false;
  const on = policy.retryOn;
  if (policy.retryStatuses.includes(status)) return true;
  if (status >= 500 && on.includes('5xx')) return true;
  if (status >= 502 && status <= 504 && on.includes('gateway-error')) return true;
  return status === RETRIABLE_4XX && on.includes('retriable-4xx');
}
