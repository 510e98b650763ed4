// A listening socket that could not be opened at startup, and the one line a user reads about it:
// the cause, the address, and what to do. The errno crosses IPC as a code (protocol.ts
// ListenFailedMsg); the sentence is made here, in the primary, which knows which flag moves what.
import { StickydError } from '../errors.js';

export type ListenRole = 'proxy' | 'admin';

export class ListenError extends StickydError {
  readonly errno: string;
  readonly host: string;
  readonly port: number;
  readonly role: ListenRole;
  readonly detail: string;

  constructor(role: ListenRole, errno: string, host: string, port: number, detail: string) {
    super('STICKYD_ERR_LISTEN', `cannot listen on ${formatAddress(host, port)} (${role}): ${errno}: ${detail}`);
    this.role = role;
    this.detail = detail;
    this.errno = errno;
    this.host = host;
    this.port = port;
  }
}

/** How the command that failed moves each listener ('use --listen'); '' when it cannot. */
export interface ListenFlags { readonly proxy: string; readonly admin: string }

export const RUN_FLAGS: ListenFlags = { proxy: 'use --listen', admin: 'use --admin (or --admin off)' };

/** The first port a user without CAP_NET_BIND_SERVICE may bind (net.ipv4.ip_unprivileged_port_start's default). */
const FIRST_UNPRIVILEGED_PORT = 1024;

export function describeListenError(e: ListenError, flags: ListenFlags = RUN_FLAGS): string {
  const what = e.role === 'admin' ? `admin port ${e.port}` : `port ${e.port}`;
  const at = formatAddress(e.host, e.port);
  const remedy = e.role === 'admin' ? flags.admin : flags.proxy;
  const or = remedy ? `, or ${remedy}` : '';
  switch (e.errno) {
    case 'EADDRINUSE':
      return `${what} is in use by another process (${at}): stop it${remedy ? ` or ${remedy}` : ''}`;
    case 'EACCES':
      return e.port < FIRST_UNPRIVILEGED_PORT
        ? `binding ${what} (${at}) needs root or CAP_NET_BIND_SERVICE: see the systemd unit${or}`
        : `binding ${what} (${at}) was refused (EACCES): check the security policy (SELinux, AppArmor, a seccomp filter)${or}`;
    case 'EADDRNOTAVAIL':
      return `${e.host} is not an address of this machine (${at})${remedy ? `: ${remedy} with one of its addresses` : ''}`;
    default:
      return `cannot listen on ${at} (${what}): ${e.errno}: ${e.detail}`;
  }
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
