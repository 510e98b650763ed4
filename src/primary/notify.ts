// sd_notify for the primary. Node cannot send AF_UNIX datagrams (nodejs/node#31414), so every
// message goes through the `systemd-notify` tool, a child process; that needs NotifyAccess=all.
// Messages are sent one at a time, in order: the tool waits for systemd's BARRIER ack, so each
// message has been processed before the next is sent. Without NOTIFY_SOCKET nothing runs.
//
// `systemctl kill -s HUP stickyd` signals the whole cgroup, and systemd's kill loop keeps
// enumerating it, so it also catches the helper forked for RELOADING=1 right after the HUP; a
// helper that dies of a signal is therefore run again (up to MAX_ATTEMPTS). If it had already
// sent its datagram and was only waiting for the barrier, systemd sees the message twice in a
// row, which is harmless for every message we send (READY, STATUS, RELOADING, STOPPING, WATCHDOG).
import { spawn } from 'node:child_process';
import { log } from '../log.js';

/** a helper killed by this many signals in a row means something other than a stray HUP */
const MAX_ATTEMPTS = 5;

export class Notifier {
  readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  #chain: Promise<void> = Promise.resolve();
  #watchdog: NodeJS.Timeout | null = null;

  ready(status: string): Promise<void> {
    return this.#send(['READY=1', `STATUS=${status}`]);
  }

  status(status: string): Promise<void> {
    return this.#send([`STATUS=${status}`]);
  }

  /** systemd >= 253 matches RELOADING=1 to the reload by MONOTONIC_USEC; 252 ignores it harmlessly. */
  reloading(): Promise<void> {
    const usec = process.hrtime.bigint() / 1000n; // libuv's hrtime is CLOCK_MONOTONIC on Linux
    return this.#send(['RELOADING=1', `MONOTONIC_USEC=${usec}`]);
  }

  stopping(): Promise<void> {
    return this.#send(['STOPPING=1']);
  }

  /** Starts pinging at half of WATCHDOG_USEC while `healthy()` says the workers answer. */
  startWatchdog(healthy: () => boolean): void {
    const usec = Number(process.env.WATCHDOG_USEC ?? 0);
    const pid = Number(process.env.WATCHDOG_PID ?? process.pid);
    if (!this.enabled || !(usec > 0) || pid !== process.pid) return;
    const everyMs = Math.max(100, Math.floor(usec / 2000));
    this.#watchdog = setInterval(() => {
      if (healthy()) void this.#send(['WATCHDOG=1']);
      else log('warn', 'withholding WATCHDOG=1: workers do not answer heartbeats');
    }, everyMs);
    this.#watchdog.unref();
  }

  /** Resolves once every message sent so far has been handled, or after `maxMs`. */
  settled(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => { timer = setTimeout(resolve, maxMs); });
    return Promise.race([this.#chain, late]).finally(() => clearTimeout(timer));
  }

  stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #send(assignments: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const what = assignments[0] ?? '';
    const next = this.#chain.then(() => runHelper(assignments, what)).then(
      () => undefined,
      (err: unknown) => log('warn', 'sd_notify failed', { message: what, error: String(err) }),
    );
    this.#chain = next;
    return next;
  }
}

async function runHelper(assignments: string[], what: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const signal = await helperOnce(assignments);
    if (signal === null) return;
    if (attempt >= MAX_ATTEMPTS) throw new Error(`systemd-notify was killed by ${signal} ${attempt} times in a row`);
    log('info', 'sd_notify helper killed by a signal; sending again', { message: what, signal, attempt });
  }
}

/** Runs systemd-notify once: resolves null when it exited 0, the signal's name when one killed it. */
function helperOnce(assignments: string[]): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const child = spawn('systemd-notify', [`--pid=${process.pid}`, ...assignments], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (signal !== null) resolve(signal);
      else if (code === 0) resolve(null);
      else reject(new Error(err.trim() || `systemd-notify exited ${code}`));
    });
  });
}
