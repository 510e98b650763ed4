// log.ts: which streams are systemd's journal stream ($JOURNAL_STREAM is "device:inode").
import test from 'ava';
import { openSync, closeSync, fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalStreams } from '../../src/log.js';

function twoFiles(t: import('ava').ExecutionContext): { a: number; b: number; id(fd: number): string } {
  const dir = mkdtempSync(join(tmpdir(), 'stickyd-log-'));
  const a = openSync(join(dir, 'a'), 'w');
  const b = openSync(join(dir, 'b'), 'w');
  t.teardown(() => { closeSync(a); closeSync(b); rmSync(dir, { recursive: true, force: true }); });
  const id = (fd: number): string => { const st = fstatSync(fd, { bigint: true }); return `${st.dev}:${st.ino}`; };
  return { a, b, id };
}

test('a stream is the journal only when its own device:inode is the one $JOURNAL_STREAM names', (t) => {
  const { a, b, id } = twoFiles(t);
  t.deepEqual(journalStreams(id(a), { stdout: a, stderr: b }), { stdout: true, stderr: false });
  t.deepEqual(journalStreams(id(b), { stdout: a, stderr: b }), { stdout: false, stderr: true });
  t.deepEqual(journalStreams(id(a), { stdout: a, stderr: a }), { stdout: true, stderr: true });
});

test('no prefix without $JOURNAL_STREAM, with a malformed one, or when the fd is closed', (t) => {
  const { a, b, id } = twoFiles(t);
  const none = { stdout: false, stderr: false };
  t.deepEqual(journalStreams(undefined, { stdout: a, stderr: b }), none);
  t.deepEqual(journalStreams('', { stdout: a, stderr: b }), none);
  t.deepEqual(journalStreams(`${id(a)}x`, { stdout: a, stderr: b }), none);
  t.deepEqual(journalStreams('8:1', { stdout: a, stderr: b }), none, 'another inode');
  t.deepEqual(journalStreams(id(a), { stdout: 987654, stderr: 987655 }), none);
});
