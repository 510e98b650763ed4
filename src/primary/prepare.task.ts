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

export interface PrepareInput {
  readonly path: string;
  readonly settings: Partial<ProxySettings>;
  readonly epoch: number;
  /** --session-key-file; null: the default place (session-keys.ts), read only when a subset is persistent */
  readonly sessionKeyFile?: string | null;
}

export type PrepareOutput =
  | {
      readonly ok: true;
      readonly snapshot: Snapshot;
      readonly warnings: ConfigIssue[];
      readonly files: string[];
      readonly parseMs: number;
      readonly buildMs: number;
    }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] | null; readonly code: string; readonly message: string };

export default async function prepareTask(input: PrepareInput): Promise<PrepareOutput> {
  try {
    const t0 = performance.now();
    const loaded = await loadConfig(input.path, input.settings, input.epoch);
    const t1 = performance.now();
    const keyed = attachSessionKeys(loaded.snapshot, input.sessionKeyFile ?? null);
    const snapshot = buildTables(keyed, await initHasher());
    return { ok: true, snapshot, warnings: loaded.warnings, files: loaded.files, parseMs: t1 - t0, buildMs: performance.now() - t1 };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; issues?: readonly ConfigIssue[] };
    return { ok: false, issues: e.issues ?? null, code: typeof e.code === 'string' ? e.code : 'STICKYD_ERR_BUILD', message: String(e.message ?? err) };
  }
}
