// Istio regexes are RE2; the workers evaluate JavaScript RegExp. The two agree on the syntax Istio
// configs use in practice; this translates the RE2 spellings JavaScript lacks and refuses the rest,
// so a regex never means something else on stickyd. Runs in the primary; workers only construct.
import type { RegexSource } from '../snapshot/types.js';

/** RE2 flag letters a leading (?flags) group may carry, and their RegExp flag. */
const LEADING_FLAGS: Readonly<Record<string, string>> = { i: 'i', m: 'm', s: 's' };

/** The translated regex, or a message saying why it cannot be used. */
export function translateRe2(re2: string): RegexSource | string {
  let source = re2;
  let flags = '';
  const lead = /^\(\?([a-zA-Z]+)\)/.exec(source);
  if (lead !== null) {
    for (const f of lead[1]!) {
      const js = LEADING_FLAGS[f];
      if (js === undefined) return `the RE2 flag "${f}" has no JavaScript equivalent`;
      if (!flags.includes(js)) flags += js;
    }
    source = source.slice(lead[0].length);
  }
  if (/\(\?[a-zA-Z]*\)/.test(source) || /\(\?[a-zA-Z]+:/.test(source)) return 'inline flag groups are supported only at the start of the regex';
  // RE2 named groups (?P<name>...) are (?<name>...) in JavaScript; \A and \z are ^ and $ outside multi-line mode.
  source = source.replace(/\(\?P</g, '(?<');
  if (/\\[Az]/.test(source)) {
    if (flags.includes('m')) return '\\A and \\z with the m flag have no JavaScript equivalent';
    source = source.replace(/\\A/g, '^').replace(/\\z/g, '$');
  }
  if (/\\[pPCQE]/.test(source)) return 'RE2 escapes \\p, \\P, \\C, \\Q and \\E are not supported by stickyd';
  try {
    new RegExp(source, flags);
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message}`;
  }
  return { source, flags };
}

/**
 * An RE2/Envoy substitution ("\1" for group 1, "\\" for a backslash) as a String.replace
 * replacement ("$1"); a literal "$" is doubled so it is never read as a group reference.
 */
export function translateSubstitution(rewrite: string, groups: number): string | { error: string } {
  let out = '';
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i]!;
    if (c === '$') out += '$$';
    else if (c !== '\\') out += c;
    else {
      const next = rewrite[i + 1];
      if (next === '\\') {
        out += '\\';
        i++;
      } else if (next !== undefined && next >= '0' && next <= '9') {
        const n = Number(next);
        if (n > groups) return { error: `\\${n} refers to a capture group the match does not have (it has ${groups})` };
        // \0 is the whole match in RE2, $& in JavaScript; the two-digit $0n form keeps a digit that follows a digit
        out += n === 0 ? '$&' : `$0${n}`;
        i++;
      } else out += '\\';
    }
  }
  return out;
}

/** Capture groups of a compiled source (for checking substitutions). */
export function countGroups(r: RegexSource): number {
  return new RegExp(`${r.source}|`, r.flags).exec('')!.length - 1;
}
