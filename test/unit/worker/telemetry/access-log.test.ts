import test from 'ava';
import { AccessLog, BATCH_LINES, buildAccessLine, FLUSH_MS, jsonString, MAX_PATH_CHARS, PIPE_BUF, UNROUTED_JSON, type AccessFields } from '../../../../src/worker/telemetry/access-log.js';

function fields(over: Partial<AccessFields> = {}): AccessFields {
  return {
    requestId: 'req-1', client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping',
    status: 200, bytes: 87, startedAt: performance.now() - 1.23456, durationMs: 1.23456,
    destinationJson: ',"route":"demo-vs/http[1]","subset":"demo-service/v1","upstream":"127.0.0.1:18081"', session: 'minted', sessionKeyHash: 0x0badf00d, upgradeRefused: null, ...over,
  };
}

class Sink {
  readonly chunks: string[] = [];
  writableLength = 0;
  write(chunk: string, encoding: 'latin1'): boolean { if (encoding !== 'latin1') throw new Error(encoding); this.chunks.push(chunk); return true; }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const flushDelay = (): Promise<void> => new Promise((r) => setTimeout(r, FLUSH_MS + 20));

test('a line is one JSON object with every field the issue lists, in a fixed order', (t) => {
  const line = buildAccessLine(fields());
  t.true(line.endsWith('}\n'));
  t.true(line.startsWith('{"msg":"access","time":"'));
  const obj = JSON.parse(line) as Record<string, unknown>;
  t.deepEqual(Object.keys(obj), ['msg', 'time', 'requestId', 'client', 'method', 'host', 'path', 'status', 'bytes', 'durationMs', 'route', 'subset', 'upstream', 'session', 'sessionKeyHash', 'upgradeRefused', 'pid']);
  t.like(obj, {
    msg: 'access', requestId: 'req-1', client: '127.0.0.1', method: 'GET', host: 'demo.example.com', path: '/ping',
    status: 200, bytes: 87, durationMs: 1.235, route: 'demo-vs/http[1]', subset: 'demo-service/v1', upstream: '127.0.0.1:18081',
    session: 'minted', sessionKeyHash: '0badf00d', upgradeRefused: null, pid: process.pid,
  });
  // time is the request start: now minus the duration, as ISO-8601
  t.true(Math.abs(Date.parse(obj.time as string) - Date.now()) < 5_000);
});

test('unrouted requests log null route, subset, upstream and session hash', (t) => {
  const obj = JSON.parse(buildAccessLine(fields({ destinationJson: UNROUTED_JSON, session: 'none', sessionKeyHash: null, status: 404 })));
  t.like(obj, { route: null, subset: null, upstream: null, session: 'none', sessionKeyHash: null, status: 404 });
});

test('a stripped Upgrade header is logged with its reason', (t) => {
  t.like(JSON.parse(buildAccessLine(fields({ upgradeRefused: 'protocol' }))), { upgradeRefused: 'protocol', sessionKeyHash: '0badf00d', session: 'minted', pid: process.pid });
  t.like(JSON.parse(buildAccessLine(fields({ upgradeRefused: 'upstream_101', sessionKeyHash: null }))), { upgradeRefused: 'upstream_101', sessionKeyHash: null });
});

test('hostile strings stay inside their field, and the line is pure ASCII', (t) => {
  const evil = 'a"b\\c\nd\u0000e\u00e9f\u2028g\ud83d\ude00h';
  const line = buildAccessLine(fields({ path: evil, host: evil, requestId: evil }));
  t.regex(line, /^[\x20-\x7e]*\n$/, 'ASCII only: length is the byte count');
  t.is(line.indexOf('\n'), line.length - 1, 'exactly one newline, at the end');
  const obj = JSON.parse(line) as Record<string, unknown>;
  t.is(obj.path, evil);
  t.is(obj.host, evil);
  t.is(obj.requestId, evil);
  t.is(jsonString('plain/path-1'), '"plain/path-1"');
});

test('long paths are cut so one line stays one atomic write', (t) => {
  const line = buildAccessLine(fields({ path: '/' + 'x'.repeat(20_000) }));
  const obj = JSON.parse(line) as { path: string };
  t.is(obj.path.length, MAX_PATH_CHARS + 3);
  t.true(obj.path.endsWith('...'));
  t.true(line.length < PIPE_BUF);
});

test('lines are batched into full chunks of at most PIPE_BUF bytes; a partial chunk is written FLUSH_MS later', async (t) => {
  const sink = new Sink();
  const log = new AccessLog({ enabled: true, sample: 1 }, sink);
  const lines: string[] = [];
  for (let i = 0; i < 100; i++) {
    const f = fields({ requestId: `r-${i}` });
    log.write(f);
    lines.push(`r-${i}`);
  }
  const full = sink.chunks.length;
  const perChunk = Math.floor(PIPE_BUF / buildAccessLine(fields({ requestId: 'r-10' })).length);
  t.true(full >= Math.floor(100 / (perChunk + 1)) && full <= Math.ceil(100 / perChunk), `${full} full chunks for 100 lines of which ${perChunk} fit in one`);
  await nextTurn();
  t.is(sink.chunks.length, full, 'the partial chunk is not written on the next turn');
  await flushDelay();
  t.is(sink.chunks.length, full + 1, 'the partial chunk is written after FLUSH_MS');
  for (const c of sink.chunks) {
    t.true(c.length <= PIPE_BUF, `chunk of ${c.length} bytes`);
    t.true(c.endsWith('\n'), 'chunks end on a line boundary');
  }
  const got = sink.chunks.join('').trimEnd().split('\n').map((l) => (JSON.parse(l) as { requestId: string }).requestId);
  t.deepEqual(got, lines);
  t.is(log.lines, 100);
  t.is(log.dropped, 0);
  // flush() writes at once (the worker calls it right before exiting); the timer then has nothing left
  const before = sink.chunks.length;
  log.write(fields());
  log.flush();
  t.is(sink.chunks.length, before + 1);
  await flushDelay();
  t.is(sink.chunks.length, before + 1);
});

test('lines are built BATCH_LINES at a time, or FLUSH_MS after the first of a smaller batch, in request order', async (t) => {
  const sink = new Sink();
  const log = new AccessLog({ enabled: true, sample: 1 }, sink);
  const built = (): number => log.lines - log.waiting;
  for (let i = 0; i < BATCH_LINES - 1; i++) log.write(fields({ requestId: `a-${i}` }));
  t.is(built(), 0, 'fewer than a batch: nothing built yet');
  t.is(log.lines, BATCH_LINES - 1, 'but every line is counted when taken');
  log.write(fields({ requestId: `a-${BATCH_LINES - 1}` }));
  t.is(built(), BATCH_LINES, 'a full batch is built at once');
  log.write(fields({ requestId: 'b-0' }));
  log.write(fields({ requestId: 'b-1' }));
  t.is(built(), BATCH_LINES);
  await flushDelay();
  t.is(built(), BATCH_LINES + 2, 'the smaller batch is built by the timer');
  const ids = sink.chunks.join('').trimEnd().split('\n').map((l) => (JSON.parse(l) as { requestId: string }).requestId);
  t.deepEqual(ids, [...Array.from({ length: BATCH_LINES }, (_, i) => `a-${i}`), 'b-0', 'b-1']);
  // flush() (the worker's exit) builds what waits as well
  log.write(fields({ requestId: 'c-0' }));
  log.flush();
  t.is(built(), BATCH_LINES + 3);
  t.is(log.lines, BATCH_LINES + 3);
  t.true(sink.chunks.at(-1)!.includes('"requestId":"c-0"'));
});

test('stdout on a regular file takes 64 KiB chunks; anything else PIPE_BUF', (t) => {
  const sink = new Sink();
  const log = new AccessLog({ enabled: true, sample: 1 }, sink, 65_536);
  for (let i = 0; i < 400; i++) log.write(fields({ requestId: `r-${i}` }));
  log.flush();
  t.true(sink.chunks.length >= 2 && sink.chunks.length <= 3, `${sink.chunks.length} chunks`);
  t.true(sink.chunks.every((c) => c.length <= 65_536 && c.endsWith('\n')));
  t.is(sink.chunks.join('').split('\n').length - 1, 400);
});

test('durations keep three decimals and times are the request start in ISO-8601 with milliseconds', (t) => {
  const wall = Date.UTC(2026, 11, 1, 10, 0, 59, 999);
  const line = (over: Partial<AccessFields>): Record<string, unknown> =>
    JSON.parse(buildAccessLine(fields({ startedAt: 1000, ...over }), wall - 1000)) as Record<string, unknown>;
  t.is(line({}).time, '2026-12-01T10:00:59.999Z');
  t.is(line({ startedAt: 1001 }).time, '2026-12-01T10:01:00.000Z');
  t.is(line({ durationMs: 0.0004 }).durationMs, 0);
  t.is(line({ durationMs: 12.3456 }).durationMs, 12.346);
  t.is(line({ durationMs: 1500 }).durationMs, 1500);
  // a duration no clock gives (over 31 years) still makes one JSON number: 0.000, where it wrote "0.undefined"
  t.is(line({ durationMs: 1e13 }).durationMs, 0);
  t.regex(buildAccessLine(fields({ durationMs: 2 })), /"durationMs":2\.000,/);
  t.is(line({ sessionKeyHash: 0x0000000f }).sessionKeyHash, '0000000f');
  t.is(line({ sessionKeyHash: 0xffffffff }).sessionKeyHash, 'ffffffff');
});

test('the tabled runs (status and bytes, whole milliseconds, the GET method) read as the line built piece by piece', (t) => {
  const line = (over: Partial<AccessFields>): Record<string, unknown> => JSON.parse(buildAccessLine(fields(over))) as Record<string, unknown>;
  // 0: no response was written; 100 and 999 are the ends of what Node lets a response carry
  for (const status of [0, 100, 200, 404, 503, 999]) t.like(line({ status, bytes: 0 }), { status, bytes: 0 });
  // past the table's end, and at its edges
  const durations = [[99.9994, 99.999], [99.9996, 100], [100, 100], [123.4564, 123.456], [86_400_000.5, 86_400_000.5]] as const;
  for (const [ms, want] of durations) t.is(line({ durationMs: ms }).durationMs, want);
  t.regex(buildAccessLine(fields({ durationMs: 99.9996 })), /"durationMs":100\.000,/);
  for (const method of ['GET', 'POST', 'get', 'GETX', 'M"\\x']) t.is(line({ method }).method, method);
  t.like(line({ method: 'POST', host: 'h.example' }), { method: 'POST', host: 'h.example', path: '/ping' });
});

test('when stdout cannot keep up, lines are dropped and counted instead of buffered without bound', async (t) => {
  const sink = new Sink();
  sink.writableLength = 2 * 1024 * 1024;
  const log = new AccessLog({ enabled: true, sample: 1 }, sink);
  for (let i = 0; i < 10; i++) log.write(fields());
  await nextTurn();
  t.is(log.dropped, 10);
  t.is(log.lines, 0);
  t.is(sink.chunks.length, 0);
});

test('sampling: off logs nothing, 1 logs everything, 0.1 about a tenth', (t) => {
  const off = new AccessLog({ enabled: false, sample: 1 }, new Sink());
  const all = new AccessLog({ enabled: true, sample: 1 }, new Sink());
  const tenth = new AccessLog({ enabled: true, sample: 0.1 }, new Sink());
  let n = 0;
  for (let i = 0; i < 20_000; i++) {
    t.false(off.sampled());
    if (!all.sampled()) t.fail('sample 1 skipped a request');
    if (tenth.sampled()) n++;
  }
  // binomial(20000, 0.1): sd ~42; 10 sd either side
  t.true(n > 1_580 && n < 2_420, `${n} of 20000 sampled`);
  off.configure({ enabled: true, sample: 1 });
  t.true(off.sampled());
});
