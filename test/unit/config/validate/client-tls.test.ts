// DestinationRule tls (TLS to backends) in the config compiler: modes, files read and checked like
// a Gateway server's, subset overrides, credentialName, the system trust store.
// The certificates come from a CA made with openssl for this run (test/helpers/tls-certs.ts).
import test from 'ava';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileSources } from '../../../../src/config/index.js';
import { SYSTEM_CA_BUNDLES } from '../../../../src/config/certificates.js';
import { ConfigError, type ConfigIssue } from '../../../../src/errors.js';
import type { Subset } from '../../../../src/snapshot/types.js';
import { API, destinationRule, docs, find, GATEWAY, SERVICE } from '../../../fixtures/config/helpers.js';
import { makeCa, type IssuedCert, type TestCa } from '../../../helpers/tls-certs.js';

let ca: TestCa;
let client: IssuedCert;
let other: IssuedCert;
let expired: IssuedCert;

test.before(() => {
  ca = makeCa();
  client = ca.issue('client', { sans: ['stickyd.example.com'], clientAuth: true });
  other = ca.issue('other', { sans: ['other.example.com'], clientAuth: true });
  expired = ca.issue('expired', { sans: ['stickyd.example.com'], start: '20200101000000Z', end: '20200102000000Z', clientAuth: true });
});
test.after.always(() => ca.cleanup());

/** routes half to v1, half to v2, so both subsets are compiled */
const VS = `apiVersion: ${API}\nkind: VirtualService\nmetadata: {name: vs}\nspec:\n  hosts: [app.example.com]\n  gateways: [gw]\n  http:\n  - route:\n    - destination: {host: svc, subset: v1}\n      weight: 50\n    - destination: {host: svc, subset: v2}\n      weight: 50\n`;

/** a trafficPolicy.tls block (flow mapping) at the rule, and optionally one for subset v1 */
function rule(tls: string, v1Tls = ''): string {
  return destinationRule(tls === '' ? '' : `  trafficPolicy:\n    tls: ${tls}\n`, v1Tls === '' ? '' : `    trafficPolicy:\n      tls: ${v1Tls}\n`);
}

function compile(dr: string, settings: Record<string, unknown> = {}, readFile?: (path: string) => Buffer) {
  return compileSources([{ file: 'c.yaml', text: docs(GATEWAY, SERVICE, VS, dr) }], settings, undefined, readFile === undefined ? undefined : { readFile });
}

function subsets(dr: string, settings: Record<string, unknown> = {}): { v1: Subset; v2: Subset; warnings: readonly ConfigIssue[] } {
  const r = compile(dr, settings);
  const by = (n: string) => r.snapshot.subsets.find((s) => s.subsetName === n)!;
  return { v1: by('v1'), v2: by('v2'), warnings: r.warnings };
}

function errors(dr: string, settings: Record<string, unknown> = {}, readFile?: (path: string) => Buffer): readonly ConfigIssue[] {
  try {
    compile(dr, settings, readFile);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const TLS = 'spec.trafficPolicy.tls';

test('SIMPLE with caCertificates, sni and subjectAltNames: the CA PEM and checks reach every subset', (t) => {
  const { v1, v2 } = subsets(rule(`{mode: SIMPLE, caCertificates: ${ca.caCert}, sni: Backend.Internal, subjectAltNames: [spiffe://x/backend, backend.internal]}`));
  for (const s of [v1, v2]) {
    t.is(s.tls?.mode, 'SIMPLE');
    t.is(s.tls?.caPem, readFileSync(ca.caCert, 'latin1').trim() + '\n');
    t.is(s.tls?.caFile, ca.caCert);
    t.is(s.tls?.sni, 'backend.internal');
    t.deepEqual(s.tls?.subjectAltNames, ['spiffe://x/backend', 'backend.internal']);
    t.is(s.tls?.certificatePem, null);
    t.false(s.tls?.insecureSkipVerify);
  }
  t.is(v1.tls?.key, v2.tls?.key, 'the same settings share one key (and pools)');
});

test('a subset tls replaces the rule\'s whole: DISABLE there means plaintext, another CA means another key', (t) => {
  const top = `{mode: SIMPLE, caCertificates: ${ca.caCert}, sni: a.internal}`;
  const off = subsets(rule(top, '{mode: DISABLE}'));
  t.is(off.v1.tls, null);
  t.is(off.v2.tls?.sni, 'a.internal');
  const own = subsets(rule(top, `{mode: SIMPLE, caCertificates: ${ca.caCert}}`));
  t.is(own.v1.tls?.sni, null, 'the rule\'s sni is not merged into the subset\'s tls');
  t.not(own.v1.tls?.key, own.v2.tls?.key);
  const plain = subsets(rule('', `{mode: SIMPLE, caCertificates: ${ca.caCert}}`));
  t.is(plain.v2.tls, null);
  t.is(plain.v1.tls?.mode, 'SIMPLE');
});

test('portLevelSettings: a port-level entry without tls means plaintext on that port (nothing inherited); one with tls sets it there', (t) => {
  const top = `{mode: SIMPLE, caCertificates: ${ca.caCert}, sni: a.internal}`;
  const dr = (entry: string) => destinationRule(`  trafficPolicy:\n    tls: ${top}\n    portLevelSettings:\n    - ${entry}\n`);
  const lbOnly = subsets(dr('{port: {number: 8080}, loadBalancer: {simple: RANDOM}}'));
  t.is(lbOnly.v1.tls, null);
  t.is(lbOnly.v2.tls, null);
  t.deepEqual(lbOnly.v1.policy, { kind: 'random' });
  const own = subsets(dr(`{port: {number: 8080}, tls: {mode: SIMPLE, caCertificates: ${ca.caCert}, sni: b.internal}}`));
  t.is(own.v1.tls?.sni, 'b.internal');
  // another port's entry leaves 8080 on the top level
  const other = subsets(dr('{port: {number: 9999}, loadBalancer: {simple: RANDOM}}'));
  t.is(other.v1.tls?.sni, 'a.internal');
});

test('SIMPLE without caCertificates verifies against the system trust store, read with the config', (t) => {
  const bundle = SYSTEM_CA_BUNDLES[1]!;
  const fake = readFileSync(ca.caCert);
  const read = (path: string): Buffer => {
    if (path === bundle) return fake;
    if (SYSTEM_CA_BUNDLES.includes(path)) throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    return readFileSync(path);
  };
  const r = compile(rule('{mode: SIMPLE}'), {}, read);
  const tls = r.snapshot.subsets[0]!.tls!;
  t.is(tls.caFile, bundle, 'the first bundle that exists');
  t.is(tls.caPem, fake.toString('latin1').trim() + '\n');
  const none = errors(rule('{mode: SIMPLE}'), {}, (path) => {
    if (SYSTEM_CA_BUNDLES.includes(path)) throw new Error('ENOENT');
    return readFileSync(path);
  });
  t.regex(find(none, TLS)?.message ?? '', /no system trust store found.*set caCertificates/);
});

test('MUTUAL: the client certificate and key reach the snapshot; a key of another certificate, an expired one and an unreadable CA are errors naming file and field', (t) => {
  const { v1 } = subsets(rule(`{mode: MUTUAL, clientCertificate: ${client.cert}, privateKey: ${client.key}, caCertificates: ${ca.caCert}}`));
  t.is(v1.tls?.mode, 'MUTUAL');
  t.is(v1.tls?.certificateFile, client.cert);
  t.regex(v1.tls?.certificatePem ?? '', /BEGIN CERTIFICATE/);
  t.regex(v1.tls?.privateKeyPem ?? '', /PRIVATE KEY/);

  const mismatch = errors(rule(`{mode: MUTUAL, clientCertificate: ${client.cert}, privateKey: ${other.key}, caCertificates: ${ca.caCert}}`));
  const m = find(mismatch, `${TLS}.privateKey`);
  t.regex(m?.message ?? '', new RegExp(`${other.key}: this private key does not belong to the client certificate in ${client.cert}`));
  t.is(m?.document, 'DestinationRule/dr');
  t.is(m?.file, 'c.yaml');

  const old = errors(rule(`{mode: MUTUAL, clientCertificate: ${expired.cert}, privateKey: ${expired.key}, caCertificates: ${ca.caCert}}`));
  t.regex(find(old, `${TLS}.clientCertificate`)?.message ?? '', /client certificate .* expired on 2020-01-02/);

  const missing = join(ca.dir, 'nope.crt');
  const unreadable = errors(rule(`{mode: SIMPLE, caCertificates: ${missing}}`));
  t.regex(find(unreadable, `${TLS}.caCertificates`)?.message ?? '', new RegExp(`cannot read ${missing}: ENOENT`));

  const notPem = join(ca.dir, 'garbage.crt');
  writeFileSync(notPem, 'hello\n');
  t.regex(find(errors(rule(`{mode: SIMPLE, caCertificates: ${notPem}}`)), `${TLS}.caCertificates`)?.message ?? '', /no PEM CA certificate/);
});

test('mode: required; ISTIO_MUTUAL says why; unknown refused; files must fit the mode; caCrl refused', (t) => {
  t.regex(find(errors(rule(`{caCertificates: ${ca.caCert}}`)), `${TLS}.mode`)?.message ?? '', /required: DISABLE, SIMPLE, MUTUAL/);
  t.regex(find(errors(rule('{mode: ISTIO_MUTUAL}')), `${TLS}.mode`)?.message ?? '', /istiod issues to mesh workloads; a VM without a mesh has none: use MUTUAL/);
  t.regex(find(errors(rule('{mode: PASSTHROUGH}')), `${TLS}.mode`)?.message ?? '', /unknown mode "PASSTHROUGH"/);
  t.regex(find(errors(rule(`{mode: SIMPLE, clientCertificate: ${client.cert}, privateKey: ${client.key}}`)), `${TLS}.clientCertificate`)?.message ?? '', /mode MUTUAL only/);
  const mutual = errors(rule(`{mode: MUTUAL, caCertificates: ${ca.caCert}}`));
  t.regex(find(mutual, `${TLS}.clientCertificate`)?.message ?? '', /required for mode MUTUAL/);
  t.regex(find(mutual, `${TLS}.privateKey`)?.message ?? '', /required for mode MUTUAL/);
  t.regex(find(errors(rule(`{mode: SIMPLE, caCertificates: ${ca.caCert}, caCrl: /x.crl}`)), `${TLS}.caCrl`)?.message ?? '', /revoked/);
  t.regex(find(errors(rule('{mode: SIMPLE, sni: 10.0.0.1}')), `${TLS}.sni`)?.message ?? '', /not a DNS name/);
  t.regex(find(errors(rule('{mode: SIMPLE, sni: "a.example:443"}')), `${TLS}.sni`)?.message ?? '', /not a DNS name/);
  t.regex(find(subsets(rule(`{mode: SIMPLE, caCertificates: ${ca.caCert}, bogus: 1}`)).warnings, `${TLS}.bogus`)?.message ?? '', /unknown field; ignored/);
});

test('credentialName maps onto --credentials-dir like the Gateway side (ca.crt for SIMPLE; tls.crt, tls.key, ca.crt for MUTUAL), or is an error saying so', (t) => {
  const dir = join(ca.dir, 'creds');
  mkdirSync(join(dir, 'backend-tls'), { recursive: true });
  copyFileSync(client.cert, join(dir, 'backend-tls', 'tls.crt'));
  copyFileSync(client.key, join(dir, 'backend-tls', 'tls.key'));
  copyFileSync(ca.caCert, join(dir, 'backend-tls', 'ca.crt'));
  const { v1 } = subsets(rule('{mode: MUTUAL, credentialName: backend-tls}'), { credentialsDir: dir });
  t.is(v1.tls?.certificateFile, join(dir, 'backend-tls', 'tls.crt'));
  t.is(v1.tls?.caFile, join(dir, 'backend-tls', 'ca.crt'));
  const simple = subsets(rule('{mode: SIMPLE, credentialName: backend-tls}'), { credentialsDir: dir });
  t.is(simple.v1.tls?.certificatePem, null);
  t.is(simple.v1.tls?.caFile, join(dir, 'backend-tls', 'ca.crt'));
  t.regex(find(errors(rule('{mode: SIMPLE, credentialName: backend-tls}')), `${TLS}.credentialName`)?.message ?? '', /needs --credentials-dir DIR holding backend-tls\/ca.crt/);
  t.regex(find(errors(rule('{mode: SIMPLE, credentialName: ../etc}'), { credentialsDir: dir }), `${TLS}.credentialName`)?.message ?? '', /not a Kubernetes secret name/);
  t.regex(find(errors(rule(`{mode: SIMPLE, credentialName: backend-tls, caCertificates: ${ca.caCert}}`), { credentialsDir: dir }), `${TLS}.credentialName`)?.message ?? '', /exclusive/);
  t.regex(find(errors(rule('{mode: MUTUAL, credentialName: absent}'), { credentialsDir: dir }), `${TLS}.credentialName`)?.message ?? '', /cannot read .*absent\/ca.crt/);
});

test('insecureSkipVerify is accepted only with a warning; DISABLE warns about the fields it ignores', (t) => {
  const { v1, warnings } = subsets(rule('{mode: SIMPLE, insecureSkipVerify: true}'));
  t.true(v1.tls?.insecureSkipVerify);
  t.is(v1.tls?.caPem, null, 'nothing to verify against: no trust store read');
  t.regex(find(warnings, `${TLS}.insecureSkipVerify`)?.message ?? '', /not verified: anyone on the path can read and change this traffic/);
  const off = subsets(rule('{mode: DISABLE, sni: a.example}'));
  t.is(off.v1.tls, null);
  t.regex(find(off.warnings, `${TLS}.sni`)?.message ?? '', /ignored: mode DISABLE sends plaintext/);
});
