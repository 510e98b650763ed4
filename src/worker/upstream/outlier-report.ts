// Passive health observations (Envoy: workers count, the main thread decides). For subsets with
// outlierDetection only, each upstream outcome bumps a per-endpoint tally; the tallies go to the
// primary in one `outcomes` message every OUTCOME_FLUSH_MS, or at once when this worker alone
// has seen enough consecutive failures to cross a threshold. Nothing per request crosses IPC.
import type { EndpointOutcomes, OutcomesMsg } from '../../protocol.js';
import { CMD } from '../../protocol.js';
import type { RuntimeSubset } from '../routing/runtime-snapshot.js';

/**
 * Batch window: short against a 10 s ejection interval, long against per-request IPC (at most
 * 10 messages a second per worker, and none while no outlier-detected subset sees traffic).
 * Because each worker flushes on its own, W workers sharing a failing endpoint may relay up to
 * W x (threshold - 1) + 1 consecutive failures before the primary's count crosses the threshold.
 */
export const OUTCOME_FLUSH_MS = 100;

export type Outcome = 'ok' | 'error5xx' | 'gateway' | 'local';

interface Tally {
  subset: number;
  epoch: number;
  endpoint: string;
  ok: number;
  errors5xx: number;
  trailing5xx: number;
  trailingGateway: number;
  okAt: number;
  at5xx: number[];
  atGateway: number[];
}

/**
 * Timestamps kept per trailing run: a worker flushes when it alone reaches a threshold, so a run
 * is at most the threshold long, except for a kind whose threshold is 0 (not judged).
 */
const MAX_TIMES = 1_024;

/** Envoy maps a status to its outlier result: 502/503/504 are gateway errors, other 5xx plain 5xx. */
export function classifyOutcome(status: number): Outcome {
  if (status < 500) return 'ok';
  return status >= 502 && status <= 504 ? 'gateway' : 'error5xx';
}

export class OutcomeReporter {
  readonly #send: (msg: OutcomesMsg) => void;
  /** keyed by RuntimeSubset identity, so a reload starts fresh tallies without string keys */
  readonly #tallies = new Map<RuntimeSubset, (Tally | undefined)[]>();
  #timer: NodeJS.Timeout | null = null;
  /** Date.now() - performance.now(), taken once per batch: Date.now() is dear on some VMs */
  #wallOffset = 0;

  constructor(send: (msg: OutcomesMsg) => void) {
    this.#send = send;
  }

  /**
   * One upstream outcome for endpoint `index` of `subset`. Local failures (connect, reset,
   * timeout) count as 5xx and gateway errors, as Envoy does without split_external_local_origin_errors.
   */
  record(subset: RuntimeSubset, epoch: number, index: number, outcome: Outcome): void {
    const policy = subset.outlier;
    if (policy === null) return;
    let list = this.#tallies.get(subset);
    if (list === undefined) {
      list = [];
      this.#tallies.set(subset, list);
    }
    let t = list[index];
    if (t === undefined) {
      const endpoint = subset.endpoints[index];
      if (endpoint === undefined) return;
      t = { subset: subset.id, epoch, endpoint: endpoint.id, ok: 0, errors5xx: 0, trailing5xx: 0, trailingGateway: 0, okAt: 0, at5xx: [], atGateway: [] };
      list[index] = t;
    }
    if (this.#timer === null) this.#wallOffset = Date.now() - performance.now();
    const at = this.#wallOffset + performance.now();
    if (outcome === 'ok') {
      t.ok++;
      t.trailing5xx = 0;
      t.trailingGateway = 0;
      t.okAt = at;
      t.at5xx.length = 0;
      t.atGateway.length = 0;
    } else {
      t.errors5xx++;
      t.trailing5xx++;
      if (t.at5xx.length < MAX_TIMES) t.at5xx.push(at);
      if (outcome === 'error5xx') {
        t.trailingGateway = 0;
        t.atGateway.length = 0;
      } else {
        t.trailingGateway++;
        if (t.atGateway.length < MAX_TIMES) t.atGateway.push(at);
      }
    }
    const crossed =
      (policy.consecutive5xxErrors > 0 && t.trailing5xx >= policy.consecutive5xxErrors) ||
      (policy.consecutiveGatewayErrors > 0 && t.trailingGateway >= policy.consecutiveGatewayErrors);
    if (crossed) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), OUTCOME_FLUSH_MS);
  }

  /** Sends what has been tallied since the last flush. */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#tallies.size === 0) return;
    const outcomes: EndpointOutcomes[] = [];
    for (const list of this.#tallies.values()) for (const t of list) if (t !== undefined) outcomes.push(t);
    this.#tallies.clear();
    if (outcomes.length > 0) this.#send({ cmd: CMD, act: 'outcomes', outcomes });
  }
}
