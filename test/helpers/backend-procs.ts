// Demo backends as separate processes (`stickyd backend`), so a test can kill -9 one and start it
// again on the same port, the way a crashed service behaves.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from './daemon.js';

export interface BackendProc {
  readonly instance: string;
  port: number;
  proc: ChildProcess;
  /** SIGKILL and wait for the exit */
  kill(): Promise<void>;
  /** start again on the same port */
  restart(): Promise<void>;
}

export async function startBackendProc(instance: string, version = 'v1', port = 0): Promise<BackendProc> {
  const b: BackendProc = {
    instance,
    port,
    proc: null as unknown as ChildProcess,
    async kill() {
      if (b.proc.exitCode !== null || b.proc.signalCode !== null) return;
      const exited = new Promise((r) => b.proc.once('exit', r));
      b.proc.kill('SIGKILL');
      await exited;
    },
    async restart() {
      await spawnOne();
    },
  };
  const spawnOne = async (): Promise<void> => {
    const proc = spawn(process.execPath, [CLI, 'backend', '--port', String(b.port), '--version', version, '--instance', instance], { stdio: ['ignore', 'pipe', 'pipe'] });
    b.proc = proc;
    b.port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`backend ${instance} did not start`)), 10_000);
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        try {
          const o = JSON.parse(l) as { msg?: string; port?: number };
          if (o.msg === 'backend listening') { clearTimeout(timer); resolve(o.port as number); }
        } catch { /* not ours */ }
      });
      proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`backend ${instance} exited with ${code}`)); });
    });
  };
  await spawnOne();
  return b;
}
