// The one catalogue of failures. Every thrown or returned failure is a StickydError with a
// stable code; errors cross IPC as {code, message}, never as instances.

export type ErrorSource = 'config' | 'upstream' | 'downstream' | 'internal';

interface CodeInfo {
  readonly status: number;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  readonly summary: string;
}

export const CODES = {
  STICKYD_ERR_CONFIG_INVALID: { status: 0, source: 'config', retryable: false, summary: 'the configuration failed validation' },
  STICKYD_ERR_CONFIG_READ: { status: 0, source: 'config', retryable: false, summary: 'a configuration file could not be read' },
  STICKYD_ERR_NO_HOST: { status: 404, source: 'downstream', retryable: false, summary: 'no Gateway host or VirtualService matches the request host' },
  STICKYD_ERR_MISDIRECTED: { status: 421, source: 'downstream', retryable: false, summary: 'the request host belongs to another Gateway server (certificate) on this HTTPS port than the connection\'s' },
  STICKYD_ERR_NO_ROUTE: { status: 404, source: 'downstream', retryable: false, summary: 'no VirtualService route matches the request' },
  STICKYD_ERR_NO_HEALTHY_ENDPOINT: { status: 503, source: 'upstream', retryable: false, summary: 'every endpoint of the subset is down' },
  STICKYD_ERR_UPSTREAM_OVERFLOW: { status: 503, source: 'upstream', retryable: false, summary: 'a DestinationRule connectionPool limit (circuit breaker) is reached: answered with x-envoy-overloaded: true' },
  STICKYD_ERR_UPSTREAM_REFUSED: { status: 502, source: 'upstream', retryable: true, summary: 'the upstream endpoint refused the connection' },
  STICKYD_ERR_UPSTREAM_RESET: { status: 502, source: 'upstream', retryable: false, summary: 'the upstream endpoint reset or closed the connection' },
  STICKYD_ERR_UPSTREAM_TIMEOUT: { status: 504, source: 'upstream', retryable: false, summary: 'the upstream endpoint did not answer in time' },
  STICKYD_ERR_UPSTREAM_TLS: { status: 502, source: 'upstream', retryable: true, summary: 'the TLS handshake with the upstream endpoint failed: its certificate did not verify or match, or it refused ours' },
  STICKYD_ERR_UPSTREAM_PROTOCOL: { status: 502, source: 'upstream', retryable: false, summary: 'the upstream endpoint sent an invalid response' },
  STICKYD_ERR_BAD_REQUEST: { status: 400, source: 'downstream', retryable: false, summary: 'the request is malformed' },
  STICKYD_ERR_HEADERS_TOO_LARGE: { status: 431, source: 'downstream', retryable: false, summary: 'the request has too many header lines or header bytes' },
  STICKYD_ERR_URI_TOO_LONG: { status: 414, source: 'downstream', retryable: false, summary: 'the request target is longer than the configured limit' },
  STICKYD_ERR_TRANSFER_CODING: { status: 501, source: 'downstream', retryable: false, summary: 'the request uses a transfer coding other than chunked' },
  STICKYD_ERR_HTTP_VERSION: { status: 505, source: 'downstream', retryable: false, summary: 'the request is not HTTP/1.0 or HTTP/1.1' },
  STICKYD_ERR_METHOD_NOT_ALLOWED: { status: 405, source: 'downstream', retryable: false, summary: 'CONNECT: stickyd is a reverse proxy, not a tunnel' },
  STICKYD_ERR_REQUEST_TIMEOUT: { status: 408, source: 'downstream', retryable: false, summary: 'the client did not send its request in time' },
  STICKYD_ERR_KERNEL_LOAD: { status: 0, source: 'internal', retryable: false, summary: 'the WebAssembly lookup kernel could not be loaded' },
  STICKYD_ERR_BUILD: { status: 0, source: 'internal', retryable: false, summary: 'building a balancer table failed' },
  STICKYD_ERR_RELOAD: { status: 0, source: 'internal', retryable: false, summary: 'a reload failed' },
  STICKYD_ERR_SESSION_KEYS: { status: 0, source: 'config', retryable: false, summary: 'the session key file is missing, unreadable or invalid' },
  STICKYD_ERR_USAGE: { status: 0, source: 'internal', retryable: false, summary: 'the command line is invalid' },
  STICKYD_ERR_LISTEN: { status: 0, source: 'internal', retryable: false, summary: 'a listening socket could not be opened at startup (port in use, or a low port without CAP_NET_BIND_SERVICE)' },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof CODES;

export class StickydError extends Error {
  readonly code: ErrorCode;
  readonly source: ErrorSource;
  readonly retryable: boolean;
  /** HTTP status for request-level errors; 0 for errors that never reach a client */
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StickydError';
    const info: CodeInfo = CODES[code];
    this.code = code;
    this.source = info.source;
    this.retryable = info.retryable;
    this.status = info.status;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** One validation problem, located as file, document (kind/name) and field path. */
export interface ConfigIssue {
  readonly file: string;
  /** 0-based index of the YAML document in the file */
  readonly docIndex: number;
  /** "Kind/name", or "document 3" when kind/name are unknown */
  readonly document: string;
  /** dotted field path, e.g. "spec.http[1].route[0].destination.subset" */
  readonly field: string;
  /** 1-based line in the file when known */
  readonly line: number | null;
  readonly message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== null ? `${i.file}:${i.line}` : i.file;
  return `${where}: ${i.document}: ${i.field}: ${i.message}`;
}

export class ConfigError extends StickydError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super('STICKYD_ERR_CONFIG_INVALID', `${issues.length} configuration error(s):\n` + issues.map(formatIssue).join('\n'));
    this.issues = issues;
  }
}
