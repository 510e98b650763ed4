// One keep-alive http.Agent per endpoint id, kept across snapshots so pooled upstream connections
// survive a reload that keeps their endpoint. An endpoint that leaves the config is retired: its
// idle sockets close now, its in-flight requests finish, and their sockets close after.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Endpoint, Snapshot } from '../snapshot/types.js';

/** Per-endpoint connection cap; Node's default is unlimited, which lets one slow backend eat every fd. */
export const UPSTREAM_MAX_SOCKETS = 256;

class EndpointAgent extends http.Agent {
  retired = false;

  constructor(readonly idleTimeoutMs: number) {
    // lifo: reuse the most recently used socket, so the rest age out at idleTimeoutMs and a
    // backend's own keep-alive timeout rarely closes the one we pick (Node's recommendation).
    // A non-zero timeout also makes the Agent honour the backend's Keep-Alive: timeout=N hint.
    super({ keepAlive: true, maxSockets: UPSTREAM_MAX_SOCKETS, timeout: idleTimeoutMs, scheduling: 'lifo' });
  }

  override keepSocketAlive(socket: Duplex): boolean {
    if (this.retired) return false;
    return (super.keepSocketAlive as (s: Duplex) => boolean).call(this, socket);
  }
}

export class UpstreamPool {
  readonly #agents = new Map<string, EndpointAgent>();
  #idleTimeoutMs: number;

  constructor(idleTimeoutMs: number) {
    this.#idleTimeoutMs = idleTimeoutMs;
  }

  /** The agent for `endpoint`, created on first use. */
  agentFor(endpoint: Endpoint): http.Agent {
    let agent = this.#agents.get(endpoint.id);
    if (agent === undefined || agent.idleTimeoutMs !== this.#idleTimeoutMs) {
      if (agent !== undefined) retire(agent);
      agent = new EndpointAgent(this.#idleTimeoutMs);
      this.#agents.set(endpoint.id, agent);
    }
    return agent;
  }

  /** Adopt a snapshot's idle timeout for agents created from now on. Call before building its runtime. */
  configure(snapshot: Snapshot): void {
    this.#idleTimeoutMs = snapshot.settings.upstreamIdleTimeoutMs;
  }

  /** Retire agents whose endpoint is in none of `snapshot`'s subsets. Call after the swap. */
  retainOnly(snapshot: Snapshot): void {
    const keep = new Set<string>();
    for (const s of snapshot.subsets) for (const e of s.endpoints) keep.add(e.id);
    for (const [id, agent] of this.#agents) {
      if (keep.has(id)) continue;
      retire(agent);
      this.#agents.delete(id);
    }
  }

  /** Endpoint ids with a live agent (stats, tests). */
  get size(): number {
    return this.#agents.size;
  }

  /** Drop every pooled socket; in-flight requests are cut. Used at the drain deadline. */
  destroyAll(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

function retire(agent: EndpointAgent): void {
  agent.retired = true;
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) (socket as Socket).destroy();
  }
}
