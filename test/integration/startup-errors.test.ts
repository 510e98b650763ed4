// Startup failures as a new user meets them: a busy port, a low port without
// CAP_NET_BIND_SERVICE, the demo on a busy port. Each ends with one line naming the cause, the
// address and what to do, exit 1, no stack trace, and nothing left running.
import test from 'ava';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { CLI } from '../helpers/daemon.js';
import { EXAMPLES } from '../helpers/backends.js';
import { DEMO_BACKENDS } from '../../src/demo/demo.js';

const DEMO = join(EXAMPLES, 'demo');

interface Run { code: number | null; lines: Array<Record<string, unknown>>; text: string }

/** Runs the CLI (optionally through a wrapper such as setpriv) to its end; stdout+stderr as lines. */
function runToEnd(args: string[], wrapper: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const argv = [...wrapper, process.execPath, CLI, ...args];
    const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    proc.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { text += d.toString(); });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`stickyd ${args.join(' ')} did not exit: ${text}`)); }, 30_000);
    proc.once('close', (code) => {
      clearTimeout(timer);
      const lines = text.trim().split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return { unparsed: l }; } });
      resolve({ code, lines, text });
    });
  });
}

/** A listener holding a loopback port, closed at teardown. */
async function holdPort(t: import('ava').ExecutionContext, port = 0): Promise<number> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen({ host: '127.0.0.1', port }, resolve); });
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

function assertOneLastLine(t: import('ava').ExecutionContext, r: Run, error: string): void {
  t.is(r.code, 1, r.text);
  t.false(/^\s+at /m.test(r.text), 'no stack trace');
  t.true(r.lines.every((l) => !('unparsed' in l)), `every line is JSON:\n${r.text}`);
  const last = r.lines.at(-1);
  t.like(last, { level: 'error', msg: 'startup failed', error, code: 'STICKYD_ERR_LISTEN' });
  t.is(r.lines.filter((l) => l.level === 'error').length, 1, `one error line:\n${r.text}`);
  t.false(r.lines.some((l) => l.msg === 'worker died; replacing it'), 'no respawn storm');
}

test('a busy port: one line naming the port, the address and --listen; exit 1', async (t) => {
  const port = await holdPort(t);
  const r = await runToEnd(['run', '-c', DEMO, '--listen', `127.0.0.1:${port}`, '--admin', 'off', '--workers', '2']);
  assertOneLastLine(t, r, `port ${port} is in use by another process (127.0.0.1:${port}): stop it or use --listen`);
});

test('a busy admin port: the line names --admin; the workers that did listen are gone', async (t) => {
  const port = await holdPort(t);
  const r = await runToEnd(['run', '-c', DEMO, '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${port}`, '--workers', '2']);
  assertOneLastLine(t, r, `admin port ${port} is in use by another process (127.0.0.1:${port}): stop it or use --admin (or --admin off)`);
  const workers = r.lines.filter((l) => l.msg === 'worker listening').map((l) => l.pid as number);
  t.is(workers.length, 2, r.text);
  for (const pid of workers) t.throws(() => process.kill(pid, 0), undefined, `worker ${pid} is gone`);
});

test('port 80 as a user without CAP_NET_BIND_SERVICE: the line says root or CAP_NET_BIND_SERVICE', async (t) => {
  if (process.getuid?.() !== 0) {
    // not root: this very user lacks the capability (unless the sysctl was lowered)
    const r = await runToEnd(['run', '-c', DEMO, '--listen', '127.0.0.1:80', '--admin', 'off', '--workers', '1']);
    assertOneLastLine(t, r, 'binding port 80 (127.0.0.1:80) needs root or CAP_NET_BIND_SERVICE: see the systemd unit, or use --listen');
    return;
  }
  // root: drop to nobody with no capabilities, as a user trying `stickyd run` on a fresh VM would be
  const r = await runToEnd(['run', '-c', DEMO, '--admin', 'off', '--workers', '1'], ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all']);
  assertOneLastLine(t, r, 'binding port 80 (0.0.0.0:80) needs root or CAP_NET_BIND_SERVICE: see the systemd unit, or use --listen');
});

test.serial('npm start (stickyd demo) on a busy port: the same line with --port, and its backends stopped', async (t) => {
  const port = await holdPort(t);
  const r = await runToEnd(['demo', '--port', String(port), '--workers', '1']);
  assertOneLastLine(t, r, `port ${port} is in use by another process (127.0.0.1:${port}): stop it or use --port`);
  for (const b of DEMO_BACKENDS) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: b.port }, () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    t.true(refused, `demo backend ${b.instance} on :${b.port} was stopped`);
  }
});

test.serial('the demo with a backend port taken says which backend and port, and stops the others', async (t) => {
  const taken = DEMO_BACKENDS[2];
  await holdPort(t, taken.port);
  const r = await runToEnd(['demo', '--port', '0', '--workers', '1']);
  t.is(r.code, 1, r.text);
  t.false(/^\s+at /m.test(r.text), 'no stack trace');
  t.like(r.lines.at(-1), { level: 'error', msg: 'startup failed', error: `demo backend ${taken.instance}: port ${taken.port} is in use by another process (127.0.0.1:${taken.port}): stop it` });
  for (const b of DEMO_BACKENDS.filter((x) => x !== taken)) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: b.port }, () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    t.true(refused, `demo backend ${b.instance} on :${b.port} was stopped`);
  }
});
