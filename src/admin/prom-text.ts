// Prometheus text exposition format 0.0.4: HELP and TYPE once per family, then its samples,
// label values escaped (backslash, double quote, newline). Nothing else of the format is needed.

export const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = readonly (readonly [name: string, value: string])[];

export class PromText {
  readonly #lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, labels: Labels, value: number): this {
    const text = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
    this.#lines.push(`${name}${text} ${formatValue(value)}`);
    return this;
  }

  /** A histogram from non-cumulative bucket counts (last one is +Inf) and the sum. */
  histogram(name: string, labels: Labels, bounds: readonly number[], counts: readonly number[], sum: number): this {
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += counts[i] ?? 0;
      this.sample(`${name}_bucket`, [...labels, ['le', String(le)]], cumulative);
    });
    cumulative += counts[bounds.length] ?? 0;
    this.sample(`${name}_bucket`, [...labels, ['le', '+Inf']], cumulative);
    this.sample(`${name}_sum`, labels, sum);
    return this.sample(`${name}_count`, labels, cumulative);
  }

  text(): string {
    return this.#lines.join('\n') + '\n';
  }
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
