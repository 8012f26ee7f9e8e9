/**
 * Prints the figures recorded by the reliability tests
 * (test-results/reliability-figures.jsonl, or the file given) as the markdown tables
 * of docs/RELIABILITY.md: one table per suite, the last record of each test.
 *
 *   node dist/scripts/reliability-table.js [figures.jsonl]
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

interface Row {
  at: string;
  suite: 'short' | 'long';
  test: string;
  tried: string;
  held: string;
  figures: Record<string, string | number>;
}

const file = process.argv[2] ?? path.resolve(__dirname, '..', '..', 'test-results', 'reliability-figures.jsonl');
const rows = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Row);

const cell = (s: string): string => s.replace(/\|/g, '\\|');
for (const suite of ['long', 'short'] as const) {
  // The last record per test wins (a file may hold several runs).
  const latest = new Map<string, Row>();
  for (const r of rows) if (r.suite === suite) latest.set(r.test, r);
  if (latest.size === 0) continue;
  const dates = [...latest.values()].map((r) => r.at.slice(0, 10)).sort();
  process.stdout.write(`\n${suite === 'long' ? 'npm run test:reliability' : 'npm test (short versions)'}, ${dates[0]}${dates.at(-1) !== dates[0] ? ` to ${dates.at(-1)}` : ''}:\n\n`);
  process.stdout.write('| Test | What was tried | What held | Figures |\n| --- | --- | --- | --- |\n');
  for (const r of latest.values()) {
    const figs = Object.entries(r.figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    process.stdout.write(`| ${cell(r.test)} | ${cell(r.tried)} | ${cell(r.held)} | ${cell(figs)} |\n`);
  }
}
