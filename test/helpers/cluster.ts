/**
 * The test cluster: a throwaway micro cluster started by scripts/micro-osd.sh
 * (mocha root hook in test/hooks.ts) unless CEPH_CONF names one already.
 * With CEPH_TEST_CLUSTER=container, micro-osd.sh runs every cluster started
 * here in a container; its conf, pid files and kill-osd/start-osd work the
 * same, so no test needs to know which.
 */
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { Image, Rados, Rbd, type CephError, type ConnectOptions, type IoCtx } from '../../lib';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const microOsd = path.join(repoRoot, 'scripts', 'micro-osd.sh');
const run = promisify(execFile);

export interface StartedCluster {
  dir: string;
  confFile: string;
  stop(): Promise<void>;
}

/** Starts a micro cluster in a new temp dir (extra args go to micro-osd.sh start). */
export async function startCluster(args: string[] = []): Promise<StartedCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ceph-rbd-test-'));
  try {
    await run('bash', [microOsd, 'start', dir, ...args], { maxBuffer: 16 << 20 });
  } catch (err) {
    await run('bash', [microOsd, 'stop', dir, '--purge']).catch(() => undefined);
    throw err;
  }
  return {
    dir,
    confFile: path.join(dir, 'ceph.conf'),
    async stop() {
      await run('bash', [microOsd, 'stop', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The conf file of the shared test cluster. */
export function confFile(): string {
  const conf = process.env.CEPH_CONF;
  if (!conf) throw new Error('CEPH_CONF is not set: the root hook did not start a cluster');
  return conf;
}

/** A new connection to the shared test cluster. */
export function connect(options: ConnectOptions = {}): Promise<Rados> {
  return Rados.connect({ confFile: confFile(), timeoutMs: 60_000, ...options });
}

/** A name no other test uses, so tests can share one pool. */
export function uniqueName(prefix = 'img'): string {
  return `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Runs a ceph CLI tool (rbd, rados, ceph) against the test cluster. */
export async function cli(tool: 'rbd' | 'rados' | 'ceph', args: string[], input?: Buffer): Promise<string> {
  if (input !== undefined) {
    return execFileSync(tool, ['--conf', confFile(), ...args], { input, maxBuffer: 1 << 30 }).toString();
  }
  for (let attempt = 1; ; attempt++) {
    try {
      const { stdout } = await run(tool, ['--conf', confFile(), ...args], { maxBuffer: 1 << 30 });
      return stdout;
    } catch (err) {
      // The ceph CLI first asks the monitor for its command table; on a
      // saturated machine that ask alone has failed once (EPERM "problem
      // getting command descriptions from mon") while the command itself
      // was fine. A checking tool's hiccup is not what a test is about.
      const stderr = String((err as { stderr?: unknown }).stderr ?? '');
      if (tool !== 'ceph' || attempt >= 3 || !stderr.includes('problem getting command descriptions')) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Runs a CLI tool and returns stdout as a Buffer (e.g. `rbd export - `). */
export async function cliBuffer(tool: 'rbd' | 'rados' | 'ceph', args: string[]): Promise<Buffer> {
  const { stdout } = await run(tool, ['--conf', confFile(), ...args], { maxBuffer: 1 << 30, encoding: 'buffer' });
  return stdout;
}

/**
 * Registers suite hooks: one connection and one I/O context on `pool` for
 * the whole describe block, shut down after it. `use` receives them.
 */
export function withPool(pool: string, use: (cluster: Rados, ioctx: IoCtx) => void): void {
  poolHooks(pool, undefined, use);
}

/**
 * withPool with the I/O context in `namespace` (a uniqueName of the block's
 * own), every object in it removed afterwards: listings there see only the
 * block's objects.
 */
export function withNamespace(pool: string, namespace: string, use: (cluster: Rados, ioctx: IoCtx) => void): void {
  poolHooks(pool, namespace, use);
}

/** The hooks of withPool and withNamespace (a namespace is emptied after the block). */
function poolHooks(pool: string, namespace: string | undefined, use: (cluster: Rados, ioctx: IoCtx) => void): void {
  let cluster: Rados | undefined;
  let ioctx: IoCtx | undefined;
  before(async () => {
    cluster = await connect();
    ioctx = await cluster.openIoctx(pool, namespace);
    use(cluster, ioctx);
  });
  after(async () => {
    if (namespace !== undefined && ioctx?.state === 'open') for (const o of await ioctx.listObjects()) await ioctx.remove(o.oid);
    await cluster?.shutdown();
  });
}

type ErrorClass = abstract new (...args: never[]) => CephError;

/**
 * An assert.rejects validator for a typed Ceph error: class, code, errno, op,
 * the message prefix, and (when given) the image/snapshot it names.
 */
export function cephError(Class: ErrorClass, code: string, errno: number, op: string, about: { image?: string; snapshot?: string } = {}) {
  return (e: unknown): true => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.errno, errno);
    assert.equal(e.op, op);
    if (about.image !== undefined) assert.equal(e.image, about.image);
    if (about.snapshot !== undefined) assert.equal(e.snapshot, about.snapshot);
    assert.ok(e.message.startsWith(`${op}: `), e.message);
    return true;
  };
}

/** Unprotects and removes every snapshot of an image (by name, or by id for trash entries); quiet if it is gone. */
async function dropSnapshots(ioctx: IoCtx, nameOrId: string, byId: boolean): Promise<void> {
  try {
    const img = await Image.open(ioctx, nameOrId, { byId });
    try {
      for (const s of await img.listSnaps()) {
        await img.unprotectSnap(s.name).catch(() => undefined);
        await img.removeSnap(s.name).catch(() => undefined);
      }
    } finally {
      await img.close();
    }
  } catch {
    // gone meanwhile
  }
}

/**
 * Removes every image and trash entry whose name `mine` accepts from the
 * given pools, snapshots first, over rounds (a clone's parent can only go
 * once the clone is gone).
 */
export async function purgeImages(ioctxs: IoCtx[], mine: (name: string) => boolean, rounds = 12): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    let left = 0;
    for (const ioctx of ioctxs) {
      for (const e of await Rbd.trashList(ioctx)) {
        if (!mine(e.name)) continue;
        left++;
        await dropSnapshots(ioctx, e.id, true);
        await Rbd.trashRemove(ioctx, e.id, { force: true }).catch(() => undefined);
      }
      for (const name of (await Rbd.list(ioctx)).filter(mine)) {
        left++;
        await dropSnapshots(ioctx, name, false);
        await Rbd.remove(ioctx, name).catch(() => undefined);
      }
    }
    if (left === 0) return;
  }
}

/**
 * Removes an image once the watches of handles that were dropped without
 * close() are gone (the reaper thread closes them after collection).
 */
export async function removeWhenUnwatched(ioctx: IoCtx, name: string, attempts = 100): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await Rbd.remove(ioctx, name);
      return;
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
