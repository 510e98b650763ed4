// `stickyd demo` (npm start): the seed's topology on loopback. Five backends as child processes
// (so they behave like separate VMs), then this process becomes the proxy's primary.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { runPrimary } from '../primary/main.js';

/** the ports examples/demo/endpoints.yaml declares */
export const DEMO_BACKENDS = [
  { instance: 'demo-v1-a', version: 'v1', metadata: 'production', port: 18081 },
  { instance: 'demo-v1-b', version: 'v1', metadata: 'production', port: 18082 },
  { instance: 'demo-v1-c', version: 'v1', metadata: 'production', port: 18083 },
  { instance: 'demo-v2-a', version: 'v2', metadata: 'staging', port: 18084 },
  { instance: 'demo-v3-a', version: 'v3', metadata: 'dev', port: 18085 },
] as const;

const STARTUP_TIMEOUT_MS = 10_000;

export async function runDemo(opts: { workers: number; port: number; cliPath: string; signals: { onHup(fn: () => void): void } }): Promise<void> {
  const configPath = fileURLToPath(new URL('../../examples/demo', import.meta.url));
  const children: ChildProcess[] = [];
  process.on('exit', () => { for (const c of children) c.kill('SIGTERM'); });
  try {
    await Promise.all(DEMO_BACKENDS.map((b) => startChild(opts.cliPath, b, children)));
  } catch (err) {
    for (const c of children) c.kill('SIGTERM');
    throw err;
  }
  await runPrimary({
    configPath,
    listen: { host: '127.0.0.1', port: opts.port },
    workers: opts.workers,
    admin: { host: '127.0.0.1', port: 9901 },
    settings: {},
    workerScript: opts.cliPath,
    workerArgs: [],
  }, opts.signals);
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
      reject(new Error(`demo backend ${b.instance} on 127.0.0.1:${b.port} exited (code ${code}): ${stderr.trim() || 'no output'}`));
    });
  });
}
