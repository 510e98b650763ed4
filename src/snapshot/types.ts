// The compiled, immutable routing snapshot: data only. The primary builds it from Istio YAML
// (config/: validate/ then compile/) and fills in balancer tables (balancing/build-tables.ts),
// both on a piscina thread (primary/prepare.task.ts), then sends it to every
// worker with structured clone ('advanced' serialization), so typed arrays cross IPC as-is.
// Nothing here may hold functions, class instances, RegExp objects or Maps.

/** A string matcher as Istio's StringMatch; regex is an RE2-style source compiled once per snapshot. */
export interface StringMatch {
  readonly kind: 'exact' | 'prefix' | 'regex';
  readonly value: string;
}

export interface HeaderMatch {
  /** lower-case header name */
  readonly name: string;
  readonly match: StringMatch;
}

export interface QueryParamMatch {
  readonly name: string;
  readonly match: StringMatch;
}

/**
 * One entry of VirtualService http[].match[]; every present field must match (AND). `port`,
 * `scheme` and per-match `gateways` depend only on the listener, so the compiler keeps a match on
 * the listeners it can apply to and drops it from the others: they never reach a worker.
 */
export interface RouteMatch {
  readonly uri: StringMatch | null;
  readonly method: StringMatch | null;
  readonly authority: StringMatch | null;
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly QueryParamMatch[];
  /** ignoreUriCase: exact and prefix uri matches compare case-insensitively (Istio: not regex) */
  readonly ignoreUriCase?: boolean;
  /** withoutHeaders: the match fails when any of these matches (a missing header matches nothing) */
  readonly withoutHeaders?: readonly HeaderMatch[];
}

/**
 * One header edit. The compiler flattens Istio's `headers` blocks into the order Envoy applies
 * them: the destination's (remove, then set, then add), then the route's, each set/add list
 * sorted by name as Istio hands them to Envoy. Names are lower-case; values never hold CR, LF or NUL.
 */
export interface HeaderOp {
  readonly op: 'set' | 'add' | 'remove';
  readonly name: string;
  /** '' for remove */
  readonly value: string;
}

/** An RE2 source translated for JavaScript in the primary (config/regex.ts); the worker only constructs it. */
export interface RegexSource {
  readonly source: string;
  readonly flags: string;
}

/** http[].rewrite of the path (authority is per destination: RouteDestination.authority). */
export interface RewritePlan {
  /** replaces what the match matched: its uri prefix, the whole path for exact and regex, "/" with no uri match (Envoy's prefix_rewrite) */
  readonly uri: string | null;
  /** uriRegexRewrite: every match of `pattern` in the path is replaced; `replacement` uses $1-style groups */
  readonly regex: { readonly pattern: RegexSource; readonly replacement: string } | null;
}

/** http[].redirect, answered by stickyd (Envoy's RedirectAction as Istio fills it). */
export interface RedirectPlan {
  /** 301, 302, 303, 307, 308 */
  readonly code: number;
  /** null: the request's scheme */
  readonly scheme: string | null;
  /** null: the request's Host */
  readonly authority: string | null;
  /** a port for the Location, 0 for none (the scheme's default), null: keep the request Host's own port */
  readonly port: number | null;
  /** replaces the whole path; null keeps it. Without a "?" of its own the request's query is kept */
  readonly uri: string | null;
  /** replaces the matched prefix (the match must be a prefix match); null for none */
  readonly prefixRewrite: string | null;
}

/** http[].fault, as Envoy's fault filter runs it: the delay first, then the abort. Percentages 0-100. */
export interface FaultPlan {
  /** 0: no delay */
  readonly delayMs: number;
  readonly delayPercent: number;
  /** 0: no abort */
  readonly abortStatus: number;
  readonly abortPercent: number;
}

/** http[].corsPolicy, as Envoy's CORS filter runs it; header values joined once here. */
export interface CorsPlan {
  /** an origin is allowed when any matches (exact, prefix, regex: full match) */
  readonly origins: readonly StringMatch[];
  /** "" when unset */
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  /** whole seconds as text, "" when unset */
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  /** Istio's unmatchedPreflights FORWARD (the default): a preflight from an origin not allowed goes upstream */
  readonly forwardUnmatchedPreflights: boolean;
}

/** http[].directResponse, answered by stickyd. */
export interface DirectResponsePlan {
  readonly status: number;
  /** null: no body */
  readonly body: Uint8Array | null;
}

/** One of http[].mirror / mirrors[]: a copy of the forwarded request goes to this subset. */
export interface MirrorPlan {
  /** index into Snapshot.subsets */
  readonly subset: number;
  /** share of requests copied, 0 < percent <= 100 */
  readonly percent: number;
}

export interface RouteDestination {
  /** index into Snapshot.subsets */
  readonly subset: number;
  /** Istio weight; 0 means this destination takes no traffic */
  readonly weight: number;
  /** request edits for this destination, destination's then route's (HeaderOp); absent = none */
  readonly requestHeaders?: readonly HeaderOp[];
  /** response edits for this destination, in the same order; absent = none */
  readonly responseHeaders?: readonly HeaderOp[];
  /** the Host sent upstream: rewrite.authority, else a `host` set in the route's headers, else in the destination's; null keeps the client's */
  readonly authority?: string | null;
}

export interface Route {
  /** "<namespace-less VirtualService name>/http[<i>]" or the route's own name: used in logs */
  readonly name: string;
  /** http[] entries OR their match[] entries: empty means match everything */
  readonly matches: readonly RouteMatch[];
  readonly destinations: readonly RouteDestination[];
  /** sum of destination weights; > 0 unless the route redirects or answers directly */
  readonly totalWeight: number;
  /** VirtualService http[].timeout in ms; null = none */
  readonly timeoutMs: number | null;
  /** VirtualService http[].retries, with Istio's default filled in when unset; null = no retries */
  readonly retries: RetryPolicy | null;
  /** route-level response edits, for the answers stickyd gives itself (redirect, direct response); absent = none */
  readonly responseHeaders?: readonly HeaderOp[];
  readonly rewrite?: RewritePlan | null;
  /** set: the route answers with a redirect and `destinations` is empty */
  readonly redirect?: RedirectPlan | null;
  /** set: the route answers itself and `destinations` is empty */
  readonly directResponse?: DirectResponsePlan | null;
  readonly fault?: FaultPlan | null;
  readonly cors?: CorsPlan | null;
  /** copies of forwarded requests (worker/upstream/mirror.ts); absent = none */
  readonly mirrors?: readonly MirrorPlan[];
  /** set when the destination follows the session key (several carrying destinations, one hashing); absent = chosen at random */
  readonly sessionSplit?: SessionSplit | null;
}

/**
 * A weighted route whose destinations hash on a session key: the destination comes from the key
 * by weighted rendezvous (balancing/rendezvous.ts), so a session stays on one version. stickyd's
 * extension beyond Istio (README, Sticky semantics); compiled by config/compile/session-split.ts.
 */
export interface SessionSplit {
  /** the key whose value decides the destination: the hash key of `decider`'s subset */
  readonly key: HashKey;
  /** index into Route.destinations: the first carrying destination whose subset hashes on a key */
  readonly decider: number;
  /** filled by the builder (balancing/build-tables.ts), one entry per destination; null before the build */
  readonly table: RendezvousTable | null;
}

/** What a weighted route needs to choose a destination from a key: one salt and one inverse weight per destination. */
export interface RendezvousTable {
  /** per destination: a 32-bit hash of the destination's identity, never its order */
  readonly salts: Uint32Array;
  /** per destination: 1 / weight; 0 for a destination of weight 0, which never wins */
  readonly inverseWeights: Float64Array;
}

/** VirtualService http[].retries. Attempts are retries after the first try (Istio/Envoy num_retries). */
export interface RetryPolicy {
  /** >= 1 */
  readonly attempts: number;
  /** per attempt, until response headers; null = only the route timeout bounds an attempt */
  readonly perTryTimeoutMs: number | null;
  /** Envoy retry_on conditions: connect-failure, refused-stream, reset, 5xx, gateway-error, retriable-4xx, ... */
  readonly retryOn: readonly string[];
  /** numeric retryOn entries (Istio "retryOn: 503,connect-failure"): upstream statuses to retry */
  readonly retryStatuses: readonly number[];
  /** Envoy's jittered exponential backoff base (Istio `backoff`, default 25 ms); the cap is 10x it */
  readonly backoffBaseMs?: number;
}

/** The routes of one VirtualService, reachable on a listener through `hosts`. */
export interface VirtualHost {
  readonly name: string;
  /** lower-case; "*" , "*.example.com" or exact "demo.example.com" (no port) */
  readonly hosts: readonly string[];
  readonly routes: readonly Route[];
}

/** One Gateway server port. Host selection: exact host first, then the longest wildcard suffix, then "*". */
export interface Listener {
  /** Gateway server port.number */
  readonly port: number;
  /** every server on one port speaks the same protocol (a mix is a config error) */
  readonly protocol: 'HTTP' | 'HTTPS';
  /** Gateway server hosts (lower-case, Istio "ns/host" prefixes removed); a request whose host matches none gets 404 */
  readonly gatewayHosts: readonly string[];
  readonly virtualHosts: readonly VirtualHost[];
  /**
   * The Gateway servers on this port, in Gateway name then server order. A request (or, on
   * HTTPS, a TLS handshake's SNI) belongs to the server whose hosts match it most specifically.
   */
  readonly servers: readonly ListenerServer[];
}

export interface ListenerServer {
  /** "<Gateway>/<server name>" or "<Gateway>/servers[i]": metrics and status label */
  readonly name: string;
  readonly hosts: readonly string[];
  /** HTTP servers: answer 301 to https://<host><path> before routing */
  readonly httpsRedirect: boolean;
  /** HTTPS servers: the terminating TLS settings; null on HTTP */
  readonly tls: ServerTls | null;
}

/** What a certificate says, read once by the primary (for checks, /status and metrics). */
export interface CertificateInfo {
  /** the file it came from */
  readonly file: string;
  readonly subject: string;
  /** DNS and IP subjectAltNames, e.g. "DNS:demo.example.com" */
  readonly subjectAltNames: readonly string[];
  /** hex, upper-case, as openssl prints it */
  readonly serial: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly fingerprint256: string;
}

/** A Gateway server's terminating TLS, with the PEM bytes the primary read (workers never read files). */
export interface ServerTls {
  readonly mode: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL';
  /** leaf first, then any intermediates, as in the file */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly privateKeyFile: string;
  readonly certificate: CertificateInfo;
  /** client CA bundle (MUTUAL, OPTIONAL_MUTUAL); null for SIMPLE */
  readonly caPem: string | null;
  readonly caFile: string | null;
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher string for TLS <= 1.2, TLS 1.3 suites appended; null = Node's defaults */
  readonly ciphers: string | null;
  /** client certificate checks, each an OR-list; empty = not checked */
  readonly subjectAltNames: readonly string[];
  readonly verifyCertificateSpki: readonly string[];
  readonly verifyCertificateHash: readonly string[];
}

/**
 * DestinationRule tls (SIMPLE or MUTUAL) of a subset, with the PEM text the primary read; a
 * subset without it (or with mode DISABLE) speaks plaintext. Workers and the health checker
 * turn it into Node TLS options (upstream-tls.ts).
 */
export interface UpstreamTls {
  readonly mode: 'SIMPLE' | 'MUTUAL';
  /** trusted CAs: caCertificates, else the system bundle; null only with insecureSkipVerify and no caCertificates */
  readonly caPem: string | null;
  /** the file caPem came from (caCertificates or the system bundle) */
  readonly caFile: string | null;
  /** MUTUAL: the client certificate chain and key we present */
  readonly certificatePem: string | null;
  readonly privateKeyPem: string | null;
  readonly certificateFile: string | null;
  /** SNI sent and, without subjectAltNames, the name the certificate must cover; null: the Host sent upstream */
  readonly sni: string | null;
  /** the server certificate must carry one of these as a DNS, URI or IP SAN (exact); empty: it must cover the SNI */
  readonly subjectAltNames: readonly string[];
  readonly insecureSkipVerify: boolean;
  /** sha256 over every field above: connections are shared only between equal settings */
  readonly key: string;
}

export interface Endpoint {
  /** canonical "address:port" ([v6]:port for IPv6), unique within a subset; also the hash identity */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** >= 1 */
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
  /** label `stickyd.io/drain: "true"`: no new sessions or keyless requests, existing sessions kept; absent = false */
  readonly draining?: boolean;
}

export type HashKey =
  /** ttlSec null: never mint (requests without the cookie are balanced as if no hash applied);
   *  0: mint a session cookie with no Max-Age; > 0: mint with Max-Age */
  | { readonly kind: 'cookie'; readonly name: string; readonly path: string; readonly ttlSec: number | null; readonly attributes?: readonly CookieAttribute[] }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'sourceIp' }
  | { readonly kind: 'query'; readonly name: string };

/** DestinationRule httpCookie.attributes (Istio 1.28): extra Set-Cookie attributes; value '' for a flag such as Secure. */
export interface CookieAttribute {
  readonly name: string;
  readonly value: string;
}

export type LbPolicy =
  | { readonly kind: 'roundRobin' }
  | { readonly kind: 'leastRequest' }
  | { readonly kind: 'random' }
  | {
      readonly kind: 'hash';
      readonly key: HashKey;
      readonly table: 'ring' | 'maglev';
      /** ringHash.minimumRingSize, null when unset */
      readonly minimumRingSize: number | null;
      /** maglev.tableSize (prime), null when unset */
      readonly maglevTableSize: number | null;
    };

/** Sorted points: hashes ascending, endpoints[i] = index into Subset.endpoints of point i. */
export interface RingTable {
  readonly kind: 'ring';
  readonly hashes: Uint32Array;
  readonly endpoints: Uint32Array;
}

/** Maglev lookup table: slot -> index into Subset.endpoints; slot = hash % table.length. */
export interface MaglevTable {
  readonly kind: 'maglev';
  readonly table: Uint32Array;
}

export type BalancerTable = RingTable | MaglevTable;

export interface Subset {
  /** index in Snapshot.subsets */
  readonly id: number;
  /** "<host>/<subset>" or "<host>" for a destination without subset: used in logs, status, metrics */
  readonly name: string;
  readonly host: string;
  readonly subsetName: string | null;
  /** destination port.number (service port) */
  readonly port: number;
  /** sorted by id, deduplicated; never empty */
  readonly endpoints: readonly Endpoint[];
  readonly policy: LbPolicy;
  /** filled by the builder for policy.kind === 'hash'; null otherwise and before the build */
  readonly table: BalancerTable | null;
  /** DestinationRule trafficPolicy.outlierDetection (subset's own, else the rule's); null = off */
  readonly outlier?: OutlierPolicy | null;
  /** DestinationRule trafficPolicy.connectionPool (subset's own, else the rule's: Istio replaces it whole); null = daemon defaults */
  readonly connectionPool?: ConnectionPoolPolicy | null;
  /** DestinationRule trafficPolicy.tls (subset's own, else the rule's); null or absent = plaintext */
  readonly tls?: UpstreamTls | null;
  /** the ServiceEntry's persistent session (signed pins, session/pin.ts); absent or null = none */
  readonly persistent?: PersistentSession | null;
  /** DestinationRule annotation stickyd.io/hash-balance-factor (percent); absent or null = unbounded */
  readonly balanceFactor?: number | null;
  /**
   * ServiceEntry resolution DNS / DNS_ROUND_ROBIN: the names behind some of `endpoints` and the
   * IP endpoints beside them, so the primary can recompute `endpoints` when an answer changes
   * (config/compile/dns-endpoints.ts); null or absent: every endpoint is an IP from the config
   */
  readonly dns?: { readonly sources: readonly DnsSource[]; readonly fixed: readonly Endpoint[] } | null;
}

/** A host name whose addresses are endpoints of a subset (ServiceEntry endpoint address, or its host). */
export interface DnsSource {
  /** lower-case host name */
  readonly name: string;
  /** DNS: every address is an endpoint; DNS_ROUND_ROBIN: one (the current address while the answer still holds it, else the first) */
  readonly mode: 'DNS' | 'DNS_ROUND_ROBIN';
  /** the endpoint port (target port) */
  readonly port: number;
  readonly weight: number;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Istio ConnectionPoolSettings (circuit breakers) as stickyd enforces them. Every limit is for
 * the whole daemon: each worker enforces its share (worker/upstream/circuit-breaker.ts). null =
 * not set (Istio: 2^32-1, no limit; for the timeouts, the daemon's CLI default). Istio reads 0 as
 * unset for the integer fields, and so does the config reader.
 */
export interface ConnectionPoolPolicy {
  /** tcp.maxConnections: upstream connections carrying a request at once, across the subset's endpoints */
  readonly maxConnections: number | null;
  /** http.http1MaxPendingRequests: requests waiting for a connection once maxConnections are busy */
  readonly maxPendingRequests: number | null;
  /** http.http2MaxRequests: requests active to the subset at once */
  readonly maxRequests: number | null;
  /** http.maxRetries: retries outstanding to the subset at once */
  readonly maxRetries: number | null;
  /** http.maxRequestsPerConnection: a connection closes after this many requests (1: no keep-alive) */
  readonly maxRequestsPerConnection: number | null;
  /** tcp.connectTimeout in ms */
  readonly connectTimeoutMs: number | null;
  /** http.idleTimeout, else tcp.idleTimeout (Istio's order), in ms */
  readonly idleTimeoutMs: number | null;
  /** tcp.maxConnectionDuration in ms: no connection lives longer */
  readonly maxConnectionDurationMs: number | null;
  /** tcp.tcpKeepalive: null = unset (undici's default: probes after 60 s idle); else the idle time before the first probe in ms (0: the kernel's) */
  readonly tcpKeepaliveMs: number | null;
}

/** Istio OutlierDetection with Envoy's defaults filled in; durations in ms. */
export interface OutlierPolicy {
  /** 0 disables; Istio default 5 */
  readonly consecutive5xxErrors: number;
  /** 0 disables (Istio default) */
  readonly consecutiveGatewayErrors: number;
  /** ejection sweep interval; Istio default 10 s */
  readonly intervalMs: number;
  /** Istio default 30 s; an endpoint ejected n times stays out n * baseEjectionTime */
  readonly baseEjectionTimeMs: number;
  /** 0-100; Istio default 10, and Envoy always allows one ejection */
  readonly maxEjectionPercent: number;
  /** 0-100; below this share of healthy endpoints health is ignored (Envoy panic threshold); Istio default 0 */
  readonly minHealthPercent: number;
}

export interface ProxySettings {
  /** lru session cache entries per worker */
  readonly sessionCacheSize: number;
  /** verified-pin cache entries per worker (persistent sessions); 0 verifies every pin; absent = the default */
  readonly pinCacheSize?: number;
  /** bytes; a hash key (cookie/header/query value) longer than this is treated as absent */
  readonly maxKeyLength: number;
  readonly upstreamConnectTimeoutMs: number;
  readonly upstreamIdleTimeoutMs: number;
  readonly drainTimeoutMs: number;
  /** header lines per request; more is 431 */
  readonly maxHeaderCount: number;
  /** bytes of request target; longer is 414 */
  readonly maxUriLength: number;
  /** bytes of header fields (names + values + separators); more is 431 */
  readonly maxHeaderBytes: number;
  /** the whole request head must arrive within this (slowloris): 408 and close */
  readonly headersTimeoutMs: number;
  /** the whole request, body included, must arrive within this: 408 and close */
  readonly requestTimeoutMs: number;
  /** idle client keep-alive connections close after this */
  readonly keepAliveTimeoutMs: number;
  /** client connections a worker holds at once; more are closed at accept */
  readonly maxConnectionsPerWorker: number;
  /** an upstream that sends nothing for this long: 504 before the response headers, truncation after */
  readonly upstreamStreamIdleTimeoutMs: number;
  /** peers (IPs or CIDRs) whose X-Forwarded-* headers are kept and appended to */
  readonly trustedProxies: readonly string[];
  /** --credentials-dir: where Gateway tls.credentialName secrets live; null = credentialName is an error */
  readonly credentialsDir: string | null;
  /** --forward-client-cert: send mutual TLS clients' verified certificates upstream in X-Forwarded-Client-Cert */
  readonly forwardClientCert: boolean;
}

export interface Snapshot {
  /** generation: monotonic per primary, 1 for the first config */
  readonly epoch: number;
  /** sha256 (hex) of the config files' bytes, in path order */
  readonly configHash: string;
  readonly configPath: string;
  readonly listeners: readonly Listener[];
  readonly subsets: readonly Subset[];
  readonly settings: ProxySettings;
  /**
   * The session key file's secrets (base64url, first signs), filled by the primary only when a
   * subset is persistent; a secret: never logged, never in /config_dump or /status.
   */
  readonly sessionKeys?: readonly string[];
}

/** A persistent session (signed pin, session/pin.ts) as the worker needs it. */
export interface PersistentSession {
  readonly kind: 'cookie' | 'header';
  /** the cookie name, or the header name lower-cased */
  readonly name: string;
  /** Set-Cookie Path */
  readonly path: string;
  /** pin lifetime in seconds, enforced by the proxy; re-issued once half of it is used */
  readonly lifetimeSec: number;
  /** whether Set-Cookie carries Max-Age=lifetimeSec (false: a browser session cookie) */
  readonly maxAge: boolean;
  /** the same-named DestinationRule httpCookie's attributes, on every pin's Set-Cookie; absent: none */
  readonly attributes?: readonly CookieAttribute[];
  /** bound into every pin's MAC and endpoint tokens: the key's kind and name, and the service host */
  readonly scope: string;
}
