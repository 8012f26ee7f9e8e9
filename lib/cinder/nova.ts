/**
 * Nova's direct snapshot of an RBD-backed instance disk
 * (docs/DESIGN.md#nova-direct-snapshot): the disk is snapshotted, the
 * snapshot cloned into the Glance pool as the new image and flattened
 * there, and the image gets the protected `snap` Glance expects — no data
 * goes through Glance. An image left half-made (clone done, flatten or
 * `snap` failed) is removed again
 * (docs/DESIGN.md#d5-no-half-made-snapshot-image).
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
import { checkName } from '../validate';
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

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** Removes a snapshot, unprotecting it first (Nova's `_remove_snap(force=True)`); errors are logged. */
async function forceRemoveSnap(ioctx: IoCtx, image: string, snap: string, logger: Logger): Promise<void> {
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
      await forceRemoveSnap(ioctx, imageName, snapName, logger);
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
  /** Log failures instead of throwing them. */
  ignoreErrors?: boolean;
  /** rbd_destroy_volume_retries. Default 12. */
  retries?: number;
  /** rbd_destroy_volume_retry_interval in ms. Default 5000. */
  intervalMs?: number;
  logger?: Partial<Logger>;
}

/**
 * Nova's `cleanup_direct_snapshot`: removes the location's snapshot
 * (unprotecting it) and, when asked, the image (retried while busy; a
 * `nova-resize` snapshot in the way is dropped).
 */
export async function cleanupDirectSnapshot(cluster: Rados, location: string, options: CleanupDirectSnapshotOptions = {}): Promise<void> {
  const logger = componentLogger('nova', options.logger);
  const loc = parseRbdSnapshotLocation(location);
  const ioctx = await cluster.openIoctx(loc.pool);
  try {
    try {
      await withImage(ioctx, loc.image, {}, async (img) => {
        if (await img.isProtectedSnap(loc.snapshot)) await img.unprotectSnap(loc.snapshot);
        await img.removeSnap(loc.snapshot);
      });
    } catch (err) {
      if (!options.ignoreErrors && !(err instanceof ImageNotFound)) throw err;
      logger.warn(`cannot remove ${location}: ${errorText(err)}`);
    }
    if (!options.alsoDestroyVolume) return;
    const tries = options.retries ?? 12;
    const interval = options.intervalMs ?? 5000;
    for (let i = 0; ; i++) {
      try {
        await Rbd.remove(ioctx, loc.image);
        return;
      } catch (err) {
        if (err instanceof ImageNotFound) return;
        if (i >= tries) {
          if (options.ignoreErrors) {
            logger.warn(`cannot remove ${loc.pool}/${loc.image}: ${errorText(err)}`);
            return;
          }
          throw err;
        }
        if (err instanceof ImageHasSnapshots) await forceRemoveSnap(ioctx, loc.image, 'nova-resize', logger);
        else if (err instanceof ImageBusy) logger.warn(`rbd remove ${loc.pool}/${loc.image} in use; retrying`);
        else if (options.ignoreErrors) return;
        else throw err;
        await sleep(interval);
      }
    }
  } finally {
    await ioctx.close().catch(() => undefined);
  }
}
