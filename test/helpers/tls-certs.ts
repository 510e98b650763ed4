// A throwaway PKI per test run, made with the openssl CLI: a CA, then leaf certificates signed by
// it with chosen SANs, validity window and serial (`openssl ca` takes explicit start and end
// dates, so an expired certificate is as easy as a fresh one). Every file lives under one
// temporary directory that `cleanup()` removes.
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CA_CONFIG = `[ ca ]
default_ca = d
[ d ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[ p ]
commonName = supplied
`;

export interface IssuedCert {
  readonly cert: string;
  readonly key: string;
  readonly serial: string;
  /** base64 SHA-256 of the SubjectPublicKeyInfo (Istio verifyCertificateSpki) */
  readonly spki: string;
  /** hex SHA-256 of the DER certificate (Istio verifyCertificateHash) */
  readonly hash: string;
}

export interface TestCa {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  /** a leaf signed by this CA; `days` from now (default 30), or an explicit window of yyyymmddHHMMSSZ dates */
  issue(name: string, opts: { sans: string[]; days?: number; start?: string; end?: string; clientAuth?: boolean }): IssuedCert;
  cleanup(): void;
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function asn1Date(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
}

export function makeCa(name = 'stickyd test CA', dir = mkdtempSync(join(tmpdir(), 'stickyd-pki-'))): TestCa {
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), `${(BigInt(Date.now()) * 1000n + BigInt(Math.floor(Math.random() * 1000))).toString(16).padStart(16, '0')}\n`);
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', `/CN=${name}`, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    dir, caCert, caKey,
    issue(leaf, opts) {
      const key = join(dir, `${leaf}.key`);
      const csr = join(dir, `${leaf}.csr`);
      const cert = join(dir, `${leaf}.crt`);
      const san = opts.sans.map((s) => (/^\d+\.\d+\.\d+\.\d+$/.test(s) ? `IP:${s}` : s.startsWith('URI:') ? s : `DNS:${s}`)).join(',');
      openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${leaf}`,
        '-addext', `subjectAltName=${san}`, '-addext', `extendedKeyUsage=${opts.clientAuth === true ? 'clientAuth' : 'serverAuth'}`]);
      const now = Date.now();
      const start = opts.start ?? asn1Date(now - 3_600_000);
      const end = opts.end ?? asn1Date(now + (opts.days ?? 30) * 86_400_000);
      openssl(dir, ['ca', '-batch', '-config', 'ca.cnf', '-cert', caCert, '-keyfile', caKey, '-in', csr, '-out', cert, '-startdate', start, '-enddate', end, '-notext']);
      const x = new X509Certificate(execFileSync('openssl', ['x509', '-in', cert]));
      const spki = createHash('sha256').update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
      const hash = createHash('sha256').update(x.raw).digest('hex');
      return { cert, key, serial: x.serialNumber.toUpperCase(), spki, hash };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
