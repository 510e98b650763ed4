// The seed's walkthrough config over HTTPS, for the TLS integration suites.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

interface CertFiles { readonly cert: string; readonly key: string }

/** One 443 HTTPS server `name` for `host`, terminating TLS with `cert`. */
function httpsServer(name: string, host: string, cert: CertFiles): string {
  return `  - port: {number: 443, name: https-${name}, protocol: HTTPS}
    name: ${name}
    hosts: [${host}]
    tls:
      mode: SIMPLE
      serverCertificate: ${cert.cert}
      privateKey: ${cert.key}
`;
}

/** The seed's ingress-sticky.yaml with its Gateway replaced: 443 HTTPS (two certificates), 80 HTTP redirecting demo.example.com. */
export function tlsGateway(demoCert: CertFiles, otherCert: CertFiles, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: cluster-gateway
spec:
  servers:
${httpsServer('demo', 'demo.example.com', demoCert)}${extra}${httpsServer('other', 'other.example.com', otherCert)}  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [demo.example.com]
    tls:
      httpsRedirect: true
`;
}

export async function writeTlsConfig(dir: string, gateway: string): Promise<void> {
  const path = join(dir, 'ingress-sticky.yaml');
  const seed = await readFile(path, 'utf8');
  const rest = seed.slice(seed.indexOf('---'));
  await writeFile(path, gateway + rest.replace('  - "demo.example.com"\n', '  - "demo.example.com"\n  - "other.example.com"\n'));
}

