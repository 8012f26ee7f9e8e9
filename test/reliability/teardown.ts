/**
 * Environment teardown with calls in flight: a worker_thread terminated in
 * the middle of calls, process.exit() in the middle of calls, and a Buffer's
 * memory transferred away while librbd uses it. Each runs in a child process
 * (teardown-child.ts) so a crash shows up as its exit status, and the parent
 * then checks the cluster: no watcher, no exclusive lock left, the image can
 * be removed at once.
 */
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { Image, type IoCtx, Rados, Rbd } from '../../lib';
import { uniq } from './support';

const execFileP = promisify(execFile);
const child = path.join(__dirname, 'teardown-child.js');

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function runChild(confFile: string, args: string[], nodeArgs: string[] = []): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, child, confFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function assertClean(run: ChildRun, what: string): void {
  const detail = `${what}: exit ${run.code ?? run.signal}\n${run.stderr.slice(-2000)}`;
  assert.equal(run.signal, null, detail);
  assert.equal(run.code, 0, detail);
  assert.doesNotMatch(run.stderr, /terminate called|Napi::Error|Segmentation|AddressSanitizer/, detail);
}

function result(run: ChildRun): Record<string, unknown> {
  const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no RESULT line in ${run.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
}

/** Right after the child ended: nobody watches the image, nobody holds its lock, it can be removed. */
async function assertReleased(ioctx: IoCtx, name: string): Promise<void> {
  const probe = await Image.open(ioctx, name);
  try {
    assert.deepEqual((await probe.lockGetOwners()).owners, [], 'no exclusive lock left behind');
    assert.equal((await probe.listWatchers()).length, 1, 'only our own watch');
    for (const snap of await probe.listSnaps()) await probe.removeSnap(snap.name);
  } finally {
    await probe.close();
  }
  await Rbd.remove(ioctx, name); // ImageBusy while a watch was left behind
}

async function withImage(confFile: string, use: (ioctx: IoCtx, name: string) => Promise<void>, size = 4 * 1024 * 1024): Promise<void> {
  const cluster = await Rados.connect({ confFile, timeoutMs: 60_000 });
  try {
    const ioctx = await cluster.openIoctx('rbd');
    const name = uniq('teardown');
    await Rbd.create(ioctx, name, size);
    await use(ioctx, name);
  } finally {
    await cluster.shutdown();
  }
}

/** worker.terminate() with calls in flight, `rounds` times: no abort, handles released. */
export function workerTerminated(confFile: string, rounds: number): Promise<void> {
  return withImage(confFile, async (ioctx, name) => {
    const run = await runChild(confFile, ['worker-terminate', name, String(rounds)]);
    assertClean(run, 'worker.terminate() with calls in flight');
    assert.equal(result(run).rounds, rounds);
    await assertReleased(ioctx, name);
  });
}

/**
 * worker.terminate() while the worker holds a rados watch, an rbd update and
 * a quiesce watch (callbacks firing) and rados aio and compound ops are in
 * flight: no abort; the watches go with the worker (the image and the
 * watched object have no watcher left).
 */
export function workerTerminatedWithWatches(confFile: string, rounds: number): Promise<void> {
  return withImage(confFile, async (ioctx, name) => {
    const run = await runChild(confFile, ['worker-watches', name, String(rounds)]);
    assertClean(run, 'worker.terminate() with watches and rados ops in flight');
    assert.equal(result(run).rounds, rounds);
    const { stdout } = await execFileP('rados', ['-c', confFile, '-p', 'rbd', 'listwatchers', `${name}.watched`]);
    assert.equal(stdout.trim(), '', 'no rados watch left behind');
    await ioctx.remove(`${name}.watched`);
    await assertReleased(ioctx, name);
  });
}

/** process.exit() with calls in flight: no watch or exclusive lock outlives the process. */
export function exitWithCallsInFlight(confFile: string): Promise<void> {
  return withImage(confFile, async (ioctx, name) => {
    const run = await runChild(confFile, ['exit-mid-call', name]);
    assertClean(run, 'process.exit() with calls in flight');
    assert.match(run.stdout, /READY/);
    await assertReleased(ioctx, name);
  });
}

/** A Buffer's ArrayBuffer transferred while a read or write uses it: no crash, the call completes in full. */
export function detachedBuffers(confFile: string): Promise<void> {
  return withImage(confFile, async (_ioctx, name) => {
    for (const mode of ['detach-read', 'detach-write']) {
      const run = await runChild(confFile, [mode, name], ['--expose-gc']);
      assertClean(run, mode);
      assert.equal(result(run).calls, 4, mode);
    }
  }, 128 * 1024 * 1024);
}
