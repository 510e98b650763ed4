// `stickyd check`: load and validate exactly as `run` would, for people and for ExecStartPre.
// Text output is for a person, one line per problem like `nginx -t`; with --json every line is a
// log line (log.ts), so under systemd it lands in the daemon's journal as JSON with its priority.
import { loadConfig } from '../config/index.js';
import { ConfigError, StickydError, formatIssue } from '../errors.js';
import { log, setLogBase } from '../log.js';
import { listenSpecs } from '../primary/listen-specs.js';
import { attachSessionKeys } from '../primary/session-keys.js';
import { parseFlags, required } from './args.js';
import { initHasher } from '../balancing/hash.js';
import { buildTables } from '../balancing/build-tables.js';
import type { Snapshot } from '../snapshot/types.js';
import { buildMoveReport, formatMoveReport, readConfigDump } from './move-report.js';

export const HELP = `Usage: stickyd check -c <file-or-dir>

Validates the configuration the way 'run' would load it. Exit 0 when valid; exit 1 with every
error listed as file:line, document (Kind/name) and field path.

Options:
  -c, --config <path>   Istio YAML file or directory (required)
  -q, --quiet           print errors only (no warnings, no summary)
      --credentials-dir <dir>  where tls.credentialName secrets live (as for run)
      --session-key-file <file> the persistent-session key file (as for run; same default)
      --json            every output line a JSON log line (for the journal: the unit uses it)
      --against <old>   also say what applying this config over <old> would move: <old> is a
                        config path, or a running daemon's admin URL (http://127.0.0.1:9901)
  -h, --help            this help

Certificates and keys are read and checked too: unreadable, a key that is not the certificate's,
expired (errors); expiring within 14 days, a host the certificate does not cover (warnings).

With --against, for every subset the exact share of hash-mode sessions whose endpoint would
change (over the whole 2^32 hash space, from the ring or Maglev tables; a Maglev table size change
is integrated on a fixed grid and says so), and for every weighted route the share of sessions
whose destination would change, in closed form, beside the least any scheme must move
(docs/weighted-split-moves.md). With --json the report is one JSON line ("move report").
`;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('check', HELP, args, {
    config: { type: 'string', short: 'c' },
    quiet: { type: 'boolean', short: 'q' },
    'credentials-dir': { type: 'string' },
    'session-key-file': { type: 'string' },
    json: { type: 'boolean' },
    against: { type: 'string' },
  });
  const credentialsDir = typeof v['credentials-dir'] === 'string' ? v['credentials-dir'] : null;
  const sessionKeyFile = typeof v['session-key-file'] === 'string' ? v['session-key-file'] : null;
  const against = typeof v.against === 'string' ? v.against : null;
  process.exitCode = await runCheck(required(v.config, '--config', 'check'), { quiet: v.quiet === true, json: v.json === true, credentialsDir, sessionKeyFile, against });
}

export interface CheckOptions {
  /** errors only: no warnings, no summary */
  readonly quiet: boolean;
  readonly json: boolean;
  /** where tls.credentialName secrets live (--credentials-dir) */
  readonly credentialsDir?: string | null;
  /** --session-key-file (null: the default place), read when a subset is persistent */
  readonly sessionKeyFile?: string | null;
  /** --against: a config path or an admin URL to compare with */
  readonly against?: string | null;
}

export async function runCheck(path: string, opts: CheckOptions): Promise<number> {
  if (opts.json) setLogBase({ role: 'check', pid: process.pid });
  const say = (level: 'info' | 'warn' | 'error', text: string, fields: Record<string, unknown>): void => {
    if (opts.json) log(level, text, { config: path, ...fields });
    else (level === 'info' ? process.stdout : process.stderr).write(`${level === 'info' ? '' : level === 'warn' ? 'warning: ' : 'error: '}${text}\n`);
  };
  try {
    const { snapshot, warnings, files } = await loadConfig(path, { credentialsDir: opts.credentialsDir ?? null });
    listenSpecs(snapshot, null);
    attachSessionKeys(snapshot, opts.sessionKeyFile ?? null);
    if (!opts.quiet) {
      for (const w of warnings) say('warn', opts.json ? 'config warning' : formatIssue(w), { where: formatIssue(w) });
      const routes = snapshot.listeners.reduce((n, l) => n + l.virtualHosts.reduce((m, v) => m + v.routes.length, 0), 0);
      const endpoints = snapshot.subsets.reduce((n, s) => n + s.endpoints.length, 0);
      const counts = {
        files: files.length,
        listeners: snapshot.listeners.length,
        routes,
        subsets: snapshot.subsets.length,
        endpoints,
        warnings: warnings.length,
      };
      say('info', opts.json ? 'configuration is valid'
        : `stickyd: configuration ${path} is valid: ${counts.files} file(s), ${counts.listeners} listener(s), ${routes} route(s), ${counts.subsets} subset(s), ${endpoints} endpoint(s), ${counts.warnings} warning(s)`, counts);
    }
    if (opts.against != null) return await reportMoves(snapshot, opts.against, opts, say);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) say('error', opts.json ? 'config error' : formatIssue(i), { where: formatIssue(i) });
      summary(opts.json, path, `${err.issues.length} error(s)`, { errors: err.issues.length });
      return 1;
    }
    if (err instanceof StickydError) {
      say('error', opts.json ? 'config error' : err.message, { code: err.code, error: err.message });
      summary(opts.json, path, '', {});
      return 1;
    }
    throw err;
  }
}

type Say = (level: 'info' | 'warn' | 'error', text: string, fields: Record<string, unknown>) => void;

async function reportMoves(next: Snapshot, against: string, opts: CheckOptions, say: Say): Promise<number> {
  const hasher = await initHasher();
  const isUrl = /^https?:\/\//.test(against);
  let old: Snapshot;
  try {
    old = isUrl
      ? await readDaemon(against, hasher)
      : buildTables((await loadConfig(against, { credentialsDir: opts.credentialsDir ?? null })).snapshot, hasher);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) say('error', opts.json ? 'config error' : `--against: ${formatIssue(i)}`, { where: formatIssue(i), against });
    } else say('error', opts.json ? 'cannot read --against' : `--against ${against}: ${(err as Error).message}`, { against, error: (err as Error).message });
    return 1;
  }
  const report = buildMoveReport(old, buildTables(next, hasher));
  if (opts.json) log('info', 'move report', { config: next.configPath, against, ...report });
  else {
    process.stdout.write(`against ${against}${isUrl ? ` (generation ${old.epoch})` : ''}:\n`);
    for (const line of formatMoveReport(report)) process.stdout.write(`  ${line}\n`);
  }
  return 0;
}

/** The running daemon's compiled config, from its admin listener's /config_dump. */
async function readDaemon(url: string, hasher: Awaited<ReturnType<typeof initHasher>>): Promise<Snapshot> {
  const res = await fetch(`${url.replace(/\/+$/, '')}/config_dump`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET /config_dump answered ${res.status}: ${(await res.text()).trim()}`);
  return readConfigDump(await res.json(), hasher);
}

function summary(json: boolean, path: string, detail: string, fields: Record<string, unknown>): void {
  if (json) log('error', 'configuration is invalid', { config: path, ...fields });
  else process.stderr.write(`stickyd: configuration ${path} is invalid${detail ? `: ${detail}` : ''}\n`);
}
