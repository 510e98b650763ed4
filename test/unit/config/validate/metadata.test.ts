import test from 'ava';
import { compileSources } from '../../../../src/config/index.js';
import { ConfigError } from '../../../../src/errors.js';
import { GATEWAY_YAML, virtualServiceYaml } from '../../../helpers/istio-yaml.js';

/** One host `app` with three endpoints; `seMeta`/`drMeta` go under the resources' metadata. */
function yaml(opts: { seMeta?: string; drMeta?: string; cookie?: string; drainLabel?: string; noRule?: boolean } = {}): string {
  const rule = opts.noRule ? '' : `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: dr
${opts.drMeta ?? ''}spec:
  host: app
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: ${opts.cookie ?? '{name: session, ttl: 600s, path: /app}'}
`;
  return `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], `  - route:
    - destination: {host: app}
`)}${rule}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: app
${opts.seMeta ?? ''}spec:
  hosts: [app]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: 127.0.0.1, ports: {http: 9001}}
  - {address: 127.0.0.1, ports: {http: 9002}, labels: {stickyd.io/drain: ${opts.drainLabel ?? '"true"'}}}
  - {address: 127.0.0.1, ports: {http: 9003}}
`;
}

const compile = (text: string) => compileSources([{ file: 'c.yaml', text }]);
const errorsOf = (text: string): string[] => {
  try {
    compile(text);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map((i) => `${i.field}: ${i.message}`);
  }
};

test('istio.io/persistent-session on a ServiceEntry makes its subsets persistent; the DestinationRule cookie of the same name gives ttl and path', (t) => {
  const { snapshot } = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: session}\n' }));
  const s = snapshot.subsets[0]!;
  t.deepEqual(s.persistent, { kind: 'cookie', name: 'session', path: '/app', lifetimeSec: 600, maxAge: true, scope: 'cookie:session\0app' });
});

test('the label path wins; without a rule naming the cookie the pin lives a day in a browser session cookie', (t) => {
  const a = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: "session:/x"}\n' })).snapshot.subsets[0]!;
  t.is(a.persistent?.path, '/x');
  const b = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: sid}\n', noRule: true })).snapshot.subsets[0]!;
  t.deepEqual(b.persistent, { kind: 'cookie', name: 'sid', path: '/', lifetimeSec: 86_400, maxAge: false, scope: 'cookie:sid\0app' });
  const c = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: session}\n', cookie: '{name: session, ttl: 0s}' })).snapshot.subsets[0]!;
  t.is(c.persistent?.maxAge, false);
  t.is(c.persistent?.lifetimeSec, 86_400);
});

test('the same-named rule cookie lends the pin its httpCookie.attributes; a rule naming another cookie lends none', (t) => {
  const a = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: session}\n', cookie: '{name: session, ttl: 600s, attributes: [{name: SameSite, value: Strict}, {name: Secure}]}' })).snapshot.subsets[0]!;
  t.deepEqual(a.persistent?.attributes, [{ name: 'SameSite', value: 'Strict' }, { name: 'Secure', value: '' }]);
  const b = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session: sid}\n', cookie: '{name: session, ttl: 600s, attributes: [{name: Secure}]}' })).snapshot.subsets[0]!;
  t.is(b.persistent?.attributes, undefined);
});

test('istio.io/persistent-session-header gives the header form, lower-cased', (t) => {
  const s = compile(yaml({ seMeta: '  labels: {istio.io/persistent-session-header: X-Session}\n', noRule: true })).snapshot.subsets[0]!;
  t.is(s.persistent?.kind, 'header');
  t.is(s.persistent?.name, 'x-session');
});

test('bad persistent-session labels are errors naming the label', (t) => {
  t.regex(errorsOf(yaml({ seMeta: '  labels: {istio.io/persistent-session: "a b"}\n' })).join('\n'), /metadata\.labels\["istio\.io\/persistent-session"\]: "a b" is not a cookie name/);
  t.regex(errorsOf(yaml({ seMeta: '  labels: {istio.io/persistent-session: "s:x"}\n' })).join('\n'), /"x" is not a cookie path/);
  t.regex(errorsOf(yaml({ seMeta: '  labels: {istio.io/persistent-session: s, istio.io/persistent-session-header: h}\n' })).join('\n'), /set only one of/);
  t.regex(errorsOf(yaml({ seMeta: '  labels: {istio.io/persistent-session: 5}\n' })).join('\n'), /must be a string/);
});

test('other metadata labels and annotations stay unchecked, as before', (t) => {
  t.notThrows(() => compile(yaml({ seMeta: '  labels: {team: 5}\n  annotations: {x: [1]}\n' })));
});

test('stickyd.io/drain "true" marks the endpoint draining and keeps it in the ring; other values are errors', (t) => {
  const s = compile(yaml()).snapshot.subsets[0]!;
  t.deepEqual(s.endpoints.map((e) => e.draining === true), [false, true, false]);
  t.regex(errorsOf(yaml({ drainLabel: 'yes' })).join('\n'), /labels\["stickyd\.io\/drain"\]: "yes" must be "true"/);
  t.is(compile(yaml({ drainLabel: '"false"' })).snapshot.subsets[0]!.endpoints.filter((e) => e.draining).length, 0);
});

test('stickyd.io/hash-balance-factor: an integer >= 100 on the DestinationRule, else an error naming the field', (t) => {
  t.is(compile(yaml({ drMeta: '  annotations: {stickyd.io/hash-balance-factor: "150"}\n' })).snapshot.subsets[0]!.balanceFactor, 150);
  t.is(compile(yaml()).snapshot.subsets[0]!.balanceFactor, undefined);
  for (const bad of ['"99"', '"1.5"', '"abc"', '"-100"']) {
    t.regex(errorsOf(yaml({ drMeta: `  annotations: {stickyd.io/hash-balance-factor: ${bad}}\n` })).join('\n'), /metadata\.annotations\["stickyd\.io\/hash-balance-factor"\]: .* is not a balance factor/, bad);
  }
  t.regex(errorsOf(yaml({ drMeta: '  annotations: {stickyd.io/hash-balance-factor: 150}\n' })).join('\n'), /must be a string/);
});
