// Three backends answering GET /ping with the seed's ~130-byte JSON. nginx (one instance, three
// server blocks) when it is installed, so the backends are never the bottleneck; otherwise three
// `stickyd backend` processes (Node), which are slower and make every proxy look closer to direct.
import { join } from 'node:path';
import { CLI } from '../stickyd-config.js';
import { renderTemplate, startNginx } from './peers.js';
import { freePort, waitForPort, type ProcessGroup } from './procs.js';

export interface Backends {
  readonly ports: readonly number[];
  readonly kind: string;
}

const BACKEND_COUNT = 3;

export async function startBackends(group: ProcessGroup, run: string, nginx: string | null): Promise<Backends> {
  const ports: number[] = [];
  for (let i = 0; i < BACKEND_COUNT; i++) ports.push(await freePort());
  if (nginx !== null) {
    const conf = await renderTemplate('nginx-backends.conf.tmpl', 'nginx-backends.conf', { run, backends: ports });
    startNginx(group, nginx, 'nginx-backends', conf, run);
    for (const p of ports) await waitForPort(p, 10_000, 'nginx backends');
    return { ports, kind: 'nginx (bench/peers/nginx-backends.conf.tmpl, 2 workers)' };
  }
  const names = ['demo-v1-a', 'demo-v1-b', 'demo-v1-c'];
  ports.forEach((port, i) => {
    group.spawn(`backend-${i + 1}`, process.execPath, [CLI, 'backend', '--port', String(port), '--instance', names[i]!], { logFile: join(run, 'logs', `backend-${i + 1}.out`) });
  });
  for (const p of ports) await waitForPort(p, 10_000, 'stickyd backend');
  return { ports, kind: 'stickyd backend (Node, one process each)' };
}
