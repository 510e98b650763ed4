// Reading /metrics in tests: scrape, look a sample up by name and labels, and run promtool.
import { spawnSync } from 'node:child_process';
import http from 'node:http';

export type Samples = Map<string, number>;

export function scrape(adminPort: number, path = '/metrics'): Promise<{ status: number; type: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: adminPort, path, agent: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/** Sample lines -> value, keyed `name{a="x",b="y"}` exactly as printed (stickyd prints labels in a fixed order). */
export function parseSamples(text: string): Samples {
  const out: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

/** The value of `name{labels}`; labels in the order stickyd prints them. undefined when absent. */
export function sample(samples: Samples, name: string, labels: Record<string, string> = {}): number | undefined {
  const entries = Object.entries(labels);
  const key = entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  return samples.get(key);
}

/** Sum of every sample of `name` whose labels include `where`. */
export function sumWhere(samples: Samples, name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of samples) {
    if (key !== name && !key.startsWith(`${name}{`)) continue;
    if (Object.entries(where).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/** promtool check metrics: null when promtool is missing (Debian package: prometheus). */
export function promtoolCheck(text: string): { ok: boolean; output: string } | null {
  const version = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (version.error !== undefined || version.status !== 0) return null;
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
