// ServiceEntry host names, resolved in the primary and never in the request path. Each name is
// re-resolved when its answer's TTL runs out (bounded to 1-60 s); a failed or empty answer keeps
// the last good one and is retried. When a name's set of addresses changes, `onChange` runs and
// the reloader builds a new generation from the applied snapshot (reloader.ts).
//
// Which resolver: `localhost` and `*.localhost` are loopback by RFC 6761 and are never asked of a
// DNS server; they and names that live only in /etc/hosts go through dns.lookup (getaddrinfo, the
// system's view, no TTL: re-checked every MAX_TTL_MS). Every other name asks the DNS servers with
// node:dns's Resolver (A records, AAAA when there are none, with TTLs), and falls back to
// dns.lookup when they do not know it. `--dns-server host:port` points the Resolver at one server
// and turns the fallback off (the tests' controlled answers); localhost still means loopback.
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { log } from '../log.js';
import type { DnsNameStatus, DnsView } from '../daemon-view.js';

/** Envoy's dns_refresh_rate is 5 s by default and respects TTLs; the issue bounds TTLs to 1-60 s */
export const MIN_TTL_MS = 1_000;
export const MAX_TTL_MS = 60_000;
/** a failed resolution is retried after this, keeping the last good answer meanwhile */
export const RETRY_MS = 1_000;
/** per query; two tries: a dead server must not hold a reload for long */
const QUERY_TIMEOUT_MS = 2_000;

export interface Answer {
  /** sorted, deduplicated */
  readonly addresses: readonly string[];
  readonly ttlMs: number;
  readonly via: 'dns' | 'lookup';
}

interface Entry {
  answer: Answer | null;
  resolvedAt: number | null;
  nextAt: number | null;
  lastError: string | null;
  resolutions: number;
  failures: number;
  changes: number;
  timer: NodeJS.Timeout | null;
}

export type ResolveFn = (name: string) => Promise<Answer>;

/** Clamps a TTL (seconds, as DNS gives it) to the refresh bounds, in ms. */
export function clampTtlMs(ttlSec: number): number {
  return Math.min(MAX_TTL_MS, Math.max(MIN_TTL_MS, Math.round(ttlSec * 1000)));
}

/** The resolve function: the system's servers with the lookup fallback, or one `server` ("host:port") alone. */
export function buildResolve(server: string | null): ResolveFn {
  const resolver = new Resolver({ timeout: QUERY_TIMEOUT_MS, tries: 2 });
  if (server !== null) resolver.setServers([server]);
  return async (name) => {
    if (name === 'localhost' || name.endsWith('.localhost')) return viaLookup(name);
    try {
      return await viaResolver(resolver, name);
    } catch (err) {
      if (server !== null) throw err;
      return viaLookup(name);
    }
  };
}

async function viaResolver(resolver: Resolver, name: string): Promise<Answer> {
  let missing = 'ENODATA';
  const noData = (err: NodeJS.ErrnoException): { address: string; ttl: number }[] => {
    // ENODATA/ENOTFOUND for one family: try the other; anything else is a failure
    if (err.code !== 'ENODATA' && err.code !== 'ENOTFOUND') throw err;
    if (err.code === 'ENOTFOUND') missing = 'ENOTFOUND'; // NXDOMAIN: the name does not exist, say so
    return [];
  };
  let records = await resolver.resolve4(name, { ttl: true }).catch(noData);
  if (records.length === 0) records = await resolver.resolve6(name, { ttl: true }).catch(noData);
  if (records.length === 0) throw Object.assign(new Error(`no A or AAAA records for ${name}`), { code: missing });
  const ttl = Math.min(...records.map((r) => r.ttl));
  return { addresses: sortUnique(records.map((r) => r.address.toLowerCase())), ttlMs: clampTtlMs(ttl), via: 'dns' };
}

async function viaLookup(name: string): Promise<Answer> {
  const all = await lookup(name, { all: true, verbatim: true });
  // IPv4 first when there is any, as for DNS answers (V4_PREFERRED)
  const v4 = all.filter((a) => a.family === 4).map((a) => a.address);
  const chosen = v4.length > 0 ? v4 : all.map((a) => a.address.toLowerCase());
  if (chosen.length === 0) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENODATA' });
  return { addresses: sortUnique(chosen), ttlMs: MAX_TTL_MS, via: 'lookup' };
}

function sortUnique(list: readonly string[]): string[] {
  return [...new Set(list)].sort();
}

export class DnsResolver implements DnsView {
  readonly #resolve: ResolveFn;
  readonly #entries = new Map<string, Entry>();
  /** the applied snapshot's names (track): only these are refreshed and shown */
  readonly #tracked = new Set<string>();
  /** runs when a tracked name's set of addresses changed */
  onChange: (() => void) | null = null;
  #stopped = false;

  constructor(resolve: ResolveFn) {
    this.#resolve = resolve;
  }

  /** name -> addresses of every name with a good answer */
  resolved(): Record<string, readonly string[]> {
    const out: Record<string, readonly string[]> = {};
    for (const [name, e] of this.#entries) if (e.answer !== null) out[name] = e.answer.addresses;
    return out;
  }

  /**
   * Resolves the names that have no answer yet, now. Rejects naming each that fails: a config
   * whose name never resolved has no endpoints to start with.
   */
  async ensure(names: readonly string[]): Promise<void> {
    const missing = names.filter((n) => this.#entries.get(n)?.answer == null);
    const failed: string[] = [];
    await Promise.all(missing.map(async (name) => {
      const ok = await this.#refresh(name, false);
      if (!ok) failed.push(`${name}: ${this.#entries.get(name)?.lastError ?? 'no answer'}`);
    }));
    // a name resolved for a reload that then fails stays cached (the next attempt reuses it) but
    // is refreshed only once a snapshot that uses it is applied (track)
    for (const name of missing) if (!this.#tracked.has(name) && this.#entries.get(name)?.answer == null) this.#entries.delete(name);
    if (failed.length > 0) throw new Error(`ServiceEntry host names could not be resolved (resolution DNS): ${failed.sort().join('; ')}`);
  }

  /** Keep exactly these names refreshed (the applied snapshot's); others are forgotten. */
  track(names: readonly string[]): void {
    const keep = new Set(names);
    this.#tracked.clear();
    for (const n of keep) this.#tracked.add(n);
    for (const [name, e] of this.#entries) {
      if (keep.has(name)) continue;
      if (e.timer !== null) clearTimeout(e.timer);
      this.#entries.delete(name);
    }
    for (const name of keep) {
      const e = this.#entry(name);
      if (e.timer === null) this.#schedule(name, e, e.answer?.ttlMs ?? RETRY_MS);
    }
  }

  status(): DnsNameStatus[] {
    return [...this.#entries.entries()].filter(([name]) => this.#tracked.has(name)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, e]) => ({
      name,
      addresses: e.answer?.addresses ?? [],
      via: e.answer?.via ?? null,
      ttlSec: e.answer === null ? null : e.answer.ttlMs / 1000,
      resolvedAt: e.resolvedAt === null ? null : new Date(e.resolvedAt).toISOString(),
      nextAt: e.nextAt === null ? null : new Date(e.nextAt).toISOString(),
      lastError: e.lastError,
      resolutions: e.resolutions,
      failures: e.failures,
      changes: e.changes,
    }));
  }

  stop(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) if (e.timer !== null) clearTimeout(e.timer);
  }

  #entry(name: string): Entry {
    let e = this.#entries.get(name);
    if (e === undefined) {
      e = { answer: null, resolvedAt: null, nextAt: null, lastError: null, resolutions: 0, failures: 0, changes: 0, timer: null };
      this.#entries.set(name, e);
    }
    return e;
  }

  #schedule(name: string, e: Entry, ms: number): void {
    if (this.#stopped || !this.#tracked.has(name)) return;
    if (e.timer !== null) clearTimeout(e.timer);
    e.nextAt = Date.now() + ms;
    e.timer = setTimeout(() => {
      e.timer = null;
      void this.#refresh(name, true);
    }, ms);
    e.timer.unref();
  }

  /** One resolution; true when it gave an answer. `notify`: tell onChange when the addresses changed. */
  async #refresh(name: string, notify: boolean): Promise<boolean> {
    const e = this.#entry(name);
    try {
      const answer = await this.#resolve(name);
      if (this.#entries.get(name) !== e) return true; // untracked meanwhile
      const before = e.answer?.addresses.join(',') ?? null;
      e.answer = answer;
      e.resolvedAt = Date.now();
      e.lastError = null;
      e.resolutions++;
      const changed = before !== null && before !== answer.addresses.join(',');
      if (changed) {
        e.changes++;
        log('info', 'dns answer changed', { name, addresses: answer.addresses, ttlSec: answer.ttlMs / 1000 });
      }
      if (e.timer === null || notify) this.#schedule(name, e, answer.ttlMs);
      if (changed && notify) this.onChange?.();
      return true;
    } catch (err) {
      if (this.#entries.get(name) !== e) return false;
      const code = (err as NodeJS.ErrnoException).code;
      e.lastError = code === undefined ? String((err as Error).message ?? err) : `${code}`;
      e.failures++;
      log('warn', 'dns resolution failed; keeping the last answer', { name, error: e.lastError, addresses: e.answer?.addresses ?? [], retryMs: RETRY_MS });
      this.#schedule(name, e, RETRY_MS);
      return false;
    }
  }
}
