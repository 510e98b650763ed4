// Every process the benchmark starts goes through here, so that all of them are stopped at the
// end, on Ctrl-C and on errors. Each child gets its own process group (detached), and stopping
// signals that group by its id: nginx's workers and a cluster's workers go down with their parent
// even if the parent dies first.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import net from 'node:net';

export interface Started {
  readonly label: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** resolves with the exit code (or signal name) once the process is gone */
  readonly exited: Promise<number | string | null>;
  /** bytes read from its stdout so far, when started with `drainStdout` */
  readonly stdoutBytes: () => number;
}

/** How long a process may take to stop on SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 5_000;

/** CPU lists for `--pin`: the measured proxy on one core, everything else on the other. */
export interface Pinning {
  readonly proxy: string;
  readonly rest: string;
}

export class ProcessGroup {
  readonly #started: Started[] = [];
  #stopping: Promise<void> | null = null;
  /** when set, every process starts under `taskset -c` with its role's CPU list */
  pin: Pinning | null = null;

  /**
   * Spawns `cmd args`, stdout and stderr appended to `logFile`; `role` matters only when pinned.
   * `drainStdout`: stdout is a pipe this process reads and discards instead (counting bytes), as
   * journald reads a unit's stdout stream: stickyd's access log then writes what it writes there.
   */
  spawn(label: string, cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; role?: 'proxy' | 'rest'; drainStdout?: boolean; stdoutFile?: string }): Started {
    const fd = openSync(opts.logFile, 'a');
    // `stdoutFile`: stdout opened on that path instead (a regular file, or /dev/null)
    const out = opts.stdoutFile === undefined ? null : openSync(opts.stdoutFile, 'w');
    let proc: ChildProcess;
    // taskset execs the command in place, so the pid stays the command's own
    const [file, argv] = this.pin === null ? [cmd, [...args]] : ['taskset', ['-c', opts.role === 'proxy' ? this.pin.proxy : this.pin.rest, cmd, ...args]];
    try {
      proc = spawn(file, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', out ?? (opts.drainStdout === true ? 'pipe' : fd), fd], detached: true });
    } finally {
      closeSync(fd);
      if (out !== null) closeSync(out);
    }
    if (proc.pid === undefined) throw new Error(`${label}: could not start ${cmd}`);
    let bytes = 0;
    proc.stdout?.on('data', (d: Buffer) => { bytes += d.length; });
    const exited = new Promise<number | string | null>((resolve) => {
      proc.once('exit', (code, signal) => resolve(code ?? signal));
      proc.once('error', () => resolve('spawn error'));
    });
    const started = { label, proc, pid: proc.pid, exited, stdoutBytes: () => bytes };
    this.#started.push(started);
    return started;
  }

  /** SIGTERM to every group, SIGKILL after the grace period; idempotent. */
  stopAll(): Promise<void> {
    this.#stopping ??= Promise.all(this.#started.map(stopOne)).then(() => undefined);
    return this.#stopping;
  }

  /** Stop one process (and its group) now. */
  async stop(started: Started): Promise<void> {
    await stopOne(started);
  }

  /** Stop the process this group started as `pid` (and its group); nothing if it is not one of them. */
  async stopPid(pid: number): Promise<void> {
    const s = this.#started.find((x) => x.pid === pid);
    if (s !== undefined) await stopOne(s);
  }
}

async function stopOne(s: Started): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) {
    signalGroup(s.pid, 'SIGKILL'); // orphans of a parent that already exited
    return;
  }
  signalGroup(s.pid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(s.pid, 'SIGKILL'), STOP_GRACE_MS);
  await s.exited;
  clearTimeout(timer);
  signalGroup(s.pid, 'SIGKILL');
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already gone
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
export async function waitForPort(port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** A port that was free a moment ago (the listener is closed before the port is used). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
