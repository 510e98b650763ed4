// Argument value parsers for the CLI; a bad value is a UsageError naming the flag.
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
