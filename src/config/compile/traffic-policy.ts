// The traffic policy one (DestinationRule, subset, port) gets, by Istio's rule (pilot's
// MergeSubsetTrafficPolicy): at each level a portLevelSettings entry for the port replaces that
// level's loadBalancer, connectionPool, outlierDetection and tls whole, and a field it leaves out is
// the default, not the level's top-level value ("port-level settings will override the
// destination-level settings ... default values will be applied to fields omitted", Istio's
// DestinationRule reference). Then the subset's fields override the rule's one by one, except
// that a subset port-level entry overrides all four, set or not.
import type { ConnectionPoolPolicy, LbPolicy, OutlierPolicy } from '../../snapshot/types.js';
import type { ClientTlsRes, PortPolicy } from '../resources.js';

export interface MergedPolicy {
  /** null: the default (LEAST_REQUEST) */
  readonly lb: LbPolicy | null;
  readonly outlier: OutlierPolicy | null;
  readonly pool: ConnectionPoolPolicy | null;
  /** null: plaintext */
  readonly tls: ClientTlsRes | null;
}

/** A DestinationRule's or a subset's own policies (resources.ts shapes). */
export interface PolicyLevel {
  readonly policy: LbPolicy | null;
  readonly outlier: OutlierPolicy | null;
  readonly connectionPool: ConnectionPoolPolicy | null;
  readonly tls: ClientTlsRes | null;
  /** where each entry is written does not matter to the merge */
  readonly ports: readonly Omit<PortPolicy, 'place'>[];
}

const NONE: MergedPolicy = { lb: null, outlier: null, pool: null, tls: null };

export function mergeTrafficPolicy(rule: PolicyLevel | null, subset: PolicyLevel | null, port: number): MergedPolicy {
  const top = rule === null ? null : atPort(rule, port);
  if (subset === null) return top?.policy ?? NONE;
  const own = atPort(subset, port);
  if (top === null) return own.policy;
  const pick = <T>(mine: T | null, theirs: T | null): T | null => (mine !== null || own.portLevel ? mine : theirs);
  const [o, t] = [own.policy, top.policy];
  return { lb: pick(o.lb, t.lb), outlier: pick(o.outlier, t.outlier), pool: pick(o.pool, t.pool), tls: pick(o.tls, t.tls) };
}

/** One level's policy for `port`: its port-level entry when it has one (Istio applies the first; validation keeps only that). */
function atPort(level: PolicyLevel, port: number): { policy: MergedPolicy; portLevel: boolean } {
  const p = level.ports.find((x) => x.port === port);
  if (p !== undefined) return { policy: { lb: p.lb, outlier: p.outlier, pool: p.pool, tls: p.tls }, portLevel: true };
  return { policy: { lb: level.policy, outlier: level.outlier, pool: level.connectionPool, tls: level.tls }, portLevel: false };
}
