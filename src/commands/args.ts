// What every command shares: parsing its flags (with -h/--help), the value parsers, and the
// UsageError a bad value throws (cli.ts prints it above the command's help and exits 2).
import { isIP } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What cli.ts hands a command. */
export interface CommandEnv {
  /** this CLI's own file: forked workers re-enter it (cluster), the demo spawns its backends with it */
  readonly cliPath: string;
  /** SIGHUP, taken over by cli.ts before anything else loads */
  readonly signals: { onHup(fn: () => void): void };
}

/** A command module: its --help text and its entry. */
export interface Command {
  readonly HELP: string;
  run(args: string[], env: CommandEnv): Promise<void>;
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** strict flags, no positionals; -h/--help prints `help` and exits 0; anything else wrong is a UsageError */
export function parseFlags(command: string, help: string, args: string[], options: NonNullable<ParseArgsConfig['options']>): FlagValues {
  let values: FlagValues;
  try {
    values = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as FlagValues;
  } catch (err) {
    throw new UsageError((err as Error).message, command);
  }
  if (values.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  return values;
}
export class UsageError extends Error {
  constructor(message: string, readonly command: string) { super(message); }
}

export function required(value: string | boolean | undefined, flag: string, command: string): string {
  if (typeof value !== 'string' || value === '') throw new UsageError(`${flag} is required`, command);
  return value;
}

export function positiveInt(value: string, flag: string, command: string, allowZero = false): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || (!allowZero && n === 0)) {
    throw new UsageError(`${flag} wants a whole number${allowZero ? '' : ' above 0'}, got '${value}'`, command);
  }
  return n;
}

export function portNumber(value: string, flag: string, command: string): number {
  const n = positiveInt(value, flag, command, true);
  if (n > 65535) throw new UsageError(`${flag} wants a port from 0 to 65535, got '${value}'`, command);
  return n;
}

/** "127.0.0.1:8080", "[::1]:8080", ":8080" (all interfaces) */
export function hostPort(value: string, flag: string, command: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`${flag} wants host:port (e.g. 127.0.0.1:8080 or [::1]:8080), got '${value}'`, command);
  const host = m[1] ?? (m[2] || '0.0.0.0');
  return { host, port: portNumber(m[3] as string, flag, command) };
}

/** --dns-server host:port (node:dns setServers' form; an IPv6 server as [addr]:port) */
export function parseDnsServer(value: string, command: string): string {
  const hp = hostPort(value, '--dns-server', command);
  if (isIP(hp.host) === 0) throw new UsageError(`--dns-server wants an IP address and port, got '${value}'`, command);
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** --listen: "host:port", or "GATEWAYPORT=host:port,..." to place each Gateway port */
export function listenOverride(value: string, command: string): { host: string; port: number } | Map<number, { host: string; port: number }> {
  if (!value.includes('=')) return hostPort(value, '--listen', command);
  const out = new Map<number, { host: string; port: number }>();
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) throw new UsageError(`--listen wants GATEWAYPORT=host:port entries separated by commas, got '${part}'`, command);
    const gw = portNumber(part.slice(0, eq), '--listen', command);
    if (out.has(gw)) throw new UsageError(`--listen names Gateway port ${gw} twice`, command);
    out.set(gw, hostPort(part.slice(eq + 1), '--listen', command));
  }
  return out;
}
