// Where a config problem lives and how it is collected. Validation never stops at the first
// problem: every check reports into one IssueSink, and loadConfig throws once with all of them.
import type { ConfigIssue } from '../errors.js';

/** A field path inside one YAML document, e.g. ['spec', 'http', 1, 'route'] */
export type FieldPath = readonly (string | number)[];

/** One YAML document of one file, as issues name it. */
export interface DocRef {
  readonly file: string;
  /** position of the file in the input (path order), for sorting issues */
  readonly fileOrder: number;
  /** 0-based index of the YAML document in the file */
  readonly docIndex: number;
  /** "Kind/name", or "document N" (1-based, as a reader counts) when kind/name are unknown */
  readonly document: string;
  /** 1-based line of the deepest existing node along `path`, null when unknown */
  lineOf(path: FieldPath): number | null;
}

/** A located value: the document and the field path it came from. */
export interface Place {
  readonly doc: DocRef;
  readonly path: FieldPath;
}

export function at(place: Place, ...more: (string | number)[]): Place {
  return { doc: place.doc, path: [...place.path, ...more] };
}

const PLAIN_KEY = /^[A-Za-z_][\w-]*$/;

/** "spec.http[1].route[0]"; keys that are not identifier-like are quoted: headers["x.y"] */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out === '' ? '(document)' : out;
}

/** "file:line Kind/name spec.x" for messages that point at a second place */
export function describePlace(place: Place): string {
  const line = place.doc.lineOf(place.path);
  const where = line === null ? place.doc.file : `${place.doc.file}:${line}`;
  return `${where} ${place.doc.document} ${formatPath(place.path)}`;
}

interface Sorted {
  readonly issue: ConfigIssue;
  readonly fileOrder: number;
  readonly seq: number;
}

export class IssueSink {
  readonly #errors: Sorted[] = [];
  readonly #warnings: Sorted[] = [];
  #seq = 0;

  error(place: Place, message: string): void {
    this.#errors.push(this.#make(place, message));
  }

  warn(place: Place, message: string): void {
    this.#warnings.push(this.#make(place, message));
  }

  /** an issue about the configuration as a whole, not one document */
  errorGlobal(file: string, message: string): void {
    const issue: ConfigIssue = { file, docIndex: 0, document: '(configuration)', field: '(all documents)', line: null, message };
    this.#errors.push({ issue, fileOrder: Number.MAX_SAFE_INTEGER, seq: this.#seq++ });
  }

  get hasErrors(): boolean {
    return this.#errors.length > 0;
  }

  /** in file, document and line order, so a reader can walk the files top to bottom */
  errors(): ConfigIssue[] {
    return sortIssues(this.#errors);
  }

  warnings(): ConfigIssue[] {
    return sortIssues(this.#warnings);
  }

  #make(place: Place, message: string): Sorted {
    const { doc, path } = place;
    const issue: ConfigIssue = {
      file: doc.file,
      docIndex: doc.docIndex,
      document: doc.document,
      field: formatPath(path),
      line: doc.lineOf(path),
      message,
    };
    return { issue, fileOrder: doc.fileOrder, seq: this.#seq++ };
  }
}

function sortIssues(list: readonly Sorted[]): ConfigIssue[] {
  return [...list]
    .sort(
      (a, b) =>
        a.fileOrder - b.fileOrder ||
        a.issue.docIndex - b.issue.docIndex ||
        (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
        a.seq - b.seq,
    )
    .map((s) => s.issue);
}
