// Istio YAML for test configs: one Gateway on port 80 for every host, and the pieces tests vary.
export const GATEWAY_YAML = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

/** A VirtualService bound to `gw`; `http` is the already-indented list under `http:`. */
export function virtualServiceYaml(hosts: readonly string[], http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs}
spec:
  hosts: [${hosts.join(', ')}]
  gateways: [gw]
  http:
${http}`;
}

/** A STATIC ServiceEntry `host` on port 8080 with one loopback endpoint per port. */
export function serviceEntryYaml(host: string, ports: readonly number[]): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host}}
spec:
  hosts: [${host}]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${ports.map((p) => `  - {address: 127.0.0.1, ports: {http: ${p}}}`).join('\n')}
`;
}

/**
 * demo.example.com -> `host`, sticky by a `session` cookie (60 s). `route` is inserted under the
 * route (e.g. "    retries: ...\n"), `policy` under trafficPolicy (e.g. "    outlierDetection: ...\n").
 */
export function cookieStickyYaml(host: string, ports: readonly number[], opts: { route?: string; policy?: string } = {}): string {
  return `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], `  - route:
    - destination: {host: ${host}}
${opts.route ?? ''}`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, ttl: 60s}
${opts.policy ?? ''}---
${serviceEntryYaml(host, ports)}`;
}
