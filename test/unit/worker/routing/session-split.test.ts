import test from 'ava';
import { buildTables } from '../../../../src/balancing/build-tables.js';
import { initHasher } from '../../../../src/balancing/hash.js';
import { compileSources } from '../../../../src/config/index.js';
import type { Kernel } from '../../../../src/kernel/index.js';
import { buildRuntimeSnapshot, type RuntimeRoute, type RuntimeSnapshot } from '../../../../src/worker/routing/runtime-snapshot.js';
import { selectSessionTarget, type SessionTarget } from '../../../../src/worker/routing/session-split.js';
import { findCookie } from '../../../../src/worker/routing/sticky.js';
import { resolveSession, type ResolvedSession } from '../../../../src/worker/routing/resolve-session.js';
import { issuePin } from '../../../../src/session/pin-table.js';
import { serviceEntryYaml, splitYaml } from '../../../helpers/istio-yaml.js';

const hasher = await initHasher();
const fakeKernel: Kernel = { load: () => ({ select: () => 0 }) };

/** svc split by `weights` over subsets a, b, c with `policies` as their loadBalancers, on one endpoint. */
function yaml(weights: number[], policies: string[]): string {
  return splitYaml(weights, { subsetPolicies: policies, serviceEntry: serviceEntryYaml('svc', [9001]) });
}

const COOKIE = '{consistentHash: {httpCookie: {name: session, ttl: 60s}}}';

/** The worker's snapshot of `text` (fake kernel, Math.random unless told) and its demo.example.com route. */
function runtime(
  text: string, opts: { random?: () => number; kernel?: Kernel; sessionKeys?: string[] } = {},
): { rt: RuntimeSnapshot; route: RuntimeRoute } {
  const compiled = compileSources([{ file: 't.yaml', text }]).snapshot;
  const snapshot = buildTables(opts.sessionKeys === undefined ? compiled : { ...compiled, sessionKeys: opts.sessionKeys }, hasher);
  const rt = buildRuntimeSnapshot(snapshot, { kernel: opts.kernel ?? fakeKernel, hasher, random: opts.random ?? Math.random });
  const route = rt.listeners.get(80)!.virtualHosts.exact.get('demo.example.com')!.routes[0]!;
  return { rt, route };
}

const withCookie = (cookie?: string) => ({ headers: cookie === undefined ? {} : { cookie } });

/** One request carrying `cookie` through the split, then through session resolution on the subset it chose. */
function placeSession(rt: RuntimeSnapshot, route: RuntimeRoute, cookie?: string): { st: SessionTarget; s: ResolvedSession } {
  const req = withCookie(cookie);
  const st = selectSessionTarget(rt, route, req);
  return { st, s: resolveSession(rt, st.target.subset, { ...req, url: '/', socket: {} }, null, undefined, st) };
}

test('the same session key always gets the same destination, and the weights hold over 20,000 keys', (t) => {
  const { rt, route } = runtime(yaml([80, 20], [COOKIE, COOKIE]));
  t.not(route.split, null);
  let a = 0;
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const first = selectSessionTarget(rt, route, withCookie(`session=k${i}`));
    const again = selectSessionTarget(rt, route, withCookie(`x=1; session=k${i}`));
    t.is(first.target, again.target);
    t.is(first.key, `k${i}`);
    t.is(first.setCookie, null, 'a key the request carries is never re-minted');
    if (first.target.subset.name === 'svc/a') a++;
  }
  // binomial sd = sqrt(20000 * 0.8 * 0.2) = 57: 5 sd is 283 keys, 1.4 points
  t.true(Math.abs(a - 0.8 * N) < 283, `svc/a got ${a} of ${N}`);
});

test('a request without the cookie gets one minted first, and the destination follows the minted value', (t) => {
  const { rt, route } = runtime(yaml([50, 50], [COOKIE, '{consistentHash: {httpCookie: {name: session, path: /b, ttl: 3600s}}}']));
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const fresh = selectSessionTarget(rt, route, withCookie());
    t.not(fresh.setCookie, null);
    const value = findCookie(fresh.setCookie!.split(';')[0]!, 'session')!;
    t.is(fresh.key, value);
    // the Set-Cookie is the chosen destination's own: its path and ttl
    const name = fresh.target.subset.name;
    seen.add(name);
    t.true(fresh.setCookie!.endsWith(name === 'svc/a' ? '; Path=/; Max-Age=60; HttpOnly' : '; Path=/b; Max-Age=3600; HttpOnly'), fresh.setCookie!);
    // the next request, carrying it, lands on the same destination
    t.is(selectSessionTarget(rt, route, withCookie(`session=${value}`)).target, fresh.target);
  }
  t.is(seen.size, 2);
});

test('no key and nothing to mint: split at random by the route weights, as Istio does', (t) => {
  const noTtl = '{consistentHash: {httpCookie: {name: session}}}';
  let draw = 0.1;
  const { rt, route } = runtime(yaml([50, 50], [noTtl, noTtl]), { random: () => draw });
  t.is(selectSessionTarget(rt, route, withCookie()).target.subset.name, 'svc/a');
  draw = 0.9;
  const late = selectSessionTarget(rt, route, withCookie());
  t.is(late.target.subset.name, 'svc/b');
  t.is(late.key, null);
  t.is(late.setCookie, null);
  // with the cookie (set by the backend, say), the key decides, whatever the draw
  const keyed = selectSessionTarget(rt, route, withCookie('session=abc')).target;
  draw = 0.1;
  t.is(selectSessionTarget(rt, route, withCookie('session=abc')).target, keyed);
});

test('a destination hashing on another key: its own key when the request has it, else the deciding value; no second cookie', (t) => {
  const { rt, route } = runtime(yaml([50, 50], [COOKIE, '{consistentHash: {httpHeaderName: x-user}}']));
  for (let i = 0; i < 200; i++) {
    const r = selectSessionTarget(rt, route, { headers: { cookie: `session=k${i}`, 'x-user': `u${i}` } });
    if (r.target.subset.name === 'svc/b') t.is(r.key, `u${i}`);
    else t.is(r.key, `k${i}`);
    const noHeader = selectSessionTarget(rt, route, { headers: { cookie: `session=k${i}` } });
    t.is(noHeader.target, r.target);
    t.is(noHeader.key, `k${i}`);
  }
  // minting: a request going to b still gets the deciding cookie, with a's attributes
  for (let i = 0; i < 50; i++) {
    const fresh = selectSessionTarget(rt, route, withCookie());
    t.regex(fresh.setCookie ?? '', /^session=[0-9a-f]{32}; Path=\/; Max-Age=60; HttpOnly$/);
  }
});

test('a weight-0 destination never receives a session', (t) => {
  const { rt, route } = runtime(yaml([50, 0, 50], [COOKIE, COOKIE, COOKIE]));
  for (let i = 0; i < 2000; i++) t.not(selectSessionTarget(rt, route, withCookie(`session=k${i}`)).target.subset.name, 'svc/b');
});

/** svc persistent by cookie `session` (pins), subsets a/b on two endpoints each, split `weights`; `lb` the host's loadBalancer */
function persistentSplit(weights: number[], lb: string): { rt: RuntimeSnapshot; route: RuntimeRoute } {
  const endpoints = [9001, 9002, 9003, 9004].map((port, i) => ({ port, labels: { version: i < 2 ? 'a' : 'b' } }));
  const serviceEntry = serviceEntryYaml('svc', endpoints, { labels: { 'istio.io/persistent-session': 'session' } });
  return runtime(splitYaml(weights, { policy: lb, byVersion: true, serviceEntry }), { sessionKeys: [Buffer.alloc(32, 3).toString('base64url')] });
}

for (const [label, lb] of [['simple', '{simple: ROUND_ROBIN}'], ['consistentHash on the pin cookie', '{consistentHash: {httpCookie: {name: session, ttl: 3600s}}}']] as const) {
  test(`persistent sessions on a 50/50 split (${label}): a session keeps its version when its pin is re-issued, and a forged pin chooses nothing`, (t) => {
    const { rt, route } = persistentSplit([50, 50], lb);
    t.not(route.split, null, 'the pin cookie decides the split');
    const resolve = (cookie?: string) => {
      const { st, s } = placeSession(rt, route, cookie);
      return { version: st.target.subset.name, pin: s.setCookie === null ? null : findCookie(s.setCookie.split(';')[0]!, 'session'), sid: s.key, use: s.use };
    };
    let a = 0;
    const N = 400;
    for (let i = 0; i < N; i++) {
      const first = resolve();
      t.not(first.pin, null);
      const again = resolve(`session=${first.pin}`);
      t.is(again.version, first.version, 'the pin brings the session back to its version');
      t.is(again.use, 'pinned');
      // a re-issued pin (sliding expiry, another endpoint): new text, same session id
      const s = rt.subsets.find((x) => x.name === first.version)!;
      const reissued = issuePin(s.pins!.table, first.sid!, 1, Math.floor(Date.now() / 1000) + 5).value;
      t.not(reissued, first.pin);
      t.is(resolve(`session=${reissued}`).version, first.version, 'a re-issued pin keeps the version');
      if (first.version === 'svc/a') a++;
    }
    // binomial(400, 0.5): sd 10, 6 sd either way
    t.true(Math.abs(a - N / 2) <= 60, `svc/a got ${a} of ${N}`);
    // a pin signed with another key claims a session id; it is a request without a session
    const forged = resolve(`session=${'0'.repeat(32)}.AAAAAAAA.AAAAAAAAAAAAAAAA.9999999999.AAAAAAAAAAAAAAAAAAAAAA`);
    t.not(forged.sid, '0'.repeat(32));
    t.is(forged.use, 'repinned');
    t.is(resolve(`session=${forged.pin}`).version, forged.version, 'the new pin holds its version');
  });
}

test('drain on a split route in hash mode: new sessions keep the weights and never land on a draining endpoint; existing keys still reach it', async (t) => {
  const { loadKernel } = await import('../../../../src/kernel/index.js');
  const kernel = await loadKernel();
  const eps = [[9001, 'a', false], [9002, 'a', true], [9003, 'a', false], [9004, 'b', true], [9005, 'b', false]] as const;
  const serviceEntry = serviceEntryYaml('svc', eps.map(([port, version, drain]) => ({ port, labels: (drain ? { version, 'stickyd.io/drain': 'true' } : { version }) as Record<string, string> })));
  const { rt, route: r0 } = runtime(splitYaml([50, 50], { policy: COOKIE, byVersion: true, serviceEntry }), { kernel });
  const place = (cookie?: string) => {
    const { st, s } = placeSession(rt, r0, cookie);
    return { subset: st.target.subset, endpoint: st.target.subset.endpoints[s.index]!, s };
  };
  const N = 1_000;
  let a = 0;
  let onDraining = 0;
  for (let i = 0; i < N; i++) {
    const first = place();
    if (first.endpoint.labels['stickyd.io/drain'] === 'true') onDraining++;
    if (first.subset.name === 'svc/a') a++;
    const cookie = findCookie(first.s.setCookie!.split(';')[0]!, 'session')!;
    t.is(first.s.key, cookie, 'the cookie carries the value that placed the session');
    const again = place(`session=${cookie}`);
    t.is(again.subset, first.subset, 'the minted value keeps its version');
    t.is(again.endpoint, first.endpoint, 'and its endpoint');
  }
  t.is(onDraining, 0, `${onDraining} of ${N} new sessions on a draining endpoint`);
  // binomial(1000, 0.5): sd 15.8, 6 sd either way
  t.true(Math.abs(a - N / 2) <= 95, `svc/a got ${a} of ${N}`);
  // an existing key whose endpoint drains keeps reaching it
  let kept = 0;
  for (let i = 0; kept < 20 && i < 5_000; i++) {
    const p = place(`session=old${i}`);
    if (p.endpoint.labels['stickyd.io/drain'] === 'true') kept++;
  }
  t.is(kept, 20, 'existing keys still reach draining endpoints');
});
