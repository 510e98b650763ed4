import test from 'ava';
import { compileOne, destinationRule, docs, errorsOf, find, GATEWAY, SERVICE, virtualService } from '../../../fixtures/config/helpers.js';
import type { Route, Snapshot } from '../../../../src/snapshot/types.js';

const compiled = (extra: string): { route: Route; snapshot: Snapshot; warnings: ReturnType<typeof compileOne>['warnings'] } => {
  const { snapshot, warnings } = compileOne(docs(GATEWAY, SERVICE, destinationRule(), virtualService('v1', extra)));
  return { route: snapshot.listeners[0]!.virtualHosts[0]!.routes[0]!, snapshot, warnings };
};
const subsetName = (s: Snapshot, id: number): string => s.subsets[id]!.name;

test('mirror: a destination with Istio\'s default 100 %, resolved to its own subset', (t) => {
  const { route, snapshot } = compiled('    mirror: {host: svc, subset: v2}\n');
  t.is(route.mirrors!.length, 1);
  t.is(route.mirrors![0]!.percent, 100);
  t.is(subsetName(snapshot, route.mirrors![0]!.subset), 'svc/v2');
  t.is(subsetName(snapshot, route.destinations[0]!.subset), 'svc/v1');
});

test('mirrorPercentage, the deprecated mirrorPercent (warned), and mirrors[] with their own percentages', (t) => {
  t.is(compiled('    mirror: {host: svc, subset: v2}\n    mirrorPercentage: {value: 12.5}\n').route.mirrors![0]!.percent, 12.5);
  const old = compiled('    mirror: {host: svc, subset: v2}\n    mirrorPercent: 30\n');
  t.is(old.route.mirrors![0]!.percent, 30);
  t.regex(find(old.warnings, 'spec.http[0].mirrorPercent')!.message, /deprecated/);
  const many = compiled('    mirrors:\n    - destination: {host: svc, subset: v2}\n      percentage: {value: 50}\n    - destination: {host: svc}\n').route;
  t.deepEqual(many.mirrors!.map((m) => m.percent), [50, 100]);
});

test('an explicit 0 % mirrors nothing, as Istio translates it', (t) => {
  t.is(compiled('    mirror: {host: svc, subset: v2}\n    mirrorPercentage: {value: 0}\n').route.mirrors, undefined);
  t.is(compiled('    mirrors:\n    - destination: {host: svc}\n      percentage: {value: 0}\n').route.mirrors, undefined);
});

test('mirror errors name the field: both forms, a percentage out of range, an unknown host or subset, a missing destination', (t) => {
  const both = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    mirror: {host: svc}\n    mirrors:\n    - destination: {host: svc}\n')));
  t.regex(find(both, 'spec.http[0].mirrors')!.message, /both mirror and mirrors/);
  const range = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    mirror: {host: svc}\n    mirrorPercentage: {value: 101}\n')));
  t.regex(find(range, 'spec.http[0].mirrorPercentage.value')!.message, /0 to 100/);
  const host = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    mirror: {host: nowhere}\n')));
  t.regex(find(host, 'spec.http[0].mirror.host')!.message, /no ServiceEntry defines host "nowhere"/);
  const subset = errorsOf(docs(GATEWAY, SERVICE, destinationRule(), virtualService(undefined, '    mirrors:\n    - destination: {host: svc, subset: v9}\n')));
  t.regex(find(subset, 'spec.http[0].mirrors[0].destination.subset')!.message, /unknown subset "v9"/);
  const missing = errorsOf(docs(GATEWAY, SERVICE, virtualService(undefined, '    mirrors:\n    - percentage: {value: 5}\n')));
  t.regex(find(missing, 'spec.http[0].mirrors[0].destination')!.message, /required/);
});

test('a percentage without a mirror is warned: it applies to nothing', (t) => {
  const { route, warnings } = compiled('    mirrorPercentage: {value: 5}\n');
  t.is(route.mirrors, undefined);
  t.regex(find(warnings, 'spec.http[0].mirrorPercentage')!.message, /no mirror/);
});
