// npm run test:systemd: stickyd under a real systemd, the way a VM runs it. Builds the release
// tarball (npm pack), boots a minimal Debian with systemd-nspawn (container.ts), runs the README's
// "Installing on a VM" lines exactly, then checks readiness, STATUS=, reloads, SIGHUP to the whole
// cgroup, journal priorities, the security score, the watchdog and a draining stop. Exits 1 when
// a check fails; skips (exit 0, saying why) only where nspawn cannot run at all.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Container, cannotRun, ensureRootfs, leftovers, run } from './container.js';
import { checkService } from './checks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const started = Date.now();
const say = (s: string): void => { process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${s}\n`); };

const skip = await cannotRun();
if (skip !== null) {
  say(`SKIPPED: stickyd's systemd suite cannot run here: ${skip}`);
  process.exit(0);
}

const release = mkdtempSync(join(tmpdir(), 'stickyd-release-'));
const vm = new Container();
let cleaned = false;
const cleanupSync = (): void => {
  if (cleaned) return;
  cleaned = true;
  vm.destroySync();
  rmSync(release, { recursive: true, force: true });
};
process.on('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { say(`${sig}: cleaning up`); cleanupSync(); process.exit(130); });

let failed = 0;
try {
  const rootfs = await ensureRootfs(say);
  say('npm pack (the release tarball)');
  process.chdir(REPO);
  const pack = await run('npm', ['pack', '--silent', '--pack-destination', release], 300_000);
  const tarball = pack.stdout.trim().split('\n').at(-1) ?? '';
  if (pack.code !== 0 || !/^stickyd-.*\.tgz$/.test(tarball)) throw new Error(`npm pack failed: ${pack.stderr.slice(-2000)}`);
  say(`release: ${tarball}`);
  await vm.boot(rootfs, release);
  say(`container up: systemd is PID 1 (host pid ${vm.pid1})`);
  // The VM "has Node.js": node and npm are the host's, bound read-only; npm needs its bin link.
  await vm.sh('ln -sf ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && systemd-analyze log-level debug');
  failed = await checkService(vm, { tarball, readme: readFileSync(join(REPO, 'README.md'), 'utf8'), say });
} catch (err) {
  failed++;
  say(`✘ the suite could not run: ${(err as Error).stack ?? String(err)}`);
  if (vm.log) say(`nspawn said:\n${vm.log.slice(-3000)}`);
} finally {
  await vm.destroy();
  rmSync(release, { recursive: true, force: true });
  cleaned = true;
  const left = leftovers(vm.name);
  if (left.length > 0) { failed++; say(`✘ cleanup left ${left.join(', ')}`); } else say('cleanup: container stopped, cgroups removed');
}
say(failed === 0 ? 'systemd suite: every check passed' : `systemd suite: ${failed} check(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;
