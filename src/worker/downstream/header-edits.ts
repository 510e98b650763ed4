// Applies a route's compiled header edits (snapshot HeaderOp lists, already in Envoy's order and
// validated by the primary) to a flat [name, value, ...] list, the shape Node's writeHead and
// undici's dispatch take. Runs only for routes that have edits.
import type { HeaderOp } from '../../snapshot/types.js';

export function applyHeaderEdits(list: string[], ops: readonly HeaderOp[]): string[] {
  let out = list;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if (op.op === 'remove') out = without(out, op.name);
    else if (op.op === 'set') {
      out = without(out, op.name);
      out.push(op.name, op.value);
    } else append(out, op.name, op.value);
  }
  return out;
}

function without(list: string[], name: string): string[] {
  let found = false;
  for (let i = 0; i < list.length; i += 2) {
    if (list[i]!.length === name.length && list[i]!.toLowerCase() === name) {
      found = true;
      break;
    }
  }
  if (!found) return list;
  const out: string[] = [];
  for (let i = 0; i + 1 < list.length; i += 2) {
    const n = list[i]!;
    if (n.length === name.length && n.toLowerCase() === name) continue;
    out.push(n, list[i + 1]!);
  }
  return out;
}

/**
 * Istio's `add`: "Append the given values to the headers specified by keys (will create a
 * comma-separated list of values)". Set-Cookie cannot be folded (RFC 6265 §3), so it gets a line.
 */
function append(list: string[], name: string, value: string): void {
  if (name !== 'set-cookie') {
    for (let i = 0; i + 1 < list.length; i += 2) {
      if (list[i]!.length === name.length && list[i]!.toLowerCase() === name) {
        list[i + 1] = `${list[i + 1]!}, ${value}`;
        return;
      }
    }
  }
  list.push(name, value);
}

/** Replaces the Host line's value (an authority rewrite); adds one when there is none. */
export function replaceHost(list: string[], authority: string): void {
  for (let i = 0; i + 1 < list.length; i += 2) {
    if (list[i]!.length === 4 && list[i]!.toLowerCase() === 'host') {
      list[i + 1] = authority;
      return;
    }
  }
  list.push('Host', authority);
}
