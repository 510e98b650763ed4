// The stickyd configuration the benchmarks run: the seed's cookie policy (examples/demo's
// ingress-sticky.yaml, unchanged) and a ServiceEntry whose inline endpoints are the benchmark's
// backends as subset v1. Subsets v2 and v3 need an endpoint each to be valid; the route sends them
// nothing (v2 has weight 0, v3 needs a `stage: dev` header), so they sit on 127.0.0.2/127.0.0.3.
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(REPO, 'dist', 'cli.js');
/** The VirtualService's host: every benchmark request carries it. */
export const DEMO_HOST = 'demo.example.com';

export interface V1Endpoint {
  readonly address: string;
  readonly port: number;
}

export function endpointsYaml(v1: readonly V1Endpoint[], parkingPort: number): string {
  const lines = [
    'apiVersion: networking.istio.io/v1',
    'kind: ServiceEntry',
    'metadata:',
    '  name: demo-service',
    'spec:',
    '  hosts: [demo-service]',
    '  ports:',
    '  - {number: 8080, name: http, protocol: HTTP}',
    '  resolution: STATIC',
    '  endpoints:',
  ];
  for (const e of v1) lines.push(`  - {address: ${e.address}, ports: {http: ${e.port}}, labels: {app: demo, version: v1}}`);
  lines.push(`  - {address: 127.0.0.2, ports: {http: ${parkingPort}}, labels: {app: demo, version: v2}}`);
  lines.push(`  - {address: 127.0.0.3, ports: {http: ${parkingPort}}, labels: {app: demo, version: v3}}`);
  return lines.join('\n') + '\n';
}

/** Writes `<dir>/ingress-sticky.yaml` (the seed's) and `<dir>/endpoints.yaml`; returns `dir`. */
export async function writeStickydConfig(dir: string, v1: readonly V1Endpoint[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  await copyFile(join(REPO, 'examples', 'demo', 'ingress-sticky.yaml'), join(dir, 'ingress-sticky.yaml'));
  await writeFile(join(dir, 'endpoints.yaml'), endpointsYaml(v1, v1[0]?.port ?? 8080));
  return dir;
}

/**
 * A weighted sticky route (`bench-split`): the seed's config at v1 80 / v2 20, both subsets sticky
 * by the seed's `session` cookie, the destination chosen from the cookie (session split, README
 * Sticky semantics). v1 is the first backends, v2 the last, so every request reaches a real
 * backend; beside the seed's plain hash route in one run, it shows what the split costs.
 */
export async function writeStickydSplitConfig(dir: string, backends: readonly V1Endpoint[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const seed = await readFile(join(REPO, 'examples', 'demo', 'ingress-sticky.yaml'), 'utf8');
  let n = 0;
  const weighted = seed.replace(/weight: \d+/g, () => `weight: ${n++ === 0 ? 80 : 20}`);
  const v2 = '  - name: v2\n    labels:\n      version: v2\n';
  if (n !== 2 || !weighted.includes(v2)) throw new Error('the seed config changed: bench-split cannot set its weights');
  const sticky = weighted.replace(v2, `${v2}    trafficPolicy:\n      loadBalancer:\n        consistentHash:\n          httpCookie: {name: session, ttl: 60s}\n`);
  await writeFile(join(dir, 'ingress-sticky.yaml'), sticky);
  const v1 = backends.slice(0, Math.max(1, backends.length - 1));
  const last = backends[backends.length - 1]!;
  const text = endpointsYaml(v1, last.port).replace(`{address: 127.0.0.2, ports: {http: ${last.port}}`, `{address: ${last.address}, ports: {http: ${last.port}}`);
  await writeFile(join(dir, 'endpoints.yaml'), text);
  return dir;
}

/**
 * The seed's config with header edits and a rewrite on the route every benchmark request takes
 * (`bench-edits`): request set/add/remove at route and destination level, a response set and
 * remove, and `rewrite.uri` over an exact `/ping` match (the backends serve only /ping, so the
 * rewrite maps it onto itself through the whole-path rewrite code). Beside the plain config in
 * one run, it shows what the edits cost and that the plain route pays nothing for them.
 */
export async function writeStickydEditsConfig(dir: string, v1: readonly V1Endpoint[]): Promise<string> {
  await writeStickydConfig(dir, v1);
  const file = join(dir, 'ingress-sticky.yaml');
  const seed = await readFile(file, 'utf8');
  const plain = '  - match:\n    route:\n    - destination:\n        host: demo-service\n        subset: v1\n';
  if (!seed.includes(plain)) throw new Error('the seed config changed: bench-edits cannot find its v1 route');
  const edited = [
    '  - match:',
    '    - uri: {exact: /ping}',
    '    rewrite: {uri: /ping}',
    '    headers:',
    '      request:',
    '        set: {x-bench-route: "1"}',
    '        add: {x-bench-list: route}',
    '        remove: [x-bench-drop]',
    '      response:',
    '        set: {x-bench-served: stickyd}',
    '        remove: [x-powered-by]',
    '    route:',
    '    - destination:',
    '        host: demo-service',
    '        subset: v1',
    '      headers:',
    '        request: {set: {x-bench-destination: v1}}',
    '',
  ].join('\n');
  await writeFile(file, seed.replace(plain, edited));
  return dir;
}

/**
 * Persistent sessions on the seed's route (`bench-pins`): the seed's config with the ServiceEntry
 * labelled `istio.io/persistent-session: session` (README, Persistent sessions) and a key file made
 * by `stickyd keygen`. The cookie's ttl is raised from the seed's 60 s to 3600 s, the pin's lifetime,
 * so the pins minted before the run stay valid and unrefreshed through it: every measured request
 * is a pinned one (the verified-pin cache, then the endpoint). Returns the config dir and key file.
 */
export async function writeStickydPinsConfig(dir: string, v1: readonly V1Endpoint[]): Promise<{ dir: string; keyFile: string }> {
  await mkdir(dir, { recursive: true });
  const seed = await readFile(join(REPO, 'examples', 'demo', 'ingress-sticky.yaml'), 'utf8');
  const longer = seed.replace(/(name: session\n\s+ttl: )60s/, '$13600s');
  if (longer === seed) throw new Error('the seed config changed: bench-pins cannot set its cookie ttl');
  await writeFile(join(dir, 'ingress-sticky.yaml'), longer);
  const entry = endpointsYaml(v1, v1[0]?.port ?? 8080).replace('  name: demo-service\n', '  name: demo-service\n  labels: {istio.io/persistent-session: session}\n');
  await writeFile(join(dir, 'endpoints.yaml'), entry);
  const keyFile = join(dir, '..', 'stickyd-pins-session-keys');
  const r = spawnSync(process.execPath, [CLI, 'keygen', '-o', keyFile], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`stickyd keygen failed: ${r.stderr}`);
  return { dir, keyFile };
}
