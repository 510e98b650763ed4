// The stickyd configuration the benchmarks run: the seed's cookie policy (examples/demo's
// ingress-sticky.yaml, unchanged) and a ServiceEntry whose inline endpoints are the benchmark's
// backends as subset v1. Subsets v2 and v3 need an endpoint each to be valid; the route sends them
// nothing (v2 has weight 0, v3 needs a `stage: dev` header), so they sit on 127.0.0.2/127.0.0.3.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
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
