// The seed's topology for one test: five backends, a config dir, the real daemon; all stopped
// at the test's teardown.
import type { ExecutionContext } from 'ava';
import type { Backend } from '../../src/demo/backend.js';
import { configDir, startBackends } from './backends.js';
import { startDaemon, type Daemon } from './daemon.js';

export interface SeedStack {
  readonly daemon: Daemon;
  readonly backends: Backend[];
  readonly cfg: { dir: string; cleanup(): Promise<void> };
  /** http://127.0.0.1:<proxy port> */
  readonly base: string;
  /** http://127.0.0.1:<admin port> */
  readonly admin: string;
}

export async function startSeedStack(t: ExecutionContext, opts: { workers?: number; args?: string[]; example?: 'demo' | 'weighted' } = {}): Promise<SeedStack> {
  const backends = await startBackends();
  const cfg = await configDir(opts.example ?? 'demo', backends);
  const daemon = await startDaemon(cfg.dir, { workers: opts.workers ?? 2, args: opts.args ?? [] });
  t.teardown(async () => {
    await daemon.stop();
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
  });
  return { daemon, backends, cfg, base: `http://127.0.0.1:${daemon.port}`, admin: `http://127.0.0.1:${daemon.adminPort}` };
}
