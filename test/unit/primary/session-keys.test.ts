import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachSessionKeys, DEFAULT_SESSION_KEY_FILE, resolveSessionKeyFile } from '../../../src/primary/session-keys.js';
import { generateKeyFile } from '../../../src/session/key-file.js';
import type { Snapshot, Subset } from '../../../src/snapshot/types.js';
import { DEFAULT_SETTINGS } from '../../../src/config/index.js';

const subset = (persistent: boolean): Subset => ({
  id: 0, name: 'app', host: 'app', subsetName: null, port: 8080, endpoints: [{ id: '127.0.0.1:1', address: '127.0.0.1', port: 1, weight: 1, labels: {} }],
  policy: { kind: 'random' }, table: null,
  ...(persistent ? { persistent: { kind: 'cookie', name: 's', path: '/', lifetimeSec: 60, maxAge: false, scope: 'cookie:s\0app' } } : {}),
});
const snap = (persistent: boolean): Snapshot => ({ epoch: 1, configHash: '', configPath: 'c', listeners: [], subsets: [subset(persistent)], settings: DEFAULT_SETTINGS });

test('the flag wins, then $CREDENTIALS_DIRECTORY/session-keys, then /etc/stickyd/private/session-keys', (t) => {
  t.is(resolveSessionKeyFile('/k', { CREDENTIALS_DIRECTORY: '/run/c' }), '/k');
  t.is(resolveSessionKeyFile(null, { CREDENTIALS_DIRECTORY: '/run/credentials/stickyd.service' }), '/run/credentials/stickyd.service/session-keys');
  t.is(resolveSessionKeyFile(null, {}), DEFAULT_SESSION_KEY_FILE);
});

test('a persistent config without a key file is refused, saying how to make one', (t) => {
  const err = t.throws(() => attachSessionKeys(snap(true), null, { CREDENTIALS_DIRECTORY: '/nonexistent-dir' }));
  t.is((err as { code?: string }).code, 'STICKYD_ERR_SESSION_KEYS');
  t.regex(err!.message, /\/nonexistent-dir\/session-keys: ENOENT .*persistent sessions on app .*stickyd keygen -o \/nonexistent-dir\/session-keys/);
});

test('keys are attached only when a subset is persistent; a named file must be valid either way; secrets never in the message', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stickyd-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'k');
  writeFileSync(file, generateKeyFile() + generateKeyFile());
  const keyed = attachSessionKeys(snap(true), file);
  t.is(keyed.sessionKeys?.length, 2);
  t.true(keyed.sessionKeys!.every((k) => Buffer.from(k, 'base64url').length === 32));
  t.is(attachSessionKeys(snap(false), null, { CREDENTIALS_DIRECTORY: '/nonexistent-dir' }).sessionKeys, undefined);
  t.is(attachSessionKeys(snap(false), file).sessionKeys, undefined);
  const secretLine = 'c2hvcnQ';
  writeFileSync(file, `${secretLine}\n`);
  const err = t.throws(() => attachSessionKeys(snap(false), file));
  t.is((err as { code?: string }).code, 'STICKYD_ERR_SESSION_KEYS');
  t.false(err!.message.includes(secretLine));
});
