import test from 'ava';
import { compileSources } from '../../../../src/config/index.js';
import { formatIssue } from '../../../../src/errors.js';
import type { Route } from '../../../../src/snapshot/types.js';
import { serviceEntryYaml, splitYaml } from '../../../helpers/istio-yaml.js';

/** svc with subsets a, b, c (each with its own policy YAML under trafficPolicy), and a route over them. */
function yaml(weights: number[], policies: string[]): string {
  return splitYaml(weights, { subsetPolicies: policies, serviceEntry: serviceEntryYaml('svc', [9001, 9002]) });
}

const COOKIE = '{consistentHash: {httpCookie: {name: session, ttl: 60s}}}';

function compile(text: string): { route: Route; warnings: string[] } {
  const r = compileSources([{ file: 'test.yaml', text }]);
  return { route: r.snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!, warnings: r.warnings.map(formatIssue) };
}

test('a weighted route over hashing subsets splits by the session key; the first carrying destination decides', (t) => {
  const { route, warnings } = compile(yaml([80, 20], [COOKIE, COOKIE]));
  t.deepEqual(route.sessionSplit, { key: { kind: 'cookie', name: 'session', path: '/', ttlSec: 60 }, decider: 0, table: null });
  t.deepEqual(warnings, []);
  const skipZero = compile(yaml([0, 50, 50], ['{simple: RANDOM}', COOKIE, COOKIE])).route;
  t.is(skipZero.sessionSplit?.decider, 1, 'weight 0 and non-hashing destinations do not decide');
});

test('no split with one carrying destination or no hashing subset: the route stays as Istio has it', (t) => {
  t.is(compile(yaml([100, 0], [COOKIE, COOKIE])).route.sessionSplit, undefined);
  t.is(compile(yaml([50, 50], ['', '{simple: ROUND_ROBIN}'])).route.sessionSplit, undefined);
});

test('check warns when the destinations hash on different keys, and says which key decides', (t) => {
  const { route, warnings } = compile(yaml([50, 30, 20], [COOKIE, '{consistentHash: {httpHeaderName: x-user}}', '{simple: RANDOM}']));
  t.is(route.sessionSplit?.decider, 0);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /spec\.http\[0\]\.route: the weighted destinations hash on different keys; cookie "session" \(of svc\/a\) decides the destination; svc\/b \(header "x-user": .*\); svc\/c \(no hash key/);
});

test('check warns when one cookie is minted with different attributes by different destinations', (t) => {
  const { warnings } = compile(yaml([50, 50], [COOKIE, '{consistentHash: {httpCookie: {name: session, ttl: 3600s}}}']));
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /mint cookie "session" with different path, ttl or attributes; cookie "session" \(of svc\/a\) decides the destination, and a minted cookie gets the attributes of the destination it chose/);
});
