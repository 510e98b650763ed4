// DestinationRule: the load-balancing policy of a host and its named subsets (label selectors).
import { at, type IssueSink, type Place } from '../issues.js';
import { isAbsent, readList, readObject, readStringMap, requireString } from '../fields.js';
import { readTrafficPolicy } from './load-balancer.js';
import type { DestinationRuleRes, SubsetRes } from '../resources.js';
import { readBalanceFactor, type Metadata } from './metadata.js';
import type { TlsContext } from './gateway-tls.js';

const SPEC_FIELDS = {
  known: ['host', 'trafficPolicy', 'subsets'],
  ignored: { exportTo: 'ignored: stickyd has no namespaces', workloadSelector: 'ignored: applies to mesh sidecars only' },
};

export function validateDestinationRule(
  sink: IssueSink,
  root: Place,
  name: string,
  specValue: unknown,
  ctx: TlsContext,
  meta: Metadata | null = null,
): DestinationRuleRes | null {
  const place = at(root, 'spec');
  const spec = readObject(sink, place, specValue, SPEC_FIELDS) ?? {};
  const host = requireString(sink, at(place, 'host'), spec.host);
  const policy = readTrafficPolicy(sink, at(place, 'trafficPolicy'), spec.trafficPolicy, ctx);
  const subsets: SubsetRes[] = [];
  readList(sink, at(place, 'subsets'), spec.subsets)?.forEach((item, i) => {
    const s = readSubset(sink, at(place, 'subsets', i), item, ctx);
    if (s === null) return;
    if (subsets.some((o) => o.name === s.name)) sink.error(at(place, 'subsets', i, 'name'), `subset "${s.name}" is defined twice`);
    else subsets.push(s);
  });
  const balanceFactor = meta === null ? null : readBalanceFactor(sink, meta);
  if (host === null) return null;
  return {
    name, place: root, host: host.toLowerCase(), balanceFactor, subsets,
    policy: policy.lb, outlier: policy.outlier, connectionPool: policy.pool, tls: policy.tls, ports: policy.ports,
  };
}

function readSubset(sink: IssueSink, place: Place, value: unknown, ctx: TlsContext): SubsetRes | null {
  const s = readObject(sink, place, value, { known: ['name', 'labels', 'trafficPolicy'] });
  if (s === null) {
    if (isAbsent(value)) sink.error(place, 'empty subset');
    return null;
  }
  const name = requireString(sink, at(place, 'name'), s.name);
  const labels = readStringMap(sink, at(place, 'labels'), s.labels) ?? {};
  // Istio: a subset without labels selects every endpoint of the host; legal but rarely meant.
  if (isAbsent(s.labels)) sink.warn(at(place, 'labels'), 'no labels: this subset selects every endpoint of the host');
  const policy = readTrafficPolicy(sink, at(place, 'trafficPolicy'), s.trafficPolicy, ctx);
  return name === null ? null : {
    name, labels, policy: policy.lb, outlier: policy.outlier, connectionPool: policy.pool, tls: policy.tls,
    ports: policy.ports };
}
