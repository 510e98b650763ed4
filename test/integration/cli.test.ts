// The CLI as a user meets it: --help on each command, `check` like nginx -t.
import test from 'ava';
import { mkdtemp, writeFile, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/daemon.js';
import { EXAMPLES } from '../helpers/backends.js';

for (const cmd of ['run', 'check', 'backend', 'demo', 'reload']) {
  test(`stickyd ${cmd} --help`, async (t) => {
    const r = await runCli([cmd, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, new RegExp(`^Usage: stickyd ${cmd}`));
  });
}

test('stickyd --help lists the commands; an unknown command is a usage error', async (t) => {
  const r = await runCli(['--help']);
  t.is(r.code, 0);
  for (const cmd of ['run', 'check', 'backend', 'demo', 'reload']) t.regex(r.stdout, new RegExp(`\\n  ${cmd} `));
  const bad = await runCli(['frobnicate']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /unknown command 'frobnicate'/);
  const badFlag = await runCli(['run', '-c', 'x', '--workers', 'many']);
  t.is(badFlag.code, 2);
  t.regex(badFlag.stderr, /--workers wants a whole number/);
});

test('check accepts the examples', async (t) => {
  for (const ex of ['demo', 'weighted']) {
    const r = await runCli(['check', '-c', join(EXAMPLES, ex)]);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /is valid: 2 file\(s\), 1 listener\(s\), 2 route\(s\), 3 subset\(s\), 5 endpoint\(s\)/);
  }
});

test('check lists every error with file, line, document and field, and exits 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-check-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await copyFile(join(EXAMPLES, 'demo', 'endpoints.yaml'), join(dir, 'endpoints.yaml'));
  await writeFile(join(dir, 'ingress.yaml'), `apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: { name: gw }
spec:
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: { name: vs }
spec:
  hosts: [demo.example.com]
  gateways: [gw]
  http:
  - route:
    - destination: { host: demo-service, subset: v9, port: { number: 8080 } }
    timeout: soon
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: { name: dr }
spec:
  host: demo-service
  subsets:
  - name: v1
    labels: { version: v1 }
`);
  const r = await runCli(['check', '-c', dir]);
  t.is(r.code, 1);
  t.regex(r.stderr, /ingress\.yaml:\d+: VirtualService\/vs: spec\.http\[0\]\.route\[0\]\.destination\.subset: .*v9/);
  t.regex(r.stderr, /ingress\.yaml:\d+: VirtualService\/vs: spec\.http\[0\]\.timeout: /);
  t.regex(r.stderr, /is invalid: 2 error\(s\)/);
});

test('run refuses to start with an invalid config and says why', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'x.yaml'), 'apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata: {name: g}\nspec: {servers: [{port: {number: "eighty"}}]}\n');
  const r = await runCli(['run', '-c', dir, '--listen', '127.0.0.1:0', '--admin', 'off', '--workers', '1']);
  t.is(r.code, 1);
  const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; error: string });
  t.true(lines.some((l) => l.msg === 'startup failed' && /x\.yaml:4: Gateway\/g: spec\.servers\[0\]\.port\.number/.test(l.error)), r.stderr);
});

test('a missing config path is a clear error', async (t) => {
  const r = await runCli(['check', '-c', '/nonexistent/stickyd']);
  t.is(r.code, 1);
  t.regex(r.stderr, /\/nonexistent\/stickyd/);
});

test('--session-cache 0 runs with the cache off, as the help says', async (t) => {
  const { startDaemon } = await import('../helpers/daemon.js');
  const { startBackends, configDir } = await import('../helpers/backends.js');
  const { curl } = await import('../helpers/curl.js');
  const backends = await startBackends();
  const cfg = await configDir('demo', backends);
  const daemon = await startDaemon(cfg.dir, { workers: 1, args: ['--session-cache', '0'] });
  t.teardown(async () => { await daemon.stop(); await Promise.all(backends.map((b) => b.close())); await cfg.cleanup(); });
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const r = await curl(['-H', 'Host: demo.example.com', '-H', 'Cookie: session=abc', `http://127.0.0.1:${daemon.port}/ping`]);
    seen.add((JSON.parse(r.stdout) as { instance: string }).instance);
  }
  t.is(seen.size, 1, 'still sticky without the cache');
});
