// The validated Istio resources, between validation and compilation. Values here are already
// checked and normalised (lower-cased hosts, namespace prefixes dropped, durations in ms); each
// keeps the Place it came from so compilation errors can point back at the YAML.
import type { ConnectionPoolPolicy, CorsPlan, DirectResponsePlan, FaultPlan, LbPolicy, OutlierPolicy, RegexSource, RetryPolicy, RouteMatch, StringMatch } from '../snapshot/types.js';
import type { Place } from './issues.js';

export interface Origin {
  readonly name: string;
  /** the resource's document (path [] = the whole document) */
  readonly place: Place;
}

/** A Gateway server's terminating TLS settings (SIMPLE, MUTUAL, OPTIONAL_MUTUAL), files not yet read. */
export interface ServerTlsRes {
  readonly mode: 'SIMPLE' | 'MUTUAL' | 'OPTIONAL_MUTUAL';
  /** where each PEM comes from: the file path and the field (or credentialName) that named it */
  readonly certificate: FileRef;
  readonly privateKey: FileRef;
  /** null for SIMPLE without caCertificates */
  readonly caCertificates: FileRef | null;
  readonly subjectAltNames: readonly string[];
  /** base64 SHA-256 of the client certificate's SubjectPublicKeyInfo */
  readonly verifyCertificateSpki: readonly string[];
  /** hex SHA-256 of the client certificate's DER, lower-case, no colons */
  readonly verifyCertificateHash: readonly string[];
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  /** OpenSSL names for TLS <= 1.2; null = Node's defaults */
  readonly cipherSuites: readonly string[] | null;
  /** the tls place */
  readonly place: Place;
}

/** DestinationRule trafficPolicy.tls (Istio ClientTLSSettings), files not yet read. */
export interface ClientTlsRes {
  /** DISABLE is kept: a subset's DISABLE overrides the rule's SIMPLE */
  readonly mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL';
  /** null: the system trust store */
  readonly caCertificates: FileRef | null;
  /** MUTUAL only */
  readonly clientCertificate: FileRef | null;
  readonly privateKey: FileRef | null;
  /** lower-case; null: the Host sent upstream (Istio's automatic SNI) */
  readonly sni: string | null;
  /** the server certificate must carry one of these (exact); empty: it must cover the SNI */
  readonly subjectAltNames: readonly string[];
  readonly insecureSkipVerify: boolean;
  /** the tls place */
  readonly place: Place;
}

export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

/** A file named by the config, with the field that named it (for errors about its content). */
export interface FileRef {
  readonly path: string;
  readonly place: Place;
}

export interface GatewayServer {
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly hosts: readonly string[];
  /** metrics and status label: "<Gateway>/<server name or servers[i]>" */
  readonly label: string;
  /** HTTPS servers only */
  readonly tls: ServerTlsRes | null;
  /** HTTP servers only: tls.httpsRedirect */
  readonly httpsRedirect: boolean;
  readonly place: Place;
}

export interface GatewayRes extends Origin {
  /** HTTP and HTTPS servers; other protocols were reported as errors */
  readonly servers: readonly GatewayServer[];
}

export interface DestinationRef {
  readonly host: string;
  readonly subset: string | null;
  /** destination port.number; null when omitted */
  readonly port: number | null;
  readonly weight: number;
  /** the destination's own `headers`, null when none */
  readonly headers: HeadersRes | null;
  /** the route[i].destination place */
  readonly place: Place;
}

/** One Istio HeaderOperations block: names lower-case, set/add sorted by name, Host taken out. */
export interface HeaderBlock {
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export interface HeadersRes {
  readonly request: HeaderBlock | null;
  readonly response: HeaderBlock | null;
  /** a Host (or :authority) in request set/add: Istio makes it an authority rewrite */
  readonly authority: string | null;
}

export interface RewriteRes {
  readonly uri: string | null;
  readonly authority: string | null;
  readonly regex: { readonly pattern: RegexSource; readonly replacement: string } | null;
}

export interface RedirectRes {
  readonly code: number;
  readonly scheme: string | null;
  readonly authority: string | null;
  readonly port: number | null;
  readonly derivePort: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT' | null;
  readonly uri: string | null;
  readonly prefixRewrite: string | null;
}

/** A match with the conditions that depend on the listener only (resolved when listeners are built). */
export interface MatchRes {
  readonly match: RouteMatch;
  /** match.port: the Gateway server port */
  readonly port: number | null;
  /** match.scheme: compared with the listener's scheme */
  readonly scheme: StringMatch | null;
  /** match.gateways (namespace stripped); null when unset */
  readonly gateways: readonly string[] | null;
}

/** One mirror of a route: a destination (weight and headers do not apply) and the share of requests copied to it. */
export interface MirrorRes {
  readonly target: Omit<DestinationRef, 'weight' | 'headers'>;
  /** 0 < percent <= 100 */
  readonly percent: number;
}

export interface HttpRouteRes {
  readonly name: string;
  readonly matches: readonly MatchRes[];
  /** empty when the route redirects or answers directly */
  readonly destinations: readonly DestinationRef[];
  readonly timeoutMs: number | null;
  /** retries, Istio's default when unset; null when turned off (attempts 0) */
  readonly retries: RetryPolicy | null;
  readonly headers: HeadersRes | null;
  readonly rewrite: RewriteRes | null;
  readonly redirect: RedirectRes | null;
  readonly directResponse: DirectResponsePlan | null;
  readonly fault: FaultPlan | null;
  readonly cors: CorsPlan | null;
  /** mirror / mirrors[], in order; empty for none */
  readonly mirrors: readonly MirrorRes[];
  /** http[].delegate: this route's routes come from that VirtualService (compile/delegates.ts); null for none */
  readonly delegate: DelegateRef | null;
  /** the fields the YAML sets (Istio's delegate merge inherits the root's value of each one the delegate route leaves unset) */
  readonly declared: ReadonlySet<string>;
  /** the http[i] place */
  readonly place: Place;
}

export interface DelegateRef {
  /** the delegate VirtualService's name (namespace ignored: stickyd has none) */
  readonly name: string;
  readonly place: Place;
}

export interface GatewayRef {
  readonly name: string;
  readonly place: Place;
}

export interface VirtualServiceRes extends Origin {
  /** empty for a delegate VirtualService (Istio: "It must be empty for a delegate VirtualService") */
  readonly hosts: readonly string[];
  /** gateway names without namespace; "mesh" already removed */
  readonly gateways: readonly GatewayRef[];
  readonly http: readonly HttpRouteRes[];
}

/** One portLevelSettings entry: its policies replace its level's whole for that port (compile/subsets.ts). */
export interface PortPolicy {
  /** the service port number (ServiceEntry ports[].number) */
  readonly port: number;
  readonly lb: LbPolicy | null;
  readonly outlier: OutlierPolicy | null;
  readonly pool: ConnectionPoolPolicy | null;
  readonly tls: ClientTlsRes | null;
  /** where its port.number is written: a warning names it when the service has no such port */
  readonly place: Place;
}

export interface SubsetRes {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** the subset's own loadBalancer, null when it sets none */
  readonly policy: LbPolicy | null;
  /** the subset's own outlierDetection, null when it sets none */
  readonly outlier: OutlierPolicy | null;
  /** the subset's own connectionPool, null when it sets none */
  readonly connectionPool: ConnectionPoolPolicy | null;
  /** the subset's own tls (replaces the rule's whole, as in Istio), null when it sets none */
  readonly tls: ClientTlsRes | null;
  /** the subset's own portLevelSettings (validate/load-balancer.ts) */
  readonly ports: readonly PortPolicy[];
}

export interface DestinationRuleRes extends Origin {
  readonly host: string;
  /** metadata.annotations["stickyd.io/hash-balance-factor"]: bounded load for new sessions; null when unset */
  readonly balanceFactor: number | null;
  /** trafficPolicy.loadBalancer, null when unset */
  readonly policy: LbPolicy | null;
  /** trafficPolicy.outlierDetection, null when unset */
  readonly outlier: OutlierPolicy | null;
  /** trafficPolicy.connectionPool, null when unset */
  readonly connectionPool: ConnectionPoolPolicy | null;
  /** trafficPolicy.tls, null when unset */
  readonly tls: ClientTlsRes | null;
  /** trafficPolicy.portLevelSettings (validate/load-balancer.ts) */
  readonly ports: readonly PortPolicy[];
  readonly subsets: readonly SubsetRes[];
}

/** A ServiceEntry endpoint or a WorkloadEntry spec. */
export interface EndpointSpec {
  /** an IP address (lower-case), or a lower-case host name when `hostname` */
  readonly address: string;
  /** true: `address` is a host name, usable only under resolution DNS / DNS_ROUND_ROBIN */
  readonly hostname: boolean;
  /** service port name -> target port */
  readonly ports: Readonly<Record<string, number>>;
  readonly labels: Readonly<Record<string, string>>;
  /** >= 0; 0 = takes no traffic */
  readonly weight: number;
  readonly place: Place;
}

export interface ServicePort {
  readonly number: number;
  readonly name: string;
  readonly targetPort: number | null;
}

export interface ServiceEntryRes extends Origin {
  readonly hosts: readonly string[];
  /** STATIC: endpoints are IPs; DNS / DNS_ROUND_ROBIN: an endpoint may be a host name, and with none the hosts are resolved */
  readonly resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  readonly ports: readonly ServicePort[];
  /** inline endpoints, or null when the entry selects WorkloadEntries */
  readonly endpoints: readonly EndpointSpec[] | null;
  /** workloadSelector.labels, or null for inline endpoints */
  readonly selector: Readonly<Record<string, string>> | null;
  /** Istio's persistent-session labels on metadata.labels; null when neither is set */
  readonly persistent: PersistentSessionRes | null;
}

/** `istio.io/persistent-session: <cookie>[:<path>]` or `istio.io/persistent-session-header: <header>`. */
export interface PersistentSessionRes {
  readonly kind: 'cookie' | 'header';
  /** the cookie name, or the header name lower-cased */
  readonly name: string;
  /** the cookie path the label gives; null when it gives none */
  readonly path: string | null;
  /** the label's place */
  readonly place: Place;
}

export interface WorkloadEntryRes extends Origin {
  readonly endpoint: EndpointSpec;
}

export interface Resources {
  readonly gateways: readonly GatewayRes[];
  readonly virtualServices: readonly VirtualServiceRes[];
  readonly destinationRules: readonly DestinationRuleRes[];
  readonly serviceEntries: readonly ServiceEntryRes[];
  readonly workloadEntries: readonly WorkloadEntryRes[];
}
