// Real curl, as the seed's walkthrough uses it.
import { execFile } from 'node:child_process';

export function curl(args: string[], timeoutMs = 10_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { timeout: timeoutMs + 2_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
