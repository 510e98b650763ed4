// Rolling restarts, crash recovery and graceful drain under load, with the real daemon.
import test from 'ava';
import http from 'node:http';
import { startSeedStack } from '../helpers/stack.js';
import { load } from '../helpers/load.js';
import { getJson, sleep, childPids, alive } from '../helpers/http.js';

interface Status { generation: number; ready: boolean; workers: { pid: number }[]; workerRestarts: number }

async function setup(t: import('ava').ExecutionContext, workers = 2) {
  const { daemon } = await startSeedStack(t, { workers });
  const status = async (): Promise<Status> => (await getJson<Status>(`http://127.0.0.1:${daemon.adminPort}/status`)).body;
  return { daemon, base: `http://127.0.0.1:${daemon.port}`, status };
}

async function waitFor(pred: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (await pred()) return true; await sleep(50); }
  return false;
}

for (const workers of [2, 1]) {
  test.serial(`SIGUSR2 twice under load with ${workers} worker(s): 0 failed requests, every worker pid changes`, async (t) => {
    const { daemon, base, status } = await setup(t, workers);
    const before = (await status()).workers.map((w) => w.pid);
    const running = load(`${base}/ping`, { connections: 50, durationSec: 8 });
    await sleep(1500);
    daemon.proc.kill('SIGUSR2');
    await sleep(3000);
    daemon.proc.kill('SIGUSR2');
    const r = await running;
    t.true(await waitFor(async () => { const s = await status(); return s.ready && s.workers.length === workers; }, 10_000));
    const after = (await status()).workers.map((w) => w.pid);
    t.log(`${r.requests} requests; errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx}; pids ${before} -> ${after}`);
    t.true(r.requests > 1000);
    t.is(r.errors + r.timeouts + r.non2xx, 0);
    t.is(after.length, workers);
    t.true(after.every((p) => !before.includes(p)), 'all pids changed');
    t.true(before.every((p) => !alive(p)), 'old workers are gone');
  });
}

test.serial('kill -9 of one worker under load: it is replaced; failures at most its in-flight requests', async (t) => {
  const { daemon, base, status } = await setup(t, 2);
  const before = (await status()).workers.map((w) => w.pid);
  const running = load(`${base}/ping`, { connections: 50, durationSec: 6 });
  await sleep(2000);
  const victim = before[0] as number;
  process.kill(victim, 'SIGKILL');
  const killedAt = Date.now();
  t.true(await waitFor(async () => { const s = await status(); return s.ready && s.workers.length === 2 && !s.workers.some((w) => w.pid === victim); }, 5_000));
  const replacedMs = Date.now() - killedAt;
  const r = await running;
  const failed = r.errors + r.timeouts + r.non2xx;
  t.log(`replacement listening after <= ${replacedMs} ms; ${r.requests} requests, ${failed} failed (errors ${r.errors}, resets ${r.resets}, non-2xx ${r.non2xx})`);
  // each of the 50 connections holds at most one request in flight; the victim owned about half
  t.true(failed <= 50, `failed ${failed}`);
  const s = await status();
  t.is(s.workerRestarts, 1);
  t.is((await childPids(daemon.proc.pid as number)).length, 2);
});

test.serial('SIGTERM with slow requests in flight: they complete, then the daemon exits 0', async (t) => {
  const { daemon } = await setup(t, 2);
  const agent = new http.Agent({ keepAlive: true });
  const slow = Array.from({ length: 6 }, () => new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: daemon.port, path: '/slow?ms=1500', headers: { host: 'demo.example.com' }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  }));
  await sleep(300);
  const code = daemon.stop('SIGTERM');
  const statuses = await Promise.all(slow);
  t.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
  t.is(await code, 0);
  t.true(daemon.lines.some((l) => l.msg === 'stopped'));
  agent.destroy();
});

test.serial('workers exit when the primary is killed', async (t) => {
  const { daemon, status } = await setup(t, 2);
  const pids = (await status()).workers.map((w) => w.pid);
  process.kill(daemon.proc.pid as number, 'SIGKILL');
  t.true(await waitFor(async () => pids.every((p) => !alive(p)), 5_000), 'no orphaned workers');
  // quietly: JSON lines only (the workers share the primary's stderr), no uncaught EPIPE
  await new Promise((r) => setTimeout(r, 200));
  t.false(daemon.stderr.some((l) => /^\s+at |EPIPE|Uncaught|node:internal/.test(l)), daemon.stderr.join('\n'));
  for (const l of daemon.stderr) t.notThrows(() => JSON.parse(l), l);
});

test.serial('a worker that keeps crashing is restarted with backoff, and the log and /status say so', async (t) => {
  const { daemon, status } = await setup(t, 1);
  for (let i = 0; i < 5; i++) {
    const s = await status();
    const pid = s.workers[0]?.pid;
    if (pid) process.kill(pid, 'SIGKILL');
    await waitFor(async () => { const x = await status(); return x.workers.length === 1 && x.workers[0]?.pid !== pid && x.ready; }, 10_000);
  }
  const s = (await status()) as Status & { crashLoop: { crashesInWindow: number; backoffRemainingMs: number } };
  const backoffLines = daemon.stderr.filter((l) => l.includes('worker keeps crashing; restarting with backoff'));
  t.log(`crashes in window ${s.crashLoop.crashesInWindow}; backoff log lines ${backoffLines.length}: ${backoffLines.map((l) => (JSON.parse(l) as { backoffMs: number }).backoffMs).join(', ')} ms`);
  t.true(s.crashLoop.crashesInWindow >= 5);
  t.true(backoffLines.length >= 2);
  const delays = backoffLines.map((l) => (JSON.parse(l) as { backoffMs: number }).backoffMs);
  t.true(delays.every((d, i) => i === 0 || d > (delays[i - 1] as number)), 'the delay grows');
  t.is(s.workerRestarts, 5);
});

test.serial('a stalled worker (SIGSTOP) misses heartbeats: it is replaced', async (t) => {
  const { status } = await setup(t, 2);
  const before = (await status()).workers.map((w) => w.pid);
  const victim = before[0] as number;
  process.kill(victim, 'SIGSTOP');
  t.teardown(() => { try { process.kill(victim, 'SIGKILL'); } catch { /* gone */ } });
  const replaced = await waitFor(async () => {
    const s = await status();
    return s.ready && s.workers.length === 2 && !s.workers.some((w) => w.pid === victim);
  }, 15_000);
  t.true(replaced, 'the stalled worker was replaced');
  await waitFor(async () => !alive(victim), 3_000);
  t.false(alive(victim));
});
