// Before a proxy is measured, check that it does the job being compared: it answers 200 with a
// backend's JSON, the same session cookie always reaches the same backend, and different cookies
// spread over more than one backend. A proxy that fails is still measured, and the table says so.
import http from 'node:http';

interface Reply {
  readonly status: number;
  readonly instance: string | null;
  readonly setCookie: readonly string[];
}

function get(port: number, host: string, cookie: string | null): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host };
    if (cookie !== null) headers.cookie = cookie;
    const req = http.get({ host: '127.0.0.1', port, path: '/ping', headers, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        let instance: string | null = null;
        try { instance = (JSON.parse(body) as { instance?: string }).instance ?? null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, instance, setCookie: res.headers['set-cookie'] ?? [] });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** COOKIES distinct sessions, each asked REPEATS times. */
const COOKIES = 12;
const REPEATS = 3;

/** 'ok' or what went wrong. `mints`: the proxy issues the cookie itself (no cookie sent first). */
export async function checkSticky(port: number, host: string, cookieValues: readonly string[], mints: boolean): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < COOKIES; i++) {
    let cookie: string | null = `session=${cookieValues[i % cookieValues.length]}`;
    if (mints) {
      const first = await get(port, host, null);
      const minted = first.setCookie.find((c) => c.startsWith('session='));
      if (first.status !== 200 || minted === undefined) return `no session cookie minted (status ${first.status})`;
      cookie = minted.split(';', 1)[0]!;
    }
    let instance: string | null = null;
    for (let r = 0; r < REPEATS; r++) {
      const reply = await get(port, host, cookie);
      if (reply.status !== 200 || reply.instance === null) return `GET /ping answered ${reply.status}`;
      if (instance !== null && reply.instance !== instance) return `${cookie} reached ${instance} then ${reply.instance}`;
      instance = reply.instance;
    }
    seen.add(instance!);
  }
  return seen.size > 1 ? 'ok' : `all ${COOKIES} sessions reached one backend (${[...seen].join(', ')})`;
}

/** Waits until GET /ping answers 200 (the port may accept before routing is ready). */
export async function waitForOk(port: number, host: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const r = await get(port, host, null);
      if (r.status === 200) return;
      last = `status ${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not answer GET /ping with 200 within ${timeoutMs} ms (${last})`);
}
