// The project's BUILD-deps rule, checked: every import in src/ (type-only ones too: a type cycle
// still ties files together) read with the TypeScript compiler API, then (1) no file reaches
// itself through its imports, and (2) every edge from one folder (or top-level file) to another,
// and to an npm package, is one the README's import table lists for it, and every entry the
// table lists is an edge the code has. Node's built-in modules are not checked.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');

interface Edge { readonly from: string; readonly to: string; readonly line: number }

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module specifiers of every import, export ... from and import() in one file. */
function specifiers(file: string): { spec: string; line: number }[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { spec: string; line: number }[] = [];
  const add = (node: ts.Node, lit: ts.Expression | undefined): void => {
    if (lit !== undefined && ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node, node.moduleSpecifier);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node, node.arguments[0]);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** src-relative path of a file, without .ts: "worker/routing/route". */
const moduleOf = (file: string): string => relative(SRC, file).replace(/\.ts$/, '');

/** A bare specifier's package name ("@scope/name" or "name"); null for node: built-ins. */
function packageOf(spec: string): string | null {
  if (spec.startsWith('node:')) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function readEdges(): { files: string[]; edges: Edge[] } {
  const files = sourceFiles(SRC).map(moduleOf);
  const edges: Edge[] = [];
  for (const m of files) {
    for (const { spec, line } of specifiers(join(SRC, `${m}.ts`))) {
      if (spec.startsWith('.')) {
        const target = moduleOf(resolve(dirname(join(SRC, m)), spec).replace(/\.js$/, '.ts'));
        edges.push({ from: m, to: target, line });
      } else {
        const pkg = packageOf(spec);
        if (pkg !== null) edges.push({ from: m, to: `npm:${pkg}`, line });
      }
    }
  }
  return { files, edges };
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(files: readonly string[], edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) if (next.has(e.to)) next.get(e.from)!.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || next.get(v)!.includes(v)) found.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f)) connect(f);
  return found;
}

interface Row { readonly owners: readonly string[]; readonly imports: readonly string[] }

/** The README's import table: rows whose first cell names src/ folders or files in backticks. */
function readTable(): Row[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- import-table -->');
  if (start < 0) throw new Error('README.md has no <!-- import-table --> marker before the import table');
  const rows: Row[] = [];
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (rows.length > 0) break;
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const owners = ticked(cells[0] ?? '').filter((o) => o.startsWith('src/')).map((o) => o.slice(4).replace(/\.ts$/, ''));
    if (owners.length > 0) rows.push({ owners, imports: ticked(cells[cells.length - 1] ?? '') });
  }
  return rows;
}

/** A folder entry ("worker/routing/") owns every file under it; a file entry ("cli") only itself. */
const owns = (entry: string, m: string): boolean => (entry.endsWith('/') ? m.startsWith(entry) : m === entry);

/** The row entry that owns module m: the longest (most specific) one. */
function ownerOf(rows: readonly Row[], m: string): string | null {
  let best: string | null = null;
  for (const r of rows) for (const o of r.owners) if (owns(o, m) && (best === null || o.length > best.length)) best = o;
  return best;
}

/** The entry of `list` an edge's target matches: a package name, or the most specific src/ entry owning it. */
function entryFor(list: ReadonlySet<string>, to: string): string | null {
  if (to.startsWith('npm:')) return list.has(to.slice(4)) ? to.slice(4) : null;
  let best: string | null = null;
  for (const e of list) if (owns(e, to) && (best === null || e.length > best.length)) best = e;
  return best;
}

const { files, edges } = readEdges();
const rows = readTable();

test('no import cycles in src/', (t) => {
  const found = cycles(files, edges);
  t.deepEqual(found, [], `cycles: ${found.map((c) => c.join(' <-> ')).join('; ')}`);
});

test('every src/ file belongs to a row of the README import table', (t) => {
  const orphans = files.filter((m) => ownerOf(rows, m) === null);
  t.deepEqual(orphans, [], 'add a row (or widen one) in README.md for these files');
  for (const r of rows) for (const o of r.owners) t.true(files.some((m) => owns(o, m)), `README import table names src/${o}, which holds no file`);
});

test('every folder edge in src/ is one the README import table lists, and every listed one exists', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  const deps = new Set(Object.keys(pkg.dependencies ?? {}));
  const allowed = new Map<string, Set<string>>();
  for (const r of rows) for (const o of r.owners) allowed.set(o, new Set([...(allowed.get(o) ?? []), ...r.imports]));
  const used = new Map<string, Set<string>>();
  const refused: string[] = [];
  for (const e of edges) {
    const from = ownerOf(rows, e.from);
    if (from === null || (!e.to.startsWith('npm:') && ownerOf(rows, e.to) === from)) continue;
    const entry = entryFor(allowed.get(from)!, e.to);
    if (entry === null) {
      const target = e.to.startsWith('npm:') ? e.to.slice(4) : `src/${e.to}.ts (${ownerOf(rows, e.to)})`;
      refused.push(`src/${e.from}.ts:${e.line} (${from}) imports ${target}`);
      continue;
    }
    if (!used.has(from)) used.set(from, new Set());
    used.get(from)!.add(entry);
  }
  t.deepEqual(refused, [], 'imports the README import table does not allow');
  const unused: string[] = [];
  for (const [owner, entries] of allowed) {
    for (const entry of entries) {
      const isSrc = files.some((m) => owns(entry, m));
      if (!isSrc && !deps.has(entry)) unused.push(`${owner} lists ${entry}: neither a src/ folder or file nor a dependency in package.json`);
      else if (!used.get(owner)?.has(entry)) unused.push(`${owner} lists ${entry}, which nothing in it imports`);
    }
  }
  t.deepEqual(unused, [], 'README import table entries the code does not bear out');
});

test('the cycle finder finds a cycle (so the test above can fail)', (t) => {
  const fake = [{ from: 'a', to: 'b', line: 1 }, { from: 'b', to: 'c', line: 1 }, { from: 'c', to: 'a', line: 1 }, { from: 'c', to: 'd', line: 1 }];
  t.deepEqual(cycles(['a', 'b', 'c', 'd'], fake), [['a', 'b', 'c']]);
});
