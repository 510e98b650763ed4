// Whole-daemon counters for /metrics and /status: ask every worker for its report (one IPC
// request each, with a short timeout; a worker that does not answer is counted as such and its
// last report stands in), then sum by label. Counters must never go down between scrapes, so a
// worker that exits leaves its numbers behind: its finalStats report when it drained (exact),
// else the last report the primary saw (requests it served after that are lost; a kill -9
// cannot be helped). Gauges (connections, cache entries) come from live workers only.
import type { MergedStats, WorkerReport } from '../daemon-view.js';
import { CMD, type SeriesRow, type StatsReport } from '../protocol.js';
import type { Supervisor } from './supervisor.js';

/** A scrape should answer fast even when a worker is stuck; the heartbeat deals with stuck workers. */
export const STATS_TIMEOUT_MS = 1_000;
/** How long an exited worker's last report is kept to reconcile a finalStats that arrives after 'exit'. */
const LATE_FINAL_MS = 5_000;
const LABEL_SEP = '\u0000';

/** Label-keyed sums of counters and series rows. */
class Totals {
  readonly counters = new Map<string, number>();
  readonly series = new Map<string, Map<string, { labels: readonly string[]; values: number[] }>>();

  add(report: StatsReport | null, sign: 1 | -1 = 1): void {
    if (report === null) return;
    for (const [name, v] of Object.entries(report.counters)) this.addCounter(name, sign * v);
    for (const [family, rows] of Object.entries(report.series)) for (const row of rows) this.addRow(family, row.labels, row.values, sign);
  }

  addTotals(other: Totals): void {
    for (const [name, v] of other.counters) this.addCounter(name, v);
    for (const [family, rows] of other.series) for (const row of rows.values()) this.addRow(family, row.labels, row.values, 1);
  }

  addCounter(name: string, v: number): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + v);
  }

  addRow(family: string, labels: readonly string[], values: readonly number[], sign: 1 | -1): void {
    let rows = this.series.get(family);
    if (rows === undefined) this.series.set(family, (rows = new Map()));
    const key = labels.join(LABEL_SEP);
    const have = rows.get(key);
    if (have === undefined) rows.set(key, { labels, values: values.map((v) => sign * v) });
    else values.forEach((v, i) => { have.values[i] = (have.values[i] ?? 0) + sign * v; });
  }
}

export class StatsCollector {
  /** the latest report of every live worker, by cluster worker id */
  readonly #live = new Map<number, StatsReport>();
  /** what exited workers left behind */
  readonly #departed = new Totals();
  /** exited workers' last reports, briefly, in case their finalStats is read after 'exit' */
  readonly #late = new Map<number, StatsReport | null>();
  readonly #exited = new Set<number>();

  /** A draining worker's last words (FinalStatsMsg). */
  final(workerId: number, stats: StatsReport): void {
    if (this.#late.has(workerId)) {
      // 'exit' came first and folded the older report: add only what the final one adds to it.
      this.#departed.add(this.#late.get(workerId) ?? null, -1);
      this.#departed.add(stats);
      this.#late.delete(workerId);
    } else if (!this.#exited.has(workerId)) {
      this.#live.set(workerId, stats);
    }
  }

  /** The worker is gone: keep what it reported last. */
  exited(workerId: number): void {
    if (this.#exited.has(workerId)) return;
    this.#exited.add(workerId);
    const last = this.#live.get(workerId) ?? null;
    this.#live.delete(workerId);
    this.#departed.add(last);
    this.#late.set(workerId, last);
    setTimeout(() => this.#late.delete(workerId), LATE_FINAL_MS).unref();
  }

  /** Asks every worker for its counters and returns the daemon-wide sums. */
  async collect(supervisor: Supervisor, timeoutMs = STATS_TIMEOUT_MS): Promise<MergedStats> {
    // A worker not listening yet has served nothing, and may not read IPC yet (supervisor.ts).
    const workers = supervisor.workers().filter((w) => w.listening);
    const reports = await Promise.all(workers.map(async (w): Promise<WorkerReport> => {
      try {
        const reply = await supervisor.request(w.id, { cmd: CMD, act: 'stats', seq: 0 }, timeoutMs);
        return { id: w.id, pid: w.pid, report: reply.act === 'statsReply' ? reply.stats : null };
      } catch {
        return { id: w.id, pid: w.pid, report: null };
      }
    }));
    for (const r of reports) {
      // A reply read after its worker exited must not bring it back (it was folded already).
      if (r.report !== null && !this.#exited.has(r.id)) this.#live.set(r.id, r.report);
    }
    return this.#merge(reports);
  }

  #merge(reports: readonly WorkerReport[]): MergedStats {
    const totals = new Totals();
    totals.addTotals(this.#departed);
    const gauges: Record<string, number> = {};
    for (const report of this.#live.values()) {
      totals.add(report);
      for (const [name, v] of Object.entries(report.gauges)) gauges[name] = (gauges[name] ?? 0) + v;
    }
    const series: Record<string, SeriesRow[]> = {};
    for (const [family, rows] of totals.series) series[family] = [...rows.values()].map((r) => ({ labels: r.labels, values: r.values }));
    return {
      counters: Object.fromEntries(totals.counters),
      gauges,
      series,
      workers: reports,
      unanswered: reports.filter((r) => r.report === null).length,
    };
  }
}
