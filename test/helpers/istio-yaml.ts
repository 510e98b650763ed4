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

/** One ServiceEntry endpoint: a loopback port, or a port with endpoint labels. */
export type LoopbackEndpoint = number | { readonly port: number; readonly labels?: Readonly<Record<string, string>> };

/**
 * A STATIC ServiceEntry `host` on `opts.port` (default 8080) with one loopback endpoint per entry;
 * `opts.labels` become the ServiceEntry's own metadata labels (e.g. istio.io/persistent-session).
 */
export function serviceEntryYaml(
  host: string, endpoints: readonly LoopbackEndpoint[], opts: { port?: number; labels?: Readonly<Record<string, string>> } = {},
): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host}${opts.labels === undefined ? '' : `, labels: ${flowMap(opts.labels)}`}}
spec:
  hosts: [${host}]
  ports: [{number: ${opts.port ?? 8080}, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints:
${endpoints.map((e) => typeof e === 'number' || e.labels === undefined
    ? `  - {address: 127.0.0.1, ports: {http: ${typeof e === 'number' ? e : e.port}}}`
    : `  - {address: 127.0.0.1, ports: {http: ${e.port}}, labels: ${flowMap(e.labels)}}`).join('\n')}
`;
}

/** A YAML flow mapping with every value quoted ("true" stays a string). */
function flowMap(m: Readonly<Record<string, string>>): string {
  return `{${Object.entries(m).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;
}

/**
 * A DestinationRule `name` for `host`, hashing on a `session` cookie (60 s); `policy` is inserted
 * under trafficPolicy after the loadBalancer (e.g. "    tls: ...\n").
 */
export function cookieRuleYaml(host: string, policy = '', name = 'dr'): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}}
spec:
  host: ${host}
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: {name: session, ttl: 60s}
${policy}`;
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
${cookieRuleYaml(host, opts.policy)}---
${serviceEntryYaml(host, ports)}`;
}

/** How splitYaml's DestinationRule and ServiceEntry are written. */
export interface SplitYamlOptions {
  /** loadBalancer under each subset's own trafficPolicy, in subset order ('' or missing: none) */
  readonly subsetPolicies?: readonly string[];
  /** loadBalancer under the DestinationRule's own trafficPolicy */
  readonly policy?: string;
  /** label each subset `version: <its name>` (else `labels: {}`, every endpoint in every subset) */
  readonly byVersion?: boolean;
  /** the ServiceEntry of host svc (serviceEntryYaml('svc', ...)) */
  readonly serviceEntry: string;
}

/**
 * demo.example.com split by `weights` over subsets a, b, c... of svc (one subset a weight), with the
 * DestinationRule and ServiceEntry `opts` describe: the weighted-split configs of the session-split tests.
 */
export function splitYaml(weights: readonly number[], opts: SplitYamlOptions): string {
  const names = 'abcdefgh'.slice(0, weights.length).split('');
  const route = names.map((n, i) => `    - destination: {host: svc, subset: ${n}}\n      weight: ${weights[i]}\n`).join('');
  const subsets = names.map((n, i) => {
    const lb = opts.subsetPolicies?.[i] ?? '';
    return `  - name: ${n}\n    labels: ${opts.byVersion === true ? `{version: ${n}}` : '{}'}\n${lb === '' ? '' : `    trafficPolicy: {loadBalancer: ${lb}}\n`}`;
  }).join('');
  return `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], `  - route:\n${route}`)}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: svc
${opts.policy === undefined ? '' : `  trafficPolicy: {loadBalancer: ${opts.policy}}\n`}  subsets:
${subsets}---
${opts.serviceEntry}`;
}
