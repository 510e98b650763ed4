// `stickyd explain`: what the daemon would do with one request, without sending it anywhere. It
// builds the snapshot as `run` does (config/ then balancing/build-tables.ts, the WebAssembly
// kernel, the worker's RuntimeSnapshot) and asks the worker's own routing code: resolveRequest
// (routing/resolve-request.ts) decides, and readMatchFailure (routing/route.ts) says why each
// earlier route did not match. Nothing here decides a route itself.
import { buildTables } from '../balancing/build-tables.js';
import { initHasher } from '../balancing/hash.js';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/index.js';
import { applyResolved, readDnsNames } from '../config/compile/dns-endpoints.js';
import { buildResolve, DnsResolver } from '../primary/dns-resolver.js';
import { ConfigError, formatIssue, StickydError } from '../errors.js';
import { loadKernel } from '../kernel/index.js';
import type { HashKey, HeaderOp, Snapshot } from '../snapshot/types.js';
import { lookupHost } from '../worker/downstream/host-table.js';
import { selectServerForHost } from '../worker/downstream/gateway-servers.js';
import { readRequestHost, readRequestPath } from '../worker/downstream/request-head.js';
import { normalizePath } from '../worker/routing/normalize-path.js';
import { HealthState } from '../worker/routing/health-state.js';
import { buildLocation } from '../worker/routing/redirect.js';
import { resolveRequest, type ResolvableRequest } from '../worker/routing/resolve-request.js';
import { AUTHORITY_FAILED, HEADER_FAILED, MATCHED, METHOD_FAILED, QUERY_FAILED, readMatchCut, readMatchFailure, URI_FAILED, WITHOUT_HEADER_FIRED } from '../worker/routing/route.js';
import { buildRuntimeSnapshot, type CompiledNamedMatch, type CompiledRouteMatch, type CompiledStringMatch, type RuntimeListener, type RuntimeRoute, type RuntimeSnapshot } from '../worker/routing/runtime-snapshot.js';
import { readQueryPart } from '../worker/routing/upstream-path.js';
import { parseDnsServer, parseFlags, portNumber, required, UsageError } from './args.js';

export const HELP = `Usage: stickyd explain -c <file-or-dir> --host H --path P [options]

Prints what stickyd would do with one request, without sending it anywhere: the listener and
Gateway server, the VirtualService and the route that match (and why each earlier route did not),
the rewrite, redirect or direct response, the destination subset, the hash key and the endpoint
it maps to. It runs the worker's own routing code on the snapshot 'run' would build. Health is
not known here: every endpoint counts as healthy.

Options:
  -c, --config <path>      Istio YAML file or directory (required)
      --host <host>        the request's Host (required)
      --path <path>        the request target, path and optional ?query (required)
      --method <method>    default GET
      --header <K:V>       a request header; repeatable
      --cookie <name=value>  a cookie; repeatable (joined into one Cookie header)
      --port <n>           the Gateway port the request arrives on (default: the only one)
      --source-ip <ip>     the client address, for useSourceIp (default 127.0.0.1)
      --credentials-dir <dir>  where tls.credentialName secrets live (as for run)
      --dns-server <host:port> resolve ServiceEntry host names there (as for run)
      --json               one JSON object instead of text
  -h, --help               this help

Exit 0 when a route answers the request (forwarded, redirected or answered directly), 1 when it
would be refused (no host, no route, no endpoint, a bad request) or the configuration is invalid.
`;

const FLAGS = {
  config: { type: 'string', short: 'c' }, host: { type: 'string' }, path: { type: 'string' }, method: { type: 'string' },
  header: { type: 'string', multiple: true }, cookie: { type: 'string', multiple: true }, port: { type: 'string' },
  'source-ip': { type: 'string' }, 'credentials-dir': { type: 'string' }, 'dns-server': { type: 'string' }, json: { type: 'boolean' },
} as const;

export async function run(args: string[]): Promise<void> {
  const v = parseFlags('explain', HELP, args, FLAGS) as Record<string, string | boolean | string[] | undefined>;
  const str = (k: string): string | undefined => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const list = (k: string): string[] => (Array.isArray(v[k]) ? (v[k] as string[]) : []);
  const config = required(str('config'), '--config', 'explain');
  const req = buildRequest(required(str('host'), '--host', 'explain'), required(str('path'), '--path', 'explain'), str('method') ?? 'GET', list('header'), list('cookie'), str('source-ip') ?? '127.0.0.1');
  const port = str('port') === undefined ? null : portNumber(str('port')!, '--port', 'explain');
  const json = v.json === true;
  let rt: RuntimeSnapshot;
  try {
    const dnsServer = str('dns-server');
    rt = await buildRuntime(config, str('credentials-dir') ?? null, dnsServer === undefined ? null : parseDnsServer(dnsServer, 'explain'));
  } catch (err) {
    if (!(err instanceof StickydError)) throw err;
    const lines = err instanceof ConfigError ? err.issues.map(formatIssue) : [err.message];
    if (json) process.stdout.write(`${JSON.stringify({ config, valid: false, errors: lines })}\n`);
    else process.stderr.write(`${lines.map((l) => `error: ${l}`).join('\n')}\nstickyd: configuration ${config} is invalid\n`);
    process.exitCode = 1;
    return;
  }
  const report = explainRequest(rt, req, port);
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : formatReport(report));
  process.exitCode = report.outcome === 'refused' ? 1 : 0;
}

/** The snapshot `run` would serve, as a worker holds it (no upstream pools: nothing is sent). */
export async function buildRuntime(config: string, credentialsDir: string | null, dnsServer: string | null = null): Promise<RuntimeSnapshot> {
  const [hasher, kernel] = await Promise.all([initHasher(), loadKernel()]);
  const snapshot = await resolveNames((await loadConfig(config, { credentialsDir })).snapshot, dnsServer);
  // explain never reads the session key file (nor needs its secrets): a persistent subset gets a
  // throwaway key, which places a request as a new session, as it would be without a valid pin
  const persistent = snapshot.subsets.some((s) => s.persistent != null);
  const keyed = persistent ? { ...snapshot, sessionKeys: [randomBytes(32).toString('base64url')] } : snapshot;
  return buildRuntimeSnapshot(buildTables(keyed, hasher), { kernel, hasher });
}

/** ServiceEntry host names (resolution DNS) resolved once, as the primary does at startup; a name that does not resolve is an error. */
async function resolveNames(snapshot: Snapshot, dnsServer: string | null): Promise<Snapshot> {
  const names = readDnsNames(snapshot);
  if (names.length === 0) return snapshot;
  const dns = new DnsResolver(buildResolve(dnsServer));
  try {
    await dns.ensure(names);
  } catch (err) {
    throw new StickydError('STICKYD_ERR_BUILD', err instanceof Error ? err.message : String(err));
  } finally {
    dns.stop();
  }
  return applyResolved(snapshot, dns.resolved(), snapshot.epoch) ?? snapshot;
}

/** A request head as Node's HTTP/1.1 server would hand it over. */
export function buildRequest(
  host: string, path: string, method: string, headers: readonly string[], cookies: readonly string[], sourceIp: string,
): ResolvableRequest {
  const raw: string[] = ['Host', host];
  for (const h of headers) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--header wants Name:value, got '${h}'`, 'explain');
    raw.push(h.slice(0, colon).trim(), h.slice(colon + 1).trim());
  }
  if (cookies.length > 0) raw.push('Cookie', cookies.join('; '));
  const map: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    // Node's joining rules: Cookie with "; ", most others with ", ", Host keeps the first
    if (map[name] === undefined) map[name] = value;
    else if (name === 'cookie') map[name] += `; ${value}`;
    else if (name !== 'host') map[name] += `, ${value}`;
  }
  const version = { httpVersionMajor: 1, httpVersionMinor: 1 };
  return { method: method.toUpperCase(), url: path, headers: map, rawHeaders: raw, ...version, socket: { remoteAddress: sourceIp } };
}

export interface RouteCheck {
  readonly route: string;
  /** null: it matched; else why each of its matches did not */
  readonly failed: readonly string[] | null;
}

export interface ExplainReport {
  readonly request: { readonly method: string; readonly host: string; readonly path: string; readonly port: number | null };
  readonly outcome: 'forwarded' | 'redirect' | 'direct-response' | 'refused';
  readonly listener: { readonly port: number; readonly protocol: string } | null;
  readonly gatewayServer: string | null;
  readonly virtualService: string | null;
  /** every route tried in order, up to the one that matched */
  readonly routes: readonly RouteCheck[];
  readonly route: string | null;
  readonly refused?: { readonly code: string; readonly message: string };
  readonly redirect?: { readonly status: number; readonly location: string };
  readonly directResponse?: { readonly status: number; readonly body: string | null };
  readonly fault?: { readonly delayMs: number; readonly delayPercent: number; readonly abortStatus: number; readonly abortPercent: number };
  readonly cors?: boolean;
  readonly upstream?: { readonly path: string; readonly authority: string | null; readonly requestHeaders: readonly string[] };
  readonly destination?: { readonly subset: string; readonly host: string };
  readonly hash?: { readonly policy: string; readonly key: string | null; readonly minted: boolean };
  readonly endpoint?: { readonly id: string; readonly index: number; readonly of: number } | null;
  readonly mirrors?: readonly { readonly subset: string; readonly endpoint: string | null }[];
}

export function explainRequest(rt: RuntimeSnapshot, req: ResolvableRequest, portFlag: number | null): ExplainReport {
  const host = readRequestHost(req.headers);
  const request = { method: req.method ?? 'GET', host, path: req.url ?? '/', port: portFlag };
  const listener = pickListener(rt, portFlag);
  const where = listener === null ? null : { port: listener.port, protocol: listener.protocol };
  const base = { request, listener: where, gatewayServer: null, virtualService: null, routes: [], route: null };
  if (listener === null) {
    const ports = [...rt.listeners.keys()].join(', ');
    return { ...base, outcome: 'refused', refused: { code: 'STICKYD_ERR_NO_HOST', message: portFlag === null ? `the config listens on ports ${ports}: say which with --port` : `no Gateway server listens on port ${portFlag} (ports: ${ports})` } };
  }
  const server = selectServerForHost(listener.servers, host)?.name ?? null;
  const vhost = lookupHost(listener.gatewayHosts, host) === null ? null : lookupHost(listener.virtualHosts, host);
  const r = resolveRequest(rt, listener.port, req, new HealthState());
  const routes = vhost === null ? [] : checkRoutes(vhost.routes, req);
  const common = { ...base, gatewayServer: server, virtualService: vhost?.name ?? null, routes };
  if (r.kind === 'refused') return { ...common, outcome: 'refused', refused: { code: r.code, message: r.message } };
  if (r.kind === 'server-options') return { ...common, outcome: 'direct-response', directResponse: { status: 200, body: null } };
  if (r.kind === 'https-redirect') return { ...common, outcome: 'redirect', redirect: { status: 301, location: r.location } };
  const route = r.route;
  const plans = route.plans;
  const extra = { route: route.name, ...(plans.fault !== null ? { fault: plans.fault } : {}), ...(plans.cors !== null ? { cors: true } : {}) };
  const answer = plans.answer;
  if (answer !== null && answer.kind === 'direct') {
    return { ...common, ...extra, outcome: 'direct-response', directResponse: { status: answer.status, body: answer.body === null ? null : answer.body.toString('utf8') } };
  }
  if (answer !== null) {
    const cut = answer.plan.prefixRewrite !== null ? readMatchCut(route, req, r.path) : -1;
    const location = buildLocation(answer.plan, { scheme: listener.protocol === 'HTTPS' ? 'https' : 'http', host: req.headers.host ?? '', path: r.path, query: readQueryPart(req.url ?? '/'), cut });
    return { ...common, ...extra, outcome: 'redirect', redirect: { status: answer.plan.code, location } };
  }
  if (r.upstreamPath === null || r.target === null) {
    return { ...common, ...extra, outcome: 'refused', refused: { code: 'STICKYD_ERR_BAD_REQUEST', message: 'an encoded "/" or "\\" in a path this route rewrites' } };
  }
  const t = r.target;
  const subset = t.subset;
  const forwarded = {
    ...common, ...extra,
    upstream: { path: r.upstreamPath, authority: t.authority, requestHeaders: (t.requestEdits ?? []).map(formatEdit) },
    destination: { subset: subset.name, host: subset.host },
    hash: { policy: describeHashKey(subset.hashKey), key: r.key, minted: r.setCookie !== null },
    endpoint: r.index < 0 ? null : { id: subset.endpoints[r.index]!.id, index: r.index, of: subset.endpoints.length },
    ...(r.mirrors !== null
      ? { mirrors: r.mirrors.map((m) => ({ subset: m.subset.name, endpoint: m.index < 0 ? null : m.subset.endpoints[m.index]!.id })) }
      : {}),
  };
  if (r.index < 0) return { ...forwarded, outcome: 'refused', refused: { code: 'STICKYD_ERR_NO_HEALTHY_ENDPOINT', message: `no endpoint of ${subset.name} is available` } };
  return { ...forwarded, outcome: 'forwarded' };
}

function pickListener(rt: RuntimeSnapshot, port: number | null): RuntimeListener | null {
  if (port !== null) return rt.listeners.get(port) ?? null;
  return rt.listeners.size === 1 ? [...rt.listeners.values()][0]! : null;
}

/** Each route in order until the first that matches, with why the earlier ones did not. */
function checkRoutes(routes: readonly RuntimeRoute[], req: ResolvableRequest): RouteCheck[] {
  const url = req.url ?? '/';
  // the path routing matches: normalised, as resolveRequest has it
  const path = normalizePath(readRequestPath(url));
  const out: RouteCheck[] = [];
  for (const route of routes) {
    if (route.matches.length === 0) {
      out.push({ route: route.name, failed: null });
      break;
    }
    const failed = route.matches.map((m) => ({ m, f: readMatchFailure(m, req, url, path) }));
    if (failed.some((x) => x.f === MATCHED)) {
      out.push({ route: route.name, failed: null });
      break;
    }
    out.push({ route: route.name, failed: failed.map(({ m, f }, i) => `match[${i}]: ${describeFailure(m, f, req, path)}`) });
  }
  return out;
}

function describeFailure(m: CompiledRouteMatch, f: number, req: ResolvableRequest, path: string): string {
  const has = (v: string | undefined): string => (v === undefined ? 'the request has none' : `the request has ${JSON.stringify(v)}`);
  if (f === URI_FAILED) return `uri wants ${describeMatch(m.uri!)}${m.uriLower ? ' (ignoring case)' : ''}, the path is ${JSON.stringify(path)}`;
  if (f === METHOD_FAILED) return `method wants ${describeMatch(m.method!)}, ${has(req.method)}`;
  if (f === AUTHORITY_FAILED) return `authority wants ${describeMatch(m.authority!)}, ${has(req.headers.host)}`;
  const named = (list: readonly CompiledNamedMatch[], i: number): CompiledNamedMatch => list[i]!;
  if (f >= QUERY_FAILED) {
    const q = named(m.queryParams, f - QUERY_FAILED);
    return `query parameter ${q.name} wants ${describeMatch(q.match)}`;
  }
  if (f >= WITHOUT_HEADER_FIRED) {
    const h = named(m.withoutHeaders, f - WITHOUT_HEADER_FIRED);
    return `withoutHeaders: header ${h.name} ${describeMatch(h.match)} is there`;
  }
  const h = named(m.headers, f - HEADER_FAILED);
  const value = req.headers[h.name];
  return `header ${h.name} wants ${describeMatch(h.match)}, ${has(typeof value === 'string' ? value : value?.[0])}`;
}

function describeMatch(m: CompiledStringMatch): string {
  if (m.kind === 'prefix' && m.value === '') return 'to be present';
  return `${m.kind} ${JSON.stringify(m.value)}`;
}

function describeHashKey(k: HashKey | null): string {
  if (k === null) return 'none (the subset balances without a key)';
  switch (k.kind) {
    case 'cookie': return `cookie ${k.name}`;
    case 'header': return `header ${k.name}`;
    case 'sourceIp': return 'source IP';
    case 'query': return `query parameter ${k.name}`;
  }
}

function formatEdit(e: HeaderOp): string {
  return e.op === 'remove' ? `remove ${e.name}` : `${e.op} ${e.name}: ${e.value}`;
}

export function formatReport(r: ExplainReport): string {
  const lines: string[] = [`request: ${r.request.method} ${r.request.host}${r.request.path}`];
  const add = (label: string, value: string): void => { lines.push(`${`${label}:`.padEnd(16)}${value}`); };
  if (r.listener !== null) add('listener', `port ${r.listener.port} (${r.listener.protocol})`);
  if (r.gatewayServer !== null) add('gateway server', r.gatewayServer);
  if (r.virtualService !== null) add('virtualservice', r.virtualService);
  for (const c of r.routes) {
    if (c.failed === null) lines.push(`  route ${c.route}: matches`);
    else lines.push(`  route ${c.route}: no match`, ...c.failed.map((f) => `    ${f}`));
  }
  if (r.route !== null) add('route', r.route);
  if (r.fault !== undefined) add('fault', `delay ${r.fault.delayMs} ms for ${r.fault.delayPercent} %, abort ${r.fault.abortStatus || '-'} for ${r.fault.abortPercent} %`);
  if (r.cors === true) add('cors', 'the route applies a CORS policy');
  if (r.redirect !== undefined) add('redirect', `${r.redirect.status} Location: ${r.redirect.location}`);
  if (r.directResponse !== undefined) add('direct response', `${r.directResponse.status}${r.directResponse.body === null ? '' : ` ${JSON.stringify(r.directResponse.body)}`}`);
  if (r.upstream !== undefined) {
    add('upstream path', r.upstream.path);
    if (r.upstream.authority !== null) add('upstream host', r.upstream.authority);
    for (const h of r.upstream.requestHeaders) add('request header', h);
  }
  if (r.destination !== undefined) add('destination', `${r.destination.subset} (host ${r.destination.host})`);
  if (r.hash !== undefined) {
    const h = r.hash;
    const key = h.key === null ? (h.policy.startsWith('none') ? '' : ': the request carries none (balanced without a key)') : `: ${JSON.stringify(h.key)}${h.minted ? ' (none sent: minted now, so this endpoint is one random pick)' : ''}`;
    add('hash key', `${h.policy}${key}`);
  }
  if (r.endpoint != null) add('endpoint', `${r.endpoint.id} (${r.endpoint.index + 1} of ${r.endpoint.of}; health not known here, all taken as up)`);
  for (const m of r.mirrors ?? []) add('mirror', `${m.subset} -> ${m.endpoint ?? 'no endpoint'}`);
  if (r.refused !== undefined) add('refused', `${r.refused.code}: ${r.refused.message}`);
  return `${lines.join('\n')}\n`;
}
