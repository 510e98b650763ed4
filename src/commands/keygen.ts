// `stickyd keygen`: a new session key file for persistent sessions (session/key-file.ts).
import { writeFileSync } from 'node:fs';
import { generateKeyFile } from '../session/key-file.js';
import { parseFlags, UsageError } from './args.js';

export const HELP = `Usage: stickyd keygen [-o <file>] [--force]

Writes a new session key file: one random 256-bit key, the signing key of persistent-session
pins (ServiceEntry label istio.io/persistent-session). Without -o the file goes to stdout.

To rotate keys, put the new key's line first in the existing file and keep the old line until the
longest pin lifetime has passed: the first line signs, every line verifies. Then reload.

Options:
  -o, --output <file>  write here, mode 0600 (refuses an existing file without --force)
      --force          replace an existing file
  -h, --help           this help
`;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('keygen', HELP, args, { output: { type: 'string', short: 'o' }, force: { type: 'boolean' } });
  const text = generateKeyFile();
  if (typeof v.output !== 'string') {
    if (v.force === true) throw new UsageError('--force needs -o <file>', 'keygen');
    process.stdout.write(text);
    return;
  }
  try {
    // 'wx' fails on an existing file (no race between a check and the write); mode applies on creation
    writeFileSync(v.output, text, { mode: 0o600, flag: v.force === true ? 'w' : 'wx' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EEXIST' ? 'it exists (pass --force to replace it: every pin signed by its keys stops verifying)' : (e.code ?? String(err));
    process.stderr.write(`stickyd keygen: cannot write ${v.output}: ${why}\n`);
    process.exitCode = 1;
    return;
  }
  process.stderr.write(`stickyd keygen: wrote ${v.output} (mode 0600)\n`);
}
