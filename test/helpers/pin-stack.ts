// Persistent-session test rig: tiny named backends (optionally slow), Istio YAML with a
// persistent-session ServiceEntry, a key file, reloads, and a keep-alive client fast enough
// for thousands of sessions (node:http, not one curl process per request).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './daemon.js';
import { getJson, sleep } from './http.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from './istio-yaml.js';

export interface NamedBackend {
  readonly name: string;
  readonly port: number;
  /** ms each response waits; change at will */
  delayMs: number;
  close(): Promise<void>;
}

export async function startNamedBackend(name: string, delayMs = 0): Promise<NamedBackend> {
  const state = { delayMs };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = (): void => {
        const body = JSON.stringify({ instance: name });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    get delayMs() { return state.delayMs; },
    set delayMs(v: number) { state.delayMs = v; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface ServiceSpec {
  /** ServiceEntry host, also the route prefix /<host>/ */
  readonly host: string;
  readonly backends: readonly NamedBackend[];
  /** `istio.io/persistent-session` label value; absent: plain consistent hash on the cookie */
  readonly persistent?: string;
  readonly drain?: readonly string[];
  readonly balanceFactor?: number;
  /** the DestinationRule's loadBalancer (default: httpCookie session, ttl 3600s) */
  readonly loadBalancer?: string;
}

/** One Gateway, one VirtualService routing /<host>/ to each service, their rules and entries. */
export function buildPinConfig(services: readonly ServiceSpec[]): string {
  const routes = services.map((s) => `  - match: [{uri: {prefix: /${s.host}/}}]\n    route:\n    - destination: {host: ${s.host}}\n`).join('');
  const docs = [GATEWAY_YAML, virtualServiceYaml(['demo.example.com'], routes)];
  for (const s of services) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: ${s.host}
${s.balanceFactor !== undefined ? `  annotations: {stickyd.io/hash-balance-factor: "${s.balanceFactor}"}\n` : ''}spec:
  host: ${s.host}
  trafficPolicy:
    loadBalancer:
      ${s.loadBalancer ?? 'consistentHash: {httpCookie: {name: session, ttl: 3600s}}'}
`);
    docs.push(serviceEntryYaml(
      s.host,
      s.backends.map((b) => (s.drain?.includes(b.name) ? { port: b.port, labels: { 'stickyd.io/drain': 'true' } } : b.port)),
      s.persistent === undefined ? {} : { labels: { 'istio.io/persistent-session': s.persistent } },
    ));
  }
  return docs.join('---\n');
}

export interface ConfigDir {
  readonly dir: string;
  readonly configFile: string;
  readonly keyFile: string;
  write(text: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** A temp dir with config.yaml and, apart from it, a key file made by `stickyd keygen`. */
export async function makeConfigDir(text: string): Promise<ConfigDir> {
  const root = await mkdtemp(join(tmpdir(), 'stickyd-pins-'));
  const dir = join(root, 'conf');
  await (await import('node:fs/promises')).mkdir(dir);
  const configFile = join(dir, 'config.yaml');
  const keyFile = join(root, 'session-keys');
  const keygen = await runCli(['keygen', '-o', keyFile]);
  if (keygen.code !== 0) throw new Error(`keygen failed: ${keygen.stderr}`);
  const write = async (t: string): Promise<void> => {
    const tmp = `${configFile}.tmp`;
    await writeFile(tmp, t);
    await (await import('node:fs/promises')).rename(tmp, configFile);
  };
  await write(text);
  return { dir, configFile, keyFile, write, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** SIGHUP and wait until every worker serves the new generation. */
export async function reloadAndWait(pid: number, adminPort: number): Promise<void> {
  const before = (await getJson<{ generation: number }>(`http://127.0.0.1:${adminPort}/status`)).body.generation;
  process.kill(pid, 'SIGHUP');
  // a reload on a machine shared by many test runs can take several seconds
  for (let i = 0; i < 1200; i++) {
    await sleep(50);
    const s = (await getJson<{ generation: number; ready: boolean; lastReload: { ok: boolean; error: string | null } | null; workers: { epoch: number }[] }>(`http://127.0.0.1:${adminPort}/status`)).body;
    if (s.lastReload !== null && !s.lastReload.ok && s.generation === before && i > 20) throw new Error(`reload failed: ${s.lastReload.error}`);
    if (s.generation > before && s.ready && s.workers.every((w) => w.epoch === s.generation)) return;
  }
  throw new Error('reload did not apply in 60 s');
}

export interface Answer {
  readonly status: number;
  readonly instance: string;
  /** our Set-Cookie value for `session`, or null */
  readonly pin: string | null;
  /** that Set-Cookie line whole (value and attributes), or null */
  readonly setCookie: string | null;
  /** the response's Cache-Control, or null */
  readonly cacheControl: string | null;
}

/** A keep-alive client: `send(path, cookie)` with bounded concurrency via `all`. */
export class FastClient {
  #agent: http.Agent;
  constructor(readonly port: number, readonly concurrency = 32) {
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  }

  /**
   * Fresh connections for the next phase: a keep-alive socket left idle past the daemon's
   * keep-alive timeout (a reload can take that long here) may be closed just as it is reused.
   */
  reconnect(): void {
    this.#agent.destroy();
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: this.concurrency });
  }

  send(path: string, cookie: string | null, cookieName = 'session'): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { host: 'demo.example.com' };
      if (cookie !== null) headers.cookie = `${cookieName}=${cookie}`;
      const req = http.get({ host: '127.0.0.1', port: this.port, path, agent: this.#agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => { body += d; });
        res.on('end', () => {
          const set = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith(`${cookieName}=`));
          let instance = `HTTP ${res.statusCode}`;
          try { if (res.statusCode === 200) instance = (JSON.parse(body) as { instance: string }).instance; } catch { /* keep the status */ }
          const pin = set === undefined ? null : set.slice(cookieName.length + 1).split(';')[0]!;
          resolve({ status: res.statusCode ?? 0, instance, pin, setCookie: set ?? null, cacheControl: res.headers['cache-control'] ?? null });
        });
      });
      req.on('error', reject);
    });
  }

  /** Runs `jobs` with at most `concurrency` in flight; answers in job order. */
  async all<T>(jobs: readonly (() => Promise<T>)[]): Promise<T[]> {
    const out: T[] = new Array(jobs.length);
    let next = 0;
    await Promise.all(Array.from({ length: this.concurrency }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }));
    return out;
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** n new sessions on `path`: each answer's pin and endpoint. */
export async function mintSessions(client: FastClient, path: string, n: number): Promise<Answer[]> {
  return client.all(Array.from({ length: n }, () => () => client.send(path, null)));
}

/** Replays each session's pin; the answers in the same order. */
export async function replaySessions(client: FastClient, path: string, pins: readonly string[]): Promise<Answer[]> {
  return client.all(pins.map((p) => () => client.send(path, p)));
}
