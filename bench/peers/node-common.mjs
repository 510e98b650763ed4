// Shared by the Node peer proxies (node-http-proxy.mjs, node-plain.mjs, undici-proxy.mjs): their
// settings from the environment, a cookie-sticky backend choice, and a node:cluster primary that
// forks WORKERS workers and stops them on SIGTERM/SIGINT. Plain JavaScript so the peers run
// without a TypeScript loader, as a user would run them.
import cluster from 'node:cluster';

export const PORT = Number(process.env.PORT);
export const BACKENDS = (process.env.BACKENDS ?? '').split(',').filter(Boolean).map(Number);
const WORKERS = Number(process.env.WORKERS ?? 2);

/** The `session` cookie's value, or null. A plain scan: what a hand-written Node proxy would do. */
function sessionCookie(header) {
  if (header === undefined) return null;
  const at = header.indexOf('session=');
  if (at === -1 || (at > 0 && header.charCodeAt(at - 1) !== 0x20 && header.charCodeAt(at - 1) !== 0x3b)) return null;
  const end = header.indexOf(';', at);
  return header.slice(at + 8, end === -1 ? header.length : end);
}

let next = 0;
/** Backend index: FNV-1a of the session cookie modulo the backend count; round robin without one. */
export function pickBackend(req) {
  const value = sessionCookie(req.headers.cookie);
  if (value === null) return (next = (next + 1) % BACKENDS.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ value.charCodeAt(i), 0x01000193);
  return (h >>> 0) % BACKENDS.length;
}

/** In the primary: fork the workers and return true; in a worker: return false. */
export function runPrimary({ needsBackends = true } = {}) {
  if (!cluster.isPrimary) {
    // exit normally on SIGTERM so `node --cpu-prof` writes the worker's profile
    process.on('SIGTERM', () => process.exit(0));
    return false;
  }
  if (!(PORT > 0) || (needsBackends && BACKENDS.length === 0)) {
    process.stderr.write('PORT and BACKENDS (comma-separated ports) are required\n');
    process.exit(2);
  }
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  // The harness SIGKILLs the process group once the primary has exited, so the primary waits for
  // its workers: a worker under `node --cpu-prof` writes its profile as it exits.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    if (workers.length === 0) process.exit(0);
    let left = workers.length;
    cluster.on('exit', () => { if (--left === 0) process.exit(0); });
    for (const w of workers) w.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return true;
}
