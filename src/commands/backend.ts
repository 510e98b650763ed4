// `stickyd backend`: the seed's demo app (demo/backend.ts) as a process of its own.
import { startBackend } from '../demo/backend.js';
import { startupFailed } from '../demo/demo.js';
import { log } from '../log.js';
import { parseFlags, portNumber } from './args.js';

export const HELP = `Usage: stickyd backend --port <p> --version <v> --metadata <m> [--instance <name>] [--host <h>]

The seed's demo app: GET /ping answers {"instance","version","metadata","request_id"}.
Also GET /healthz.

Options:
      --port <p>         port to listen on (0 picks a free one; default 8080)
      --host <h>         address to bind (default 127.0.0.1)
      --version <v>      version label to report (default v1)
      --metadata <m>     metadata to report (default production)
      --instance <name>  instance name to report (default demo-<version>-<host>-<port>)
  -h, --help             this help
`;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('backend', HELP, args, {
    port: { type: 'string' }, host: { type: 'string' }, version: { type: 'string' }, metadata: { type: 'string' }, instance: { type: 'string' },
  });
  const host = typeof v.host === 'string' ? v.host : '127.0.0.1';
  const port = typeof v.port === 'string' ? portNumber(v.port, '--port', 'backend') : 8080;
  const b = await startBackend({
    host, port,
    version: typeof v.version === 'string' ? v.version : 'v1',
    metadata: typeof v.metadata === 'string' ? v.metadata : 'production',
    ...(typeof v.instance === 'string' ? { instance: v.instance } : {}),
  }).catch((err: unknown) => startupFailed(err, host, port));
  log('info', 'backend listening', { port: b.port, instance: b.instance });
  const stop = (): void => { void b.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
