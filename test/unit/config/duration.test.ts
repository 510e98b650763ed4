import test from 'ava';
import { parseDurationMs } from '../../../src/config/duration.js';
import { compileOne, destinationRule, docs, errorsOf, GATEWAY, SERVICE, virtualService } from '../../fixtures/config/helpers.js';

const valid: [string, number][] = [
  ['60s', 60_000],
  ['1.5s', 1_500],
  ['100ms', 100],
  ['1m', 60_000],
  ['1h', 3_600_000],
  ['0s', 0],
  ['1m30s', 90_000],
  ['1h2m3s4ms', 3_723_004],
  ['500us', 0.5],
  ['250µs', 0.25],
  ['2000000ns', 2],
  ['0.25h', 900_000],
];

for (const [text, ms] of valid) {
  test(`duration "${text}" is ${ms} ms`, (t) => {
    t.is(parseDurationMs(text), ms);
  });
}

const invalid = ['', '60', '0', '1d', '-1s', '+1s', 's', '1.s', '.5s', ' 1s', '1s ', '1S', '1 s', '1m 30s', 'ms', '1sm', '1e3s', 'abc'];

for (const text of invalid) {
  test(`duration ${JSON.stringify(text)} is rejected`, (t) => {
    t.is(parseDurationMs(text), null);
  });
}

test('a route timeout becomes timeoutMs; 0s means none; sub-millisecond rounds up', (t) => {
  const timeoutOf = (value: string) => {
    const text = docs(GATEWAY, SERVICE, virtualService(undefined, `    timeout: ${value}\n`));
    return compileOne(text).snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!.timeoutMs;
  };
  t.is(timeoutOf('1.5s'), 1_500);
  t.is(timeoutOf('1m30s'), 90_000);
  t.is(timeoutOf('0s'), null);
  t.is(timeoutOf('500us'), 1);
});

test('a bad duration is an error naming the field, and a number is not a duration', (t) => {
  const vs = virtualService(undefined, '    timeout: 10 seconds\n');
  const issues = errorsOf(docs(GATEWAY, SERVICE, vs, destinationRule('', '    trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 60}}}}\n')));
  t.deepEqual(
    issues.map((i) => [i.document, i.field]),
    [
      ['VirtualService/vs', 'spec.http[0].timeout'],
      ['DestinationRule/dr', 'spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl'],
    ],
  );
  t.regex(issues[0]!.message, /must be a duration .* got the string "10 seconds"/);
  t.regex(issues[1]!.message, /got number 60/);
});
