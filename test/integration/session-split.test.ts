// A session stays on one version across a weighted split (issue 12): the seed's canary manifest
// (examples/weighted/ingress-weighted.yaml) with a consistentHash.httpCookie DestinationRule, the
// real daemon, real backends, a keep-alive node:http client for the thousands of sessions, curl
// for a few and a real headless Chromium for ten browser profiles.
import test from 'ava';
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { join } from 'node:path';
import { haveChromium, launchChromium } from '../helpers/chromium.js';
import { startDaemon, runCli } from '../helpers/daemon.js';
import { startBackends, configDir, EXAMPLES } from '../helpers/backends.js';
import { writeAtomic } from '../helpers/configs.js';
import { startSeedStack } from '../helpers/stack.js';
import { curl } from '../helpers/curl.js';

/** The seed's canary manifest at `v1`/`v2`, every subset sticky by a `session` cookie (ttl 3600s). */
async function canaryYaml(v1: number, v2: number): Promise<string> {
  const text = await readFile(join(EXAMPLES, 'weighted', 'ingress-weighted.yaml'), 'utf8');
  const weighted = text.replace('weight: 80', `weight: ${v1}`).replace('weight: 20', `weight: ${v2}`);
  const sticky = weighted.replace('spec:\n  host: demo-service\n', 'spec:\n  host: demo-service\n  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n        httpCookie: {name: session, ttl: 3600s}\n');
  if (sticky === weighted || !weighted.includes(`weight: ${v2}`)) throw new Error('the seed manifest changed shape');
  return sticky;
}

interface Answer {
  readonly version: string;
  readonly instance: string;
  readonly setCookie: string | null;
}

/** GETs /ping for each cookie (null: none) over a bounded pool of keep-alive connections. */
async function askAll(port: number, cookies: readonly (string | null)[], concurrency = 32): Promise<Answer[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out: Answer[] = new Array(cookies.length);
  let next = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const cookie = cookies[i];
      const headers: Record<string, string> = { host: 'demo.example.com', ...(cookie == null ? {} : { cookie: `session=${cookie}` }) };
      http.get({ host: '127.0.0.1', port, path: '/ping', agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => {
          if (res.statusCode !== 200) { reject(new Error(`HTTP ${res.statusCode}: ${body}`)); return; }
          const b = JSON.parse(body) as { version: string; instance: string };
          const set = res.headers['set-cookie']?.find((c) => c.startsWith('session='));
          out[i] = { version: b.version, instance: b.instance, setCookie: set === undefined ? null : set.slice('session='.length).split(';')[0]! };
          resolve();
        });
      }).on('error', reject);
    });
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < cookies.length) await one(next++);
  });
  try {
    await Promise.all(workers);
  } finally {
    agent.destroy();
  }
  return out;
}

test('80/20 canary: 1,000 minted sessions each stay on one version, the weights hold, and a reload to 50/50 moves what check --against predicted', async (t) => {
  t.timeout(300_000);
  const backends = await startBackends();
  const cfg = await configDir('weighted', backends);
  await writeAtomic(cfg.dir, 'ingress-weighted.yaml', await canaryYaml(80, 20));
  const daemon = await startDaemon(cfg.dir, { workers: 2 });
  const next = await configDir('weighted', backends);
  await writeAtomic(next.dir, 'ingress-weighted.yaml', await canaryYaml(50, 50));
  t.teardown(async () => {
    await daemon.stop();
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
    await next.cleanup();
  });

  // 1,000 new sessions: the first response mints the cookie and is already on the session's version.
  const N = 1000;
  const first = await askAll(daemon.port, new Array<null>(N).fill(null));
  t.true(first.every((a) => a.setCookie !== null && /^[0-9a-f]{32}$/.test(a.setCookie)), 'every cookie-less request got a session cookie');
  const minted = first.map((a) => a.setCookie!);
  const again = await askAll(daemon.port, [...minted, ...minted]);
  let held = 0;
  for (let i = 0; i < N; i++) {
    if (again[i]!.version === first[i]!.version && again[N + i]!.version === first[i]!.version && again[i]!.instance === first[i]!.instance) held++;
  }
  t.is(held, N, `${N - held} of ${N} sessions changed version or instance`);
  t.true(again.every((a) => a.setCookie === null), 'a session carrying its cookie is never re-minted');
  const v2 = first.filter((a) => a.version === 'v2').length;
  // binomial: sd = sqrt(1000 * 0.2 * 0.8) = 12.6 sessions; 5 sd = 63
  t.log(`sessions on v2: ${v2} of ${N} (expected 200, 5 sd = 63)`);
  t.true(Math.abs(v2 - 200) <= 63, `v2 got ${v2}`);
  t.is(first.filter((a) => a.version !== 'v1' && a.version !== 'v2').length, 0);

  // curl, as a user would: the cookie jar's first answer and the next four are one version.
  for (let k = 0; k < 3; k++) {
    const jar = join(cfg.dir, `jar-${k}.txt`);
    const url = `http://127.0.0.1:${daemon.port}/ping`;
    const r = await curl(['-s', '-c', jar, '-b', jar, '-H', 'Host: demo.example.com', url, url, url, url, url]);
    const versions = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { version: string }).version);
    t.is(versions.length, 5);
    t.is(new Set(versions).size, 1, `curl jar ${k}: ${versions.join(' ')}`);
  }

  // A reload to 50/50: predict with check --against the running daemon, then measure over 25,000 keys.
  const K = 25_000;
  const keys = Array.from({ length: K }, () => randomBytes(16).toString('hex'));
  const before = await askAll(daemon.port, keys);
  const check = await runCli(['check', '-q', '--json', '-c', next.dir, '--against', `http://127.0.0.1:${daemon.adminPort}`], { timeoutMs: 60_000 });
  t.is(check.code, 0, check.stderr);
  const report = check.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; routes?: { route: string; moved: number | null; change: string }[] }).find((l) => l.msg === 'move report')!;
  const route = report.routes!.find((r) => r.route === 'demo-vs/http[1]')!;
  t.is(route.change, 'keyed');
  const predicted = route.moved!;
  await writeAtomic(cfg.dir, 'ingress-weighted.yaml', await canaryYaml(50, 50));
  const reload = await runCli(['reload', '-c', cfg.dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`], { timeoutMs: 60_000 });
  t.is(reload.code, 0, reload.stderr);
  const after = await askAll(daemon.port, keys);
  const moved = keys.filter((_, i) => before[i]!.version !== after[i]!.version).length / K;
  const wrongWay = keys.filter((_, i) => before[i]!.version === 'v2' && after[i]!.version !== 'v2').length;
  // the share moved over K random keys has sd sqrt(0.3 * 0.7 / 25000) = 0.29 points around the prediction
  t.log(`80/20 -> 50/50: measured ${(100 * moved).toFixed(2)} % of ${K} sessions changed version; check --against predicted ${(100 * predicted).toFixed(2)} %`);
  t.true(Math.abs(moved - predicted) <= 0.01, `measured ${moved}, predicted ${predicted}`);
  t.is(wrongWay, 0, 'no v2 session moves to v1 when v2 grows');
  // the minted sessions too: none left v2
  const mintedAfter = await askAll(daemon.port, minted);
  t.is(mintedAfter.filter((a, i) => first[i]!.version === 'v2' && a.version !== 'v2').length, 0);
});

test('headless Chromium: 10 fresh profiles x 10 page loads each keep one version across a 50/50 split', async (t) => {
  if (!haveChromium(t)) return;
  t.timeout(180_000);
  const { daemon } = await startSeedStack(t, { workers: 2, example: 'weighted', prepare: async (dir) => writeAtomic(dir, 'ingress-weighted.yaml', await canaryYaml(50, 50)) });
  // The browser asks for demo.example.com, resolved to the proxy: the Host header is the browser's own.
  const browser = await launchChromium(t, ['--host-resolver-rules=MAP demo.example.com 127.0.0.1']);
  const versions = new Set<string>();
  for (let p = 0; p < 10; p++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const seen: string[] = [];
    for (let load = 0; load < 10; load++) {
      const res = await page.goto(`http://demo.example.com:${daemon.port}/ping`);
      t.is(res?.status(), 200);
      seen.push(((await res!.json()) as { version: string }).version);
    }
    const cookies = await context.cookies();
    t.is(cookies.filter((c) => c.name === 'session').length, 1, `profile ${p} holds one session cookie`);
    t.is(new Set(seen).size, 1, `profile ${p} saw ${seen.join(' ')}`);
    versions.add(seen[0]!);
    await context.close();
  }
  t.log(`versions across the 10 profiles: ${[...versions].join(', ')}`);
});
