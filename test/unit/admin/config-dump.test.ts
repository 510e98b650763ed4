import test from 'ava';
import { buildConfigDump, REDACTED } from '../../../src/admin/config-dump.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import type { ListenerServer, ServerTls, Snapshot } from '../../../src/snapshot/types.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';

test('/config_dump never carries a Gateway server private key, only the file it came from', (t) => {
  const tls = { mode: 'SIMPLE', certificatePem: '-----BEGIN CERTIFICATE-----\n', privateKeyPem: KEY, privateKeyFile: '/etc/stickyd/tls/key.pem' } as unknown as ServerTls;
  const server = { name: 'gw/https', hosts: ['demo.example.com'], tls } as unknown as ListenerServer;
  const plain = { name: 'gw/http', hosts: ['*'], tls: null } as unknown as ListenerServer;
  const snapshot: Snapshot = {
    epoch: 3,
    configHash: 'x',
    configPath: '/etc/stickyd',
    listeners: [{ port: 443, protocol: 'HTTPS', servers: [server, plain], gatewayHosts: ['*'], virtualHosts: [] }],
    subsets: [],
    settings: { ...DEFAULT_SETTINGS },
  };
  const text = JSON.stringify(buildConfigDump(snapshot));
  t.false(text.includes('PRIVATE KEY'));
  t.false(text.includes('MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'));
  t.true(text.includes('/etc/stickyd/tls/key.pem'));
  t.true(text.includes(REDACTED));
  t.is(snapshot.listeners[0]!.servers[0]!.tls?.privateKeyPem, KEY, 'the snapshot itself is untouched');
});
