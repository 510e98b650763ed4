// What is measured: the backends direct (the ceiling), nginx, HAProxy, three Node proxies and
// stickyd in several settings. Each subject starts its processes through the ProcessGroup and
// says which process tree's CPU counts as "the proxy".
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { CLI, DEMO_HOST, REPO } from '../stickyd-config.js';
import { waitForOk } from './check.js';
import { PEERS_DIR, renderTemplate, startHaproxy, startNginx } from './peers.js';
import { freePort, type ProcessGroup, type Started } from './procs.js';

export interface BenchEnv {
  readonly group: ProcessGroup;
  /** per-run temporary directory (configs, logs) */
  readonly run: string;
  readonly backends: readonly number[];
  readonly stickydConfig: string;
  /** the same config with header edits and a rewrite on the benchmarked route (stickyd-config.ts) */
  readonly stickydEditsConfig: string;
  /** the weighted sticky route: v1 80 / v2 20, the destination from the session cookie */
  readonly stickydSplitConfig: string;
  /** the seed's route with persistent sessions, and its key file (stickyd-config.ts) */
  readonly stickydPins: { readonly dir: string; readonly keyFile: string };
  readonly bins: { readonly nginx: string | null; readonly haproxy: string | null };
  /** write V8 CPU profiles of stickyd and the Node peers into this directory (per subject), or null */
  readonly profDir: string | null;
  readonly workers: number;
}

export interface Running {
  readonly port: number;
  /** root of the process tree whose CPU is the proxy's; null for the direct ceiling */
  readonly pid: number | null;
  /** bytes the proxy wrote to stdout so far (stickyd: its access log), when the harness reads it */
  readonly stdoutBytes?: () => number;
}

export interface Subject {
  readonly name: string;
  readonly what: string;
  /** false: requests carry no cookie, so a cookie-minting proxy mints on every request */
  readonly sendsCookies: boolean;
  /** the proxy issues the session cookie itself */
  readonly mints: boolean;
  /** a reference point, not a sticky proxy: no sticky check */
  readonly reference?: boolean;
  /** an experiment: measured only when `--only` names it, not in the default run */
  readonly optIn?: boolean;
  /**
   * The session values this subject is driven with, when the run's shared ones would not do
   * (persistent sessions: only pins the daemon signed are valid): made once it is up.
   */
  readonly sessions?: (running: Running, n: number) => Promise<string[]>;
  /** why it cannot run here, or null */
  readonly unavailable: (env: BenchEnv) => string | null;
  readonly start: (env: BenchEnv) => Promise<Running>;
}

const READY_MS = 30_000;

function nodePeer(name: string, script: string, what: string): Subject {
  return {
    name, what, sendsCookies: true, mints: false,
    unavailable: () => null,
    async start(env) {
      const port = await freePort();
      const p = env.group.spawn(name, process.execPath, [...(await profileArgs(env, name)), join(PEERS_DIR, script)], {
        env: { PORT: String(port), BACKENDS: env.backends.join(','), WORKERS: String(env.workers) },
        logFile: join(env.run, 'logs', `${name}.out`), role: 'proxy',
      });
      await readyOrExit(p, port, name);
      return { port, pid: p.pid };
    },
  };
}

/**
 * Node's flags for a V8 CPU profile of every process of `name` (cluster workers inherit the
 * primary's execArgv), or none when the run takes no profiles. The Node peers are profiled too,
 * so stickyd's profile can be set beside the undici floor's from the same run.
 */
async function profileArgs(env: BenchEnv, name: string): Promise<string[]> {
  if (env.profDir === null) return [];
  const dir = join(env.profDir, name);
  await mkdir(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}

/** Waits for GET /ping to answer 200, failing at once if the process exits first. */
async function readyOrExit(p: Started, port: number, name: string): Promise<void> {
  let ready = false;
  const ok = waitForOk(port, DEMO_HOST, READY_MS, name).then(() => { ready = true; });
  const died = p.exited.then((code) => { if (!ready) throw new Error(`${name} exited (${code}) before it answered; see its log`); });
  // whichever loses the race must not become an unhandled rejection
  ok.catch(() => {});
  died.catch(() => {});
  await Promise.race([ok, died]);
}

/** Whether `cli run --help` offers `--access-log <on|off>` (builds before it had no access log). */
const accessLogSupport = new Map<string, boolean>();
export function hasAccessLogFlag(cli: string): boolean {
  let known = accessLogSupport.get(cli);
  if (known === undefined) {
    const r = spawnSync(process.execPath, [cli, 'run', '--help'], { encoding: 'utf8', timeout: 10_000 });
    known = /--access-log <on\|off>/.test(r.stdout ?? '');
    accessLogSupport.set(cli, known);
  }
  return known;
}

/**
 * stickyd as users run it: its defaults, access log on, unless `accessLog` is false. Its stdout is
 * a pipe the harness reads and discards, as journald reads a unit's stdout stream (a socket: the
 * access log writes in 4 KiB chunks there, as it does here); stderr goes to a file. The peers log nothing (nginx `access_log off`, HAProxy
 * without `log`): stickyd-nolog is the like-for-like row.
 */
function stickyd(
  name: string,
  what: string,
  opts: {
    cli?: string; args?: (env: BenchEnv) => string[]; sendsCookies?: boolean; accessLog?: boolean; config?: (env: BenchEnv) => string;
    /** stdout on a regular file in the run directory ('file') or on /dev/null ('null') instead of the drained pipe */
    stdout?: 'file' | 'null';
    sessions?: Subject['sessions'];
  },
): Subject {
  const cli = opts.cli ?? CLI;
  return {
    name, what, sendsCookies: opts.sendsCookies ?? true, mints: opts.sendsCookies === false,
    ...(opts.sessions === undefined ? {} : { sessions: opts.sessions }),
    unavailable: () => (existsSync(cli) ? null : `${cli} not found (run npm run build)`),
    async start(env) {
      const port = await freePort();
      const node = await profileArgs(env, name);
      const log = hasAccessLogFlag(cli) ? ['--access-log', opts.accessLog === false ? 'off' : 'on'] : [];
      const args = [...node, cli, 'run', '-c', opts.config?.(env) ?? env.stickydConfig, '--listen', `127.0.0.1:${port}`, '--admin', '127.0.0.1:0', '--workers', String(env.workers), ...log, ...(opts.args?.(env) ?? [])];
      const stdoutFile = opts.stdout === 'file' ? join(env.run, 'logs', `${name}.access.log`) : opts.stdout === 'null' ? '/dev/null' : undefined;
      const p = env.group.spawn(name, process.execPath, args, { logFile: join(env.run, 'logs', `${name}.out`), role: 'proxy', drainStdout: stdoutFile === undefined, ...(stdoutFile === undefined ? {} : { stdoutFile }) });
      await readyOrExit(p, port, name);
      return { port, pid: p.pid, ...(stdoutFile === undefined ? { stdoutBytes: p.stdoutBytes } : {}) };
    },
  };
}

/** n pins the daemon on `port` signs for new sessions (GET /ping without a cookie, its Set-Cookie value). */
async function mintPins(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < n; i++) {
      const { status, setCookie } = await new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/ping', headers: { host: DEMO_HOST }, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }));
        }).on('error', reject);
      });
      const line = setCookie.find((c) => c.startsWith('session='));
      if (status !== 200 || line === undefined) throw new Error(`stickyd-pins: no pin minted (status ${status})`);
      out.push(line.slice('session='.length).split(';', 1)[0]!);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

export function buildSubjects(variants: readonly { label: string; cli: string; args: readonly string[] }[]): Subject[] {
  const subjects: Subject[] = [
    {
      name: 'direct', what: 'one backend, no proxy (ceiling)', sendsCookies: true, mints: false, reference: true,
      unavailable: () => null,
      start: async (env) => ({ port: env.backends[0]!, pid: null }),
    },
    { ...nodePeer('node-server', 'node-server.mjs', 'reference: a Node HTTP server answering /ping itself, no proxying (the floor of Node\'s server side)'), reference: true },
    {
      name: 'nginx', what: 'nginx, `hash $cookie_session consistent`', sendsCookies: true, mints: false,
      unavailable: (env) => (env.bins.nginx === null ? 'nginx is not installed' : null),
      async start(env) {
        const port = await freePort();
        const conf = await renderTemplate('nginx-proxy.conf.tmpl', 'nginx-proxy.conf', { run: env.run, port, backends: env.backends, workers: env.workers });
        const p = startNginx(env.group, env.bins.nginx!, 'nginx-proxy', conf, env.run, 'proxy');
        await waitForOk(port, DEMO_HOST, READY_MS, 'nginx');
        return { port, pid: p.pid };
      },
    },
    {
      name: 'haproxy', what: 'HAProxy, `balance hash req.cook(session)`', sendsCookies: true, mints: false,
      unavailable: (env) => (env.bins.haproxy === null ? 'haproxy is not installed' : null),
      async start(env) {
        const port = await freePort();
        const conf = await renderTemplate('haproxy-hash.cfg.tmpl', 'haproxy-hash.cfg', { run: env.run, port, backends: env.backends, workers: env.workers });
        const p = startHaproxy(env.group, env.bins.haproxy!, 'haproxy', conf, env.run);
        await waitForOk(port, DEMO_HOST, READY_MS, 'haproxy');
        return { port, pid: p.pid };
      },
    },
    nodePeer('node-http-proxy', 'node-http-proxy.mjs', 'node-http-proxy in node:cluster'),
    nodePeer('node-plain', 'node-plain.mjs', 'node:http proxy (`http.request` + pipe)'),
    nodePeer('undici', 'undici-proxy.mjs', 'undici 7 `Pool.stream` proxy'),
    stickyd('stickyd', 'stickyd with its defaults (seed cookie policy; access log on, stdout a pipe read like journald; request ids, metrics)', {}),
    stickyd('stickyd-nolog', 'stickyd defaults but access log off (`--access-log off`), like the peers', { accessLog: false }),
    { ...stickyd('stickyd-logfile', 'stickyd defaults, stdout (the access log) on a regular file: 64 KiB writes instead of the pipe\'s 4 KiB', { stdout: 'file' }), optIn: true },
    { ...stickyd('stickyd-lognull', 'stickyd defaults, stdout on /dev/null: the access log\'s lines built and written in 4 KiB chunks that cost the kernel nothing (an experiment: what the pipe\'s writes cost)', { stdout: 'null' }), optIn: true },
    stickyd('stickyd-cache', 'stickyd defaults but the plain-hash session cache on (`--session-cache 100000`, the default before 2026-12-01)', { args: () => ['--session-cache', '100000'] }),
    stickyd('stickyd-mint', 'stickyd defaults, mints a cookie on every request', { sendsCookies: false }),
    stickyd('stickyd-split', 'stickyd defaults, a weighted sticky route (v1 80 / v2 20, both sticky by the cookie: the destination chosen from it)', { config: (env) => env.stickydSplitConfig }),
    stickyd('stickyd-pins', 'stickyd defaults, persistent sessions on the same route (`istio.io/persistent-session: session`): every request carries a valid signed pin, read through the verified-pin cache', {
      config: (env) => env.stickydPins.dir,
      args: (env) => ['--session-key-file', env.stickydPins.keyFile],
      sessions: (running, n) => mintPins(running.port, n),
    }),
    stickyd('stickyd-edits', 'stickyd defaults, the same route with header edits (route + destination, request + response) and a rewrite', { config: (env) => env.stickydEditsConfig }),
  ];
  for (const v of variants) {
    const what = `stickyd build ${relative(REPO, v.cli)}${v.args.length > 0 ? ` \`${v.args.join(' ')}\`` : ''}`;
    subjects.push(stickyd(`stickyd-${v.label}`, what, { cli: v.cli, args: () => [...v.args] }));
  }
  return subjects;
}
