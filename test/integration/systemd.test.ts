// systemd integration for real: the unit file passes systemd-analyze, and the daemon's sd_notify
// messages arrive in order on a NOTIFY_SOCKET we bind, with BARRIER=1 acknowledged as systemd does.
import test from 'ava';
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CLI, startDaemon } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { stickyWithWeights, writeAtomic, BROKEN_YAML } from '../helpers/configs.js';
import { sleep } from '../helpers/http.js';

const run = promisify(execFile);
const UNIT = fileURLToPath(new URL('../../systemd/stickyd.service', import.meta.url));

async function unitForThisMachine(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-unit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const text = (await readFile(UNIT, 'utf8')).replace(/^(Exec\w+=)stickyd /gm, `$1${CLI} `);
  t.false(/^Exec\w+=stickyd /m.test(text));
  const path = join(dir, 'stickyd.service');
  await writeFile(path, text);
  return path;
}

test('systemd-analyze verify passes on the unit', async (t) => {
  const path = await unitForThisMachine(t);
  const r = await run('systemd-analyze', ['verify', path]).then((o) => ({ code: 0, ...o }), (e: { code: number; stdout: string; stderr: string }) => e);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr.trim(), '', 'no warnings');
});

test('systemd-analyze security rates the unit at most 2.0 (OK)', async (t) => {
  const path = await unitForThisMachine(t);
  const r = await run('systemd-analyze', ['security', '--offline=true', '--threshold=20', path]).then((o) => ({ code: 0, ...o }), (e: { code: number; stdout: string; stderr: string }) => e);
  const m = /Overall exposure level for stickyd\.service: ([\d.]+) (\S+)/.exec(r.stdout);
  t.log(m?.[0]);
  t.is(r.code, 0, r.stdout.slice(-2000));
  t.truthy(m);
  t.true(Number(m?.[1]) <= 2.0);
  t.regex(m?.[2] ?? '', /^(OK|PERFECT)$/);
});

interface Notified { message: string; fds: number; at: number }

/** A NOTIFY_SOCKET systemd-style (notify-socket.py), the seed's backends and config; all stopped at teardown. */
async function notifyStack(t: import('ava').ExecutionContext) {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-notify-'));
  const sock = join(dir, 'notify.sock');
  const receiver = spawn('python3', [fileURLToPath(new URL('../helpers/notify-socket.py', import.meta.url)), sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: Notified[] = [];
  await new Promise<void>((resolve) => createInterface({ input: receiver.stdout }).on('line', (l) => {
    const o = JSON.parse(l) as { bound?: string; message?: string; fds?: number };
    if (o.bound) resolve(); else messages.push({ message: o.message ?? '', fds: o.fds ?? 0, at: Date.now() });
  }));
  const backends = await startBackends();
  const cfg = await configDir('demo', backends);
  t.teardown(async () => {
    receiver.kill();
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  /** index of the first message from #`from` on that matches `re` (10 s at most) */
  const waitFor = async (re: RegExp, from = 0): Promise<number> => {
    for (let i = 0; i < 200; i++) {
      const idx = messages.findIndex((m, j) => j >= from && re.test(m.message));
      if (idx >= 0) return idx;
      await sleep(50);
    }
    throw new Error(`no ${re} after #${from}; got ${JSON.stringify(messages.map((m) => m.message))}`);
  };
  return { sock, messages, waitFor, cfg };
}

test('sd_notify: READY, RELOADING+MONOTONIC_USEC, READY, failed-reload STATUS, WATCHDOG, STOPPING, in order', async (t) => {
  const { sock, messages, waitFor, cfg } = await notifyStack(t);
  const daemon = await startDaemon(cfg.dir, { workers: 2, env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '600000' } });
  const ready1 = await waitFor(/READY=1/);
  t.regex(messages[ready1]?.message ?? '', /STATUS=generation 1, 2 workers/);
  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', await stickyWithWeights(0, 100));
  daemon.proc.kill('SIGHUP');
  const reloading = await waitFor(/RELOADING=1/, ready1 + 1);
  t.regex(messages[reloading]?.message ?? '', /MONOTONIC_USEC=\d+/);
  const ready2 = await waitFor(/READY=1/, reloading + 1);
  t.regex(messages[ready2]?.message ?? '', /STATUS=generation 2, 2 workers/);
  await writeAtomic(cfg.dir, 'ingress-sticky.yaml', BROKEN_YAML);
  daemon.proc.kill('SIGHUP');
  const reloading2 = await waitFor(/RELOADING=1/, ready2 + 1);
  const failed = await waitFor(/STATUS=.*reload failed/, reloading2 + 1);
  t.regex(messages[failed]?.message ?? '', /generation 2.*ingress-sticky\.yaml/);
  const dogs = messages.filter((m) => /WATCHDOG=1/.test(m.message));
  await sleep(700);
  t.true(messages.filter((m) => /WATCHDOG=1/.test(m.message)).length > dogs.length, 'WATCHDOG=1 keeps coming at half of WATCHDOG_USEC');
  const code = await daemon.stop('SIGTERM');
  t.is(code, 0);
  await waitFor(/STOPPING=1/, failed + 1);
  const barriers = messages.filter((m) => /BARRIER=1/.test(m.message));
  t.true(barriers.length > 0 && barriers.every((b) => b.fds === 1), 'every BARRIER=1 carried one fd, which we closed');
  t.log(messages.filter((m) => !/BARRIER|WATCHDOG/.test(m.message)).map((m) => m.message.replace(/\n/g, ' ')).join(' | '));
});

test('WATCHDOG=1 is withheld while a worker misses heartbeats, and resumes once it is replaced', async (t) => {
  const { sock, messages, waitFor, cfg } = await notifyStack(t);
  // pings every 200 ms; heartbeats every 1 s, a worker silent for 5 s is stalled (primary/main.ts)
  const daemon = await startDaemon(cfg.dir, { workers: 1, env: { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' } });
  t.teardown(async () => { await daemon.stop(); });
  await waitFor(/READY=1/);
  // two pings before the stop, so the pause measured below starts from a ping that really came
  await waitFor(/WATCHDOG=1/, await waitFor(/WATCHDOG=1/) + 1);
  const status = (await (await fetch(`http://127.0.0.1:${daemon.adminPort}/status`)).json()) as { workers: { pid: number }[] };
  const victim = status.workers[0]!.pid;
  const stoppedAt = Date.now();
  process.kill(victim, 'SIGSTOP');
  t.teardown(() => { try { process.kill(victim, 'SIGKILL'); } catch { /* gone */ } });
  const withheld = (): boolean => daemon.stderr.some((l) => l.includes('"msg":"withholding WATCHDOG=1'));
  for (let i = 0; i < 300 && !withheld(); i++) await sleep(50);
  t.true(withheld(), 'the primary logged that it withholds WATCHDOG=1');
  // then the stalled worker is killed and replaced, and the pings come back
  const resumedFrom = messages.length;
  await waitFor(/WATCHDOG=1/, resumedFrom);
  const pings = messages.filter((m) => /WATCHDOG=1/.test(m.message)).map((m) => m.at);
  let gap = { ms: 0, at: 0 };
  for (let i = 1; i < pings.length; i++) if (pings[i]! - pings[i - 1]! > gap.ms) gap = { ms: pings[i]! - pings[i - 1]!, at: pings[i - 1]! };
  t.log(`longest pause between WATCHDOG=1 pings: ${gap.ms} ms, from ${gap.at - stoppedAt} ms after the SIGSTOP`);
  t.true(gap.ms >= 600, 'pings stopped for several intervals');
  // When the primary decided to withhold, from its own log line: arrival times at the socket lag
  // behind under load (each ping is a helper process, sent one after another), the decision does not.
  const firstWithheld = daemon.stderr.map((l) => { try { return JSON.parse(l) as { msg?: string; time?: string }; } catch { return {}; } })
    .find((l) => l.msg?.startsWith('withholding WATCHDOG=1'));
  const withheldAfter = Date.parse(firstWithheld?.time ?? '') - stoppedAt;
  t.log(`the primary first withheld WATCHDOG=1 ${withheldAfter} ms after the SIGSTOP`);
  // heartbeats every 1 s, stalled after 5 s without a pong. On a loaded CI machine the pongs before
  // the SIGSTOP come late, so the last one can be 2.5 s old at the stop (seen: withheld 2,604 ms
  // after it); 2 s still fails a primary that withholds while its workers answer.
  t.true(withheldAfter >= 2_000, 'not before the worker had missed heartbeats for seconds');
});

test('a systemd-notify helper killed by a signal (systemctl kill -s HUP hits the whole cgroup) is run again', async (t) => {
  const { sock, messages, waitFor, cfg } = await notifyStack(t);
  // A systemd-notify first on PATH that dies of SIGHUP, before sending, the first time it is asked
  // for RELOADING=1, as the helper does when systemd's kill loop catches it; then the real tool.
  const bin = await mkdtemp(join(tmpdir(), 'stickyd-fake-notify-'));
  t.teardown(() => rm(bin, { recursive: true, force: true }));
  const real = (await run('sh', ['-c', 'command -v systemd-notify'])).stdout.trim();
  await writeFile(join(bin, 'systemd-notify'), `#!/bin/sh
case "$*" in *RELOADING=1*) if [ ! -e "${bin}/killed" ]; then : > "${bin}/killed"; kill -HUP $$; fi;; esac
exec ${real} "$@"
`, { mode: 0o755 });
  const daemon = await startDaemon(cfg.dir, { workers: 1, env: { NOTIFY_SOCKET: sock, PATH: `${bin}:${process.env.PATH}` } });
  t.teardown(async () => { await daemon.stop(); });
  const ready1 = await waitFor(/READY=1/);
  daemon.proc.kill('SIGHUP');
  const reloading = await waitFor(/RELOADING=1/, ready1 + 1);
  await waitFor(/READY=1/, reloading + 1);
  t.is(messages.filter((m) => /RELOADING=1/.test(m.message)).length, 1, 'sent once: the killed helper had sent nothing');
  const retried = daemon.lines.filter((l) => l.msg === 'sd_notify helper killed by a signal; sending again');
  t.is(retried.length, 1);
  t.like(retried[0], { message: 'RELOADING=1', signal: 'SIGHUP', attempt: 1 });
  t.false(daemon.stderr.some((l) => l.includes('sd_notify failed')), daemon.stderr.join('\n'));
});

test('without NOTIFY_SOCKET no sd_notify runs', async (t) => {
  // the daemon starts and serves; nothing tries to reach a socket (a failed send would log 'sd_notify failed')
  const backends = await startBackends();
  const cfg = await configDir('demo', backends);
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  const daemon = await startDaemon(cfg.dir, { workers: 1, env });
  daemon.proc.kill('SIGHUP');
  await sleep(500);
  t.is(await daemon.stop(), 0);
  await Promise.all(backends.map((b) => b.close()));
  await cfg.cleanup();
  t.false(daemon.stderr.some((l) => l.includes('sd_notify')));
});
