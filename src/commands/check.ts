// `stickyd check`: load and validate exactly as `run` would, for people and for ExecStartPre.
// Text output is for a person, one line per problem like `nginx -t`; with --json every line is a
// log line (log.ts), so under systemd it lands in the daemon's journal as JSON with its priority.
import { loadConfig } from '../config/index.js';
import { ConfigError, StickydError, formatIssue } from '../errors.js';
import { log, setLogBase } from '../log.js';
import { listenSpecs } from '../primary/listen-specs.js';
import { attachSessionKeys } from '../primary/session-keys.js';
import { parseFlags, required } from './args.js';

export const HELP = `Usage: stickyd check -c <file-or-dir>

Validates the configuration the way 'run' would load it. Exit 0 when valid; exit 1 with every
error listed as file:line, document (Kind/name) and field path.

Options:
  -c, --config <path>   Istio YAML file or directory (required)
  -q, --quiet           print errors only (no warnings, no summary)
      --credentials-dir <dir>  where tls.credentialName secrets live (as for run)
      --session-key-file <file> the persistent-session key file (as for run; same default)
      --json            every output line a JSON log line (for the journal: the unit uses it)
  -h, --help            this help

Certificates and keys are read and checked too: unreadable, a key that is not the certificate's,
expired (errors); expiring within 14 days, a host the certificate does not cover (warnings).
`;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('check', HELP, args, { config: { type: 'string', short: 'c' }, quiet: { type: 'boolean', short: 'q' }, 'credentials-dir': { type: 'string' }, 'session-key-file': { type: 'string' }, json: { type: 'boolean' } });
  const credentialsDir = typeof v['credentials-dir'] === 'string' ? v['credentials-dir'] : null;
  const sessionKeyFile = typeof v['session-key-file'] === 'string' ? v['session-key-file'] : null;
  process.exitCode = await runCheck(required(v.config, '--config', 'check'), { quiet: v.quiet === true, json: v.json === true, credentialsDir, sessionKeyFile });
}

export interface CheckOptions {
  /** errors only: no warnings, no summary */
  readonly quiet: boolean;
  readonly json: boolean;
  /** where tls.credentialName secrets live (--credentials-dir) */
  readonly credentialsDir?: string | null;
  /** --session-key-file (null: the default place), read when a subset is persistent */
  readonly sessionKeyFile?: string | null;
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

function summary(json: boolean, path: string, detail: string, fields: Record<string, unknown>): void {
  if (json) log('error', 'configuration is invalid', { config: path, ...fields });
  else process.stderr.write(`stickyd: configuration ${path} is invalid${detail ? `: ${detail}` : ''}\n`);
}
