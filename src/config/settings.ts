// Proxy settings that travel in the Snapshot; defaults are named with where they come from.
import { isIP } from 'node:net';
import { StickydError } from '../errors.js';
import type { ProxySettings } from '../snapshot/types.js';

/**
 * lru session cache entries per worker for plain hash mode: off. It never changes an answer, and
 * every measurement found it dearer than what it saves (a hit costs more than hashing the key and
 * looking it up; bench/RESULTS.md, "Session cache default"); `--session-cache N` turns it on.
 * Persistent-session pins have their own cache (DEFAULT_PIN_CACHE_SIZE), which does pay.
 */
export const DEFAULT_SESSION_CACHE_SIZE = 0;
/**
 * verified-pin cache entries per worker: a hit saves one HMAC-SHA256 per request (bench:micro,
 * "pin cache"); ~100k sessions at roughly 200 B each is ~20 MB
 */
export const DEFAULT_PIN_CACHE_SIZE = 100_000;
/** bytes; longer cookie/header/query keys are treated as absent (bounds hashing and cache memory) */
export const DEFAULT_MAX_KEY_LENGTH = 256;
/** Envoy's default cluster connect_timeout */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;
/** below Node's 5 s http server keepAliveTimeout, so our side closes an idle upstream socket first */
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 4_000;
/** how long a draining worker waits for in-flight requests */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** Envoy's default max_request_headers_count is 100; HAProxy's tune.http.maxhdr is 101 */
export const DEFAULT_MAX_HEADER_COUNT = 100;
/** RFC 9112 §3: "a minimum request-line length of 8000 octets" is recommended */
export const DEFAULT_MAX_URI_LENGTH = 8_192;
/** Node's default maxHeaderSize (16 KiB), which now counts header fields only (docs/reliability.md, Size limits) */
export const DEFAULT_MAX_HEADER_BYTES = 16_384;
/** HAProxy's documented `timeout http-request 10s`; Node's 60 s lets a slowloris hold a socket 6x longer */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Node's default requestTimeout */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
/** Node's default keepAliveTimeout */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** nginx's worker_connections order of magnitude, well below a systemd LimitNOFILE of 65536 */
export const DEFAULT_MAX_CONNECTIONS_PER_WORKER = 10_000;
/** Envoy's default stream_idle_timeout (5 min) */
export const DEFAULT_UPSTREAM_STREAM_IDLE_TIMEOUT_MS = 300_000;

export const DEFAULT_SETTINGS: ProxySettings = Object.freeze({
  sessionCacheSize: DEFAULT_SESSION_CACHE_SIZE,
  pinCacheSize: DEFAULT_PIN_CACHE_SIZE,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
  upstreamConnectTimeoutMs: DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS,
  upstreamIdleTimeoutMs: DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
  drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
  maxHeaderCount: DEFAULT_MAX_HEADER_COUNT,
  maxUriLength: DEFAULT_MAX_URI_LENGTH,
  maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES,
  headersTimeoutMs: DEFAULT_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  maxConnectionsPerWorker: DEFAULT_MAX_CONNECTIONS_PER_WORKER,
  upstreamStreamIdleTimeoutMs: DEFAULT_UPSTREAM_STREAM_IDLE_TIMEOUT_MS,
  trustedProxies: Object.freeze([]) as readonly string[],
  credentialsDir: null,
  forwardClientCert: false,
});

type NumericSetting = { [K in keyof ProxySettings]-?: NonNullable<ProxySettings[K]> extends number ? K : never }[keyof ProxySettings];

/** Defaults overridden by `overrides`; every number must be a positive integer (sessionCacheSize may be 0), trustedProxies IPs or CIDRs. */
export function resolveSettings(overrides: Partial<ProxySettings> = {}): ProxySettings {
  const merged: { -readonly [K in keyof ProxySettings]: ProxySettings[K] } = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof ProxySettings)[]) {
    const v = overrides[key];
    if (v === undefined) continue;
    if (key === 'trustedProxies') {
      merged.trustedProxies = checkTrustedProxies(v);
      continue;
    }
    if (key === 'forwardClientCert') {
      if (typeof v !== 'boolean') throw new StickydError('STICKYD_ERR_USAGE', 'setting forwardClientCert must be true or false');
      merged.forwardClientCert = v;
      continue;
    }
    if (key === 'credentialsDir') {
      if (v !== null && (typeof v !== 'string' || v === '')) throw new StickydError('STICKYD_ERR_USAGE', 'setting credentialsDir must be a directory path');
      merged.credentialsDir = v as string | null;
      continue;
    }
    // sessionCacheSize 0 disables the cache (`--session-cache 0`, as the help says)
    const min = key === 'sessionCacheSize' || key === 'pinCacheSize' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new StickydError('STICKYD_ERR_USAGE', `setting ${key} must be an integer >= ${min}, got ${String(v)}`);
    merged[key as NumericSetting] = v;
  }
  return merged;
}

/** "10.0.0.0/8", "192.0.2.7", "::1", "fd00::/8"; throws STICKYD_ERR_USAGE naming the bad entry. */
function checkTrustedProxies(v: unknown): readonly string[] {
  if (!Array.isArray(v)) throw new StickydError('STICKYD_ERR_USAGE', 'setting trustedProxies must be a list of IPs or CIDRs');
  return v.map((entry: unknown) => {
    const text = String(entry).trim();
    const [address = '', prefix, extra] = text.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const ok = family !== 0 && extra === undefined && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits));
    if (!ok) throw new StickydError('STICKYD_ERR_USAGE', `trusted proxy "${text}" is not an IP address or CIDR`);
    return text;
  });
}
