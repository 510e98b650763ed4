import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, StickydError } from '../../../src/errors.js';
import { DEFAULT_SETTINGS, loadConfig } from '../../../src/config/index.js';
import { DEFAULT_RETRY_POLICY } from '../../../src/config/validate/retries.js';

const dir = fileURLToPath(new URL('../../fixtures/config/dir', import.meta.url));

test('a directory loads its *.yaml / *.yml files in byte order of name, not recursively', async (t) => {
  const { snapshot, files, warnings } = await loadConfig(dir, undefined, 3);
  t.deepEqual(files, ['C-endpoints.yaml', 'a-gateway.yaml', 'b-routes.yml'].map((f) => join(dir, f)));
  t.is(snapshot.configPath, dir);
  t.is(snapshot.epoch, 3);
  const hash = createHash('sha256');
  for (const f of files) hash.update(readFileSync(f));
  t.is(snapshot.configHash, hash.digest('hex'));
  t.deepEqual(snapshot.listeners, [
    {
      port: 8080,
      protocol: 'HTTP',
      gatewayHosts: ['shop.example.com'],
      virtualHosts: [
        {
          name: 'shop',
          hosts: ['shop.example.com'],
          routes: [{ name: 'shop/http[0]', matches: [], destinations: [{ subset: 0, weight: 100 }], totalWeight: 100, timeoutMs: null, retries: DEFAULT_RETRY_POLICY }],
        },
      ],
      servers: [{ name: 'gw/servers[0]', hosts: ['shop.example.com'], httpsRedirect: false, tls: null }],
    },
  ]);
  t.deepEqual(snapshot.subsets.map((s) => [s.name, s.port, s.endpoints.map((e) => e.id)]), [['shop/stable', 80, ['192.0.2.10:3000']]]);
  t.deepEqual(warnings.map((w) => [w.file, w.line, w.field]), [[join(dir, 'a-gateway.yaml'), 7, 'spec.selector']]);
});

test('a single file loads on its own; issues name the file path', async (t) => {
  const err = await t.throwsAsync(loadConfig(join(dir, 'b-routes.yml')), { instanceOf: ConfigError });
  const issues = err!.issues;
  t.deepEqual(issues.map((i) => [i.file, i.document, i.field]), [
    [join(dir, 'b-routes.yml'), 'VirtualService/shop', 'spec.gateways[0]'],
    [join(dir, 'b-routes.yml'), 'VirtualService/shop', 'spec.http[0].route[0].destination.host'],
    [join(dir, 'b-routes.yml'), '(configuration)', '(all documents)'],
  ]);
});

test('an unreadable path is STICKYD_ERR_CONFIG_READ naming the path and the OS error', async (t) => {
  const missing = join(dir, 'does-not-exist.yaml');
  const err = await t.throwsAsync(loadConfig(missing), { instanceOf: StickydError });
  t.is(err!.code, 'STICKYD_ERR_CONFIG_READ');
  t.true(err!.message.includes(missing));
  t.regex(err!.message, /ENOENT/);
});

test('a directory without YAML files is STICKYD_ERR_CONFIG_READ', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'stickyd-config-'));
  try {
    writeFileSync(join(empty, 'README.md'), '# nothing\n');
    const err = await t.throwsAsync(loadConfig(empty), { instanceOf: StickydError });
    t.is(err!.code, 'STICKYD_ERR_CONFIG_READ');
    t.regex(err!.message, /no \*\.yaml or \*\.yml file/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('settings: defaults, overrides, and invalid values', async (t) => {
  t.deepEqual(DEFAULT_SETTINGS, {
    sessionCacheSize: 0, pinCacheSize: 100_000, maxKeyLength: 256, upstreamConnectTimeoutMs: 5_000, upstreamIdleTimeoutMs: 4_000, drainTimeoutMs: 10_000,
    maxHeaderCount: 100, maxUriLength: 8_192, maxHeaderBytes: 16_384, headersTimeoutMs: 10_000, requestTimeoutMs: 300_000,
    keepAliveTimeoutMs: 5_000, maxConnectionsPerWorker: 10_000, upstreamStreamIdleTimeoutMs: 300_000,
    trustedProxies: [], credentialsDir: null, forwardClientCert: false,
  });
  const { snapshot } = await loadConfig(dir, { maxKeyLength: 64 });
  t.deepEqual(snapshot.settings, { ...DEFAULT_SETTINGS, maxKeyLength: 64 });
  const err = await t.throwsAsync(loadConfig(dir, { drainTimeoutMs: -1 }), { instanceOf: StickydError });
  t.is(err!.code, 'STICKYD_ERR_USAGE');
  const trusted = await loadConfig(dir, { trustedProxies: ['10.0.0.0/8', '192.0.2.7', 'fd00::/8'] });
  t.deepEqual(trusted.snapshot.settings.trustedProxies, ['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  for (const bad of ['10.0.0.0/33', 'example.com', '1.2.3.4/8/9', '::1/129']) {
    const e = await t.throwsAsync(loadConfig(dir, { trustedProxies: [bad] }), { instanceOf: StickydError });
    t.regex(e!.message, /not an IP address or CIDR/, bad);
  }
});
