// The session key file, read by the primary (at startup, on every reload, and by `check`) only
// when the config has a persistent-session subset, and handed to the workers inside the
// snapshot. The secrets never reach a log line, /config_dump or /status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StickydError } from '../errors.js';
import type { Snapshot } from '../snapshot/types.js';
import { parseKeyFile } from '../session/key-file.js';

/** Where the README's /etc/stickyd layout keeps it (root 0600 in a 0700 directory). */
export const DEFAULT_SESSION_KEY_FILE = '/etc/stickyd/private/session-keys';
/** Its name as a systemd credential: `LoadCredential=session-keys:/etc/stickyd/private/session-keys`. */
export const SESSION_KEY_CREDENTIAL = 'session-keys';

/**
 * The file to read: the flag's; else the systemd credential when the unit loads one
 * ($CREDENTIALS_DIRECTORY/session-keys); else DEFAULT_SESSION_KEY_FILE.
 */
export function resolveSessionKeyFile(flag: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== null) return flag;
  const dir = env.CREDENTIALS_DIRECTORY;
  return dir !== undefined && dir !== '' ? join(dir, SESSION_KEY_CREDENTIAL) : DEFAULT_SESSION_KEY_FILE;
}

/** The persistent subsets' names, for the error that says a key file is missing. */
function persistentSubsets(snapshot: Snapshot): string[] {
  return snapshot.subsets.filter((s) => s.persistent != null).map((s) => s.name);
}

/**
 * `snapshot` with `sessionKeys` filled when a subset is persistent (unchanged otherwise). A
 * file named by the flag must be readable even when no subset needs it, so a typo is caught
 * before the first persistent config. Throws STICKYD_ERR_SESSION_KEYS saying how to make one.
 */
export function attachSessionKeys(snapshot: Snapshot, flag: string | null, env: NodeJS.ProcessEnv = process.env): Snapshot {
  const needing = persistentSubsets(snapshot);
  if (needing.length === 0 && flag === null) return snapshot;
  const file = resolveSessionKeyFile(flag, env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err);
    const uses = needing.length === 0 ? '' : ` (persistent sessions on ${needing.join(', ')} sign their cookies with it)`;
    throw new StickydError('STICKYD_ERR_SESSION_KEYS', `cannot read the session key file ${file}: ${why}${uses}; make one with: stickyd keygen -o ${file} (or name another with --session-key-file)`, { cause: err });
  }
  const keys = parseKeyFile(file, text);
  if (needing.length === 0) return snapshot;
  return { ...snapshot, sessionKeys: keys.map((k) => k.toString('base64url')) };
}
