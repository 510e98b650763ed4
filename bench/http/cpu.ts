// CPU time of a process tree from /proc, the figure the issue compares proxies by: user + system
// time of every process of the proxy over a run, divided by the requests it completed. Requests/s
// moves with whatever else shares the cores; CPU per request does not (much).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 on every Linux we know). */
export const CLOCK_TICKS = readClockTicks();

function readClockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime: reaped children count once, through their parent */
  readonly ticks: number;
  /** utime + stime of the process itself (all its threads), without its reaped children */
  readonly ownTicks: number;
}

/** proc(5): fields after "(comm)" start at field 3 (state); ppid is 4, utime..cstime are 14..17. */
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const n = statFields(text);
  return { pid, ppid: n(4), ticks: n(14) + n(15) + n(16) + n(17), ownTicks: n(14) + n(15) };
}

/** Field `i` (1-based, as proc(5) numbers them) of a stat line; the fields after "(comm)" start at 3. */
function statFields(text: string): (i: number) => number {
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (i) => Number(f[i - 3]);
}

/** Seconds of CPU used so far by `root` and all its live descendants. */
export function treeCpuSeconds(root: number): number {
  return treeCpu(root).total;
}

/**
 * CPU seconds so far of `root`'s tree: in all, and in threads other than each process's main
 * thread (V8's garbage-collector and compiler helpers, libuv's pool). What a change costs off the
 * event loop shows here and not in a wall-clock profile of the main thread. `root` is the root
 * process's own CPU: for node:cluster proxies the primary, which proxies nothing (nginx's and
 * HAProxy's masters likewise), so what it spends per request is supervision, not the request path.
 */
export function treeCpu(root: number): { total: number; helpers: number; root: number } {
  const tree = treeStats(root);
  let ticks = 0;
  let helpers = 0;
  for (const s of tree) {
    ticks += s.ticks;
    helpers += helperTicks(s.pid);
  }
  return { total: ticks / CLOCK_TICKS, helpers: helpers / CLOCK_TICKS, root: tree[0]!.ownTicks / CLOCK_TICKS };
}

/** The pids of `root` and its live descendants, `root` first (what a profiler attaches to). */
export function treePids(root: number): number[] {
  return treeStats(root).map((s) => s.pid);
}

/** `root`'s stat line and its live descendants', `root` first. */
function treeStats(root: number): ProcStat[] {
  const all: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s !== null) all.push(s);
  }
  const children = new Map<number, ProcStat[]>();
  for (const s of all) {
    const list = children.get(s.ppid);
    if (list === undefined) children.set(s.ppid, [s]);
    else list.push(s);
  }
  const top = all.find((s) => s.pid === root);
  if (top === undefined) throw new Error(`process ${root} is gone`);
  const out: ProcStat[] = [];
  const stack = [top];
  while (stack.length > 0) {
    const s = stack.pop()!;
    out.push(s);
    stack.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/** utime + stime of a process's live threads other than its main one (tid = pid). */
function helperTicks(pid: number): number {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  let ticks = 0;
  for (const tid of tids) {
    if (Number(tid) === pid) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
    } catch {
      continue;
    }
    const n = statFields(text);
    ticks += n(14) + n(15);
  }
  return ticks;
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export interface MachineCpu {
  readonly busy: number;
  readonly total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}
