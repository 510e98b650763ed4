// `stickyd run`: the daemon in the foreground. Turns flags into RunOptions for primary/main.ts.
import { availableParallelism } from 'node:os';
import { log } from '../log.js';
import { describeStartupError, runPrimary } from '../primary/main.js';
import { hostPort, listenOverride, parseDnsServer, parseFlags, positiveInt, required, UsageError, type CommandEnv, type FlagValues } from './args.js';

export const HELP = `Usage: stickyd run -c <file-or-dir> [options]

Runs the proxy in the foreground: a primary that holds the config and supervises workers.

Options:
  -c, --config <path>       Istio YAML file, or a directory of *.yaml/*.yml (required)
      --listen <host:port>  listen here instead of the Gateway's port (config must have one port);
                            or PORT=host:port,... to place each Gateway port (e.g. 80=:8080,443=:8443)
      --credentials-dir <dir> where Gateway tls.credentialName secrets live: <dir>/<name>/tls.crt,
                            tls.key and ca.crt, like a Kubernetes TLS secret (default: none)
      --session-key-file <file> persistent-session keys, one per line, the first signs (default:
                            $CREDENTIALS_DIRECTORY/session-keys under systemd LoadCredential=,
                            else /etc/stickyd/private/session-keys); read only when a ServiceEntry
                            has istio.io/persistent-session, re-read on reload; make one with
                            'stickyd keygen -o FILE'
      --forward-client-cert send a mutual TLS client's verified certificate upstream in
                            X-Forwarded-Client-Cert, Envoy's format (default: off; a client's own
                            X-Forwarded-Client-Cert is always removed)
      --workers <n>         worker processes (default: CPU count, ${availableParallelism()} here)
      --admin <host:port>   admin listener (default 127.0.0.1:9901; 'off' disables it)
      --session-cache <n>   plain hash mode's session cache entries per worker (default 0: off)
      --pin-cache <n>       verified-pin cache entries per worker, persistent sessions (default
                            100000; 0 verifies every pin's MAC)
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
      --dns-server <host:port>   resolve ServiceEntry host names (resolution DNS) with this DNS
                                 server only (default: the system's resolvers, and /etc/hosts)
Active health checks (off unless --health-path is given):
      --health-path <path>       GET this path on every endpoint, e.g. /healthz
      --health-interval <ms>     between checks of one endpoint (2000)
      --health-timeout <ms>      a check without an answer by then fails (1000)
      --health-rise <n>          good checks that bring an endpoint back (2)
      --health-fall <n>          failed checks that take an endpoint out (3)

Signals: SIGHUP reloads the config; SIGUSR2 replaces the workers one at a time;
SIGTERM/SIGINT drain and exit.
`;

/** `stickyd run` flags that set a numeric ProxySettings field (all whole numbers above 0). */
const SETTING_FLAGS = {
  'max-header-count': 'maxHeaderCount', 'max-header-bytes': 'maxHeaderBytes', 'max-uri-length': 'maxUriLength',
  'headers-timeout': 'headersTimeoutMs', 'request-timeout': 'requestTimeoutMs', 'keep-alive-timeout': 'keepAliveTimeoutMs',
  'max-connections': 'maxConnectionsPerWorker', 'connect-timeout': 'upstreamConnectTimeoutMs',
  'stream-idle-timeout': 'upstreamStreamIdleTimeoutMs', 'upstream-idle-timeout': 'upstreamIdleTimeoutMs',
} as const;
const HEALTH_FLAGS = ['health-path', 'health-interval', 'health-timeout', 'health-rise', 'health-fall'] as const;
const stringFlags = (names: readonly string[]): Record<string, { type: 'string' }> => Object.fromEntries(names.map((n) => [n, { type: 'string' as const }]));

export async function run(args: string[], env: CommandEnv): Promise<void> {
  const v = parseFlags('run', HELP, args, {
    config: { type: 'string', short: 'c' }, listen: { type: 'string' }, workers: { type: 'string' },
    admin: { type: 'string' }, 'session-cache': { type: 'string' }, 'pin-cache': { type: 'string' }, 'drain-timeout': { type: 'string' },
    'pid-file': { type: 'string' }, 'trusted-proxies': { type: 'string' }, 'credentials-dir': { type: 'string' }, 'session-key-file': { type: 'string' }, 'forward-client-cert': { type: 'boolean' },
    'access-log': { type: 'string' }, 'access-log-sample': { type: 'string' }, 'dns-server': { type: 'string' },
    ...stringFlags(Object.keys(SETTING_FLAGS)), ...stringFlags(HEALTH_FLAGS),
  });
  const configPath = required(v.config, '--config', 'run');
  const adminArg = typeof v.admin === 'string' ? v.admin : '127.0.0.1:9901';
  const settings: Record<string, number | string[] | string | boolean> = {};
  if (v['forward-client-cert'] === true) settings.forwardClientCert = true;
  if (typeof v['credentials-dir'] === 'string') settings.credentialsDir = v['credentials-dir'];
  if (typeof v['session-cache'] === 'string') settings.sessionCacheSize = positiveInt(v['session-cache'], '--session-cache', 'run', true);
  if (typeof v['pin-cache'] === 'string') settings.pinCacheSize = positiveInt(v['pin-cache'], '--pin-cache', 'run', true);
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
  if (typeof healthPath !== 'string' && HEALTH_FLAGS.some((f) => typeof v[f] === 'string')) throw new UsageError('--health-interval/-timeout/-rise/-fall need --health-path', 'run');
  const healthCheck = typeof healthPath === 'string'
    ? { path: healthPath, intervalMs: healthInt('health-interval'), timeoutMs: healthInt('health-timeout'), rise: healthInt('health-rise'), fall: healthInt('health-fall') }
    : null;
  const options = {
    configPath,
    listen: typeof v.listen === 'string' ? listenOverride(v.listen, 'run') : null,
    workers: typeof v.workers === 'string' ? positiveInt(v.workers, '--workers', 'run') : availableParallelism(),
    admin: adminArg === 'off' ? null : hostPort(adminArg, '--admin', 'run'),
    settings,
    sessionKeyFile: typeof v['session-key-file'] === 'string' ? v['session-key-file'] : null,
    pidFile: typeof v['pid-file'] === 'string' ? v['pid-file'] : null,
    workerScript: env.cliPath,
    workerArgs: [],
    healthCheck,
    accessLog: accessLogOptions(v),
    dnsServer: typeof v['dns-server'] === 'string' ? parseDnsServer(v['dns-server'], 'run') : null,
  };
  try {
    await runPrimary(options, env.signals);
  } catch (err) {
    for (const line of describeStartupError(err)) log('error', 'startup failed', { error: line, code: (err as { code?: string }).code });
    process.exit(1);
  }
}

/** --access-log on|off and --access-log-sample <fraction>: fixed for the daemon's life, not reloaded. */
function accessLogOptions(v: FlagValues): { enabled: boolean; sample: number } {
  const mode = v['access-log'] ?? 'on';
  if (mode !== 'on' && mode !== 'off') throw new UsageError(`--access-log wants on or off, got '${String(mode)}'`, 'run');
  const raw = v['access-log-sample'];
  const sample = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : typeof raw === 'string' ? NaN : 1;
  if (!(sample > 0 && sample <= 1)) throw new UsageError(`--access-log-sample wants a fraction above 0 and at most 1, got '${String(raw)}'`, 'run');
  return { enabled: mode === 'on', sample };
}
