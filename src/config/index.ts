// The config pipeline's public face (primary only): YAML files -> validated Istio resources ->
// a Snapshot whose subsets have `table: null` (balancer tables are built elsewhere).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { ProxySettings, Snapshot } from '../snapshot/types.js';
import { IssueSink } from './issues.js';
import { parseSources, type SourceFile } from './parse.js';
import { validateDocs } from './validate/index.js';
import { compileResources } from './compile/index.js';
import { readSources } from './load.js';
import { resolveSettings } from './settings.js';
import { CertificateLoader, type FileReader } from './certificates.js';

export { DEFAULT_SETTINGS } from './settings.js';

export interface LoadResult {
  snapshot: Snapshot;
  warnings: ConfigIssue[];
  files: string[];
}

/**
 * Reads a file or a directory (every *.yaml / *.yml in it, sorted by name, non-recursive,
 * kubectl apply -f style), validates everything and compiles. Throws ConfigError listing every
 * problem found; an unreadable path throws StickydError('STICKYD_ERR_CONFIG_READ').
 */
export async function loadConfig(path: string, settings?: Partial<ProxySettings>, epoch?: number): Promise<LoadResult> {
  const sources = await readSources(path);
  return compile(sources, path, settings, epoch);
}

/**
 * Same from in-memory sources (used by tests); configPath is the file names joined by ",".
 * Certificate files are read through `readFile` (default: the file system) at `now`.
 */
export function compileSources(
  sources: { file: string; text: string }[],
  settings?: Partial<ProxySettings>,
  epoch?: number,
  files?: { readFile?: FileReader; now?: number },
): LoadResult {
  return compile(sources, sources.map((s) => s.file).join(','), settings, epoch, files?.readFile ?? readFileSync, files?.now ?? Date.now());
}

// Certificate files are read synchronously: loadConfig runs on a piscina thread (or in `check`),
// never on the primary's event loop, and a handful of small PEM files is not worth a second pass.
function compile(
  sources: readonly SourceFile[],
  configPath: string,
  settings: Partial<ProxySettings> | undefined,
  epoch: number | undefined,
  readFile: FileReader = readFileSync,
  now = Date.now(),
): LoadResult {
  const resolved = resolveSettings(settings);
  const sink = new IssueSink();
  const resources = validateDocs(parseSources(sources, sink), sink, { credentialsDir: resolved.credentialsDir });
  const { listeners, subsets } = compileResources(sink, resources, configPath, new CertificateLoader(sink, readFile, now));
  if (sink.hasErrors) throw new ConfigError(sink.errors());
  const snapshot: Snapshot = { epoch: epoch ?? 0, configHash: hashSources(sources), configPath, listeners, subsets, settings: resolved };
  return { snapshot, warnings: sink.warnings(), files: sources.map((s) => s.file) };
}

/** sha256 over the files' bytes in path order */
function hashSources(sources: readonly SourceFile[]): string {
  const hash = createHash('sha256');
  for (const s of sources) hash.update(s.bytes ?? Buffer.from(s.text, 'utf8'));
  return hash.digest('hex');
}
