// Runs table builds (build.task.ts) in a piscina pool so the primary never blocks on a build.
// One thread is enough: builds are rare (startup, reload) and a second concurrent build would
// only compete for the same core as the workers.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import { CODES, ConfigError, StickydError, type ConfigIssue, type ErrorCode } from '../errors.js';
import type { PrepareOutput } from './prepare.task.js';
import type { ResolvedNames } from '../config/compile/dns-endpoints.js';

/** What prepareResolving needs of the DNS resolver (dns-resolver.ts). */
export interface NameSource {
  resolved(): ResolvedNames;
  ensure(names: readonly string[]): Promise<void>;
}

/**
 * prepare() with the config's host names resolved: a first pass says which names it needs; the
 * ones never resolved are resolved in the primary (rejecting when one cannot be), then it runs again.
 */
export async function prepareResolving(
  builder: Pick<TableBuilder, 'prepare'>, dns: NameSource | null, path: string, settings: Partial<ProxySettings>, epoch: number, sessionKeyFile: string | null,
): Promise<Prepared> {
  const first = await builder.prepare(path, settings, epoch, sessionKeyFile, dns?.resolved() ?? {});
  if (first.unresolved.length === 0) return first;
  if (dns === null) throw new StickydError('STICKYD_ERR_BUILD', `host names need resolving and no resolver is set: ${first.unresolved.join(', ')}`);
  await dns.ensure(first.unresolved);
  const second = await builder.prepare(path, settings, epoch, sessionKeyFile, dns.resolved());
  if (second.unresolved.length > 0) throw new StickydError('STICKYD_ERR_BUILD', `host names still unresolved: ${second.unresolved.join(', ')}`);
  return second;
}

export interface Prepared {
  readonly snapshot: Snapshot;
  /** host names the config needs and `resolved` lacked: the snapshot is unbuilt (prepareResolving) */
  readonly unresolved: readonly string[];
  readonly warnings: readonly ConfigIssue[];
  readonly files: readonly string[];
  readonly parseMs: number;
  readonly buildMs: number;
}

/** One build at a time: the primary needs no more, and it leaves the cores to the workers. */
export const DEFAULT_BUILD_THREADS = 1;

/**
 * The build thread exits after this long idle, so a finished build frees its heap and an
 * un-closed builder does not hold a short-lived process (e.g. a config check) open for long.
 * A reload after that pays a thread start (~tens of ms), negligible next to the build.
 */
export const BUILD_IDLE_TIMEOUT_MS = 2_000;

export class TableBuilder {
  readonly #pool: Piscina;

  constructor(opts: { threads?: number } = {}) {
    this.#pool = new Piscina({
      filename: taskUrl('build').href,
      minThreads: 0,
      maxThreads: opts.threads ?? DEFAULT_BUILD_THREADS,
      idleTimeout: BUILD_IDLE_TIMEOUT_MS,
    });
  }

  /** Resolves to a new snapshot with every hash subset's table filled; rejects with STICKYD_ERR_BUILD. */
  async build(snapshot: Snapshot): Promise<Snapshot> {
    try {
      return (await this.#pool.run(snapshot)) as Snapshot;
    } catch (err) {
      throw toBuildError(err);
    }
  }

  /**
   * Loads, validates and compiles the config at `path` and builds its tables, on the pool's
   * thread. Rejects with ConfigError (every issue), or StickydError with the task's code.
   */
  async prepare(
    path: string, settings: Partial<ProxySettings>, epoch: number, sessionKeyFile: string | null = null, resolved?: ResolvedNames,
  ): Promise<Prepared> {
    let out: PrepareOutput;
    try {
      out = (await this.#pool.run({ path, settings, epoch, sessionKeyFile, resolved }, { filename: taskUrl('prepare').href })) as PrepareOutput;
    } catch (err) {
      throw toBuildError(err);
    }
    if (out.ok) return out;
    if (out.issues) throw new ConfigError(out.issues);
    throw toBuildError({ code: out.code, message: out.message });
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}

/**
 * The task sits next to this file with the same extension: dist/primary/build.task.js when
 * running the build, src/primary/build.task.ts under tsx, where worker threads inherit
 * --import=tsx from process.execArgv and can load TypeScript.
 */
function taskUrl(name: 'build' | 'prepare'): URL {
  return new URL(`./${name}.task${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

// Errors cross the thread boundary by structured clone, which keeps the message but drops
// own properties such as `code`; rebuild a StickydError so callers can rely on the code.
function toBuildError(err: unknown): StickydError {
  if (err instanceof StickydError) return err;
  const m = (err as { message?: unknown } | null)?.message;
  const message = typeof m === 'string' ? m : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const known = typeof code === 'string' && code in CODES ? (code as ErrorCode) : 'STICKYD_ERR_BUILD';
  return new StickydError(known, message, { cause: err });
}
