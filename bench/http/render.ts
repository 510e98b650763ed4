// Re-renders a RESULTS.md block (and bench/results.json for the http section) from a run's raw
// samples, after a change to how the report reads them: the figures stay those measured.
// Usage: node --import tsx bench/http/render.ts bench/out/<section>-<date>.json
import { readFileSync } from 'node:fs';
import { writeReport, type Report } from './report.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: bench/http/render.ts <raw run JSON from bench/out/>');
const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
await writeReport(report);
console.log(`re-rendered the ${report.options.section} block from ${file} (run ${report.date})`);
