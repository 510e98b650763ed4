// Raw TCP exchanges for hostile-input tests: exact bytes out, everything the proxy sends back.
import net from 'node:net';

export interface RawResult {
  /** every byte received, latin1 */
  readonly data: string;
  /** status codes of every response in `data`, in order */
  readonly statuses: number[];
  /** the proxy closed the connection (FIN or RST) before `waitMs` ran out */
  readonly closed: boolean;
  /** ms from the first byte written to the close (or to the timeout) */
  readonly ms: number;
}

/**
 * Sends `parts` (a string is one write; an array is written piece by piece, `gapMs` apart) and
 * collects the reply until the proxy closes or `waitMs` passes.
 */
export function rawExchange(
  port: number,
  parts: string | Buffer | readonly (string | Buffer)[],
  opts: { waitMs?: number; gapMs?: number } = {},
): Promise<RawResult> {
  const waitMs = opts.waitMs ?? 2_000;
  const pieces = typeof parts === 'string' || Buffer.isBuffer(parts) ? [parts] : parts;
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let start = 0;
    let finished = false;
    const finish = (closed: boolean): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks).toString('latin1');
      resolve({ data, statuses: parseStatuses(data), closed, ms: Date.now() - start });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      start = Date.now();
      for (let i = 0; i < pieces.length; i++) {
        if (socket.destroyed) return;
        socket.write(pieces[i]!);
        if (opts.gapMs !== undefined && i < pieces.length - 1) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

/** "HTTP/1.1 200 OK" status lines at the start of the data or right after a blank line / body. */
function parseStatuses(data: string): number[] {
  const out: number[] = [];
  const re = /HTTP\/1\.[01] (\d{3}) /g;
  for (let m = re.exec(data); m !== null; m = re.exec(data)) out.push(Number(m[1]));
  return out;
}
