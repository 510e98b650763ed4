import test from 'ava';
import { DEFAULT_RETRY_POLICY } from '../../../../src/config/validate/retries.js';
import type { RetryPolicy } from '../../../../src/snapshot/types.js';
import { isIdempotent, shouldRetryFailure, shouldRetryStatus } from '../../../../src/worker/upstream/retry-policy.js';

const policy = (retryOn: string[], retryStatuses: number[] = []): RetryPolicy => ({ attempts: 2, perTryTimeoutMs: null, retryOn, retryStatuses });

test('Istio default: connect failures only, for any method', (t) => {
  t.true(shouldRetryFailure(DEFAULT_RETRY_POLICY, 'connect', false), 'nothing was sent: even a POST with a body');
  t.false(shouldRetryFailure(DEFAULT_RETRY_POLICY, 'reset', true));
  t.false(shouldRetryFailure(DEFAULT_RETRY_POLICY, 'perTryTimeout', true));
  t.false(shouldRetryStatus(DEFAULT_RETRY_POLICY, 503, true));
});

test('5xx / gateway-error / reset: resets and timeouts retried only when replayable', (t) => {
  for (const on of ['5xx', 'gateway-error', 'reset']) {
    t.true(shouldRetryFailure(policy([on]), 'connect', false), on);
    t.true(shouldRetryFailure(policy([on]), 'reset', true), on);
    t.false(shouldRetryFailure(policy([on]), 'reset', false), `${on}: not replayable`);
    t.true(shouldRetryFailure(policy([on]), 'perTryTimeout', true), on);
  }
  t.false(shouldRetryFailure(policy(['connect-failure']), 'reset', true));
});

test('statuses: 5xx, gateway-error, listed codes, retriable-4xx; never when not replayable', (t) => {
  t.true(shouldRetryStatus(policy(['5xx']), 500, true));
  t.false(shouldRetryStatus(policy(['gateway-error']), 500, true));
  t.true(shouldRetryStatus(policy(['gateway-error']), 503, true));
  t.true(shouldRetryStatus(policy([], [429]), 429, true));
  t.true(shouldRetryStatus(policy(['retriable-4xx']), 409, true));
  t.false(shouldRetryStatus(policy(['5xx']), 503, false));
  t.false(shouldRetryStatus(policy(['5xx']), 200, true));
});

test('idempotent methods per RFC 9110', (t) => {
  for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']) t.true(isIdempotent(m), m);
  for (const m of ['POST', 'PATCH', 'CONNECT', undefined]) t.false(isIdempotent(m), String(m));
});
