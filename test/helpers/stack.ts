// The seed's topology for one test: five backends, a config dir, the real daemon; all stopped
// at the test's teardown (ava runs teardowns last registered first: the daemon stops before the
// backends and the config dir go, and whatever the test registers later goes before the daemon).
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

export interface SeedStackOptions {
  readonly workers?: number;
  readonly args?: string[];
  readonly example?: 'demo' | 'weighted';
  /** changes the config dir (e.g. writes a file) before the daemon starts on it */
  readonly prepare?: (dir: string) => Promise<void>;
}

export async function startSeedStack(t: ExecutionContext, opts: SeedStackOptions = {}): Promise<SeedStack> {
  const backends = await startBackends();
  const cfg = await configDir(opts.example ?? 'demo', backends);
  t.teardown(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
  });
  await opts.prepare?.(cfg.dir);
  const daemon = await startDaemon(cfg.dir, { workers: opts.workers ?? 2, args: opts.args ?? [] });
  t.teardown(() => daemon.stop());
  return { daemon, backends, cfg, base: `http://127.0.0.1:${daemon.port}`, admin: `http://127.0.0.1:${daemon.adminPort}` };
}
