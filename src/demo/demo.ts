// `stickyd demo` (npm start): the seed's topology on loopback. Five backends as child processes
// (so they behave like separate VMs), then this process becomes the proxy's primary. A startup
// failure (a busy port, most often: another demo still running) stops the backends and ends with
// one line saying what to do, like `stickyd run`.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { log } from '../log.js';
import { generateKeyFile } from '../session/key-file.js';
import { describeStartupError, runPrimary } from '../primary/main.js';
import { ListenError, describeListenError, type ListenFlags } from '../primary/listen-error.js';

/** The demo moves its proxy with --port; its admin port and backend ports are fixed. */
const DEMO_FLAGS: ListenFlags = { proxy: 'use --port', admin: '' };
/** a demo backend's port is fixed by examples/demo/endpoints.yaml */
const BACKEND_FLAGS: ListenFlags = { proxy: '', admin: '' };

/** the ports examples/demo/endpoints.yaml declares */
export const DEMO_BACKENDS = [
  { instance: 'demo-v1-a', version: 'v1', metadata: 'production', port: 18081 },
  { instance: 'demo-v1-b', version: 'v1', metadata: 'production', port: 18082 },
  { instance: 'demo-v1-c', version: 'v1', metadata: 'production', port: 18083 },
  { instance: 'demo-v2-a', version: 'v2', metadata: 'staging', port: 18084 },
  { instance: 'demo-v3-a', version: 'v3', metadata: 'dev', port: 18085 },
] as const;

const STARTUP_TIMEOUT_MS = 10_000;

/**
 * A fresh session key file for this demo run only (mode 0600 in a private temp directory), so a
 * ServiceEntry given istio.io/persistent-session works in the demo without `stickyd keygen`.
 * Its pins stop verifying when the demo restarts, which a demo can afford.
 */
function writeThrowawayKeyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stickyd-demo-'));
  const file = join(dir, 'session-keys');
  writeFileSync(file, generateKeyFile(), { mode: 0o600 });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return file;
}

export async function runDemo(opts: { workers: number; port: number; cliPath: string; signals: { onHup(fn: () => void): void } }): Promise<void> {
  const configPath = fileURLToPath(new URL('../../examples/demo', import.meta.url));
  const children: ChildProcess[] = [];
  process.on('exit', () => { for (const c of children) c.kill('SIGTERM'); });
  try {
    await Promise.all(DEMO_BACKENDS.map((b) => startChild(opts.cliPath, b, children)));
    await runPrimary({
      configPath,
      listen: { host: '127.0.0.1', port: opts.port },
      workers: opts.workers,
      admin: { host: '127.0.0.1', port: 9901 },
      settings: {},
      sessionKeyFile: writeThrowawayKeyFile(),
      workerScript: opts.cliPath,
      workerArgs: [],
    }, opts.signals);
  } catch (err) {
    await stopChildren(children);
    for (const line of describeStartupError(err, DEMO_FLAGS)) log('error', 'startup failed', { error: line, code: (err as { code?: string }).code });
    process.exit(1);
  }
  const url = `http://127.0.0.1:${opts.port}`;
  process.stdout.write(`
stickyd demo is running: proxy on ${url}, admin on http://127.0.0.1:9901, config ${configPath}
Backends: ${DEMO_BACKENDS.map((b) => `${b.instance} (${b.version}) :${b.port}`).join(', ')}

Try the seed's walkthrough (in another terminal):
  IPADDR=127.0.0.1 PORT=${opts.port}
  for i in {1..5}; do curl -H "Host: demo.example.com" http://$IPADDR:$PORT/ping; done
  curl -i -H "Host: demo.example.com" http://$IPADDR:$PORT/ping
  for i in {1..5}; do curl -c cookie.txt -b cookie.txt -H "Host: demo.example.com" http://$IPADDR:$PORT/ping; done
  curl -H "Host: demo.example.com" -H "stage: dev" http://$IPADDR:$PORT/ping

Press Ctrl-C to stop.
`);
}

function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  return Promise.all(children.map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    c.once('exit', () => resolve());
    c.kill('SIGTERM');
  }))).then(() => undefined);
}

/** `stickyd backend` that could not listen: one line (the demo repeats it) and exit 1. */
export function startupFailed(err: unknown, host: string, port: number): never {
  const e = err as NodeJS.ErrnoException;
  const line = typeof e.code === 'string' && e.syscall === 'listen'
    ? describeListenError(new ListenError('proxy', e.code, host, port, e.message), BACKEND_FLAGS)
    : String((err as Error).message ?? err);
  log('error', 'startup failed', { error: line, code: e.code });
  process.exit(1);
}

function startChild(cliPath: string, b: (typeof DEMO_BACKENDS)[number], children: ChildProcess[]): Promise<void> {
  const child = spawn(process.execPath, [cliPath, 'backend', '--port', String(b.port), '--version', b.version, '--metadata', b.metadata, '--instance', b.instance], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo backend ${b.instance} did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    createInterface({ input: child.stdout! }).once('line', () => { clearTimeout(timer); resolve(); });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo backend ${b.instance}: ${lastError(stderr) ?? `exited (code ${code}) on 127.0.0.1:${b.port}: ${stderr.trim() || 'no output'}`}`));
    });
  });
}

/** The `error` of the backend's last JSON log line (its startup failure), if it wrote one. */
function lastError(stderr: string): string | null {
  const last = stderr.trim().split('\n').at(-1) ?? '';
  try {
    const o = JSON.parse(last) as { error?: unknown };
    return typeof o.error === 'string' ? o.error : null;
  } catch {
    return null;
  }
}
