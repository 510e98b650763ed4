// `stickyd check`: load and validate exactly as `run` would, for people and for ExecStartPre.
// Output is for a person (not JSON): one line per problem, like `nginx -t`.
import { loadConfig } from '../config/index.js';
import { ConfigError, StickydError, formatIssue } from '../errors.js';
import { listenSpecs } from './main.js';

export async function runCheck(path: string, quiet: boolean, credentialsDir: string | null = null): Promise<number> {
  try {
    const { snapshot, warnings, files } = await loadConfig(path, { credentialsDir });
    listenSpecs(snapshot, null);
    if (!quiet) {
      for (const w of warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
      const routes = snapshot.listeners.reduce((n, l) => n + l.virtualHosts.reduce((m, v) => m + v.routes.length, 0), 0);
      const endpoints = snapshot.subsets.reduce((n, s) => n + s.endpoints.length, 0);
      process.stdout.write(`stickyd: configuration ${path} is valid: ${files.length} file(s), ${snapshot.listeners.length} listener(s), ${routes} route(s), ${snapshot.subsets.length} subset(s), ${endpoints} endpoint(s), ${warnings.length} warning(s)\n`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) process.stderr.write(`error: ${formatIssue(i)}\n`);
      process.stderr.write(`stickyd: configuration ${path} is invalid: ${err.issues.length} error(s)\n`);
      return 1;
    }
    if (err instanceof StickydError) {
      process.stderr.write(`error: ${err.message}\nstickyd: configuration ${path} is invalid\n`);
      return 1;
    }
    throw err;
  }
}
