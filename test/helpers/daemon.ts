// Starts the real daemon (dist/cli.js, as a user would) on ephemeral loopback ports and stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const READY_TIMEOUT_MS = 20_000;

export interface Daemon {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly lines: Record<string, unknown>[];
  /** access log lines, raw: kept apart and unparsed so load tests do not pay for them */
  readonly accessLines: string[];
  readonly stderr: string[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `nodeArgs`: options for node itself (before the script); cluster workers inherit them as execArgv. */
export interface DaemonOptions {
  workers?: number;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
}

export async function startDaemon(configPath: string, opts: DaemonOptions = {}): Promise<Daemon> {
  const args = [...(opts.nodeArgs ?? []), CLI, 'run', '-c', configPath, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--workers', String(opts.workers ?? 2), ...(opts.args ?? [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  const lines: Record<string, unknown>[] = [];
  const accessLines: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  createInterface({ input: proc.stderr! }).on('line', (l) => { stderr.push(l); });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready in ${READY_TIMEOUT_MS} ms; stderr:\n${stderr.join('\n')}`)), READY_TIMEOUT_MS);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (l.startsWith('{"msg":"access"')) { accessLines.push(l); return; }
      let obj: Record<string, unknown>;
      try { obj = JSON.parse(l) as Record<string, unknown>; } catch { obj = { raw: l }; }
      lines.push(obj);
      if (obj.msg === 'ready') { clearTimeout(timer); resolve(obj); }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`daemon exited with ${code} before ready; stderr:\n${stderr.join('\n')}`)); });
  });
  let readyLine: Record<string, unknown>;
  try {
    readyLine = await ready;
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  const port = (readyLine.listenPorts as number[])[0] as number;
  const adminPort = readyLine.adminPort as number;
  return {
    proc, port, adminPort, lines, accessLines, stderr,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Runs the CLI to completion (check, --help, ...). */
export function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`stickyd ${args.join(' ')} timed out`)); }, opts.timeoutMs ?? 20_000);
    proc.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
