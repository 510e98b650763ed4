// Where the workers listen: one socket per Gateway port of the snapshot, or the single --listen
// address standing in for the only one. Read at boot (main.ts), by every reload (reloader.ts, which
// refuses a config whose ports changed) and by `stickyd check`; a leaf so none of them imports another.
import { StickydError } from '../errors.js';
import type { ListenSpec } from '../protocol.js';
import type { Snapshot } from '../snapshot/types.js';

export interface HostPort { readonly host: string; readonly port: number }
/** --listen: one address for a config with one Gateway port, or an address per Gateway port */
export type ListenOverride = HostPort | ReadonlyMap<number, HostPort>;

/** Listening address for Gateway ports when --listen is not given: every interface, like an ingress. */
const DEFAULT_LISTEN_HOST = '0.0.0.0';

/** One socket per Gateway port, or the --listen override (one address for a one-port config, or one per port). */
export function listenSpecs(snapshot: Snapshot, override: ListenOverride | null): ListenSpec[] {
  const ports = snapshot.listeners.map((l) => l.port);
  if (ports.length === 0) throw new StickydError('STICKYD_ERR_CONFIG_INVALID', `${snapshot.configPath}: no Gateway with an HTTP server is bound by a VirtualService; nothing to listen on`);
  const tlsOf = (l: Snapshot['listeners'][number]): ListenSpec['tls'] =>
    l.protocol === 'HTTP' ? 'off' : l.servers.some((s) => s.tls !== null && s.tls.mode !== 'SIMPLE') ? 'mutual' : 'on';
  if (override instanceof Map) {
    for (const p of override.keys()) if (!ports.includes(p)) throw new StickydError('STICKYD_ERR_USAGE', `--listen names Gateway port ${p}, but the config has ${ports.join(', ')}`);
    return snapshot.listeners.map((l) => {
      const at = override.get(l.port) ?? { host: DEFAULT_LISTEN_HOST, port: l.port };
      return { host: at.host, port: at.port, gatewayPort: l.port, tls: tlsOf(l) };
    });
  }
  if (override) {
    if (ports.length > 1) throw new StickydError('STICKYD_ERR_USAGE', `--listen host:port replaces one Gateway port, but the config has ${ports.length} (${ports.join(', ')}): use --listen ${ports.map((p) => `${p}=host:port`).join(',')}`);
    const only = override as HostPort;
    return [{ host: only.host, port: only.port, gatewayPort: ports[0] as number, tls: tlsOf(snapshot.listeners[0]!) }];
  }
  return snapshot.listeners.map((l) => ({ host: DEFAULT_LISTEN_HOST, port: l.port, gatewayPort: l.port, tls: tlsOf(l) }));
}
