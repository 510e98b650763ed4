// The session key file (`--session-key-file`): one key per line, base64url (or base64) of at
// least 32 random bytes; blank lines and lines starting with `#` are skipped. The first key signs
// new pins, every key verifies, so a key is rotated by putting a new one first and removing the
// old one once the longest pin lifetime has passed. `stickyd keygen` writes one.
import { randomBytes } from 'node:crypto';
import { StickydError } from '../errors.js';

/** HMAC-SHA256's block-size argument aside, 256 bits is what its security level asks for. */
export const MIN_KEY_BYTES = 32;
const KEY_LINE = /^[0-9A-Za-z_+/-]+={0,2}$/;

/** The secrets of a key file's text, first (signing) key first; throws naming the file and line. */
export function parseKeyFile(file: string, text: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const secret = KEY_LINE.test(line) ? Buffer.from(line.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, ''), 'base64url') : null;
    if (secret === null || secret.length < MIN_KEY_BYTES) {
      // the line itself is a secret: never echo it
      throw new StickydError('STICKYD_ERR_SESSION_KEYS', `${file}:${i + 1}: not a session key: expected base64url of at least ${MIN_KEY_BYTES} bytes (make one with: stickyd keygen -o ${file})`);
    }
    if (keys.some((k) => k.equals(secret))) throw new StickydError('STICKYD_ERR_SESSION_KEYS', `${file}:${i + 1}: this key is listed twice`);
    keys.push(secret);
  });
  if (keys.length === 0) throw new StickydError('STICKYD_ERR_SESSION_KEYS', `${file}: no session key in the file (make one with: stickyd keygen -o ${file})`);
  return keys;
}

/** A new key file's text: a comment and one fresh 256-bit key. */
export function generateKeyFile(): string {
  return `# stickyd session keys: the first line signs, every line verifies. Keep this file secret.\n${randomBytes(MIN_KEY_BYTES).toString('base64url')}\n`;
}
