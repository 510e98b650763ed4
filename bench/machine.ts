// What a benchmark figure depends on besides the code: the machine, its load, and the versions.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { REPO } from './stickyd-config.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly stickyd: string;
  readonly loadavg: readonly number[];
}

export function describeMachine(): Machine {
  const pkg = JSON.parse(readFileSync(`${REPO}/package.json`, 'utf8')) as { version: string };
  let rev = 'unknown';
  try {
    rev = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (dirty !== '') rev += ' + uncommitted src changes';
  } catch {
    // not a git checkout
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    stickyd: `${pkg.version} (${rev})`,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.kernel}; Node ${m.node}; stickyd ${m.stickyd}`;
}

/** Version of an npm package in node_modules, or null. */
export function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(existsSync(`${REPO}/bench/node_modules/${name}/package.json`) ? `${REPO}/bench/node_modules/${name}/package.json` : `${REPO}/node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}
