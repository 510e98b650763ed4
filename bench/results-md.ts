// bench/RESULTS.md is shared by the three runners (bench, bench:micro, bench:reload): each owns
// the block between its markers and rewrites only that block, so one can be re-run without losing
// the others' figures. Text outside the markers (the written analysis) is left as it is.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const RESULTS_MD = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

const HEADER = `# stickyd benchmark results

The blocks between \`<!-- bench:... -->\` markers are written by \`npm run bench\`, \`npm run bench:micro\`
and \`npm run bench:reload\` from real runs on the machine they name; do not edit them by hand.
The analysis after them is written by people and says where the time goes.
`;

const ANALYSIS = '<!-- analysis -->';

export async function replaceSection(name: string, body: string, file = RESULTS_MD): Promise<void> {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? await readFile(file, 'utf8') : `${HEADER}\n${ANALYSIS}\n`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a !== -1 && b > a) {
    text = text.slice(0, a) + block + text.slice(b + end.length);
  } else {
    const at = text.indexOf(ANALYSIS);
    text = at === -1 ? `${text.trimEnd()}\n\n${block}\n` : `${text.slice(0, at)}${block}\n\n${text.slice(at)}`;
  }
  await writeFile(file, text);
}

/** A markdown table from a header row and body rows. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = values.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * A distribution-free 95 % confidence interval for the median of `values` (the sign test's: the
 * k-th smallest and k-th largest value, k the largest with P(Binomial(n, 1/2) < k) <= 2.5 %), or
 * null below 6 values, where no such interval exists. It assumes nothing of the noise's shape,
 * which on these machines has long tails (a run slowed 2x by another job).
 */
export function medianInterval(values: readonly number[]): { low: number; high: number } | null {
  const n = values.length;
  if (n < 6) return null;
  // P(X <= j) for X ~ Binomial(n, 1/2), summed until it passes 2.5 %
  let below = 0;
  let term = 1 / 2 ** n; // P(X = 0)
  let k = 0;
  for (let j = 0; j < n; j++) {
    if (below + term > 0.025) break;
    below += term;
    k = j + 1;
    term = (term * (n - j)) / (j + 1);
  }
  const s = values.slice().sort((x, y) => x - y);
  return { low: s[k - 1]!, high: s[n - k]! };
}

/**
 * A target's verdict from paired runs: met when the median's 95 % interval (medianInterval) lies
 * wholly at or below `limit`, missed when wholly above it, otherwise not shown: a run that cannot
 * tell says so instead of reading its median as a verdict.
 */
export function intervalVerdict(values: readonly number[], limit: number): 'met' | 'missed' | 'spans' | 'too few' {
  const ci = medianInterval(values);
  if (ci === null) return 'too few';
  return ci.high <= limit ? 'met' : ci.low > limit ? 'missed' : 'spans';
}
