// The CLI as a user meets it: --help on each command, `check` like nginx -t.
import test from 'ava';
import { spawn } from 'node:child_process';
import { openSync, closeSync, fstatSync } from 'node:fs';
import { mkdtemp, writeFile, rm, copyFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, runCli } from '../helpers/daemon.js';
import { EXAMPLES } from '../helpers/backends.js';

for (const cmd of ['run', 'check', 'explain', 'backend', 'demo', 'reload']) {
  test(`stickyd ${cmd} --help`, async (t) => {
    const r = await runCli([cmd, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, new RegExp(`^Usage: stickyd ${cmd}`));
  });
}

test('stickyd --help lists the commands; an unknown command is a usage error', async (t) => {
  const r = await runCli(['--help']);
  t.is(r.code, 0);
  for (const cmd of ['run', 'check', 'explain', 'backend', 'demo', 'reload']) t.regex(r.stdout, new RegExp(`\\n  ${cmd} `));
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

test('stickyd --version prints the package version and the Node version', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await runCli(['--version']);
  t.is(r.code, 0);
  t.is(r.stdout, `stickyd ${pkg.version} (Node.js ${process.version})\n`);
});

/** A config dir: the demo example (it warns about spec.selector), plus `extra` files. */
async function demoCopy(t: import('ava').ExecutionContext, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-json-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const f of ['endpoints.yaml', 'ingress-sticky.yaml']) await copyFile(join(EXAMPLES, 'demo', f), join(dir, f));
  for (const [f, text] of Object.entries(extra)) await writeFile(join(dir, f), text);
  return dir;
}

const parseLines = (text: string): Array<{ level: string; msg: string; role: string; where?: string }> =>
  text.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; role: string; where?: string });

test('check --json: every line is one JSON log line (warnings, the summary, errors)', async (t) => {
  const good = await runCli(['check', '--json', '-c', await demoCopy(t)]);
  t.is(good.code, 0, good.stderr);
  const out = parseLines(good.stderr + good.stdout);
  t.true(out.some((l) => l.level === 'warn' && l.msg === 'config warning' && /spec\.selector/.test(l.where ?? '')), good.stderr);
  t.true(out.some((l) => l.level === 'info' && l.msg === 'configuration is valid' && l.role === 'check'));
  const quiet = await runCli(['check', '--json', '--quiet', '-c', await demoCopy(t)]);
  t.is(quiet.code, 0);
  t.is(quiet.stdout + quiet.stderr, '', 'quiet on success');
  const bad = await runCli(['check', '--json', '--quiet', '-c', await demoCopy(t, { 'broken.yaml': 'kind: [\n' })]);
  t.is(bad.code, 1);
  t.is(bad.stdout, '');
  const errs = parseLines(bad.stderr);
  t.true(errs.every((l) => l.level === 'error'));
  t.regex(errs[0]?.where ?? '', /broken\.yaml:\d+: /);
  t.is(errs.at(-1)?.msg, 'configuration is invalid');
});

/** Runs the CLI with stdout and stderr on one file, and JOURNAL_STREAM naming that file or not. */
async function withJournalStream(t: import('ava').ExecutionContext, args: string[], mode: 'this file' | 'other inode' | 'unset'): Promise<{ code: number | null; text: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-journal-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'out'), 'w');
  const st = fstatSync(fd, { bigint: true });
  const env = { ...process.env };
  delete env.JOURNAL_STREAM;
  if (mode === 'this file') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  if (mode === 'other inode') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, fd], env });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  closeSync(fd);
  return { code, text: await readFile(join(dir, 'out'), 'utf8') };
}

test('on the journal stream each line starts with its sd-daemon level and the rest is one JSON object', async (t) => {
  const dir = await demoCopy(t, { 'broken.yaml': 'kind: [\n' });
  const bad = await withJournalStream(t, ['check', '--json', '-c', dir], 'this file');
  t.is(bad.code, 1);
  const good = await withJournalStream(t, ['check', '--json', '-c', await demoCopy(t)], 'this file');
  t.is(good.code, 0);
  const lines = (bad.text + good.text).trim().split('\n');
  const want: Record<string, string> = { error: '<3>', warn: '<4>', info: '<6>' };
  for (const line of lines) {
    const m = /^(<\d>)(\{.*\})$/.exec(line);
    t.truthy(m, line);
    const obj = JSON.parse(m?.[2] ?? '{}') as { level: string };
    t.is(m?.[1], want[obj.level], line);
  }
  t.true(['<3>', '<4>', '<6>'].every((p) => lines.some((l) => l.startsWith(p))), lines.join('\n'));
  t.regex(good.text, /^<6>\{.*"msg":"configuration is valid"/m);
  for (const mode of ['other inode', 'unset'] as const) {
    const plain = await withJournalStream(t, ['check', '--json', '-c', dir], mode);
    t.true(plain.text.trim().split('\n').every((l) => l.startsWith('{')), `${mode}: ${plain.text}`);
  }
});

test('reload --json: one JSON line on success; JSON error lines naming the file when the config is broken', async (t) => {
  const { startDaemon } = await import('../helpers/daemon.js');
  const { startBackends, configDir } = await import('../helpers/backends.js');
  const { writeAtomic, BROKEN_YAML } = await import('../helpers/configs.js');
  const backends = await startBackends();
  const cfg = await configDir('demo', backends);
  const daemon = await startDaemon(cfg.dir, { workers: 1 });
  t.teardown(async () => { await daemon.stop(); await Promise.all(backends.map((b) => b.close())); await cfg.cleanup(); });
  const args = ['reload', '--json', '-c', cfg.dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`];
  const ok = await runCli(args);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stderr, '');
  t.like(JSON.parse(ok.stdout) as object, { level: 'info', msg: 'reload applied in every worker', role: 'reload', generation: 2 });
  t.is(ok.stdout.trim().split('\n').length, 1);
  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', BROKEN_YAML);
  const bad = await runCli(args);
  t.is(bad.code, 1);
  t.is(bad.stdout, '');
  const lines = parseLines(bad.stderr);
  t.true(lines.every((l) => l.level === 'error' && l.role === 'reload'), bad.stderr);
  t.true(lines.some((l) => /ingress-sticky\.yaml:\d+: /.test(l.where ?? '')), bad.stderr);
  t.regex(lines.at(-1)?.msg ?? '', /the running generation keeps serving/);
});
