// `stickyd reload`: the synchronous reload for people and for ExecReload=. A bare SIGHUP is
// asynchronous, so systemctl could not report a failure; this validates first, signals the
// primary, then waits on the admin listener until the reload that covers its signal finished.
import { readFile } from 'node:fs/promises';
import { loadConfig } from '../config/index.js';
import { ConfigError, formatIssue } from '../errors.js';

interface Status {
  generation: number;
  ready: boolean;
  reloads: { requested: number };
  lastReload: { ok: boolean; epoch: number; error: string | null; covers: number } | null;
}

export interface ReloadClientOptions {
  readonly configPath: string;
  readonly pid: number | null;
  readonly pidFile: string | null;
  readonly admin: { host: string; port: number };
  readonly timeoutMs: number;
}

const POLL_MS = 50;

export async function runReload(opts: ReloadClientOptions): Promise<number> {
  try {
    await loadConfig(opts.configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) process.stderr.write(`error: ${formatIssue(i)}\n`);
      process.stderr.write(`stickyd reload: ${opts.configPath} is invalid; the running generation keeps serving\n`);
      return 1;
    }
    process.stderr.write(`stickyd reload: ${(err as Error).message}\n`);
    return 1;
  }
  const pid = opts.pid ?? (opts.pidFile ? Number((await readFile(opts.pidFile, 'utf8')).trim()) : Number(process.env.MAINPID));
  if (!Number.isInteger(pid) || pid <= 0) {
    process.stderr.write('stickyd reload: no primary pid: give --pid, --pid-file, or run under systemd ($MAINPID)\n');
    return 2;
  }
  const base = `http://${opts.admin.host.includes(':') ? `[${opts.admin.host}]` : opts.admin.host}:${opts.admin.port}`;
  let before: Status;
  try {
    before = await status(base);
  } catch (err) {
    process.stderr.write(`stickyd reload: cannot reach the admin listener at ${base}: ${(err as Error).message}\n`);
    return 1;
  }
  const target = before.reloads.requested + 1;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    process.stderr.write(`stickyd reload: cannot signal pid ${pid}: ${(err as Error).message}\n`);
    return 1;
  }
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const s = await status(base).catch(() => null);
    const last = s?.lastReload;
    if (!s || !last || last.covers < target) continue;
    if (!last.ok) {
      process.stderr.write(`stickyd reload: failed; generation ${s.generation} keeps serving: ${last.error}\n`);
      return 1;
    }
    if (!s.ready) continue;
    process.stdout.write(`stickyd reload: generation ${last.epoch} is live in every worker\n`);
    return 0;
  }
  process.stderr.write(`stickyd reload: no result within ${opts.timeoutMs} ms\n`);
  return 1;
}

async function status(base: string): Promise<Status> {
  const res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`GET /status answered ${res.status}`);
  return (await res.json()) as Status;
}
