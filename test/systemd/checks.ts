// The checks of the systemd suite, in the order a VM lives them: install as the README says,
// start, serve, reload (good and broken), SIGHUP to the whole cgroup ten times, read the journal,
// score the sandbox, stall the primary (watchdog), stop with a request in flight.
import type { Container, Result } from './container.js';
import { shq, sleep } from './container.js';

interface Ctx { readonly tarball: string; readonly readme: string; say(s: string): void }

/** The seed's backends, run inside the VM as transient units on the ports examples/demo names. */
const BACKENDS = [
  { port: 18081, version: 'v1', metadata: 'production' }, { port: 18082, version: 'v1', metadata: 'production' },
  { port: 18083, version: 'v1', metadata: 'production' }, { port: 18084, version: 'v2', metadata: 'staging' },
  { port: 18085, version: 'v3', metadata: 'dev' },
];
const CONFIG = '/etc/stickyd/ingress-sticky.yaml';
const BROKEN = 'apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata:\n  name: demo-vs\nspec:\n  hosts: ["demo.example.com"\n';
const HUPS = 10;

export async function checkService(vm: Container, ctx: Ctx): Promise<number> {
  let failed = 0;
  const check = (name: string, ok: boolean, detail = ''): void => {
    if (!ok) failed++;
    ctx.say(`${ok ? '✔' : '✘'} ${name}${detail ? `: ${detail}` : ''}`);
  };
  const show = async (props: string): Promise<Record<string, string>> => {
    const r = await vm.sh(`systemctl show stickyd -p ${props}`);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };
  const cursor = async (): Promise<string> => /-- cursor: (\S+)/.exec((await vm.sh('journalctl -n0 --show-cursor --no-pager')).stdout)?.[1] ?? '';
  const journal = async (after: string, args = ''): Promise<JournalEntry[]> => parseJournal((await vm.sh(`journalctl --no-pager -o json ${after ? `--after-cursor=${shq(after)}` : ''} ${args}`)).stdout);
  const curl = (path: string, extra: string[] = []): Promise<Result> => vm.inNetns('curl', ['-s', '-m', '10', '-H', 'Host: demo.example.com', ...extra, `http://127.0.0.1${path}`]);
  const version = async (): Promise<string> => { const r = await curl('/ping'); try { return (JSON.parse(r.stdout) as { version: string }).version; } catch { return `(${r.stdout}${r.stderr})`; } };
  const status = async (): Promise<AdminStatus | null> => { const r = await vm.inNetns('curl', ['-s', '-m', '5', 'http://127.0.0.1:9901/status']); try { return JSON.parse(r.stdout) as AdminStatus; } catch { return null; } };
  const until = async (pred: () => Promise<boolean>, ms: number): Promise<boolean> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await pred()) return true;
      await sleep(200);
    }
    return false;
  };
  const writeConfig = (text: string): Promise<Result> => vm.sh(`printf %s ${shq(text)} > ${CONFIG}.tmp && mv ${CONFIG}.tmp ${CONFIG}`);

  // 1. install exactly as the README says
  const lines = readmeInstallLines(ctx.readme).map((l) => l.replace(/\.\/stickyd-[^ ]*\.tgz/, `./${ctx.tarball}`));
  check('the README has an install block', lines.length >= 5, `${lines.length} lines`);
  const startCursor = await cursor();
  const install = await vm.sh(`set -ex; cd /mnt/release; ${lines.join('\n')}`, 180_000);
  ctx.say(`README install output:\n${install.stdout}${install.stderr}`.replace(/\n/g, '\n    '));
  check('the README install lines all succeed (npm install -g of the tarball, offline, no compiler)', install.code === 0, `exit ${install.code}`);
  check('stickyd --version names the version and Node.js', /stickyd \d+\.\d+\.\d+\S* \(Node\.js v\d+/.test(install.stdout));
  const where = (await vm.sh('command -v stickyd; command -v tsc asc || true; ls "$(npm root -g)/stickyd/dist/wasm/"')).stdout;
  check('stickyd lands on PATH with the wasm kernel; no TypeScript or AssemblyScript in the VM (prepare did not run)', /\/bin\/stickyd\n/.test(where) && !/tsc|asc\n/.test(where) && /kernel\.wasm/.test(where), where.trim().replace(/\n/g, ' '));
  const main = (await show('MainPID')).MainPID ?? '0';
  const cmdline = (await vm.sh(`tr '\\0' ' ' < /proc/${main}/cmdline`)).stdout.trim();
  check('the unit runs the stickyd npm installed (ExecStart=stickyd, resolved by systemd)', cmdline.includes(` ${where.split('\n')[0]} run `), cmdline);
  // the VMs behind the proxy: the seed's backends, on the ports examples/demo names
  for (const b of BACKENDS) await vm.sh(`systemd-run -q --unit=backend-${b.port} stickyd backend --port ${b.port} --version ${b.version} --metadata ${b.metadata} --instance vm-${b.version}-${b.port}`);
  await until(async () => (await vm.inNetns('curl', ['-s', '-m', '2', 'http://127.0.0.1:18085/healthz'])).code === 0, 20_000);

  // 2. enable --now: active (running) because READY=1 arrived; STATUS= in systemctl status
  const s1 = await show('ActiveState,SubState,MainPID,NRestarts,StatusText');
  const notified = notifications(await journal(startCursor, '_PID=1'));
  check('enable --now: active (running)', s1.ActiveState === 'active' && s1.SubState === 'running', `${s1.ActiveState} (${s1.SubState})`);
  check('systemd got READY=1 from stickyd', notified.some((n) => /\bREADY=1\b/.test(n)), notified.find((n) => /READY=1/.test(n)));
  check('systemctl status shows the STATUS= line', /Status: "generation 1, \d+ workers"/.test(install.stdout), /Status: .*/.exec(install.stdout)?.[0]);
  check('it serves the seed config (v1)', (await version()) === 'v1');

  // 3. reload: a good config applies; a broken one fails and the old one keeps serving
  const original = (await vm.sh(`cat ${CONFIG}`)).stdout;
  let n = 0;
  const toV2 = original.replace(/weight: \d+/g, () => (n++ === 0 ? 'weight: 0' : 'weight: 100'));
  await writeConfig(toV2);
  const good = await vm.sh('systemctl reload stickyd');
  check('systemctl reload succeeds on a good config, which serves at once', good.code === 0 && (await version()) === 'v2', `exit ${good.code} ${good.stderr.trim()}`);
  await writeConfig(BROKEN);
  const bad = await vm.sh('systemctl reload stickyd');
  const afterBad = await show('ActiveState,StatusText');
  check('systemctl reload fails on a broken config; the old config serves', bad.code !== 0 && (await version()) === 'v2' && afterBad.ActiveState === 'active', `exit ${bad.code}; ${afterBad.StatusText}`);
  // the daemon itself refuses a broken config on a bare SIGHUP too
  const failedBefore = (await status())?.reloads.failed ?? 0;
  await vm.sh('systemctl kill -s HUP stickyd');
  await until(async () => ((await status())?.reloads.failed ?? 0) > failedBefore, 20_000);
  check('a SIGHUP with the broken config: the daemon refuses it, the old config serves', (await version()) === 'v2' && /last reload failed/.test((await show('StatusText')).StatusText ?? ''), (await show('StatusText')).StatusText);
  await writeConfig(toV2);
  check('a good config reloads again', (await vm.sh('systemctl reload stickyd')).code === 0);

  // 4. systemctl kill -s HUP (the whole cgroup) ten times: nothing dies, no notification lost
  const before = await status();
  const mainBefore = (await show('MainPID')).MainPID;
  const hupCursor = await cursor();
  let applied = before?.reloads.ok ?? 0;
  for (let i = 0; i < HUPS; i++) {
    await vm.sh('systemctl kill -s HUP stickyd');
    const target = applied + 1;
    await until(async () => ((await status())?.reloads.ok ?? 0) >= target && (await status())?.ready === true, 20_000);
    applied = (await status())?.reloads.ok ?? applied;
  }
  await sleep(500);
  const after = await status();
  const afterShow = await show('MainPID,NRestarts');
  const hupNotes = notifications(await journal(hupCursor, '_PID=1'));
  const retried = (await journal(hupCursor, '-u stickyd')).filter((e) => /sd_notify helper killed by a signal/.test(e.MESSAGE));
  check(`systemctl kill -s HUP x${HUPS}: every HUP reloaded`, (after?.reloads.ok ?? 0) - (before?.reloads.ok ?? 0) === HUPS, `${(after?.reloads.ok ?? 0) - (before?.reloads.ok ?? 0)} reloads`);
  check(`systemctl kill -s HUP x${HUPS}: no stickyd process killed`, afterShow.MainPID === mainBefore && afterShow.NRestarts === '0' && samePids(before, after), `primary ${mainBefore} -> ${afterShow.MainPID}, workers ${pids(before)} -> ${pids(after)}`);
  // Each reload's RELOADING=1 carries its own MONOTONIC_USEC; a helper killed after it had sent
  // is run again and systemd sees that message twice (same MONOTONIC_USEC), which is harmless.
  const reloading = hupNotes.filter((n) => /\bRELOADING=1\b/.test(n));
  const distinct = new Set(reloading.map((n) => /MONOTONIC_USEC=(\d+)/.exec(n)?.[1]));
  const ready = hupNotes.filter((n) => /\bREADY=1\b/.test(n)).length;
  check(`systemctl kill -s HUP x${HUPS}: systemd got every reload's RELOADING=1 and READY=1`, distinct.size === HUPS && !distinct.has(undefined) && ready >= HUPS,
    `${distinct.size} distinct RELOADING=1 (${reloading.length} received), ${ready} READY=1; helpers killed by the HUP and run again: ${retried.length}`);

  // 5. the journal: priorities, and every line stickyd wrote is JSON
  const warnings = await journal('', '-u stickyd -p warning');
  const mine = warnings.filter((e) => e.SYSLOG_IDENTIFIER === 'stickyd');
  check('journalctl -p warning -u stickyd shows the config warning', mine.some((e) => /"msg":"config warning"/.test(e.MESSAGE) && e.PRIORITY === '4'));
  check('journalctl -p warning -u stickyd shows the failed reload (daemon and ExecReload)', mine.some((e) => /"msg":"reload failed/.test(e.MESSAGE) && e.PRIORITY === '3') && mine.some((e) => /"role":"reload"/.test(e.MESSAGE) && e.PRIORITY === '3'));
  await curl('/ping');
  await sleep(300);
  const all = (await journal('', '-u stickyd')).filter((e) => e.SYSLOG_IDENTIFIER === 'stickyd');
  const notJson = all.filter((e) => !isJson(e.MESSAGE));
  const wrongPriority = all.filter((e) => isJson(e.MESSAGE) && e.PRIORITY !== expectedPriority(e.MESSAGE));
  check('every line stickyd wrote to the journal is one JSON object', all.length > 20 && notJson.length === 0, `${all.length} lines; not JSON: ${notJson.slice(0, 3).map((e) => e.MESSAGE).join(' | ')}`);
  check('each line has its level as PRIORITY (error 3, warn 4, info and access 6)', wrongPriority.length === 0 && all.some((e) => /"msg":"access"/.test(e.MESSAGE)), wrongPriority.slice(0, 3).map((e) => `${e.PRIORITY} ${e.MESSAGE.slice(0, 80)}`).join(' | '));

  // 6. the sandbox, scored against the running manager
  const sec = await vm.sh('systemd-analyze security --no-pager --threshold=20 stickyd');
  const score = /Overall exposure level for stickyd\.service: ([\d.]+) (\S+)/.exec(sec.stdout);
  check('systemd-analyze security <= 2.0', sec.code === 0 && Number(score?.[1]) <= 2.0, score?.[0] ?? sec.stderr);

  // 7. watchdog: a SIGSTOPped primary is restarted
  const stalled = (await show('MainPID')).MainPID;
  const dogCursor = await cursor();
  await vm.sh(`kill -STOP ${stalled}`);
  const stoppedAt = Date.now();
  const restarted = await until(async () => { const x = await show('MainPID,ActiveState,NRestarts'); return x.MainPID !== stalled && x.MainPID !== '0' && x.ActiveState === 'active' && x.NRestarts === '1'; }, 40_000);
  const dogLog = (await journal(dogCursor, '_PID=1')).map((e) => e.MESSAGE);
  check('watchdog: a SIGSTOPped primary is restarted', restarted && dogLog.some((m) => /Watchdog timeout/.test(m)), `after ${Math.round((Date.now() - stoppedAt) / 1000)} s: ${dogLog.filter((m) => /Watchdog|Failed with result/.test(m)).join('; ')}`);
  await until(async () => (await status())?.ready === true, 20_000);

  // 8. stop drains: a request in flight completes, nothing gets SIGKILL
  const stopCursor = await cursor();
  const inflight = curl('/slow?ms=2500');
  await sleep(500);
  const stop = await vm.sh('systemctl stop stickyd', 60_000);
  const slow = await inflight;
  const stopLog = await journal(stopCursor, '');
  const killed = stopLog.filter((e) => e._PID === '1' && /SIGKILL|Killing process/.test(e.MESSAGE)).map((e) => e.MESSAGE);
  const res = await show('Result,ExecMainStatus,ActiveState');
  check('systemctl stop drains: the request in flight completes', stop.code === 0 && /"sleptMs":2500/.test(slow.stdout), slow.stdout.trim() || slow.stderr);
  check('systemctl stop: no SIGKILL, exit 0', killed.length === 0 && res.Result === 'success' && res.ExecMainStatus === '0' && stopLog.some((e) => /"msg":"stopped"/.test(e.MESSAGE)), `${killed.join('; ')} Result=${res.Result} status=${res.ExecMainStatus}`);
  return failed;
}

interface JournalEntry { MESSAGE: string; PRIORITY?: string; SYSLOG_IDENTIFIER?: string; _PID?: string }
interface AdminStatus { ready: boolean; reloads: { ok: number; failed: number }; workers: Array<{ pid: number }> }

function parseJournal(text: string): JournalEntry[] {
  return text.trim().split('\n').filter(Boolean).map((l) => {
    const e = JSON.parse(l) as Record<string, unknown>;
    const msg = Array.isArray(e.MESSAGE) ? Buffer.from(e.MESSAGE as number[]).toString('utf8') : String(e.MESSAGE ?? '');
    return { ...(e as object), MESSAGE: msg } as JournalEntry;
  });
}

/** What PID 1 logged receiving (it logs every notification at debug level). */
function notifications(entries: JournalEntry[]): string[] {
  return entries.map((e) => /stickyd\.service: Got notification message from PID \d+ \((.*)\)/.exec(e.MESSAGE)?.[1]).filter((m): m is string => m !== undefined);
}

function isJson(s: string): boolean {
  try { return typeof JSON.parse(s) === 'object'; } catch { return false; }
}

function expectedPriority(message: string): string {
  const level = (JSON.parse(message) as { level?: string }).level;
  return level === 'error' ? '3' : level === 'warn' ? '4' : level === 'debug' ? '7' : '6';
}

const pids = (s: AdminStatus | null): string => (s?.workers ?? []).map((w) => w.pid).sort().join(',');
const samePids = (a: AdminStatus | null, b: AdminStatus | null): boolean => pids(a) !== '' && pids(a) === pids(b);

/** The shell lines between the README's vm-install markers (comments and blank lines dropped). */
export function readmeInstallLines(readme: string): string[] {
  const block = /<!-- vm-install[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/vm-install -->/.exec(readme)?.[1] ?? '';
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
