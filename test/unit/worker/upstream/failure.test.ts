import test from 'ava';
import { StickydError, type ErrorCode } from '../../../../src/errors.js';
import { classifyFailure, failureOutcome, isConnectionReset, isRefusedAsGiven, readAttemptFailure, readErrorCode } from '../../../../src/worker/upstream/failure.js';

const withCode = (code: string): Error => Object.assign(new Error(code), { code });

test('readErrorCode: a string code, else UNKNOWN', (t) => {
  t.is(readErrorCode(withCode('ECONNRESET')), 'ECONNRESET');
  t.is(readErrorCode(Object.assign(new Error('x'), { code: 42 })), 'UNKNOWN');
  t.is(readErrorCode(new Error('x')), 'UNKNOWN');
  t.is(readErrorCode(null), 'UNKNOWN');
  t.is(readErrorCode(undefined), 'UNKNOWN');
});

test('classifyFailure: each failure gets its catalogue code, status and a message naming the endpoint', (t) => {
  const cases: [string, boolean, ErrorCode, number][] = [
    ['ECONNREFUSED', false, 'STICKYD_ERR_UPSTREAM_REFUSED', 502],
    ['UND_ERR_CONNECT_TIMEOUT', false, 'STICKYD_ERR_UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_HEADERS_TIMEOUT', true, 'STICKYD_ERR_UPSTREAM_TIMEOUT', 504],
    ['UND_ERR_BODY_TIMEOUT', true, 'STICKYD_ERR_UPSTREAM_TIMEOUT', 504],
    ['HPE_INVALID_CONSTANT', true, 'STICKYD_ERR_UPSTREAM_PROTOCOL', 502],
    // nothing was written: the connection never worked, whatever the code says
    ['ECONNRESET', false, 'STICKYD_ERR_UPSTREAM_REFUSED', 502],
    ['EHOSTUNREACH', false, 'STICKYD_ERR_UPSTREAM_REFUSED', 502],
    ['ECONNRESET', true, 'STICKYD_ERR_UPSTREAM_RESET', 502],
    ['UND_ERR_SOCKET', true, 'STICKYD_ERR_UPSTREAM_RESET', 502],
  ];
  for (const [code, sent, expected, status] of cases) {
    const err = withCode(code);
    const e = classifyFailure(err, sent, '10.0.0.7:8080');
    t.is(e.code, expected, `${code} sent=${sent}`);
    t.is(e.status, status, `${code} sent=${sent}`);
    t.regex(e.message, /10\.0\.0\.7:8080/);
    t.is(e.cause, err);
  }
});

test('classifyFailure: a StickydError (a cut attempt) passes through unchanged', (t) => {
  const cut = new StickydError('STICKYD_ERR_UPSTREAM_TIMEOUT', 'upstream per-try timeout from a');
  t.is(classifyFailure(cut, true, 'a'), cut);
});

test('readAttemptFailure: what a retry policy may act on', (t) => {
  // the route timeout and undici's idle timeouts end the exchange whatever the policy says
  t.is(readAttemptFailure('STICKYD_ERR_UPSTREAM_TIMEOUT', 'routeTimeout', true), null);
  t.is(readAttemptFailure('UND_ERR_HEADERS_TIMEOUT', null, true), null);
  t.is(readAttemptFailure('UND_ERR_BODY_TIMEOUT', 'perTryTimeout', true), null);
  t.is(readAttemptFailure('STICKYD_ERR_UPSTREAM_TIMEOUT', 'perTryTimeout', true), 'perTryTimeout');
  // nothing written, or a connect timeout: a connect failure, safe for any method
  t.is(readAttemptFailure('UND_ERR_CONNECT_TIMEOUT', null, true), 'connect');
  t.is(readAttemptFailure('ECONNREFUSED', null, false), 'connect');
  t.is(readAttemptFailure('ECONNRESET', null, false), 'connect');
  // written, then the connection went away; an invalid response is never retried
  t.is(readAttemptFailure('ECONNRESET', null, true), 'reset');
  t.is(readAttemptFailure('UNKNOWN', null, true), 'reset');
  t.is(readAttemptFailure('HPE_INVALID_STATUS', null, true), null);
});

test('refused-as-given, connection resets and the outlier outcome', (t) => {
  t.true(isRefusedAsGiven('UND_ERR_INVALID_ARG'));
  t.true(isRefusedAsGiven('UND_ERR_NOT_SUPPORTED'));
  t.false(isRefusedAsGiven('ECONNREFUSED'));
  for (const code of ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']) t.true(isConnectionReset(code), code);
  t.false(isConnectionReset('ECONNREFUSED'));
  t.false(isConnectionReset('UND_ERR_HEADERS_TIMEOUT'));
  t.is(failureOutcome('HPE_INVALID_CONSTANT'), 'gateway');
  t.is(failureOutcome('ECONNREFUSED'), 'local');
  t.is(failureOutcome('UND_ERR_SOCKET'), 'local');
});

test('a failed TLS handshake with the endpoint is STICKYD_ERR_UPSTREAM_TLS, retried as a connect failure even once written', (t) => {
  for (const code of ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
    const e = classifyFailure(withCode(code), true, '10.0.0.1:8443');
    t.is(e.code, 'STICKYD_ERR_UPSTREAM_TLS', code);
    t.is(e.status, 502);
    t.is(e.message, `upstream TLS error: ${code} from 10.0.0.1:8443`);
    t.is(readAttemptFailure(code, null, true), 'connect', code);
  }
  t.is(classifyFailure(withCode('ECONNRESET'), true, 'e').code, 'STICKYD_ERR_UPSTREAM_RESET');
});
