// `stickyd demo`: the seed's topology on loopback (demo/demo.ts).
import { availableParallelism } from 'node:os';
import { runDemo } from '../demo/demo.js';
import { parseFlags, portNumber, positiveInt, type CommandEnv } from './args.js';

export const HELP = `Usage: stickyd demo [--workers <n>]

Starts the seed's topology on loopback: 3 backends of v1 'production' (ports 18081-18083),
1 of v2 'staging' (18084), 1 of v3 'dev' (18085), and the proxy on 127.0.0.1:8080 with
examples/demo (the seed's ingress-sticky.yaml plus endpoints.yaml). Ctrl-C stops all of it.

Options:
      --workers <n>   proxy workers (default: CPU count)
      --port <p>      proxy port (default 8080)
  -h, --help          this help
`;

export async function run(args: string[], env: CommandEnv): Promise<void> {
  const v = parseFlags('demo', HELP, args, { workers: { type: 'string' }, port: { type: 'string' } });
  await runDemo({
    workers: typeof v.workers === 'string' ? positiveInt(v.workers, '--workers', 'demo') : availableParallelism(),
    port: typeof v.port === 'string' ? portNumber(v.port, '--port', 'demo') : 8080,
    cliPath: env.cliPath,
    signals: env.signals,
  });
}
