// YAML text -> one RawDoc per non-empty document, each able to turn a field path into a line.
// Documents with YAML syntax errors are reported and left out: their content cannot be trusted.
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import { isObj, type Obj } from './fields.js';
import type { DocRef, FieldPath, IssueSink } from './issues.js';

export interface SourceFile {
  readonly file: string;
  readonly text: string;
  /** the bytes as read from disk, when they came from disk */
  readonly bytes?: Uint8Array;
}

export interface RawDoc {
  readonly ref: DocRef;
  readonly body: Obj;
}

// A document that aliases more than this is a "billion laughs" bomb, not a config.
const MAX_ALIAS_COUNT = 100;

export function parseSources(sources: readonly SourceFile[], sink: IssueSink): RawDoc[] {
  const out: RawDoc[] = [];
  sources.forEach((src, fileOrder) => {
    const lines = new LineCounter();
    const docs = parseAllDocuments(src.text, { lineCounter: lines, prettyErrors: false });
    if (!Array.isArray(docs)) return; // an empty file (or only comments) holds no documents
    docs.forEach((doc, docIndex) => {
      const raw = readDoc(src.file, fileOrder, docIndex, doc, lines, sink);
      if (raw !== null) out.push(raw);
    });
  });
  return out;
}

function readDoc(file: string, fileOrder: number, docIndex: number, doc: Document, lines: LineCounter, sink: IssueSink): RawDoc | null {
  const lineOf = (path: FieldPath): number | null => lineOfPath(doc, lines, path);
  const anonymous: DocRef = { file, fileOrder, docIndex, document: `document ${docIndex + 1}`, lineOf };
  for (const e of doc.errors) {
    const line = lines.linePos(e.pos[0]).line;
    sink.error({ doc: { ...anonymous, lineOf: () => line }, path: [] }, `YAML: ${e.message}`);
  }
  if (doc.errors.length > 0) return null;
  for (const w of doc.warnings) {
    const line = lines.linePos(w.pos[0]).line;
    sink.warn({ doc: { ...anonymous, lineOf: () => line }, path: [] }, `YAML: ${w.message}`);
  }
  let body: unknown;
  try {
    body = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    sink.error({ doc: anonymous, path: [] }, `YAML: ${(e as Error).message}`);
    return null;
  }
  if (body === null || body === undefined) return null; // empty document, e.g. between two "---"
  if (!isObj(body)) {
    sink.error({ doc: anonymous, path: [] }, 'a document must be a mapping with apiVersion, kind, metadata and spec');
    return null;
  }
  return { ref: { ...anonymous, document: labelOf(body) ?? anonymous.document }, body };
}

/** "Kind/name" when both are strings */
function labelOf(body: Obj): string | null {
  const kind = body.kind;
  const name = isObj(body.metadata) ? body.metadata.name : undefined;
  return typeof kind === 'string' && kind !== '' && typeof name === 'string' && name !== '' ? `${kind}/${name}` : null;
}

/**
 * The line of the deepest node that exists along `path`: a mapping entry's key line (so
 * `trafficPolicy:` rather than the line below it), a list item's first line.
 */
function lineOfPath(doc: Document, lines: LineCounter, path: FieldPath): number | null {
  let node: unknown = doc.contents;
  let offset = rangeStart(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      offset = rangeStart(pair.key) ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item: unknown = node.items[seg];
      if (item === undefined) break;
      offset = rangeStart(item) ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset === null ? null : lines.linePos(offset).line;
}

function rangeStart(node: unknown): number | null {
  const range = (node as { range?: readonly number[] } | null)?.range;
  return range?.[0] ?? null;
}
