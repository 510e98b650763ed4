// What an upstream attempt's error means, as pure functions of the error (undici's code) and two
// facts about the attempt: whether its request was written, and whether this proxy cut it itself.
// They answer which catalogue error the client gets, whether a retry policy may try again, and
// what the outlier detector is told; proxy.ts acts on the answers. No state, no sockets.
import { StickydError } from '../../errors.js';
import { buildError, errorText } from '../downstream/responses.js';
import type { Outcome } from './outlier-report.js';
import type { AttemptFailure } from './retry-policy.js';

/** Why this proxy cut an attempt itself (undici reports its own connect and idle timeouts). */
export type Cut = 'perTryTimeout' | 'routeTimeout' | null;

/** undici refused the request as given (a header or path Node's server parser let through). */
const REFUSED_AS_GIVEN = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED']);
/** a connection that closed under a request that had been written to it */
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);
/** undici's stream idle timeouts: no response head, or no body bytes, for the configured time */
const IDLE_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * OpenSSL's certificate verification results as Node names them, and Node's own: the endpoint's
 * certificate was not trusted or did not match. With ERR_SSL_* (an alert or a handshake that
 * failed, such as a backend refusing our client certificate) they are TLS failures.
 */
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'CERT_REVOKED', 'INVALID_CA',
  'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO',
]);

/** The handshake with the endpoint failed (verification, or an alert either way). */
export function isTlsFailure(code: string): boolean {
  return TLS_VERIFY_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_');
}

/** An error's string `code` (undici's UND_ERR_*, the OS's E*, llhttp's HPE_*), else 'UNKNOWN'. */
export function readErrorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/** undici would not send the request at all: the client's request is at fault (400), not the endpoint. */
export function isRefusedAsGiven(code: string): boolean {
  return REFUSED_AS_GIVEN.has(code);
}

/** The connection closed under a written request: on a reused connection, the keep-alive race. */
export function isConnectionReset(code: string): boolean {
  return RESET_CODES.has(code);
}

/**
 * What a retry policy sees of a failed attempt (retry-policy.ts); null when it is not retriable
 * whatever the policy: the route timeout or an idle timeout ran out, or the response was invalid.
 */
export function readAttemptFailure(code: string, cut: Cut, sent: boolean): AttemptFailure | null {
  if (cut === 'routeTimeout' || IDLE_CODES.has(code)) return null;
  if (cut === 'perTryTimeout') return 'perTryTimeout';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || !sent || isTlsFailure(code)) return 'connect';
  return code.startsWith('HPE_') ? null : 'reset';
}

/** The catalogue error for a failed attempt at endpoint `endpointId`; a StickydError is already one. */
export function classifyFailure(err: Error, sent: boolean, endpointId: string): StickydError {
  if (err instanceof StickydError) return err;
  const code = readErrorCode(err);
  if (code === 'ECONNREFUSED') return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.refused(endpointId), err);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', errorText.connectTimeout(endpointId), err);
  if (IDLE_CODES.has(code)) return buildError('STICKYD_ERR_UPSTREAM_TIMEOUT', `upstream idle timeout from ${endpointId}`, err);
  if (code.startsWith('HPE_')) return buildError('STICKYD_ERR_UPSTREAM_PROTOCOL', errorText.protocol(endpointId, code), err);
  if (isTlsFailure(code)) return buildError('STICKYD_ERR_UPSTREAM_TLS', errorText.tls(endpointId, code), err);
  if (!sent) return buildError('STICKYD_ERR_UPSTREAM_REFUSED', errorText.connectFailed(endpointId, code), err);
  return buildError('STICKYD_ERR_UPSTREAM_RESET', errorText.reset(endpointId), err);
}

/** What outlier detection is told about a failed attempt: an invalid response is the endpoint's fault. */
export function failureOutcome(code: string): Outcome {
  return code.startsWith('HPE_') ? 'gateway' : 'local';
}
