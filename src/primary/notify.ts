// sd_notify for the primary. Node cannot send AF_UNIX datagrams, so messages go through the
// `systemd-notify` tool: READY/STATUS via the systemd-notify package, the rest (RELOADING with
// MONOTONIC_USEC, STOPPING, WATCHDOG) with the same tool directly. That needs NotifyAccess=all.
// Messages are sent one at a time, in order: the tool waits for systemd's BARRIER ack, so each
// message has been processed before the next is sent. Without NOTIFY_SOCKET nothing runs.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { log } from '../log.js';

type NotifyFn = (opts: { ready?: boolean; status?: string; pid?: number }) => Promise<unknown>;
const notifyPackage = createRequire(import.meta.url)('systemd-notify') as NotifyFn;

export class Notifier {
  readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  #chain: Promise<void> = Promise.resolve();
  #watchdog: NodeJS.Timeout | null = null;

  ready(status: string): Promise<void> {
    return this.#enqueue('READY=1', () => notifyPackage({ ready: true, status, pid: process.pid }));
  }

  status(status: string): Promise<void> {
    return this.#enqueue('STATUS', () => notifyPackage({ status, pid: process.pid }));
  }

  /** systemd >= 253 matches RELOADING=1 to the reload by MONOTONIC_USEC; 252 ignores it harmlessly. */
  reloading(): Promise<void> {
    const usec = process.hrtime.bigint() / 1000n; // libuv's hrtime is CLOCK_MONOTONIC on Linux
    return this.#tool(['RELOADING=1', `MONOTONIC_USEC=${usec}`]);
  }

  stopping(): Promise<void> {
    return this.#tool(['STOPPING=1']);
  }

  /** Starts pinging at half of WATCHDOG_USEC while `healthy()` says the workers answer. */
  startWatchdog(healthy: () => boolean): void {
    const usec = Number(process.env.WATCHDOG_USEC ?? 0);
    const pid = Number(process.env.WATCHDOG_PID ?? process.pid);
    if (!this.enabled || !(usec > 0) || pid !== process.pid) return;
    const everyMs = Math.max(100, Math.floor(usec / 2000));
    this.#watchdog = setInterval(() => {
      if (healthy()) void this.#tool(['WATCHDOG=1']);
      else log('warn', 'withholding WATCHDOG=1: workers do not answer heartbeats');
    }, everyMs);
    this.#watchdog.unref();
  }

  stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #tool(args: string[]): Promise<void> {
    return this.#enqueue(args[0] ?? '', () => new Promise<void>((resolve, reject) => {
      const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(err.trim() || `systemd-notify exited ${code}`))));
    }));
  }

  #enqueue(what: string, send: () => Promise<unknown>): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const next = this.#chain.then(send).then(
      () => undefined,
      (err: unknown) => log('warn', 'sd_notify failed', { message: what, error: String(err) }),
    );
    this.#chain = next;
    return next;
  }
}
