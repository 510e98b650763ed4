// upstream-tls.ts: the SNI a TLS subset sends and what the endpoint's certificate must say.
import test from 'ava';
import type { PeerCertificate } from 'node:tls';
import type { UpstreamTls } from '../../src/snapshot/types.js';
import { buildIdentityCheck, readSubjectAltNames, readUpstreamServername } from '../../src/upstream-tls.js';

function tls(over: Partial<UpstreamTls> = {}): UpstreamTls {
  return { mode: 'SIMPLE', caPem: null, caFile: null, certificatePem: null, privateKeyPem: null, certificateFile: null, sni: null, subjectAltNames: [], insecureSkipVerify: false, key: 'k', ...over };
}

const cert = (subjectaltname: string) => ({ subjectaltname, subject: { CN: 'x' } }) as unknown as PeerCertificate;

test('SNI: the rule\'s sni, else the upstream Host without its port; never an IP address', (t) => {
  t.is(readUpstreamServername(tls({ sni: 'backend.internal' }), 'demo.example.com'), 'backend.internal');
  t.is(readUpstreamServername(tls(), 'Demo.Example.com:8443'), 'demo.example.com');
  t.is(readUpstreamServername(tls(), 'demo.example.com'), 'demo.example.com');
  t.is(readUpstreamServername(tls(), '10.0.0.1:443'), '');
  t.is(readUpstreamServername(tls(), '[::1]:443'), '');
  t.is(readUpstreamServername(tls(), undefined), '');
});

test('SANs as Node prints them: DNS, URI and IP entries, others skipped', (t) => {
  t.deepEqual(readSubjectAltNames('DNS:a.example, URI:spiffe://td/ns/x, IP Address:10.0.0.1, email:a@b'), ['a.example', 'spiffe://td/ns/x', '10.0.0.1']);
  t.deepEqual(readSubjectAltNames(''), []);
});

test('identity: subjectAltNames match exactly one SAN of any kind; without them the name connected to must be covered', (t) => {
  const check = buildIdentityCheck(tls({ subjectAltNames: ['spiffe://td/ns/backend', 'b.internal'] }));
  t.is(check('ignored', cert('DNS:x.example, URI:spiffe://td/ns/backend')), undefined);
  t.is(check('ignored', cert('DNS:b.internal')), undefined);
  const err = check('b.internal', cert('DNS:*.internal, URI:spiffe://td/ns/other')) as Error & { code?: string };
  t.is(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  t.regex(err.message, /matches none of subjectAltNames spiffe:\/\/td\/ns\/backend, b.internal/);
  const byName = buildIdentityCheck(tls());
  t.is(byName('a.example', cert('DNS:a.example')), undefined);
  t.is((byName('a.example', cert('DNS:b.example')) as { code?: string } | undefined)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  t.is(buildIdentityCheck(tls({ insecureSkipVerify: true }))('a.example', cert('DNS:b.example')), undefined);
});
