// JSON-lines logger: one object per line, info to stdout and warn/error to stderr. No other module
// writes to the console. When a stream is systemd's journal stream ($JOURNAL_STREAM names its
// device:inode, systemd.exec(5)), each line starts with its sd-daemon(3) level, `<3>` error,
// `<4>` warning, `<6>` info, `<7>` debug: journald strips the prefix and stores the line's
// PRIORITY, so `journalctl -p warning` finds warnings and `-o cat` still prints one JSON object.
// The access log writes its own lines unprefixed: journald files those at the stream's default
// level, info (SyslogLevel=), which is what an access line is.
import { fstatSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** sd-daemon(3) prefixes: SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG */
const JOURNAL_PREFIX: Record<Level, string> = { debug: '<7>', info: '<6>', warn: '<4>', error: '<3>' };
let threshold = ORDER[(process.env.STICKYD_LOG_LEVEL as Level | undefined) ?? 'info'] ?? ORDER.info;
let base: Record<string, unknown> = {};
let journal: { stdout: boolean; stderr: boolean } | null = null;

export function setLogBase(fields: Record<string, unknown>): void {
  base = { ...fields };
}

export function setLogLevel(level: Level): void {
  threshold = ORDER[level];
}

export function log(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer) + '\n';
  const toStderr = ORDER[level] >= ORDER.warn;
  journal ??= journalStreams(process.env.JOURNAL_STREAM);
  const prefix = (toStderr ? journal.stderr : journal.stdout) ? JOURNAL_PREFIX[level] : '';
  (toStderr ? process.stderr : process.stdout).write(prefix + line);
}

/**
 * Which of stdout/stderr is the journal stream `env` ("device:inode") names. A child that
 * inherited the variable but has its output redirected elsewhere gets plain lines.
 */
export function journalStreams(env: string | undefined, fds = { stdout: 1, stderr: 2 }): { stdout: boolean; stderr: boolean } {
  const m = /^(\d+):(\d+)$/.exec(env ?? '');
  if (!m) return { stdout: false, stderr: false };
  const is = (fd: number): boolean => {
    try {
      const st = fstatSync(fd, { bigint: true });
      return st.dev === BigInt(m[1] as string) && st.ino === BigInt(m[2] as string);
    } catch {
      return false;
    }
  };
  return { stdout: is(fds.stdout), stderr: is(fds.stderr) };
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { message: value.message } : { code, message: value.message };
  }
  return value;
}
