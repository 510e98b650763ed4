// `stickyd reload`: the synchronous reload for people and for ExecReload=. A bare SIGHUP is
// asynchronous, so systemctl could not report a failure; this validates first, signals the
// primary, then waits on the admin listener until the reload that covers its signal finished.
// With --json every line is a log line (log.ts): under ExecReload= it joins the daemon's journal
// as JSON with its priority.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/index.js';
import type { ReloaderStatus } from '../daemon-view.js';
import { ConfigError, formatIssue } from '../errors.js';
import { log, setLogBase } from '../log.js';
import { hostPort, parseFlags, positiveInt, required } from './args.js';

export const HELP = `Usage: stickyd reload -c <file-or-dir> [--pid <pid> | --pid-file <path>] [--admin <host:port>]

Validates the configuration, sends SIGHUP to the running primary and waits until the new
generation is live in every worker. Exits 1 with the reason when validation or the reload
fails (the running generation keeps serving). Meant for ExecReload= and for people.

Options:
  -c, --config <path>     the config the daemon runs with (required)
      --pid <pid>         the primary's pid (default: $MAINPID under systemd)
      --pid-file <path>   read the pid from this file
      --admin <host:port> the daemon's admin listener (default 127.0.0.1:9901)
      --timeout <ms>      how long to wait for the result (default 60000)
      --json              every output line a JSON log line (for the journal: the unit uses it)
  -h, --help              this help
`;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('reload', HELP, args, {
    config: { type: 'string', short: 'c' }, pid: { type: 'string' }, 'pid-file': { type: 'string' }, admin: { type: 'string' }, timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  process.exitCode = await runReload({
    configPath: required(v.config, '--config', 'reload'),
    pid: typeof v.pid === 'string' ? positiveInt(v.pid, '--pid', 'reload') : null,
    pidFile: typeof v['pid-file'] === 'string' ? v['pid-file'] : null,
    admin: hostPort(typeof v.admin === 'string' ? v.admin : '127.0.0.1:9901', '--admin', 'reload'),
    timeoutMs: typeof v.timeout === 'string' ? positiveInt(v.timeout, '--timeout', 'reload') : 60_000,
    json: v.json === true,
  });
}

/** What the client reads of GET /status: the reloader's part (admin/status.ts spreads it in). */
type Status = Pick<ReloaderStatus, 'generation' | 'ready' | 'reloads' | 'lastReload'>;

export interface ReloadClientOptions {
  readonly configPath: string;
  readonly pid: number | null;
  readonly pidFile: string | null;
  readonly admin: { host: string; port: number };
  readonly timeoutMs: number;
  readonly json?: boolean;
}

const POLL_MS = 50;

export async function runReload(opts: ReloadClientOptions): Promise<number> {
  if (opts.json) setLogBase({ role: 'reload', pid: process.pid });
  /** text: "stickyd reload: <text>"; json: a log line whose msg is `msg`, with `fields` */
  const say = (level: 'info' | 'error', text: string, msg = text, fields: Record<string, unknown> = {}): void => {
    if (opts.json) log(level, msg, { config: opts.configPath, ...fields });
    else (level === 'info' ? process.stdout : process.stderr).write(`stickyd reload: ${text}\n`);
  };
  try {
    await loadConfig(opts.configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) {
        if (opts.json) log('error', 'config error', { config: opts.configPath, where: formatIssue(i) });
        else process.stderr.write(`error: ${formatIssue(i)}\n`);
      }
      say('error', `${opts.configPath} is invalid; the running generation keeps serving`, 'reload refused: the configuration is invalid; the running generation keeps serving', { errors: err.issues.length });
      return 1;
    }
    say('error', (err as Error).message, 'reload refused', { error: (err as Error).message });
    return 1;
  }
  const pid = opts.pid ?? (opts.pidFile ? Number((await readFile(opts.pidFile, 'utf8')).trim()) : Number(process.env.MAINPID));
  if (!Number.isInteger(pid) || pid <= 0) {
    say('error', 'no primary pid: give --pid, --pid-file, or run under systemd ($MAINPID)');
    return 2;
  }
  const base = `http://${opts.admin.host.includes(':') ? `[${opts.admin.host}]` : opts.admin.host}:${opts.admin.port}`;
  let before: Status;
  try {
    before = await status(base);
  } catch (err) {
    say('error', `cannot reach the admin listener at ${base}: ${(err as Error).message}`, 'cannot reach the admin listener', { admin: base, error: (err as Error).message });
    return 1;
  }
  const target = before.reloads.requested + 1;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    say('error', `cannot signal pid ${pid}: ${(err as Error).message}`, 'cannot signal the primary', { primary: pid, error: (err as Error).message });
    return 1;
  }
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const s = await status(base).catch(() => null);
    const last = s?.lastReload;
    if (!s || !last || last.covers < target) continue;
    if (!last.ok) {
      say('error', `failed; generation ${s.generation} keeps serving: ${last.error}`, 'reload failed; the running generation keeps serving', { generation: s.generation, error: last.error });
      return 1;
    }
    if (!s.ready) continue;
    say('info', `generation ${last.epoch} is live in every worker`, 'reload applied in every worker', { generation: last.epoch });
    return 0;
  }
  say('error', `no result within ${opts.timeoutMs} ms`, 'reload gave no result in time', { timeoutMs: opts.timeoutMs });
  return 1;
}

async function status(base: string): Promise<Status> {
  const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET /status answered ${res.status}`);
  return (await res.json()) as Status;
}
