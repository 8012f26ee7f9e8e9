/**
 * Nova's direct snapshot of an RBD-backed instance disk
 * (docs/DESIGN.md#nova-direct-snapshot): the disk is snapshotted, the
 * snapshot cloned into the Glance pool as the new image and flattened
 * there, and the image gets the protected `snap` Glance expects — no data
 * goes through Glance. An image left half-made (clone done, flatten or
 * `snap` failed) is removed again
 * (docs/DESIGN.md#d5-no-half-made-snapshot-image). cleanupDirectSnapshot
 * undoes a direct snapshot the way Nova does
 * (docs/DESIGN.md#d21-a-protected-nova-resize-snapshot-is-never-unprotected);
 * nova-stream.ts has the snapshot streamed into an image store.
 */
import { randomUUID } from 'node:crypto';

import { RBD_FEATURE_LAYERING } from '../constants';
import { AbortError, ImageBusy, ImageHasSnapshots, ImageNotFound, InvalidArgument, PermissionDenied } from '../errors';
import { defaultFeatures } from '../internal/features';
import { withImage } from '../internal/image';
import { errorText, sleep } from '../internal/retry';
import { ClusterSession } from '../internal/session';
import { componentLogger, type Logger } from '../logger';
import type { IoCtx, Rados } from '../rados';
import { Rbd } from '../rbd';
import { checkBoolean, checkInteger, checkName, checkObject } from '../validate';
import { Forbidden, ImageUnacceptable } from './errors';
import { formatRbdSnapshotLocation, parseRbdSnapshotLocation } from './location';

/** The snapshot Glance's RBD store (and so Nova) puts on every image. */
export const GLANCE_SNAPSHOT = 'snap';

export type DirectSnapshotStep = 'snapshot' | 'clone' | 'flatten' | 'protect';

export interface DirectSnapshotOptions {
  /** images_rbd_pool: the pool of the instance disk. */
  pool: string;
  /** The disk image, e.g. `<instance uuid>_disk`. */
  imageName: string;
  /** The temporary snapshot; default: a random UUID without dashes (as Nova). */
  snapshotName?: string;
  /** The Glance image id: the new image's name. */
  imageId: string;
  /**
   * The Glance pool. Default: the pool of the disk's parent when the disk is
   * a clone; otherwise the pool of the first `baseImageLocations` entry on
   * this cluster; otherwise ImageUnacceptable.
   */
  parentPool?: string;
  /** The base image's Glance locations (`rbd://fsid/pool/image/snap`), asked of Glance by Nova. */
  baseImageLocations?: string[];
  /** Stops between steps and during the flatten; the half-made image is removed. */
  signal?: AbortSignal;
  /** Called as each step starts. */
  onStep?: (step: DirectSnapshotStep) => void;
  logger?: Partial<Logger>;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** Removes a temporary snapshot, unprotecting it first (Nova's `remove_snap(force=True)`); errors are logged. */
export async function removeTempSnapshot(ioctx: IoCtx, image: string, snap: string, logger: Logger): Promise<void> {
  try {
    await withImage(ioctx, image, {}, async (img) => {
      if (await img.isProtectedSnap(snap)) await img.unprotectSnap(snap);
      await img.removeSnap(snap);
    });
  } catch (err) {
    logger.warn(`failed to remove snapshot ${ioctx.pool}/${image}@${snap}: ${errorText(err)}`);
  }
}

/** Removes an image and all its snapshots (the clean-up of a half-made image). */
async function destroyImage(ioctx: IoCtx, image: string, logger: Logger): Promise<void> {
  try {
    await withImage(ioctx, image, {}, async (img) => {
      for (const s of await img.listSnaps()) {
        try {
          await img.unprotectSnap(s.name);
        } catch (err) {
          if (!(err instanceof InvalidArgument)) throw err;
        }
        await img.removeSnap(s.name);
      }
    });
    await Rbd.remove(ioctx, image);
  } catch (err) {
    if (err instanceof ImageNotFound) return;
    logger.error(`failed to remove the half-made image ${ioctx.pool}/${image}: ${errorText(err)}`);
  }
}

/** The fsid of a caller's connection, with the session's zero-monmap guard. */
async function clusterFsid(cluster: Rados): Promise<string> {
  return ClusterSession.fsidOf(cluster);
}

/**
 * Snapshots `pool/imageName` straight into `parentPool/imageId` and returns
 * the Glance location `rbd://<fsid>/<parentPool>/<imageId>/snap`.
 */
export async function directSnapshot(cluster: Rados, options: DirectSnapshotOptions): Promise<string> {
  const { pool, imageName, imageId, signal, onStep } = options;
  const logger = componentLogger('nova', options.logger);
  const snapName = options.snapshotName ?? randomUUID().replace(/-/g, '');
  for (const [k, val] of Object.entries({ pool, imageName, imageId, snapName })) checkName(val, k);
  checkAborted(signal);
  const fsid = await clusterFsid(cluster);
  const ioctx = await cluster.openIoctx(pool);
  let destIoctx: IoCtx | undefined;
  try {
    let parentPool = options.parentPool;
    if (!parentPool) {
      try {
        parentPool = (await withImage(ioctx, imageName, { readOnly: true }, (img) => img.parentInfo())).pool;
      } catch (err) {
        if (!(err instanceof ImageNotFound)) throw err;
        for (const url of options.baseImageLocations ?? []) {
          try {
            const loc = parseRbdSnapshotLocation(url);
            if (loc.fsid === fsid) {
              parentPool = loc.pool;
              break;
            }
          } catch {
            // not an RBD location of ours: try the next one
          }
        }
        if (!parentPool) throw new ImageUnacceptable(imageId, 'Cannot determine the parent storage pool for the snapshot; the disk is not a clone', { cause: err });
      }
    }
    destIoctx = await cluster.openIoctx(parentPool);
    const features = defaultFeatures(cluster.confGet('rbd_default_features')) | RBD_FEATURE_LAYERING;

    // c. the temporary snapshot on the disk, protected.
    onStep?.('snapshot');
    await withImage(ioctx, imageName, {}, async (img) => {
      await img.createSnap(snapName);
      if (!(await img.isProtectedSnap(snapName))) await img.protectSnap(snapName);
    });

    // e. clone into the Glance pool and flatten; the temporary snapshot always goes.
    let cloned = false;
    try {
      checkAborted(signal);
      onStep?.('clone');
      try {
        await Rbd.clone(ioctx, imageName, snapName, destIoctx, imageId, { features });
      } catch (err) {
        if (err instanceof PermissionDenied) throw new Forbidden(`no write permission on storage pool ${parentPool}`, { cause: err });
        throw err;
      }
      cloned = true;
      checkAborted(signal);
      onStep?.('flatten');
      await withImage(destIoctx, imageId, {}, (img) => img.flatten({ signal }));
    } catch (err) {
      if (cloned) await destroyImage(destIoctx, imageId, logger);
      throw err;
    } finally {
      await removeTempSnapshot(ioctx, imageName, snapName, logger);
    }

    // f. Glance's `snap`, protected.
    try {
      checkAborted(signal);
      onStep?.('protect');
      await withImage(destIoctx, imageId, {}, async (img) => {
        await img.createSnap(GLANCE_SNAPSHOT);
        await img.protectSnap(GLANCE_SNAPSHOT);
      });
    } catch (err) {
      await destroyImage(destIoctx, imageId, logger);
      throw err;
    }
    return formatRbdSnapshotLocation({ fsid, pool: parentPool, image: imageId, snapshot: GLANCE_SNAPSHOT }, false);
  } finally {
    await destIoctx?.close().catch(() => undefined);
    await ioctx.close().catch(() => undefined);
  }
}

export interface CleanupDirectSnapshotOptions {
  /** Also remove the image itself. */
  alsoDestroyVolume?: boolean;
  /**
   * Log failures instead of throwing them: the snapshot's unprotect or
   * removal, and the image removal once its tries are used up.
   */
  ignoreErrors?: boolean;
  /** rbd_destroy_volume_retries: removal tries before the last one (0 to 1000). Default 12. */
  retries?: number;
  /** rbd_destroy_volume_retry_interval in ms, the wait between removal tries. Default 5000. */
  intervalMs?: number;
  logger?: Partial<Logger>;
}

/** Nova's resize snapshot, which can keep an instance disk from being removed. */
export const RESIZE_SNAPSHOT = 'nova-resize';

/**
 * Removes the location's snapshot, unprotecting it first (Nova's
 * `remove_snap(force=True)`). False when the image does not exist.
 */
async function removeLocationSnap(ioctx: IoCtx, image: string, snap: string, ignoreErrors: boolean, logger: Logger): Promise<boolean> {
  const where = `${ioctx.pool}/${image}@${snap}`;
  try {
    await withImage(ioctx, image, {}, async (img) => {
      const found = (await img.listSnaps()).find((s) => s.name === snap);
      if (!found) {
        if (ignoreErrors) logger.debug(`no snapshot ${where} to remove`);
        else logger.warn(`no snapshot ${where} found`);
        return;
      }
      if (found.protected) await img.unprotectSnap(snap);
      await img.removeSnap(snap);
    });
    return true;
  } catch (err) {
    if (err instanceof ImageNotFound) {
      logger.warn(`cannot remove ${where}: the image does not exist`);
      return false;
    }
    if (!ignoreErrors) throw err;
    logger.warn(`cannot remove ${where}: ${errorText(err)}`);
    return true;
  }
}

/**
 * Removes `nova-resize` when it is not protected (Nova's
 * `remove_snap(volume, 'nova-resize', ignore_errors=True)`). A protected one
 * is some clone's parent and is left alone
 * (docs/DESIGN.md#d21-a-protected-nova-resize-snapshot-is-never-unprotected).
 */
async function dropResizeSnap(ioctx: IoCtx, image: string, logger: Logger): Promise<void> {
  const where = `${ioctx.pool}/${image}@${RESIZE_SNAPSHOT}`;
  try {
    await withImage(ioctx, image, {}, async (img) => {
      const found = (await img.listSnaps()).find((s) => s.name === RESIZE_SNAPSHOT);
      if (!found) return;
      if (found.protected) {
        logger.warn(`snapshot ${where} is protected (a clone's parent); leaving it`);
        return;
      }
      await img.removeSnap(RESIZE_SNAPSHOT);
    });
  } catch (err) {
    logger.warn(`cannot remove ${where}: ${errorText(err)}`);
  }
}

/**
 * Nova's `_destroy_volume`: `retries` tries `intervalMs` apart while the
 * image is busy or has snapshots (an unprotected `nova-resize` is dropped),
 * then a last try whose error is thrown (or logged with `ignoreErrors`).
 * Any other error ends the tries at once. An image already gone is done.
 */
async function destroyVolume(ioctx: IoCtx, image: string, o: { retries: number; intervalMs: number; ignoreErrors: boolean }, logger: Logger): Promise<void> {
  const where = `${ioctx.pool}/${image}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await Rbd.remove(ioctx, image);
      return;
    } catch (err) {
      if (err instanceof ImageNotFound) return;
      const retryable = err instanceof ImageHasSnapshots || err instanceof ImageBusy;
      if (!retryable || attempt > o.retries) {
        if (!o.ignoreErrors) throw err;
        logger.warn(`rbd remove ${where} failed after ${attempt} ${attempt === 1 ? 'try' : 'tries'}: ${errorText(err)}`);
        return;
      }
      if (err instanceof ImageHasSnapshots) await dropResizeSnap(ioctx, image, logger);
      logger.warn(`rbd remove ${where} failed (${errorText(err)}); retrying in ${o.intervalMs} ms`);
      await sleep(o.intervalMs);
    }
  }
}

/**
 * Nova's `cleanup_direct_snapshot`: removes the location's snapshot
 * (unprotecting it) and, with `alsoDestroyVolume`, the image (Nova's
 * `destroy_volume`, see destroyVolume). A location whose image is already
 * gone resolves with a warning; so does a missing snapshot.
 */
export async function cleanupDirectSnapshot(cluster: Rados, location: string, options: CleanupDirectSnapshotOptions = {}): Promise<void> {
  const o = checkObject<CleanupDirectSnapshotOptions>(options, 'options');
  const retries = o.retries === undefined ? 12 : checkInteger(o.retries, 'options.retries', 0, 1000);
  const intervalMs = o.intervalMs === undefined ? 5000 : checkInteger(o.intervalMs, 'options.intervalMs', 0, 3_600_000);
  const ignoreErrors = o.ignoreErrors === undefined ? false : checkBoolean(o.ignoreErrors, 'options.ignoreErrors');
  const alsoDestroyVolume = o.alsoDestroyVolume === undefined ? false : checkBoolean(o.alsoDestroyVolume, 'options.alsoDestroyVolume');
  const logger = componentLogger('nova', o.logger);
  const loc = parseRbdSnapshotLocation(location);
  let ioctx: IoCtx;
  try {
    ioctx = await cluster.openIoctx(loc.pool);
  } catch (err) {
    if (!ignoreErrors) throw err;
    logger.warn(`cannot clean up ${location}: ${errorText(err)}`);
    return;
  }
  try {
    const exists = await removeLocationSnap(ioctx, loc.image, loc.snapshot, ignoreErrors, logger);
    if (exists && alsoDestroyVolume) await destroyVolume(ioctx, loc.image, { retries, intervalMs, ignoreErrors }, logger);
  } finally {
    await ioctx.close().catch(() => undefined);
  }
}
