// VirtualService `headers` (route level and per destination): request/response set, add, remove.
// Every name and value is checked here, so nothing a worker writes into a header can split it.
import { at, type IssueSink, type Place } from '../issues.js';
import { describe, isAbsent, isObj, readList, readObject, readString } from '../fields.js';
import type { HeaderBlock, HeadersRes } from '../resources.js';

/** RFC 9110 §5.6.2 token characters */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value: visible ASCII, obs-text, space and tab; never CR, LF or NUL */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Framing and connection headers are the proxy's own on each hop: editing them would break the
 * message framing or the connection, which no route means to do.
 */
const PROXY_OWNED = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length']);

export function readHeaders(sink: IssueSink, place: Place, value: unknown): HeadersRes | null {
  const h = readObject(sink, place, value, { known: ['request', 'response'] });
  if (h === null) return null;
  const request = readBlock(sink, at(place, 'request'), h.request, true);
  const response = readBlock(sink, at(place, 'response'), h.response, false);
  return { request: request?.block ?? null, response: response?.block ?? null, authority: request?.authority ?? null };
}

function readBlock(sink: IssueSink, place: Place, value: unknown, isRequest: boolean): { block: HeaderBlock; authority: string | null } | null {
  const b = readObject(sink, place, value, { known: ['set', 'add', 'remove'] });
  if (b === null) return null;
  const set = readPairs(sink, at(place, 'set'), b.set, isRequest);
  const add = readPairs(sink, at(place, 'add'), b.add, isRequest);
  const remove: string[] = [];
  readList(sink, at(place, 'remove'), b.remove)?.forEach((item, i) => {
    const name = readName(sink, at(place, 'remove', i), item, isRequest);
    if (name === null) return;
    if (isAuthority(name)) sink.warn(at(place, 'remove', i), 'ignored: Istio does not let a route remove the Host header');
    else if (!remove.includes(name)) remove.push(name);
  });
  // Istio: an authority in `set` wins over one in `add`; both leave the header lists.
  const authority = set.authority ?? add.authority;
  return { block: { set: set.pairs, add: add.pairs, remove }, authority };
}

function readPairs(sink: IssueSink, place: Place, value: unknown, isRequest: boolean): { pairs: [string, string][]; authority: string | null } {
  const pairs: [string, string][] = [];
  let authority: string | null = null;
  if (isAbsent(value)) return { pairs, authority };
  if (!isObj(value)) {
    sink.error(place, `must be a mapping of header name to value, got ${describe(value)}`);
    return { pairs, authority };
  }
  for (const [rawName, v] of Object.entries(value)) {
    const name = readName(sink, at(place, rawName), rawName, isRequest);
    const text = readString(sink, at(place, rawName), v);
    if (name === null || text === null) continue;
    if (!FIELD_VALUE.test(text)) {
      sink.error(at(place, rawName), 'the value holds a control character (CR, LF, NUL, ...): it would split or corrupt the header');
      continue;
    }
    if (isAuthority(name)) {
      if (!isRequest) sink.warn(at(place, rawName), 'ignored: a response has no Host header');
      else authority = text;
      continue;
    }
    if (pairs.some(([n]) => n === name)) sink.error(at(place, rawName), `header "${name}" is given twice (names are case-insensitive)`);
    else pairs.push([name, text]);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { pairs, authority };
}

function readName(sink: IssueSink, place: Place, value: unknown, isRequest: boolean): string | null {
  const raw = readString(sink, place, value);
  if (raw === null) return null;
  const name = raw.toLowerCase();
  if (name === ':authority') return isRequest ? 'host' : null;
  if (!TOKEN.test(name)) {
    sink.error(place, `"${raw}" is not a valid header name`);
    return null;
  }
  if (PROXY_OWNED.has(name)) {
    sink.error(place, `"${name}" frames the message or the connection on each hop; stickyd sets it and a route cannot`);
    return null;
  }
  return name;
}

function isAuthority(name: string): boolean {
  return name === 'host';
}
