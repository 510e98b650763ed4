// Config variants for reload tests, written atomically (write + rename) as production should.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLES } from './backends.js';

/** The seed's sticky config with the v1/v2 weights of the catch-all route replaced. */
export async function stickyWithWeights(v1: number, v2: number): Promise<string> {
  const text = await readFile(join(EXAMPLES, 'demo', 'ingress-sticky.yaml'), 'utf8');
  let n = 0;
  const out = text.replace(/weight: \d+/g, () => `weight: ${n++ === 0 ? v1 : v2}`);
  if (n !== 2) throw new Error(`expected 2 weights in the seed config, found ${n}`);
  return out;
}

export const BROKEN_YAML = `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata:
  name: demo-vs
spec:
  hosts: ["demo.example.com"
`;

let tmpSeq = 0;

/** Replaces `dir/file` in one rename; concurrent writers each use a temporary file of their own (the last rename wins). */
export async function writeAtomic(dir: string, file: string, text: string): Promise<void> {
  const tmp = join(dir, `.${file}.${process.pid}.${tmpSeq++}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, join(dir, file));
}
