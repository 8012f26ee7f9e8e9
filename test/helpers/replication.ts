/**
 * Cinder replication on a mirrored pair (scripts/mirror-pair.sh): a driver
 * on site A with site B as its replication device, and the steps the short
 * (test/integration) and long (test/reliability) tests share: write random
 * data to a replicated volume, wait until B has it, fail over (A alive or
 * frozen), write on B, resync A after a forced failover, fail back.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

import { Image, type IoCtx, RbdVolumeDriver, type RbdVolumeDriverOptions, type Volume, type VolumeType } from '../../lib';
import { type MirrorPair, exportMd5, mirrorPairScript, startMirrorPair, waitFor } from './mirror-pair';

const run = promisify(execFile);

export const POOL = 'volumes';
export const SITE_B = 'site-b';
export const REPLICATED: VolumeType = { id: 'repl', name: 'replicated', extraSpecs: { replication_enabled: '<is> True' } };
export const PLAIN: VolumeType = { id: 'plain', name: 'plain', extraSpecs: {} };

/** A driver on site A of the pair, with B as replication device 'site-b'. */
export function openReplicatedDriver(pair: MirrorPair, options: RbdVolumeDriverOptions = {}): Promise<RbdVolumeDriver> {
  return RbdVolumeDriver.open({
    pool: POOL,
    confFile: pair.confA,
    connectTimeoutMs: 60_000,
    // A demoted image answers EBUSY to promote until B replayed the demotion: 1+2+4+8+16 s of retries.
    connectionRetries: 6,
    connectionIntervalMs: 500,
    replicationDevices: [{ backendId: SITE_B, confFile: pair.confB }],
    replicationConnectTimeoutMs: 3000,
    ...options,
  });
}

/** What a replication suite's hooks set up: the pair, an I/O context on POOL at each site, a replicated driver on A. */
export interface ReplicatedPairSuite {
  pair: MirrorPair;
  ioA: IoCtx;
  ioB: IoCtx;
  driver: RbdVolumeDriver;
}

/**
 * Registers the suite's hooks: starts a pair with POOL mirrored, opens the
 * two I/O contexts and the driver; after, thaws site A (a test may have
 * frozen it), closes the driver and stops the pair (--purge: its directories
 * and every image go with it). The returned object is filled in by `before`.
 */
export function useReplicatedPair(options: { memstoreBytes?: number; startTimeoutMs?: number } = {}): ReplicatedPairSuite {
  const suite = {} as ReplicatedPairSuite;
  let pair: MirrorPair | undefined;
  before(async function () {
    this.timeout(options.startTimeoutMs ?? 240_000);
    pair = await startMirrorPair([POOL], options.memstoreBytes === undefined ? {} : { memstoreBytes: options.memstoreBytes });
    suite.pair = pair;
    suite.ioA = await pair.radosA.openIoctx(POOL);
    suite.ioB = await pair.radosB.openIoctx(POOL);
    suite.driver = await openReplicatedDriver(pair);
  });
  after(async function () {
    this.timeout(180_000);
    if (pair) await signalSite('thaw', pair.dirA).catch(() => undefined);
    await suite.driver?.close();
    await pair?.stop();
  });
  return suite;
}

export function newVolume(type: VolumeType | null, sizeGiB = 1): Volume & { name: string } {
  const id = randomUUID();
  return { id, name: `volume-${id}`, size: sizeGiB, volumeType: type, status: 'available' };
}

/** Writes `bytes` of random data at offset 0 (8 MiB writes), flushed; resolves the md5 of the whole image. */
export async function writeRandom(ioctx: IoCtx, name: string, bytes: number, offset = 0): Promise<void> {
  const image = await Image.open(ioctx, name);
  try {
    for (let off = 0; off < bytes; off += 8 << 20) await image.write(randomBytes(Math.min(8 << 20, bytes - off)), offset + off);
    await image.flush();
  } finally {
    await image.close();
  }
}

/** The bytes every test compares: the scenarios write below this offset (a whole-image export of 1 GiB takes seconds). */
export const SPAN = 80 << 20;

/** md5 of the first `span` bytes of the volume on `ioctx` (opened read-only: a non-primary copy must be). */
export async function md5(ioctx: IoCtx, name: string, span = SPAN): Promise<string> {
  const image = await Image.open(ioctx, name, { readOnly: true });
  try {
    const hash = createHash('md5');
    for (let off = 0; off < span; off += 8 << 20) hash.update(await image.read(off, Math.min(8 << 20, span - off)));
    return hash.digest('hex');
  } finally {
    await image.close();
  }
}

/** Waits until the volume on `ioctx` has `want` (md5 of `span`); resolves the seconds it took. */
export async function waitSame(ioctx: IoCtx, name: string, want: string, ms: number, span = SPAN): Promise<number> {
  const t0 = Date.now();
  try {
    await waitFor(`${name} on ${ioctx.pool} to have md5 ${want}`, ms, async () => ((await md5(ioctx, name, span)) === want ? true : undefined));
  } catch (err) {
    // What the mirror daemons say about the image, for the failure message.
    const status = await Image.open(ioctx, name, { readOnly: true })
      .then((img) => img.mirrorGetGlobalStatus().finally(() => img.close()))
      .then((st) => JSON.stringify(st))
      .catch((e: unknown) => `(no mirror status: ${String(e)})`);
    throw new Error(`${(err as Error).message}; mirror status there: ${status}`);
  }
  return (Date.now() - t0) / 1000;
}

/** md5 of `rbd export` of the whole volume on the site of `conf` (what an operator would compare). */
export function exportSum(conf: string, name: string): Promise<string> {
  return exportMd5(conf, POOL, name);
}

export async function mirrorInfo(ioctx: IoCtx, name: string): Promise<{ state: string; primary: boolean }> {
  const image = await Image.open(ioctx, name, { readOnly: true });
  try {
    const info = await image.mirrorGetInfo();
    return { state: info.state, primary: info.primary };
  } finally {
    await image.close();
  }
}

export async function features(ioctx: IoCtx, name: string): Promise<number> {
  const image = await Image.open(ioctx, name, { readOnly: true });
  try {
    return await image.features();
  } finally {
    await image.close();
  }
}

/** SIGSTOPs (freeze) or SIGCONTs (thaw) every daemon of one site by its pid files. */
export async function signalSite(action: 'freeze' | 'thaw', dir: string): Promise<void> {
  await run('bash', [mirrorPairScript, action, dir]);
}

/**
 * After a forced failover both copies are primary: A's copy is demoted and
 * resynced from B (the operator's step; upstream Cinder does not do it),
 * then the call waits until A has B's data again.
 */
export async function resyncFrom(ioA: IoCtx, name: string, want: string, ms: number): Promise<void> {
  await waitFor(`demote + resync of ${name} on A`, 60_000, async () => {
    const image = await Image.open(ioA, name);
    try {
      if ((await image.mirrorGetInfo()).primary) await image.mirrorDemote();
      await image.mirrorResync();
    } finally {
      await image.close();
    }
    return true;
  });
  await waitSame(ioA, name, want, ms);
}

export function assertUpdate(updates: Array<{ volume_id: string; updates: Record<string, unknown> }>, id: string, want: Record<string, unknown>): void {
  const u = updates.find((x) => x.volume_id === id);
  assert.ok(u, `no update for ${id} in ${JSON.stringify(updates)}`);
  assert.deepEqual(u.updates, want);
}
