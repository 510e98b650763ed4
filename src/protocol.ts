// Every IPC message between the primary and its workers. Small flat objects with a verb (`act`),
// the namespace marker (`cmd`) so they never mix with Node's own cluster messages, and `seq` to
// pair replies. Errors cross as {code, message}.
import type { Snapshot } from './snapshot/types.js';

export const CMD = 'stickyd' as const;

export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** How a worker listens; fixed for the worker's life (a listener change means a worker restart). */
export interface ListenSpec {
  readonly host: string;
  /** 0 = an ephemeral port (all workers share the one the primary picks) */
  readonly port: number;
  /** the Gateway server port (Snapshot listener) this socket serves; differs from `port` under --listen */
  readonly gatewayPort: number;
}

// primary -> worker
export interface InitMsg { cmd: typeof CMD; act: 'init'; seq: number; listen: readonly ListenSpec[] }
export interface SnapshotMsg { cmd: typeof CMD; act: 'snapshot'; seq: number; snapshot: Snapshot }
export interface PingMsg { cmd: typeof CMD; act: 'ping'; seq: number }
export interface DrainMsg { cmd: typeof CMD; act: 'drain'; seq: number; graceMs: number; deadlineMs: number }
export interface StatsMsg { cmd: typeof CMD; act: 'stats'; seq: number }

// worker -> primary
/**
 * "My message listener is installed." IPC messages that reach a cluster worker before user code
 * registers process.on('message') are dropped (observed on Node 20 even with the listener at the
 * top of the entry module), so the primary sends nothing before this arrives.
 */
export interface ReadyMsg { cmd: typeof CMD; act: 'ready' }
export interface AckMsg { cmd: typeof CMD; act: 'ack'; seq: number; epoch?: number; error?: WireError }
export interface PongMsg { cmd: typeof CMD; act: 'pong'; seq: number; epoch: number }
export interface ListeningMsg { cmd: typeof CMD; act: 'listening'; epoch: number; addresses: readonly ListenSpec[] }
export interface StatsReplyMsg { cmd: typeof CMD; act: 'statsReply'; seq: number; stats: Readonly<Record<string, unknown>> }

export type ToWorker = InitMsg | SnapshotMsg | PingMsg | DrainMsg | StatsMsg;
export type ToPrimary = ReadyMsg | AckMsg | PongMsg | ListeningMsg | StatsReplyMsg;

export function isOurs(msg: unknown): msg is ToWorker | ToPrimary {
  return typeof msg === 'object' && msg !== null && (msg as { cmd?: unknown }).cmd === CMD;
}
