// Real demo backends on ephemeral loopback ports, and the endpoints YAML that declares them.
import { mkdtemp, writeFile, copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend, type Backend } from '../../src/demo/backend.js';

export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

export interface BackendSpec { readonly instance: string; readonly version: string; readonly metadata: string }

export const SEED_TOPOLOGY: readonly BackendSpec[] = [
  { instance: 'demo-v1-a', version: 'v1', metadata: 'production' },
  { instance: 'demo-v1-b', version: 'v1', metadata: 'production' },
  { instance: 'demo-v1-c', version: 'v1', metadata: 'production' },
  { instance: 'demo-v2-a', version: 'v2', metadata: 'staging' },
  { instance: 'demo-v3-a', version: 'v3', metadata: 'dev' },
];

export async function startBackends(specs: readonly BackendSpec[] = SEED_TOPOLOGY): Promise<Backend[]> {
  return Promise.all(specs.map((s) => startBackend({ host: '127.0.0.1', port: 0, ...s })));
}

/** ServiceEntry demo-service + one WorkloadEntry per backend, labelled app=demo, version=<v>. */
export function endpointsYaml(backends: readonly Backend[], specs: readonly BackendSpec[] = SEED_TOPOLOGY): string {
  const head = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: demo-service
spec:
  hosts: [demo-service]
  ports:
  - number: 8080
    name: http
    protocol: HTTP
  resolution: STATIC
  workloadSelector:
    labels:
      app: demo
`;
  const entries = backends.map((b, i) => `---
apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: ${specs[i]?.instance}
spec:
  address: 127.0.0.1
  ports:
    http: ${b.port}
  labels:
    app: demo
    version: ${specs[i]?.version}
`);
  return head + entries.join('');
}

/** A temp config dir holding one of examples/<name>/'s Istio files plus endpoints for `backends`. */
export async function configDir(example: 'demo' | 'weighted', backends: readonly Backend[], specs?: readonly BackendSpec[]): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-test-'));
  const file = example === 'demo' ? 'ingress-sticky.yaml' : 'ingress-weighted.yaml';
  await copyFile(join(EXAMPLES, example, file), join(dir, file));
  await writeFile(join(dir, 'endpoints.yaml'), endpointsYaml(backends, specs));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
