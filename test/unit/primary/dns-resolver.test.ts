// The resolver's bookkeeping against a fake resolve function (no sockets): first answers,
// refresh at the answer's TTL, a change reported once, failures keeping the last good answer.
import test from 'ava';
import { clampTtlMs, DnsResolver, MAX_TTL_MS, MIN_TTL_MS, RETRY_MS, type Answer } from '../../../src/primary/dns-resolver.js';

/** answers from a table the test edits; a name mapped to an Error fails */
function fake(table: Map<string, readonly string[] | Error>, ttlMs = 30) {
  const calls: string[] = [];
  const resolve = async (name: string): Promise<Answer> => {
    calls.push(name);
    const v = table.get(name);
    if (v === undefined) throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    if (v instanceof Error) throw v;
    return { addresses: [...v].sort(), ttlMs, via: 'dns' };
  };
  return { resolve, calls };
}

/**
 * A resolver over a fake table that maps a.test to `addresses` (TTL 30 ms), with a.test resolved
 * and tracked; `changes()` is how often onChange ran.
 */
async function trackedA(addresses: readonly string[]) {
  const table = new Map<string, readonly string[] | Error>([['a.test', addresses]]);
  const f = fake(table, 30);
  const dns = new DnsResolver(f.resolve);
  let changes = 0;
  dns.onChange = () => { changes++; };
  await dns.ensure(['a.test']);
  dns.track(['a.test']);
  return { table, f, dns, changes: () => changes };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('clampTtlMs bounds a record\'s TTL to 1-60 s', (t) => {
  t.is(clampTtlMs(0), MIN_TTL_MS);
  t.is(clampTtlMs(5), 5_000);
  t.is(clampTtlMs(86_400), MAX_TTL_MS);
});

test('ensure resolves the names without an answer and rejects naming each that fails', async (t) => {
  const table = new Map<string, readonly string[] | Error>([['a.test', ['10.0.0.1']]]);
  const f = fake(table);
  const dns = new DnsResolver(f.resolve);
  await dns.ensure(['a.test']);
  t.deepEqual(dns.resolved(), { 'a.test': ['10.0.0.1'] });
  await dns.ensure(['a.test']);
  t.deepEqual(f.calls, ['a.test'], 'an answered name is not asked again');
  const err = await t.throwsAsync(dns.ensure(['b.test', 'c.test']));
  t.regex(err!.message, /b\.test: ENOTFOUND; c\.test: ENOTFOUND/);
  dns.stop();
});

test('a tracked name is re-resolved at its TTL; a changed set runs onChange once, an unchanged one never', async (t) => {
  const { table, f, dns, changes } = await trackedA(['10.0.0.1', '10.0.0.2']);
  await until(() => f.calls.length >= 3);
  t.is(changes(), 0, 'the same answer is no change');
  table.set('a.test', ['10.0.0.2', '10.0.0.3']);
  await until(() => changes() === 1);
  const n = f.calls.length;
  await until(() => f.calls.length >= n + 2);
  t.is(changes(), 1);
  const [s] = dns.status();
  t.like(s, { name: 'a.test', addresses: ['10.0.0.2', '10.0.0.3'], via: 'dns', ttlSec: 0.03, lastError: null, failures: 0, changes: 1 });
  t.true(s!.resolutions >= 5);
  dns.stop();
});

test('a failing name keeps its last good answer, is retried, and recovers', async (t) => {
  const { table, dns, changes } = await trackedA(['10.0.0.1']);
  table.set('a.test', Object.assign(new Error('queryA ETIMEOUT a.test'), { code: 'ETIMEOUT' }));
  await until(() => (dns.status()[0]?.failures ?? 0) >= 1);
  t.like(dns.status()[0], { addresses: ['10.0.0.1'], lastError: 'ETIMEOUT' });
  t.deepEqual(dns.resolved(), { 'a.test': ['10.0.0.1'] });
  table.set('a.test', ['10.0.0.1']);
  // retried after RETRY_MS, not at the answer's short TTL
  const failedAt = Date.now();
  await until(() => dns.status()[0]?.lastError === null, RETRY_MS + 2_000);
  t.true(Date.now() - failedAt >= RETRY_MS - 100);
  t.is(changes(), 0, 'the same answer again is no change');
  dns.stop();
});

test('track forgets names the applied snapshot no longer uses', async (t) => {
  const table = new Map<string, readonly string[] | Error>([['a.test', ['10.0.0.1']], ['b.test', ['10.0.0.2']]]);
  const f = fake(table, 30);
  const dns = new DnsResolver(f.resolve);
  await dns.ensure(['a.test', 'b.test']);
  dns.track(['a.test', 'b.test']);
  dns.track(['b.test']);
  t.deepEqual(dns.status().map((s) => s.name), ['b.test']);
  const before = f.calls.filter((c) => c === 'a.test').length;
  await sleep(100);
  t.is(f.calls.filter((c) => c === 'a.test').length, before);
  dns.stop();
});
