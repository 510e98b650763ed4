#!/usr/bin/env node
// argv and --help. The only place that branches on cluster.isPrimary: a forked worker re-enters
// this file and goes straight to the worker entry.
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

const HELP: Record<string, string> = {
  main: `stickyd: sticky-session HTTP ingress proxy for VMs, configured with Istio resources

Usage: stickyd <command> [options]

Commands:
  run      run the daemon in the foreground
  check    validate a configuration (like nginx -t)
  backend  run the seed's demo app (GET /ping)
  reload   validate, reload the running daemon and wait until every worker serves it
  demo     run the seed's topology on loopback: 5 backends and the proxy on 127.0.0.1:8080

Run 'stickyd <command> --help' for a command's options; 'stickyd --version' for the version.
`,
  run: `Usage: stickyd run -c <file-or-dir> [options]

Runs the proxy in the foreground: a primary that holds the config and supervises workers.

Options:
  -c, --config <path>       Istio YAML file, or a directory of *.yaml/*.yml (required)
      --listen <host:port>  listen here instead of the Gateway's port (config must have one port);
                            or PORT=host:port,... to place each Gateway port (e.g. 80=:8080,443=:8443)
      --credentials-dir <dir> where Gateway tls.credentialName secrets live: <dir>/<name>/tls.crt,
                            tls.key and ca.crt, like a Kubernetes TLS secret (default: none)
      --forward-client-cert send a mutual TLS client's verified certificate upstream in
                            X-Forwarded-Client-Cert, Envoy's format (default: off; a client's own
                            X-Forwarded-Client-Cert is always removed)
      --workers <n>         worker processes (default: CPU count, ${availableParallelism()} here)
      --admin <host:port>   admin listener (default 127.0.0.1:9901; 'off' disables it)
      --session-cache <n>   session cache entries per worker (default 100000; 0 disables)
      --drain-timeout <ms>  how long in-flight requests may take on stop (default 10000)
      --pid-file <path>     write the primary's pid here (for 'stickyd reload --pid-file')
      --access-log <on|off> one JSON line per request on stdout (default on)
      --access-log-sample <f>  log this fraction of requests, 0 < f <= 1 (default 1)
  -h, --help                this help

Client limits (per worker; defaults in parentheses):
      --max-header-count <n>     header lines per request, more is 431 (100)
      --max-header-bytes <n>     bytes of header fields, more is 431 (16384)
      --max-uri-length <n>       bytes of request target, more is 414 (8192)
      --headers-timeout <ms>     the request head must arrive within this, else 408 (10000)
      --request-timeout <ms>     the whole request must arrive within this, else 408 (300000)
      --keep-alive-timeout <ms>  idle client connections close after this (5000)
      --max-connections <n>      client connections per worker; more get 503 (10000)
      --trusted-proxies <list>   comma-separated IPs/CIDRs whose X-Forwarded-* are kept (none)
Upstream:
      --connect-timeout <ms>     upstream connect timeout, then 504 or a retry (5000)
      --stream-idle-timeout <ms> upstream silence before 504 or truncation (300000)
      --upstream-idle-timeout <ms> pooled idle upstream connections close after this (4000)
Active health checks (off unless --health-path is given):
      --health-path <path>       GET this path on every endpoint, e.g. /healthz
      --health-interval <ms>     between checks of one endpoint (2000)
      --health-timeout <ms>      a check without an answer by then fails (1000)
      --health-rise <n>          good checks that bring an endpoint back (2)
      --health-fall <n>          failed checks that take an endpoint out (3)

Signals: SIGHUP reloads the config; SIGUSR2 replaces the workers one at a time;
SIGTERM/SIGINT drain and exit.
`,
  reload: `Usage: stickyd reload -c <file-or-dir> [--pid <pid> | --pid-file <path>] [--admin <host:port>]

Validates the configuration, sends SIGHUP to the running primary and waits until the new
generation is live in every worker. Exits 1 with the reason when validation or the reload
fails (the running generation keeps serving). Meant for ExecReload= and for people.

Options:
  -c, --config <path>     the config the daemon runs with (required)
      --pid <pid>         the primary's pid (default: $MAINPID under systemd)
      --pid-file <path>   read the pid from this file
      --admin <host:port> the daemon's admin listener (default 127.0.0.1:9901)
      --timeout <ms>      how long to wait for the result (default 60000)
      --json              every output line a JSON log line (for the journal: the unit uses it)
  -h, --help              this help
`,
  check: `Usage: stickyd check -c <file-or-dir>

Validates the configuration the way 'run' would load it. Exit 0 when valid; exit 1 with every
error listed as file:line, document (Kind/name) and field path.

Options:
  -c, --config <path>   Istio YAML file or directory (required)
  -q, --quiet           print errors only (no warnings, no summary)
      --credentials-dir <dir>  where tls.credentialName secrets live (as for run)
      --json            every output line a JSON log line (for the journal: the unit uses it)
  -h, --help            this help

Certificates and keys are read and checked too: unreadable, a key that is not the certificate's,
expired (errors); expiring within 14 days, a host the certificate does not cover (warnings).
`,
  backend: `Usage: stickyd backend --port <p> --version <v> --metadata <m> [--instance <name>] [--host <h>]

The seed's demo app: GET /ping answers {"instance","version","metadata","request_id"}.
Also GET /healthz.

Options:
      --port <p>         port to listen on (0 picks a free one; default 8080)
      --host <h>         address to bind (default 127.0.0.1)
      --version <v>      version label to report (default v1)
      --metadata <m>     metadata to report (default production)
      --instance <name>  instance name to report (default demo-<version>-<host>-<port>)
  -h, --help             this help
`,
  demo: `Usage: stickyd demo [--workers <n>]

Starts the seed's topology on loopback: 3 backends of v1 'production' (ports 18081-18083),
1 of v2 'staging' (18084), 1 of v3 'dev' (18085), and the proxy on 127.0.0.1:8080 with
examples/demo (the seed's ingress-sticky.yaml plus endpoints.yaml). Ctrl-C stops all of it.

Options:
      --workers <n>   proxy workers (default: CPU count)
      --port <p>      proxy port (default 8080)
  -h, --help          this help
`,
};

// SIGHUP's default action kills the process, and systemd may send it to the whole cgroup at any
// time: the daemon's processes take it over before anything else. A reload asked for before the
// reloader exists is queued and run once it does; workers ignore it.
let onHup: (() => void) | null = null;
let hupPending = false;
if (cluster.isWorker || process.argv[2] === 'run' || process.argv[2] === 'demo') {
  process.on('SIGHUP', () => { if (onHup) onHup(); else hupPending = true; });
}
const hupSignals = { onHup(fn: () => void): void { onHup = fn; if (hupPending && !cluster.isWorker) { hupPending = false; fn(); } } };

if (cluster.isWorker) {
  const { runWorker } = await import('./worker/main.js');
  await runWorker();
} else {
  await main(process.argv.slice(2));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await runCommand(rest);
      case 'check': return await checkCommand(rest);
      case 'reload': return await reloadCommand(rest);
      case 'backend': return await backendCommand(rest);
      case 'demo': return await demoCommand(rest);
      case '-V': case '--version': return await versionCommand();
      case undefined: case '-h': case '--help': case 'help':
        process.stdout.write(HELP.main as string);
        return;
      default:
        usage(`unknown command '${command}'`, 'main');
    }
  } catch (err) {
    const { UsageError } = await import('./cli-args.js');
    if (err instanceof UsageError) usage(err.message, err.command);
    throw err;
  }
}

function usage(message: string, command: string): never {
  process.stderr.write(`stickyd: ${message}\n\n${HELP[command] ?? HELP.main}`);
  process.exit(2);
}

function parse(command: string, args: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
    if (values.help) { process.stdout.write(HELP[command] as string); process.exit(0); }
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    usage((err as Error).message, command);
  }
}

async function runCommand(args: string[]): Promise<void> {
  // Declared here, not at module level: the module's top-level await runs main() before later consts exist.
  /** `stickyd run` flags that set a numeric ProxySettings field (all whole numbers above 0). */
  const SETTING_FLAGS = {
    'max-header-count': 'maxHeaderCount', 'max-header-bytes': 'maxHeaderBytes', 'max-uri-length': 'maxUriLength',
    'headers-timeout': 'headersTimeoutMs', 'request-timeout': 'requestTimeoutMs', 'keep-alive-timeout': 'keepAliveTimeoutMs',
    'max-connections': 'maxConnectionsPerWorker', 'connect-timeout': 'upstreamConnectTimeoutMs',
    'stream-idle-timeout': 'upstreamStreamIdleTimeoutMs', 'upstream-idle-timeout': 'upstreamIdleTimeoutMs',
  } as const;
  const HEALTH_FLAGS = ['health-path', 'health-interval', 'health-timeout', 'health-rise', 'health-fall'] as const;
  const stringFlags = (names: readonly string[]): Record<string, { type: 'string' }> => Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));
  const v = parse('run', args, {
    config: { type: 'string', short: 'c' }, listen: { type: 'string' }, workers: { type: 'string' },
    admin: { type: 'string' }, 'session-cache': { type: 'string' }, 'drain-timeout': { type: 'string' },
    'pid-file': { type: 'string' }, 'trusted-proxies': { type: 'string' }, 'credentials-dir': { type: 'string' }, 'forward-client-cert': { type: 'boolean' },
    'access-log': { type: 'string' }, 'access-log-sample': { type: 'string' },
    ...stringFlags(Object.keys(SETTING_FLAGS)), ...stringFlags(HEALTH_FLAGS),
  });
  const { hostPort, listenOverride, positiveInt, required } = await import('./cli-args.js');
  const configPath = required(v.config, '--config', 'run');
  const adminArg = typeof v.admin === 'string' ? v.admin : '127.0.0.1:9901';
  const settings: Record<string, number | string[] | string | boolean> = {};
  if (v['forward-client-cert'] === true) settings.forwardClientCert = true;
  if (typeof v['credentials-dir'] === 'string') settings.credentialsDir = v['credentials-dir'];
  if (typeof v['session-cache'] === 'string') settings.sessionCacheSize = positiveInt(v['session-cache'], '--session-cache', 'run', true);
  if (typeof v['drain-timeout'] === 'string') settings.drainTimeoutMs = positiveInt(v['drain-timeout'], '--drain-timeout', 'run', true);
  for (const [flag, key] of Object.entries(SETTING_FLAGS)) {
    const value = v[flag];
    if (typeof value === 'string') settings[key] = positiveInt(value, `--${flag}`, 'run');
  }
  if (typeof v['trusted-proxies'] === 'string') settings.trustedProxies = v['trusted-proxies'].split(',').map((s) => s.trim()).filter(Boolean);
  const healthInt = (flag: (typeof HEALTH_FLAGS)[number]): number | undefined => {
    const value = v[flag];
    return typeof value === 'string' ? positiveInt(value, `--${flag}`, 'run') : undefined;
  };
  const healthPath = v['health-path'];
  if (typeof healthPath !== 'string' && HEALTH_FLAGS.some((f) => typeof v[f] === 'string')) usage('--health-interval/-timeout/-rise/-fall need --health-path', 'run');
  const healthCheck = typeof healthPath === 'string'
    ? { path: healthPath, intervalMs: healthInt('health-interval'), timeoutMs: healthInt('health-timeout'), rise: healthInt('health-rise'), fall: healthInt('health-fall') }
    : null;
  const { runPrimary, describeStartupError } = await import('./primary/main.js');
  const { log } = await import('./log.js');
  const options = {
    configPath,
    listen: typeof v.listen === 'string' ? listenOverride(v.listen, 'run') : null,
    workers: typeof v.workers === 'string' ? positiveInt(v.workers, '--workers', 'run') : availableParallelism(),
    admin: adminArg === 'off' ? null : hostPort(adminArg, '--admin', 'run'),
    settings,
    pidFile: typeof v['pid-file'] === 'string' ? v['pid-file'] : null,
    workerScript: fileURLToPath(import.meta.url),
    workerArgs: [],
    healthCheck,
    accessLog: accessLogOptions(v),
  };
  try {
    await runPrimary(options, hupSignals);
  } catch (err) {
    for (const line of describeStartupError(err)) log('error', 'startup failed', { error: line, code: (err as { code?: string }).code });
    process.exit(1);
  }
}

/** --access-log on|off and --access-log-sample <fraction>: fixed for the daemon's life, not reloaded. */
function accessLogOptions(v: Record<string, string | boolean | undefined>): { enabled: boolean; sample: number } {
  const mode = v['access-log'] ?? 'on';
  if (mode !== 'on' && mode !== 'off') usage(`--access-log wants on or off, got '${String(mode)}'`, 'run');
  const raw = v['access-log-sample'];
  const sample = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : typeof raw === 'string' ? NaN : 1;
  if (!(sample > 0 && sample <= 1)) usage(`--access-log-sample wants a fraction above 0 and at most 1, got '${String(raw)}'`, 'run');
  return { enabled: mode === 'on', sample };
}

async function checkCommand(args: string[]): Promise<void> {
  const v = parse('check', args, { config: { type: 'string', short: 'c' }, quiet: { type: 'boolean', short: 'q' }, 'credentials-dir': { type: 'string' }, json: { type: 'boolean' } });
  const { required } = await import('./cli-args.js');
  const { runCheck } = await import('./primary/check.js');
  const credentialsDir = typeof v['credentials-dir'] === 'string' ? v['credentials-dir'] : null;
  process.exitCode = await runCheck(required(v.config, '--config', 'check'), { quiet: v.quiet === true, json: v.json === true, credentialsDir });
}

async function reloadCommand(args: string[]): Promise<void> {
  const v = parse('reload', args, {
    config: { type: 'string', short: 'c' }, pid: { type: 'string' }, 'pid-file': { type: 'string' }, admin: { type: 'string' }, timeout: { type: 'string' },
    json: { type: 'boolean' },
  });
  const { required, positiveInt, hostPort } = await import('./cli-args.js');
  const { runReload } = await import('./primary/reload-client.js');
  process.exitCode = await runReload({
    configPath: required(v.config, '--config', 'reload'),
    pid: typeof v.pid === 'string' ? positiveInt(v.pid, '--pid', 'reload') : null,
    pidFile: typeof v['pid-file'] === 'string' ? v['pid-file'] : null,
    admin: hostPort(typeof v.admin === 'string' ? v.admin : '127.0.0.1:9901', '--admin', 'reload'),
    timeoutMs: typeof v.timeout === 'string' ? positiveInt(v.timeout, '--timeout', 'reload') : 60_000,
    json: v.json === true,
  });
}

/** `stickyd --version`: the package's version (package.json beside dist/) and the Node running it. */
async function versionCommand(): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`stickyd ${pkg.version} (Node.js ${process.version})\n`);
}

async function backendCommand(args: string[]): Promise<void> {
  const v = parse('backend', args, {
    port: { type: 'string' }, host: { type: 'string' }, version: { type: 'string' }, metadata: { type: 'string' }, instance: { type: 'string' },
  });
  const { portNumber } = await import('./cli-args.js');
  const { startBackend } = await import('./demo/backend.js');
  const { log } = await import('./log.js');
  const { startupFailed } = await import('./demo/demo.js');
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

async function demoCommand(args: string[]): Promise<void> {
  const v = parse('demo', args, { workers: { type: 'string' }, port: { type: 'string' } });
  const { positiveInt, portNumber } = await import('./cli-args.js');
  const { runDemo } = await import('./demo/demo.js');
  await runDemo({
    workers: typeof v.workers === 'string' ? positiveInt(v.workers, '--workers', 'demo') : availableParallelism(),
    port: typeof v.port === 'string' ? portNumber(v.port, '--port', 'demo') : 8080,
    cliPath: fileURLToPath(import.meta.url),
    signals: hupSignals,
  });
}
