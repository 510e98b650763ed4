// Persistent sessions (ServiceEntry label istio.io/persistent-session), drain and bounded load,
// with the real daemon, real backends on loopback and 1,000+ sessions per case through a
// keep-alive client; a few curl runs for the seed's flavour.
import test, { type ExecutionContext } from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { startDaemon, runCli, type Daemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';
import { parseSamples, scrape, sample, sumWhere } from '../helpers/prom.js';
import { getJson } from '../helpers/http.js';
import { buildPinConfig, FastClient, makeConfigDir, mintSessions, reloadAndWait, replaySessions, startNamedBackend, type NamedBackend, type ServiceSpec } from '../helpers/pin-stack.js';
import { parseKeyFile, generateKeyFile } from '../../src/session/key-file.js';
import { buildEndpointToken, buildPinKey, signPin } from '../../src/session/pin.js';

const SESSIONS = 1000;

async function backends(t: ExecutionContext, names: readonly string[], delays: Record<string, number> = {}): Promise<NamedBackend[]> {
  const list = await Promise.all(names.map((n) => startNamedBackend(n, delays[n] ?? 0)));
  t.teardown(() => Promise.all(list.map((b) => b.close())));
  return list;
}

async function stack(t: ExecutionContext, services: readonly ServiceSpec[], opts: { workers?: number } = {}) {
  const cfg = await makeConfigDir(buildPinConfig(services));
  t.teardown(() => cfg.cleanup());
  const daemon = await startDaemon(cfg.dir, { workers: opts.workers ?? 2, args: ['--session-key-file', cfg.keyFile] });
  t.teardown(() => daemon.stop());
  const client = new FastClient(daemon.port);
  t.teardown(() => client.close());
  return { cfg, daemon, client };
}

const count = (answers: readonly { instance: string }[], name: string): number => answers.filter((a) => a.instance === name).length;
const metrics = async (d: Daemon) => parseSamples((await scrape(d.adminPort)).text);

test.serial('scale-up 3 -> 4 endpoints moves 0 of 1,000 pinned sessions; removing one moves only its own', async (t) => {
  const bs = await backends(t, ['a', 'b', 'c', 'd']);
  const svc = (list: NamedBackend[]): ServiceSpec => ({ host: 'app', backends: list, persistent: 'session' });
  const { cfg, daemon, client } = await stack(t, [svc(bs.slice(0, 3))]);
  const first = await mintSessions(client, '/app/', SESSIONS);
  t.true(first.every((a) => a.status === 200 && a.pin !== null), 'every new session got a pin');
  const pins = first.map((a) => a.pin!);
  t.is(new Set(pins.map((p) => p.split('.')[0])).size, SESSIONS, 'one session id each');
  // Read every part of a pin as text and as base64url: no backend's address may be in it. (Not a
  // bare port number: a 5-digit port turns up by chance among 1,000 pins' hex ids and expiries.)
  const addresses = bs.map((b) => `127.0.0.1:${b.port}`);
  const reveals = (pin: string): boolean =>
    pin.split('.').some((part) => {
      const decoded = Buffer.from(part, 'base64url').toString('latin1');
      return addresses.some((a) => part.includes(a) || decoded.includes(a) || part.includes(Buffer.from(a).toString('base64url')));
    });
  t.true(pins.every((p) => !p.includes('127.0.0.1') && !reveals(p)), 'a pin reveals no backend address');
  for (const name of ['a', 'b', 'c']) t.true(count(first, name) > SESSIONS / 6, `${name} took its share of new sessions`);

  await cfg.write(buildPinConfig([svc(bs)]));
  await reloadAndWait(daemon.proc.pid!, daemon.adminPort);
  client.reconnect();
  const afterAdd = await replaySessions(client, '/app/', pins);
  const moved = afterAdd.filter((a, i) => a.instance !== first[i]!.instance).length;
  t.log(`scale-up 3 -> 4: ${moved} of ${SESSIONS} sessions moved (ring hash alone would move about ${Math.round(SESSIONS / 4)})`);
  t.is(moved, 0);
  t.true(afterAdd.every((a) => a.pin === null), 'valid pins are not re-issued');
  const fresh = await mintSessions(client, '/app/', 400);
  t.true(count(fresh, 'd') > 40, 'new sessions reach the new endpoint');

  await cfg.write(buildPinConfig([svc([bs[0]!, bs[2]!, bs[3]!])]));
  await reloadAndWait(daemon.proc.pid!, daemon.adminPort);
  client.reconnect();
  const afterRemove = await replaySessions(client, '/app/', pins);
  let movedOthers = 0;
  afterRemove.forEach((a, i) => {
    if (first[i]!.instance === 'b') {
      t.not(a.instance, 'b');
      t.not(a.pin, null, 'a session of the removed endpoint is re-pinned');
    } else if (a.instance !== first[i]!.instance) movedOthers++;
  });
  t.log(`removal of b: ${count(first, 'b')} of its sessions re-placed, ${movedOthers} others moved`);
  t.is(movedOthers, 0);
  const m = await metrics(daemon);
  t.is(sample(m, 'stickyd_session_pins_total', { subset: 'app', outcome: 'endpoint_gone' }), count(first, 'b'));
});

test.serial('pin cookies carry httpCookie.attributes and Cache-Control private; a retry answered by another endpoint re-pins the session there', async (t) => {
  const bs = await backends(t, ['a', 'b', 'c']);
  const { daemon, client } = await stack(t, [{
    host: 'app',
    backends: bs,
    persistent: 'session',
    loadBalancer: 'consistentHash: {httpCookie: {name: session, ttl: 3600s, attributes: [{name: SameSite, value: Lax}, {name: Secure}]}}',
  }]);
  const first = await mintSessions(client, '/app/', 300);
  t.true(first.every((a) => a.status === 200 && a.pin !== null), 'every new session got a pin');
  // the same builder as a minted cookie's (downstream/set-cookie.ts): the rule's attributes, then HttpOnly
  t.true(first.every((a) => /^session=[0-9A-Za-z_.-]+; Path=\/; Max-Age=3600; SameSite=Lax; Secure; HttpOnly$/.test(a.setCookie ?? '')), first[0]!.setCookie ?? 'no Set-Cookie');
  t.true(first.every((a) => a.cacheControl === 'private'), 'a response carrying a pin is kept from shared caches');
  const onB = first.filter((a) => a.instance === 'b');
  t.true(onB.length > 30, `b holds ${onB.length} sessions`);

  // b stops listening; no health check is configured, so every request of b's sessions is routed
  // to b by its valid pin, refused, and retried (Istio's default retryOn has connect-failure)
  await bs[1]!.close();
  client.reconnect();
  const retried = await replaySessions(client, '/app/', onB.map((a) => a.pin!));
  t.true(retried.every((a) => a.status === 200 && a.instance !== 'b'), 'every session of b answered by another endpoint');
  t.true(retried.every((a) => a.pin !== null && /; SameSite=Lax; Secure; HttpOnly$/.test(a.setCookie ?? '') && a.cacheControl === 'private'), 'each got a new pin, with the attributes, kept private');
  t.true(retried.every((a, i) => a.pin!.split('.')[0] === onB[i]!.pin!.split('.')[0]), 'the session id is kept');
  // the new pin names the endpoint that answered: it is honoured there without another retry or re-pin
  const again = await replaySessions(client, '/app/', retried.map((a) => a.pin!));
  t.deepEqual(again.map((a) => a.instance), retried.map((a) => a.instance));
  t.true(again.every((a) => a.pin === null), 'the moved pin is valid where it points');
  const m = await metrics(daemon);
  t.is(sumWhere(m, 'stickyd_upstream_retries_total', { subset: 'app' }), onB.length, 'one retry per session of b, none after the re-pin');
});

test.serial('two instances with one key file agree on 100 % of 1,000 sessions; key rotation keeps every session and re-signs with the new key', async (t) => {
  const bs = await backends(t, ['a', 'b', 'c']);
  const spec: ServiceSpec = { host: 'app', backends: bs, persistent: 'session' };
  const a = await stack(t, [spec]);
  // instance B: its own config dir (endpoints listed in reverse order) and the same key file
  const cfgB = await makeConfigDir(buildPinConfig([{ ...spec, backends: [...bs].reverse() }]));
  t.teardown(() => cfgB.cleanup());
  const b = await startDaemon(cfgB.dir, { workers: 1, args: ['--session-key-file', a.cfg.keyFile] });
  t.teardown(() => b.stop());
  const clientB = new FastClient(b.port);
  t.teardown(() => clientB.close());

  const first = await mintSessions(a.client, '/app/', SESSIONS);
  const pins = first.map((x) => x.pin!);
  clientB.reconnect();
  const viaB = await replaySessions(clientB, '/app/', pins);
  const agree = viaB.filter((x, i) => x.instance === first[i]!.instance).length;
  t.log(`instance B honours ${agree} of ${SESSIONS} pins minted by A`);
  t.is(agree, SESSIONS);
  t.true(viaB.every((x) => x.pin === null));

  // rotation: a new key first, the old one kept; reload re-reads the file
  const oldKeyId = pins[0]!.split('.')[1]!;
  const oldText = await readFile(a.cfg.keyFile, 'utf8');
  await writeFile(a.cfg.keyFile, generateKeyFile() + oldText);
  const newKeyId = buildPinKey(parseKeyFile(a.cfg.keyFile, await readFile(a.cfg.keyFile, 'utf8'))[0]!).id;
  t.not(newKeyId, oldKeyId);
  await reloadAndWait(a.daemon.proc.pid!, a.daemon.adminPort);
  a.client.reconnect();
  const rotated = await replaySessions(a.client, '/app/', pins);
  t.is(rotated.filter((x, i) => x.instance === first[i]!.instance).length, SESSIONS, 'every session kept across the rotation');
  t.true(rotated.every((x) => x.pin !== null && x.pin.split('.')[1] === newKeyId), 'every pin re-issued under the new key');
  t.true(rotated.every((x, i) => x.pin!.split('.')[0] === pins[i]!.split('.')[0]), 'same session ids');
  const newPins = await mintSessions(a.client, '/app/', 50);
  t.true(newPins.every((x) => x.pin!.split('.')[1] === newKeyId), 'new sessions are signed by the new key');
  // the re-issued pins work, and go on working once the old key is dropped
  const newKeyLine = (await readFile(a.cfg.keyFile, 'utf8')).split('\n').find((l) => l !== '' && !l.startsWith('#'))!;
  await writeFile(a.cfg.keyFile, `${newKeyLine}\n`);
  await reloadAndWait(a.daemon.proc.pid!, a.daemon.adminPort);
  a.client.reconnect();
  const afterDrop = await replaySessions(a.client, '/app/', rotated.map((x) => x.pin!));
  t.is(afterDrop.filter((x, i) => x.instance === first[i]!.instance && x.pin === null).length, SESSIONS);
  const oldOnly = await replaySessions(a.client, '/app/', pins.slice(0, 100));
  t.true(oldOnly.every((x) => x.pin !== null && x.pin.split('.')[1] === newKeyId), 'a pin under a dropped key is unknown: re-placed with a new pin');
  const config = (await getJson<Record<string, unknown>>(`http://127.0.0.1:${a.daemon.adminPort}/config_dump`)).body;
  const dump = JSON.stringify(config) + JSON.stringify((await getJson(`http://127.0.0.1:${a.daemon.adminPort}/status`)).body);
  for (const k of parseKeyFile('k', await readFile(a.cfg.keyFile, 'utf8'))) {
    t.false(dump.includes(k.toString('base64url')), 'no key in /config_dump or /status');
  }
  const logs = JSON.stringify(a.daemon.lines) + a.daemon.stderr.join('\n') + a.daemon.accessLines.join('\n');
  for (const k of parseKeyFile('k', oldText + newKeyLine)) t.false(logs.includes(k.toString('base64url')), 'no key in any log line');
});

test.serial('forged, tampered, truncated, expired and unknown-key pins are re-placed with a new pin, never routed by their claims', async (t) => {
  const bs = await backends(t, ['a', 'b', 'c']);
  const { cfg, daemon, client } = await stack(t, [{ host: 'app', backends: bs, persistent: 'session' }]);
  const keys = parseKeyFile(cfg.keyFile, await readFile(cfg.keyFile, 'utf8')).map(buildPinKey);
  const first = await mintSessions(client, '/app/', 300);
  // a real token of endpoint c, read off a real pin: the claim every forgery below makes
  const onC = first.find((x) => x.instance === 'c')!.pin!;
  const [, kid, tokenC] = onC.split('.');
  const wrong = buildPinKey(Buffer.alloc(32, 7));
  const scope = 'cookie:session\0app';
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const sidOf = (i: number) => (i.toString(16).padStart(8, '0')).repeat(4);
  const forged: Record<string, string[]> = { bad_mac: [], malformed: [], unknown_key: [], expired: [] };
  const notOnC = first.filter((x) => x.instance !== 'c');
  for (let i = 0; i < 200; i++) {
    const other = notOnC[i % notOnC.length]!.pin!;
    const [sid, , , e, mac] = other.split('.');
    // c's token put into another session's pin, and a pin "signed" with a wrong key under the real key id
    forged.bad_mac!.push(`${sid}.${kid}.${tokenC}.${e}.${mac}`);
    forged.bad_mac!.push(signPin({ id: kid!, secret: wrong.secret }, scope, sidOf(i), buildEndpointToken(wrong, scope, `127.0.0.1:${bs[2]!.port}`), exp));
    forged.malformed!.push(other.slice(0, other.length - 1 - (i % 20)));
    forged.unknown_key!.push(signPin(wrong, scope, sidOf(i), tokenC!, exp));
    // authentic MAC under the real key, past its expiry: only the proxy's clock refuses it
    forged.expired!.push(signPin(keys[0]!, scope, sidOf(i), tokenC!, Math.floor(Date.now() / 1000) - 1));
  }
  for (const [outcome, values] of Object.entries(forged)) {
    const answers = await replaySessions(client, '/app/', values);
    t.true(answers.every((x) => x.status === 200 && x.pin !== null), `${outcome}: every one gets a new pin`);
    t.true(answers.every((x, i) => x.pin!.split('.')[0] !== values[i]!.split('.')[0]), `${outcome}: a new session id, not the claimed one`);
    const onClaimed = count(answers, 'c') / answers.length;
    t.log(`${outcome}: ${answers.length} pins claiming endpoint c, ${(onClaimed * 100).toFixed(1)} % landed on c (placement gives about 33 %)`);
    t.true(onClaimed < 0.5, `${outcome}: not routed by the claim`);
    // each new pin is honoured as a normal session
    // three times each, so both workers see them again and answer from their verified-pin caches
    for (let round = 0; round < 3; round++) {
      const again = await replaySessions(client, '/app/', answers.slice(0, 50).map((x) => x.pin!));
      t.true(again.every((x, i) => x.instance === answers[i]!.instance && x.pin === null));
    }
  }
  const m = await metrics(daemon);
  t.is(sample(m, 'stickyd_session_pins_total', { subset: 'app', outcome: 'bad_mac' }), 400);
  t.is(sample(m, 'stickyd_session_pins_total', { subset: 'app', outcome: 'malformed' }), 200);
  t.is(sample(m, 'stickyd_session_pins_total', { subset: 'app', outcome: 'unknown_key' }), 200);
  t.is(sample(m, 'stickyd_session_pins_total', { subset: 'app', outcome: 'expired' }), 200);
  t.true((sample(m, 'stickyd_session_pin_cache_hits_total') ?? 0) > 0, 'honoured pins come from the verified-pin cache');
  // the seed's flavour: curl with a cookie jar keeps its endpoint; a forged pin under curl is replaced
  const jar = `${cfg.dir}/../jar`;
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const r = await curl(['-s', '-c', jar, '-b', jar, '-H', 'Host: demo.example.com', `http://127.0.0.1:${daemon.port}/app/ping`]);
    seen.add((JSON.parse(r.stdout) as { instance: string }).instance);
  }
  t.is(seen.size, 1, 'curl with a cookie jar stays on one endpoint');
  const forgedCurl = await curl(['-s', '-i', '-H', 'Host: demo.example.com', '-H', `Cookie: session=${forged.bad_mac![0]}`, `http://127.0.0.1:${daemon.port}/app/ping`]);
  t.regex(forgedCurl.stdout, /set-cookie: session=[0-9a-f]{32}\./i);
  const logged = daemon.accessLines.map((l) => JSON.parse(l) as { session: string }).map((l) => l.session);
  t.true(logged.includes('repinned') && logged.includes('pinned') && logged.includes('minted'), 'the access log says what happened to each pin');
});

test.serial('drain: 0 of 1,000 new sessions (pinned and hashed) on the draining endpoint; existing ones kept; /status and /metrics show it', async (t) => {
  const bs = await backends(t, ['a', 'b', 'c']);
  const hs = await backends(t, ['x', 'y', 'z']);
  const services = (drain: string[]): ServiceSpec[] => [
    { host: 'app', backends: bs, persistent: 'session', drain },
    { host: 'hashed', backends: hs, drain },
  ];
  const { cfg, daemon, client } = await stack(t, services([]));
  const pinned = await mintSessions(client, '/app/', SESSIONS);
  const hashed = await mintSessions(client, '/hashed/', SESSIONS);
  await cfg.write(buildPinConfig(services(['c', 'z'])));
  await reloadAndWait(daemon.proc.pid!, daemon.adminPort);
  client.reconnect();
  const pinnedAgain = await replaySessions(client, '/app/', pinned.map((x) => x.pin!));
  const hashedAgain = await replaySessions(client, '/hashed/', hashed.map((x) => x.pin!));
  t.is(pinnedAgain.filter((x, i) => x.instance === pinned[i]!.instance).length, SESSIONS, 'pinned sessions stay, on the draining endpoint too');
  t.is(hashedAgain.filter((x, i) => x.instance === hashed[i]!.instance).length, SESSIONS, 'hash keys keep their endpoint, the draining one too');
  t.true(count(pinned, 'c') > 100 && count(hashed, 'z') > 100);
  const newPinned = await mintSessions(client, '/app/', SESSIONS);
  const newHashed = await mintSessions(client, '/hashed/', SESSIONS);
  t.log(`while c and z drain: ${count(newPinned, 'c')} of ${SESSIONS} new pinned sessions on c, ${count(newHashed, 'z')} of ${SESSIONS} new hashed sessions on z; existing: ${count(pinned, 'c')} still on c, ${count(hashed, 'z')} on z`);
  t.is(count(newPinned, 'c'), 0);
  t.is(count(newHashed, 'z'), 0);
  // a minted hash value maps away from z by itself: it keeps doing so with no drain state at all
  const replayNew = await replaySessions(client, '/hashed/', newHashed.map((x) => x.pin!));
  t.true(replayNew.every((x, i) => x.instance === newHashed[i]!.instance));
  const status = (await getJson<{ subsets: { name: string; endpoints: { id: string; draining: boolean; requests: number }[] }[] }>(`http://127.0.0.1:${daemon.adminPort}/status`)).body;
  const app = status.subsets.find((s) => s.name === 'app')!;
  const cId = `127.0.0.1:${bs[2]!.port}`;
  t.deepEqual(app.endpoints.filter((e) => e.draining).map((e) => e.id), [cId]);
  const m = await metrics(daemon);
  t.is(sample(m, 'stickyd_endpoint_draining', { subset: 'app', endpoint: cId }), 1);
  t.is(sample(m, 'stickyd_endpoint_draining', { subset: 'app', endpoint: `127.0.0.1:${bs[0]!.port}` }), 0);
  t.true(app.endpoints.find((e) => e.id === cId)!.requests >= count(pinned, 'c') * 2, 'the draining endpoint\'s requests keep counting');
});

test.serial('bounded load: a burst of new sessions mostly avoids a slow endpoint; without the factor it takes its third; existing sessions never move', async (t) => {
  const bounded = await backends(t, ['a', 'b', 'slow'], { slow: 1000 });
  const plain = await backends(t, ['p', 'q', 'slow2'], { slow2: 1000 });
  // one worker: placement reads this worker's own active requests
  const { client } = await stack(t, [
    { host: 'bounded', backends: bounded, persistent: 'session', balanceFactor: 125 },
    { host: 'plain', backends: plain, persistent: 'session' },
  ], { workers: 1 });
  const burst = new FastClient(client.port, 48);
  t.teardown(() => burst.close());
  const withBound = await mintSessions(burst, '/bounded/', SESSIONS);
  const without = await mintSessions(burst, '/plain/', SESSIONS);
  const share = count(withBound, 'slow') / SESSIONS;
  const baseline = count(without, 'slow2') / SESSIONS;
  t.log(`burst of ${SESSIONS} new sessions, concurrency 48, one endpoint 1 s slow: ${(share * 100).toFixed(1)} % on it with hash-balance-factor 125, ${(baseline * 100).toFixed(1)} % without`);
  t.true(withBound.every((x) => x.status === 200));
  t.true(baseline > 0.2, 'without the factor the slow endpoint takes about its third');
  t.true(share < baseline / 2, 'with the factor it takes far fewer new sessions');
  // existing sessions never move because of load: the slow endpoint's sessions stay while it is loaded
  const slowPins = withBound.filter((x) => x.instance === 'slow').map((x) => x.pin!);
  const load = mintSessions(burst, '/bounded/', 300);
  const replay = await replaySessions(client, '/bounded/', slowPins);
  await load;
  t.true(replay.every((x) => x.instance === 'slow' && x.pin === null));
});

test.serial('a persistent-session config without a key file is refused by check and run, saying how to make one; keygen writes 0600 and refuses to overwrite', async (t) => {
  const bs = await backends(t, ['a']);
  const cfg = await makeConfigDir(buildPinConfig([{ host: 'app', backends: bs, persistent: 'session' }]));
  t.teardown(() => cfg.cleanup());
  const missing = `${cfg.keyFile}.missing`;
  const check = await runCli(['check', '-c', cfg.dir, '--session-key-file', missing]);
  t.is(check.code, 1);
  t.regex(check.stderr, /session key file .*missing: ENOENT .*persistent sessions on app .*stickyd keygen -o /);
  t.is((await runCli(['check', '-c', cfg.dir, '--session-key-file', cfg.keyFile])).code, 0);
  const run = await startDaemon(cfg.dir, { args: ['--session-key-file', missing] }).then(
    async (d) => { await d.stop(); return null; },
    (err: Error) => err.message,
  );
  t.regex(run ?? '', /STICKYD_ERR_SESSION_KEYS|stickyd keygen -o/);
  const mode = (await import('node:fs')).statSync(cfg.keyFile).mode & 0o777;
  t.is(mode, 0o600);
  const again = await runCli(['keygen', '-o', cfg.keyFile]);
  t.is(again.code, 1);
  t.regex(again.stderr, /exists \(pass --force/);
  t.is((await runCli(['keygen', '-o', cfg.keyFile, '--force'])).code, 0);
});
