// A throwaway Debian VM for the systemd suite: a minbase bookworm rootfs (debootstrap, cached
// outside the repository), booted with systemd-nspawn as PID 1 on a private network, with the
// host's node and npm bound in read-only (the VM "has Node.js"). The rootfs stays pristine:
// --volatile=overlay puts every write of a run on a tmpfs. Everything started here is found
// and removed by pid and by path in destroy(), whatever happened before.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const CACHE_DIR = process.env.STICKYD_SYSTEMD_CACHE ?? '/var/cache/stickyd-systemd-test';
const SUITE = 'bookworm';
const INCLUDE = 'systemd,systemd-sysv';
/** what the cached rootfs was built from: a different recipe rebuilds it */
const RECIPE = `debootstrap --variant=minbase --include=${INCLUDE} ${SUITE}`;
const PATH_INSIDE = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const BOOT_TIMEOUT_MS = 60_000;

export interface Result { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 1 ? String(err.message) : '') });
    });
  });
}

/** Why this machine cannot boot a container at all, or null when it can. */
export async function cannotRun(): Promise<string | null> {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'systemd-nspawn needs root';
  for (const tool of ['systemd-nspawn', 'nsenter', 'unshare']) {
    if ((await run('sh', ['-c', `command -v ${tool}`])).code !== 0) return `${tool} is not installed (Debian: systemd-container, util-linux)`;
  }
  if (!rootfsCached() && (await run('sh', ['-c', 'command -v debootstrap'])).code !== 0) return 'debootstrap is not installed and no rootfs is cached';
  const caps = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  if ((BigInt(`0x${caps}`) & (1n << 21n)) === 0n) return 'no CAP_SYS_ADMIN (an unprivileged container?)';
  return null;
}

const rootfs = join(CACHE_DIR, SUITE);
const recipeFile = join(CACHE_DIR, `${SUITE}.recipe`);

function rootfsCached(): boolean {
  return existsSync(join(rootfs, 'sbin', 'init')) && existsSync(recipeFile) && readFileSync(recipeFile, 'utf8').trim() === RECIPE;
}

/** The Debian mirror this machine's apt uses (sources.list or deb822 .sources). */
export function configuredMirror(): string {
  const files = ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((f) => join('/etc/apt/sources.list.d', f)) : [])];
  for (const f of files.filter((x) => /\.(list|sources)$/.test(x) && existsSync(x))) {
    const text = readFileSync(f, 'utf8');
    for (const block of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
      if (uri && /^Suites:.*\bbookworm\b/m.test(block) && /^Types:.*\bdeb\b/m.test(block) && !/security/.test(uri)) return uri;
    }
    for (const line of text.split('\n')) {
      const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
      if (m?.[1] && !/security/.test(m[1])) return m[1];
    }
  }
  return 'http://deb.debian.org/debian';
}

/** The cached rootfs, built once (about a minute) when absent or built from another recipe. */
export async function ensureRootfs(say: (s: string) => void): Promise<string> {
  if (rootfsCached()) { say(`rootfs: cached at ${rootfs}`); return rootfs; }
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${rootfs}.tmp-${process.pid}`;
  const mirror = configuredMirror();
  say(`rootfs: ${RECIPE} from ${mirror} into ${CACHE_DIR} (once; reused by later runs)`);
  const started = Date.now();
  const r = await run('debootstrap', ['--variant=minbase', `--include=${INCLUDE}`, SUITE, tmp, mirror], 600_000);
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`debootstrap failed (${r.code}): ${(r.stderr || r.stdout).slice(-2000)}`);
  }
  rmSync(rootfs, { recursive: true, force: true });
  renameSync(tmp, rootfs);
  writeFileSync(recipeFile, `${RECIPE}\n`);
  say(`rootfs: built in ${Math.round((Date.now() - started) / 1000)} s`);
  return rootfs;
}

export class Container {
  readonly name = `stickyd-systemd-test-${process.pid}`;
  #nspawn: ChildProcess | null = null;
  #pid1 = 0;
  #cgroups: string[] = [];
  #log = '';

  /** Boots systemd in `root` with `release` bound at /mnt/release; resolves once it is running. */
  async boot(root: string, release: string): Promise<void> {
    // nspawn --keep-unit makes payload/ and supervisor/ under the cgroup it starts in: give it its
    // own, in every hierarchy that has a systemd tree (hybrid: unified + name=systemd; v2: one).
    const bases = existsSync('/sys/fs/cgroup/unified') ? ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'] : ['/sys/fs/cgroup'];
    this.#cgroups = bases.map((b) => join(b, this.name));
    for (const cg of this.#cgroups) mkdirSync(cg, { recursive: true });
    mkdirSync('/run/systemd/nspawn', { recursive: true });
    const npmDir = dirname(dirname((await run('sh', ['-c', 'readlink -f "$(command -v npm)"'])).stdout.trim()));
    const nspawn = ['systemd-nspawn', '-b', '-D', root, '-M', 'vm', '--register=no', '--keep-unit', '--private-network',
      '--volatile=overlay', '--console=passive', `--bind-ro=${process.execPath}:/usr/local/bin/node`,
      `--bind-ro=${npmDir}:/usr/local/lib/node_modules/npm`, `--bind-ro=${release}:/mnt/release`].map(shq).join(' ');
    // /run is on disk here and nspawn cannot clean its propagation directory there: a private
    // mount namespace with a tmpfs over /run/systemd/nspawn, gone when nspawn exits.
    const script = `${this.#cgroups.map((cg) => `echo $$ > ${shq(cg)}/cgroup.procs`).join(' && ')} && exec unshare --mount --propagation private sh -c ${shq(`mount -t tmpfs tmpfs /run/systemd/nspawn && exec ${nspawn}`)}`;
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#nspawn = child;
    child.stdout?.on('data', (d: Buffer) => { this.#log += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { this.#log += d.toString(); });
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    while (Date.now() < deadline && this.#pid1 === 0) {
      if (child.exitCode !== null) throw new Error(`systemd-nspawn exited ${child.exitCode}: ${this.#log.slice(-2000)}`);
      this.#pid1 = findPid1(child.pid ?? 0);
      if (this.#pid1 === 0) await sleep(100);
    }
    if (this.#pid1 === 0) throw new Error(`no systemd in the container after ${BOOT_TIMEOUT_MS} ms: ${this.#log.slice(-2000)}`);
    // PID 1 exists before its private socket does: ask again until it answers
    let up: Result = { code: 1, stdout: '', stderr: '' };
    while (Date.now() < deadline) {
      up = await this.sh('systemctl is-system-running --wait', 60_000);
      if (/running|degraded/.test(up.stdout)) return;
      await sleep(200);
    }
    throw new Error(`the container's systemd did not come up: ${up.stdout}${up.stderr}`);
  }

  get pid1(): number { return this.#pid1; }
  get log(): string { return this.#log; }

  /** A shell command inside the container, as root with a clean environment. */
  sh(command: string, timeoutMs = 60_000): Promise<Result> {
    return run('nsenter', ['-t', String(this.#pid1), '-a', '--', 'env', '-i', `PATH=${PATH_INSIDE}`, 'HOME=/root', 'LANG=C.UTF-8', 'sh', '-c', command], timeoutMs);
  }

  /** A host binary (curl) in the container's network namespace only: its loopback, nothing else. */
  inNetns(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<Result> {
    return run('nsenter', ['-t', String(this.#pid1), '-n', '--', cmd, ...args], timeoutMs);
  }

  /** Stops the container (SIGTERM to nspawn halts it; SIGKILL after 15 s) and removes its cgroups. */
  async destroy(): Promise<void> {
    const child = this.#nspawn;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      killTree(child.pid ?? 0, 'SIGTERM');
      const timer = setTimeout(() => this.#killAll(), 15_000);
      await exited;
      clearTimeout(timer);
    }
    this.#killAll();
    for (const cg of this.#cgroups) removeCgroup(cg);
    this.#cgroups = [];
  }

  /** SIGKILL whatever is still in our cgroups (by pid), so they can be removed. */
  #killAll(): void {
    for (const cg of this.#cgroups) for (const pid of cgroupPids(cg)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }

  /** Synchronous last resort for process exit / signals: kill by pid, remove the cgroups. */
  destroySync(): void {
    if (this.#nspawn?.pid) { try { process.kill(this.#nspawn.pid, 'SIGKILL'); } catch { /* gone */ } }
    this.#killAll();
    const end = Date.now() + 3_000;
    for (const cg of this.#cgroups) {
      while (cgroupPids(cg).length > 0 && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      removeCgroup(cg);
    }
  }
}

function findPid1(root: number): number {
  // the container's init is a descendant of the nspawn process named systemd
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of childrenOf(pid)) {
      if (readText(`/proc/${child}/comm`).trim() === 'systemd') return child;
      queue.push(child);
    }
  }
  return 0;
}

function childrenOf(pid: number): number[] {
  const tasks = existsSync(`/proc/${pid}/task`) ? readdirSync(`/proc/${pid}/task`) : [];
  return tasks.flatMap((t) => readText(`/proc/${pid}/task/${t}/children`).trim().split(/\s+/).filter(Boolean).map(Number));
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  // sh exec'd unshare, which exec'd sh, which exec'd nspawn: the pid is nspawn's by now
  try { process.kill(pid, signal); } catch { /* gone */ }
}

function cgroupPids(cg: string): number[] {
  if (!existsSync(cg)) return [];
  const pids: number[] = [];
  const walk = (dir: string): void => {
    pids.push(...readText(join(dir, 'cgroup.procs')).trim().split('\n').filter(Boolean).map(Number));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(cg);
  return pids;
}

function removeCgroup(cg: string): void {
  if (!existsSync(cg)) return;
  for (const e of readdirSync(cg, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(cg, e.name));
  try { rmdirSync(cg); } catch { /* still busy: reported by the caller's check */ }
}

function readText(path: string): string {
  try { return readFileSync(path, 'utf8'); } catch { return ''; }
}

export function shq(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** true when any of `paths` (cgroup dirs) still exists: what the suite reports after cleanup */
export function leftovers(name: string): string[] {
  const bases = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd', '/sys/fs/cgroup'];
  return bases.map((b) => join(b, name)).filter((p) => existsSync(p));
}
