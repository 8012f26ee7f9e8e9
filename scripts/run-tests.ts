/**
 * Runs the whole test suite (unit, native, integration) with mocha and ends
 * with one plain line `N passed, N failed[, N skipped]` for CI. Exits
 * non-zero on any failure. Extra arguments are test files or folders to run
 * instead of all (e.g. dist/test/integration/image.test.js), and `--grep RE`.
 * With CEPH_TEST_CLUSTER=container the micro clusters run in containers
 * (scripts/micro-osd.sh --container): the engine and the image are made
 * ready first, outside mocha's timeouts (a first image build takes minutes).
 */
import Mocha from 'mocha';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const dist = path.join(root, 'dist');

/** Every *.test.js under the given files/folders, in a stable order. */
function files(targets: string[]): string[] {
  const found: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      for (const name of readdirSync(p).sort()) walk(path.join(p, name));
    } else if (p.endsWith('.test.js')) {
      found.push(p);
    }
  };
  for (const t of targets) walk(path.resolve(root, t));
  return found;
}

/** Builds the micro Ceph image (and starts an engine) when the tests will run clusters in containers. */
function prepareContainerMode(): void {
  const mode = process.env.CEPH_TEST_CLUSTER ?? 'process';
  if (mode !== 'container') return;
  process.stdout.write('micro clusters run in containers (CEPH_TEST_CLUSTER=container)\n');
  const image = execFileSync('bash', [path.join(root, 'scripts', 'ceph-container.sh'), 'image'], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(`micro Ceph image: ${image.toString().trim()}\n`);
}

async function main(): Promise<void> {
  prepareContainerMode();
  const args = process.argv.slice(2);
  const grepAt = args.indexOf('--grep');
  const grep = grepAt >= 0 ? args.splice(grepAt, 2)[1] : undefined;
  const patterns = args.length > 0 ? args : ['dist/test/unit', 'dist/test/native', 'dist/test/integration'];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hooks = require(path.join(dist, 'test', 'hooks.js')) as { mochaHooks: Mocha.RootHookObject };
  const mocha = new Mocha({ reporter: 'spec', timeout: 60_000, rootHooks: hooks.mochaHooks, ...(grep ? { grep } : {}) });
  for (const f of files(patterns)) mocha.addFile(f);
  const runner = mocha.run();
  // Each failure again as one line next to the totals, so a CI log that keeps
  // only its tail still says which tests failed and why.
  const failures: string[] = [];
  runner.on('fail', (test: Mocha.Test, err: Error) => {
    const why = String(err?.message ?? err).split('\n')[0].slice(0, 300);
    failures.push(`FAILED: ${test.fullTitle()} :: ${why}`);
  });
  const stats = await new Promise<Mocha.Stats>((resolve) => runner.on('end', () => resolve(runner.stats as Mocha.Stats)));
  if (failures.length > 0) process.stdout.write(`\n${failures.join('\n')}\n`);
  const skipped = stats.pending > 0 ? `, ${stats.pending} skipped` : '';
  process.stdout.write(`\n${stats.passes} passed, ${stats.failures} failed${skipped}\n`);
  process.exitCode = stats.failures > 0 || stats.passes === 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.stdout.write('\n0 passed, 1 failed\n');
  process.exitCode = 1;
});
