// Endpoint health as the workers see it: the union of failed active checks (health-checker.ts)
// and outlier ejections (outlier-detector.ts), published to every worker as one small `health`
// message with a growing generation whenever the union changes. Never part of the snapshot, so
// a flapping backend costs a few bytes of IPC, not a table build.
import type { HealthSource } from '../daemon-view.js';
import { log } from '../log.js';
import type { EndpointOutcomes } from '../protocol.js';
import type { Snapshot } from '../snapshot/types.js';
import { HealthChecker, type HealthCheckOptions } from './health-checker.js';
import { OutlierDetector } from './outlier-detector.js';

export type PublishHealth = (generation: number, unhealthy: readonly string[]) => void;

export class HealthMonitor implements HealthSource {
  readonly #checker: HealthChecker | null;
  readonly #outliers: OutlierDetector;
  readonly #publish: PublishHealth;
  #generation = 0;
  #published = '';

  /** `checks` null: no active checks (stickyd run without --health-path). */
  constructor(checks: HealthCheckOptions | null, publish: PublishHealth) {
    this.#publish = publish;
    this.#checker = checks === null ? null : new HealthChecker(checks, (id, up, reason) => this.#changed(id, up ? 'passes its health check again' : 'failed its health check', reason));
    this.#outliers = new OutlierDetector((id, ejected, reason) => this.#changed(id, ejected ? 'ejected as an outlier' : 'returned from ejection', reason));
  }

  /** A snapshot was published: check its endpoints, judge outcomes against its policies. */
  update(snapshot: Snapshot): void {
    this.#checker?.update(snapshot);
    this.#outliers.update(snapshot);
    this.#maybePublish();
  }

  observe(outcomes: readonly EndpointOutcomes[]): void {
    this.#outliers.observe(outcomes);
  }

  /** Endpoint ids that take no new traffic now: failing active checks or ejected. */
  unhealthy(): Set<string> {
    return new Set([...(this.#checker?.down() ?? []), ...this.#outliers.ejected()]);
  }

  /** Times `endpoint` was ejected since start; ejection is per endpoint, whichever subset saw it fail. */
  ejections(_subset: string, endpoint: string): number {
    return this.#outliers.totalEjections(endpoint);
  }

  get generation(): number {
    return this.#generation;
  }

  status(): Record<string, unknown> {
    return {
      generation: this.#generation,
      unhealthy: [...this.unhealthy()].sort(),
      activeChecks: this.#checker?.status() ?? null,
      outliers: this.#outliers.status(),
    };
  }

  stop(): void {
    this.#checker?.stop();
    this.#outliers.stop();
  }

  #changed(id: string, what: string, reason: string): void {
    log(what.startsWith('passes') || what.startsWith('returned') ? 'info' : 'warn', `endpoint ${what}`, { endpoint: id, reason });
    this.#maybePublish();
  }

  #maybePublish(): void {
    const list = [...this.unhealthy()].sort();
    const text = list.join('\n');
    if (text === this.#published) return;
    this.#published = text;
    this.#publish(++this.#generation, list);
  }
}
