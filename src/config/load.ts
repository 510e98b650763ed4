// Reads a config file, or every *.yaml / *.yml directly in a directory in name order (kubectl
// apply -f style, not recursive). Reading is the only I/O in config/; the rest is pure.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { StickydError } from '../errors.js';
import type { SourceFile } from './parse.js';
import { compareStrings } from './compile/order.js';

const YAML_FILE = /\.ya?ml$/;

/** The files to load, in path order, with their exact bytes (the config hash is over bytes). */
export async function readSources(path: string): Promise<SourceFile[]> {
  const files = await listFiles(path);
  const out: SourceFile[] = [];
  for (const file of files) {
    try {
      const bytes = await readFile(file);
      out.push({ file, text: bytes.toString('utf8'), bytes });
    } catch (e) {
      throw readError(file, e);
    }
  }
  return out;
}

async function listFiles(path: string): Promise<string[]> {
  try {
    if (!(await stat(path)).isDirectory()) return [path];
    const entries = await readdir(path, { withFileTypes: true });
    const names = entries.filter((e) => !e.isDirectory() && YAML_FILE.test(e.name)).map((e) => e.name);
    if (names.length === 0) throw new StickydError('STICKYD_ERR_CONFIG_READ', `cannot read config ${path}: no *.yaml or *.yml file in the directory`);
    return names.sort(compareStrings).map((n) => join(path, n));
  } catch (e) {
    throw e instanceof StickydError ? e : readError(path, e);
  }
}

function readError(path: string, e: unknown): StickydError {
  return new StickydError('STICKYD_ERR_CONFIG_READ', `cannot read config ${path}: ${(e as Error).message}`, { cause: e });
}
