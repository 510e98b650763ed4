import test from 'ava';
import { API, compileOne, docs, errorsOf, GATEWAY, lineOf, virtualService } from '../../../fixtures/config/helpers.js';

function serviceEntry(body: string, ports = '  - {number: 8080, name: http}\n'): string {
  return `apiVersion: ${API}\nkind: ServiceEntry\nmetadata:\n  name: svc\nspec:\n  hosts: [svc]\n  ports:\n${ports}  resolution: STATIC\n${body}`;
}

function workload(name: string, spec: string): string {
  return `apiVersion: ${API}\nkind: WorkloadEntry\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
}

const endpointsOf = (text: string) => compileOne(text).snapshot.subsets[0]!.endpoints;

test('IPv6 endpoint ids are bracketed; endpoints are sorted by id', (t) => {
  const se = serviceEntry('  endpoints:\n  - {address: "2001:DB8::2"}\n  - {address: "2001:db8::1"}\n  - {address: 10.0.0.9}\n');
  const eps = endpointsOf(docs(GATEWAY, se, virtualService()));
  t.deepEqual(eps.map((e) => e.id), ['10.0.0.9:8080', '[2001:db8::1]:8080', '[2001:db8::2]:8080']);
  t.deepEqual(eps[1], { id: '[2001:db8::1]:8080', address: '2001:db8::1', port: 8080, weight: 1, labels: {} });
});

test('target port: the endpoint port of the service port name, else targetPort, else the port number', (t) => {
  const ports = '  - {number: 80, name: web, targetPort: 8000}\n  - {number: 81, name: alt}\n';
  const se = serviceEntry('  endpoints:\n  - {address: 10.0.0.1, ports: {web: 9000, alt: 9100}}\n  - {address: 10.0.0.2}\n', ports);
  const vs = (port: number) => virtualService().replace('host: svc', `host: svc\n        port: {number: ${port}}`);
  t.deepEqual(endpointsOf(docs(GATEWAY, se, vs(80))).map((e) => e.id), ['10.0.0.1:9000', '10.0.0.2:8000']);
  t.deepEqual(endpointsOf(docs(GATEWAY, se, vs(81))).map((e) => e.id), ['10.0.0.1:9100', '10.0.0.2:81']);
});

test('workloadSelector picks the WorkloadEntries whose labels include its labels', (t) => {
  const se = serviceEntry('  workloadSelector:\n    labels: {app: demo}\n');
  const text = docs(
    GATEWAY,
    se,
    virtualService(),
    workload('a', '  address: 10.0.0.1\n  labels: {app: demo, version: v1}\n  weight: 3\n'),
    workload('b', '  address: 10.0.0.2\n  labels: {app: other}\n'),
    workload('c', '  address: 10.0.0.3\n  ports: {http: 9090}\n  labels: {app: demo}\n'),
  );
  const eps = endpointsOf(text);
  t.deepEqual(eps.map((e) => [e.id, e.weight]), [['10.0.0.1:8080', 3], ['10.0.0.3:9090', 1]]);
  t.deepEqual(eps[0]!.labels, { app: 'demo', version: 'v1' });
});

test('the same endpoint id twice is an error naming both places', (t) => {
  const text = docs(
    GATEWAY,
    serviceEntry('  workloadSelector:\n    labels: {app: demo}\n'),
    virtualService(),
    workload('a', '  address: 10.0.0.1\n  labels: {app: demo}\n'),
    workload('b', '  address: 10.0.0.1\n  labels: {app: demo}\n'),
  );
  const issues = errorsOf(text);
  t.is(issues.length, 1);
  t.is(issues[0]!.document, 'WorkloadEntry/b');
  t.is(issues[0]!.field, 'spec.address');
  t.is(issues[0]!.line, lineOf(text, 'address: 10.0.0.1', 2));
  t.is(issues[0]!.message, `endpoint 10.0.0.1:8080 of svc port 8080 is listed twice: also at config.yaml:${lineOf(text, 'address: 10.0.0.1')} WorkloadEntry/a spec.address`);
});

test('inline endpoints and a workloadSelector together are an error; endpoint weights must be integers', (t) => {
  const text = docs(GATEWAY, serviceEntry('  endpoints:\n  - {address: 10.0.0.1, weight: 1.5}\n  workloadSelector:\n    labels: {app: demo}\n'), virtualService());
  const issues = errorsOf(text);
  t.deepEqual(issues.map((i) => i.field).slice(0, 2), ['spec', 'spec.endpoints[0].weight']);
  t.regex(issues[0]!.message, /only one of endpoints or workloadSelector/);
});

test('WorkloadEntry addresses must be IPs; label values must be strings', (t) => {
  const text = docs(
    GATEWAY,
    serviceEntry('  workloadSelector:\n    labels: {app: demo}\n'),
    virtualService(),
    workload('a', '  address: vm-1.internal\n  labels: {app: demo}\n'),
    workload('b', '  address: 10.0.0.2\n  labels: {app: demo, tier: 1}\n'),
  );
  const issues = errorsOf(text);
  t.deepEqual(issues.map((i) => `${i.document} ${i.field}`), ['WorkloadEntry/a spec.address', 'WorkloadEntry/b spec.labels.tier']);
});
