// The seed's sticky-session walkthrough, verbatim curl commands against the real daemon with 2
// workers and the seed's five backends on loopback.
import test from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { curl } from '../helpers/curl.js';
import type { Backend } from '../../src/demo/backend.js';

interface Ping { instance: string; version: string; metadata: string; request_id: string }

let backends: Backend[];
let daemon: Daemon;
let cfg: { dir: string; cleanup(): Promise<void> };
let base: string;

test.before(async () => {
  backends = await startBackends();
  cfg = await configDir('demo', backends);
  daemon = await startDaemon(cfg.dir, { workers: 2 });
  base = `http://127.0.0.1:${daemon.port}`;
});

test.after.always(async () => {
  await daemon?.stop();
  await Promise.all((backends ?? []).map((b) => b.close()));
  await cfg?.cleanup();
});

function pings(stdout: string): Ping[] {
  return stdout.trim().split('\n').map((l) => JSON.parse(l) as Ping);
}

test('requests without a cookie spread over the v1 instances only', async (t) => {
  const out: Ping[] = [];
  for (let i = 0; i < 30; i++) {
    const r = await curl(['-H', 'Host: demo.example.com', `${base}/ping`]);
    t.is(r.code, 0, r.stderr);
    out.push(...pings(r.stdout));
  }
  t.true(out.every((p) => p.version === 'v1' && p.metadata === 'production'), 'weight 0 sends nothing to v2');
  const seen = new Set(out.map((p) => p.instance));
  t.log(`30 cookieless requests reached: ${[...seen].sort().join(', ')}`);
  t.true(seen.size >= 2, 'spread over more than one v1 instance');
  t.true([...seen].every((i) => i.startsWith('demo-v1-')));
  t.is(new Set(out.map((p) => p.request_id)).size, 30, 'a fresh request_id each time');
});

test('curl -i shows the minted session cookie', async (t) => {
  const r = await curl(['-i', '-H', 'Host: demo.example.com', `${base}/ping`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^HTTP\/1\.1 200 OK/);
  const cookies = r.stdout.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
  t.is(cookies.length, 1, r.stdout);
  t.regex(cookies[0] ?? '', /^set-cookie: session=[0-9a-f]{32}; Path=\/; Max-Age=60; HttpOnly$/i);
});

test('the cookie-jar loop lands on one instance five times out of five', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-jar-'));
  const jar = join(dir, 'cookie.txt');
  try {
    const out: Ping[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await curl(['-c', jar, '-b', jar, '-H', 'Host: demo.example.com', `${base}/ping`]);
      t.is(r.code, 0, r.stderr);
      out.push(...pings(r.stdout));
    }
    t.is(new Set(out.map((p) => p.instance)).size, 1, JSON.stringify(out));
    t.is(out[0]?.version, 'v1');
    const jarText = await readFile(jar, 'utf8');
    t.regex(jarText, /\tsession\t[0-9a-f]{32}/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a session cookie pins across connections and both workers', async (t) => {
  for (const value of ['abc', 'user-42', 'd7227d32eeb0524b']) {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const r = await curl(['-i', '-H', 'Host: demo.example.com', '-H', `Cookie: session=${value}`, `${base}/ping`]);
      t.false(/set-cookie/i.test(r.stdout), 'no cookie is minted when the request has one');
      seen.add(pings(r.stdout.split('\r\n\r\n')[1] ?? '')[0]?.instance ?? '');
    }
    t.is(seen.size, 1, `session=${value} went to ${[...seen].join(', ')}`);
  }
  const quoted = await curl(['-H', 'Host: demo.example.com', '-H', 'Cookie: session="abc"', `${base}/ping`]);
  const bare = await curl(['-H', 'Host: demo.example.com', '-H', 'Cookie: session=abc', `${base}/ping`]);
  t.is(pings(quoted.stdout)[0]?.instance, pings(bare.stdout)[0]?.instance, 'a quoted value hashes like the bare one');
});

test('stage: dev reaches v3', async (t) => {
  const r = await curl(['-H', 'Host: demo.example.com', '-H', 'stage: dev', `${base}/ping`]);
  const p = pings(r.stdout)[0];
  t.is(p?.version, 'v3');
  t.is(p?.metadata, 'dev');
  t.is(p?.instance, 'demo-v3-a');
});

test('an unknown host gets 404 with a plain-text reason', async (t) => {
  const r = await curl(['-i', '-H', 'Host: other.example.com', `${base}/ping`]);
  t.regex(r.stdout, /^HTTP\/1\.1 404 /);
  t.regex(r.stdout, /content-type: text\/plain/i);
  t.regex(r.stdout, /other\.example\.com/);
});

test('the backend\'s own Set-Cookie lines pass through beside the minted one', async (t) => {
  const r = await curl(['-i', '-H', 'Host: demo.example.com', `${base}/cookies`]);
  const cookies = r.stdout.split('\r\n').filter((l) => /^set-cookie:/i.test(l));
  t.deepEqual(cookies.slice(0, 2).map((l) => l.replace(/^set-cookie: /i, '')), ['app=1; Path=/', 'theme=dark; Path=/; HttpOnly']);
  t.regex(cookies[2] ?? '', /session=[0-9a-f]{32}; Path=\/; Max-Age=60; HttpOnly/i);
  t.is(cookies.length, 3);
});
