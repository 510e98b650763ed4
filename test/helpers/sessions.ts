// Maps session keys to the backend instance that answers them, through the proxy, with bounded
// concurrency on keep-alive connections.
import http from 'node:http';

export async function mapSessions(
  port: number,
  keys: readonly string[],
  opts: { concurrency?: number; path?: string; host?: string } = {},
): Promise<Map<string, string>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 32 });
  const out = new Map<string, string>();
  let next = 0;
  const one = (key: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: opts.path ?? '/ping', agent, headers: { host: opts.host ?? 'demo.example.com', cookie: `session=${key}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => {
          try {
            out.set(key, res.statusCode === 200 ? (JSON.parse(body) as { instance: string }).instance : `HTTP ${res.statusCode}`);
          } catch {
            out.set(key, `bad body ${res.statusCode}`);
          }
          resolve();
        });
      });
      req.on('error', reject);
    });
  const workers = Array.from({ length: opts.concurrency ?? 32 }, async () => {
    while (next < keys.length) await one(keys[next++]!);
  });
  try {
    await Promise.all(workers);
  } finally {
    agent.destroy();
  }
  return out;
}
