// The cookie stickyd mints, seen by curl through the real daemon: DestinationRule
// httpCookie.attributes on its Set-Cookie, and Cache-Control kept from shared caches on the
// response that carries it (a cached copy would hand the session to every later visitor).
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../helpers/daemon.js';
import { curl } from '../helpers/curl.js';
import { startRecordingBackend } from '../helpers/recording-backend.js';
import { GATEWAY_YAML, serviceEntryYaml, virtualServiceYaml } from '../helpers/istio-yaml.js';

test('minted cookies carry httpCookie.attributes; the response carrying one is private, the rest untouched', async (t) => {
  const backend = await startRecordingBackend();
  const dir = await mkdtemp(join(tmpdir(), 'stickyd-test-'));
  await writeFile(join(dir, 'config.yaml'), `${GATEWAY_YAML}---
${virtualServiceYaml(['demo.example.com'], '  - route:\n    - destination: {host: svc}\n')}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: svc
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie:
          name: session
          ttl: 3600s
          attributes: [{name: SameSite, value: None}, {name: Secure}, {name: Partitioned}]
---
${serviceEntryYaml('svc', [backend.port])}`);
  const daemon = await startDaemon(dir, { workers: 1 });
  t.teardown(async () => {
    await daemon.stop();
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${daemon.port}/`;
  const head = async (cookie?: string): Promise<string[]> => {
    const r = await curl(['-s', '-D', '-', '-o', '/dev/null', '-H', 'Host: demo.example.com', ...(cookie === undefined ? [] : ['-H', `Cookie: ${cookie}`]), url]);
    return r.stdout.split('\r\n').filter((l) => l !== '');
  };
  const named = (lines: string[], name: string): string[] => lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());

  backend.responseHeaders = ['Cache-Control', 'public, max-age=600, s-maxage=3600'];
  const minted = await head();
  const [setCookie] = named(minted, 'set-cookie');
  t.regex(setCookie ?? '', /^session=[0-9a-f]{32}; Path=\/; Max-Age=3600; SameSite=None; Secure; Partitioned; HttpOnly$/);
  t.deepEqual(named(minted, 'cache-control'), ['private, max-age=600']);

  // with the cookie, nothing is minted and the backend's caching is its own
  const reused = await head(setCookie!.split(';')[0]);
  t.deepEqual(named(reused, 'set-cookie'), []);
  t.deepEqual(named(reused, 'cache-control'), ['public, max-age=600, s-maxage=3600']);

  // a backend that already forbids shared storing is left as it is; one that says nothing gets private
  backend.responseHeaders = ['Cache-Control', 'no-store'];
  t.deepEqual(named(await head(), 'cache-control'), ['no-store']);
  backend.responseHeaders = [];
  t.deepEqual(named(await head(), 'cache-control'), ['private']);
});
