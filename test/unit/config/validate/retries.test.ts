// outlierDetection (DestinationRule) and retries (VirtualService) -> snapshot policies.
import test from 'ava';
import { DEFAULT_RETRY_POLICY } from '../../../../src/config/validate/retries.js';
import { compileOne, destinationRule, docs, errorsOf, find, GATEWAY, SERVICE, virtualService } from '../../../fixtures/config/helpers.js';

test('outlierDetection: Istio defaults fill what is unset; a subset overrides the rule field by field', (t) => {
  const tp = '  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 3, interval: 1s}\n';
  const v1 = '    trafficPolicy:\n      outlierDetection: {consecutiveGatewayErrors: 2, baseEjectionTime: 5s, maxEjectionPercent: 50, minHealthPercent: 30}\n';
  const { snapshot } = compileOne(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(tp, v1)));
  t.deepEqual(snapshot.subsets[0]!.outlier, {
    consecutive5xxErrors: 5, consecutiveGatewayErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 5_000, maxEjectionPercent: 50, minHealthPercent: 30,
  });
  const other = compileOne(docs(GATEWAY, SERVICE, virtualService('v2'), destinationRule(tp)));
  t.deepEqual(other.snapshot.subsets[0]!.outlier, {
    consecutive5xxErrors: 3, consecutiveGatewayErrors: 0, intervalMs: 1_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10, minHealthPercent: 0,
  });
  const none = compileOne(docs(GATEWAY, SERVICE, virtualService('v2'), destinationRule()));
  t.is(none.snapshot.subsets[0]!.outlier, null);
});

test('outlierDetection: consecutiveErrors is read as gateway errors with a warning; bad values are errors', (t) => {
  const tp = '  trafficPolicy:\n    outlierDetection: {consecutiveErrors: 4}\n';
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(tp)));
  t.is(snapshot.subsets[0]!.outlier!.consecutiveGatewayErrors, 4);
  t.regex(find(warnings, 'spec.trafficPolicy.outlierDetection.consecutiveErrors')!.message, /deprecated/);
  const bad = '  trafficPolicy:\n    outlierDetection: {maxEjectionPercent: 120, interval: soon, consecutive5xxErrors: -1}\n';
  const issues = errorsOf(docs(GATEWAY, SERVICE, virtualService('v1'), destinationRule(bad)));
  t.truthy(find(issues, 'spec.trafficPolicy.outlierDetection.maxEjectionPercent'));
  t.truthy(find(issues, 'spec.trafficPolicy.outlierDetection.interval'));
  t.truthy(find(issues, 'spec.trafficPolicy.outlierDetection.consecutive5xxErrors'));
});

test('retries: unset is Istio\'s default policy; attempts 0 turns retries off', (t) => {
  const unset = compileOne(docs(GATEWAY, SERVICE, virtualService()));
  t.deepEqual(unset.snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.retries, DEFAULT_RETRY_POLICY);
  t.deepEqual(DEFAULT_RETRY_POLICY.retryOn, ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
  t.is(DEFAULT_RETRY_POLICY.attempts, 2);
  const off = compileOne(docs(GATEWAY, SERVICE, virtualService(undefined, '    retries: {attempts: 0}\n')));
  t.is(off.snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.retries, null);
});

test('retries: attempts, perTryTimeout, retryOn conditions and status codes', (t) => {
  const extra = '    retries: {attempts: 3, perTryTimeout: 250ms, retryOn: "5xx, reset,503,connect-failure"}\n';
  const { snapshot } = compileOne(docs(GATEWAY, SERVICE, virtualService(undefined, extra)));
  t.deepEqual(snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.retries, { attempts: 3, perTryTimeoutMs: 250, retryOn: ['5xx', 'reset', 'connect-failure'], retryStatuses: [503], backoffBaseMs: 25 });
  const issues = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    retries: {attempts: 2, retryOn: "5xx,sometimes"}\n')));
  t.regex(find(issues, 'spec.http[0].retries.retryOn')!.message, /unknown retry condition "sometimes"/);
  const missing = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    retries: {retryOn: 5xx}\n')));
  t.regex(find(missing, 'spec.http[0].retries.attempts')!.message, /required/);
});
