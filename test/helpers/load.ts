// Bounded autocannon load against loopback only.
import autocannon from 'autocannon';

export interface LoadResult {
  requests: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  resets: number;
  statusCodes: Record<string, number>;
}

export async function load(
  url: string,
  opts: { connections?: number; durationSec?: number; headers?: Record<string, string>; path?: string } = {},
): Promise<LoadResult> {
  if (!/^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)[:/]/.test(url)) throw new Error(`load tests target loopback only, not ${url}`);
  const result = await autocannon({
    url,
    connections: opts.connections ?? 50,
    duration: opts.durationSec ?? 10,
    headers: { host: 'demo.example.com', ...opts.headers },
    timeout: 10,
  });
  const statusCodes: Record<string, number> = {};
  for (const [k, v] of Object.entries(result.statusCodeStats ?? {})) statusCodes[k] = (v as { count: number }).count;
  return {
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    resets: result.resets ?? 0,
    statusCodes,
  };
}
