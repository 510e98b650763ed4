// A tiny authoritative DNS server on 127.0.0.1 (UDP) for tests: answers A queries from a map the
// test changes, with a TTL it sets; AAAA and unknown names get an empty answer or NXDOMAIN.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface TestDnsServer {
  readonly port: number;
  /** name (lower-case) -> IPv4 addresses; change it to change the answers */
  readonly records: Map<string, string[]>;
  ttlSec: number;
  /** A queries answered, by name */
  readonly queries: Map<string, number>;
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;

export async function startDnsServer(records: Record<string, string[]> = {}, ttlSec = 1): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4');
  const state: TestDnsServer = {
    port: 0,
    records: new Map(Object.entries(records)),
    ttlSec,
    queries: new Map(),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, peer) => {
    const reply = answer(state, msg);
    if (reply !== null) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  (state as { port: number }).port = (socket.address() as AddressInfo).port;
  return state;
}

function answer(state: TestDnsServer, msg: Buffer): Buffer | null {
  if (msg.length < 12) return null;
  // one question: labels, then type and class
  let at = 12;
  const labels: string[] = [];
  while (at < msg.length && msg[at]! !== 0) {
    const len = msg[at]!;
    labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
    at += 1 + len;
  }
  at += 1;
  if (at + 4 > msg.length) return null;
  const qtype = msg.readUInt16BE(at);
  const question = msg.subarray(12, at + 4);
  const name = labels.join('.').toLowerCase();
  const known = state.records.get(name);
  const addresses = qtype === TYPE_A ? known ?? [] : [];
  if (qtype === TYPE_A) state.queries.set(name, (state.queries.get(name) ?? 0) + 1);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(msg.readUInt16BE(0), 0);
  // QR, AA, RD copied, RA; rcode 3 (NXDOMAIN) for a name we do not know
  header.writeUInt16BE(0x8580 | (msg.readUInt16BE(2) & 0x0100) | (known === undefined ? 3 : 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(addresses.length, 6);
  const answers = addresses.map((a) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(state.ttlSec, 6);
    rr.writeUInt16BE(4, 10);
    a.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  return Buffer.concat([header, question, ...answers]);
}
