// Certificate rotation by `stickyd reload` under TLS load: no failed request, new handshakes get
// the new certificate's serial, and a certificate that fails to load keeps the old one serving
// and fails the reload with the reason.
import test from 'ava';
import https from 'node:https';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startDaemon, runCli } from '../helpers/daemon.js';
import { startBackends, configDir } from '../helpers/backends.js';
import { makeCa } from '../helpers/tls-certs.js';
import { tlsGateway, writeTlsConfig } from '../helpers/tls-config.js';

/** serials seen per socket: Node shows no peer certificate on a kept-alive socket's later requests */
const serials = new WeakMap<object, string>();

/** The serial a fresh TLS connection (or one of `agent`'s kept-alive ones) is served, and its status. */
function get(port: number, caPem: Buffer, path = '/ping', agent: https.Agent | false = false): Promise<{ status: number; serial: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, servername: 'demo.example.com', headers: { host: 'demo.example.com' }, ca: caPem, agent }, (res) => {
      const cert = (res.socket as import('node:tls').TLSSocket).getPeerX509Certificate() as X509Certificate | undefined;
      if (cert !== undefined) serials.set(res.socket, cert.serialNumber.toUpperCase());
      const serial = serials.get(res.socket) ?? '(no peer certificate)';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serial, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  });
}

test('stickyd reload rotates the certificate under load with 0 failed requests; a broken one keeps the old', async (t) => {
  const ca = makeCa();
  const first = ca.issue('demo1', { sans: ['demo.example.com'] });
  const second = ca.issue('demo2', { sans: ['demo.example.com'] });
  const other = ca.issue('other', { sans: ['other.example.com'] });
  const backends = await startBackends();
  const cfg = await configDir('demo', backends);
  // The config names fixed paths; rotation replaces the files, as cert-manager or certbot would.
  const live = { cert: join(cfg.dir, 'tls.crt'), key: join(cfg.dir, 'tls.key') };
  await copyFile(first.cert, live.cert);
  await copyFile(first.key, live.key);
  await writeTlsConfig(cfg.dir, tlsGateway(live, other));
  const daemon = await startDaemon(cfg.dir, { workers: 2, args: ['--listen', '80=127.0.0.1:0,443=127.0.0.1:0'] });
  t.teardown(async () => {
    await daemon.stop();
    await Promise.all(backends.map((b) => b.close()));
    await cfg.cleanup();
    ca.cleanup();
  });
  const port = (daemon.lines.find((l) => l.msg === 'ready')!.listenPorts as number[])[1]!;
  const caPem = await (await import('node:fs/promises')).readFile(ca.caCert);
  t.is((await get(port, caPem)).serial, first.serial);
  // A keep-alive connection opened before the rotation: it must keep working after it.
  // no session cache: a socket that had to be replaced handshakes in full, and `reused` says whether it was
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 0 });
  t.teardown(() => kept.destroy());
  t.is((await get(port, caPem, '/ping', kept)).serial, first.serial);

  let stop = false;
  const results: { status: number; serial: string }[] = [];
  const failures: string[] = [];
  // four clients handshake for every request; a fifth keeps using the connection opened before
  const load = Array.from({ length: 5 }, async (_, i) => {
    while (!stop) {
      try {
        results.push(await get(port, caPem, '/ping', i === 4 ? kept : false));
      } catch (e) {
        failures.push(String(e));
      }
    }
  });
  await new Promise((r) => setTimeout(r, 300));
  // Atomic replacement (write aside, rename), as the README asks for config files.
  await copyFile(second.cert, `${live.cert}.new`);
  await copyFile(second.key, `${live.key}.new`);
  const { rename } = await import('node:fs/promises');
  await rename(`${live.key}.new`, live.key);
  await rename(`${live.cert}.new`, live.cert);
  const reload = await runCli(['reload', '-c', cfg.dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`]);
  t.is(reload.code, 0, reload.stderr + reload.stdout);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(load);
  t.deepEqual(failures, []);
  t.true(results.every((r) => r.status === 200));
  t.true(results.some((r) => r.serial === first.serial) && results.some((r) => r.serial === second.serial), `${results.length} requests`);
  t.is((await get(port, caPem)).serial, second.serial, 'new handshakes see the new serial');
  const old = await get(port, caPem, '/ping', kept);
  t.deepEqual(old, { status: 200, serial: first.serial, reused: true }, 'a connection open before the reload keeps working, on its certificate');

  // A key that is not the certificate's: the reload fails, the second certificate keeps serving.
  await writeFile(live.key, await (await import('node:fs/promises')).readFile(first.key));
  const bad = await runCli(['reload', '-c', cfg.dir, '--pid', String(daemon.proc.pid), '--admin', `127.0.0.1:${daemon.adminPort}`]);
  t.is(bad.code, 1);
  t.regex(bad.stderr + bad.stdout, /private key does not belong to the certificate/);
  const after = await get(port, caPem);
  t.is(after.status, 200);
  t.is(after.serial, second.serial);
});
