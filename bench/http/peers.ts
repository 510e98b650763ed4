// nginx and HAProxy for the side-by-side runs: find them, install them from Debian's packages when
// missing (apt-get, as root), render their config templates (bench/peers/*.tmpl) and start each
// with its own config file, never the system service.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessGroup, Started } from './procs.js';

export const PEERS_DIR = fileURLToPath(new URL('../peers/', import.meta.url));

/** Debian package that provides each binary. */
const PACKAGES = { nginx: 'nginx', haproxy: 'haproxy', wrk: 'wrk' } as const;
export type PeerBinary = keyof typeof PACKAGES;

/** Absolute path of `name` (PATH plus /usr/sbin, where Debian puts nginx and haproxy), or null. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (d !== '' && existsSync(join(d, name))) return join(d, name);
  }
  return null;
}

/**
 * Paths of nginx, haproxy and wrk; installs the missing ones with apt-get when allowed, printing
 * what it does. Whatever stays missing maps to null, and the caller skips those peers.
 */
export function ensureBinaries(install: boolean, say: (line: string) => void): Record<PeerBinary, string | null> {
  const names = Object.keys(PACKAGES) as PeerBinary[];
  const missing = names.filter((n) => findBinary(n) === null);
  if (missing.length > 0) {
    const pkgs = missing.map((n) => PACKAGES[n]);
    const why = whyNoInstall(install);
    if (why !== null) {
      say(`missing: ${missing.join(', ')}; not installing (${why}). Install them with: apt-get install -y ${pkgs.join(' ')}`);
    } else {
      say(`missing: ${missing.join(', ')}; running: apt-get install -y --no-install-recommends ${pkgs.join(' ')}`);
      if (!existsSync('/usr/sbin/policy-rc.d')) say('note: no /usr/sbin/policy-rc.d here, so the packages may start their system services; the benchmark never uses them');
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: 180_000 });
      const inst = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env, timeout: 600_000 }) : update;
      if (inst.status !== 0) say(`apt-get failed (exit ${inst.status ?? inst.signal ?? inst.error?.message}); the peers that need ${missing.join(', ')} are skipped`);
    }
  }
  return { nginx: findBinary('nginx'), haproxy: findBinary('haproxy'), wrk: findBinary('wrk') };
}

function whyNoInstall(install: boolean): string | null {
  if (!install) return '--no-install';
  if (process.getuid?.() !== 0) return 'not root';
  if (findBinary('apt-get') === null) return 'no apt-get on this system';
  return null;
}

/** One line of version text, for RESULTS.md. */
export function versionOf(bin: string | null, args: string[]): string | null {
  if (bin === null) return null;
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 5_000 });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return text === '' ? null : text;
}

export interface Placeholders {
  readonly run: string;
  readonly port?: number;
  readonly backends: readonly number[];
  /** overrides the template's worker_processes / nbthread (the proxy templates say 2) */
  readonly workers?: number;
}

/** Renders bench/peers/<template> into `<run>/<name>` and returns the path. */
export async function renderTemplate(template: string, name: string, p: Placeholders): Promise<string> {
  let text = await readFile(join(PEERS_DIR, template), 'utf8');
  text = text.replaceAll('@RUN@', p.run).replaceAll('@PORT@', String(p.port ?? 0));
  p.backends.forEach((port, i) => { text = text.replaceAll(`@B${i + 1}@`, String(port)); });
  if (p.workers !== undefined) text = text.replace(/worker_processes \d+;/, `worker_processes ${p.workers};`).replace(/nbthread \d+/, `nbthread ${p.workers}`);
  const leftover = /@[A-Z0-9]+@/.exec(text);
  if (leftover) throw new Error(`${template}: placeholder ${leftover[0]} has no value`);
  const out = join(p.run, name);
  await writeFile(out, text);
  return out;
}

/** The directories the nginx templates write to (logs/, tmp/). */
export async function prepareRunDir(run: string): Promise<void> {
  await mkdir(join(run, 'logs'), { recursive: true });
  await mkdir(join(run, 'tmp'), { recursive: true });
}

/** nginx in the foreground with `conf` (its template says `daemon off`); -e keeps it off /var/log. */
export function startNginx(group: ProcessGroup, bin: string, label: string, conf: string, run: string, role: 'proxy' | 'rest' = 'rest'): Started {
  checkConfig(bin, ['-t', '-q', '-e', join(run, 'logs', `${label}-startup.log`), '-c', conf], label);
  return group.spawn(label, bin, ['-e', join(run, 'logs', `${label}-startup.log`), '-c', conf], { logFile: join(run, 'logs', `${label}.out`), role });
}

/** HAProxy in the foreground (-db) with `conf`. */
export function startHaproxy(group: ProcessGroup, bin: string, label: string, conf: string, run: string): Started {
  checkConfig(bin, ['-c', '-q', '-f', conf], label);
  return group.spawn(label, bin, ['-db', '-f', conf], { logFile: join(run, 'logs', `${label}.out`), role: 'proxy' });
}

function checkConfig(bin: string, args: string[], label: string): void {
  try {
    execFileSync(bin, args, { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer };
    throw new Error(`${label}: config check failed: ${(e.stderr ?? e.stdout ?? '').toString().trim()}`);
  }
}
