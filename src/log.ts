// JSON-lines logger: one object per line, info to stdout and warn/error to stderr, so journald
// keeps both with their priority. No other module writes to the console.

export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold = ORDER[(process.env.STICKYD_LOG_LEVEL as Level | undefined) ?? 'info'] ?? ORDER.info;
let base: Record<string, unknown> = {};

export function setLogBase(fields: Record<string, unknown>): void {
  base = { ...fields };
}

export function setLogLevel(level: Level): void {
  threshold = ORDER[level];
}

export function log(level: Level, msg: string, fields?: Record<string, unknown>): void {
  if (ORDER[level] < threshold) return;
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer) + '\n';
  (ORDER[level] >= ORDER.warn ? process.stderr : process.stdout).write(line);
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return code === undefined ? { message: value.message } : { code, message: value.message };
  }
  return value;
}
