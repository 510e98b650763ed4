// Proxy settings that travel in the Snapshot; defaults are named with where they come from.
import { StickydError } from '../errors.js';
import type { ProxySettings } from '../snapshot/types.js';

/** lru session cache entries per worker: ~100k sessions at roughly 100 B each is ~10 MB */
export const DEFAULT_SESSION_CACHE_SIZE = 100_000;
/** bytes; longer cookie/header/query keys are treated as absent (bounds hashing and cache memory) */
export const DEFAULT_MAX_KEY_LENGTH = 256;
/** Envoy's default cluster connect_timeout */
export const DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;
/** below Node's 5 s http server keepAliveTimeout, so our side closes an idle upstream socket first */
export const DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS = 4_000;
/** how long a draining worker waits for in-flight requests */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export const DEFAULT_SETTINGS: ProxySettings = Object.freeze({
  sessionCacheSize: DEFAULT_SESSION_CACHE_SIZE,
  maxKeyLength: DEFAULT_MAX_KEY_LENGTH,
  upstreamConnectTimeoutMs: DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS,
  upstreamIdleTimeoutMs: DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS,
  drainTimeoutMs: DEFAULT_DRAIN_TIMEOUT_MS,
});

/** Defaults overridden by `overrides`; every value must be a positive integer. */
export function resolveSettings(overrides: Partial<ProxySettings> = {}): ProxySettings {
  const merged: ProxySettings = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS) as (keyof ProxySettings)[]) {
    const v = overrides[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v <= 0) throw new StickydError('STICKYD_ERR_USAGE', `setting ${key} must be a positive integer, got ${String(v)}`);
    (merged as { -readonly [K in keyof ProxySettings]: number })[key] = v;
  }
  return merged;
}
