// The piscina task for startup and reload: read + parse + validate + compile the config and
// build the balancer tables, all off the primary's event loop (a 10,000-endpoint YAML parse
// takes longer than any heartbeat). Failures come back as data: structured clone would drop a
// ConfigError's issues.
import type { ConfigIssue } from '../errors.js';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import { loadConfig } from '../config/index.js';
import { initHasher } from '../balancing/hash.js';
import { buildTables } from '../balancing/build-tables.js';
import { attachSessionKeys } from './session-keys.js';
import { applyResolved, readDnsNames, type ResolvedNames } from '../config/compile/dns-endpoints.js';

export interface PrepareInput {
  readonly path: string;
  readonly settings: Partial<ProxySettings>;
  readonly epoch: number;
  /** --session-key-file; null: the default place (session-keys.ts), read only when a subset is persistent */
  readonly sessionKeyFile?: string | null;
  /** ServiceEntry host names the primary resolved (primary/dns-resolver.ts); absent: none */
  readonly resolved?: ResolvedNames;
}

export type PrepareOutput =
  | {
      readonly ok: true;
      readonly snapshot: Snapshot;
      readonly warnings: ConfigIssue[];
      readonly files: string[];
      readonly parseMs: number;
      readonly buildMs: number;
      /** non-empty: names the config needs that `resolved` lacks; the snapshot is not built: resolve them and run again */
      readonly unresolved: string[];
    }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] | null; readonly code: string; readonly message: string };

export default async function prepareTask(input: PrepareInput): Promise<PrepareOutput> {
  try {
    const t0 = performance.now();
    const loaded = await loadConfig(input.path, input.settings, input.epoch);
    const t1 = performance.now();
    const resolved = input.resolved ?? {};
    const unresolved = readDnsNames(loaded.snapshot).filter((n) => !Object.hasOwn(resolved, n));
    if (unresolved.length > 0) {
      return { ok: true, snapshot: loaded.snapshot, warnings: loaded.warnings, files: loaded.files, parseMs: t1 - t0, buildMs: 0, unresolved };
    }
    const keyed = attachSessionKeys(loaded.snapshot, input.sessionKeyFile ?? null);
    const withDns = applyResolved(keyed, resolved, loaded.snapshot.epoch) ?? keyed;
    const snapshot = buildTables(withDns, await initHasher());
    return { ok: true, snapshot, warnings: loaded.warnings, files: loaded.files, parseMs: t1 - t0, buildMs: performance.now() - t1, unresolved: [] };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; issues?: readonly ConfigIssue[] };
    return { ok: false, issues: e.issues ?? null, code: typeof e.code === 'string' ? e.code : 'STICKYD_ERR_BUILD', message: String(e.message ?? err) };
  }
}
