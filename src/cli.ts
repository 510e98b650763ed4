#!/usr/bin/env node
// argv -> one command of commands/, and nothing else: each command parses its own flags and owns
// its help text. The only place that branches on cluster.isPrimary: a forked worker re-enters
// this file and goes straight to the worker entry. Commands load lazily, so a worker never loads
// the primary's code and `stickyd check` never loads the daemon's.
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { Command } from './commands/args.js';

/** The commands, in the order the main help lists them. */
const COMMANDS: Readonly<Record<string, { readonly summary: string; load(): Promise<Command> }>> = {
  run: { summary: 'run the daemon in the foreground', load: () => import('./commands/run.js') },
  check: { summary: 'validate a configuration (like nginx -t)', load: () => import('./commands/check.js') },
  backend: { summary: "run the seed's demo app (GET /ping)", load: () => import('./commands/backend.js') },
  explain: { summary: 'show how one request would be routed, without sending it', load: () => import('./commands/explain.js') },
  reload: { summary: 'validate, reload the running daemon and wait until every worker serves it', load: () => import('./commands/reload.js') },
  keygen: { summary: 'write a new session key file for persistent sessions (mode 0600)', load: () => import('./commands/keygen.js') },
  demo: { summary: "run the seed's topology on loopback: 5 backends and the proxy on 127.0.0.1:8080", load: () => import('./commands/demo.js') },
};

const MAIN_HELP = `stickyd: sticky-session HTTP ingress proxy for VMs, configured with Istio resources

Usage: stickyd <command> [options]

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(7)}  ${c.summary}`).join('\n')}

Run 'stickyd <command> --help' for a command's options; 'stickyd --version' for the version.
`;

// SIGHUP's default action kills the process, and systemd may send it to the whole cgroup at any
// time: the daemon's processes take it over before anything else. A reload asked for before the
// reloader exists is queued and run once it does; workers ignore it.
let onHup: (() => void) | null = null;
let hupPending = false;
if (cluster.isWorker || process.argv[2] === 'run' || process.argv[2] === 'demo') {
  process.on('SIGHUP', () => { if (onHup) onHup(); else hupPending = true; });
}
const hupSignals = { onHup(fn: () => void): void { onHup = fn; if (hupPending && !cluster.isWorker) { hupPending = false; fn(); } } };

if (cluster.isWorker) {
  const { runWorker } = await import('./worker/main.js');
  await runWorker();
} else {
  await main(process.argv.slice(2));
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(MAIN_HELP);
    return;
  }
  if (name === '-V' || name === '--version') return await printVersion();
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) usage(`unknown command '${name}'`, MAIN_HELP);
  const command = await entry.load();
  try {
    await command.run(rest, { cliPath: fileURLToPath(import.meta.url), signals: hupSignals });
  } catch (err) {
    const { UsageError } = await import('./commands/args.js');
    if (err instanceof UsageError) usage(err.message, command.HELP);
    throw err;
  }
}

function usage(message: string, help: string): never {
  process.stderr.write(`stickyd: ${message}\n\n${help}`);
  process.exit(2);
}

/** `stickyd --version`: the package's version (package.json beside dist/) and the Node running it. */
async function printVersion(): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  process.stdout.write(`stickyd ${pkg.version} (Node.js ${process.version})\n`);
}
